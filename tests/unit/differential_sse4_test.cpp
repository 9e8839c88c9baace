// Differential tests of SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CRC32 and
// CMPXCHG16B (see differential_test.cpp for the harness and
// tests/support/differential.h for the case builders). Each family is
// skipped when the host CPU lacks it: the host is the reference.
#include <cpuid.h>

#include "tests/support/differential.h"

namespace nestbed::testing {
namespace {
using namespace differential;

// CPUID.01H:ECX bit `bit` of the host.
bool host_ecx(unsigned bit) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && ((c >> bit) & 1);
}
#define NB_REQUIRE_HOST(bit, name) \
  if (!host_ecx(bit)) GTEST_SKIP() << "the host CPU has no " name

// Integer operands: patterns with sign bits, saturation edges, zero
// elements and small values, then random ones.
sse::Data int_data(Gen& g, unsigned k) {
  static const uint64_t patterns[] = {0,
                                      ~0ull,
                                      0x8000800080008000,
                                      0x7fff7fff7fff7fff,
                                      0x0101010101010101,
                                      0x8080808080808080,
                                      0x00ff00ff00ff00ff,
                                      0x0000000080000000,
                                      0x7f807f80ff0100fe,
                                      0x8000000000000000,
                                      0x7fffffffffffffff,
                                      0x0f0e0d0c0b0a0908,
                                      0x0003000100020000};
  constexpr unsigned np = sizeof patterns / sizeof patterns[0];
  sse::Data d;
  d.mxcsr = sse::kMxcsrs[k % 9];
  d.x0[0] = k < np ? patterns[k] : g.r64();
  d.x0[1] = k < np ? patterns[(k + 3) % np] : g.r64();
  d.x1[0] = k < np ? patterns[(k + 5) % np] : g.r64();
  d.x1[1] = k < np ? patterns[(k + 7) % np] : g.r64();
  if (k % 5 == 4) d.x1[0] &= 0x8f8f8f8f8f8f8f8full;  // PSHUFB indices with and without bit 7
  std::memcpy(d.mem, d.x1, 16);
  return d;
}

std::string hex_name(const char* base, uint8_t op, int imm, bool mem) {
  char name[64];
  std::snprintf(name, sizeof name, "%s %02x%s%s", base, op, imm >= 0 ? (" imm " + std::to_string(imm)).c_str() : "",
                mem ? " mem" : "");
  return name;
}

// SSE3: the packed add/subtract and horizontal operations on every pair
// of floating-point edge values, every rounding mode, DAZ/FTZ; the moves.
TEST_F(Differential, Sse3) {
  NB_REQUIRE_HOST(0, "SSE3");
  Gen g(0x553, base());
  std::vector<Case> cases;
  const struct {
    const char* name;
    uint8_t prefix, opcode;
    bool dbl;
  } fp[] = {{"addsubps", 0xf2, 0xd0, false}, {"addsubpd", 0x66, 0xd0, true}, {"haddps", 0xf2, 0x7c, false},
            {"haddpd", 0x66, 0x7c, true},    {"hsubps", 0xf2, 0x7d, false},   {"hsubpd", 0x66, 0x7d, true}};
  for (const auto& f : fp) {
    const auto data = f.dbl ? sse::fp_pairs(g, sse::double_edges(), false) : sse::fp_pairs(g, sse::float_edges(), false);
    for (size_t k = 0; k < data.size(); ++k) {
      const bool mem = k % 3 == 1;
      cases.push_back(sse::make(g, std::string(f.name) + (mem ? " mem" : ""), sse::insn(f.prefix, {0x0f, f.opcode}, mem),
                                data[k]));
    }
  }
  for (unsigned k = 0; k < 16; ++k) {
    const sse::Data d = int_data(g, k);
    const bool mem = k % 2;
    cases.push_back(sse::make(g, "movddup", sse::insn(0xf2, {0x0f, 0x12}, mem), d));
    cases.push_back(sse::make(g, "movshdup", sse::insn(0xf3, {0x0f, 0x16}, mem), d));
    cases.push_back(sse::make(g, "movsldup", sse::insn(0xf3, {0x0f, 0x12}, mem), d));
    cases.push_back(sse::make(g, "lddqu", sse::insn(0xf2, {0x0f, 0xf0}, true), d));
    // Misaligned: LDDQU's m128 and MOVDDUP's m64 need no alignment.
    cases.push_back(sse::make(g, "lddqu misaligned", {0xf2, 0x0f, 0xf0, 0x43, uint8_t(sse::kMem + 1 + k % 7)}, d));
    cases.push_back(sse::make(g, "movddup misaligned", {0xf2, 0x0f, 0x12, 0x43, uint8_t(sse::kMem + 3 + k % 5)}, d));
  }
  check(cases);
}

// SSSE3 in its XMM forms: 66 0F 38 00-0B, 1C-1E, and PALIGNR (66 0F 3A 0F)
// with every shift count that matters.
TEST_F(Differential, Ssse3) {
  NB_REQUIRE_HOST(9, "SSSE3");
  Gen g(0x5553, base());
  std::vector<Case> cases;
  const uint8_t ops[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e};
  for (uint8_t op : ops) {
    for (unsigned k = 0; k < 24; ++k) {
      const bool mem = k % 3 == 1;
      cases.push_back(sse::make(g, hex_name("66 0f 38", op, -1, mem), sse::insn(0x66, {0x0f, 0x38, op}, mem), int_data(g, k)));
    }
  }
  for (unsigned imm = 0; imm < 40; ++imm) {
    const uint8_t v = uint8_t(imm < 34 ? imm : g.r64());
    cases.push_back(sse::make(g, hex_name("palignr", 0x0f, v, imm % 3 == 1), sse::insn(0x66, {0x0f, 0x3a, 0x0f}, imm % 3 == 1, v),
                              int_data(g, imm)));
  }
  check(cases);
}

// SSE4.1 integer operations and data movement.
TEST_F(Differential, Sse41Integer) {
  NB_REQUIRE_HOST(19, "SSE4.1");
  Gen g(0x5541, base());
  std::vector<Case> cases;
  // 66 0F 38 xx: PACKUSDW, PCMPEQQ, PHMINPOSUW, PMIN/PMAX, PMOVSX/ZX, PMULDQ, PMULLD, PTEST.
  const uint8_t ops[] = {0x2b, 0x29, 0x41, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x20, 0x21, 0x22,
                         0x23, 0x24, 0x25, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x28, 0x40, 0x17};
  for (uint8_t op : ops) {
    for (unsigned k = 0; k < 20; ++k) {
      const bool mem = k % 3 == 1;
      sse::Data d = int_data(g, k);
      if (op == 0x41 && k % 4 == 2) d.x1[1] = d.x1[0];  // PHMINPOSUW: ties
      if (op == 0x17 && k % 4 == 3) d.x1[0] = d.x0[0] & g.r64(), d.x1[1] = ~d.x0[1], d.mem[0] = d.x1[0], d.mem[1] = d.x1[1];
      if (op == 0x17 && k % 4 == 2) d.x1[0] = ~d.x0[0], d.x1[1] = ~d.x0[1], d.mem[0] = d.x1[0], d.mem[1] = d.x1[1];
      cases.push_back(sse::make(g, hex_name("66 0f 38", op, -1, mem), sse::insn(0x66, {0x0f, 0x38, op}, mem), d));
    }
  }
  // PMOVSX/ZX memory sources need no alignment.
  for (uint8_t op : {0x20, 0x22, 0x25, 0x31, 0x34}) {
    for (unsigned k = 0; k < 4; ++k)
      cases.push_back(sse::make(g, hex_name("pmovx misaligned", op, -1, true),
                                {0x66, 0x0f, 0x38, op, 0x43, uint8_t(sse::kMem + 1 + k)}, int_data(g, k + 20)));
  }
  // MOVNTDQA xmm0, m128.
  for (unsigned k = 0; k < 4; ++k) cases.push_back(sse::make(g, "movntdqa", sse::insn(0x66, {0x0f, 0x38, 0x2a}, true), int_data(g, k)));
  // Blends by XMM0: xmm1 <- xmm2 (loaded from the m128) or m128, mask XMM0.
  for (uint8_t op : {0x10, 0x14, 0x15}) {
    for (unsigned k = 0; k < 16; ++k) {
      const sse::Data d = int_data(g, k + 3);
      const bool mem = k % 2;
      std::vector<uint8_t> code;
      if (mem) {
        code = {0x66, 0x0f, 0x38, op, 0x4b, sse::kMem};  // blendv xmm1, [rbx+0x40]
      } else {
        code = {0xf3, 0x0f, 0x6f, 0x53, sse::kMem,  // movdqu xmm2, [rbx+0x40]
                0x66, 0x0f, 0x38, op, 0xca};        // blendv xmm1, xmm2
      }
      cases.push_back(sse::make(g, hex_name("blendv", op, -1, mem), code, d));
    }
  }
  // With an immediate: BLENDPS/PD, PBLENDW, MPSADBW (every imm8 low 3 bits,
  // with random high bits), INSERTPS (every imm8).
  for (unsigned imm = 0; imm < 256; ++imm) {
    const bool mem = imm % 3 == 1;
    const sse::Data d = int_data(g, imm);
    cases.push_back(sse::make(g, hex_name("insertps", 0x21, int(imm), mem), sse::insn(0x66, {0x0f, 0x3a, 0x21}, mem, int(imm)), d));
    if (imm % 4 == 0 || imm < 16) cases.push_back(sse::make(g, hex_name("pblendw", 0x0e, int(imm), mem), sse::insn(0x66, {0x0f, 0x3a, 0x0e}, mem, int(imm)), d));
    if (imm < 16 || imm % 16 == 5) {
      cases.push_back(sse::make(g, hex_name("blendps", 0x0c, int(imm), mem), sse::insn(0x66, {0x0f, 0x3a, 0x0c}, mem, int(imm)), d));
      cases.push_back(sse::make(g, hex_name("blendpd", 0x0d, int(imm), mem), sse::insn(0x66, {0x0f, 0x3a, 0x0d}, mem, int(imm)), d));
    }
    if (imm < 8 || imm % 16 == 9) {
      sse::Data bytes = d;
      for (auto* q : {&bytes.x0[0], &bytes.x0[1], &bytes.x1[0], &bytes.x1[1]}) *q = g.r64();
      std::memcpy(bytes.mem, bytes.x1, 16);
      cases.push_back(sse::make(g, hex_name("mpsadbw", 0x42, int(imm), mem), sse::insn(0x66, {0x0f, 0x3a, 0x42}, mem, int(imm)), bytes));
    }
  }
  // PEXTRB/W/D/Q, EXTRACTPS to eax/rax or m, PINSRB/D/Q from eax/rax or m.
  // ModRM c0: xmm0 and eax/rax; 43: [rbx+0x40].
  const struct {
    const char* name;
    uint8_t op, rex;
  } ext[] = {{"pextrb", 0x14, 0}, {"pextrw", 0x15, 0}, {"pextrd", 0x16, 0}, {"pextrq", 0x16, 0x48},
             {"extractps", 0x17, 0}, {"extractps rex.w", 0x17, 0x48}, {"pinsrb", 0x20, 0}, {"pinsrd", 0x22, 0},
             {"pinsrq", 0x22, 0x48}, {"pextrb rex.w", 0x14, 0x48}};
  for (const auto& e : ext) {
    for (unsigned k = 0; k < 20; ++k) {
      const bool mem = k % 2;
      const uint8_t imm = uint8_t(k < 16 ? k : g.r64());
      sse::Data d = int_data(g, k + 5);
      Case c = sse::make(g, hex_name(e.name, e.op, imm, mem), sse::insn(0x66, {0x0f, 0x3a, e.op}, mem, imm, e.rex, 0xc0), d);
      cases.push_back(std::move(c));
    }
  }
  check(cases);
}

// SSE4.1 floating point: DPPS/DPPD with every imm8, ROUNDPS/PD/SS/SD with
// every imm8[3:0] (and reserved high bits), over the edge values, every
// MXCSR rounding mode, DAZ and FTZ.
TEST_F(Differential, Sse41FloatingPoint) {
  NB_REQUIRE_HOST(19, "SSE4.1");
  Gen g(0x41f, base());
  std::vector<Case> cases;
  const auto fdata = sse::fp_pairs(g, sse::float_edges(), false);
  const auto ddata = sse::fp_pairs(g, sse::double_edges(), false);
  const auto sfdata = sse::fp_pairs(g, sse::float_edges(), true);
  const auto sddata = sse::fp_pairs(g, sse::double_edges(), true);
  for (size_t k = 0; k < fdata.size(); ++k) {
    const int imm = int((k * 37) & 0xff);
    cases.push_back(sse::make(g, hex_name("dpps", 0x40, imm, k % 3 == 1), sse::insn(0x66, {0x0f, 0x3a, 0x40}, k % 3 == 1, imm), fdata[k]));
  }
  for (size_t k = 0; k < ddata.size() * 2; ++k) {
    const int imm = int((k * 13) & 0xff);
    cases.push_back(sse::make(g, hex_name("dppd", 0x41, imm, k % 3 == 1), sse::insn(0x66, {0x0f, 0x3a, 0x41}, k % 3 == 1, imm),
                              ddata[k % ddata.size()]));
  }
  const struct {
    const char* name;
    uint8_t op;
    const std::vector<sse::Data>* data;
  } rounds[] = {{"roundps", 0x08, &fdata}, {"roundpd", 0x09, &ddata}, {"roundss", 0x0a, &sfdata}, {"roundsd", 0x0b, &sddata}};
  for (const auto& r : rounds) {
    const auto& data = *r.data;
    const size_t n = std::min<size_t>(data.size(), 160);
    for (size_t k = 0; k < n; ++k) {
      const size_t at = (k * 7) % data.size();
      const int imm = int(k < 144 ? k % 16 : g.r64() & 0xff);
      cases.push_back(sse::make(g, hex_name(r.name, r.op, imm, k % 3 == 1), sse::insn(0x66, {0x0f, 0x3a, r.op}, k % 3 == 1, imm),
                                data[at]));
    }
  }
  check(cases);
}

// Unmasked SIMD floating-point exceptions of the SSE3 and SSE4.1
// floating-point instructions (SDM vol. 1 11.5.2): MXCSR values unmask one
// exception at a time, then all, under each rounding mode and DAZ/FTZ; the
// host's #XM against the sim's (Differential::check_unmasked).
TEST_F(Differential, Sse3Sse41UnmaskedExceptions) {
  NB_REQUIRE_HOST(0, "SSE3");
  NB_REQUIRE_HOST(19, "SSE4.1");
  Gen g(0x3c41, base());
  const struct {
    const char* name;
    std::vector<uint8_t> insn;
    bool dbl, scalar;
  } ops[] = {
      {"addsubps", {0xf2, 0x0f, 0xd0, 0xc1}, false, false},
      {"haddpd", {0x66, 0x0f, 0x7c, 0xc1}, true, false},
      {"hsubps", {0xf2, 0x0f, 0x7d, 0xc1}, false, false},
      {"dpps 0xf1", {0x66, 0x0f, 0x3a, 0x40, 0xc1, 0xf1}, false, false},
      {"dpps 0x5a", {0x66, 0x0f, 0x3a, 0x40, 0xc1, 0x5a}, false, false},
      {"dppd 0x31", {0x66, 0x0f, 0x3a, 0x41, 0xc1, 0x31}, true, false},
      {"roundps 0", {0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x00}, false, false},
      {"roundps 0xc", {0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x0c}, false, false},
      {"roundsd 5", {0x66, 0x0f, 0x3a, 0x0b, 0xc1, 0x05}, true, true},
      {"roundpd 4", {0x66, 0x0f, 0x3a, 0x09, 0xc1, 0x04}, true, false},
  };
  std::vector<uint32_t> mxcsrs;
  for (uint32_t rc : {0x0000u, 0x2000u, 0x4000u, 0x6000u, 0x8040u})
    for (unsigned k = 0; k <= 6; ++k) mxcsrs.push_back(rc | (k < 6 ? (0x1f80 & ~(0x80u << k)) : 0));
  std::vector<Case> cases;
  for (const auto& op : ops) {
    const auto data = op.dbl ? sse::fp_pairs(g, sse::double_edges(), op.scalar)
                             : sse::fp_pairs(g, sse::float_edges(), op.scalar);
    for (size_t k = 0; k < data.size(); ++k) {
      sse::Data d = data[k];
      d.mxcsr = mxcsrs[(k * 7 + k / mxcsrs.size()) % mxcsrs.size()];
      char name[160];
      std::snprintf(name, sizeof name, "%s mxcsr 0x%04x x0 %016llx:%016llx x1 %016llx:%016llx", op.name, d.mxcsr,
                    (unsigned long long)d.x0[0], (unsigned long long)d.x0[1], (unsigned long long)d.x1[0],
                    (unsigned long long)d.x1[1]);
      cases.push_back(sse::make(g, name, op.insn, d));
    }
  }
  const unsigned traps = check_unmasked(cases);
  EXPECT_GT(traps, cases.size() / 10) << "the cases should trap often";
  EXPECT_LT(traps, cases.size()) << "and complete sometimes";
}

// A PCMPxSTRx operand: strings over a small alphabet (so matches are
// common), zero elements at varied places (the implicit lengths).
void string_operand(Gen& g, uint64_t* q, unsigned k) {
  uint8_t b[16];
  const unsigned alphabet = 2 + k % 5;
  for (auto& x : b) x = uint8_t("a\x80z\xff\x01"[g.below(alphabet)] + (g.below(8) == 0 ? g.below(3) : 0));
  if (k % 3 != 2) b[g.below(16)] = 0;
  if (k % 7 == 3) b[0] = 0;
  if (k % 5 == 1) b[g.below(16)] = 0, b[g.below(16)] = 0;
  std::memcpy(q, b, 16);
}

// SSE4.2: PCMPGTQ; PCMPESTRI/M and PCMPISTRI/M with every imm8 value (bit
// 7 reserved), explicit lengths in range, negative, beyond 16 and 64-bit
// with REX.W; flags and the index in ECX / the mask in XMM0.
TEST_F(Differential, Sse42) {
  NB_REQUIRE_HOST(20, "SSE4.2");
  Gen g(0x5542, base());
  std::vector<Case> cases;
  for (unsigned k = 0; k < 24; ++k)
    cases.push_back(sse::make(g, hex_name("pcmpgtq", 0x37, -1, k % 3 == 1), sse::insn(0x66, {0x0f, 0x38, 0x37}, k % 3 == 1),
                              int_data(g, k)));
  const uint64_t lengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 100, ~0ull, ~0ull - 5, 0xfffffff0, 0x80000000, 0x7fffffff,
                              0xffffffff00000003, 0x100000002, 0x8000000000000000};
  for (unsigned imm = 0; imm < 256; ++imm) {
    if (imm >= 128 && imm % 8) continue;  // bit 7 is reserved: a sample
    for (uint8_t op : {0x60, 0x61, 0x62, 0x63}) {
      for (unsigned k = 0; k < 3; ++k) {
        sse::Data d;
        d.mxcsr = 0x1f80;
        string_operand(g, d.x0, imm + k);
        string_operand(g, d.x1, imm * 3 + k + 1);
        if (k == 2) std::memcpy(d.x1, d.x0, 8);  // a common prefix
        std::memcpy(d.mem, d.x1, 16);
        const bool mem = (imm + k) % 3 == 1;
        const bool explicit_len = op < 0x62;
        const uint8_t rex = explicit_len && (imm + k) % 4 == 3 ? 0x48 : 0;
        std::vector<uint8_t> code = sse::insn(0x66, {0x0f, 0x3a, op}, mem, int(imm), rex);
        if (mem && k == 1) code[code.size() - 2] = sse::kMem + 1;  // m128 with no alignment
        Case c = sse::make(g, hex_name(rex ? "pcmpstr rex.w" : "pcmpstr", op, int(imm), mem), code, d);
        if (mem && k == 1) c.patches.push_back({kDataOff + sse::kMem + 1, sse::le(d.x1, 16)});
        c.in.r[rAX] = lengths[g.below(sizeof lengths / sizeof lengths[0])];
        c.in.r[rDX] = g.coin() ? g.below(20) : lengths[g.below(sizeof lengths / sizeof lengths[0])];
        cases.push_back(std::move(c));
      }
    }
  }
  check(cases);
}

