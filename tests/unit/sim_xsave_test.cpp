// The XSAVE feature set of the sim CPU against the SDM (vol. 1 chapter 13,
// vol. 2 XGETBV/XSETBV/XSAVE/XSAVEOPT/XRSTOR): CR4.OSXSAVE and its CPUID
// bit, XCR0's reset value and XSETBV's rules, the #UD/#NM/#GP cases, the
// XSAVE area (legacy region, XSTATE_BV, what is and is not written), XRSTOR's
// header checks and its init of components, and CPUID leaf 0DH. Images are
// compared with the host CPU's in differential_xsave_test.cpp.
#include <gtest/gtest.h>

#include <cstring>

#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/sse.h"
#include "arch/x86/xsave.h"
#include "l0/sim/cpu/cpuid.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace fx = arch::fxsave;
namespace xs = arch::xsave;
namespace xcr0 = arch::xcr0;
using sim::CpuStop;

constexpr int UD = 6, NM = 7, GP = 13;
constexpr uint64_t kArea = L::DATA;  // 64-byte aligned, identity-mapped

// ModRM for [rbx + disp8] with register field `reg`.
constexpr uint8_t mem_rbx(unsigned reg) { return uint8_t(0x43 | (reg << 3)); }

// 0F AE /4 XSAVE, /5 XRSTOR, /6 XSAVEOPT; REX.W for the 64-bit forms.
enum Op : unsigned { XSAVE = 4, XRSTOR = 5, XSAVEOPT = 6 };

class SimXsave : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.reg(sim::RBX) = kArea;
    clear_area();
  }
  // Runs `a` at CPL 0 on the current state (the HLT that ended the last
  // run, in the code or in a stub, is left behind).
  CpuStop run(const Asm& a) {
    m.load_code(a);
    m.rip() = a.origin;
    m.reg(sim::RSP) = L::STACK_TOP;
    m.cpu.set_halted(false);
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
  // Runs one XSAVE-family instruction on [rbx + disp] with EDX:EAX = mask.
  CpuStop area_op(Op op, uint64_t mask, bool rex_w = true, uint8_t disp = 0) {
    Asm a(L::CODE);
    if (rex_w) a.raw({0x48});
    a.raw({0x0f, 0xae, mem_rbx(op), disp});
    a.hlt();
    m.reg(sim::RAX) = uint32_t(mask);
    m.reg(sim::RDX) = mask >> 32;
    return run(a);
  }
  CpuStop xsetbv(uint32_t index, uint64_t value) {
    Asm a(L::CODE);
    a.raw({0x0f, 0x01, 0xd1});
    a.hlt();
    m.reg(sim::RCX) = index;
    m.reg(sim::RAX) = uint32_t(value);
    m.reg(sim::RDX) = value >> 32;
    return run(a);
  }
  CpuStop xgetbv(uint32_t index) {
    Asm a(L::CODE);
    a.raw({0x0f, 0x01, 0xd0});
    a.hlt();
    m.reg(sim::RCX) = index;
    return run(a);
  }
  void clear_area(uint8_t fill = 0) {
    for (unsigned k = 0; k < 1024; ++k) m.poke<uint8_t>(kArea + k, fill);
  }
  uint64_t xstate_bv() { return m.peek<uint64_t>(kArea + xs::XSTATE_BV); }
  // A non-initial x87 and SSE state.
  void dirty_state() {
    m.s().x87.fcw = 0x027f;
    m.s().x87.fsw = 0x3800;  // TOP = 7
    m.s().x87.ftw = 0x80;
    m.s().x87.fip = 0x1122334455ull;
    m.s().x87.fop = 0x123;
    for (unsigned k = 0; k < 10; ++k) m.s().x87.st[0][k] = uint8_t(0x10 + k);
    for (unsigned r = 0; r < 16; ++r) m.s().xmm[r] = sim::Xmm{{0x0101010101010101ull * (r + 1), ~uint64_t(r)}};
    m.s().mxcsr = 0x1f80 | arch::mxcsr::FZ;
  }
};

