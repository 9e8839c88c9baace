// x87 system behaviour of the sim CPU against the SDM: availability (#NM
// with CR0.EM/TS, WAIT with MP and TS), #MF for a pending unmasked
// exception at the next waiting instruction and not at the no-wait ones,
// stores suppressed by an unmasked exception, a faulting m80 store that
// changes nothing, FSTENV's image and pointers, FSAVE/FRSTOR and
// FXSAVE/FXRSTOR round trips, and CPUID. The values the instructions
// compute are checked against the host in differential_x87_test.cpp.
#include <gtest/gtest.h>

#include <cstring>

#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/paging.h"
#include "arch/x86/sse.h"
#include "arch/x86/x87.h"
#include "l0/sim/cpu/cpuid.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace x87 = arch::x87;
namespace env = arch::fpuenv;
namespace fx = arch::fxsave;
using sim::CpuStop;

constexpr int UD = 6, NM = 7, MF = 16, PF = 14;
constexpr uint64_t kData = L::DATA;

constexpr uint8_t mem_rbx(unsigned reg) { return uint8_t(0x43 | (reg << 3)); }  // [rbx + disp8]

// 1.0 and 2.0 as doubles.
constexpr uint64_t kOne = 0x3ff0000000000000ull, kTwo = 0x4000000000000000ull;

class SimX87 : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { reset(); }
  void reset() {
    m.setup_long_mode();
    m.s().cr4 |= cr4::OSFXSR;
    m.s().cr0 |= cr0::NE;
    m.reg(sim::RBX) = kData;
  }
  // Runs `a` from its origin, out of the HLT a previous run ended in (the
  // x87 state carries over).
  CpuStop run(const Asm& a) {
    m.cpu.set_halted(false);
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(1000);
  }
  void expect_stub(CpuStop stop, int vector) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "rip 0x" << std::hex << m.rip();
  }
  void expect_done(CpuStop stop) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), -1) << "took vector " << m.stub_vector();
  }
  unsigned top() { return (m.s().x87.fsw & x87::FSW_TOP) >> x87::FSW_TOP_SHIFT; }
  uint64_t st_mant(unsigned i) {
    uint64_t v;
    std::memcpy(&v, m.s().x87.st[i], 8);
    return v;
  }
  uint16_t st_se(unsigned i) { return uint16_t(m.s().x87.st[i][8] | m.s().x87.st[i][9] << 8); }
};

// An x87 instruction is #NM with CR0.EM or CR0.TS (SDM vol. 3, table 2-2),
// FNINIT included; nothing changes.
TEST_F(SimX87, AvailabilityRaisesNm) {
  for (const std::vector<uint8_t>& insn : {std::vector<uint8_t>{0xd9, 0xe8},     // fld1
                                           std::vector<uint8_t>{0xdb, 0xe3},     // fninit
                                           std::vector<uint8_t>{0xdf, 0xe0}}) {  // fnstsw ax
    for (uint64_t bit : {cr0::TS, cr0::EM}) {
      reset();
      m.s().cr0 |= bit;
      m.s().x87.fcw = 0x027f;
      Asm a(L::CODE);
      a.bytes.insert(a.bytes.end(), insn.begin(), insn.end());
      a.hlt();
      expect_stub(run(a), NM);
      EXPECT_EQ(m.stack64(0), L::CODE);
      EXPECT_EQ(m.s().x87.ftw, 0u);
      EXPECT_EQ(m.s().x87.fcw, 0x027fu);
    }
  }
  // WAIT with TS alone runs; with MP and TS it is #NM (the existing
  // SimSse.FxsaveAndFwaitAvailability covers that order too).
  reset();
  m.s().cr0 |= cr0::TS | cr0::MP;
  Asm w(L::CODE);
  w.raw({0x9b});
  w.hlt();
  expect_stub(run(w), NM);
}

