// SSE/SSE2 system behaviour of the sim CPU against the SDM: when SSE is
// available (CR0.EM, CR0.TS, CR4.OSFXSR; #UD and #NM), alignment #GP, the
// SIMD floating-point exception (#XM, or #UD with CR4.OSXMMEXCPT clear)
// and what it leaves behind, LDMXCSR/FXRSTOR reserved bits, FXSAVE's
// layout and the FXSAVE/FXRSTOR round trip, 16-byte stores that fault
// half-way, the x87 control words, and CPUID. Values of the operations
// themselves are checked against the host in differential_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/paging.h"
#include "arch/x86/sse.h"
#include "l0/sim/cpu/cpuid.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace mxb = arch::mxcsr;
namespace fx = arch::fxsave;
using sim::CpuStop;

constexpr uint8_t UD = 6, NM = 7, GP = 13, PF = 14, XM = 19;
constexpr uint64_t kData = L::DATA;  // 16-byte aligned, identity-mapped

// ModRM for [rbx + disp8] with register field `reg`, and for register to register.
constexpr uint8_t mem_rbx(unsigned reg) { return uint8_t(0x43 | (reg << 3)); }
constexpr uint8_t rr(unsigned reg, unsigned rm) { return uint8_t(0xc0 | (reg << 3) | rm); }

class SimSse : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    m.s().cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
    m.reg(sim::RBX) = kData;
  }
  CpuStop run(const Asm& a) {
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
  void set_xmm(unsigned r, uint64_t lo, uint64_t hi) { m.s().xmm[r] = sim::Xmm{{lo, hi}}; }
  uint64_t xmm_lo(unsigned r) { return m.s().xmm[r].q[0]; }
  uint64_t xmm_hi(unsigned r) { return m.s().xmm[r].q[1]; }
};