// Reset: XCR0 = 1 (x87 only), CR4.OSXSAVE = 0 (SDM vol. 3, table 10-1;
// vol. 1, 13.3).
TEST_F(SimXsave, ResetState) {
  m.cpu.reset_to_multiboot(0x100000, 0x2badb002, 0);
  EXPECT_EQ(m.s().xcr0, xcr0::X87);
  EXPECT_EQ(m.s().cr4 & cr4::OSXSAVE, 0u);
}

// MOV to CR4 accepts OSXSAVE (CPUID reports XSAVE), and CPUID.01H:ECX.OSXSAVE
// follows it; XSAVE is reported always.
TEST_F(SimXsave, Cr4OsxsaveAndCpuidBit) {
  for (bool on : {true, false}) {
    Asm a(L::CODE);
    a.mov_from_cr(sim::RAX, 4);
    a.raw({0x48, 0x0d}).raw({0, 0, 4, 0});  // or rax, 0x40000 (CR4.OSXSAVE)
    if (!on) a.raw({0x48, 0x35}).raw({0, 0, 4, 0});  // xor rax, 0x40000
    a.mov_to_cr(4, sim::RAX);
    a.mov_imm32(sim::RAX, 1).raw({0x0f, 0xa2});  // cpuid
    a.hlt();
    m.s().cr4 &= ~cr4::OSXSAVE;
    expect_done(run(a));
    EXPECT_EQ((m.s().cr4 & cr4::OSXSAVE) != 0, on);
    EXPECT_TRUE(m.reg(sim::RCX) & arch::cpuid::L1_ECX_XSAVE);
    EXPECT_EQ((m.reg(sim::RCX) & arch::cpuid::L1_ECX_OSXSAVE) != 0, on);
  }
}

// XGETBV/XSETBV/XSAVE/XRSTOR/XSAVEOPT: #UD with CR4.OSXSAVE = 0.
TEST_F(SimXsave, UdWithoutOsxsave) {
  m.s().cr4 &= ~cr4::OSXSAVE;
  expect_stub(xgetbv(0), UD);
  expect_stub(xsetbv(0, 3), UD);
  for (Op op : {XSAVE, XRSTOR, XSAVEOPT}) {
    m.enter_long_mode();
    m.s().cr4 = (m.s().cr4 | cr4::OSFXSR) & ~cr4::OSXSAVE;
    m.reg(sim::RBX) = kArea;
    expect_stub(area_op(op, 3), UD);
  }
}

// XSAVE/XRSTOR/XSAVEOPT: #NM with CR0.TS, but CR0.EM does not matter (SDM
// vol. 2, XSAVE: no EM condition); XGETBV/XSETBV ignore both.
TEST_F(SimXsave, NmWithTsNotEm) {
  for (Op op : {XSAVE, XRSTOR, XSAVEOPT}) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.reg(sim::RBX) = kArea;
    m.s().cr0 |= cr0::TS;
    expect_stub(area_op(op, 3), NM);
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.reg(sim::RBX) = kArea;
    m.s().cr0 |= cr0::EM;
    clear_area();
    expect_done(area_op(op, 3));
  }
  m.s().cr0 |= cr0::TS;
  expect_done(xgetbv(0));
  expect_done(xsetbv(0, 3));
}

// The area must be 64-byte aligned: #GP(0) otherwise, even at 16 bytes.
TEST_F(SimXsave, MisalignedAreaIsGp) {
  for (Op op : {XSAVE, XRSTOR, XSAVEOPT}) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.reg(sim::RBX) = kArea;
    expect_stub(area_op(op, 3, true, 16), GP);
  }
}

// XGETBV: ECX = 0 gives XCR0 at any CPL... ECX = 1 is #GP(0) (XGETBV_ECX_1
// is not reported), like any other ECX.
TEST_F(SimXsave, Xgetbv) {
  m.s().xcr0 = 3;
  m.reg(sim::RDX) = ~0ull;
  expect_done(xgetbv(0));
  EXPECT_EQ(m.reg(sim::RAX), 3u);
  EXPECT_EQ(m.reg(sim::RDX), 0u);
  expect_stub(xgetbv(1), GP);
  expect_stub(xgetbv(2), GP);
}

