#include "l0/cli/stats_json.h"

#include "l0/cli/levels_json.h"
#include "l0/cli/provenance.h"

namespace nestbed::cli {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::DebugExit: return "debug_exit";
    case StopReason::Halted: return "halted";
    case StopReason::TripleFault: return "triple_fault";
    case StopReason::InstructionLimit: return "instruction_limit";
    case StopReason::Unsupported: return "unsupported";
    case StopReason::InternalError: return "internal_error";
    case StopReason::Signal: return "signal";
  }
  return "internal_error";
}

namespace {

nlohmann::ordered_json modules_json(const RunConfig& config) {
  nlohmann::ordered_json modules = nlohmann::ordered_json::array();
  for (const ModuleSpec& m : config.modules)
    modules.push_back({{"path", m.path},
                       {"cmdline", m.args.empty() ? m.path : m.path + " " + m.args},
                       {"sha256", sha256_of_file(m.path)}});
  return modules;
}

// The sim's cycle table: the file given (and its hash) or the defaults;
// null under kvm, which measures real cycles.
nlohmann::ordered_json cost_model_json(const Engine& engine, const RunConfig& config) {
  if (std::string(engine.name()) != "sim") return nullptr;
  if (config.cost_model_path.empty()) return {{"file", nullptr}, {"sha256", nullptr}};
  return {{"file", config.cost_model_path}, {"sha256", sha256_of_file(config.cost_model_path)}};
}

// A count the engine does not measure is null, never 0.
nlohmann::ordered_json counted(bool measured, uint64_t value) {
  return measured ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

// I/O and MMIO counts come from the device bus, which every engine routes
// its guest's accesses through, so they mean the same under sim and kvm.
nlohmann::ordered_json stats_json(const Engine& engine, const RunConfig& config, const RunResult& result,
                          const Machine& machine) {
  const RunStats& s = result.stats;
  const PlatformDevices& devices = machine.devices;
  nlohmann::ordered_json j;
  j["engine"] = engine.name();
  j["nestbed_version"] = nestbed_version();
  j["image"] = config.image_path;
  j["image_sha256"] = sha256_of_file(config.image_path);
  j["cmdline"] = config.image_path + " " + config.cmdline;  // as the guest sees it
  j["modules"] = modules_json(config);
  j["cost_model"] = cost_model_json(engine, config);
  j["memory_mib"] = config.memory_mib;
  j["stop_reason"] = stop_reason_name(result.reason);
  j["exit_status"] = result.process_status();
  j["debug_exit_code"] = result.reason == StopReason::DebugExit ? nlohmann::ordered_json(result.debug_exit_code) : nullptr;
  j["signal"] = result.reason == StopReason::Signal ? nlohmann::ordered_json(result.signal) : nullptr;
  j["instructions"] = counted(s.guest_events_counted, s.instructions);
  j["cycles"] = s.cycles;
  j["wall_seconds"] = s.wall_seconds;
  j["mips"] = s.guest_events_counted && s.wall_seconds > 0 ? nlohmann::ordered_json(double(s.instructions) / s.wall_seconds / 1e6)
                                                           : nlohmann::ordered_json(nullptr);
  j["exceptions"] = counted(s.guest_events_counted, s.exceptions);
  j["interrupts"] = s.interrupts;
  j["vm_exits"] = counted(s.guest_events_counted, s.vm_exits);
  j["vm_entries"] = counted(s.guest_events_counted, s.vm_entries);
  j["levels"] = levels_json(s.levels);
  j["io_accesses"] = devices.bus.io_accesses;
  j["mmio_accesses"] = devices.bus.mmio_accesses;
  j["apic_timer_interrupts"] = devices.apic.timer_interrupts;
  j["uart_bytes"] = devices.com1.bytes_written();
  return j;
}

}  // namespace nestbed::cli
