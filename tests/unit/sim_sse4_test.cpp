// SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CRC32 and CMPXCHG16B system
// behaviour of the sim CPU against the SDM where it differs from SSE2 or
// is not visible to the differential tests: CPUID, the availability
// checks (#UD/#NM; none for POPCNT and CRC32), the alignment rules of each
// memory form, the SIMD floating-point exception of ROUND*/DPPS/HADDPS,
// and CMPXCHG16B's #GP for a misaligned operand. Values are checked
// against the host in differential_sse4_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/sse.h"
#include "l0/sim/cpu/cpuid.h"
#include "l0/sim/cpu/exec_sse.h"
#include "tests/support/differential.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace mxb = arch::mxcsr;
namespace id = arch::cpuid;
using sim::CpuStop;

constexpr uint8_t UD = 6, NM = 7, GP = 13, XM = 19;
constexpr uint64_t kData = L::DATA;  // 16-byte aligned, identity-mapped

class SimSse4 : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override {
    m.setup_long_mode();
    reset();
  }
  void reset(uint64_t cr0_set = 0, uint64_t cr4_clear = 0) {
    m.enter_long_mode();
    m.s().cr4 = (m.s().cr4 | cr4::OSFXSR | cr4::OSXMMEXCPT) & ~cr4_clear;
    m.s().cr0 |= cr0_set;
    m.s().mxcsr = mxb::RESET;
    m.reg(sim::RBX) = kData;
  }
  CpuStop run(const std::vector<uint8_t>& insn) {
    Asm a(L::CODE);
    a.bytes.insert(a.bytes.end(), insn.begin(), insn.end());
    a.hlt();
    m.load_code(a);
    m.rip() = a.origin;
    return m.run(1000);
  }
  // The vector the instruction raised (its frame's RIP checked), or -1.
  int vector_of(const std::vector<uint8_t>& insn) {
    const CpuStop stop = run(insn);
    EXPECT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    const int v = m.stub_vector();
    if (v == GP) {
      EXPECT_EQ(m.stack64(1), L::CODE) << "the faulting instruction's RIP";
    } else if (v >= 0) {
      EXPECT_EQ(m.stack64(0), L::CODE) << "the faulting instruction's RIP";
    }
    return v;
  }
  void set_xmm(unsigned r, uint64_t lo, uint64_t hi) { m.s().xmm[r] = sim::Xmm{{lo, hi}}; }
};

uint32_t f32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// CPUID.01H:ECX reports SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT and CX16 (the
// x86-64-v2 level), and not MONITOR (bit 3), FMA (12), AVX (28) or the
// other extensions the sim does not implement.
TEST_F(SimSse4, CpuidReportsTheX8664V2Level) {
  const sim::CpuidResult r = sim::cpuid(1, 0, 0);
  for (uint32_t bit : {id::L1_ECX_SSE3, id::L1_ECX_SSSE3, id::L1_ECX_SSE4_1, id::L1_ECX_SSE4_2, id::L1_ECX_POPCNT,
                       id::L1_ECX_CX16})
    EXPECT_TRUE(r.ecx & bit) << "bit 0x" << std::hex << bit;
  // Not reported: 3 MONITOR, 12 FMA, 22 MOVBE, 25 AES, 27 OSXSAVE (with
  // CR4.OSXSAVE = 0), 28 AVX, 29 F16C, 30 RDRAND. (26, XSAVE, is:
  // exec_xsave.cpp.)
  for (unsigned bit : {3u, 12u, 22u, 25u, 27u, 28u, 29u, 30u}) EXPECT_FALSE(r.ecx & (1u << bit)) << "bit " << bit;
}