// A division by zero with ZE unmasked: FDIV itself completes (the
// exception is pending: FSW.ES and B set, the destination not written,
// vol. 1 8.7), the no-wait FNSTSW/FNSTCW/FNSTENV/FNCLEX... run, and the
// next waiting instruction raises #MF before it executes (CR0.NE = 1).
TEST_F(SimX87, UnmaskedExceptionRaisesMfAtNextWaitingInstruction) {
  m.poke<uint16_t>(kData, 0x037b);  // ZM clear
  m.poke<uint64_t>(kData + 8, kOne);
  Asm a(L::CODE);
  a.raw({0xd9, mem_rbx(5), 0});   // fldcw [rbx]
  a.raw({0xdd, mem_rbx(0), 8});   // fld qword [rbx+8]   ST1 = 1
  a.raw({0xd9, 0xee});            // fldz                ST0 = 0
  a.raw({0xdc, 0xf9});            // fdiv st(1), st(0): 1 / 0
  a.raw({0xdf, 0xe0});            // fnstsw ax
  a.raw({0xd9, mem_rbx(7), 16});  // fnstcw [rbx+16]
  a.raw({0xd9, mem_rbx(6), 32});  // fnstenv [rbx+32]
  a.raw({0xd9, mem_rbx(5), 0});   // fldcw [rbx]: waiting
  a.hlt();
  expect_stub(run(a), MF);
  const uint16_t fsw = uint16_t(m.reg(sim::RAX));
  EXPECT_TRUE(fsw & x87::FSW_ZE);
  EXPECT_TRUE(fsw & x87::FSW_ES);
  EXPECT_TRUE(fsw & x87::FSW_B);
  EXPECT_EQ(m.peek<uint16_t>(kData + 16), 0x037bu);
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::FSW32), fsw);
  // #MF is a fault on the waiting FLDCW: its RIP is pushed (3+3+2+2+2+3+3 bytes in).
  EXPECT_EQ(m.stack64(0), L::CODE + 18);
  // The destination ST(1) keeps 1.0 and nothing was popped.
  EXPECT_EQ(top(), 6u);
  EXPECT_EQ(st_mant(1), 0x8000000000000000ull);
  EXPECT_EQ(st_se(1), 0x3fff);
  // FNSTENV masked every exception after storing (vol. 2, FSTENV).
  EXPECT_EQ(m.s().x87.fcw, 0x037fu);
  // FIP/FOP of the FDIV (FNSTENV and FNSTSW are control instructions).
  EXPECT_EQ(m.s().x87.fip, L::CODE + 8);
  EXPECT_EQ(m.s().x87.fop, 0x4f9u);

  // FNCLEX clears the pending exception: FWAIT then runs.
  reset();
  m.s().x87.fcw = 0x037b;
  m.s().x87.fsw = x87::FSW_ZE | x87::FSW_ES | x87::FSW_B | 0x3800;
  Asm b(L::CODE);
  b.raw({0xdb, 0xe2});  // fnclex
  b.raw({0x9b});        // fwait
  b.hlt();
  expect_done(run(b));
  EXPECT_EQ(m.s().x87.fsw, 0x3800u);
}

// Every other waiting instruction reports it too: FWAIT, arithmetic,
// FLD, FST to memory (which then writes nothing), FRSTOR.
TEST_F(SimX87, PendingExceptionBlocksEachWaitingInstruction) {
  const std::vector<std::vector<uint8_t>> waiting = {
      {0x9b}, {0xd9, 0xe8}, {0xd8, 0xc1}, {0xdd, mem_rbx(2), 0x40}, {0xdd, mem_rbx(4), 0x40}, {0xd9, 0xd0}};
  for (const auto& insn : waiting) {
    reset();
    m.s().x87.fcw = 0x037e;                            // IM clear
    m.s().x87.fsw = x87::FSW_IE | x87::FSW_ES | x87::FSW_B;
    m.poke<uint64_t>(kData + 0x40, 0x1234);
    Asm a(L::CODE);
    a.bytes.insert(a.bytes.end(), insn.begin(), insn.end());
    a.hlt();
    expect_stub(run(a), MF);
    EXPECT_EQ(m.stack64(0), L::CODE);
    EXPECT_EQ(m.peek<uint64_t>(kData + 0x40), 0x1234u);
    EXPECT_EQ(m.s().x87.ftw, 0u);
  }
  // With CR0.NE = 0 the error goes out on FERR# and the processor freezes
  // before the waiting instruction until an interrupt; with IF = 0 none
  // comes, and the sim stops there (vol. 1, appendix D).
  reset();
  m.s().cr0 &= ~cr0::NE;
  m.s().x87.fcw = 0x037e;
  m.s().x87.fsw = x87::FSW_IE | x87::FSW_ES | x87::FSW_B;
  Asm a(L::CODE);
  a.raw({0x9b});
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted);
  EXPECT_EQ(m.stub_vector(), -1);
  EXPECT_EQ(m.rip(), L::CODE) << "frozen before the FWAIT";
  EXPECT_TRUE(m.dev.x87_error.ferr());
}