// XSETBV's rules (SDM vol. 2, XSETBV): #GP(0) for ECX != 0, bit 0 clear, AVX
// without SSE, and bits the CPU does not support (AVX and everything above
// SSE here); XCR0 unchanged after a #GP.
TEST_F(SimXsave, XsetbvRules) {
  expect_done(xsetbv(0, 3));
  EXPECT_EQ(m.s().xcr0, 3u);
  expect_done(xsetbv(0, 1));
  EXPECT_EQ(m.s().xcr0, 1u);
  struct Bad {
    uint32_t ecx;
    uint64_t value;
  } bad[] = {{1, 1}, {0, 0}, {0, 2}, {0, 4}, {0, 5}, {0, 7}, {0, 1ull << 32 | 1}, {0, 0x19}, {0xffffffff, 3}};
  for (const Bad& b : bad) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.s().xcr0 = 1;
    expect_stub(xsetbv(b.ecx, b.value), GP);
    EXPECT_EQ(m.s().xcr0, 1u) << std::hex << b.ecx << " " << b.value;
  }
}

// XSETBV at CPL 3 is #GP(0); XGETBV at CPL 3 works.
TEST_F(SimXsave, XsetbvNeedsCpl0) {
  constexpr uint64_t kUser = L::CODE + 0x100;
  Asm a(L::CODE);
  a.push_imm32(sel::UDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(int32_t(arch::rflags::FIXED1));
  a.push_imm32(sel::UCODE64).push_imm32(int32_t(kUser)).iretq();
  Asm u(kUser);
  u.raw({0x0f, 0x01, 0xd0});  // xgetbv: fine at CPL 3
  u.raw({0x0f, 0x01, 0xd1});  // xsetbv
  u.hlt();
  m.load_code(u);
  m.reg(sim::RCX) = 0;
  m.reg(sim::RAX) = 3;
  m.reg(sim::RDX) = 0;
  expect_stub(run(a), GP);
  EXPECT_EQ(m.reg(sim::RAX), 1u);  // XGETBV's XCR0 before the XSETBV
  EXPECT_EQ(m.s().xcr0, 1u);
}

// CPUID leaf 0DH: sub-leaf 0 EAX = 3 (x87 | SSE), EBX = ECX = 576, EDX = 0;
// sub-leaf 1 EAX = XSAVEOPT only; the component sub-leaves are zero; the
// maximum basic leaf is 0DH.
TEST_F(SimXsave, CpuidLeafD) {
  using sim::cpuid;
  sim::CpuidState st;
  const sim::CpuidResult l0 = cpuid(0xd, 0, 0, st);
  EXPECT_EQ(l0.eax, 3u);
  EXPECT_EQ(l0.ebx, 576u);
  EXPECT_EQ(l0.ecx, 576u);
  EXPECT_EQ(l0.edx, 0u);
  st.xcr0 = 3;
  EXPECT_EQ(cpuid(0xd, 0, 0, st).ebx, 576u);
  const sim::CpuidResult l1 = cpuid(0xd, 1, 0, st);
  EXPECT_EQ(l1.eax, arch::cpuid::LD_1_EAX_XSAVEOPT);
  EXPECT_EQ(l1.ebx | l1.ecx | l1.edx, 0u);
  for (uint32_t sub : {2u, 3u, 62u, 63u}) {
    const sim::CpuidResult r = cpuid(0xd, sub, 0, st);
    EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << sub;
  }
  EXPECT_EQ(cpuid(0, 0, 0, st).eax, 0xdu);
  for (uint32_t leaf = 8; leaf <= 0xc; ++leaf) {
    const sim::CpuidResult r = cpuid(leaf, 0, 0, st);
    EXPECT_EQ(r.eax | r.ebx | r.ecx | r.edx, 0u) << leaf;
  }
  st.osxsave = true;
  EXPECT_TRUE(cpuid(1, 0, 0, st).ecx & arch::cpuid::L1_ECX_OSXSAVE);
}

// XSAVE with RFBM = 3: the legacy region as FXSAVE64 writes it, XSTATE_BV
// = 3 for a non-initial state, bytes 416-511 and the rest of the header
// untouched. With XCR0 = 1 only the x87 part is written (and not MXCSR).
TEST_F(SimXsave, XsaveLayout) {
  m.s().xcr0 = 3;
  dirty_state();
  clear_area(0xcc);
  m.poke<uint64_t>(kArea + xs::XSTATE_BV, 0xf0);
  expect_done(area_op(XSAVE, ~0ull));
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FCW), 0x027f);
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FSW), 0x3800);
  EXPECT_EQ(m.peek<uint8_t>(kArea + fx::FTW), 0x80);
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FOP), 0x123);
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::FIP), 0x1122334455ull);  // 64-bit layout
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::MXCSR), 0x1f80u | arch::mxcsr::FZ);
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::MXCSR_MASK), arch::mxcsr::SUPPORTED);
  EXPECT_EQ(m.peek<uint8_t>(kArea + fx::ST0 + 9), 0x19);
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0 + 15 * fx::SLOT), 0x1010101010101010ull);
  EXPECT_EQ(m.peek<uint8_t>(kArea + 416), 0xcc);
  EXPECT_EQ(m.peek<uint8_t>(kArea + 511), 0xcc);
  EXPECT_EQ(xstate_bv(), 0xf3u);  // bits outside RFBM kept
  EXPECT_EQ(m.peek<uint64_t>(kArea + xs::XCOMP_BV), 0xccccccccccccccccull);

  m.s().xcr0 = 1;
  clear_area(0xcc);
  expect_done(area_op(XSAVE, ~0ull));
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FCW), 0x027f);
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::MXCSR), 0xccccccccu);
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0), 0xccccccccccccccccull);
  EXPECT_EQ(xstate_bv(), 0xcccccccccccccccdull);  // bit 0 set from XINUSE, bits 63:1 kept
}

