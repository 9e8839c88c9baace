// #SS(0), not #GP(0), for a non-canonical address that references the
// stack segment in 64-bit mode (SDM 3.3.7.1; vol. 2's exception lists for
// PUSH, POP, CALL, RET, MOV: "#SS(0) If a memory address referencing the SS
// segment is in a non-canonical form"), and #GP(0) for other segments
// (issue 14 item 4). Each fault is delivered on IST1, since the stack
// itself is unusable.
#include <gtest/gtest.h>

#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
using sim::CpuStop;

constexpr uint8_t SS = 12, GP = 13;
constexpr uint64_t kNonCanonical = 0x0000800000000000ull;  // the first non-canonical address above the lower half

class SimStackFault : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    for (uint8_t v : {SS, GP}) m.set_gate64(v, m.stub(v), GateType::Interrupt, 0, 1);  // IST1
  }
  // Runs `a` and expects `vector` with error code 0 on IST1, RIP in the
  // frame at `at` (a fault: the instruction did not run).
  void expect_fault(const Asm& a, uint8_t vector, uint64_t at) {
    m.load_code(a);
    m.rip() = a.origin;
    const CpuStop stop = m.run(1000);
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "rip 0x" << std::hex << m.rip();
    EXPECT_EQ(m.reg(rSP), L::IST1_TOP - 48) << "frame with an error code on IST1";
    EXPECT_EQ(m.stack64(0), 0u) << "error code";
    EXPECT_EQ(m.stack64(1), at) << "the faulting instruction";
  }
};

TEST_F(SimStackFault, PushWithNonCanonicalRspIsSs) {
  Asm a(L::CODE);
  a.mov_imm64(rSP, kNonCanonical + 8);
  const uint64_t at = a.here();
  a.raw({0x50});  // push rax
  a.hlt();
  expect_fault(a, SS, at);
}

TEST_F(SimStackFault, PopAndRetWithNonCanonicalRspAreSs) {
  for (uint8_t opcode : {uint8_t(0x58), uint8_t(0xc3)}) {  // pop rax; ret
    SetUp();
    Asm a(L::CODE);
    a.mov_imm64(rSP, kNonCanonical);
    const uint64_t at = a.here();
    a.raw({opcode});
    a.hlt();
    expect_fault(a, SS, at);
  }
}

// A push whose 8 bytes run from the canonical lower half into the
// non-canonical range.
TEST_F(SimStackFault, PushStraddlingTheCanonicalBoundaryIsSs) {
  Asm a(L::CODE);
  a.mov_imm64(rSP, kNonCanonical + 4);
  const uint64_t at = a.here();
  a.raw({0x50});  // push rax: bytes 0x7ffffffffffc..0x800000000003
  a.hlt();
  expect_fault(a, SS, at);
}

TEST_F(SimStackFault, RbpBasedOperandIsSsOtherBasesAreGp) {
  Asm a(L::CODE);
  a.mov_imm64(rBP, kNonCanonical);
  const uint64_t at = a.here();
  a.load64(rAX, mem_op(rBP, 0x10));  // mov rax, [rbp + 0x10]: SS
  a.hlt();
  expect_fault(a, SS, at);

  SetUp();
  Asm b(L::CODE);
  b.mov_imm64(rBX, kNonCanonical);
  const uint64_t at_b = b.here();
  b.load64(rAX, mem_op(rBX, 0x10));  // mov rax, [rbx + 0x10]: DS
  b.hlt();
  expect_fault(b, GP, at_b);
}

// An SS: override makes the operand a stack reference (36 is the prefix).
TEST_F(SimStackFault, SsOverrideIsSs) {
  Asm a(L::CODE);
  a.mov_imm64(rBX, kNonCanonical);
  const uint64_t at = a.here();
  a.raw({0x36});
  a.load64(rAX, mem_op(rBX, 0));  // mov rax, ss:[rbx]
  a.hlt();
  expect_fault(a, SS, at);
}

// PUSH with a non-canonical DS operand: the operand's #GP comes first.
TEST_F(SimStackFault, PushOfANonCanonicalDsOperandIsGp) {
  Asm a(L::CODE);
  a.mov_imm64(rBX, kNonCanonical);
  const uint64_t at = a.here();
  a.raw({0xff, 0x33});  // push qword [rbx]
  a.hlt();
  expect_fault(a, GP, at);
}

}  // namespace
}  // namespace nestbed::testing
