// PCIDs and INVPCID in the sim (SDM vol. 3 4.10.1, 4.10.4; vol. 2 INVPCID,
// MOV to CR3/CR4; issue 14 item 4). The sim caches every translation it
// uses (an implementation's choice the SDM allows), so whether a
// translation survived is visible: a PTE changed behind the TLB's back
// reads through the old mapping until something invalidates it.
#include <gtest/gtest.h>

#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/paging.h"
#include "l0/sim/cpu/cpuid.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace pte = arch::pte;
using sim::CpuStop;

constexpr uint8_t UD = 6, GP = 13;
constexpr uint64_t kVa = 0x40000000;  // one 4 KiB page, remapped by the tests
constexpr uint64_t kPageA = L::SCRATCH, kPageB = L::SCRATCH + 0x1000;

class SimPcid : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    m.map(kVa, kPageA, pte::P | pte::RW);
    m.poke<uint64_t>(kPageA, 0xaaaa);
    m.poke<uint64_t>(kPageB, 0xbbbb);
  }
  CpuStop run(const Asm& a, uint64_t max = 10000) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max);
  }
  void expect_stub(CpuStop stop, int vector) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "rip 0x" << std::hex << m.rip();
  }
  // CR4.PCIDE on, with PCID `pcid` in CR3 (set after PCIDE: it needs CR3[11:0] = 0).
  void enable_pcid(Asm& a, uint16_t pcid) {
    a.mov_from_cr(rAX, 4);
    a.raw({0x48, 0x0d}).raw({0x00, 0x00, 0x02, 0x00});  // or rax, CR4.PCIDE
    a.mov_to_cr(4, rAX);
    a.mov_imm64(rAX, m.cr3 | pcid);
    a.mov_to_cr(3, rAX);
  }
  // Reads kVa into `r`, then points kVa's PTE at page B (no invalidation).
  void read_then_remap(Asm& a, unsigned r) {
    a.mov_imm64(rBX, kVa);
    a.load64(r, mem_op(rBX, 0));
    a.mov_imm64(rAX, kPageB | pte::P | pte::RW);
    a.mov_imm64(rDX, m.entry_pa(kVa, 1));
    a.store64(mem_op(rDX, 0), rAX);
  }
};

TEST_F(SimPcid, CpuidReportsPcidAndInvpcid) {
  const sim::CpuidResult l1 = sim::cpuid(1, 0, 0, sim::CpuidState{});
  const sim::CpuidResult l7 = sim::cpuid(7, 0, 0, sim::CpuidState{});
  EXPECT_TRUE(l1.ecx & arch::cpuid::L1_ECX_PCID);
  EXPECT_TRUE(l7.ebx & arch::cpuid::L7_EBX_INVPCID);
}

// MOV to CR3 with bit 63 set keeps the PCID's translations (and does not
// store bit 63); with it clear, the PCID's non-global ones go.
TEST_F(SimPcid, Cr3Bit63KeepsThePcidsTranslations) {
  Asm a(L::CODE);
  enable_pcid(a, 5);
  read_then_remap(a, r8);
  a.mov_imm64(rAX, m.cr3 | 5 | (1ull << 63));
  a.mov_to_cr(3, rAX);
  a.load64(r9, mem_op(rBX, 0));  // still page A
  a.mov_from_cr(r12, 3);
  a.mov_imm64(rAX, m.cr3 | 5);
  a.mov_to_cr(3, rAX);
  a.load64(r10, mem_op(rBX, 0));  // page B
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r8), 0xaaaau);
  EXPECT_EQ(m.reg(r9), 0xaaaau) << "bit 63 = 1: kept";
  EXPECT_EQ(m.reg(r12), m.cr3 | 5) << "bit 63 is not stored";
  EXPECT_EQ(m.reg(r10), 0xbbbbu) << "bit 63 = 0: invalidated";
}

// Each PCID has its own translations: switching PCIDs with bit 63 set
// and back finds the first PCID's entry; INVPCID type 0 removes it.
TEST_F(SimPcid, InvpcidIndividualAddress) {
  Asm a(L::CODE);
  enable_pcid(a, 1);
  read_then_remap(a, r8);
  a.mov_imm64(rAX, m.cr3 | 2 | (1ull << 63));
  a.mov_to_cr(3, rAX);
  a.mov_imm64(rAX, m.cr3 | 1 | (1ull << 63));
  a.mov_to_cr(3, rAX);
  a.load64(r9, mem_op(rBX, 0));  // PCID 1's entry: page A
  // Descriptor at DATA: PCID 1, address kVa.
  a.mov_imm64(rSI, L::DATA);
  a.mov_imm64(rAX, 1);
  a.store64(mem_op(rSI, 0), rAX);
  a.mov_imm64(rAX, kVa);
  a.store64(mem_op(rSI, 8), rAX);
  a.mov_imm32(rCX, 0);
  a.raw({0x66, 0x0f, 0x38, 0x82, 0x0e});  // invpcid rcx, [rsi]
  a.load64(r10, mem_op(rBX, 0));  // page B
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r9), 0xaaaau);
  EXPECT_EQ(m.reg(r10), 0xbbbbu);
}

// INVPCID's #GP(0) cases (SDM vol. 2): type above 3, descriptor bits
// 63:12, a non-canonical address for type 0, and a PCID other than 0 for
// types 0 and 1 with CR4.PCIDE = 0; and at CPL > 0.
TEST_F(SimPcid, InvpcidFaults) {
  struct Case {
    uint64_t type, desc, address;
  } cases[] = {{4, 0, 0}, {1, 1ull << 12, 0}, {0, 0, 0x0000800000000000ull}, {1, 3, 0}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    m.enter_long_mode();
    Asm a(L::CODE);
    a.mov_imm64(rSI, L::DATA);
    a.mov_imm64(rAX, c.desc);
    a.store64(mem_op(rSI, 0), rAX);
    a.mov_imm64(rAX, c.address);
    a.store64(mem_op(rSI, 8), rAX);
    a.mov_imm64(rCX, c.type);
    const uint64_t at = a.here();
    a.raw({0x66, 0x0f, 0x38, 0x82, 0x0e});
    a.hlt();
    expect_stub(run(a), GP);
    EXPECT_EQ(m.stack64(1), at);
  }
}

// CR4.PCIDE can be set only with CR3[11:0] = 0 (and in IA-32e mode).
TEST_F(SimPcid, PcideNeedsCr3LowBitsClear) {
  Asm a(L::CODE);
  a.mov_imm64(rAX, m.cr3 | 0x8);  // PWT set: bits 11:0 not 0
  a.mov_to_cr(3, rAX);
  a.mov_from_cr(rAX, 4);
  a.raw({0x48, 0x0d}).raw({0x00, 0x00, 0x02, 0x00});
  const uint64_t at = a.here();
  a.mov_to_cr(4, rAX);
  a.hlt();
  expect_stub(run(a), GP);
  EXPECT_EQ(m.stack64(1), at);
}

}  // namespace
}  // namespace nestbed::testing
