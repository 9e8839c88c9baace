#include "l0/cli/stats_json.h"

#include "l0/cli/levels_json.h"

namespace nestbed::cli {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::DebugExit: return "debug_exit";
    case StopReason::Halted: return "halted";
    case StopReason::TripleFault: return "triple_fault";
    case StopReason::InstructionLimit: return "instruction_limit";
    case StopReason::Unsupported: return "unsupported";
    case StopReason::InternalError: return "internal_error";
  }
  return "internal_error";
}

// I/O and MMIO counts come from the device bus, which every engine routes
// its guest's accesses through, so they mean the same under sim and kvm.
nlohmann::ordered_json stats_json(const Engine& engine, const RunConfig& config, const RunResult& result,
                          const Machine& machine) {
  const RunStats& s = result.stats;
  const PlatformDevices& devices = machine.devices;
  nlohmann::ordered_json j;
  j["engine"] = engine.name();
  j["image"] = config.image_path;
  j["memory_mib"] = config.memory_mib;
  j["stop_reason"] = stop_reason_name(result.reason);
  j["exit_status"] = result.process_status();
  j["debug_exit_code"] = result.reason == StopReason::DebugExit ? nlohmann::ordered_json(result.debug_exit_code) : nullptr;
  j["instructions"] = s.instructions;
  j["cycles"] = s.cycles;
  j["wall_seconds"] = s.wall_seconds;
  j["mips"] = s.wall_seconds > 0 ? double(s.instructions) / s.wall_seconds / 1e6 : 0.0;
  j["exceptions"] = s.exceptions;
  j["interrupts"] = s.interrupts;
  j["vm_exits"] = s.vm_exits;
  j["vm_entries"] = s.vm_entries;
  j["levels"] = levels_json(s.levels);
  j["io_accesses"] = devices.bus.io_accesses;
  j["mmio_accesses"] = devices.bus.mmio_accesses;
  j["apic_timer_interrupts"] = devices.apic.timer_interrupts;
  j["uart_bytes"] = devices.com1.bytes_written();
  return j;
}

}  // namespace nestbed::cli
