// System behaviour of the sim CPU, test by test against the SDM (DESIGN.md
// §9): 4-level paging (4 KiB, 2 MiB, 1 GiB pages, A/D, NX, WP, U/S,
// reserved bits, #PF error codes and CR2), the TLB and its flushes, IDT
// delivery and IRET in IA-32e and protected mode, the exceptions the CPU
// raises itself, double and triple faults, the STI interrupt shadow, the
// APIC timer with HLT, self-modifying code, unimplemented instructions and
// determinism. Each test builds a small machine (tests/support/
// sim_harness.h), hand-encodes its guest code and asserts concrete values:
// registers, memory, the exception frame, the vector taken.
#include <gtest/gtest.h>

#include <string>

#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace fl = arch::rflags;
namespace pte = arch::pte;
namespace pf = arch::pf_error;
namespace L = sim_layout;
using sim::CpuStop;

constexpr uint8_t DE = 0, BP = 3, UD = 6, DF = 8, NP = 11, GP = 13, PF = 14;
constexpr uint64_t kUserCode = L::CODE + 0x1000;
constexpr uint64_t kApic = 0xfee00000;

class SimSystem : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { m.setup_long_mode(); }

  // Loads `a` and runs from its first byte.
  CpuStop run(const Asm& a, uint64_t max_instructions = 100000) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max_instructions);
  }
  // Emits an IRETQ to 64-bit CPL 3 code at `rip` (SDM 6.14.3 frame order:
  // SS, RSP, RFLAGS, CS, RIP).
  static void to_user(Asm& a, uint64_t rip, uint64_t rflags = fl::FIXED1) {
    a.push_imm32(sel::UDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(int32_t(rflags));
    a.push_imm32(sel::UCODE64).push_imm32(int32_t(rip)).iretq();
  }
  // The run stopped in the default handler of `vector`.
  void expect_stub(CpuStop stop, int vector) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "rip 0x" << std::hex << m.rip();
  }
  void expect_halt_in_code(CpuStop stop) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), -1) << "took vector " << m.stub_vector() << ", error/rip on stack 0x" << std::hex
                                   << m.stack64(0) << " 0x" << m.stack64(1) << ", cr2 0x" << m.s().cr2;
  }
};

// =================================================================== paging

// SDM 4.5 (4-level paging, 4 KiB page) and 4.8: the walk sets A in every
// entry it uses; a write sets D in the PTE only.
TEST_F(SimSystem, FourKiBPageTranslatesAndSetsAccessedThenDirty) {
  const uint64_t la = 0x40000000, pa = L::SCRATCH;
  m.map(la, pa, pte::P | pte::RW);
  m.poke<uint64_t>(pa + 0x120, 0x1122334455667788);
  const uint64_t pte_pa = m.entry_pa(la, 1);
  Asm a(L::CODE);
  a.load64(rAX, Asm::abs(la + 0x120));     // read
  a.load64(rCX, Asm::abs(pte_pa));         // the PTE after the read
  a.mov_imm64(rDX, 0xa5a5a5a5f0f0f0f0);
  a.store64(Asm::abs(la + 0x208), rDX);    // write
  a.load64(rSI, Asm::abs(pte_pa));         // the PTE after the write
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rAX), 0x1122334455667788u);
  EXPECT_EQ(m.reg(rCX) & (pte::A | pte::D), pte::A) << "a read sets A, not D";
  EXPECT_EQ(m.reg(rSI) & (pte::A | pte::D), pte::A | pte::D) << "a write sets D";
  EXPECT_EQ(m.peek<uint64_t>(pa + 0x208), 0xa5a5a5a5f0f0f0f0u);
  for (int level = 4; level >= 2; --level) {
    EXPECT_TRUE(m.entry(la, level) & pte::A) << "level " << level;
    EXPECT_FALSE(m.entry(la, level) & pte::D) << "D is only set in the leaf (level " << level << ")";
  }
}

// SDM 4.5, table 4-17: a PDE with PS = 1 maps a 2 MiB page.
TEST_F(SimSystem, TwoMiBPageTranslatesAndSetsAccessedThenDirty) {
  const uint64_t la = 0x40200000, pa = 0x600000;
  m.map(la, pa, pte::P | pte::RW, 2);
  m.poke<uint32_t>(pa + 0x1abcd0, 0xcafef00d);
  Asm a(L::CODE);
  a.load32(rAX, Asm::abs(la + 0x1abcd0));
  a.load64(rCX, Asm::abs(m.entry_pa(la, 2)));
  a.mov_imm32(rDX, 0x600df00d);
  a.store32(Asm::abs(la + 0x1ffffc), rDX);  // the last dword of the page
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rAX), 0xcafef00du);
  EXPECT_EQ(m.reg(rCX) & (pte::A | pte::D | pte::PS), pte::A | pte::PS);
  EXPECT_EQ(m.entry(la, 2) & (pte::A | pte::D), pte::A | pte::D);
  EXPECT_EQ(m.peek<uint32_t>(pa + 0x1ffffc), 0x600df00du);
}

// SDM 4.5, table 4-15: a PDPTE with PS = 1 maps a 1 GiB page
// (CPUID.80000001H:EDX.Page1GB is reported).
TEST_F(SimSystem, OneGiBPageTranslatesAndSetsAccessedThenDirty) {
  const uint64_t la = 0x80000000;  // PDPT entry 2 → physical 0
  m.map(la, 0, pte::P | pte::RW, 3);
  m.poke<uint64_t>(0x345678, 0x0123456789abcdef);
  Asm a(L::CODE);
  a.mov_imm64(rBX, la + 0x345678);
  a.load64(rAX, mem_op(rBX));
  a.mov_imm64(rCX, 77);
  a.store64(mem_op(rBX, 8), rCX);
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rAX), 0x0123456789abcdefu);
  EXPECT_EQ(m.peek<uint64_t>(0x345680), 77u);
  EXPECT_EQ(m.entry(la, 3) & (pte::A | pte::D | pte::PS), pte::A | pte::D | pte::PS);
}

// SDM 4.7: a not-present page faults with P = 0; W reports a write; CR2
// holds the exact linear address; the frame's RIP is the faulting
// instruction (a fault, SDM 6.5).
TEST_F(SimSystem, NotPresentPageFaultsWithErrorCodeAndCr2) {
  const uint64_t la = 0x40001234;  // nothing mapped there
  for (bool write : {false, true}) {
    SCOPED_TRACE(write ? "write" : "read");
    m.enter_long_mode();
    Asm a(L::CODE);
    a.mov_imm64(rBX, 5);
    const uint64_t insn = a.here();
    if (write)
      a.store64(Asm::abs(la), rBX);
    else
      a.load64(rAX, Asm::abs(la));
    a.hlt();
    expect_stub(run(a), PF);
    EXPECT_EQ(m.stack64(0), write ? pf::W : 0u) << "error code";
    EXPECT_EQ(m.stack64(1), insn) << "RIP";
    EXPECT_EQ(m.s().cr2, la);
  }
}

// The TLB's entries start all zero (the host maps a context only where it
// is filled), which is empty only because a zero tag, linear page 0, can be
// compared with the first and the last entries alone: by an access that
// starts in page 0, or one that wraps from the top of the address space.
// Both must walk; taking a zero entry for a hit would read the host's own
// address (la + 0) and crash l0.
TEST_F(SimSystem, AccessesInPageZeroAndWrappingFromTheTopWalk) {
  m.enter_long_mode();
  const uint64_t value = 0x1122334455667788;
  m.mem.write(0x10, &value, sizeof value);  // page 0 is identity-mapped
  Asm a(L::CODE);
  a.load64(rAX, Asm::abs(0x10));
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.s().r[rAX], value);

  // The top page is not mapped: the wrapping read faults at its first byte.
  const uint64_t top = 0xfffffffffffffffc;
  m.enter_long_mode();
  Asm b(L::CODE);
  b.mov_imm64(rBX, top);
  const uint64_t insn = b.here();
  b.load64(rAX, mem_op(rBX));
  b.hlt();
  expect_stub(run(b), PF);
  EXPECT_EQ(m.stack64(1), insn) << "RIP";
  EXPECT_EQ(m.s().cr2, top);
}

// SDM 4.6 and 4.7: with IA32_EFER.NXE = 1, fetching from an XD page is a
// protection fault with I set; reads from it are fine.
TEST_F(SimSystem, ExecuteDisableFaultsOnFetchWithInstructionFlag) {
  const uint64_t la = 0x40003000;
  m.map(la, L::SCRATCH, pte::P | pte::RW | pte::NX);
  m.load_code(L::SCRATCH, {0xf4});  // HLT, never reached
  Asm a(L::CODE);
  a.load64(rCX, Asm::abs(la));  // reading is allowed
  a.mov_imm64(rAX, la);
  a.raw({0xff, 0xe0});  // jmp rax
  expect_stub(run(a), PF);
  EXPECT_EQ(m.stack64(0), pf::P | pf::I);
  EXPECT_EQ(m.stack64(1), la) << "the fault reports the target as RIP";
  EXPECT_EQ(m.s().cr2, la);
}

