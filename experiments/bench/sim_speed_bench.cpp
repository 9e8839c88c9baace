// Simulated instructions per second of the sim engine (DESIGN.md §7), on
// the CPU-bound `sieve` and the page-walking `memtouch` at depth 0, and the
// depth-1 CPUID and OUT round trips under l1-vmm. Run:
//   build/bin/nestbed_bench --benchmark_filter=Sim
// The "items_per_second" column is simulated instructions per second.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "l0/engine.h"
#include "l0/machine/machine.h"

namespace {

// Runs `image args` at depth 0, or under l1-vmm (depth 1) with `nested`.
void run_workload(benchmark::State& state, const std::string& image, const std::string& args, bool nested = false) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  uint64_t instructions = 0;
  for (auto _ : state) {
    nestbed::RunConfig config;
    if (nested) {
      config.image_path = std::string(NESTBED_IMAGE_DIR) + "/l1-vmm";
      config.modules.push_back(nestbed::ModuleSpec{std::string(NESTBED_IMAGE_DIR) + "/" + image, args});
    } else {
      config.image_path = std::string(NESTBED_IMAGE_DIR) + "/" + image;
      config.cmdline = args;
    }
    auto machine = nestbed::create_machine(config, sink);
    auto engine = nestbed::make_engine("sim");
    const nestbed::RunResult r = engine->run(*machine, config);
    if (r.reason != nestbed::StopReason::DebugExit || r.debug_exit_code != 0) {
      state.SkipWithError(("workload did not exit cleanly: " + r.message).c_str());
      break;
    }
    instructions += r.stats.instructions;
    state.counters["modeled_cycles"] = double(r.stats.cycles);
  }
  state.SetItemsProcessed(int64_t(instructions));
  std::fclose(sink);
}

void BM_SimSieve(benchmark::State& state) { run_workload(state, "sieve", std::to_string(state.range(0))); }
BENCHMARK(BM_SimSieve)->Arg(1000000)->Arg(20000000)->Unit(benchmark::kMillisecond);

void BM_SimMemtouch(benchmark::State& state) { run_workload(state, "memtouch", std::to_string(state.range(0))); }
BENCHMARK(BM_SimMemtouch)->Arg(4096)->Unit(benchmark::kMillisecond);

}  // namespace

// Depth-1 round trips (guest exit -> l1-vmm -> VMRESUME): the time per
// iteration is the difference between the two counts' times divided by
// 180,000 (experiments/sim_speed.py prints it).
void BM_SimCpuidDepth1(benchmark::State& state) {
  run_workload(state, "cpuid-loop", std::to_string(state.range(0)), true);
}
BENCHMARK(BM_SimCpuidDepth1)->Arg(20000)->Arg(200000)->Unit(benchmark::kMillisecond);

void BM_SimPioDepth1(benchmark::State& state) { run_workload(state, "pio-loop", std::to_string(state.range(0)), true); }
BENCHMARK(BM_SimPioDepth1)->Arg(20000)->Arg(200000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