// The 32-bit form (no REX.W) stores FIP as a 32-bit offset with FCS.
TEST_F(SimXsave, XsaveWithoutRexWUses32BitPointers) {
  m.s().xcr0 = 3;
  dirty_state();
  m.s().x87.fcs = 0x33;
  expect_done(area_op(XSAVE, 3, false));
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::FIP), 0x22334455u);
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FCS), 0x33);
}

// Init tracking: a component in its initial configuration is saved with
// XSTATE_BV bit 0 by XSAVE (its data written all the same) and not written
// by XSAVEOPT (the init optimization).
TEST_F(SimXsave, InitComponentsInXstateBv) {
  m.s().xcr0 = 3;
  m.s().mxcsr = 0x1f80 | arch::mxcsr::DAZ;
  clear_area(0xcc);
  expect_done(area_op(XSAVE, 3));
  EXPECT_EQ(xstate_bv() & 3, 0u);
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FCW), 0x037f);
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0), 0u);
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::MXCSR), 0x1fc0u);

  clear_area(0xcc);
  expect_done(area_op(XSAVEOPT, 3));
  EXPECT_EQ(xstate_bv() & 3, 0u);
  EXPECT_EQ(m.peek<uint16_t>(kArea + fx::FCW), 0xcccc);            // x87 not written
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0), 0xccccccccccccccccull);  // nor the XMM registers
  EXPECT_EQ(m.peek<uint32_t>(kArea + fx::MXCSR), 0x1fc0u);          // MXCSR always is
}

