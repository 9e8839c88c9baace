// What every engine (sim, kvm) is asked to do and what it reports back.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "l0/level_stats.h"

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
constexpr int debug_exit(uint32_t code) { return int(((code << 1) | 1) & 0xff); }
static_assert((USAGE | BAD_INPUT | INTERNAL_ERROR | UNSUPPORTED | SANITIZER | INSTRUCTION_LIMIT | HALTED |
               TRIPLE_FAULT) % 2 == 0,
              "nestbed's own statuses are even: a guest's are odd");
}  // namespace exit_status

// A clear, user-facing error about the input (image, module, option).
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
};

enum class StopReason { DebugExit, Halted, TripleFault, InstructionLimit, Unsupported, InternalError };

struct RunStats {
  uint64_t instructions = 0;  // retired instructions (sim); 0 where unknown (kvm)
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
