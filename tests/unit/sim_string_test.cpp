// REP string instructions stop between iterations (SDM vol. 1 7.3.9.2;
// vol. 2 "REP/REPE/REPZ/REPNE/REPNZ": "a repeating string operation can be
// suspended by an exception or interrupt ... the registers point to the
// next element and the instruction pointer to the string instruction").
// An interrupt, the monitor trap flag (SDM 25.5.2) and the run's
// instruction limit each take effect between two iterations, so a guest
// cannot hold l0 with one REP (issue 14 item 7).
#include <gtest/gtest.h>

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sim_vmx_setup.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
using sim::CpuStop;

constexpr uint64_t kApic = 0xfee00000;

class SimString : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { m.setup_long_mode(); }
  CpuStop run(const Asm& a, uint64_t max_instructions) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max_instructions);
  }
};

// Three MOVs, then REP STOSB of 2^32 - 1 bytes under a limit of 100
// instructions: the REP runs 97 iterations, stops with its registers
// showing them, does not retire, and the run ends at the limit.
TEST_F(SimString, RepStosStopsAtTheInstructionLimitBetweenIterations) {
  Asm a(L::CODE);
  a.mov_imm64(rDI, L::SCRATCH);
  a.mov_imm32(rCX, 0xffffffff);
  a.mov_imm32(rAX, 0x5a);
  const uint64_t rep = a.here();
  a.raw({0xf3, 0xaa});  // rep stosb
  a.hlt();
  const CpuStop stop = run(a, 100);
  ASSERT_EQ(stop, CpuStop::InstructionLimit) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), rep) << "RIP stays on the REP instruction";
  EXPECT_EQ(m.reg(rCX), 0xffffffffull - 97);
  EXPECT_EQ(m.reg(rDI), L::SCRATCH + 97);
  EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + 96), 0x5a);
  EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + 97), 0) << "no element past the stop";
  EXPECT_EQ(m.cpu.counters().instructions, 3u) << "the REP did not retire";
}

// The case: REP STOSD over the APIC page with ECX = 0xffffffff
// (every element an MMIO write) ends at --max-instructions, promptly.
TEST_F(SimString, RepStosOverTheApicPageStopsAtTheInstructionLimit) {
  Asm a(L::CODE);
  a.mov_imm64(rDI, kApic + 0x400);  // past the registers that send IPIs
  a.mov_imm32(rCX, 0xffffffff);
  a.mov_imm32(rAX, 0);
  a.raw({0xf3, 0xab});  // rep stosd
  a.hlt();
  const CpuStop stop = run(a, 200);
  ASSERT_EQ(stop, CpuStop::InstructionLimit) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(rCX), 0xffffffffull - 197);
  EXPECT_EQ(m.reg(rDI), kApic + 0x400 + 4 * 197);
}

// A one-shot APIC timer fires in the middle of a 100,000-byte REP STOSB:
// the interrupt is taken between two iterations, the frame's RIP is the
// REP instruction, RCX shows the bytes left, and after IRETQ the REP
// finishes the rest. Nothing is written twice or skipped.
TEST_F(SimString, TimerInterruptArrivesBetweenIterationsAndTheRepResumes) {
  namespace apic = arch::apic;
  constexpr uint32_t kBytes = 100000;
  Asm h(L::HANDLERS);
  h.inc(r12);
  h.mov_rr(r13, rCX);             // bytes left when the interrupt came
  h.load64(r14, mem_op(rSP, 0));  // the frame's RIP
  h.mov_imm64(rDX, kApic);
  h.store_imm32(mem_op(rDX, apic::EOI), 0);
  h.iretq();
  m.load_code(h);
  m.set_gate64(0x40, L::HANDLERS);

  Asm a(L::CODE);
  a.mov_imm64(rBX, kApic);
  a.store_imm32(mem_op(rBX, apic::SVR), apic::SVR_ENABLE | 0xff);
  a.store_imm32(mem_op(rBX, apic::LVT_TIMER), 0x40 | apic::LVT_TIMER_ONESHOT);
  a.store_imm32(mem_op(rBX, apic::TIMER_DIVIDE_CONFIG), 0xb);  // divide by 1
  a.store_imm32(mem_op(rBX, apic::TIMER_INITIAL_COUNT), 5000);
  a.mov_imm64(rDI, L::SCRATCH);
  a.mov_imm32(rCX, kBytes);
  a.mov_imm32(rAX, 0x77);
  a.sti().nop();  // the REP outside STI's interrupt shadow
  const uint64_t rep = a.here();
  a.raw({0xf3, 0xaa});  // rep stosb
  a.cli().hlt();
  m.s().r[r12] = m.s().r[r13] = m.s().r[r14] = 0;
  const CpuStop stop = run(a, 1000000);
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r12), 1u) << "one timer interrupt";
  EXPECT_EQ(m.reg(r14), rep) << "taken with RIP on the REP";
  EXPECT_GT(m.reg(r13), 0u);
  EXPECT_LT(m.reg(r13), kBytes) << "in the middle of the REP";
  EXPECT_EQ(m.reg(rCX), 0u);
  EXPECT_EQ(m.reg(rDI), L::SCRATCH + kBytes);
  for (uint64_t off : {uint64_t(0), uint64_t(kBytes - m.reg(r13)) - 1, uint64_t(kBytes - m.reg(r13)),
                       uint64_t(kBytes) - 1})
    EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + off), 0x77) << "byte " << off;
  EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + kBytes), 0);
}

// SDM 25.5.2: with the monitor trap flag, "if the first iteration of the
// instruction does not cause a fault, an MTF VM exit is pending on the
// instruction boundary after that iteration": one element per VM entry,
// with the guest's RIP still on the REP.
TEST(SimStringVmx, MonitorTrapFlagExitsAfterEachIteration) {
  using F = arch::vmx::VmcsField;
  SimMachine m;
  enable_vmx(m);
  sim::vmx::Vmcs& v = prepare_vmcs(m);
  v.write(F::CPU_BASED_VM_EXEC_CONTROL,
          v.read(F::CPU_BASED_VM_EXEC_CONTROL) | arch::vmx::proc_ctl::MONITOR_TRAP_FLAG);
  m.load_code(vmx_layout::GUEST_CODE, {0xf3, 0xaa, 0xf4});  // rep stosb; hlt
  m.s().r[rCX] = 10;
  m.s().r[rDI] = L::SCRATCH;
  m.s().r[rAX] = 0x33;
  for (unsigned entry = 0; entry < 2; ++entry) {
    m.load_code(L::CODE, {0x0f, 0x01, uint8_t(entry ? 0xc3 : 0xc2), 0xf4});  // vmlaunch / vmresume; hlt
    m.rip() = L::CODE;
    m.cpu.set_halted(false);
    m.run(100000);
    ASSERT_EQ(v.read(F::VM_EXIT_REASON), uint32_t(arch::vmx::ExitReason::MONITOR_TRAP_FLAG)) << "entry " << entry;
    EXPECT_EQ(v.read(F::GUEST_RIP), vmx_layout::GUEST_CODE) << "RIP stays on the REP";
    EXPECT_EQ(m.reg(rCX), 9u - entry);
    EXPECT_EQ(m.reg(rDI), L::SCRATCH + 1 + entry);
  }
  EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + 1), 0x33);
  EXPECT_EQ(m.peek<uint8_t>(L::SCRATCH + 2), 0);
}

}  // namespace
}  // namespace nestbed::testing