// SDM 4.5 (table 4-20 note) and 4.7: with NXE = 0, bit 63 is reserved:
// any access through the entry faults with RSVD (and P) set, and I is not
// reported.
TEST_F(SimSystem, ExecuteDisableBitIsReservedWithoutNxe) {
  const uint64_t la = 0x40003000;
  m.map(la, L::SCRATCH, pte::P | pte::RW | pte::NX);
  Asm a(L::CODE);
  a.mov_imm32(rCX, arch::msr::IA32_EFER);
  a.rdmsr();
  a.raw({0x0f, 0xba, 0xf0, 11});  // btr eax, 11 (NXE)
  a.wrmsr();
  a.load64(rBX, Asm::abs(la + 8));
  a.hlt();
  expect_stub(run(a), PF);
  EXPECT_EQ(m.s().efer & arch::efer::NXE, 0u);
  EXPECT_EQ(m.stack64(0), pf::P | pf::RSVD);
  EXPECT_EQ(m.s().cr2, la + 8);
}

// SDM 4.6.1: supervisor writes to a read-only page fault when CR0.WP = 1
// and are allowed when CR0.WP = 0.
TEST_F(SimSystem, WriteProtectGovernsSupervisorWrites) {
  const uint64_t la = 0x40005000;
  m.map(la, L::SCRATCH, pte::P);  // read-only, supervisor
  {
    Asm a(L::CODE);
    a.mov_imm64(rAX, 0x77);
    const uint64_t insn = a.here();
    a.store64(Asm::abs(la + 0x10), rAX);
    a.hlt();
    ASSERT_TRUE(m.s().cr0 & arch::cr0::WP);
    expect_stub(run(a), PF);
    EXPECT_EQ(m.stack64(0), pf::P | pf::W);
    EXPECT_EQ(m.stack64(1), insn);
    EXPECT_EQ(m.s().cr2, la + 0x10);
    EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0x10), 0u);
  }
  m.enter_long_mode();
  {
    Asm a(L::CODE);
    a.mov_from_cr(rAX, 0);
    a.raw({0x48, 0x0f, 0xba, 0xf0, 16});  // btr rax, 16 (WP)
    a.mov_to_cr(0, rAX);
    a.mov_imm64(rAX, 0x77);
    a.store64(Asm::abs(la + 0x10), rAX);
    a.hlt();
    expect_halt_in_code(run(a));
    EXPECT_EQ(m.s().cr0 & arch::cr0::WP, 0u);
    EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0x10), 0x77u);
    EXPECT_TRUE(m.entry(la, 1) & pte::D);
  }
}

// SDM 4.6: at CPL 3, a page needs U/S = 1 at every level; writes need R/W.
// The error code has U set (SDM 4.7). A translation the kernel cached
// first must not let the user in (the TLB keeps permissions per mode).
TEST_F(SimSystem, UserAccessesAreCheckedAgainstUserAndWriteBits) {
  const uint64_t kernel_page = 0x40006000, user_ro_page = 0x40007000;
  m.map(kernel_page, L::SCRATCH, pte::P | pte::RW);               // supervisor only
  m.map(user_ro_page, L::SCRATCH + 0x1000, pte::P | pte::US);     // user, read-only
  m.poke<uint64_t>(L::SCRATCH + 0x1000, 0x5151);
  struct Probe {
    const char* what;
    uint64_t la;
    bool write;
    uint32_t error;
  } probes[] = {{"user read of a supervisor page", kernel_page + 0x40, false, pf::P | pf::U},
                {"user write to a supervisor page", kernel_page + 0x48, true, pf::P | pf::W | pf::U},
                {"user write to a read-only page", user_ro_page + 0x8, true, pf::P | pf::W | pf::U},
                {"user read of an unmapped page", 0x40008000, false, pf::U}};
  for (const Probe& p : probes) {
    SCOPED_TRACE(p.what);
    m.enter_long_mode();
    Asm k(L::CODE);
    k.load64(rCX, Asm::abs(kernel_page));  // the kernel touches its page first (fills the TLB)
    to_user(k, kUserCode);
    Asm u(kUserCode);
    u.load64(rDX, Asm::abs(user_ro_page));  // allowed
    const uint64_t insn = u.here();
    if (p.write)
      u.store64(Asm::abs(p.la), rDX);
    else
      u.load64(rAX, Asm::abs(p.la));
    u.hlt();
    m.load_code(u);
    expect_stub(run(k), PF);
    EXPECT_EQ(m.reg(rDX), 0x5151u);
    EXPECT_EQ(m.stack64(0), p.error);
    EXPECT_EQ(m.stack64(1), insn);
    EXPECT_EQ(m.stack64(2), sel::UCODE64);
    EXPECT_EQ(m.s().cr2, p.la);
    EXPECT_EQ(m.s().cpl, 0);
  }
}

// SDM 4.5: reserved bits (51:MAXPHYADDR in any entry, PS in a PML4E, bits
// 20:13 of a 2 MiB PDE) make the access fault with RSVD = 1 and P = 1.
// The pages sit under PML4 entry 1, away from the identity map.
TEST_F(SimSystem, ReservedBitsFaultWithRsvd) {
  const uint64_t la4k = 0x8000009000, la2m = 0x8000400000;
  struct Case {
    const char* what;
    uint64_t la;
    int level;
    uint64_t bit;
    bool write;
  } cases[] = {{"PTE bit 51", la4k, 1, 1ull << 51, false},
               {"PTE bit MAXPHYADDR, write", la4k, 1, 1ull << pte::MAXPHYADDR, true},
               {"PDPTE bit 51", la4k, 3, 1ull << 51, false},
               {"PML4E.PS", la4k, 4, pte::PS, false},
               {"2 MiB PDE bit 13", la2m, 2, 1ull << 13, true}};
  m.map(la4k, L::SCRATCH, pte::P | pte::RW);
  m.map(la2m, 0x600000, pte::P | pte::RW, 2);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    m.enter_long_mode();
    const uint64_t e = m.entry(c.la, c.level);
    m.set_entry(c.la, c.level, e | c.bit);
    Asm a(L::CODE);
    a.mov_imm64(rBX, c.la);
    if (c.write)
      a.store64(mem_op(rBX, 0x18), rAX);
    else
      a.load64(rAX, mem_op(rBX, 0x18));
    a.hlt();
    expect_stub(run(a), PF);
    EXPECT_EQ(m.stack64(0), pf::P | pf::RSVD | (c.write ? pf::W : 0));
    EXPECT_EQ(m.s().cr2, c.la + 0x18);
    m.set_entry(c.la, c.level, e);
  }
  // The same accesses succeed once the entries are clean again.
  m.enter_long_mode();
  Asm a(L::CODE);
  a.mov_imm64(rBX, la4k);
  a.load64(rAX, mem_op(rBX, 0x18));
  a.mov_imm64(rBX, la2m);
  a.store64(mem_op(rBX, 0x18), rAX);
  a.hlt();
  expect_halt_in_code(run(a));
}

// =================================================================== TLB

// SDM 4.10.4: software must invalidate after changing a PTE. Without
// INVLPG the processor may keep using the old translation (this CPU does,
// deterministically); after INVLPG it must use the new one.
TEST_F(SimSystem, PteChangeIsSeenOnlyAfterInvlpg) {
  const uint64_t la = 0x4000a000, pa1 = L::SCRATCH, pa2 = L::SCRATCH + 0x1000;
  m.map(la, pa1, pte::P | pte::RW);
  m.poke<uint64_t>(pa1, 0x1111);
  m.poke<uint64_t>(pa2, 0x2222);
  const uint64_t pte_pa = m.entry_pa(la, 1);
  Asm a(L::CODE);
  a.load64(rBX, Asm::abs(la));
  a.mov_imm64(rAX, pa2 | pte::P | pte::RW);
  a.store64(Asm::abs(pte_pa), rAX);  // repoint the PTE
  a.load64(rCX, Asm::abs(la));       // stale translation
  a.invlpg(Asm::abs(la));
  a.load64(rDX, Asm::abs(la));       // fresh walk
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rBX), 0x1111u);
  EXPECT_EQ(m.reg(rCX), 0x1111u) << "the TLB still holds the old translation";
  EXPECT_EQ(m.reg(rDX), 0x2222u) << "INVLPG drops it";
}

