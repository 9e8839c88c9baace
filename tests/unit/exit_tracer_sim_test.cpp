// The annotation path end to end: the sim CPU executes the magic NOP, the
// SimTraceRecorder it reports to writes the record, and the reader gets
// back the registers (arch/trace_annotations.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "arch/trace_annotations.h"
#include "exit-tracer/exit_trace.h"
#include "l0/sim/trace_recorder.h"
#include "tests/support/sim_harness.h"

namespace nestbed::trace {
namespace {

using nestbed::testing::SimMachine;
namespace sim_layout = nestbed::testing::sim_layout;

TEST(ExitTracerSim, TheSimRecordsAnAnnotationWithItsRegisters) {
  SimMachine m;
  m.setup_long_mode();
  std::vector<uint8_t> code(std::begin(arch::trace::kAnnotationBytes), std::end(arch::trace::kAnnotationBytes));
  code.push_back(0xf4);  // HLT with interrupts off: the run ends
  m.load_code(sim_layout::CODE, code);
  m.reg(0) = uint64_t(arch::trace::AnnotationKind::MARK);  // RAX
  m.reg(7) = 42;                                           // RDI
  m.reg(6) = 1;                                            // RSI
  m.reg(2) = 2;                                            // RDX
  m.reg(1) = 3;                                            // RCX

  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  {
    SimTraceRecorder recorder(f, {{"engine", "sim"}});
    m.cpu.set_trace_sink(&recorder);
    EXPECT_EQ(m.cpu.run(100), sim::CpuStop::Halted);
    m.cpu.set_trace_sink(nullptr);
    recorder.finish();
  }
  std::fclose(f);
  const ExitTrace t = parse_trace(std::vector<uint8_t>(buffer, buffer + size), "sim.trace");
  std::free(buffer);

  ASSERT_EQ(t.annotations.size(), 1u);
  const Annotation& a = t.annotations[0];
  EXPECT_EQ(a.kind, uint64_t(arch::trace::AnnotationKind::MARK));
  EXPECT_EQ(a.args[0], 42u);
  EXPECT_EQ(a.args[1], 1u);
  EXPECT_EQ(a.args[2], 2u);
  EXPECT_EQ(a.args[3], 3u);
  EXPECT_EQ(a.rip, sim_layout::CODE);
  EXPECT_EQ(a.level, 1) << "outside VMX non-root operation: the program l0 booted";
  EXPECT_EQ(a.non_root, 0);
  EXPECT_TRUE(t.hw_exits.empty());
}

}  // namespace
}  // namespace nestbed::trace
