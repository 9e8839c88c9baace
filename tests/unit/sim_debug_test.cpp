// Debug exceptions in the sim (SDM vol. 3, chapter 18; issue 14 item 2):
// single-step traps from RFLAGS.TF, ICEBP, instruction, data and I/O
// breakpoints through DR0-DR3/DR7, general detect, RF, DR6, and debug
// traps held over the instruction after MOV SS (SDM 6.8.3).
#include <gtest/gtest.h>

#include "arch/x86/control_regs.h"
#include "arch/x86/debug.h"
#include "arch/x86/rflags.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace fl = arch::rflags;
namespace dbg = arch::debug;
using sim::CpuStop;

constexpr uint8_t DB = 1, BP = 3;

// MOV DRn, r64 (0F 23 /r) and MOV r64, DRn (0F 21 /r), r below 8.
void mov_to_dr(Asm& a, unsigned dr, unsigned r) { a.raw({0x0f, 0x23, uint8_t(0xc0 | (dr << 3) | r)}); }
void mov_from_dr(Asm& a, unsigned r, unsigned dr) { a.raw({0x0f, 0x21, uint8_t(0xc0 | (dr << 3) | r)}); }
// Arms DR`n` at `address` with R/W `rw` and LEN encoding `len` (DR7 Ln set).
void arm(Asm& a, unsigned n, uint64_t address, unsigned rw, unsigned len, uint64_t dr7_extra = 0) {
  a.mov_imm64(rAX, address);
  mov_to_dr(a, n, rAX);
  a.mov_imm64(rAX, dbg::DR7_INIT | (1ull << (2 * n)) | (uint64_t(rw) << (16 + 4 * n)) |
                        (uint64_t(len) << (18 + 4 * n)) | dr7_extra);
  mov_to_dr(a, 7, rAX);
}
// Sets RFLAGS.TF: the trap comes after the instruction that follows.
void set_tf(Asm& a) {
  a.pushfq();
  a.raw({0x48, 0x81, 0x0c, 0x24}).raw({0x00, 0x01, 0x00, 0x00});  // or qword [rsp], 0x100
  a.popfq();
}

class SimDebug : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { m.setup_long_mode(); }
  CpuStop run(const Asm& a, uint64_t max = 10000) {
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(max);
  }
  // #DB to a handler that counts in R12 and returns.
  void counting_handler(bool set_rf = false) {
    Asm h(L::HANDLERS);
    h.inc(r12);
    if (set_rf) h.raw({0x48, 0x81, 0x4c, 0x24, 0x10}).raw({0x00, 0x00, 0x01, 0x00});  // or qword [rsp+16], RF
    h.iretq();
    m.load_code(h);
    m.set_gate64(DB, L::HANDLERS);
  }
  uint64_t dr6() const { return m.cpu.state().dr[6]; }
};

// TF set by POPF: no trap after the POPF, one after the next instruction,
// with DR6.BS, TF in the pushed RFLAGS and TF clear in the handler.
TEST_F(SimDebug, SingleStepTrapsAfterTheInstructionFollowingPopf) {
  Asm a(L::CODE);
  set_tf(a);
  const uint64_t first = a.here();
  a.nop();
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), first + 1) << "a trap: RIP after the first NOP";
  EXPECT_TRUE(m.stack64(2) & fl::TF);
  EXPECT_FALSE(m.stack64(2) & fl::RF) << "a trap pushes RF = 0";
  EXPECT_FALSE(m.cpu.state().rflags & fl::TF) << "delivery clears TF";
  EXPECT_EQ(dr6(), dbg::DR6_FIXED1 | dbg::DR6_BS);
}

// With a handler that returns, every instruction run with TF set traps:
// five NOPs, PUSHF, AND and the POPF that clears TF (TF was set when it
// began).
TEST_F(SimDebug, SingleStepCountsEveryInstructionUntilTfIsCleared) {
  counting_handler();
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  set_tf(a);
  for (int k = 0; k < 5; ++k) a.nop();
  a.pushfq();
  a.raw({0x48, 0x81, 0x24, 0x24}).raw({0xff, 0xfe, 0xff, 0xff});  // and qword [rsp], ~0x100
  a.popfq();
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size()) << "halted in the code, not a stub";
  EXPECT_EQ(m.reg(r12), 8u);
}