float f32_value(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t f32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The reset values of SDM vol. 3 table 10-1 (MXCSR) and FNINIT's x87
// control word, tag word empty.
TEST_F(SimSse, StateAtMultibootEntry) {
  m.cpu.reset_to_multiboot(0x100000, 0x2badb002, 0);
  EXPECT_EQ(m.s().mxcsr, 0x1f80u);
  EXPECT_EQ(m.s().x87.fcw, 0x037fu);
  EXPECT_EQ(m.s().x87.fsw, 0u);
  EXPECT_EQ(m.s().x87.ftw, 0u);
  for (unsigned k = 0; k < 16; ++k) EXPECT_EQ(m.s().xmm[k].q[0] | m.s().xmm[k].q[1], 0u);
}

// CPUID.01H:EDX reports FXSR, SSE and SSE2 (bits 24-26) and FPU (the x87,
// sim_x87_test.cpp). (The later SSE levels in ECX: sim_sse4_test.cpp.)
TEST_F(SimSse, CpuidReportsFxsrSseSse2Only) {
  const sim::CpuidResult r = sim::cpuid(1, 0, 0);
  EXPECT_TRUE(r.edx & arch::cpuid::L1_EDX_FXSR);
  EXPECT_TRUE(r.edx & arch::cpuid::L1_EDX_SSE);
  EXPECT_TRUE(r.edx & arch::cpuid::L1_EDX_SSE2);
  EXPECT_TRUE(r.edx & arch::cpuid::L1_EDX_FPU);
}

// SDM vol. 3 13.1-13.2: an SSE instruction is #UD with CR4.OSFXSR = 0 or
// CR0.EM = 1 (before #NM), #NM with CR0.TS = 1; nothing changes.
TEST_F(SimSse, AvailabilityChecksRaiseUdThenNm) {
  Asm a(L::CODE);
  a.raw({0x0f, 0x58, rr(0, 1)});  // addps xmm0, xmm1
  a.hlt();
  struct Case {
    uint64_t cr0_set, cr4_clear;
    int vector;
  } cases[] = {{0, cr4::OSFXSR, UD}, {cr0::EM, 0, UD}, {cr0::EM | cr0::TS, 0, UD}, {cr0::TS, 0, NM},
               {cr0::TS, cr4::OSFXSR, UD}};
  for (const Case& c : cases) {
    m.enter_long_mode();
    m.s().cr4 = (m.s().cr4 | cr4::OSFXSR | cr4::OSXMMEXCPT) & ~c.cr4_clear;
    m.s().cr0 |= c.cr0_set;
    set_xmm(0, 1, 2);
    expect_stub(run(a), c.vector);
    EXPECT_EQ(m.stack64(0), L::CODE);
    EXPECT_EQ(xmm_lo(0), 1u);
  }
  // LDMXCSR and MOVD are SSE instructions too.
  m.enter_long_mode();
  m.s().cr0 |= cr0::TS;
  m.s().cr4 |= cr4::OSFXSR;
  Asm b(L::CODE);
  b.raw({0x0f, 0xae, mem_rbx(2), 0});  // ldmxcsr [rbx]
  b.hlt();
  m.reg(sim::RBX) = kData;
  expect_stub(run(b), NM);
}

// FXSAVE/FXRSTOR: #NM with CR0.TS or CR0.EM (SDM vol. 2 FXSAVE), but no
// #UD for CR4.OSFXSR = 0. FWAIT: #NM only with CR0.MP and CR0.TS both set.
TEST_F(SimSse, FxsaveAndFwaitAvailability) {
  Asm a(L::CODE);
  a.raw({0x0f, 0xae, mem_rbx(0), 0});  // fxsave [rbx]
  a.hlt();
  m.s().cr4 &= ~cr4::OSFXSR;
  expect_done(run(a));
  for (uint64_t bit : {cr0::TS, cr0::EM}) {
    m.enter_long_mode();
    m.reg(sim::RBX) = kData;
    m.s().cr0 |= bit;
    expect_stub(run(a), NM);
  }
  Asm w(L::CODE);
  w.raw({0x9b});  // fwait
  w.hlt();
  m.enter_long_mode();
  m.s().cr0 |= cr0::TS;
  m.s().cr0 &= ~cr0::MP;
  expect_done(run(w));
  m.enter_long_mode();
  m.s().cr0 |= cr0::TS | cr0::MP;
  expect_stub(run(w), NM);
}

// MOVAPS/MOVDQA and packed operations with a misaligned m128 are #GP(0);
// MOVUPS is not; scalar forms are not (SDM vol. 2, each instruction).
TEST_F(SimSse, MisalignedAlignedFormsRaiseGp) {
  for (uint64_t k = 0; k < 4; ++k) m.poke<uint64_t>(kData + 8 * k, 0x1111111111111111ull * (k + 1));
  struct Case {
    std::vector<uint8_t> insn;
    bool faults;
  } cases[] = {
      {{0x0f, 0x28, mem_rbx(0), 8}, true},         // movaps xmm0, [rbx+8]
      {{0x66, 0x0f, 0x6f, mem_rbx(0), 8}, true},   // movdqa xmm0, [rbx+8]
      {{0x0f, 0x29, mem_rbx(0), 8}, true},         // movaps [rbx+8], xmm0
      {{0x66, 0x0f, 0xfe, mem_rbx(0), 8}, true},   // paddd xmm0, [rbx+8]
      {{0x0f, 0x58, mem_rbx(0), 8}, true},         // addps xmm0, [rbx+8]
      {{0x0f, 0x10, mem_rbx(0), 8}, false},        // movups xmm0, [rbx+8]
      {{0xf3, 0x0f, 0x6f, mem_rbx(0), 8}, false},  // movdqu xmm0, [rbx+8]
      {{0xf3, 0x0f, 0x58, mem_rbx(0), 4}, false},  // addss xmm0, [rbx+4]
  };
  for (const Case& c : cases) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR;
    m.reg(sim::RBX) = kData;
    set_xmm(0, 7, 9);
    Asm a(L::CODE);
    a.bytes.insert(a.bytes.end(), c.insn.begin(), c.insn.end());
    a.hlt();
    if (c.faults) {
      expect_stub(run(a), GP);
      EXPECT_EQ(m.stack64(0), 0u) << "error code";
      EXPECT_EQ(m.stack64(1), L::CODE);
      EXPECT_EQ(xmm_lo(0), 7u);
      EXPECT_EQ(m.peek<uint64_t>(kData + 8), 0x2222222222222222ull);
    } else {
      expect_done(run(a));
    }
  }
  EXPECT_EQ(m.s().xmm[0].q[1], 9u) << "addss keeps the upper elements";
}

