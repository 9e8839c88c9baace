// Last-branch records in the sim (SDM vol. 3, 17.4.8, 17.7-17.10; issue 14
// item 2): IA32_DEBUGCTL.LBR records taken branches, interrupts and
// exceptions in the 32-entry stack of a Skylake-based processor, LER keeps
// the last branch before an event, a #DB is not recorded and clears LBR,
// MSR_LBR_SELECT filters, and the MSRs #GP on reserved bits.
#include <gtest/gtest.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace msr = arch::msr;
using sim::CpuStop;

constexpr uint8_t DB = 1, BP = 3;

void wrmsr(Asm& a, uint32_t index, uint64_t v) {
  a.mov_imm32(rCX, index);
  a.mov_imm32(rAX, uint32_t(v));
  a.mov_imm32(rDX, uint32_t(v >> 32));
  a.wrmsr();
}
void call_rel32(Asm& a, uint64_t target) {
  a.raw({0xe8});
  const int32_t rel = int32_t(int64_t(target) - int64_t(a.here() + 4));
  a.raw({uint8_t(rel), uint8_t(rel >> 8), uint8_t(rel >> 16), uint8_t(rel >> 24)});
}

class SimLbr : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { m.setup_long_mode(); }
  CpuStop run(const Asm& a, uint64_t max = 10000) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max);
  }
  uint64_t rd(uint32_t index) { return m.cpu.read_msr(index); }
  uint64_t tos() { return rd(msr::MSR_LASTBRANCH_TOS); }
  // Entry `back` records before the top of the stack.
  std::pair<uint64_t, uint64_t> entry(unsigned back) {
    const uint32_t n = uint32_t((tos() - back) & msr::LBR_TOS_MASK_SKYLAKE);
    return {rd(msr::MSR_LASTBRANCH_0_FROM_IP + n), rd(msr::MSR_LASTBRANCH_0_TO_IP + n)};
  }
  using Pair = std::pair<uint64_t, uint64_t>;
};

// A JMP, a CALL and its RET, an INT3 and the handler's IRETQ, a Jcc not
// taken and one taken, each recorded as (from, to) in order; the WRMSRs and
// NOPs are not branches. INT3 is recorded as an exception from the INT3
// itself to its handler, and LER holds the branch before it (the RET).
// FREEZE_LBRS_ON_PMI changes nothing: there are no PMIs.
TEST_F(SimLbr, RecordsBranchesInterruptsAndExceptionsInOrder) {
  Asm h(L::HANDLERS);
  h.iretq();
  m.load_code(h);
  m.set_gate64(BP, L::HANDLERS);

  Asm a(L::CODE);
  wrmsr(a, msr::IA32_DEBUGCTL, msr::DEBUGCTL_LBR | msr::DEBUGCTL_FREEZE_LBRS_ON_PMI);
  const uint64_t jmp = a.here();
  a.raw({0xeb, 0x01, 0x90});  // jmp over a NOP
  const uint64_t call = a.here();
  const uint64_t f = L::CODE + 0x200;
  call_rel32(a, f);
  const uint64_t int3 = a.here();
  a.int3();
  a.raw({0x31, 0xc0});  // xor eax, eax: ZF = 1
  a.raw({0x75, 0x01, 0x90});  // jnz: not taken
  const uint64_t jz = a.here();
  a.raw({0x74, 0x01, 0x90});  // jz over a NOP
  wrmsr(a, msr::IA32_DEBUGCTL, 0);
  a.raw({0xeb, 0x00});  // not recorded: LBR is off
  a.hlt();
  Asm fn(f);
  const uint64_t ret = fn.here();
  fn.raw({0xc3});
  m.load_code(fn);
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size());
  EXPECT_EQ(tos(), 6u) << "six records from TOS 0";
  EXPECT_EQ(entry(5), Pair(jmp, jmp + 3));
  EXPECT_EQ(entry(4), Pair(call, f));
  EXPECT_EQ(entry(3), Pair(ret, call + 5));
  EXPECT_EQ(entry(2), Pair(int3, L::HANDLERS)) << "the exception";
  EXPECT_EQ(entry(1), Pair(L::HANDLERS, int3 + 1)) << "its IRETQ";
  EXPECT_EQ(entry(0), Pair(jz, jz + 3));
  EXPECT_EQ(rd(msr::MSR_LER_FROM_LIP), ret) << "LER: the last branch before the #BP";
  EXPECT_EQ(rd(msr::MSR_LER_TO_LIP), call + 5);
  // LBR_INFO: modeled cycles since the previous record, no flags.
  const uint64_t info = rd(msr::MSR_LBR_INFO_0 + 2);
  EXPECT_NE(info & msr::LBR_INFO_CYC_CNT, 0u);
  EXPECT_EQ(info & ~msr::LBR_INFO_CYC_CNT, 0u);
}

// The stack is circular: from TOS 30 three branches land in entries 31, 0
// and 1. With LBR = 0 nothing is recorded.
TEST_F(SimLbr, TopOfStackWrapsAround) {
  m.cpu.write_msr(msr::MSR_LASTBRANCH_TOS, 30);
  Asm a(L::CODE);
  a.raw({0xeb, 0x00});  // LBR still off
  wrmsr(a, msr::IA32_DEBUGCTL, msr::DEBUGCTL_LBR);
  const uint64_t first = a.here();
  a.raw({0xeb, 0x00, 0xeb, 0x00, 0xeb, 0x00});  // three JMPs to the next instruction: taken
  wrmsr(a, msr::IA32_DEBUGCTL, 0);
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(tos(), 1u);
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_FROM_IP + 31), first);
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_FROM_IP + 0), first + 2);
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_FROM_IP + 1), first + 4);
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_TO_IP + 1), first + 6);
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_FROM_IP + 30), 0u) << "nothing recorded with LBR = 0";
}