// A REP string instruction single-steps each iteration (SDM 18.3.1.4):
// the trap after an iteration reports RIP still on the instruction while
// iterations remain.
TEST_F(SimDebug, SingleStepTrapsAfterEachRepIteration) {
  counting_handler();
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  a.mov_imm64(rDI, L::DATA);
  a.mov_imm32(rCX, 3);
  a.mov_imm32(rAX, 0x5a);
  set_tf(a);
  a.raw({0xf3, 0xaa});  // rep stosb
  a.pushfq();
  a.raw({0x48, 0x81, 0x24, 0x24}).raw({0xff, 0xfe, 0xff, 0xff});  // and qword [rsp], ~0x100
  a.popfq();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r12), 6u) << "one trap per iteration, then PUSHF, AND, POPF";
  EXPECT_EQ(m.peek<uint8_t>(L::DATA + 2), 0x5a);
  EXPECT_EQ(m.reg(rCX), 0u);
}

// ICEBP (F1): a trap-like #DB that sets no DR6 bit.
TEST_F(SimDebug, IcebpRaisesDebugTrap) {
  Asm a(L::CODE);
  const uint64_t at = a.here();
  a.raw({0xf1});
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), at + 1);
  EXPECT_EQ(dr6(), dbg::DR6_INIT);
}

// An instruction breakpoint is a fault (RIP on the instruction, RF = 0 in
// the frame, DR6.B0); the handler sets RF in the frame and the
// instruction then runs once, without a second #DB.
TEST_F(SimDebug, InstructionBreakpointFaultsAndRfResumes) {
  counting_handler(/*set_rf=*/true);
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  const size_t patch = a.bytes.size();
  arm(a, 0, 0, dbg::RW_EXECUTE, 0);  // the address is patched below
  a.mov_imm32(rBX, 0);
  const uint64_t target = a.here();
  a.inc(rBX);
  a.hlt();
  // mov rax, imm64 at `patch`: the immediate starts 2 bytes in.
  for (unsigned k = 0; k < 8; ++k) a.bytes[patch + 2 + k] = uint8_t(target >> (8 * k));
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r12), 1u) << "one #DB";
  EXPECT_EQ(m.reg(rBX), 1u) << "the instruction ran once";
  EXPECT_EQ(dr6() & dbg::DR6_B0_B3, 1u);
  EXPECT_FALSE(m.cpu.state().rflags & fl::RF) << "RF is cleared after the instruction it let through";
}

TEST_F(SimDebug, InstructionBreakpointFrameHasRfClear) {
  Asm a(L::CODE);
  const size_t patch = a.bytes.size();
  arm(a, 2, 0, dbg::RW_EXECUTE, 0);
  const uint64_t target = a.here();
  a.nop();
  a.hlt();
  for (unsigned k = 0; k < 8; ++k) a.bytes[patch + 2 + k] = uint8_t(target >> (8 * k));
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), target) << "a fault: RIP on the instruction";
  EXPECT_FALSE(m.stack64(2) & fl::RF);
  EXPECT_EQ(dr6(), dbg::DR6_FIXED1 | 4u) << "B2";
}

// Data breakpoints: R/W = 01 traps after a write that touches any byte of
// the (aligned) range, not after a read; R/W = 11 after reads too.
TEST_F(SimDebug, DataWriteBreakpointTrapsAfterTheStore) {
  Asm a(L::CODE);
  arm(a, 1, L::DATA + 8, dbg::RW_WRITE, 3);  // LEN 11: four bytes, DATA+8..+11
  a.mov_imm64(rBX, L::DATA);
  a.load64(rCX, mem_op(rBX, 8));            // a read: no trap
  a.mov_imm32(rDX, 0x1234);
  const uint64_t store = a.here();
  a.store32(mem_op(rBX, 10), rDX);          // bytes 10..13 overlap the range
  const uint64_t after = a.here();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), after) << "a trap after the store at 0x" << std::hex << store;
  EXPECT_EQ(m.peek<uint32_t>(L::DATA + 10), 0x1234u) << "the store completed";
  EXPECT_EQ(dr6(), dbg::DR6_FIXED1 | 2u) << "B1";
}