// SDM 4.10.4.1: MOV to CR3 invalidates all non-global translations; with
// CR4.PGE = 1 global ones (G = 1 in the leaf) survive. Changing CR4.PGE
// invalidates everything, global translations included.
TEST_F(SimSystem, Cr3WriteKeepsGlobalTranslationsOnlyWithPge) {
  const uint64_t global_la = 0x4000b000, local_la = 0x4000c000;
  const uint64_t old_g = L::SCRATCH, new_g = L::SCRATCH + 0x1000, old_l = L::SCRATCH + 0x2000,
                 new_l = L::SCRATCH + 0x3000;
  m.map(global_la, old_g, pte::P | pte::RW | pte::G);
  m.map(local_la, old_l, pte::P | pte::RW);
  m.poke<uint64_t>(old_g, 1);
  m.poke<uint64_t>(new_g, 2);
  m.poke<uint64_t>(old_l, 3);
  m.poke<uint64_t>(new_l, 4);
  Asm a(L::CODE);
  a.mov_from_cr(rAX, 4);
  a.raw({0x48, 0x0f, 0xba, 0xe8, 7});  // bts rax, 7 (PGE)
  a.mov_to_cr(4, rAX);
  a.load64(r8, Asm::abs(global_la));  // cache both
  a.load64(r9, Asm::abs(local_la));
  a.mov_imm64(rAX, new_g | pte::P | pte::RW | pte::G);
  a.store64(Asm::abs(m.entry_pa(global_la, 1)), rAX);
  a.mov_imm64(rAX, new_l | pte::P | pte::RW);
  a.store64(Asm::abs(m.entry_pa(local_la, 1)), rAX);
  a.mov_from_cr(rAX, 3);
  a.mov_to_cr(3, rAX);  // flush non-global
  a.load64(r10, Asm::abs(global_la));
  a.load64(r11, Asm::abs(local_la));
  a.mov_from_cr(rAX, 4);
  a.raw({0x48, 0x0f, 0xba, 0xf0, 7});  // btr rax, 7: toggling PGE flushes all
  a.mov_to_cr(4, rAX);
  a.load64(r12, Asm::abs(global_la));
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(r8), 1u);
  EXPECT_EQ(m.reg(r9), 3u);
  EXPECT_EQ(m.reg(r10), 1u) << "a global translation survives MOV to CR3";
  EXPECT_EQ(m.reg(r11), 4u) << "a non-global one does not";
  EXPECT_EQ(m.reg(r12), 2u) << "clearing CR4.PGE flushes global translations";
}

// ================================================================ IDT (64-bit)

// SDM 6.14.2, figure 6-9: the processor aligns RSP to 16 bytes, then
// pushes SS, RSP, RFLAGS, CS, RIP (and the error code if any), also
// without a privilege change. #UD has no error code, #GP has one.
TEST_F(SimSystem, LongModeFrameLayoutAndAlignment) {
  const uint64_t flags_in = fl::FIXED1 | fl::CF | fl::ZF | fl::OF;
  {
    m.s().r[rSP] = 0x8fff8;  // 8 mod 16
    m.s().rflags = flags_in;
    Asm a(L::CODE);
    a.ud2();
    expect_stub(run(a), UD);
    EXPECT_EQ(m.reg(rSP), 0x8fff0u - 40);
    EXPECT_EQ(m.stack64(0), L::CODE) << "RIP";
    EXPECT_EQ(m.stack64(1), sel::KCODE) << "CS";
    EXPECT_EQ(m.stack64(2), flags_in | fl::RF) << "RFLAGS, with RF as a fault pushes it (SDM 18.3.1.1)";
    EXPECT_EQ(m.stack64(3), 0x8fff8u) << "RSP";
    EXPECT_EQ(m.stack64(4), sel::KDATA) << "SS";
  }
  m.enter_long_mode();
  {
    m.s().r[rSP] = 0x8fff0;
    Asm a(L::CODE);
    a.mov_imm64(rBX, 0x0000800000000000ull);  // the first non-canonical address
    const uint64_t insn = a.here();
    a.load64(rAX, mem_op(rBX));
    a.hlt();
    expect_stub(run(a), GP);
    EXPECT_EQ(m.reg(rSP), 0x8fff0u - 48);
    EXPECT_EQ(m.stack64(0), 0u) << "error code";
    EXPECT_EQ(m.stack64(1), insn) << "RIP";
    EXPECT_EQ(m.stack64(2), sel::KCODE);
    EXPECT_EQ(m.stack64(4), 0x8fff0u);
    EXPECT_EQ(m.stack64(5), sel::KDATA);
  }
}

// SDM 6.12.1.3: an interrupt gate clears IF, a trap gate leaves it. INT n
// is a trap: the saved RIP is the next instruction (SDM 6.5).
TEST_F(SimSystem, InterruptGateClearsIfTrapGateKeepsIt) {
  for (GateType type : {GateType::Interrupt, GateType::Trap}) {
    SCOPED_TRACE(type == GateType::Interrupt ? "interrupt gate" : "trap gate");
    m.enter_long_mode();
    m.set_gate64(0x40, SimMachine::stub(0x40), type);
    Asm a(L::CODE);
    a.sti().nop();
    a.int_n(0x40);
    const uint64_t next = a.here();
    a.hlt();
    expect_stub(run(a), 0x40);
    EXPECT_EQ(m.stack64(0), next);
    EXPECT_TRUE(m.stack64(2) & fl::IF) << "the saved RFLAGS has IF = 1";
    EXPECT_EQ(bool(m.s().rflags & fl::IF), type == GateType::Trap);
  }
}

// SDM 6.14.5: a gate with a nonzero IST field always switches to that
// stack from the TSS, even without a privilege change.
TEST_F(SimSystem, IstGateSwitchesStack) {
  m.set_gate64(0x42, SimMachine::stub(0x42), GateType::Interrupt, 0, 1);
  Asm a(L::CODE);
  a.int_n(0x42);
  a.hlt();
  expect_stub(run(a), 0x42);
  EXPECT_EQ(m.reg(rSP), L::IST1_TOP - 40);
  EXPECT_EQ(m.stack64(3), L::STACK_TOP) << "the interrupted RSP";
}

// IRETQ (SDM vol. 2, IRET) pops RIP, CS, RFLAGS, RSP and SS: the handler
// returns to the interrupted code with its flags and stack restored.
TEST_F(SimSystem, IretqReturnsToTheInterruptedCode) {
  Asm h(L::HANDLERS);
  h.inc(r12);
  h.raw({0xf8});  // clc: changes the handler's flags only
  h.iretq();
  m.load_code(h);
  m.set_gate64(BP, L::HANDLERS, GateType::Interrupt, 3);
  Asm a(L::CODE);
  a.raw({0xf9});  // stc
  a.int3();
  a.int3();
  a.mov_imm64(r13, 7);
  a.raw({0x0f, 0x92, 0xc0});  // setb al: CF survived the handler
  a.hlt();
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(r12), 2u);
  EXPECT_EQ(m.reg(r13), 7u);
  EXPECT_EQ(m.reg(rAX) & 0xff, 1u);
  EXPECT_EQ(m.reg(rSP), L::STACK_TOP);
}

// A privilege change (SDM 6.14.4): from CPL 3, the handler runs on
// TSS.RSP0 with SS = NULL; the frame holds the user SS:RSP, and IRETQ
// takes the CPU back to CPL 3.
TEST_F(SimSystem, PrivilegeChangeUsesRsp0AndIretqReturnsToUser) {
  Asm h(L::HANDLERS);
  h.inc(r12);
  h.iretq();
  m.load_code(h);
  m.set_gate64(0x80, L::HANDLERS, GateType::Interrupt, 3);
  m.set_gate64(0x81, SimMachine::stub(0x81), GateType::Interrupt, 3);
  Asm a(L::CODE);
  to_user(a, kUserCode, fl::FIXED1 | fl::CF);
  Asm u(kUserCode);
  u.int_n(0x80);  // round trip through the kernel
  u.mov_rr(r13, rSP);
  u.int_n(0x81);  // stays in the stub
  const uint64_t next = u.here();
  u.hlt();
  m.load_code(u);
  expect_stub(run(a), 0x81);
  EXPECT_EQ(m.reg(r12), 1u);
  EXPECT_EQ(m.reg(r13), L::USER_STACK_TOP) << "IRETQ restored the user stack";
  EXPECT_EQ(m.s().cpl, 0);
  EXPECT_EQ(m.reg(rSP), L::RSP0_TOP - 40);
  EXPECT_EQ(m.s().seg[arch::seg::SS].selector, 0) << "SS is NULL with RPL = new CPL";
  EXPECT_EQ(m.stack64(0), next);
  EXPECT_EQ(m.stack64(1), sel::UCODE64);
  EXPECT_TRUE(m.stack64(2) & fl::CF);
  EXPECT_EQ(m.stack64(3), L::USER_STACK_TOP);
  EXPECT_EQ(m.stack64(4), sel::UDATA);
}