// ---- CR0.NE = 0: FERR#, IRQ 13, IGNNE# (vol. 1, 8.7.2 and appendix D) ----

namespace {
constexpr uint8_t kIrq13Vector = 0x28 + 5;  // slave base 28H, IR5
void out_imm(Asm& a, uint8_t port, uint8_t value) { a.raw({0xb0, value, 0xe6, port}); }  // mov al, v; out port, al
// The PC's ICW sequence: master vectors 20H, slave 28H on IR2; only IR2 and
// the slave's IR5 (IRQ 13) unmasked.
void program_pics(Asm& a) {
  out_imm(a, 0x20, 0x11);
  out_imm(a, 0xa0, 0x11);
  out_imm(a, 0x21, 0x20);
  out_imm(a, 0xa1, 0x28);
  out_imm(a, 0x21, 0x04);
  out_imm(a, 0xa1, 0x02);
  out_imm(a, 0x21, 0x01);
  out_imm(a, 0xa1, 0x01);
  out_imm(a, 0x21, 0xfb);
  out_imm(a, 0xa1, 0xdf);
}
void divide_by_zero(Asm& a) {
  a.raw({0xd9, mem_rbx(5), 0});  // fldcw [rbx]: ZM clear
  a.raw({0xd9, 0xe8});           // fld1
  a.raw({0xd9, 0xee});           // fldz
  a.raw({0xde, 0xf9});           // fdivp: 1 / 0, pending
}
}  // namespace

class SimX87Ferr : public SimX87 {
 protected:
  // The IRQ 13 handler: counts in R12, records its frame's RIP at
  // DATA + 0x100 + 8 * count, writes port F0H, FNCLEX if asked, EOI to both
  // PICs.
  void handler(bool fnclex) {
    Asm h(L::HANDLERS);
    h.inc(r12);
    h.load64(rAX, mem_op(rSP, 0));
    h.store64(mem_op(rBX, 0x100, r12, 8), rAX);
    out_imm(h, 0xf0, 0);
    if (fnclex) h.raw({0xdb, 0xe2});
    out_imm(h, 0xa0, 0x20);
    out_imm(h, 0x20, 0x20);
    h.iretq();
    m.load_code(h);
    m.set_gate64(kIrq13Vector, L::HANDLERS);
    m.s().cr0 &= ~cr0::NE;
    m.poke<uint16_t>(kData, 0x037b);
    m.reg(r12) = 0;
  }
  uint64_t frame_rip(unsigned n) { return m.peek<uint64_t>(kData + 0x100 + 8 * n); }
};

// FERR# goes active right after the FDIVP (P6 family and later, D.2.2):
// with LINT0 in ExtINT mode (virtual wire) the PIC's IRQ 13 interrupts the
// next instruction; the handler's FNCLEX ends the error, and the FWAIT
// after it runs.
TEST_F(SimX87Ferr, Irq13RightAfterTheFaultingInstruction) {
  handler(true);
  m.dev.apic.mmio_write(arch::apic::SVR, 4, 0x1ff);
  m.dev.apic.mmio_write(arch::apic::LVT_LINT0, 4, arch::apic::DELIVERY_EXTINT << arch::apic::ICR_DELIVERY_MODE_SHIFT);
  Asm a(L::CODE);
  program_pics(a);
  a.sti();
  divide_by_zero(a);
  const uint64_t next = a.here();
  a.nop();
  a.raw({0x9b});  // fwait
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size());
  EXPECT_EQ(m.reg(r12), 1u);
  EXPECT_EQ(frame_rip(1), next);
  EXPECT_FALSE(m.s().x87.fsw & x87::FSW_ES);
  EXPECT_FALSE(m.dev.x87_error.ferr()) << "FERR# dropped with the error";
  EXPECT_FALSE(m.dev.pic.intr());
}

