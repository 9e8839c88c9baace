// l0/sim/level_accounting: the sim CPU's VM entries and exits split a run
// into stretches per level (l0/level_stats.h), with the levels the VMMs'
// VMCS_LEVEL / VMCS_NESTED annotations give (l0/sim/vmcs_levels.h).
#include "l0/sim/level_accounting.h"

#include <gtest/gtest.h>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "l0/sim/cost_model.h"

namespace nestbed::sim {
namespace {

using arch::trace::AnnotationKind;
using arch::vmx::ExitReason;

constexpr uint64_t VMCS01 = 0x1000, VMCS02 = 0x2000, VMCS12 = 0x9000;

class LevelAccountingTest : public ::testing::Test {
 protected:
  LevelAccountingTest() { exit_cost = costs[CostClass::vm_exit]; }

  // What l1-vmm says of a VMCS (annotations in root operation, level 1).
  void vmcs_level(uint64_t vmcs, uint64_t level, bool non_root = false, uint64_t current = ~0ull) {
    AnnotationEvent e{};
    e.regs[0] = uint64_t(AnnotationKind::VMCS_LEVEL);
    e.regs[7] = vmcs;
    e.regs[6] = level;
    e.non_root = non_root;
    e.vmcs = current;
    acc.annotation(e);
  }
  void vmcs_nested(uint64_t said_by, uint64_t vmcs, uint64_t next_level_vmcs) {
    AnnotationEvent e{};
    e.regs[0] = uint64_t(AnnotationKind::VMCS_NESTED);
    e.regs[7] = vmcs;
    e.regs[6] = next_level_vmcs;
    e.regs[2] = said_by;
    acc.annotation(e);
  }
  void entry(uint64_t instructions, uint64_t cycles, uint64_t vmcs) {
    acc.hw_entry(HwEntryEvent{cycles, instructions, vmcs, 0, false});
  }
  // `cycles` as the CPU reports it: after the exit's cost is charged.
  void exit(uint64_t instructions, uint64_t cycles, uint64_t vmcs, ExitReason reason, bool entry_failure = false) {
    HwExitEvent e{};
    e.instructions = instructions;
    e.cycles = cycles;
    e.vmcs = vmcs;
    e.exit_reason = uint32_t(reason) | (entry_failure ? 0x80000000u : 0);
    acc.hw_exit(e);
  }