// A 16-byte store whose second half is on a page that faults: #PF and
// nothing written, not even the first half.
TEST_F(SimSse, SplitStoreFaultWritesNothing) {
  const uint64_t la = 0x40000000;
  m.map(la, L::SCRATCH, arch::pte::P | arch::pte::RW);  // the next page is not mapped
  m.poke<uint64_t>(L::SCRATCH + 0xff8, 0x5a5a5a5a5a5a5a5aull);
  m.reg(sim::RBX) = la + 0xff8;
  set_xmm(3, 0x0123456789abcdefull, 0xfedcba9876543210ull);
  Asm a(L::CODE);
  a.raw({0xf3, 0x0f, 0x7f, 0x1b});  // movdqu [rbx], xmm3
  a.hlt();
  expect_stub(run(a), PF);
  EXPECT_EQ(m.s().cr2, la + 0x1000);
  EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0xff8), 0x5a5a5a5a5a5a5a5aull);
  // MASKMOVDQU to DS:RDI likewise, even with only first-page bytes selected.
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR;
  m.reg(sim::RDI) = la + 0xff8;
  set_xmm(0, 0x0123456789abcdefull, 0xfedcba9876543210ull);
  set_xmm(1, 0x8080808080808080ull, 0);
  Asm b(L::CODE);
  b.raw({0x66, 0x0f, 0xf7, 0xc1});  // maskmovdqu xmm0, xmm1
  b.hlt();
  expect_stub(run(b), PF);
  EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0xff8), 0x5a5a5a5a5a5a5a5aull);
  // Within one page: only the selected bytes change.
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR;
  m.reg(sim::RDI) = la + 0x100;
  m.poke<uint64_t>(L::SCRATCH + 0x100, 0);
  set_xmm(0, 0x0123456789abcdefull, 0);
  set_xmm(1, 0x00000000800080ffull, 0);
  expect_done(run(b));
  EXPECT_EQ(m.peek<uint64_t>(L::SCRATCH + 0x100), 0x000000008900cdefull);  // bytes 0, 1, 3
}