// SDM IRET: the return SS is checked before anything is committed; an SS
// selector whose RPL differs from the new CPL is #GP(selector), raised at
// the IRETQ with the CPU still at CPL 0 on its kernel stack.
TEST_F(SimSystem, IretqWithBadStackSegmentFaultsBeforeCommitting) {
  Asm a(L::CODE);
  a.push_imm32(sel::KDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(fl::FIXED1);
  a.push_imm32(sel::UCODE64).push_imm32(int32_t(kUserCode));
  const uint64_t insn = a.here();
  a.iretq();
  m.load_code(kUserCode, {0xf4});
  expect_stub(run(a), GP);
  EXPECT_EQ(m.stack64(0), sel::KDATA) << "error code: the SS selector";
  EXPECT_EQ(m.stack64(1), insn);
  EXPECT_EQ(m.stack64(2), sel::KCODE) << "the fault happened at CPL 0";
  EXPECT_EQ(m.stack64(4), L::STACK_TOP - 40) << "RSP as it was at the IRETQ";
  EXPECT_EQ(m.s().cpl, 0);
  EXPECT_EQ(m.reg(rSP), ((L::STACK_TOP - 40) & ~15ull) - 48) << "no stack switch: delivered from CPL 0";
}

// SDM 6.12.1.1: INT n checks the gate's DPL against CPL; a violation is
// #GP with an error code naming the IDT entry (vector * 8 + 2, SDM 6.13).
TEST_F(SimSystem, IntNFromUserNeedsGateDpl3) {
  Asm a(L::CODE);
  to_user(a, kUserCode);
  Asm u(kUserCode);
  const uint64_t insn = u.here();
  u.int_n(0x40);  // gate DPL 0 (the default)
  u.hlt();
  m.load_code(u);
  expect_stub(run(a), GP);
  EXPECT_EQ(m.stack64(0), 0x40u * 8 + 2);
  EXPECT_EQ(m.stack64(1), insn) << "the fault reports the INT instruction";
}

// SDM vol. 2: HLT, MOV to CR3, CLI (with IOPL 0), WRMSR at CPL 3 raise #GP(0).
TEST_F(SimSystem, PrivilegedInstructionsAtCpl3RaiseGp) {
  const std::vector<uint8_t> insns[] = {{0xf4}, {0x0f, 0x22, 0xd8}, {0xfa}, {0x0f, 0x30}, {0x0f, 0x01, 0x38}};
  for (const auto& bytes : insns) {
    SCOPED_TRACE(int(bytes[0]) * 256 + int(bytes.size() > 1 ? bytes[1] : 0));
    m.enter_long_mode();
    Asm a(L::CODE);
    to_user(a, kUserCode);
    Asm u(kUserCode);
    u.mov_imm32(rAX, 0x1000);
    u.bytes.insert(u.bytes.end(), bytes.begin(), bytes.end());
    u.hlt();
    m.load_code(u);
    expect_stub(run(a), GP);
    EXPECT_EQ(m.stack64(0), 0u);
    EXPECT_EQ(m.stack64(1), kUserCode + 5);
    EXPECT_EQ(m.stack64(2), sel::UCODE64);
  }
}

// SDM DIV: a zero divisor raises #DE, a fault: RIP points at the DIV.
TEST_F(SimSystem, DivideByZeroRaisesDe) {
  Asm a(L::CODE);
  a.raw({0x31, 0xc9});  // xor ecx, ecx
  const uint64_t insn = a.here();
  a.raw({0xf7, 0xf1});  // div ecx
  a.hlt();
  m.s().r[rAX] = 1234;
  expect_stub(run(a), DE);
  EXPECT_EQ(m.stack64(0), insn);
  EXPECT_EQ(m.reg(rAX), 1234u) << "no side effect";
  // The quotient overflowing the destination is #DE too.
  m.enter_long_mode();
  Asm b(L::CODE);
  b.mov_imm32(rCX, 2);
  const uint64_t insn2 = b.here();
  b.raw({0xf7, 0xf1});  // div ecx with EDX = 2: quotient >= 2^32
  b.hlt();
  m.s().r[rDX] = 2;
  expect_stub(run(b), DE);
  EXPECT_EQ(m.stack64(0), insn2);
}

// An instruction the CPU does not implement raises #UD in the guest and
// reports itself on stderr (l0/sim/README.md); UD2 is #UD by definition.
TEST_F(SimSystem, UnimplementedInstructionRaisesUdAndIsReported) {
  Asm a(L::CODE);
  a.raw({0x0f, 0x01, 0xc8});  // monitor (CPUID.01H:ECX.MONITOR is not reported: not implemented)
  a.hlt();
  ::testing::internal::CaptureStderr();
  const CpuStop stop = run(a);
  const std::string err = ::testing::internal::GetCapturedStderr();
  expect_stub(stop, UD);
  EXPECT_EQ(m.stack64(0), L::CODE);
  EXPECT_NE(err.find("unimplemented instruction"), std::string::npos) << err;
  EXPECT_NE(err.find("monitor"), std::string::npos) << err;
  EXPECT_NE(err.find("0x100000"), std::string::npos) << err;
}

// SDM 6.15, table 6-5: a contributory exception (#GP) while delivering a
// contributory exception becomes #DF (error code 0). Here the IDT ends
// before vector 13, so delivering the first #GP raises #GP(13*8+2).
TEST_F(SimSystem, FaultWhileDeliveringGpIsDoubleFault) {
  m.s().idtr.limit = 9 * 16 - 1;  // vectors 0..8
  Asm a(L::CODE);
  a.mov_imm64(rBX, 0x8000000000000000ull);
  const uint64_t insn = a.here();
  a.load64(rAX, mem_op(rBX));  // #GP(0): non-canonical
  a.hlt();
  expect_stub(run(a), DF);
  EXPECT_EQ(m.stack64(0), 0u) << "#DF pushes 0";
  EXPECT_EQ(m.stack64(1), insn);
  // A not-present gate gives #NP, also contributory: #DF as well.
  m.enter_long_mode();
  m.set_gate64(GP, SimMachine::stub(GP), GateType::Interrupt, 0, 0, false);
  expect_stub(run(a), DF);
  // #PF then #GP is a double fault too (table 6-5, page-fault row).
  m.enter_long_mode();
  m.set_gate64(PF, SimMachine::stub(PF), GateType::Interrupt, 0, 0, false);
  Asm b(L::CODE);
  b.load64(rAX, Asm::abs(0x40000000));  // unmapped
  b.hlt();
  expect_stub(run(b), DF);
  // A benign exception (#UD) whose delivery faults is not: the second fault is delivered.
  m.enter_long_mode();
  m.set_gate64(UD, SimMachine::stub(UD), GateType::Interrupt, 0, 0, false);
  Asm c(L::CODE);
  c.ud2();
  expect_stub(run(c), NP);
  EXPECT_EQ(m.stack64(0), UD * 8u + 2) << "#NP names the IDT entry";
}

// SDM 6.15 (interrupt 8): a fault while delivering #DF shuts the processor
// down — a triple fault. With an empty IDT, #UD → #GP → #DF → shutdown.
TEST_F(SimSystem, NoUsableIdtIsTripleFault) {
  m.s().idtr.limit = 0;
  Asm a(L::CODE);
  a.ud2();
  const CpuStop stop = run(a);
  EXPECT_EQ(stop, CpuStop::TripleFault);
  EXPECT_NE(m.cpu.stop_message().find("triple fault"), std::string::npos) << m.cpu.stop_message();
}

// SDM STI: "the processor responds to [maskable interrupts] after the
// next instruction is executed". A pending interrupt is taken after the
// instruction that follows STI, not before it.
TEST_F(SimSystem, StiShadowDelaysAPendingInterruptByOneInstruction) {
  m.dev.apic.mmio_write(arch::apic::SVR, 4, arch::apic::SVR_ENABLE | 0xff);
  m.dev.apic.raise(0x50);
  Asm a(L::CODE);
  a.nop();
  a.sti();
  a.mov_imm32(rBX, 1);
  const uint64_t after = a.here();
  a.mov_imm32(rCX, 2);
  a.hlt();
  m.s().r[rBX] = 0;
  m.s().r[rCX] = 0;
  expect_stub(run(a), 0x50);
  EXPECT_EQ(m.reg(rBX), 1u) << "the instruction after STI ran";
  EXPECT_EQ(m.reg(rCX), 0u) << "the one after it did not";
  EXPECT_EQ(m.stack64(0), after);
  EXPECT_EQ(m.cpu.counters().interrupts, 1u);
}

// =================================================================== APIC timer

// Programs the xAPIC timer (SDM 11.5.4) from the guest: SVR enable, LVT
// timer vector 0x40 in `mode`, divide by 1, initial count.
void emit_timer_setup(Asm& a, uint32_t lvt_mode, uint32_t count) {
  namespace apic = arch::apic;
  a.mov_imm64(rBX, kApic);
  a.store_imm32(mem_op(rBX, apic::SVR), apic::SVR_ENABLE | 0xff);
  a.store_imm32(mem_op(rBX, apic::LVT_TIMER), 0x40 | lvt_mode);
  a.store_imm32(mem_op(rBX, apic::TIMER_DIVIDE_CONFIG), 0xb);  // divide by 1
  a.store_imm32(mem_op(rBX, apic::TIMER_INITIAL_COUNT), count);
}
// Handler for vector 0x40: count in R12, EOI, IRETQ.
void load_timer_handler(SimMachine& m) {
  Asm h(L::HANDLERS);
  h.inc(r12);
  h.mov_imm64(rDX, kApic);
  h.store_imm32(mem_op(rDX, arch::apic::EOI), 0);
  h.iretq();
  m.load_code(h);
  m.set_gate64(0x40, L::HANDLERS);
}

// HLT with IF = 1 sleeps until the one-shot timer fires; the handler runs
// once and returns after the HLT.
TEST_F(SimSystem, OneShotTimerWakesHlt) {
  load_timer_handler(m);
  Asm a(L::CODE);
  emit_timer_setup(a, arch::apic::LVT_TIMER_ONESHOT, 1000);
  a.sti().hlt();
  a.cli().hlt();
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(r12), 1u);
  EXPECT_EQ(m.cpu.counters().interrupts, 1u);
  EXPECT_EQ(m.dev.apic.timer_interrupts, 1u);
  EXPECT_GE(m.cpu.cycles(), 1000u) << "the interrupt came after the count ran out";
}