// CRC32 with 8-, 16-, 32- and 64-bit sources, register and memory, and a
// 64-bit destination; POPCNT (16, 32, 64 bits; ZF, the other flags
// cleared); CMPXCHG16B with LOCK, equal and unequal in either half.
TEST_F(Differential, Sse42Crc32Popcnt) {
  NB_REQUIRE_HOST(20, "SSE4.2");
  if (!host_ecx(23)) GTEST_SKIP() << "the host CPU has no POPCNT";
  Gen g(0xc32, base());
  std::vector<Case> cases;
  const struct {
    const char* name;
    std::vector<uint8_t> r, m;  // crc32 eax/rax, ecx... (ModRM c1) and [rbx+0x40]
  } crcs[] = {
      {"crc32 r32,r8", {0xf2, 0x0f, 0x38, 0xf0, 0xc1}, {0xf2, 0x0f, 0x38, 0xf0, 0x43, 0x40}},
      {"crc32 r32,r16", {0x66, 0xf2, 0x0f, 0x38, 0xf1, 0xc1}, {0x66, 0xf2, 0x0f, 0x38, 0xf1, 0x43, 0x40}},
      {"crc32 r32,r32", {0xf2, 0x0f, 0x38, 0xf1, 0xc1}, {0xf2, 0x0f, 0x38, 0xf1, 0x43, 0x41}},
      {"crc32 r64,r64", {0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc1}, {0xf2, 0x48, 0x0f, 0x38, 0xf1, 0x43, 0x43}},
      {"crc32 r64,r8", {0xf2, 0x48, 0x0f, 0x38, 0xf0, 0xc1}, {0xf2, 0x48, 0x0f, 0x38, 0xf0, 0x43, 0x40}},
      {"crc32 r32,ch", {0xf2, 0x0f, 0x38, 0xf0, 0xc5}, {}},
      {"crc32 r9d,r10b", {0xf2, 0x45, 0x0f, 0x38, 0xf0, 0xca}, {}},
      {"popcnt r16", {0x66, 0xf3, 0x0f, 0xb8, 0xc1}, {0x66, 0xf3, 0x0f, 0xb8, 0x43, 0x40}},
      {"popcnt r32", {0xf3, 0x0f, 0xb8, 0xc1}, {0xf3, 0x0f, 0xb8, 0x43, 0x42}},
      {"popcnt r64", {0xf3, 0x48, 0x0f, 0xb8, 0xc1}, {0xf3, 0x48, 0x0f, 0xb8, 0x43, 0x40}},
  };
  for (const auto& op : crcs) {
    for (unsigned k = 0; k < 24; ++k) {
      const bool mem = k % 2 && !op.m.empty();
      sse::Data d = int_data(g, k);
      if (k < 4) d.mem[0] = k == 0 ? 0 : k == 1 ? ~0ull : 1ull << g.below(64);
      Case c = sse::make(g, std::string(op.name) + (mem ? " mem" : ""), mem ? op.m : op.r, d);
      if (k % 4 == 0) c.in.r[rCX] = 0;
      if (k % 8 == 3) c.in.r[rAX] = 0xffffffffull;
      cases.push_back(std::move(c));
    }
  }
  check(cases);
}

