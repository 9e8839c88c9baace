#include "l0/kvm/kvm_capabilities.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "l0/kvm/kvm_api.h"

namespace nestbed::kvm {
namespace {

constexpr const char* VENDOR_MODULES[] = {"kvm_intel", "kvm_amd", "kvm_pvm"};
constexpr const char* TRACEFS_PLACES[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string loaded_vendor_module() {
  for (const char* module : VENDOR_MODULES)
    if (exists(std::string("/sys/module/") + module)) return module;
  return "";
}

// Whether kvm_intel lets its guests use VMX (Y/N, or 1/0 on old kernels).
constexpr const char* KVM_INTEL_NESTED = "/sys/module/kvm_intel/parameters/nested";

void probe_tracefs(KvmCapabilities& caps) {
  for (const char* place : TRACEFS_PLACES) {
    if (!exists(std::string(place) + "/trace")) continue;
    caps.tracefs = place;
    caps.tracefs_has_kvm_events = exists(std::string(place) + "/events/kvm/kvm_exit");
    return;
  }
}

void probe_device(KvmCapabilities& caps) {
  caps.device_present = exists(KVM_DEVICE);
  if (!caps.device_present) {
    caps.problem = std::string(KVM_DEVICE) + " does not exist (no KVM in this kernel, or not passed to this container)";
    return;
  }
  try {
    KvmSystem kvm;
    caps.api_version = kvm.api_version();
    if (caps.api_version != KVM_API_VERSION) {
      caps.problem = "KVM API version " + std::to_string(caps.api_version) + ", nestbed needs " +
                     std::to_string(KVM_API_VERSION);
      return;
    }
    KvmVm vm(kvm);  // creating a VM is what fails where virtualization is off in firmware, say
    describe_vmx(caps, kvm.supported_cpuid());
    caps.usable = true;
  } catch (const KvmError& e) {
    caps.problem = e.what();
  }
}

// The two signs of VMX for guests, and the module that decides them.
std::string vmx_evidence(const KvmCapabilities& caps) {
  std::string text = std::string("KVM_GET_SUPPORTED_CPUID leaf 1 ECX bit 5 ") + (caps.vmx_offered ? "set" : "clear");
  text += std::string("; ") + KVM_INTEL_NESTED + ": " + (caps.nested_parameter.empty() ? "absent" : caps.nested_parameter);
  if (caps.module == "kvm_amd")
    text += "; KVM module kvm_amd, which nests SVM, not VMX";
  else if (!caps.module.empty() && caps.module != "kvm_intel")
    text += "; KVM module " + caps.module;
  return text;
}

}  // namespace

void describe_vmx(KvmCapabilities& caps, const CpuidEntries& supported) {
  caps.vmx_offered = offers_vmx(supported);
  caps.module = loaded_vendor_module();
  caps.nested_parameter = first_line(KVM_INTEL_NESTED);
}

std::string KvmCapabilities::why_no_nesting() const {
  if (!usable) return "the kvm engine cannot run here: " + problem;
  if (vmx_offered) return "";
  return "this host's KVM does not offer VMX to its guests (" + vmx_evidence(*this) + ")";
}

KvmCapabilities probe_kvm_capabilities() {
  KvmCapabilities caps;
  probe_device(caps);
  if (caps.module.empty()) caps.module = loaded_vendor_module();
  probe_tracefs(caps);
  return caps;
}

bool run_needs_vmx(const RunConfig& config) {
  return std::filesystem::path(config.image_path).filename() == "l1-vmm" || !config.modules.empty();
}

std::string format_kvm_report(const KvmCapabilities& caps) {
  std::string r;
  auto line = [&r](const char* label, const std::string& text) { r += std::string("  ") + label + text + "\n"; };
  if (!caps.usable) {
    line("/dev/kvm:       ", "not usable: " + caps.problem);
    line("depths:         ", "none (use --engine sim)");
  } else {
    line("/dev/kvm:       ", "usable, KVM API version " + std::to_string(caps.api_version));
    line("KVM module:     ", caps.module.empty() ? "unknown" : caps.module);
    line("VMX for guests: ", std::string(caps.vmx_offered ? "offered" : "not offered") + " (" + vmx_evidence(caps) + ")");
    line("depths:         ", caps.vmx_offered ? "0 and up: l1-vmm runs on the host's nested VMX"
                                              : "0 only: depth >= 1 (image l1-vmm, or --module) is refused with exit "
                                                "status " + std::to_string(exit_status::UNSUPPORTED));
  }
  if (caps.tracefs.empty())
    line("tracefs:        ", "not mounted (run --trace mounts it at /sys/kernel/tracing where it may)");
  else
    line("tracefs:        ", caps.tracefs + (caps.tracefs_has_kvm_events ? ", kvm events present" : ", no kvm events"));
  return r;
}

}  // namespace nestbed::kvm