// SDM vol. 3 13.1-13.2 (as for SSE2): #UD with CR4.OSFXSR = 0 or CR0.EM = 1,
// else #NM with CR0.TS = 1, for every new family; POPCNT and CRC32 are
// general-purpose instructions and run regardless.
TEST_F(SimSse4, AvailabilityChecks) {
  const std::vector<std::vector<uint8_t>> sse = {
      {0xf2, 0x0f, 0x7c, 0xc1},                // haddps xmm0, xmm1
      {0xf2, 0x0f, 0x12, 0xc1},                // movddup xmm0, xmm1
      {0x66, 0x0f, 0x38, 0x00, 0xc1},          // pshufb xmm0, xmm1
      {0x66, 0x0f, 0x3a, 0x0f, 0xc1, 3},       // palignr xmm0, xmm1, 3
      {0x66, 0x0f, 0x38, 0x10, 0xc1},          // pblendvb xmm0, xmm1
      {0x66, 0x0f, 0x3a, 0x08, 0xc1, 1},       // roundps xmm0, xmm1, 1
      {0x66, 0x0f, 0x38, 0x17, 0xc1},          // ptest xmm0, xmm1
      {0x66, 0x0f, 0x3a, 0x16, 0xc0, 1},       // pextrd eax, xmm0, 1
      {0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c},    // pcmpistri xmm0, xmm1, 0x0c
      {0x66, 0x0f, 0x38, 0x37, 0xc1},          // pcmpgtq xmm0, xmm1
  };
  struct Env {
    uint64_t cr0_set, cr4_clear;
    int vector;
  } envs[] = {{0, cr4::OSFXSR, UD}, {cr0::EM, 0, UD}, {cr0::EM | cr0::TS, 0, UD}, {cr0::TS, 0, NM}, {0, 0, -1}};
  for (const auto& insn : sse) {
    for (const Env& e : envs) {
      reset(e.cr0_set, e.cr4_clear);
      set_xmm(0, 0x1111, 0x2222);
      m.reg(sim::RCX) = 0x77;
      EXPECT_EQ(vector_of(insn), e.vector) << "opcode byte 0x" << std::hex << int(insn[3]);
      if (e.vector >= 0) {
        EXPECT_EQ(m.s().xmm[0].q[0], 0x1111u) << "nothing changes";
        EXPECT_EQ(m.reg(sim::RCX), 0x77u);
      }
    }
  }
  const std::vector<std::vector<uint8_t>> gpr = {
      {0xf3, 0x0f, 0xb8, 0xc1},        // popcnt eax, ecx
      {0xf2, 0x0f, 0x38, 0xf1, 0xc1},  // crc32 eax, ecx
  };
  for (const auto& insn : gpr) {
    reset(cr0::EM | cr0::TS, cr4::OSFXSR);
    m.reg(sim::RCX) = 0xff;
    m.reg(sim::RAX) = 0;
    EXPECT_EQ(vector_of(insn), -1);
    if (insn[0] == 0xf3) {
      EXPECT_EQ(m.reg(sim::RAX), 8u) << "popcnt";
    } else {
      EXPECT_NE(m.reg(sim::RAX), 0u) << "crc32 (its values: differential_sse4_test.cpp)";
    }
  }
}

// The MMX forms of SSSE3 (no 66 prefix: PSHUFB mm, mm/m64; PALIGNR mm,
// mm/m64, imm8) run on MMX registers (exec_mmx.cpp; their results are
// checked in Differential.Mmx), the XMM forms on XMM registers.
TEST_F(SimSse4, MmxAndXmmFormsOfSsse3Run) {
  EXPECT_EQ(vector_of({0x0f, 0x38, 0x00, 0xc1}), -1);
  reset();
  EXPECT_EQ(vector_of({0x0f, 0x3a, 0x0f, 0xc1, 5}), -1);
  reset();
  EXPECT_EQ(vector_of({0x66, 0x0f, 0x38, 0x00, 0xc1}), -1);
}