// SDM vol. 1 11.5.2: masked, divide-by-zero sets MXCSR.ZE and gives an
// infinity; unmasked, the destination is unchanged, ZE is set and #XM is
// raised (#UD with CR4.OSXMMEXCPT = 0, SDM vol. 3 13.2).
TEST_F(SimSse, UnmaskedExceptionRaisesXmOrUd) {
  Asm a(L::CODE);
  a.raw({0xf3, 0x0f, 0x5e, rr(0, 1)});  // divss xmm0, xmm1
  a.hlt();
  set_xmm(0, f32(1.0f), 0x77);
  set_xmm(1, f32(0.0f), 0);
  expect_done(run(a));
  EXPECT_EQ(xmm_lo(0) & 0xffffffff, f32(__builtin_inff()));
  EXPECT_EQ(xmm_lo(0) >> 32, 0u);
  EXPECT_EQ(xmm_hi(0), 0x77u);
  EXPECT_EQ(m.s().mxcsr, mxb::RESET | mxb::ZE);

  for (bool osxmmexcpt : {true, false}) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR | (osxmmexcpt ? cr4::OSXMMEXCPT : 0);
    m.s().mxcsr = mxb::RESET & ~(mxb::ZE << mxb::MASK_SHIFT);  // ZM clear
    set_xmm(0, f32(1.0f), 0x77);
    set_xmm(1, f32(0.0f), 0);
    expect_stub(run(a), osxmmexcpt ? XM : UD);
    EXPECT_EQ(m.stack64(0), L::CODE);
    EXPECT_EQ(xmm_lo(0), f32(1.0f)) << "destination unchanged";
    EXPECT_EQ(m.s().mxcsr, (mxb::RESET & ~(mxb::ZE << mxb::MASK_SHIFT)) | mxb::ZE);
  }
  // Inexact unmasked (PM clear): 1/3 traps; 1/2 is exact and does not.
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
  m.s().mxcsr = mxb::RESET & ~(mxb::PE << mxb::MASK_SHIFT);
  set_xmm(0, f32(1.0f), 0);
  set_xmm(1, f32(2.0f), 0);
  expect_done(run(a));
  EXPECT_EQ(xmm_lo(0), f32(0.5f));
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
  m.s().mxcsr = mxb::RESET & ~(mxb::PE << mxb::MASK_SHIFT);
  set_xmm(0, f32(1.0f), 0);
  set_xmm(1, f32(3.0f), 0);
  expect_stub(run(a), XM);
  EXPECT_EQ(m.s().mxcsr & mxb::FLAGS, mxb::PE);
  EXPECT_EQ(xmm_lo(0), f32(1.0f));
}

// RCPPS/RCPSS/RSQRTPS/RSQRTSS (SDM vol. 2): the SDM fixes their special
// cases and bounds their relative error by 1.5 * 2^-12; the sim returns the
// reciprocal (of the square root) rounded to nearest. No SIMD
// floating-point exception and no MXCSR flag, even with every exception
// unmasked; the SS forms keep elements 1-3.
TEST_F(SimSse, ApproximateReciprocalsFollowTheSdm) {
  struct Case {
    uint32_t in, rcp, rsqrt;
  };
  const uint32_t INF = 0x7f800000, NINF = 0xff800000, INDEF = 0xffc00000;
  const Case cases[] = {
      {0x00000000, INF, INF},                   // +0
      {0x80000000, NINF, NINF},                 // -0
      {0x00000001, INF, INF},                   // denormals are zeros of their sign
      {0x80400000, NINF, NINF},
      {0x00800c01, INF, f32(float(1.0 / std::sqrt(double(f32_value(0x00800c01)))))},  // RCP's last infinite input
      {0x00800c02, f32(1.0f / f32_value(0x00800c02)), f32(float(1.0 / std::sqrt(double(f32_value(0x00800c02)))))},
      {0x7e7fe800, 0x00000000, f32(float(1.0 / std::sqrt(double(f32_value(0x7e7fe800)))))},  // RCP's first tiny
      {0xfe7fe800, 0x80000000, INDEF},
      {0x7e7fe7ff, f32(1.0f / f32_value(0x7e7fe7ff)), f32(float(1.0 / std::sqrt(double(f32_value(0x7e7fe7ff)))))},
      {INF, 0x00000000, 0x00000000},
      {NINF, 0x80000000, INDEF},
      {f32(-1.0f), f32(-1.0f), INDEF},
      {f32(2.0f), f32(0.5f), f32(float(1.0 / std::sqrt(2.0)))},
      {f32(4.0f), f32(0.25f), f32(0.5f)},
      {f32(3.0f), f32(1.0f / 3.0f), f32(float(1.0 / std::sqrt(3.0)))},
      {0x7fc01234, 0x7fc01234, 0x7fc01234},     // a QNaN stays
      {0xff801234, 0xffc01234, 0xffc01234},     // an SNaN is quieted
  };
  const uint32_t all_unmasked = mxb::RESET & ~mxb::MASKS;
  Asm programs[4] = {Asm(L::CODE), Asm(L::CODE), Asm(L::CODE), Asm(L::CODE)};
  programs[0].raw({0x0f, 0x53, rr(0, 1)}).hlt();        // rcpps xmm0, xmm1
  programs[1].raw({0xf3, 0x0f, 0x53, rr(0, 1)}).hlt();  // rcpss xmm0, xmm1
  programs[2].raw({0x0f, 0x52, rr(0, 1)}).hlt();        // rsqrtps xmm0, xmm1
  programs[3].raw({0xf3, 0x0f, 0x52, rr(0, 1)}).hlt();  // rsqrtss xmm0, xmm1
  for (const Case& c : cases) {
    // Within the SDM's bound of the exact value where the result is finite and nonzero.
    for (uint32_t r : {c.rcp, c.rsqrt}) {
      const float x = f32_value(c.in), got = f32_value(r);
      if (!std::isfinite(x) || x <= 0 || !std::isnormal(got)) continue;
      const long double exact = r == c.rcp ? 1.0L / x : 1.0L / std::sqrt((long double)x);
      EXPECT_LE(std::fabs((long double)got - exact) / exact, 1.5L / 4096) << std::hex << c.in;
    }
    for (int op = 0; op < 4; op++) {  // RCPPS, RCPSS, RSQRTPS, RSQRTSS
      const bool scalar = op & 1, rsqrt = op & 2;
      m.enter_long_mode();
      m.s().cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
      m.s().mxcsr = all_unmasked;
      const Asm& a = programs[op];
      set_xmm(0, 0x1111111122222222ull, 0x3333333344444444ull);
      set_xmm(1, uint64_t(c.in) | uint64_t(c.in) << 32, uint64_t(c.in) | uint64_t(c.in) << 32);
      expect_done(run(a));
      const uint64_t want = rsqrt ? c.rsqrt : c.rcp;
      EXPECT_EQ(xmm_lo(0) & 0xffffffff, want) << "op " << op << " of 0x" << std::hex << c.in;
      if (scalar) {
        EXPECT_EQ(xmm_lo(0) >> 32, 0x11111111u);
        EXPECT_EQ(xmm_hi(0), 0x3333333344444444ull);
      } else {
        EXPECT_EQ(xmm_lo(0), want | want << 32);
        EXPECT_EQ(xmm_hi(0), want | want << 32);
      }
      EXPECT_EQ(m.s().mxcsr, all_unmasked) << "no flag";
    }
  }
}