// A periodic timer keeps interrupting: five HLTs, five interrupts.
TEST_F(SimSystem, PeriodicTimerDeliversRepeatedly) {
  load_timer_handler(m);
  Asm a(L::CODE);
  emit_timer_setup(a, arch::apic::LVT_TIMER_PERIODIC, 20000);
  a.sti();
  const uint64_t loop = a.here();
  a.hlt();
  a.cmp_imm8(r12, 5);
  a.jcc(0x2, loop);  // jb loop
  a.cli().hlt();
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(r12), 5u);
  EXPECT_EQ(m.cpu.counters().interrupts, 5u);
  EXPECT_GE(m.cpu.cycles(), 5u * 20000);
}

// HLT with IF = 0 ends the run even with the timer armed: nothing can wake it.
TEST_F(SimSystem, HltWithInterruptsDisabledHalts) {
  load_timer_handler(m);
  Asm a(L::CODE);
  emit_timer_setup(a, arch::apic::LVT_TIMER_ONESHOT, 100);
  a.hlt();
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.rip(), a.here());
  EXPECT_EQ(m.reg(r12), 0u);
  EXPECT_EQ(m.cpu.counters().interrupts, 0u);
  EXPECT_NE(m.cpu.stop_message().find("interrupts disabled"), std::string::npos) << m.cpu.stop_message();
}

// ======================================================= self-modifying code

// SDM 11.6: a write to the code being executed takes effect. Here an
// instruction's immediate is rewritten after it ran once (the next run of
// it must see the new bytes), and an instruction later in the same block
// is rewritten before it runs.
TEST_F(SimSystem, SelfModifyingCodeTakesEffect) {
  Asm a(L::CODE);
  const uint64_t target = a.here();
  a.mov_imm32(rAX, 0x11111111);  // B8 imm32: the immediate is at target + 1
  a.inc(r12);
  a.cmp_imm8(r12, 2);
  const size_t done = a.jcc_forward(0x3);  // jae done
  a.mov_rr(rBX, rAX);
  a.store_imm32(Asm::abs(target + 1), 0x22222222);
  a.jmp(target);
  a.bind(done);
  // Same block: patch the next instruction's immediate, then run it.
  a.store_imm32(Asm::abs(a.here() + 11 + 1), 0x33333333);  // C7 04 25 disp32 imm32 is 11 bytes
  a.mov_imm32(rCX, 0x44444444);
  a.hlt();
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rBX), 0x11111111u) << "the first pass ran the original bytes";
  EXPECT_EQ(m.reg(rAX), 0x22222222u) << "the second pass ran the rewritten bytes";
  EXPECT_EQ(m.reg(rCX), 0x33333333u) << "a store into the same block takes effect at once";
  EXPECT_GE(m.cpu.counters().code_invalidations, 2u);
}

// Issue 10 item 5: code is tracked by byte range, not by page. Stores to
// data on the code's page (one in the code's own 64-byte chunk, one in
// another chunk) keep the decoded blocks; the loop is decoded once.
TEST_F(SimSystem, DataNextToCodeKeepsDecodedBlocks) {
  const uint64_t near_data = L::CODE + 0x20, far_data = L::CODE + 0x100;
  Asm a(L::CODE);
  const uint64_t loop = a.here();
  a.inc_mem(Asm::abs(near_data));
  a.inc_mem(Asm::abs(far_data));
  a.inc(r12);
  a.cmp_imm8(r12, 100);
  a.jcc(0x2, loop);  // jb
  a.hlt();
  ASSERT_LE(a.here(), near_data) << "the near datum must follow the code";
  m.s().r[r12] = 0;
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.peek<uint64_t>(near_data), 100u);
  EXPECT_EQ(m.peek<uint64_t>(far_data), 100u);
  EXPECT_EQ(m.cpu.counters().code_invalidations, 0u);
  EXPECT_LE(m.cpu.counters().blocks_decoded, 3u);
}

// A store that leaves the bytes of decoded code as they are changes no
// instruction: running through zero-filled memory, `add [rax], al` with
// AL = 0 rewrites code bytes with their own value and keeps every block.
TEST_F(SimSystem, StoreOfSameBytesIntoCodeKeepsBlocks) {
  Asm a(L::CODE);
  m.s().r[rAX] = L::CODE;  // 00 00: add [rax], al, into the code itself
  EXPECT_EQ(run(a, 2000), CpuStop::InstructionLimit) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), L::CODE + 2 * 2000);
  EXPECT_EQ(m.cpu.counters().code_invalidations, 0u);
  EXPECT_LE(m.cpu.counters().blocks_decoded, 2000u / 64 + 2);
}

// A compare and the block's final Jcc run as one fused handler (issue 10),
// yet remain two instructions: an instruction limit between them stops
// after the compare, with RIP at the Jcc, and every count stays exact.
TEST_F(SimSystem, FusedCompareAndBranchCountAsTwoInstructions) {
  Asm a(L::CODE);
  const uint64_t loop = a.here();
  a.add_imm8(r12, 1);
  const uint64_t compare = a.here();
  a.cmp_imm8(r12, 100);
  const uint64_t branch = a.here();
  a.jcc(0x2, loop);  // jb
  a.hlt();
  m.s().r[r12] = 0;
  EXPECT_EQ(run(a, 151), CpuStop::InstructionLimit);  // 50 iterations, then the add
  EXPECT_EQ(m.cpu.counters().instructions, 151u);
  EXPECT_EQ(m.reg(r12), 51u);
  EXPECT_EQ(m.rip(), compare);
  EXPECT_EQ(m.cpu.run(152), CpuStop::InstructionLimit);  // then the compare alone
  EXPECT_EQ(m.rip(), branch);
  const uint64_t simple = m.costs[sim::CostClass::simple], branch_cost = m.costs[sim::CostClass::branch];
  EXPECT_EQ(m.cpu.cycles(), 50 * (2 * simple + branch_cost) + 2 * simple) << "each instruction's modeled cost";
  EXPECT_EQ(m.cpu.run(0), CpuStop::Halted);
  EXPECT_EQ(m.reg(r12), 100u);
  EXPECT_EQ(m.cpu.counters().instructions, 300u + 1u) << "100 iterations of three, then HLT";
}

// ======================================================= protected mode

// SDM 6.12.1, figure 6-4: 32-bit gates push EFLAGS, CS, EIP (and the
// error code) on the same stack at the same privilege level; IRETD
// returns. Here a #UD handler skips the UD2 and returns.
TEST_F(SimSystem, ProtectedModeDeliveryAndIret) {
  m.setup_protected_mode();
  m.s().rflags = fl::FIXED1 | fl::CF;
  Asm h(L::HANDLERS);
  h.raw({0x83, 0x04, 0x24, 0x02});  // add dword [esp], 2
  h.raw({0x89, 0xe5});              // mov ebp, esp: the frame, for the test
  h.iretd();
  m.load_code(h);
  m.set_gate32(UD, uint32_t(L::HANDLERS));
  Asm a(L::CODE);
  a.ud2();
  a.mov_imm32(rBX, 0x1234);
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rBX), 0x1234u) << "IRETD resumed after the UD2";
  EXPECT_EQ(m.reg(rSP), L::STACK_TOP);
  EXPECT_EQ(m.reg(rBP), L::STACK_TOP - 12) << "EIP, CS, EFLAGS: three dwords";
  EXPECT_EQ(m.peek<uint32_t>(L::STACK_TOP - 12), L::CODE + 2);
  EXPECT_EQ(m.peek<uint32_t>(L::STACK_TOP - 8), sel::KCODE);
  // A fault pushes RF = 1 (SDM 18.3.1.1); IRETD loads it, and it is
  // cleared once the next instruction completes.
  EXPECT_EQ(m.peek<uint32_t>(L::STACK_TOP - 4), fl::FIXED1 | fl::CF | fl::RF);
  EXPECT_TRUE(m.s().rflags & fl::CF);
  EXPECT_FALSE(m.s().rflags & fl::RF);
}