// A single-step #DB is not recorded and clears DEBUGCTL.LBR (the stack
// keeps its records); LER takes the branch before it.
TEST_F(SimLbr, DebugExceptionIsNotRecordedAndClearsLbr) {
  Asm a(L::CODE);
  wrmsr(a, msr::IA32_DEBUGCTL, msr::DEBUGCTL_LBR);
  const uint64_t jmp = a.here();
  a.raw({0xeb, 0x01, 0x90});
  a.pushfq();
  a.raw({0x48, 0x81, 0x0c, 0x24}).raw({0x00, 0x01, 0x00, 0x00});  // or qword [rsp], TF
  a.popfq();
  a.nop();  // traps to the #DB stub (HLT)
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(rd(msr::IA32_DEBUGCTL), 0u) << "the #DB cleared LBR";
  EXPECT_EQ(tos(), 1u) << "the JMP only";
  EXPECT_EQ(entry(0), Pair(jmp, jmp + 3));
  EXPECT_EQ(rd(msr::MSR_LER_FROM_LIP), jmp);
  EXPECT_EQ(rd(msr::MSR_LER_TO_LIP), jmp + 3);
}

// MSR_LBR_SELECT: filtered classes are not recorded (a JCC and the CPL
// filter); in call-stack mode a RET pops its CALL.
TEST_F(SimLbr, LbrSelectFiltersAndCallStack) {
  m.cpu.write_msr(msr::MSR_LBR_SELECT, msr::LBR_SELECT_JCC | msr::LBR_SELECT_CPL_NEQ_0);
  Asm a(L::CODE);
  wrmsr(a, msr::IA32_DEBUGCTL, msr::DEBUGCTL_LBR);
  a.raw({0x31, 0xc0});        // xor eax, eax
  a.raw({0x74, 0x01, 0x90});  // jz: taken, filtered
  const uint64_t jmp = a.here();
  a.raw({0xeb, 0x00});  // recorded (ring 0)
  wrmsr(a, msr::MSR_LBR_SELECT, msr::LBR_SELECT_CPL_EQ_0);
  a.raw({0xeb, 0x00});  // filtered: ends in ring 0
  wrmsr(a, msr::MSR_LBR_SELECT,
        msr::LBR_SELECT_EN_CALLSTACK | msr::LBR_SELECT_JCC | msr::LBR_SELECT_NEAR_IND_JMP |
            msr::LBR_SELECT_NEAR_REL_JMP | msr::LBR_SELECT_FAR_BRANCH);
  const uint64_t f = L::CODE + 0x200, g = L::CODE + 0x300, h = L::CODE + 0x400;
  call_rel32(a, f);  // f calls g; both return: the stack is back to the JMP
  const uint64_t call_h = a.here();
  call_rel32(a, h);  // h does not return: its call stays
  Asm fa(f);
  call_rel32(fa, g);
  fa.raw({0xc3});
  m.load_code(fa);
  Asm ga(g);
  ga.raw({0xc3});
  m.load_code(ga);
  Asm ha(h);
  wrmsr(ha, msr::IA32_DEBUGCTL, 0);
  ha.hlt();
  m.load_code(ha);
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), ha.origin + ha.bytes.size());
  EXPECT_EQ(tos(), 2u);
  EXPECT_EQ(entry(1), Pair(jmp, jmp + 2));
  EXPECT_EQ(entry(0), Pair(call_h, h));
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_FROM_IP + 3), 0u) << "the popped entry of f's call to g";
}

// Reserved bits #GP; IA32_PERF_CAPABILITIES is read-only and reports the
// LBR format, and CPUID.1:ECX.PDCM says it exists.
TEST_F(SimLbr, ReservedBitsAndCapabilities) {
  auto gp = [&](uint32_t index, uint64_t v) {
    try {
      m.cpu.write_msr(index, v);
    } catch (const sim::GuestFault& f) {
      return f.vector == 13;
    }
    return false;
  };
  EXPECT_TRUE(gp(msr::IA32_DEBUGCTL, 1u << 6)) << "TR: branch trace messages are not modeled";
  EXPECT_FALSE(gp(msr::IA32_DEBUGCTL, msr::DEBUGCTL_LBR | msr::DEBUGCTL_BTF));
  EXPECT_TRUE(gp(msr::MSR_LBR_SELECT, 1u << 10));
  EXPECT_TRUE(gp(msr::MSR_LASTBRANCH_TOS, 32));
  EXPECT_TRUE(gp(msr::MSR_LASTBRANCH_0_FROM_IP + 5, 0x0000800000000000ull)) << "not canonical";
  EXPECT_FALSE(gp(msr::MSR_LASTBRANCH_0_TO_IP + 5, 0xffff800000001234ull));
  EXPECT_EQ(rd(msr::MSR_LASTBRANCH_0_TO_IP + 5), 0xffff800000001234ull);
  EXPECT_TRUE(gp(msr::IA32_PERF_CAPABILITIES, 0));
  EXPECT_TRUE(gp(msr::MSR_LASTBRANCH_0_FROM_IP + 32, 0)) << "32 entries only";
  EXPECT_EQ(rd(msr::IA32_PERF_CAPABILITIES) & msr::PERF_CAP_LBR_FMT, msr::PERF_CAP_LBR_FMT_EIP_FLAGS_TSX_INFO);
  Asm a(L::CODE);
  a.mov_imm32(rAX, 1).mov_imm32(rCX, 0).raw({0x0f, 0xa2});  // CPUID
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted);
  EXPECT_TRUE(m.reg(rCX) & arch::cpuid::L1_ECX_PDCM);
}

}  // namespace
}  // namespace nestbed::testing
