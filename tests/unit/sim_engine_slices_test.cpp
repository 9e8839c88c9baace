// The sim engine runs the CPU in slices of instructions, looking for
// SIGINT/SIGTERM between them (l0/sim/sim_engine.cpp). Slicing must not
// change the run: a guest run through the engine (several slices) and the
// same guest run by the CPU in one go end alike, with the same counts and
// cycles, the same console output.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "l0/engine.h"
#include "l0/machine/machine.h"
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"

#ifndef NESTBED_KVM_TEST_IMAGES
#error "tests/kvm.cmake defines NESTBED_KVM_TEST_IMAGES (the workload images)"
#endif

namespace nestbed {
namespace {

// The console in memory.
struct MemoryConsole {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* file = open_memstream(&buffer, &size);
  ~MemoryConsole() {
    std::fclose(file);
    std::free(buffer);
  }
  std::string text() {
    std::fflush(file);
    return std::string(buffer, size);
  }
};

RunConfig sieve_config() {
  RunConfig config;
  config.image_path = std::string(NESTBED_KVM_TEST_IMAGES) + "/sieve";
  config.cmdline = "1500000";  // about 21 million instructions: two slices
  return config;
}

TEST(SimEngineSlices, ASlicedRunEndsExactlyAsAnUnslicedOne) {
  const RunConfig config = sieve_config();

  MemoryConsole sliced_console;
  auto sliced_machine = create_machine(config, sliced_console.file);
  const RunResult sliced = make_engine("sim")->run(*sliced_machine, config);

  MemoryConsole whole_console;
  auto whole_machine = create_machine(config, whole_console.file);
  sim::CostModel costs;
  sim::Cpu cpu(whole_machine->memory, whole_machine->devices, costs);
  cpu.reset_to_multiboot(whole_machine->boot.entry, whole_machine->boot.eax, whole_machine->boot.ebx);
  ASSERT_EQ(cpu.run(0), sim::CpuStop::DebugExit);

  ASSERT_EQ(sliced.reason, StopReason::DebugExit) << sliced.message;
  EXPECT_EQ(sliced.debug_exit_code, *whole_machine->devices.debug_exit.code);
  EXPECT_GT(sliced.stats.instructions, 1ull << 24) << "the run must span more than one slice";
  EXPECT_EQ(sliced.stats.instructions, cpu.counters().instructions);
  EXPECT_EQ(sliced.stats.cycles, cpu.cycles());
  EXPECT_EQ(sliced.stats.exceptions, cpu.counters().exceptions);
  EXPECT_EQ(sliced.stats.interrupts, cpu.counters().interrupts);
  EXPECT_EQ(sliced_console.text(), whole_console.text());
}

// --max-instructions inside a later slice stops at exactly that count.
TEST(SimEngineSlices, AnInstructionLimitPastTheFirstSliceIsExact) {
  RunConfig config = sieve_config();
  config.max_instructions = (1ull << 24) + 12345;
  MemoryConsole console;
  auto machine = create_machine(config, console.file);
  const RunResult r = make_engine("sim")->run(*machine, config);
  EXPECT_EQ(r.reason, StopReason::InstructionLimit);
  EXPECT_EQ(r.stats.instructions, config.max_instructions);
  EXPECT_NE(r.message.find("(" + std::to_string(config.max_instructions) + " instructions)"), std::string::npos)
      << r.message;
}

}  // namespace
}  // namespace nestbed