// XRSTOR: the round trip restores what XSAVE saved; XSTATE_BV bits 0 set
// the components to their initial configuration; MXCSR is loaded whenever
// RFBM[1] is set; components outside RFBM are left alone.
TEST_F(SimXsave, XrstorRoundTripAndInit) {
  m.s().xcr0 = 3;
  dirty_state();
  const sim::CpuState saved = m.s();
  expect_done(area_op(XSAVE, 3));
  m.s().x87 = sim::X87State{};
  for (auto& x : m.s().xmm) x = sim::Xmm{};
  m.s().mxcsr = 0x1f80;
  expect_done(area_op(XRSTOR, 3));
  EXPECT_EQ(m.s().x87.fcw, saved.x87.fcw);
  EXPECT_EQ(m.s().x87.fip, saved.x87.fip);
  EXPECT_EQ(0, std::memcmp(m.s().x87.st, saved.x87.st, sizeof saved.x87.st));
  EXPECT_EQ(m.s().mxcsr, saved.mxcsr);
  for (unsigned r = 0; r < 16; ++r) EXPECT_EQ(m.s().xmm[r].q[0], saved.xmm[r].q[0]) << r;

  // XSTATE_BV = 0: both initialized, MXCSR still loaded (from the area).
  m.poke<uint64_t>(kArea + xs::XSTATE_BV, 0);
  m.poke<uint32_t>(kArea + fx::MXCSR, 0x1f80 | arch::mxcsr::DAZ);
  expect_done(area_op(XRSTOR, 3));
  EXPECT_EQ(m.s().x87.fcw, 0x037fu);
  EXPECT_EQ(m.s().x87.fip, 0u);
  EXPECT_EQ(m.s().x87.st[0][0], 0u);
  EXPECT_EQ(m.s().xmm[7].q[1], 0u);
  EXPECT_EQ(m.s().mxcsr, 0x1f80u | arch::mxcsr::DAZ);

  // RFBM = 1: SSE state and MXCSR untouched.
  dirty_state();
  m.poke<uint64_t>(kArea + xs::XSTATE_BV, 0);
  expect_done(area_op(XRSTOR, 1));
  EXPECT_EQ(m.s().x87.fcw, 0x037fu);
  EXPECT_EQ(m.s().xmm[0].q[0], 0x0101010101010101ull);
  EXPECT_EQ(m.s().mxcsr, 0x1f80u | arch::mxcsr::FZ);
}

// XRSTOR's #GP(0) checks (SDM vol. 2, XRSTOR, standard form): XCOMP_BV bit
// 63 (or any XCOMP_BV bit), header bytes 23:16, XSTATE_BV bits outside
// XCR0, MXCSR reserved bits when MXCSR is loaded; nothing changes on a
// fault. Header bytes 63:24 are not checked.
TEST_F(SimXsave, XrstorChecks) {
  struct Case {
    unsigned off;
    uint64_t value;
    uint64_t rfbm;
    bool gp;
  } cases[] = {
      {xs::XCOMP_BV, 1ull << 63, 3, true},   {xs::XCOMP_BV, 1, 3, true},       {xs::XCOMP_BV + 8, 1, 3, true},
      {xs::XSTATE_BV, 4, 3, true},           {xs::XSTATE_BV, 4, 1, true},      {xs::HEADER + 24, ~0ull, 3, false},
      {fx::MXCSR, 0x10000 | 0x1f80, 3, true}, {fx::MXCSR, 0x10000 | 0x1f80, 1, false},
  };
  for (const Case& k : cases) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
    m.s().xcr0 = 3;
    m.reg(sim::RBX) = kArea;
    clear_area();
    m.poke<uint32_t>(kArea + fx::MXCSR, 0x1f80);
    m.poke<uint16_t>(kArea + fx::FCW, 0x027f);
    m.poke<uint64_t>(kArea + xs::XSTATE_BV, 1);
    if (k.off == fx::MXCSR)
      m.poke<uint32_t>(kArea + k.off, uint32_t(k.value));
    else
      m.poke<uint64_t>(kArea + k.off, k.value | (k.off == xs::XSTATE_BV ? 1 : 0));
    m.s().x87.fcw = 0x037f;
    if (k.gp) {
      expect_stub(area_op(XRSTOR, k.rfbm), GP);
      EXPECT_EQ(m.s().x87.fcw, 0x037fu) << k.off;
    } else {
      expect_done(area_op(XRSTOR, k.rfbm));
      EXPECT_EQ(m.s().x87.fcw, 0x027fu) << k.off;
    }
  }
}

// XSAVE in 32-bit protected mode writes XMM0-XMM7 only.
TEST_F(SimXsave, ProtectedModeSavesEightXmm) {
  m.setup_protected_mode();
  m.s().cr4 |= cr4::OSFXSR | cr4::OSXSAVE;
  m.s().xcr0 = 3;
  dirty_state();
  clear_area(0xcc);
  m.reg(sim::RBX) = kArea;
  expect_done(area_op(XSAVE, 3, false));
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0 + 7 * fx::SLOT), 0x0808080808080808ull);
  EXPECT_EQ(m.peek<uint64_t>(kArea + fx::XMM0 + 8 * fx::SLOT), 0xccccccccccccccccull);
  EXPECT_EQ(xstate_bv() & 3, 3u);
}

}  // namespace
}  // namespace nestbed::testing
