#include "l0/cli/engines_command.h"

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "arch/vmx/controls.h"
#include "arch/x86/msr.h"
#include "l0/kvm/kvm_capabilities.h"
#include "l0/sim/vmx/capabilities.h"

namespace nestbed::cli {
namespace {

const char* const DESCRIPTION =
    "Tell which engines can run on this host: the sim always; kvm where /dev/kvm is usable, at depth 0, and at "
    "depth >= 1 (l1-vmm) only where KVM offers VMX to its guests.";

nlohmann::ordered_json kvm_json(const kvm::KvmCapabilities& caps) {
  nlohmann::ordered_json j;
  j["usable"] = caps.usable;
  j["problem"] = caps.usable ? nullptr : nlohmann::ordered_json(caps.problem);
  j["api_version"] = caps.api_version;
  j["module"] = caps.module;
  j["vmx_offered"] = caps.vmx_offered;
  j["nested_parameter"] = caps.nested_parameter.empty() ? nullptr : nlohmann::ordered_json(caps.nested_parameter);
  // The deepest stack the engine runs here: none, 0, or as deep as l1-vmm nests.
  if (!caps.usable)
    j["max_depth"] = nullptr;
  else if (caps.vmx_offered)
    j["max_depth"] = "unbounded";
  else
    j["max_depth"] = 0;
  j["tracefs"] = caps.tracefs.empty() ? nullptr : nlohmann::ordered_json(caps.tracefs);
  j["tracefs_kvm_events"] = caps.tracefs_has_kvm_events;
  return j;
}

// The VMX capability MSRs the sim reports (SDM appendix A), by MSR name.
nlohmann::ordered_json sim_vmx_json() {
  nlohmann::ordered_json j;
  for (uint32_t index = arch::msr::IA32_VMX_BASIC; index <= arch::msr::IA32_VMX_VMFUNC; ++index) {
    uint64_t value;
    if (!sim::vmx::read_vmx_capability_msr(index, value)) continue;
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%016llx", static_cast<unsigned long long>(value));
    j[arch::msr::name(index)] = hex;
  }
  return j;
}

// The controls each word of the sim's VMX lets be 1 (allowed-1 of its true
// capability MSR where there is one, SDM A.3-A.5), by name: what a VMM
// can use, decoded from the MSRs above.
nlohmann::ordered_json sim_vmx_controls_json() {
  nlohmann::ordered_json j;
  for (const arch::vmx::ControlWordInfo& w : arch::vmx::kControlWords) {
    uint64_t cap;
    const uint32_t msr = w.true_capability_msr ? w.true_capability_msr : w.capability_msr;
    if (!msr || !sim::vmx::read_vmx_capability_msr(msr, cap)) continue;
    // 32-bit words: allowed-1 in bits 63:32; 64-bit words: the MSR is the allowed-1 mask.
    const uint64_t allowed1 = w.bits == 64 ? cap : cap >> 32;
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (const arch::vmx::ControlInfo& c : arch::vmx::kControls)
      if (c.word == w.word && ((allowed1 >> c.bit) & 1)) names.push_back(c.name);
    if (!names.empty()) j[w.name] = names;
  }
  return j;
}

}  // namespace

EnginesCommand::EnginesCommand(CLI::App& app) {
  command_ = app.add_subcommand("engines", DESCRIPTION);
  command_->add_flag("--json", json_, "Print the report as one JSON object");
}

int EnginesCommand::execute() {
  const kvm::KvmCapabilities caps = kvm::probe_kvm_capabilities();
  if (json_) {
    nlohmann::ordered_json j;
    j["sim"] = {{"usable", true}, {"vmx", true}, {"max_depth", "unbounded"}, {"vmx_capability_msrs", sim_vmx_json()},
                {"vmx_controls_allowed1", sim_vmx_controls_json()}};
    j["kvm"] = kvm_json(caps);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("sim: usable (software x86-64 with architectural VMX, built in); any depth\n");
  const nlohmann::ordered_json vmx = sim_vmx_json();
  for (const auto& [name, value] : vmx.items())
    std::printf("  %-30s %s\n", name.c_str(), value.get<std::string>().c_str());
  std::printf("  controls that may be 1:\n");
  const nlohmann::ordered_json controls = sim_vmx_controls_json();
  for (const auto& [word, names] : controls.items()) {
    std::string line;
    for (const auto& n : names) line += " " + n.get<std::string>();
    std::printf("    %-10s%s\n", word.c_str(), line.c_str());
  }
  std::printf("kvm: %s\n%s", caps.usable ? "usable" : "not usable", kvm::format_kvm_report(caps).c_str());
  return 0;
}

}  // namespace nestbed::cli