// With IF = 0 the request waits; the FWAIT in STI's shadow freezes, the
// interrupt (the APIC globally disabled: INTR straight from the PIC) comes
// with RIP on the FWAIT. The handler only writes F0H: IGNNE# lets the FWAIT
// and the next FLD run with the error still pending. After FNCLEX a new
// error raises FERR# and IRQ 13 again.
TEST_F(SimX87Ferr, FreezeUntilTheInterruptThenIgnne) {
  handler(false);
  ASSERT_TRUE(m.dev.apic.set_apic_base(m.dev.apic.apic_base() & ~uint64_t(1u << 11)));
  Asm a(L::CODE);
  program_pics(a);
  a.cli();
  divide_by_zero(a);
  a.sti();
  const uint64_t fwait = a.here();
  a.raw({0x9b});        // fwait: frozen, then run under IGNNE#
  a.raw({0xd9, 0xe8});  // fld1: runs under IGNNE#
  a.raw({0xdb, 0xe2});  // fnclex
  a.raw({0xd9, 0xe8});  // fld1: FERR# drops
  divide_by_zero(a);    // a new error: IRQ 13 again
  const uint64_t after = a.here();
  a.nop();
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.reg(r12), 2u);
  EXPECT_EQ(frame_rip(1), fwait) << "the frozen FWAIT";
  EXPECT_EQ(frame_rip(2), after);
  EXPECT_TRUE(m.s().x87.fsw & x87::FSW_ES) << "the second error is still pending";
  EXPECT_TRUE(m.dev.x87_error.ignne());
}

// Loading FCW or FSW recomputes FSW.ES and B (vol. 1, 8.1.3.1; FLDCW's
// SDM page): FLDCW unmasking a flag already set makes it pending, and so
// does FXRSTOR of an image whose FSW has the flag but not ES. A loaded FCW
// keeps only its defined bits (bit 6 reads 1; 7 and 13-15 read 0).
TEST_F(SimX87, LoadingFcwOrFswRecomputesTheSummary) {
  m.s().x87.fsw = x87::FSW_ZE;  // set, masked by FCW 0x037f
  m.poke<uint16_t>(kData, 0xe0bb);  // ZM clear, reserved bits set
  Asm a(L::CODE);
  a.raw({0xd9, mem_rbx(5), 0});  // fldcw [rbx]
  a.raw({0x9b});                 // fwait
  a.hlt();
  expect_stub(run(a), MF);
  EXPECT_EQ(m.stack64(0), L::CODE + 3);
  EXPECT_EQ(m.s().x87.fcw, 0x007bu);
  EXPECT_EQ(m.s().x87.fsw, x87::FSW_ZE | x87::FSW_ES | x87::FSW_B);

  reset();
  for (unsigned k = 0; k < 512; k += 8) m.poke<uint64_t>(kData + k, 0);
  m.poke<uint16_t>(kData + fx::FCW, 0x037e);        // IM clear
  m.poke<uint16_t>(kData + fx::FSW, x87::FSW_IE);   // IE set, ES clear
  m.poke<uint32_t>(kData + fx::MXCSR, 0x1f80);
  Asm b(L::CODE);
  b.raw({0x48, 0x0f, 0xae, 0x0b});  // fxrstor64 [rbx]
  b.raw({0xd9, 0xe8});              // fld1
  b.hlt();
  expect_stub(run(b), MF);
  EXPECT_EQ(m.stack64(0), L::CODE + 4);
  EXPECT_EQ(m.s().x87.fsw, x87::FSW_IE | x87::FSW_ES | x87::FSW_B);
}

// A store with an unmasked invalid operation writes nothing and does not
// pop (vol. 1, 8.7); masked, it writes the integer indefinite (vol. 2,
// FIST/FISTP).
TEST_F(SimX87, StoreSuppressedByUnmaskedException) {
  for (uint16_t fcw : {0x037f, 0x037e}) {
    reset();
    m.poke<uint64_t>(kData, 0x7ff0000000000000ull);  // +inf
    m.poke<uint16_t>(kData + 8, 0x5555);
    m.poke<uint16_t>(kData + 16, fcw);
    Asm a(L::CODE);
    a.raw({0xd9, mem_rbx(5), 16});  // fldcw [rbx+16]
    a.raw({0xdd, mem_rbx(0), 0});   // fld qword [rbx]
    a.raw({0xdf, mem_rbx(3), 8});   // fistp word [rbx+8]
    a.hlt();
    expect_done(run(a));
    if (fcw == 0x037f) {
      EXPECT_EQ(m.peek<uint16_t>(kData + 8), 0x8000u);
      EXPECT_EQ(top(), 0u);
      EXPECT_EQ(m.s().x87.ftw, 0u);
    } else {
      EXPECT_EQ(m.peek<uint16_t>(kData + 8), 0x5555u);
      EXPECT_EQ(top(), 7u);
      EXPECT_TRUE(m.s().x87.fsw & x87::FSW_ES);
    }
    EXPECT_TRUE(m.s().x87.fsw & x87::FSW_IE);
  }
}