TEST_F(SimDebug, DataReadWriteBreakpointTrapsOnReads) {
  Asm a(L::CODE);
  arm(a, 3, L::DATA + 0x100, dbg::RW_READ_WRITE, 2);  // LEN 10: eight bytes
  a.mov_imm64(rBX, L::DATA);
  a.load64(rCX, mem_op(rBX, 0xf8));  // bytes 0xf8..0xff: outside
  a.load64(rCX, mem_op(rBX, 0x104));
  const uint64_t after = a.here();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), after);
  EXPECT_EQ(dr6() & dbg::DR6_B0_B3, 8u) << "B3";
}

// A REP MOVS through a watched byte stops after that iteration, RIP on
// the instruction, RCX showing the rest.
TEST_F(SimDebug, DataBreakpointStopsRepStringAfterTheIteration) {
  Asm a(L::CODE);
  arm(a, 0, L::DATA + 0x205, dbg::RW_WRITE, 0);
  a.mov_imm64(rSI, L::DATA);
  a.mov_imm64(rDI, L::DATA + 0x200);
  a.mov_imm32(rCX, 16);
  const uint64_t movs = a.here();
  a.raw({0xf3, 0xa4});  // rep movsb
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), movs) << "RIP still on REP MOVSB";
  EXPECT_EQ(m.reg(rCX), 10u) << "six bytes moved, the watched one last";
  EXPECT_TRUE(m.stack64(2) & fl::RF) << "an event between iterations pushes RF = 1";
}

// I/O breakpoints need CR4.DE (R/W = 10).
TEST_F(SimDebug, IoBreakpointTrapsWithCr4De) {
  Asm a(L::CODE);
  a.mov_from_cr(rAX, 4);
  a.raw({0x48, 0x83, 0xc8, 0x08});  // or rax, CR4.DE
  a.mov_to_cr(4, rAX);
  arm(a, 2, 0x80, dbg::RW_IO, 0);
  a.mov_imm32(rDX, 0x80);
  a.raw({0xec});  // in al, dx
  const uint64_t after = a.here();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), after);
  EXPECT_EQ(dr6() & dbg::DR6_B0_B3, 4u);
}

// DR7.GD: the next MOV DR is a #DB fault with DR6.BD, and delivery clears
// GD so the handler may use the debug registers.
TEST_F(SimDebug, GeneralDetectFaultsOnMovDr) {
  Asm a(L::CODE);
  a.mov_imm64(rAX, dbg::DR7_INIT | dbg::DR7_GD);
  mov_to_dr(a, 7, rAX);
  const uint64_t at = a.here();
  mov_from_dr(a, rBX, 0);
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), at) << "a fault";
  EXPECT_TRUE(dr6() & dbg::DR6_BD);
  EXPECT_FALSE(m.cpu.state().dr[7] & dbg::DR7_GD);
}

// MOV SS holds debug traps over the next instruction (SDM 6.8.3): with TF
// set, no trap after MOV SS; one after the NOP that follows it.
TEST_F(SimDebug, MovSsDefersTheSingleStepTrap) {
  Asm a(L::CODE);
  a.raw({0x8c, 0xd0});  // mov eax, ss
  set_tf(a);
  a.raw({0x8e, 0xd0});  // mov ss, eax (traps here are held)
  const uint64_t nop = a.here();
  a.nop();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), nop + 1) << "after the instruction that follows MOV SS";
  EXPECT_TRUE(dr6() & dbg::DR6_BS);
}