  CostModel costs;
  uint64_t exit_cost;
  LevelAccounting acc{costs, nullptr};
};

TEST_F(LevelAccountingTest, WithoutVmxEverythingIsLevelOne) {
  const auto levels = acc.finish(1234, 5678);
  ASSERT_EQ(levels.size(), 1u);
  EXPECT_EQ(levels[0].level, 1u);
  EXPECT_EQ(levels[0].instructions, 1234u);
  EXPECT_EQ(levels[0].cycles, 5678u);
  EXPECT_EQ(levels[0].hw_exits, 0u);
}

// Entry costs are charged before the entry's event and exit costs before
// the exit's: both count at level 1.
TEST_F(LevelAccountingTest, GuestStretchesCountAtTheGuestLevelAndTransitionsAtLevelOne) {
  vmcs_level(VMCS01, 2);
  entry(100, 1000, VMCS01);
  exit(150, 1200 + exit_cost, VMCS01, ExitReason::CPUID);
  entry(180, 1600 + exit_cost, VMCS01);
  exit(200, 1700 + 2 * exit_cost, VMCS01, ExitReason::IO_INSTRUCTION);
  const auto levels = acc.finish(260, 2000 + 2 * exit_cost);
  ASSERT_EQ(levels.size(), 2u);
  EXPECT_EQ(levels[1].level, 2u);
  EXPECT_EQ(levels[1].instructions, 50u + 20u);
  EXPECT_EQ(levels[1].cycles, 200u + 100u);
  EXPECT_EQ(levels[1].hw_exits, 2u);
  EXPECT_EQ(levels[1].exits.at(uint16_t(ExitReason::CPUID)), 1u);
  EXPECT_EQ(levels[1].exits.at(uint16_t(ExitReason::IO_INSTRUCTION)), 1u);
  EXPECT_EQ(levels[0].instructions, 100u + 30u + 60u);
  EXPECT_EQ(levels[0].cycles, 1000u + (400u + exit_cost) + (300u + exit_cost));
  EXPECT_EQ(levels[0].hw_exits, 0u);
  EXPECT_EQ(levels[0].instructions + levels[1].instructions, 260u);
  EXPECT_EQ(levels[0].cycles + levels[1].cycles, 2000u + 2 * exit_cost);
}

// A VMCS nobody named runs level 2 (exit-tracer's DEFAULT_GUEST_LEVEL).
TEST_F(LevelAccountingTest, AnUnnamedVmcsRunsLevelTwo) {
  entry(10, 100, VMCS01);
  exit(20, 200 + exit_cost, VMCS01, ExitReason::HLT);
  const auto levels = acc.finish(20, 200 + exit_cost);
  ASSERT_EQ(levels.size(), 2u);
  EXPECT_EQ(levels[1].instructions, 10u);
  EXPECT_EQ(levels[1].hw_exits, 1u);
}

// Nested VMX: level 1's vmcs02 runs what level 2's vmcs12 runs (VMCS_NESTED),
// and level 2 (in non-root operation on vmcs01) named its vmcs12 level 3.
TEST_F(LevelAccountingTest, NestedVmcsResolvesToTheInnermostLevel) {
  vmcs_level(VMCS01, 2);
  vmcs_level(VMCS12, 3, /*non_root=*/true, /*current=*/VMCS01);
  vmcs_nested(1, VMCS02, VMCS12);
  vmcs_level(VMCS02, 2);  // level 1's own guess, overridden by the nested link
  entry(0, 0, VMCS02);
  exit(40, 400 + exit_cost, VMCS02, ExitReason::CPUID);
  entry(50, 500 + exit_cost, VMCS01);
  exit(70, 700 + 2 * exit_cost, VMCS01, ExitReason::VMRESUME);
  const auto levels = acc.finish(70, 700 + 2 * exit_cost);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[2].instructions, 40u);
  EXPECT_EQ(levels[2].exits.at(uint16_t(ExitReason::CPUID)), 1u);
  EXPECT_EQ(levels[1].instructions, 20u);
  EXPECT_EQ(levels[1].exits.at(uint16_t(ExitReason::VMRESUME)), 1u);
  EXPECT_EQ(levels[0].instructions, 10u);
}

// An entry failure (SDM 26.8) follows no entry: nothing ran in the guest,
// and the exit counts at its VMCS's level, as the trace counts it.
TEST_F(LevelAccountingTest, AnEntryFailureRunsNothingInTheGuest) {
  vmcs_level(VMCS01, 2);
  exit(30, 300, VMCS01, ExitReason::INVALID_GUEST_STATE, /*entry_failure=*/true);
  const auto levels = acc.finish(30, 300);
  ASSERT_EQ(levels.size(), 2u);
  EXPECT_EQ(levels[0].instructions, 30u);
  EXPECT_EQ(levels[0].cycles, 300u);
  EXPECT_EQ(levels[1].instructions, 0u);
  EXPECT_EQ(levels[1].hw_exits, 1u);
  EXPECT_EQ(levels[1].exits.at(uint16_t(ExitReason::INVALID_GUEST_STATE)), 1u);
}

// A run that stops in the guest (a passed-through isa-debug-exit write):
// the last stretch is the guest's.
TEST_F(LevelAccountingTest, ARunThatStopsInTheGuestEndsAtTheGuestLevel) {
  vmcs_level(VMCS01, 2);
  entry(10, 100, VMCS01);
  const auto levels = acc.finish(25, 180);
  ASSERT_EQ(levels.size(), 2u);
  EXPECT_EQ(levels[1].instructions, 15u);
  EXPECT_EQ(levels[1].cycles, 80u);
}

}  // namespace
}  // namespace nestbed::sim