// Nine pushes overflow the stack: the masked response loads the real
// indefinite and sets IE, SF and C1 (vol. 1, 8.5.1.1).
TEST_F(SimX87, StackOverflowMasked) {
  Asm a(L::CODE);
  for (int k = 0; k < 9; ++k) a.raw({0xd9, 0xe8});  // fld1
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.s().x87.fsw & (x87::FSW_IE | x87::FSW_SF | x87::FSW_C1), x87::FSW_IE | x87::FSW_SF | x87::FSW_C1);
  EXPECT_EQ(st_mant(0), 0xc000000000000000ull);
  EXPECT_EQ(st_se(0), 0xffff);
  EXPECT_EQ(m.s().x87.ftw, 0xffu);
}

// An m80 store whose second page is not mapped: #PF, nothing written,
// nothing popped.
TEST_F(SimX87, FaultingM80StoreChangesNothing) {
  const uint64_t page = 0x40000000;  // above the identity map; the next page stays unmapped
  m.map(page, L::SCRATCH, arch::pte::P | arch::pte::RW, 1);
  m.poke<uint64_t>(L::SCRATCH + 0xff8, 0x1111111111111111ull);
  m.reg(sim::RBX) = page + 0xff8;
  m.poke<uint64_t>(kData, kTwo);
  m.reg(sim::RCX) = kData;
  Asm a(L::CODE);
  a.raw({0xdd, 0x01});            // fld qword [rcx]
  a.raw({0xdb, mem_rbx(7), 0});   // fstp tword [rbx]
  a.hlt();
  expect_stub(run(a), PF);
  EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0xff8), 0x1111111111111111ull);
  EXPECT_EQ(top(), 7u);
  EXPECT_EQ(m.s().x87.ftw, 0x80u);
  EXPECT_EQ(m.s().x87.fip, L::CODE) << "the pointers are those of the FLD";
}

// FNSTENV's 28-byte image (vol. 1, figure 8-9): the control, status and
// full tag words, and the FLD's pointers: RIP, CS, opcode, operand offset
// and DS. With an operand-size prefix, the 14-byte 16-bit format.
TEST_F(SimX87, FnstenvImage) {
  m.poke<uint64_t>(kData + 0x80, kOne);
  for (unsigned k = 0; k < 64; k += 8) m.poke<uint64_t>(kData + k, ~0ull);
  Asm a(L::CODE);
  a.raw({0xd9, 0xee});                    // fldz
  a.raw({0xdd, 0x83, 0x80, 0, 0, 0});     // fld qword [rbx+0x80]
  a.raw({0xd9, mem_rbx(6), 0});           // fnstenv [rbx]
  a.raw({0x66, 0xd9, mem_rbx(6), 32});    // fnstenv [rbx+32] (16-bit format)
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FCW32), 0xffff037fu);
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FSW32), 0xffff3000u);  // TOP = 6
  // R7 = 0 (zero, tag 01), R6 = 1.0 (valid, 00), the rest empty.
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FTW32), 0xffff4fffu);
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FIP32), uint32_t(L::CODE + 2));
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FCS32), (0x583u << 16) | sel::KCODE);
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FDP32), uint32_t(kData + 0x80));
  EXPECT_EQ(m.peek<uint32_t>(kData + env::FDS32), 0xffff0000u | m.s().seg[arch::seg::DS].selector);
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::FCW16), 0x037fu);
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::FTW16), 0x4fffu);
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::FIP16), uint16_t(L::CODE + 2));
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::FDP16), uint16_t(kData + 0x80));
  EXPECT_EQ(m.peek<uint16_t>(kData + 32 + env::SIZE16), 0xffffu) << "14 bytes only";
}