// A data breakpoint hit by MOV SS's own read, with INT3 next: the held
// trap survives the #BP delivery and is taken at the first instruction of
// the #BP handler, at CPL 0 (the behaviour behind CVE-2018-8897).
TEST_F(SimDebug, TrapHeldByMovSsReachesTheNextHandler) {
  Asm h(L::HANDLERS);
  const uint64_t bp_handler = h.here();
  h.nop();
  h.hlt();
  m.load_code(h);
  m.set_gate64(BP, bp_handler);
  Asm a(L::CODE);
  a.raw({0x8c, 0xd0});  // mov eax, ss
  a.mov_imm64(rBX, L::DATA);
  a.store32(mem_op(rBX, 0), rAX);
  arm(a, 1, L::DATA, dbg::RW_READ_WRITE, 1);
  a.raw({0x8e, 0x13});  // mov ss, [rbx]: reads the watched word
  a.int3();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  ASSERT_EQ(m.stub_vector(), DB);
  EXPECT_EQ(m.stack64(0), bp_handler) << "the #DB interrupts the #BP handler before its first instruction";
  EXPECT_EQ(dr6() & dbg::DR6_B0_B3, 2u);
}

// Each #DB rewrites B0-B3 with its own breakpoints; BS stays set until
// software clears it (SDM 18.2.3). A store with TF set reports BS and B0
// in one #DB.
TEST_F(SimDebug, Dr6KeepsStickyBitsAndRewritesB0ToB3) {
  counting_handler();
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  arm(a, 0, L::DATA, dbg::RW_WRITE, 0);
  a.mov_imm64(rBX, L::DATA);
  set_tf(a);
  a.store32(mem_op(rBX, 0), rAX);  // BS and B0
  a.nop();                         // BS alone: B0 is rewritten, BS stays
  a.pushfq();
  a.raw({0x48, 0x81, 0x24, 0x24}).raw({0xff, 0xfe, 0xff, 0xff});
  a.popfq();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.reg(r12), 5u);
  EXPECT_EQ(dr6(), dbg::DR6_FIXED1 | dbg::DR6_BS);
}


// IA32_DEBUGCTL.BTF (SDM 17.4.3): with TF, only taken branches trap — the
// NOP before the JMP does not, the JMP does. That #DB clears BTF ("the
// processor clears the BTF flag when it generates a debug exception"), and
// the handler does not set it again, so from then on every instruction
// traps: XOR, the JNZ that falls through, the taken JZ, PUSHF, AND and the
// POPF that clears TF (TF was set when it began). Bits the platform does
// not implement (TR, branch trace messages, here) are #GP.
TEST_F(SimDebug, BtfSingleStepsOnBranchesUntilADebugExceptionClearsIt) {
  counting_handler();
  Asm a(L::CODE);
  a.mov_imm32(r12, 0);
  a.mov_imm32(rCX, 0x1d9);  // IA32_DEBUGCTL
  a.mov_imm32(rAX, 2);      // BTF
  a.mov_imm32(rDX, 0);
  a.wrmsr();
  set_tf(a);
  a.nop();
  a.raw({0xeb, 0x01, 0x90});  // jmp over a NOP: taken, the first trap
  a.raw({0x31, 0xc0});        // xor eax, eax: ZF = 1
  a.raw({0x75, 0x00});        // jnz: not taken
  a.raw({0x74, 0x01, 0x90});  // jz over a NOP: taken
  a.pushfq();
  a.raw({0x48, 0x81, 0x24, 0x24}).raw({0xff, 0xfe, 0xff, 0xff});
  a.popfq();
  a.hlt();
  ASSERT_EQ(run(a), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), a.origin + a.bytes.size());
  EXPECT_EQ(m.reg(r12), 7u) << "the JMP by BTF, then six instructions one by one";
  EXPECT_EQ(m.cpu.state().debugctl & arch::msr::DEBUGCTL_BTF, 0u);
  Asm b(L::CODE + 0x800);  // fresh code: the harness writes RAM behind the decoded blocks
  b.mov_imm32(rCX, 0x1d9);
  b.mov_imm32(rAX, 1u << 6);  // TR
  b.mov_imm32(rDX, 0);
  const uint64_t at = b.here();
  b.wrmsr();
  b.hlt();
  m.cpu.set_halted(false);  // asleep at the first program's HLT
  ASSERT_EQ(run(b), CpuStop::Halted);
  ASSERT_EQ(m.stub_vector(), 13);
  EXPECT_EQ(m.stack64(1), at);
}

}  // namespace
}  // namespace nestbed::testing
