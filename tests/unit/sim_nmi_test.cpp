// NMIs in the sim (SDM vol. 3, 6.7, 6.8.3, 11.5.1, 11.6.1; issue 14 item
// 3): sent through the local APIC's ICR or a LINT pin, delivered through
// vector 2 whatever IF says, blocked from delivery to the next IRET, held
// by MOV SS for one instruction, waking HLT.
#include <gtest/gtest.h>

#include "arch/x86/apic.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace apic = arch::apic;
namespace pte = arch::pte;
using sim::CpuStop;

constexpr uint8_t NMI = 2;
constexpr uint64_t APIC = apic::DEFAULT_BASE;
constexpr uint32_t kNmiIcr = apic::DELIVERY_NMI << apic::ICR_DELIVERY_MODE_SHIFT;

class SimNmi : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    m.map(APIC, APIC, pte::P | pte::RW | pte::PCD);
  }
  CpuStop run(const Asm& a, uint64_t max = 10000) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max);
  }
  // mov dword [APIC + reg], imm32 (through RBX = APIC).
  static void apic_write(Asm& a, uint32_t reg, uint32_t value) {
    a.mov_imm64(rBX, APIC);
    a.store_imm32(mem_op(rBX, int32_t(reg)), value);
  }
  void set_lvt_lint1(uint32_t value) { m.dev.apic.mmio_write(apic::LVT_LINT1, 4, value); }
  void enable_apic() { m.dev.apic.mmio_write(apic::SVR, 4, apic::SVR_ENABLE | 0xff); }
};

// A self-NMI by physical destination: taken right after the ICR write with
// IF = 0, through vector 2.
TEST_F(SimNmi, IcrNmiIsTakenWithInterruptsDisabled) {
  Asm a(L::CODE);
  a.cli();
  apic_write(a, apic::ICR_HIGH, 0);  // destination: APIC ID 0, this one
  apic_write(a, apic::ICR_LOW, kNmiIcr);
  const uint64_t after = a.here();
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), NMI);
  EXPECT_EQ(m.stack64(0), after) << "at the boundary after the write";
  EXPECT_TRUE(m.cpu.nmi_blocked());
}

// The "self" shorthand carries fixed interrupts only (SDM 11.6.1): an NMI
// sent through it goes nowhere.
TEST_F(SimNmi, SelfShorthandNmiIsNotSent) {
  Asm a(L::CODE);
  apic_write(a, apic::ICR_LOW, kNmiIcr | (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT));
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size()) << "halted in the code, no NMI";
}

// An NMI sent inside the NMI handler waits for its IRET, then is taken at
// once: the second handler sees the first one's work done (R14 = 1).
TEST_F(SimNmi, NmiBlockedUntilIret) {
  Asm h(L::HANDLERS);
  h.mov_rr(r15, r14);  // what the previous handler had finished
  h.inc(r12);
  h.cmp_imm8(r12, 1);
  const size_t skip = h.jcc_forward(5);  // jne
  apic_write(h, apic::ICR_LOW, kNmiIcr);
  h.nop();
  h.nop();
  h.inc(r14);
  h.bind(skip);
  h.iretq();
  m.load_code(h);
  m.set_gate64(NMI, L::HANDLERS);
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  a.mov_imm32(r14, 0);
  apic_write(a, apic::ICR_HIGH, 0);
  apic_write(a, apic::ICR_LOW, kNmiIcr);
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size());
  EXPECT_EQ(m.reg(r12), 2u) << "two NMIs";
  EXPECT_EQ(m.reg(r15), 1u) << "the second arrived after the first handler's IRET";
  EXPECT_FALSE(m.cpu.nmi_blocked());
}

// LINT1 programmed for NMI delivery; an edge on it while the CPU sits in
// HLT with IF = 0 wakes it into the NMI handler, which returns after the
// HLT.
TEST_F(SimNmi, Lint1NmiWakesHlt) {
  enable_apic();
  set_lvt_lint1(apic::DELIVERY_NMI << apic::ICR_DELIVERY_MODE_SHIFT);
  Asm h(L::HANDLERS);
  h.inc(r12);
  h.iretq();
  m.load_code(h);
  m.set_gate64(NMI, L::HANDLERS);
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  a.cli();
  const uint64_t hlt = a.here();
  a.hlt();
  a.mov_imm32(rBX, 1);
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted);
  EXPECT_EQ(m.rip(), hlt + 1) << "asleep at the first HLT";
  m.dev.apic.assert_lint(1);
  ASSERT_EQ(m.run(1000), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r12), 1u);
  EXPECT_EQ(m.reg(rBX), 1u) << "resumed after the first HLT";
}

// A masked LINT1 delivers nothing; LINT1 in fixed mode raises its vector.
TEST_F(SimNmi, Lint1MaskedAndFixed) {
  enable_apic();
  set_lvt_lint1(apic::LVT_MASKED | (apic::DELIVERY_NMI << apic::ICR_DELIVERY_MODE_SHIFT));
  m.dev.apic.assert_lint(1);
  EXPECT_FALSE(m.dev.apic.nmi_pending());
  set_lvt_lint1(0x41);
  m.dev.apic.assert_lint(1);
  EXPECT_EQ(m.dev.apic.pending_vector(), 0x41);
}

// MOV SS blocks NMIs for one instruction (SDM 6.8.3): an NMI arriving
// right after MOV SS is taken after the next instruction.
TEST_F(SimNmi, MovSsHoldsNmiForOneInstruction) {
  enable_apic();
  set_lvt_lint1(apic::DELIVERY_NMI << apic::ICR_DELIVERY_MODE_SHIFT);
  Asm a(L::CODE);
  a.raw({0x8c, 0xd0});  // mov eax, ss
  a.raw({0x8e, 0xd0});  // mov ss, eax
  const uint64_t first = a.here();
  a.nop();
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a, 2), CpuStop::InstructionLimit);
  ASSERT_EQ(m.rip(), first);
  m.dev.apic.assert_lint(1);
  ASSERT_EQ(m.run(100), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), NMI);
  EXPECT_EQ(m.stack64(0), first + 1) << "after the instruction MOV SS shadows";
}

}  // namespace
}  // namespace nestbed::testing