// Alignment (SDM vol. 2, table 2-21, exception type 4 and its note; type
// 5): a misaligned m128 is #GP(0) except for LDDQU and PCMPxSTRx; the
// narrower operands have no alignment rule.
TEST_F(SimSse4, MisalignedMemoryOperands) {
  for (uint64_t k = 0; k < 6; ++k) m.poke<uint64_t>(kData + 8 * k, 0x0101010101010101ull * (k + 1));
  struct Case {
    std::vector<uint8_t> insn;  // ModRM 43: [rbx + disp8]
    bool faults;
  } cases[] = {
      {{0xf2, 0x0f, 0x7c, 0x43, 8}, true},                // haddps xmm0, [rbx+8]
      {{0xf3, 0x0f, 0x16, 0x43, 8}, true},                // movshdup
      {{0x66, 0x0f, 0x38, 0x00, 0x43, 8}, true},          // pshufb
      {{0x66, 0x0f, 0x3a, 0x0f, 0x43, 8, 4}, true},       // palignr
      {{0x66, 0x0f, 0x38, 0x2a, 0x43, 8}, true},          // movntdqa
      {{0x66, 0x0f, 0x38, 0x17, 0x43, 8}, true},          // ptest
      {{0x66, 0x0f, 0x38, 0x10, 0x43, 8}, true},          // pblendvb
      {{0x66, 0x0f, 0x3a, 0x40, 0x43, 8, 0xff}, true},    // dpps
      {{0x66, 0x0f, 0x3a, 0x08, 0x43, 8, 0}, true},       // roundps
      {{0x66, 0x0f, 0x38, 0x37, 0x43, 8}, true},          // pcmpgtq
      {{0xf2, 0x0f, 0xf0, 0x43, 8}, false},               // lddqu
      {{0xf2, 0x0f, 0x12, 0x43, 4}, false},               // movddup xmm0, m64
      {{0x66, 0x0f, 0x3a, 0x63, 0x43, 8, 0}, false},      // pcmpistri
      {{0x66, 0x0f, 0x3a, 0x61, 0x43, 8, 0}, false},      // pcmpestri
      {{0x66, 0x0f, 0x3a, 0x62, 0x43, 8, 0}, false},      // pcmpistrm
      {{0x66, 0x0f, 0x38, 0x30, 0x43, 3}, false},         // pmovzxbw xmm0, m64
      {{0x66, 0x0f, 0x3a, 0x21, 0x43, 3, 0x10}, false},   // insertps xmm0, m32
      {{0x66, 0x0f, 0x3a, 0x0a, 0x43, 2, 0}, false},      // roundss xmm0, m32
      {{0x66, 0x0f, 0x3a, 0x16, 0x43, 3, 1}, false},      // pextrd m32, xmm0
      {{0x66, 0x0f, 0x3a, 0x22, 0x43, 5, 1}, false},      // pinsrd xmm0, m32
  };
  for (const Case& c : cases) {
    reset();
    set_xmm(0, 7, 9);
    const int v = vector_of(c.insn);
    EXPECT_EQ(v, c.faults ? GP : -1) << "opcode 0x" << std::hex << int(c.insn[c.insn[1] == 0x0f ? 2 : 3]);
    if (c.faults && v == GP) {
      EXPECT_EQ(m.stack64(0), 0u) << "error code";
      EXPECT_EQ(m.s().xmm[0].q[0], 7u);
    }
  }
}