// LDMXCSR with a bit outside MXCSR_MASK (0xffff) is #GP(0) and leaves MXCSR;
// STMXCSR stores it back; FXRSTOR checks the same bits.
TEST_F(SimSse, LdmxcsrReservedBitsRaiseGp) {
  Asm a(L::CODE);
  a.raw({0x0f, 0xae, mem_rbx(2), 0});  // ldmxcsr [rbx]
  a.raw({0x0f, 0xae, mem_rbx(3), 4});  // stmxcsr [rbx+4]
  a.hlt();
  m.poke<uint32_t>(kData, 0x7fc1);  // RZ, DAZ, IE
  m.poke<uint32_t>(kData + 4, 0);
  expect_done(run(a));
  EXPECT_EQ(m.s().mxcsr, 0x7fc1u);
  EXPECT_EQ(m.peek<uint32_t>(kData + 4), 0x7fc1u);
  for (uint32_t bad : {0x10000u, 0x20000u, 0x80000000u}) {
    m.enter_long_mode();
    m.s().cr4 |= cr4::OSFXSR;
    m.reg(sim::RBX) = kData;
    m.poke<uint32_t>(kData, 0x1f80 | bad);
    expect_stub(run(a), GP);
    EXPECT_EQ(m.stack64(0), 0u);
    EXPECT_EQ(m.s().mxcsr, 0x1f80u);
  }
}