// FNSAVE stores the environment and ST0-ST7 and reinitializes; FRSTOR
// brings all of it back (vol. 2, FSAVE and FRSTOR).
TEST_F(SimX87, FsaveFrstorRoundTrip) {
  m.poke<uint64_t>(kData + 0x100, kTwo);
  m.poke<uint16_t>(kData + 0x108, 0x0b7f);
  Asm a(L::CODE);
  a.raw({0xd9, 0xab, 0x08, 0x01, 0, 0});         // fldcw [rbx+0x108]
  a.raw({0xd9, 0xeb});                           // fldpi
  a.raw({0xdd, 0x83, 0x00, 0x01, 0, 0});         // fld qword [rbx+0x100]
  a.raw({0xde, 0xc9});                           // fmulp
  a.raw({0xd9, 0xe8});                           // fld1
  a.hlt();
  expect_done(run(a));
  const sim::X87State before = m.s().x87;
  Asm b(L::CODE + 0x100);
  b.raw({0xdd, mem_rbx(6), 0});  // fnsave [rbx]
  b.hlt();
  expect_done(run(b));
  EXPECT_EQ(m.s().x87.fcw, 0x037fu);
  EXPECT_EQ(m.s().x87.fsw, 0u);
  EXPECT_EQ(m.s().x87.ftw, 0u);
  EXPECT_EQ(m.s().x87.fip, 0u);
  EXPECT_EQ(m.peek<uint16_t>(kData + env::SIZE32 + 8), 0x3fff) << "ST0 = 1.0 after the environment";
  m.s().x87.st[0][3] ^= 0xff;  // disturb the registers
  Asm c(L::CODE + 0x200);
  c.raw({0xdd, mem_rbx(4), 0});  // frstor [rbx]
  c.hlt();
  expect_done(run(c));
  const sim::X87State& after = m.s().x87;
  EXPECT_EQ(after.fcw, before.fcw);
  EXPECT_EQ(after.fsw, before.fsw);
  EXPECT_EQ(after.ftw, before.ftw);
  EXPECT_EQ(after.fop, before.fop);
  EXPECT_EQ(after.fip, before.fip);
  EXPECT_EQ(after.fdp, before.fdp);
  EXPECT_EQ(std::memcmp(after.st, before.st, sizeof after.st), 0);
}

// FXSAVE64 carries the whole x87 state: registers, TOP, abridged tags and
// the 64-bit pointers; FXRSTOR64 restores it (vol. 1, table 10-3).
TEST_F(SimX87, FxsaveFxrstorCarryX87State) {
  m.poke<uint64_t>(kData + 0x300, kTwo);
  Asm a(L::CODE);
  a.raw({0xd9, 0xec});                    // fldlg2
  a.raw({0xdc, 0x83, 0x00, 0x03, 0, 0});  // fadd qword [rbx+0x300]
  a.raw({0xd9, 0xfa});                    // fsqrt
  a.raw({0x48, 0x0f, 0xae, 0x03});        // fxsave64 [rbx]
  a.hlt();
  expect_done(run(a));
  const sim::X87State before = m.s().x87;
  EXPECT_EQ(m.peek<uint16_t>(kData + fx::FSW), before.fsw);
  EXPECT_EQ(top(), 7u);
  EXPECT_EQ(m.peek<uint8_t>(kData + fx::FTW), 0x80u);
  EXPECT_EQ(m.peek<uint16_t>(kData + fx::FOP), 0x1fau) << "FSQRT is D9 FA";
  EXPECT_EQ(m.peek<uint64_t>(kData + fx::FIP), L::CODE + 8);
  EXPECT_EQ(m.peek<uint64_t>(kData + fx::FDP), kData + 0x300) << "FSQRT keeps the FADD's operand pointer";
  EXPECT_EQ(m.peek<uint64_t>(kData + fx::ST0), st_mant(0));
  EXPECT_EQ(m.peek<uint16_t>(kData + fx::ST0 + 8), st_se(0));
  Asm b(L::CODE + 0x100);
  b.raw({0xdb, 0xe3});              // fninit
  b.raw({0x48, 0x0f, 0xae, 0x0b});  // fxrstor64 [rbx]
  b.hlt();
  expect_done(run(b));
  const sim::X87State& after = m.s().x87;
  EXPECT_EQ(after.fsw, before.fsw);
  EXPECT_EQ(after.ftw, before.ftw);
  EXPECT_EQ(after.fop, before.fop);
  EXPECT_EQ(after.fip, before.fip);
  EXPECT_EQ(after.fdp, before.fdp);
  EXPECT_EQ(std::memcmp(after.st, before.st, sizeof after.st), 0);
}