// An unmasked SIMD floating-point exception (SDM vol. 1 11.5.2): #XM with
// CR4.OSXMMEXCPT, else #UD, the destination unchanged, MXCSR's flag set.
// ROUNDPS of a signaling NaN is invalid; ROUNDPS of 1.5 is inexact unless
// imm8 bit 3 suppresses it (SDM vol. 2, ROUNDPS).
TEST_F(SimSse4, RoundAndDotProductExceptions) {
  const std::vector<uint8_t> roundps = {0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x00};  // roundps xmm0, xmm1, 0 (nearest)
  for (bool osxmmexcpt : {true, false}) {
    reset(0, osxmmexcpt ? 0 : cr4::OSXMMEXCPT);
    m.s().mxcsr = mxb::RESET & ~(mxb::IE << mxb::MASK_SHIFT);
    set_xmm(0, 0x1234, 0x5678);
    set_xmm(1, 0x7fa000003f800000ull, 0);  // an SNaN in element 1
    EXPECT_EQ(vector_of(roundps), osxmmexcpt ? XM : UD);
    EXPECT_EQ(m.s().xmm[0].q[0], 0x1234u);
    EXPECT_EQ(m.s().mxcsr & mxb::FLAGS, mxb::IE);
  }
  // Inexact unmasked: 1.5 rounds to 2.0 and traps; with imm8 bit 3 it does not.
  reset();
  m.s().mxcsr = mxb::RESET & ~(mxb::PE << mxb::MASK_SHIFT);
  set_xmm(1, f32(1.5f), 0);
  EXPECT_EQ(vector_of(roundps), XM);
  reset();
  m.s().mxcsr = mxb::RESET & ~(mxb::PE << mxb::MASK_SHIFT);
  set_xmm(1, f32(1.5f), 0);
  EXPECT_EQ(vector_of({0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x08}), -1);
  EXPECT_EQ(m.s().xmm[0].q[0], f32(2.0f));
  // imm8 bit 2: MXCSR.RC (here round down) instead of imm8[1:0].
  reset();
  m.s().mxcsr = mxb::RESET | (1u << mxb::RC_SHIFT);
  set_xmm(1, f32(-1.5f), 0);
  EXPECT_EQ(vector_of({0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x04}), -1);
  EXPECT_EQ(m.s().xmm[0].q[0], f32(-2.0f));
  // DPPS overflowing with OM clear: #XM, destination kept.
  reset();
  m.s().mxcsr = mxb::RESET & ~(mxb::OE << mxb::MASK_SHIFT);
  set_xmm(0, 0x7f0000007f000000ull, 0x11);
  set_xmm(1, 0x7f0000007f000000ull, 0);
  EXPECT_EQ(vector_of({0x66, 0x0f, 0x3a, 0x40, 0xc1, 0xff}), XM);
  EXPECT_EQ(m.s().xmm[0].q[1], 0x11u);
  EXPECT_TRUE(m.s().mxcsr & mxb::OE);
}

// The paths of a host without SSE3/SSE4.1 (sim::use_host_fp(false))
// against the host's instructions: `insn` (xmm0, xmm1 forms) on inputs
// under `mxcsr`, once each way; the vector, XMM0 and MXCSR after it must
// agree. Counts cases, traps and differences.
class SimSse4HostLess : public SimSse4 {
 protected:
  struct HostFpGuard {
    ~HostFpGuard() { sim::use_host_fp(true); }
  };
  struct Out {
    int vector;
    uint64_t lo, hi;
    uint32_t mxcsr;
    bool operator==(const Out& o) const { return vector == o.vector && lo == o.lo && hi == o.hi && mxcsr == o.mxcsr; }
  };
  unsigned cases = 0, traps = 0, failures = 0;
  void compare(const std::string& name, const std::vector<uint8_t>& insn, const uint64_t x0[2], const uint64_t x1[2],
               uint32_t mxcsr) {
    HostFpGuard guard;
    Out out[2];
    for (int soft = 0; soft < 2; ++soft) {
      sim::use_host_fp(!soft);
      reset();
      m.s().mxcsr = mxcsr;
      set_xmm(0, x0[0], x0[1]);
      set_xmm(1, x1[0], x1[1]);
      Asm code(L::CODE + 0x800 * soft);  // one address per path: a block decoded once for each
      code.bytes.insert(code.bytes.end(), insn.begin(), insn.end());
      code.hlt();
      m.load_code(code);
      m.rip() = code.origin;
      EXPECT_EQ(m.run(1000), CpuStop::Halted) << m.cpu.stop_message();
      out[soft] = {m.stub_vector(), m.s().xmm[0].q[0], m.s().xmm[0].q[1], m.s().mxcsr};
    }
    ++cases;
    traps += out[0].vector == XM;
    if (!(out[0] == out[1]) && ++failures <= 20)
      ADD_FAILURE() << name << std::hex << " mxcsr 0x" << mxcsr << " x0 " << x0[0] << ":" << x0[1] << " x1 " << x1[0]
                    << ":" << x1[1] << "\n  host: vector " << std::dec << out[0].vector << std::hex << " " << out[0].lo
                    << ":" << out[0].hi << " mxcsr 0x" << out[0].mxcsr << "\n  soft: vector " << std::dec
                    << out[1].vector << std::hex << " " << out[1].lo << ":" << out[1].hi << " mxcsr 0x" << out[1].mxcsr;
  }
  void summary() {
    EXPECT_EQ(failures, 0u) << failures << " of " << cases << " cases differ";
    EXPECT_GT(traps, 0u);
    std::printf("  %u cases, %u trapped\n", cases, traps);
  }
  // MXCSR values: the differential suite's (masked), then IE, DE, OE, UE
  // or PE unmasked, and all of them, in two rounding modes.
  static std::vector<uint32_t> mxcsrs() {
    namespace dse = differential::sse;
    std::vector<uint32_t> v(std::begin(dse::kMxcsrs), std::end(dse::kMxcsrs));
    for (uint32_t unmask : {mxb::IE, mxb::DE, mxb::OE, mxb::UE, mxb::PE, mxb::IE | mxb::PE, mxb::FLAGS & ~mxb::ZE})
      for (uint32_t rc : {0u, 3u}) v.push_back((mxb::RESET & ~(unmask << mxb::MASK_SHIFT)) | (rc << mxb::RC_SHIFT));
    return v;
  }
};

