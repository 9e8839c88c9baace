// Simulated instructions per second of the sim engine (DESIGN.md §7), on
// the CPU-bound `sieve` workload at depth 0. Run:
//   build/bin/nestbed_bench --benchmark_filter=Sim
// The "items_per_second" column is simulated instructions per second.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "l0/engine.h"
#include "l0/machine/machine.h"

namespace {

void run_workload(benchmark::State& state, const std::string& image, const std::string& args) {
  std::FILE* sink = std::fopen("/dev/null", "w");
  uint64_t instructions = 0;
  for (auto _ : state) {
    nestbed::RunConfig config;
    config.image_path = std::string(NESTBED_IMAGE_DIR) + "/" + image;
    config.cmdline = args;
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

BENCHMARK_MAIN();