// FCOMI writes ZF, PF and CF and clears OF, SF, AF; FCMOVcc reads them.
TEST_F(SimX87, FcomiAndFcmov) {
  Asm a(L::CODE);
  a.raw({0xd9, 0xe8});  // fld1
  a.raw({0xd9, 0xee});  // fldz: ST0 = 0, ST1 = 1
  a.raw({0xdb, 0xf1});  // fcomi st0, st1: 0 < 1, CF = 1
  a.raw({0xda, 0xc1});  // fcmovb st0, st1: ST0 = 1
  a.hlt();
  m.s().rflags |= arch::rflags::OF | arch::rflags::SF | arch::rflags::ZF;
  expect_done(run(a));
  EXPECT_EQ(m.s().rflags & (arch::rflags::STATUS), arch::rflags::CF);
  EXPECT_EQ(st_se(0), 0x3fff);
}

// In 32-bit protected mode: arithmetic on a disp32 operand, and FNSTENV's
// 32-bit image with the EIP, CS, opcode and operand offset.
TEST_F(SimX87, ProtectedModeFnstenv) {
  m.setup_protected_mode();
  m.poke<uint64_t>(kData, kTwo);
  auto disp32 = [](Asm& a, uint64_t v) {
    for (unsigned k = 0; k < 4; ++k) a.raw({uint8_t(v >> (8 * k))});
  };
  Asm a(L::CODE);
  a.raw({0xd9, 0xe8});  // fld1
  a.raw({0xdc, 0x05});  // fadd qword [disp32]
  disp32(a, kData);
  a.raw({0xd9, 0x35});  // fnstenv [disp32]
  disp32(a, kData + 0x20);
  a.hlt();
  m.load_code(a);
  m.rip() = a.origin;
  ASSERT_EQ(m.run(10), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.stub_vector(), -1);
  EXPECT_EQ(st_se(0), 0x4000) << "3.0";
  EXPECT_EQ(st_mant(0), 0xc000000000000000ull);
  EXPECT_EQ(m.peek<uint32_t>(kData + 0x20 + env::FIP32), uint32_t(L::CODE + 2));
  EXPECT_EQ(m.peek<uint32_t>(kData + 0x20 + env::FCS32),
            (0x405u << 16) | m.s().seg[arch::seg::CS].selector);
  EXPECT_EQ(m.peek<uint32_t>(kData + 0x20 + env::FDP32), uint32_t(kData));
}

// MMX: #UD with CR0.EM (not #NM as x87), #NM with CR0.TS, #MF with a
// pending x87 exception (SDM vol. 3, table 2-2; vol. 2, PADDB). MOVQ2DQ is
// also #UD with CR4.OSFXSR = 0. Nothing changes.
TEST_F(SimX87, MmxAvailability) {
  struct Case {
    std::vector<uint8_t> insn;
    uint64_t cr0_set;
    bool pending, no_osfxsr;
    int vector;
  } cases[] = {
      {{0x0f, 0xfc, 0xc1}, cr0::EM, false, false, UD},        // paddb mm0, mm1
      {{0x0f, 0xfc, 0xc1}, cr0::TS, false, false, NM},
      {{0x0f, 0xfc, 0xc1}, 0, true, false, MF},
      {{0x0f, 0x77}, cr0::EM, false, false, UD},              // emms
      {{0x0f, 0x6e, 0xc0}, cr0::TS, false, false, NM},        // movd mm0, eax
      {{0x0f, 0x70, 0xc1, 0x1b}, 0, true, false, MF},         // pshufw mm0, mm1, 0x1b
      {{0xf3, 0x0f, 0xd6, 0xc1}, 0, false, true, UD},         // movq2dq xmm0, mm1
      {{0x0f, 0x2a, 0xc1}, cr0::TS, false, false, NM},        // cvtpi2ps xmm0, mm1
      {{0x0f, 0x2a, 0xc1}, 0, false, true, UD},
      {{0x0f, 0x2a, 0xc1}, 0, true, false, MF},
      {{0x0f, 0x38, 0x00, 0xc1}, cr0::EM, false, false, UD},  // pshufb mm0, mm1 (SSSE3)
  };
  for (const Case& k : cases) {
    reset();
    m.s().cr0 |= k.cr0_set;
    if (k.no_osfxsr) m.s().cr4 &= ~cr4::OSFXSR;
    m.s().x87.fsw = 0x2800;  // TOP = 5
    if (k.pending) {
      m.s().x87.fcw = 0x037e;
      m.s().x87.fsw |= x87::FSW_IE | x87::FSW_ES | x87::FSW_B;
    }
    Asm a(L::CODE);
    a.bytes.insert(a.bytes.end(), k.insn.begin(), k.insn.end());
    a.hlt();
    expect_stub(run(a), k.vector);
    EXPECT_EQ(m.stack64(0), L::CODE);
    EXPECT_EQ(top(), 5u);
    EXPECT_EQ(m.s().x87.ftw, 0u);
  }
}