// A 32-bit exception with an error code: loading DS with a selector past
// the GDT limit is #GP(selector) (SDM MOV), frame: error, EIP, CS, EFLAGS.
TEST_F(SimSystem, ProtectedModeErrorCodeFrame) {
  m.setup_protected_mode();
  Asm a(L::CODE);
  a.mov_imm32(rAX, 0x1000);
  const uint64_t insn = a.here();
  a.raw({0x8e, 0xd8});  // mov ds, eax
  a.hlt();
  expect_stub(run(a), GP);
  EXPECT_EQ(m.reg(rSP), L::STACK_TOP - 16);
  EXPECT_EQ(m.stack32(0), 0x1000u);
  EXPECT_EQ(m.stack32(1), insn);
  EXPECT_EQ(m.stack32(2), sel::KCODE);
}

// From CPL 3 in protected mode the handler gets SS0:ESP0 from the TSS and
// the frame has the user SS and ESP (SDM 6.12.1, figure 6-4); IRETD goes
// back to CPL 3.
TEST_F(SimSystem, ProtectedModePrivilegeChange) {
  m.setup_protected_mode();
  m.set_gate32(0x80, uint32_t(SimMachine::stub(0x80)), GateType::Interrupt, 3);
  Asm a(L::CODE);
  // iretd to CPL 3: EIP, CS, EFLAGS, ESP, SS.
  a.push_imm32(sel::UDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(fl::FIXED1);
  a.push_imm32(sel::UCODE32).push_imm32(int32_t(kUserCode)).iretd();
  Asm u(kUserCode);
  u.raw({0x8c, 0xd1});  // mov ecx, ss
  u.raw({0x8c, 0xda});  // mov edx, ds
  u.int_n(0x80);
  u.hlt();
  m.load_code(u);
  m.s().r[rDX] = 0xffff;
  expect_stub(run(a), 0x80);
  EXPECT_EQ(m.reg(rCX) & 0xffff, sel::UDATA);
  // SDM IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: DS, ES, FS, GS holding
  // segments more privileged than the new CPL become null.
  EXPECT_EQ(m.reg(rDX) & 0xffff, 0u) << "DS (DPL 0) is nulled on the return to CPL 3";
  EXPECT_EQ(m.s().cpl, 0);
  EXPECT_EQ(m.s().seg[arch::seg::SS].selector, sel::KDATA) << "SS0 from the TSS";
  EXPECT_EQ(m.reg(rSP), L::RSP0_TOP - 20);
  EXPECT_EQ(m.stack32(0), kUserCode + 6);
  EXPECT_EQ(m.stack32(1), sel::UCODE32);
  EXPECT_EQ(m.stack32(3), L::USER_STACK_TOP);
  EXPECT_EQ(m.stack32(4), sel::UDATA);
}

// ============================================================ more system

// SDM 19.5.1: IN/OUT at CPL > IOPL need the TSS I/O bitmap; this TSS has
// none (I/O map base beyond the limit), so OUT at CPL 3 is #GP(0). At CPL 0
// the isa-debug-exit port (DESIGN.md §3) ends the run with the code.
TEST_F(SimSystem, PortIoChecksIoplAndDebugExitStopsTheRun) {
  {
    Asm a(L::CODE);
    to_user(a, kUserCode);
    Asm u(kUserCode);
    u.raw({0xe6, 0xf4});  // out 0xf4, al
    u.hlt();
    m.load_code(u);
    expect_stub(run(a), GP);
    EXPECT_EQ(m.stack64(0), 0u);
    EXPECT_EQ(m.stack64(1), kUserCode);
    EXPECT_FALSE(m.dev.debug_exit.code.has_value());
  }
  m.enter_long_mode();
  {
    Asm a(L::CODE);
    a.mov_imm32(rAX, 0x2a);
    a.raw({0xe7, 0xf4});  // out 0xf4, eax
    a.hlt();
    EXPECT_EQ(run(a), CpuStop::DebugExit);
    ASSERT_TRUE(m.dev.debug_exit.code.has_value());
    EXPECT_EQ(*m.dev.debug_exit.code, 0x2au);
    EXPECT_EQ(m.rip(), L::CODE + 7) << "the OUT completed";
  }
}

// SYSCALL/SYSRET (SDM vol. 2): CS/SS from IA32_STAR, RIP from IA32_LSTAR,
// RCX = return RIP, R11 = RFLAGS, RFLAGS &= ~IA32_FMASK; SYSRETQ returns
// to CPL 3 with CS = STAR[63:48] + 16, SS = STAR[63:48] + 8 (RPL 3).
TEST_F(SimSystem, SyscallAndSysretRoundTrip) {
  namespace msr = arch::msr;
  Asm k(L::HANDLERS);  // the system-call entry
  k.mov_rr(r13, rCX);
  k.mov_rr(r14, r11);
  k.raw({0x9c, 0x41, 0x5f});  // pushfq; pop r15: RFLAGS in the kernel
  k.raw({0x48, 0x0f, 0x07});  // sysretq
  m.load_code(k);
  Asm a(L::CODE);
  a.mov_imm32(rCX, msr::IA32_STAR);
  a.mov_imm32(rAX, 0);
  a.mov_imm32(rDX, (0x18u << 16) | sel::KCODE);  // STAR[63:48] = 0x18 (user base), [47:32] = 0x08
  a.wrmsr();
  a.mov_imm32(rCX, msr::IA32_LSTAR);
  a.mov_imm32(rAX, uint32_t(L::HANDLERS));
  a.mov_imm32(rDX, 0);
  a.wrmsr();
  a.mov_imm32(rCX, msr::IA32_FMASK);
  a.mov_imm32(rAX, uint32_t(fl::IF | fl::DF | fl::CF));
  a.wrmsr();
  to_user(a, kUserCode, fl::FIXED1 | fl::IF | fl::CF | fl::ZF);
  Asm u(kUserCode);
  const uint64_t after = kUserCode + 2;
  u.raw({0x0f, 0x05});  // syscall
  u.raw({0x8c, 0xc8});  // mov eax, cs
  u.raw({0x8c, 0xd2});  // mov edx, ss
  u.int_n(0x81);        // stop in the stub (gate DPL 3)
  m.load_code(u);
  m.set_gate64(0x81, SimMachine::stub(0x81), GateType::Interrupt, 3);
  expect_stub(run(a), 0x81);
  EXPECT_EQ(m.reg(r13), after) << "RCX = the return RIP";
  EXPECT_EQ(m.reg(r14) & (fl::IF | fl::CF | fl::ZF), fl::IF | fl::CF | fl::ZF) << "R11 = RFLAGS at SYSCALL";
  EXPECT_EQ(m.reg(r15) & (fl::IF | fl::CF | fl::ZF), fl::ZF) << "FMASK cleared IF and CF in the kernel";
  EXPECT_EQ(m.reg(rAX) & 0xffff, sel::UCODE64);
  EXPECT_EQ(m.reg(rDX) & 0xffff, sel::UDATA);
  EXPECT_TRUE(m.stack64(2) & fl::IF) << "SYSRET restored RFLAGS from R11";
}

// LOCK is only allowed on read-modify-write instructions with a memory
// destination; elsewhere it is #UD (SDM vol. 2, LOCK).
TEST_F(SimSystem, LockPrefixOnARegisterDestinationIsUd) {
  Asm a(L::CODE);
  a.raw({0xf0, 0x48, 0x01, 0xd8});  // lock add rax, rbx
  a.hlt();
  expect_stub(run(a), UD);
  EXPECT_EQ(m.stack64(0), L::CODE);
  m.enter_long_mode();
  Asm b(L::CODE);
  b.mov_imm64(rBX, L::DATA);
  b.raw({0xf0, 0x48, 0xff, 0x03});  // lock inc qword [rbx]
  b.hlt();
  m.poke<uint64_t>(L::DATA, 41);
  expect_halt_in_code(run(b));
  EXPECT_EQ(m.peek<uint64_t>(L::DATA), 42u);
}

// run(limit) stops after exactly `limit` instructions, block boundaries
// notwithstanding, and a later run continues where it stopped.
TEST_F(SimSystem, InstructionLimitIsExact) {
  Asm a(L::CODE);
  const uint64_t loop = a.here();
  a.inc(rAX);
  a.jmp(loop);
  m.s().r[rAX] = 0;
  m.load_code(a);
  const uint64_t before = m.cpu.counters().instructions;
  EXPECT_EQ(m.run(1001), CpuStop::InstructionLimit);
  EXPECT_EQ(m.cpu.counters().instructions - before, 1001u);
  EXPECT_EQ(m.reg(rAX), 501u);
  EXPECT_EQ(m.rip(), loop + 3) << "stopped after an INC, at the JMP";
  EXPECT_EQ(m.run(10), CpuStop::InstructionLimit);
  EXPECT_EQ(m.reg(rAX), 506u);
}

// Protected mode (SDM 5.3): an access past a data segment's limit is
// #GP(0); through SS it is #SS(0).
TEST_F(SimSystem, ProtectedModeSegmentLimitIsChecked) {
  m.setup_protected_mode();
  namespace ar = arch::seg::ar;
  // GDT entry 5 (0x28): a 4 KiB byte-granular data segment at 0x200000.
  m.poke<uint64_t>(L::GDT + 0x28, segment_descriptor(uint32_t(L::DATA), 0xfff, ar::P | ar::S | ar::DB | 0x3));
  Asm a(L::CODE);
  a.mov_imm32(rAX, 0x28);
  a.raw({0x8e, 0xd8});                    // mov ds, eax
  a.raw({0x8b, 0x0d, 0xfc, 0x0f, 0, 0});  // mov ecx, [0xffc]: the last dword, fine
  const uint64_t insn = a.here();
  a.raw({0x8b, 0x0d, 0xfd, 0x0f, 0, 0});  // mov ecx, [0xffd]: crosses the limit
  a.hlt();
  m.poke<uint32_t>(L::DATA + 0xffc, 0xdeadbeef);
  expect_stub(run(a), GP);
  EXPECT_EQ(m.reg(rCX), 0xdeadbeefu) << "the in-limit read went to base + offset";
  EXPECT_EQ(m.stack32(0), 0u);
  EXPECT_EQ(m.stack32(1), insn);
  // Through SS (an EBP-based address): #SS(0), delivered on that stack.
  m.setup_protected_mode();
  m.poke<uint64_t>(L::GDT + 0x28, segment_descriptor(uint32_t(L::DATA), 0xfff, ar::P | ar::S | ar::DB | 0x3));
  Asm b(L::CODE);
  b.mov_imm32(rAX, 0x28);
  b.raw({0x8e, 0xd0});  // mov ss, eax
  b.mov_imm32(rSP, 0x800);
  b.mov_imm32(rBP, 0);
  const uint64_t insn2 = b.here();
  b.raw({0x8b, 0x85, 0x00, 0x10, 0, 0});  // mov eax, [ebp + 0x1000]: SS-relative, past the limit
  b.hlt();
  expect_stub(run(b), uint8_t(arch::Vector::SS));
  EXPECT_EQ(m.reg(rSP), 0x800u - 16) << "error code, EIP, CS, EFLAGS on the SS stack";
  EXPECT_EQ(m.peek<uint32_t>(L::DATA + 0x800 - 16), 0u);
  EXPECT_EQ(m.peek<uint32_t>(L::DATA + 0x800 - 12), insn2);
}

// An instruction whose bytes straddle two pages decodes from both (SDM
// 4.6: each byte fetched is translated); when the second page is not
// present the fetch faults with CR2 = that page's first byte, I = 1, and
// RIP = the instruction's start. A store into the second page's bytes
// changes the instruction too (SMC across the boundary).
TEST_F(SimSystem, InstructionStraddlingPagesDecodesAndFaultsOnTheSecondPage) {
  const uint64_t la = 0x40010000;  // 4 KiB code page; the page after it is mapped or not
  m.map(la, L::SCRATCH, pte::P | pte::RW);
  const uint64_t start = la + 0x1000 - 4;  // a 10-byte MOVABS: 4 bytes here, 6 on the next page
  Asm insn(start);
  insn.mov_imm64(rAX, 0x1122334455667788);
  insn.hlt();
  m.load_code(L::SCRATCH + 0xffc, {insn.bytes.begin(), insn.bytes.begin() + 4});
  m.load_code(L::SCRATCH + 0x1000, {insn.bytes.begin() + 4, insn.bytes.end()});  // phys next page
  Asm a(L::CODE);
  a.mov_imm64(rBX, start);
  a.raw({0xff, 0xe3});  // jmp rbx
  expect_stub(run(a), PF);
  EXPECT_EQ(m.stack64(0), pf::I) << "not present, fetch";
  EXPECT_EQ(m.stack64(1), start);
  EXPECT_EQ(m.s().cr2, la + 0x1000);
  // Map the second page: the same instruction now runs.
  m.map(la + 0x1000, L::SCRATCH + 0x1000, pte::P | pte::RW);
  m.enter_long_mode();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(rAX), 0x1122334455667788u);
  // Rewrite the immediate's top byte (on the second page) from the guest and run it again.
  m.enter_long_mode();
  Asm b(L::CODE);
  b.mov_imm64(rBX, start);
  b.raw({0xc6, 0x04, 0x25});  // mov byte [disp32], imm8
  b.imm(la + 0x1000 + 5, 4).imm(0x99, 1);
  b.raw({0xff, 0xe3});  // jmp rbx
  expect_halt_in_code(run(b));
  EXPECT_EQ(m.reg(rAX), 0x9922334455667788u);
}