// ROUNDPS/PD/SS/SD in integer code: every imm8[3:0] (reserved bits set
// now and then), the floating-point edge values and halves.
TEST_F(SimSse4HostLess, RoundIntegerCodeMatchesTheHost) {
  if (!sim::host_has_sse41()) GTEST_SKIP() << "the host CPU has no SSE4.1 to compare with";
  namespace dse = differential::sse;
  const std::vector<uint32_t> mx = mxcsrs();
  std::vector<uint64_t> dwords, qwords = dse::double_edges();
  for (uint32_t f : dse::float_edges()) dwords.push_back(f);
  for (double v : {0.5, 1.5, 2.5, -0.5, -2.5, 3.0, 1e300, 4503599627370495.5, -0.49999999999999994}) {
    uint64_t q;
    std::memcpy(&q, &v, 8);
    qwords.push_back(q);
    dwords.push_back(f32(float(v)));
  }
  const struct {
    const char* name;
    uint8_t op;
    bool dbl;
  } ops[] = {{"roundps", 0x08, false}, {"roundpd", 0x09, true}, {"roundss", 0x0a, false}, {"roundsd", 0x0b, true}};
  for (const auto& op : ops) {
    const std::vector<uint64_t>& v = op.dbl ? qwords : dwords;
    for (unsigned imm = 0; imm < 16; ++imm) {
      for (size_t k = 0; k < v.size(); ++k) {
        const uint64_t a = v[k], b = v[(k * 7 + imm) % v.size()];
        const uint64_t x0[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
        const uint64_t x1[2] = {op.dbl ? a : (a | (b << 32)),
                                op.dbl ? b : (v[(k + 3) % v.size()] | (v[(k + 5) % v.size()] << 32))};
        const uint8_t i8 = uint8_t(imm | (k % 3 == 2 ? 0xa0 : 0));
        compare(std::string(op.name) + " imm " + std::to_string(i8), {0x66, 0x0f, 0x3a, op.op, 0xc1, i8}, x0, x1,
                mx[(k + imm * 5) % mx.size()]);
      }
    }
  }
  summary();
}

// ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD as SSE2 steps: every pair of edge
// values, masked and unmasked.
TEST_F(SimSse4HostLess, Sse3StepsMatchTheHost) {
  if (!sim::host_has_sse3()) GTEST_SKIP() << "the host CPU has no SSE3 to compare with";
  namespace dse = differential::sse;
  const std::vector<uint32_t> mx = mxcsrs();
  const struct {
    const char* name;
    std::vector<uint8_t> insn;
    bool dbl;
  } ops[] = {{"addsubps", {0xf2, 0x0f, 0xd0, 0xc1}, false}, {"addsubpd", {0x66, 0x0f, 0xd0, 0xc1}, true},
             {"haddps", {0xf2, 0x0f, 0x7c, 0xc1}, false},   {"haddpd", {0x66, 0x0f, 0x7c, 0xc1}, true},
             {"hsubps", {0xf2, 0x0f, 0x7d, 0xc1}, false},   {"hsubpd", {0x66, 0x0f, 0x7d, 0xc1}, true}};
  differential::Gen g(0x5e3, 0);
  for (const auto& op : ops) {
    const auto data = op.dbl ? dse::fp_pairs(g, dse::double_edges(), false) : dse::fp_pairs(g, dse::float_edges(), false);
    for (size_t k = 0; k < data.size(); ++k) {
      // Pair up lanes across the operands too: horizontal operations add
      // neighbours of one operand.
      uint64_t x0[2] = {data[k].x0[0], data[k].x1[1]}, x1[2] = {data[k].x1[0], data[k].x0[1]};
      compare(op.name, op.insn, x0, x1, mx[(k * 3) % mx.size()]);
    }
  }
  summary();
}

// DPPS/DPPD as SSE2 steps: edge values, imm8 values with one to four
// products, masked and unmasked.
TEST_F(SimSse4HostLess, DotProductStepsMatchTheHost) {
  if (!sim::host_has_sse41()) GTEST_SKIP() << "the host CPU has no SSE4.1 to compare with";
  namespace dse = differential::sse;
  const std::vector<uint32_t> mx = mxcsrs();
  differential::Gen g(0xd9, 0);
  for (bool dbl : {false, true}) {
    const auto data = dbl ? dse::fp_pairs(g, dse::double_edges(), false) : dse::fp_pairs(g, dse::float_edges(), false);
    for (size_t k = 0; k < 3 * data.size(); ++k) {
      const uint8_t imm = uint8_t(dbl ? (0x31 + (k % 3) * 0x10) ^ (k & 2) : (k * 37) ^ (k / data.size()));
      const uint64_t* x0 = data[k % data.size()].x0;
      const uint64_t* x1 = data[k % data.size()].x1;
      compare(dbl ? "dppd" : "dpps", {0x66, 0x0f, 0x3a, uint8_t(dbl ? 0x41 : 0x40), 0xc1, imm}, x0, x1,
              mx[(k * 5) % mx.size()]);
    }
  }
  summary();
}

// CMPXCHG16B m128 (SDM vol. 2, CMPXCHG8B/CMPXCHG16B): #GP(0) when the
// operand is not 16-byte aligned, memory and registers unchanged; an
// aligned operand compares and exchanges.
TEST_F(SimSse4, Cmpxchg16bAlignment) {
  m.poke<uint64_t>(kData + 0x20, 0x1111);
  m.poke<uint64_t>(kData + 0x28, 0x2222);
  const std::vector<uint8_t> insn = {0xf0, 0x48, 0x0f, 0xc7, 0x4e, 0x20};  // lock cmpxchg16b [rsi+0x20]
  for (uint64_t misalign : {8u, 1u}) {
    reset();
    m.reg(sim::RSI) = kData + misalign;
    m.reg(sim::RAX) = 5;
    EXPECT_EQ(vector_of(insn), GP) << misalign;
    EXPECT_EQ(m.stack64(0), 0u);
    EXPECT_EQ(m.reg(sim::RAX), 5u);
    EXPECT_EQ(m.peek<uint64_t>(kData + 0x20), 0x1111u);
  }
  reset();
  m.reg(sim::RSI) = kData;
  m.reg(sim::RAX) = 0x1111;
  m.reg(sim::RDX) = 0x2222;
  m.reg(sim::RBX) = 0xaaaa;
  m.reg(sim::RCX) = 0xbbbb;
  EXPECT_EQ(vector_of(insn), -1);
  EXPECT_EQ(m.peek<uint64_t>(kData + 0x20), 0xaaaau);
  EXPECT_EQ(m.peek<uint64_t>(kData + 0x28), 0xbbbbu);
  EXPECT_TRUE(m.s().rflags & arch::rflags::ZF);
}

}  // namespace
}  // namespace nestbed::testing
