// What every engine (sim, kvm) is asked to do and what it reports back.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "l0/level_stats.h"
#include "exit-tracer/host_file.h"

namespace nestbed {

// Process exit statuses of `nestbed` (documented in the README and in
// `nestbed --help`). A guest's isa-debug-exit write of c gives (c << 1) | 1,
// always odd, as in QEMU; everything nestbed decides itself is even, so the
// two never collide. None is one a shell or GNU timeout gives (124-127, 128+N).
namespace exit_status {
inline constexpr int USAGE = 64;              // bad command-line option
inline constexpr int BAD_INPUT = 66;          // unreadable/malformed image, module or trace file, memory too small
inline constexpr int INTERNAL_ERROR = 70;     // a bug in l0 (never expected)
inline constexpr int UNSUPPORTED = 72;        // the engine cannot run this here (e.g. no VMX under kvm)
inline constexpr int SANITIZER = 86;          // debug builds: ASan/UBSan found an error (l0/sanitizer_options.cpp)
inline constexpr int INSTRUCTION_LIMIT = 118; // --max-instructions reached
inline constexpr int HALTED = 120;            // HLT with interrupts off and nothing pending
inline constexpr int TRIPLE_FAULT = 122;      // shutdown after a triple fault
// SIGINT/SIGTERM: the run ends cleanly, then the process is ended by the
// same signal, which a shell reports as 128 + N (130, 143; 124 under GNU
// timeout). Not one of nestbed's own statuses, so outside the assert below.
inline constexpr int SIGNALED_BASE = 128;
constexpr int debug_exit(uint32_t code) { return int(((code << 1) | 1) & 0xff); }
static_assert((USAGE | BAD_INPUT | INTERNAL_ERROR | UNSUPPORTED | SANITIZER | INSTRUCTION_LIMIT | HALTED |
               TRIPLE_FAULT) % 2 == 0,
              "nestbed's own statuses are even: a guest's are odd");
}  // namespace exit_status

// InputError, a clear, user-facing error about the input (image, module,
// option, output file), is exit-tracer/host_file.h's: status BAD_INPUT.

struct ModuleSpec {
  std::string path;
  std::string args;  // the module's cmdline after its name
};

struct RunConfig {
  std::string engine = "sim";
  std::string image_path;
  uint64_t memory_mib = 128;
  std::string cmdline;  // appended after the image's name
  std::vector<ModuleSpec> modules;
  uint64_t max_instructions = 0;  // 0: no limit
  std::string stats_path;         // "" none, "-" stdout... (stderr is never used for stats)
  std::string trace_path;
  std::string cost_model_path;
  bool translate = true;  // sim: run hot 64-bit blocks as translated code (Cpu::set_translation)
};

// Signal: SIGINT or SIGTERM asked the run to end (l0/machine/stop_signal.h).
enum class StopReason { DebugExit, Halted, TripleFault, InstructionLimit, Unsupported, InternalError, Signal };

struct RunStats {
  // Instructions, exceptions and VM exits/entries are counted by the sim;
  // KVM runs the guest natively and cannot see them (false: null in --stats).
  bool guest_events_counted = true;
  uint64_t instructions = 0;  // retired instructions (sim)
  uint64_t cycles = 0;        // modeled cycles (sim) or TSC cycles (kvm)
  double wall_seconds = 0;
  uint64_t exceptions = 0;   // exceptions delivered through the IDT
  uint64_t interrupts = 0;   // external interrupts delivered
  uint64_t io_exits = 0;     // port accesses reaching the device layer
  uint64_t mmio_exits = 0;   // MMIO accesses reaching the device layer
  uint64_t vm_exits = 0;     // hardware VM exits of the platform's VMX (sim)
  uint64_t vm_entries = 0;   // successful VM entries (sim)
  std::optional<std::vector<LevelStats>> levels;  // levels 1, 2, ... (sim); none where not measured (kvm)
};

struct RunResult {
  StopReason reason = StopReason::InternalError;
  uint32_t debug_exit_code = 0;
  int signal = 0;       // StopReason::Signal: SIGINT or SIGTERM
  std::string message;  // one line for stderr when the stop is not a debug exit
  RunStats stats;

  int process_status() const {
    switch (reason) {
      case StopReason::DebugExit: return exit_status::debug_exit(debug_exit_code);
      case StopReason::Halted: return exit_status::HALTED;
      case StopReason::TripleFault: return exit_status::TRIPLE_FAULT;
      case StopReason::InstructionLimit: return exit_status::INSTRUCTION_LIMIT;
      case StopReason::Unsupported: return exit_status::UNSUPPORTED;
      case StopReason::InternalError: return exit_status::INTERNAL_ERROR;
      // The process ends by the signal itself (reraise_stop_signal), which
      // a shell reports as 128 + N.
      case StopReason::Signal: return exit_status::SIGNALED_BASE + signal;
    }
    return exit_status::INTERNAL_ERROR;
  }
};

class Machine;

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Runs the booted machine until it stops.
  virtual RunResult run(Machine& machine, const RunConfig& config) = 0;
};

std::unique_ptr<Engine> make_engine(const std::string& name);

}  // namespace nestbed