// FXSAVE's image (SDM vol. 1 table 10-3, 64-bit layout with REX.W):
// FCW, FSW, abridged FTW, MXCSR, MXCSR_MASK, the XMM registers; then
// FXRSTOR of it restores them all; FXRSTOR of a bad MXCSR is #GP(0) and
// restores nothing; a misaligned image is #GP(0).
TEST_F(SimSse, FxsaveFxrstorRoundTrip) {
  for (unsigned k = 0; k < 16; ++k) set_xmm(k, 0x1000 + k, 0xa000 + k);
  m.s().mxcsr = 0x9fc0;  // FTZ, DAZ
  m.s().x87.fcw = 0x027f;
  std::memset(m.s().x87.st[2], 0x3c, 10);
  for (unsigned k = 0; k < 512; k += 8) m.poke<uint64_t>(kData + k, 0xeeeeeeeeeeeeeeeeull);
  Asm a(L::CODE);
  a.raw({0x48, 0x0f, 0xae, mem_rbx(0), 0});  // fxsave64 [rbx]
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.peek<uint16_t>(kData + fx::FCW), 0x027fu);
  EXPECT_EQ(m.peek<uint16_t>(kData + fx::FSW), 0u);
  EXPECT_EQ(m.peek<uint8_t>(kData + fx::FTW), 0u);
  EXPECT_EQ(m.peek<uint32_t>(kData + fx::MXCSR), 0x9fc0u);
  EXPECT_EQ(m.peek<uint32_t>(kData + fx::MXCSR_MASK), 0xffffu);
  EXPECT_EQ(m.peek<uint8_t>(kData + fx::ST0 + 2 * 16 + 9), 0x3cu);
  EXPECT_EQ(m.peek<uint8_t>(kData + fx::ST0 + 2 * 16 + 10), 0u);
  for (unsigned k = 0; k < 16; ++k) {
    EXPECT_EQ(m.peek<uint64_t>(kData + fx::XMM0 + 16 * k), 0x1000u + k);
    EXPECT_EQ(m.peek<uint64_t>(kData + fx::XMM0 + 16 * k + 8), 0xa000u + k);
  }
  EXPECT_EQ(m.peek<uint64_t>(kData + 464), 0xeeeeeeeeeeeeeeeeull) << "bytes 464-511 are software's";

  // Clobber, then restore.
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
  m.reg(sim::RBX) = kData;
  for (unsigned k = 0; k < 16; ++k) set_xmm(k, 0, 0);
  m.s().x87.fcw = 0x037f;
  std::memset(m.s().x87.st[2], 0, 10);
  Asm b(L::CODE);
  b.raw({0x48, 0x0f, 0xae, mem_rbx(1), 0});  // fxrstor64 [rbx]
  b.hlt();
  expect_done(run(b));
  for (unsigned k = 0; k < 16; ++k) {
    EXPECT_EQ(xmm_lo(k), 0x1000u + k);
    EXPECT_EQ(xmm_hi(k), 0xa000u + k);
  }
  EXPECT_EQ(m.s().mxcsr, 0x9fc0u);
  EXPECT_EQ(m.s().x87.fcw, 0x027fu);
  EXPECT_EQ(m.s().x87.st[2][9], 0x3c);

  // A reserved MXCSR bit in the image: #GP(0), nothing restored.
  m.poke<uint32_t>(kData + fx::MXCSR, 0x11f80);
  m.enter_long_mode();
  m.s().cr4 |= cr4::OSFXSR;
  m.reg(sim::RBX) = kData;
  set_xmm(5, 0, 0);
  expect_stub(run(b), GP);
  EXPECT_EQ(xmm_lo(5), 0u);
  EXPECT_EQ(m.s().mxcsr, 0x1f80u);

  // Misaligned.
  m.enter_long_mode();
  m.reg(sim::RBX) = kData + 8;
  expect_stub(run(a), GP);
}