// A REP string instruction that faults part-way leaves RCX/RDI at the
// faulting element, so the handler can fix the fault and IRETQ to resume
// it (SDM vol. 1, 7.3.9.3 / vol. 2 REP: "the instruction can be restarted").
TEST_F(SimSystem, RepStringFaultsPartWayAndResumes) {
  const uint64_t la = 0x40020000, pa = L::SCRATCH;
  m.map(la, pa, pte::P | pte::RW);  // la + 0x1000 is not mapped yet
  const uint64_t second_pte = m.entry_pa(la, 1) + 8;
  // #PF handler: map the second page, drop the error code, return.
  Asm h(L::HANDLERS);
  h.mov_rr(r13, rCX);  // progress at the fault
  h.mov_rr(r14, rDI);
  h.mov_imm64(r11, (pa + 0x1000) | pte::P | pte::RW);
  h.store64(Asm::abs(second_pte), r11);
  h.add_imm8(rSP, 8);
  h.iretq();
  m.load_code(h);
  m.set_gate64(PF, L::HANDLERS);
  Asm a(L::CODE);
  a.mov_imm64(rDI, la + 0xff0);
  a.mov_imm32(rCX, 32);
  a.mov_imm32(rAX, 0xab);
  a.raw({0xf3, 0xaa});  // rep stosb
  a.hlt();
  expect_halt_in_code(run(a));
  EXPECT_EQ(m.reg(r13), 16u) << "RCX at the fault: 16 bytes left";
  EXPECT_EQ(m.reg(r14), la + 0x1000) << "RDI at the fault: the first byte of the missing page";
  EXPECT_EQ(m.s().cr2, la + 0x1000);
  EXPECT_EQ(m.reg(rCX), 0u);
  EXPECT_EQ(m.reg(rDI), la + 0x1010);
  for (uint64_t k = 0; k < 32; ++k) EXPECT_EQ(m.peek<uint8_t>(pa + 0xff0 + k), 0xab) << k;
  EXPECT_EQ(m.peek<uint8_t>(pa + 0x1010), 0) << "not one byte more";
}

// CMPXCHG16B needs a 16-byte aligned operand: #GP(0) otherwise (SDM).
TEST_F(SimSystem, Cmpxchg16bNeedsAlignment) {
  Asm a(L::CODE);
  a.mov_imm64(rSI, L::DATA + 8);
  a.raw({0xf0, 0x48, 0x0f, 0xc7, 0x0e});  // lock cmpxchg16b [rsi]
  a.hlt();
  expect_stub(run(a), GP);
  EXPECT_EQ(m.stack64(0), 0u);
  EXPECT_EQ(m.stack64(1), L::CODE + 10);
}

// ============================================== paging outside long mode

// 32-bit paging (SDM 4.3): a 4 MiB page (CR4.PSE) maps the low memory, a
// 4 KiB page at 0x40005000 maps SCRATCH; 4-byte entries get A and D; a
// not-present PTE faults with CR2.
TEST_F(SimSystem, ProtectedModeThirtyTwoBitPaging) {
  m.setup_protected_mode();
  const uint64_t pd = m.alloc_table(), pt = m.alloc_table(), la = 0x40005000;
  m.poke<uint32_t>(pd + 0 * 4, 0x0 | 0x83);                   // 4 MiB page: P|RW|PS
  m.poke<uint32_t>(pd + (la >> 22) * 4, uint32_t(pt) | 0x3);  // P|RW
  m.poke<uint32_t>(pt + ((la >> 12) & 0x3ff) * 4, uint32_t(L::SCRATCH) | 0x3);
  m.poke<uint32_t>(L::SCRATCH + 0x10, 0x31337);
  Asm a(L::CODE);
  a.mov_imm32(rAX, uint32_t(pd));
  a.mov_to_cr(3, rAX);
  a.mov_imm32(rAX, uint32_t(arch::cr4::PSE));
  a.mov_to_cr(4, rAX);
  a.mov_from_cr(rAX, 0);
  a.raw({0x0f, 0xba, 0xe8, 31});  // bts eax, 31 (PG)
  a.mov_to_cr(0, rAX);
  a.load32(rBX, Asm::abs(la + 0x10));
  a.store32(Asm::abs(la + 0x20), rBX);
  a.load32(rCX, Asm::abs(la + 0x1000));  // next page: PTE not present
  a.hlt();
  expect_stub(run(a), PF);
  EXPECT_EQ(m.reg(rBX), 0x31337u);
  EXPECT_EQ(m.peek<uint32_t>(L::SCRATCH + 0x20), 0x31337u);
  EXPECT_EQ(m.peek<uint32_t>(pt + ((la >> 12) & 0x3ff) * 4) & 0x60, 0x60u) << "A and D in the PTE";
  EXPECT_EQ(m.peek<uint32_t>(pd + (la >> 22) * 4) & 0x20, 0x20u) << "A in the PDE";
  EXPECT_EQ(m.peek<uint32_t>(pd) & 0x20, 0x20u) << "A in the 4 MiB PDE used for the code";
  EXPECT_EQ(m.stack32(0), 0u) << "not present, read, supervisor";
  EXPECT_EQ(m.s().cr2, la + 0x1000);
}