// Memory operands with a 32-bit address (67h: the decoder's Form::M
// handlers, as in 32-bit code), one instruction of each family.
TEST_F(Differential, Sse4AddressSize32) {
  NB_REQUIRE_HOST(20, "SSE4.2");
  if (!native_->low()) GTEST_SKIP() << "the region is above 2 GiB: no 32-bit addresses reach it";
  Gen g(0x67, base());
  const std::vector<std::vector<uint8_t>> insns = {
      {0x67, 0xf2, 0x0f, 0x7c, 0x43, 0x40},              // haddps xmm0, [ebx+0x40]
      {0x67, 0xf2, 0x0f, 0x12, 0x43, 0x44},              // movddup xmm0, [ebx+0x44]
      {0x67, 0x66, 0x0f, 0x38, 0x00, 0x43, 0x40},        // pshufb
      {0x67, 0x66, 0x0f, 0x38, 0x30, 0x43, 0x41},        // pmovzxbw
      {0x67, 0x66, 0x0f, 0x3a, 0x40, 0x43, 0x40, 0x7f},  // dpps
      {0x67, 0x66, 0x0f, 0x3a, 0x0a, 0x43, 0x40, 0x03},  // roundss
      {0x67, 0x66, 0x0f, 0x3a, 0x22, 0x43, 0x42, 0x02},  // pinsrd
      {0x67, 0x66, 0x0f, 0x3a, 0x16, 0x43, 0x48, 0x03},  // pextrd [ebx+0x48]
      {0x67, 0x66, 0x0f, 0x3a, 0x63, 0x43, 0x41, 0x0c},  // pcmpistri
      {0x67, 0x66, 0x0f, 0x38, 0x17, 0x43, 0x40},        // ptest
      {0x67, 0xf2, 0x0f, 0x38, 0xf1, 0x43, 0x40},        // crc32 eax, [ebx+0x40]
      {0x67, 0xf3, 0x48, 0x0f, 0xb8, 0x43, 0x40},        // popcnt rax, [ebx+0x40]
  };
  std::vector<Case> cases;
  for (const auto& insn : insns)
    for (unsigned k = 0; k < 6; ++k) cases.push_back(sse::make(g, "67h " + hex_bytes(insn), insn, int_data(g, k + 2)));
  check(cases);
}

}  // namespace
}  // namespace nestbed::testing