// CVTPI2PS with the precision exception unmasked: #XM, XMM0 unchanged,
// MXCSR.PE set, no x87 transition; masked, the rounded result and the
// transition (SDM vol. 2, CVTPI2PS).
TEST_F(SimX87, CvtPi2PsUnmaskedPrecisionRaisesXm) {
  constexpr int XM = 19;
  for (uint32_t mxcsr : {0x1f80u, 0x1f80u & ~(arch::mxcsr::PE << arch::mxcsr::MASK_SHIFT)}) {
    reset();
    m.s().cr4 |= cr4::OSXMMEXCPT;
    m.s().mxcsr = mxcsr;
    m.s().xmm[0] = sim::Xmm{{0x1111111111111111ull, 0x2222222222222222ull}};
    m.s().x87.fsw = 0x2800;                                    // TOP = 5
    std::memcpy(m.s().x87.st[(1 - 5) & 7], "\xff\xff\xff\x7f\x01\0\0\0", 8);  // MM1 = {0x7fffffff, 1}
    Asm a(L::CODE);
    a.raw({0x0f, 0x2a, 0xc1});  // cvtpi2ps xmm0, mm1
    a.hlt();
    if (mxcsr == 0x1f80u) {
      expect_done(run(a));
      EXPECT_EQ(m.s().xmm[0].q[0], 0x3f8000004f000000ull) << "2^31 (rounded) and 1.0";
      EXPECT_EQ(m.s().xmm[0].q[1], 0x2222222222222222ull);
      EXPECT_EQ(top(), 0u);
      EXPECT_EQ(m.s().x87.ftw, 0xffu);
    } else {
      expect_stub(run(a), XM);
      EXPECT_EQ(m.s().xmm[0].q[0], 0x1111111111111111ull);
      EXPECT_EQ(top(), 5u);
    }
    EXPECT_TRUE(m.s().mxcsr & arch::mxcsr::PE);
  }
}

// An MMX write: TOP = 0, every tag valid, the destination's exponent and
// sign all ones; EMMS empties the tags (vol. 1, table 9-2).
TEST_F(SimX87, MmxAliasesTheX87Registers) {
  m.s().x87.fsw = 0x1800;  // TOP = 3
  m.reg(sim::RAX) = 0x1122334455667788ull;
  Asm a(L::CODE);
  a.raw({0x48, 0x0f, 0x6e, 0xd0});  // movq mm2, rax
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(top(), 0u);
  EXPECT_EQ(m.s().x87.ftw, 0xffu);
  EXPECT_EQ(st_mant(2), 0x1122334455667788ull);
  EXPECT_EQ(st_se(2), 0xffff);
  Asm b(L::CODE + 0x100);
  b.raw({0x0f, 0x77});  // emms
  b.hlt();
  expect_done(run(b));
  EXPECT_EQ(m.s().x87.ftw, 0u);
  EXPECT_EQ(st_mant(2), 0x1122334455667788ull) << "EMMS keeps the contents";
}

// CPUID.01H:EDX reports the x87 FPU and MMX.
TEST_F(SimX87, CpuidReportsFpuAndMmx) {
  EXPECT_TRUE(sim::cpuid(1, 0, 0).edx & arch::cpuid::L1_EDX_FPU);
  EXPECT_TRUE(sim::cpuid(1, 0, 0).edx & arch::cpuid::L1_EDX_MMX);
}

}  // namespace
}  // namespace nestbed::testing