// PAE paging (SDM 4.4): CR3 points at four PDPTEs; 2 MiB pages for the
// code, a 4 KiB XD page that faults on fetch with P|I once EFER.NXE = 1.
TEST_F(SimSystem, ProtectedModePaePagingWithExecuteDisable) {
  m.setup_protected_mode();
  const uint64_t pdpt = m.alloc_table(), pd0 = m.alloc_table(), pd1 = m.alloc_table(), pt = m.alloc_table();
  const uint64_t la = 0x40005000;  // PDPTE 1, PDE 0, PTE 5
  m.poke<uint64_t>(pdpt + 0, pd0 | pte::P);
  m.poke<uint64_t>(pdpt + 8, pd1 | pte::P);
  m.poke<uint64_t>(pd0, 0 | pte::P | pte::RW | pte::PS);
  m.poke<uint64_t>(pd1, pt | pte::P | pte::RW);
  m.poke<uint64_t>(pt + 5 * 8, L::SCRATCH | pte::P | pte::RW | pte::NX);
  m.poke<uint32_t>(L::SCRATCH, 0xfeedface);
  Asm a(L::CODE);
  a.mov_imm32(rCX, arch::msr::IA32_EFER);
  a.rdmsr();
  a.raw({0x0f, 0xba, 0xe8, 11});  // bts eax, 11 (NXE)
  a.wrmsr();
  a.mov_imm32(rAX, uint32_t(pdpt));
  a.mov_to_cr(3, rAX);
  a.mov_imm32(rAX, uint32_t(arch::cr4::PAE));
  a.mov_to_cr(4, rAX);
  a.mov_from_cr(rAX, 0);
  a.raw({0x0f, 0xba, 0xe8, 31});  // bts eax, 31 (PG)
  a.mov_to_cr(0, rAX);
  a.load32(rBX, Asm::abs(la));  // data reads are fine
  a.mov_imm32(rAX, uint32_t(la));
  a.raw({0xff, 0xe0});  // jmp eax: fetch from the XD page
  expect_stub(run(a), PF);
  EXPECT_EQ(m.reg(rBX), 0xfeedfaceu);
  EXPECT_EQ(m.stack32(0), pf::P | pf::I);
  EXPECT_EQ(m.stack32(1), la);
  EXPECT_EQ(m.s().cr2, la);
}

// The Multiboot-to-long-mode path (SDM 9.8.5): from 32-bit protected mode,
// CR4.PAE, EFER.LME, then CR0.PG activate IA-32e mode (EFER.LMA = 1, still
// in compatibility mode); a far JMP to a 64-bit code segment enters
// 64-bit mode.
TEST_F(SimSystem, ProtectedModeEntersLongModeThroughCompatibilityMode) {
  namespace ar = arch::seg::ar;
  m.setup_protected_mode();
  m.cr3 = m.alloc_table();
  for (uint64_t a = 0; a < m.mem.size(); a += pte::LARGE_PAGE_SIZE) m.map(a, a, pte::P | pte::RW, 2);
  m.poke<uint64_t>(L::GDT + 0x28, segment_descriptor(0, 0xfffff, ar::P | ar::S | ar::L | ar::G | 0xb));  // 64-bit code
  m.s().gdtr.limit = 7 * 8 - 1;
  Asm a(L::CODE);
  a.mov_imm32(rAX, uint32_t(arch::cr4::PAE));
  a.mov_to_cr(4, rAX);
  a.mov_imm32(rAX, uint32_t(m.cr3));
  a.mov_to_cr(3, rAX);
  a.mov_imm32(rCX, arch::msr::IA32_EFER);
  a.rdmsr();
  a.raw({0x0f, 0xba, 0xe8, 8});  // bts eax, 8 (LME)
  a.wrmsr();
  a.mov_from_cr(rAX, 0);
  a.raw({0x0f, 0xba, 0xe8, 31});  // bts eax, 31 (PG)
  a.mov_to_cr(0, rAX);
  a.rdmsr();  // EFER again: LMA is now set
  a.raw({0x89, 0xc6});  // mov esi, eax
  const uint64_t target = a.here() + 7;
  a.raw({0xea});  // jmp far 0x28:target
  a.imm(target, 4).imm(0x28, 2);
  Asm b(target);
  b.mov_imm64(rDX, 0x123456789abcdef0);  // only encodable in 64-bit mode
  b.hlt();
  m.load_code(b);
  expect_halt_in_code(run(a));
  EXPECT_TRUE(m.reg(rSI) & arch::efer::LMA) << "EFER.LMA set by CR0.PG with LME";
  EXPECT_EQ(m.reg(rDX), 0x123456789abcdef0u);
  EXPECT_EQ(m.cpu.mode(), sim::CpuMode::Bits64);
  EXPECT_EQ(m.s().seg[arch::seg::CS].selector, 0x28);
}

// ============================================================ determinism

// DESIGN.md §4: the same machine and program give the same run, bit for
// bit: instructions, modeled cycles, interrupts and the final state.
TEST(SimDeterminism, IdenticalRunsGiveIdenticalCounts) {
  struct Result {
    uint64_t instructions, cycles, interrupts, r12, rax;
  };
  auto once = [] {
    SimMachine m;
    m.setup_long_mode();
    load_timer_handler(m);
    Asm a(L::CODE);
    emit_timer_setup(a, arch::apic::LVT_TIMER_PERIODIC, 777);
    a.sti();
    a.mov_imm32(rAX, 1);
    const uint64_t loop = a.here();
    a.raw({0x48, 0x69, 0xc0, 0x6d, 0x4e, 0xc6, 0x41});  // imul rax, rax, 0x41c64e6d
    a.store64(Asm::abs(L::DATA), rAX);
    a.cmp_imm8(r12, 40);
    a.jcc(0x2, loop);  // jb loop
    a.cli().hlt();
    m.load_code(a);
    m.s().r[r12] = 0;
    EXPECT_EQ(m.run(10000000), CpuStop::Halted);
    return Result{m.cpu.counters().instructions, m.cpu.cycles(), m.cpu.counters().interrupts, m.reg(r12),
                  m.reg(rAX)};
  };
  const Result a = once(), b = once();
  EXPECT_EQ(a.r12, 40u);
  EXPECT_GT(a.instructions, 100u);
  EXPECT_EQ(a.instructions, b.instructions);
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.interrupts, b.interrupts);
  EXPECT_EQ(a.rax, b.rax);
}


// #AC(0) (SDM 6.15, interrupt 17): with CR0.AM, RFLAGS.AC and CPL 3, a
// misaligned data access faults; an aligned one does not, nor the same
// access at CPL 0 or with AC clear. A user stack push is a data access too.
TEST_F(SimSystem, AlignmentCheckAtCpl3) {
  constexpr uint8_t AC = 17;
  struct Case {
    bool am, ac;
    int32_t disp;  // from DATA: 0 aligned, 2 misaligned for 8 bytes
    bool faults;
  } cases[] = {{true, true, 0, false}, {true, true, 2, true}, {false, true, 2, false}, {true, false, 2, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "AM " << c.am << " AC " << c.ac << " disp " << c.disp);
    m.enter_long_mode();
    if (c.am) m.s().cr0 |= arch::cr0::AM;
    Asm a(L::CODE);
    to_user(a, kUserCode, fl::FIXED1 | (c.ac ? fl::AC : 0));
    Asm u(kUserCode);
    u.mov_imm64(rBX, L::DATA);
    const uint64_t load = u.here();
    u.load64(rAX, mem_op(rBX, c.disp));
    u.hlt();  // #GP at CPL 3: the end of a run that did not fault on the load
    m.load_code(u);
    if (c.faults) {
      expect_stub(run(a), AC);
      EXPECT_EQ(m.stack64(0), 0u) << "error code 0";
      EXPECT_EQ(m.stack64(1), load);
    } else {
      expect_stub(run(a), GP);
      EXPECT_EQ(m.stack64(1), u.here() - 1) << "the HLT";
    }
  }
  // A misaligned user stack: PUSH faults.
  m.enter_long_mode();
  m.s().cr0 |= arch::cr0::AM;
  Asm a(L::CODE);
  to_user(a, kUserCode, fl::FIXED1 | fl::AC);
  Asm u(kUserCode);
  u.add_imm8(rSP, -4);
  const uint64_t push = u.here();
  u.push(rAX);
  u.hlt();
  m.load_code(u);
  expect_stub(run(a), AC);
  EXPECT_EQ(m.stack64(1), push);
}

}  // namespace
}  // namespace nestbed::testing
