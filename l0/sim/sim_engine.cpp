#include "l0/sim/sim_engine.h"

#include <chrono>

#include "l0/sim/level_accounting.h"
#include "l0/sim/trace_recorder.h"
#include "l0/machine/machine.h"
#include "l0/machine/stop_signal.h"
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"

namespace nestbed {

namespace {

// How often a run looks for SIGINT/SIGTERM: every 2^24 instructions, about
// a tenth of a second. The CPU runs to an instruction count and resumes
// exactly where it stopped, as --max-instructions already relies on.
constexpr uint64_t SIGNAL_POLL_INSTRUCTIONS = 1ull << 24;

// cpu.run() in slices, so that a stop signal ends the run between two of
// them; CpuStop::None when it did.
sim::CpuStop run_until_stopped(sim::Cpu& cpu, uint64_t max_instructions) {
  for (;;) {
    if (stop_signal()) return sim::CpuStop::None;
    const uint64_t slice_end = cpu.counters().instructions + SIGNAL_POLL_INSTRUCTIONS;
    const bool last = max_instructions != 0 && max_instructions <= slice_end;
    const sim::CpuStop stop = cpu.run(last ? max_instructions : slice_end);
    if (stop != sim::CpuStop::InstructionLimit || last) return stop;
  }
}

class SimEngine final : public Engine {
 public:
  const char* name() const override { return "sim"; }

  RunResult run(Machine& machine, const RunConfig& config) override {
    sim::CostModel costs;
    if (!config.cost_model_path.empty()) costs.load_file(config.cost_model_path);
    std::unique_ptr<trace::SimTraceRecorder> recorder;
    if (!config.trace_path.empty())
      recorder = std::make_unique<trace::SimTraceRecorder>(config.trace_path, trace::sim_run_notes(config));

    sim::Cpu cpu(machine.memory, machine.devices, costs);
    cpu.set_translation(config.translate);
    if (recorder) recorder->watch(cpu);
    sim::LevelAccounting levels(costs, recorder.get());  // passes every event on to the recorder
    cpu.set_trace_sink(&levels);
    cpu.reset_to_multiboot(machine.boot.entry, machine.boot.eax, machine.boot.ebx);

    const auto start = std::chrono::steady_clock::now();
    const sim::CpuStop stop = run_until_stopped(cpu, config.max_instructions);
    const auto end = std::chrono::steady_clock::now();
    if (recorder) recorder->finish();

    RunResult r;
    switch (stop) {
      case sim::CpuStop::DebugExit:
        r.reason = StopReason::DebugExit;
        r.debug_exit_code = *machine.devices.debug_exit.code;
        break;
      case sim::CpuStop::Halted: r.reason = StopReason::Halted; break;
      case sim::CpuStop::TripleFault: r.reason = StopReason::TripleFault; break;
      case sim::CpuStop::InstructionLimit: r.reason = StopReason::InstructionLimit; break;
      case sim::CpuStop::None: r.reason = StopReason::Signal; break;
    }
    r.signal = stop == sim::CpuStop::None ? stop_signal() : 0;
    r.message = stop == sim::CpuStop::None ? signal_stop_message(r.signal) : cpu.stop_message();
    r.stats.instructions = cpu.counters().instructions;
    r.stats.cycles = cpu.cycles();
    r.stats.wall_seconds = std::chrono::duration<double>(end - start).count();
    r.stats.exceptions = cpu.counters().exceptions;
    r.stats.interrupts = cpu.counters().interrupts;
    r.stats.vm_exits = cpu.counters().vm_exits;
    r.stats.vm_entries = cpu.counters().vm_entries;
    r.stats.levels = levels.finish(r.stats.instructions, r.stats.cycles);
    r.stats.io_exits = machine.devices.bus.io_accesses;
    r.stats.mmio_exits = machine.devices.bus.mmio_accesses;
    return r;
  }
};

}  // namespace

std::unique_ptr<Engine> make_sim_engine() { return std::make_unique<SimEngine>(); }

}  // namespace nestbed