// The 32-bit layout (no REX.W) stores FPU CS/DS at 12 and 20; outside
// 64-bit mode only XMM0-XMM7 are saved (SDM vol. 1 table 10-2).
TEST_F(SimSse, FxsaveLegacyLayoutInProtectedMode) {
  m.setup_protected_mode();
  m.s().cr4 |= cr4::OSFXSR;
  for (unsigned k = 0; k < 16; ++k) set_xmm(k, 0x1000 + k, 0);
  m.s().x87.fcs = 0x1234;
  m.s().x87.fip = 0xffffffff00abcdefull;
  for (unsigned k = 0; k < 512; k += 8) m.poke<uint64_t>(kData + k, 0xeeeeeeeeeeeeeeeeull);
  Asm a(L::CODE);
  a.raw({0x0f, 0xae, 0x05});  // fxsave [disp32]
  for (unsigned k = 0; k < 4; ++k) a.raw({uint8_t(kData >> (8 * k))});
  a.hlt();
  m.load_code(a);
  m.rip() = a.origin;
  ASSERT_EQ(m.run(10), CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.peek<uint32_t>(kData + fx::FIP), 0x00abcdefu);
  EXPECT_EQ(m.peek<uint32_t>(kData + fx::FCS), 0x1234u);
  EXPECT_EQ(m.peek<uint64_t>(kData + fx::XMM0 + 16 * 7), 0x1007u);
  EXPECT_EQ(m.peek<uint64_t>(kData + fx::XMM0 + 16 * 8), 0xeeeeeeeeeeeeeeeeull) << "XMM8 not saved";
}

// Outside 64-bit mode a 16-byte operand is checked against the segment
// limit as a whole (SDM vol. 3 5.3): the last byte past DS's limit is #GP(0).
TEST_F(SimSse, SegmentLimitCoversAllSixteenBytes) {
  m.poke<uint64_t>(kData + 8, 0x1111);
  m.poke<uint64_t>(kData + 16, 0x2222);
  for (uint32_t disp : {8u, 9u}) {
    m.setup_protected_mode();
    m.s().cr4 |= cr4::OSFXSR;
    m.s().seg[arch::seg::DS].limit = uint32_t(kData + 0x17);
    Asm a(L::CODE);
    a.raw({0xf3, 0x0f, 0x6f, 0x05});  // movdqu xmm0, [disp32]
    for (unsigned k = 0; k < 4; ++k) a.raw({uint8_t((kData + disp) >> (8 * k))});
    a.hlt();
    m.load_code(a);
    m.rip() = a.origin;
    ASSERT_EQ(m.run(10), CpuStop::Halted) << m.cpu.stop_message();
    if (disp == 8) {
      EXPECT_EQ(m.stub_vector(), -1);
      EXPECT_EQ(xmm_lo(0), 0x1111u);
      EXPECT_EQ(xmm_hi(0), 0x2222u);
    } else {
      EXPECT_EQ(m.stub_vector(), GP);
      EXPECT_EQ(m.stack32(0), 0u) << "error code";
      EXPECT_EQ(xmm_lo(0), 0u);
    }
  }
}

// FNINIT, FLDCW, FNSTCW, FNSTSW (SDM vol. 1 8.1.5, 8.3.12).
TEST_F(SimSse, X87ControlWords) {
  m.s().x87.fcw = 0x0040;
  m.s().x87.fsw = 0x3800;
  m.poke<uint16_t>(kData, 0x0c7f);
  Asm a(L::CODE);
  a.raw({0xdb, 0xe3});              // fninit
  a.raw({0xd9, 0x7b, 2});           // fnstcw [rbx+2]
  a.raw({0xd9, 0x6b, 0});           // fldcw [rbx]
  a.raw({0xd9, 0x7b, 4});           // fnstcw [rbx+4]
  a.mov_imm32(0, 0xffffffff);
  a.raw({0xdf, 0xe0});              // fnstsw ax
  a.hlt();
  expect_done(run(a));
  EXPECT_EQ(m.peek<uint16_t>(kData + 2), 0x037fu);
  EXPECT_EQ(m.peek<uint16_t>(kData + 4), 0x0c7fu);
  EXPECT_EQ(m.reg(sim::RAX), 0xffff0000u);
  EXPECT_EQ(m.s().x87.fcw, 0x0c7fu);
}

}  // namespace
}  // namespace nestbed::testing
