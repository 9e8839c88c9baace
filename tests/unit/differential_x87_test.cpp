// Differential tests of the x87 FPU (see differential_test.cpp for the
// harness and tests/support/differential.h for the case builders).
//
// Each case loads a whole x87 state with FXRSTOR64 [rbx] (registers, FCW,
// FSW with TOP, tags), runs one x87 instruction, and stores the state with
// FXSAVE64 [rbx+0x200] and FNSTENV [rbx+0x400]; the memory comparison then
// checks ST0-ST7, FCW, FSW, FTW, FOP, FIP and FDP, the instruction's memory
// destination and RFLAGS (FCOMI, FCMOVcc). The snippet ends with FNINIT so
// the host returns to C++ with its FPU as the ABI wants it.
//
// What is not compared, and why (the snippet zeroes it on both sides):
//   - MXCSR_MASK in the FXSAVE image: the processor's own (SDM vol. 1,
//     11.6.6; AMD hosts report 0x2ffff, MM included).
//   - FOP, FIP and FDP in the FXSAVE image: AMD processors store them
//     there only while an unmasked exception is pending (AMD APM vol. 5,
//     FXSAVE; seen on the EPYC hosts this suite runs on), and Intel
//     processors with CPUID.(EAX=7):EBX[6] FDP_EXCPTN_ONLY update FDP only
//     on unmasked exceptions (SDM vol. 1, 8.1.8). FNSTENV's image carries
//     the same three pointers and is compared instead (but see the next).
//   - The FCS and FDS selectors in the FNSTENV image: the host runs the
//     snippet with its user selectors, the sim with the harness's; and
//     Intel processors with CPUID.(EAX=7):EBX[13] store them as zero.
//   - FDP after an instruction without a memory operand: "undefined"
//     (SDM vol. 1, 8.1.8).
//   - FIP, FOP and FDP after a control instruction (FLDCW, FNCLEX, ...:
//     they keep their values, 8.1.8): on AMD, FXRSTOR loads them only
//     with an exception pending, so the host keeps earlier values the sim
//     cannot know. The control instructions' own effects are compared.
#include "tests/support/differential.h"

#include "arch/x86/sse.h"
#include "arch/x86/x87.h"

namespace nestbed::testing {
namespace {
using namespace differential;

// Offsets from RBX (the data area).
constexpr uint32_t kImageIn = 0x000, kImageOut = 0x200, kEnvOut = 0x400, kOperand = 0x440;

// An 80-bit value: significand, then sign and exponent.
struct F80 {
  uint64_t mant;
  uint16_t se;
};

const std::vector<F80>& f80_edges() {
  static const std::vector<F80> v = {
      {0, 0x0000},                     // +0
      {0, 0x8000},                     // -0
      {0x8000000000000000, 0x3fff},    // 1
      {0xc000000000000000, 0xbfff},    // -1.5
      {0x8000000000000000, 0x7fff},    // +inf
      {0x8000000000000000, 0xffff},    // -inf
      {0xc000000000000000, 0x7fff},    // QNaN (the real indefinite's sign flipped)
      {0xc000000000012345, 0xffff},    // -QNaN with a payload
      {0xa000000000000000, 0x7fff},    // SNaN
      {0x0000000000000001, 0x0000},    // smallest denormal
      {0x7fffffffffffffff, 0x8000},    // largest negative denormal
      {0x8000000000000001, 0x0000},    // pseudo-denormal
      {0x4000000000000000, 0x3fff},    // unnormal (unsupported: #IA)
      {0x0000000000000000, 0x7fff},    // pseudo-infinity (unsupported)
      {0x4000000000000000, 0x7fff},    // pseudo-NaN (unsupported)
      {0xffffffffffffffff, 0x7ffe},    // largest finite
      {0x8000000000000000, 0x0001},    // smallest normal
      {0xaaaaaaaaaaaaaaab, 0x3ffd},    // 1/3
      {0xc90fdaa22168c235, 0x4000},    // pi
      {0xffffffffffffffff, 0x403e},    // 2^64 - 1: integer overflow
      {0x8000000000000000, 0x403e},    // 2^63
      {0x8000000000000000, 0xc03e},    // -2^63: the int64 minimum
      {0xc000000000000000, 0x3ffe},    // 0.75
      {0x8000000000000400, 0x4034},    // 2^53 + 1/2-ish: rounding
      {0x8000000000000000, 0x3c00},    // tiny: underflow in float/double
      {0xfffffffffffff800, 0x43fe},    // near double max
      {0xd9b4bf6cf8c1f2e7, 0x4010},    // 111 546.9...
      {0x9a5b3fd0b2b40000, 0xc012},    // -632 043.5...
  };
  return v;
}

F80 random_f80(Gen& g) {
  if (g.below(3) == 0) return f80_edges()[g.below(unsigned(f80_edges().size()))];
  F80 f;
  f.mant = g.r64() | 0x8000000000000000ull;
  f.se = uint16_t((0x3fff - 40 + g.below(100)) | (g.coin() ? 0x8000 : 0));
  return f;
}

// Control words: each precision and rounding control, masks all set,
// all clear, and one at a time.
constexpr uint16_t kFcws[] = {0x037f, 0x007f, 0x027f, 0x077f, 0x0b7f, 0x0f7f, 0x0340,
                              0x037e, 0x037d, 0x037b, 0x0377, 0x036f, 0x035f, 0x0c40};

struct State {
  uint16_t fcw = 0x037f, fsw = 0;
  uint8_t ftw = 0;
  F80 st[8]{};
  uint32_t mxcsr = arch::mxcsr::RESET;
  uint64_t xmm[8][2]{};  // XMM0-XMM7 (the MMX/XMM conversions)
};

// A random state: TOP, condition codes and masked sticky flags random; ES
// clear (a pending unmasked exception would trap in the host at once);
// each register occupied or empty.
State random_state(Gen& g, unsigned index, unsigned empty_one_in = 4) {
  State s;
  s.fcw = kFcws[index % (sizeof kFcws / sizeof kFcws[0])];
  const uint16_t top = uint16_t(g.below(8));
  s.fsw = uint16_t(top << arch::x87::FSW_TOP_SHIFT) | uint16_t(g.r64() & 0x4700);
  s.fsw |= uint16_t(g.r64() & s.fcw & arch::x87::FSW_EXCEPTIONS);
  for (unsigned k = 0; k < 8; ++k) {
    s.st[k] = random_f80(g);
    if (g.below(empty_one_in) != 0) s.ftw |= uint8_t(1u << ((k + top) & 7));
  }
  return s;
}

std::vector<uint8_t> image_of(const State& s) {
  namespace fx = arch::fxsave;
  std::vector<uint8_t> img(fx::XMM0 + 8 * fx::SLOT, 0);
  std::memcpy(&img[fx::FCW], &s.fcw, 2);
  std::memcpy(&img[fx::FSW], &s.fsw, 2);
  img[fx::FTW] = s.ftw;
  std::memcpy(&img[fx::MXCSR], &s.mxcsr, 4);
  std::memcpy(&img[fx::XMM0], s.xmm, sizeof s.xmm);
  for (unsigned k = 0; k < 8; ++k) {
    std::memcpy(&img[fx::ST0 + fx::SLOT * k], &s.st[k].mant, 8);
    std::memcpy(&img[fx::ST0 + fx::SLOT * k + 8], &s.st[k].se, 2);
  }
  return img;
}

void emit(std::vector<uint8_t>& code, std::initializer_list<uint8_t> b) { code.insert(code.end(), b); }
void emit32(std::vector<uint8_t>& code, uint32_t v) {
  for (int k = 0; k < 4; ++k) code.push_back(uint8_t(v >> (8 * k)));
}
// mov dword [rbx+off], 0 (or qword with REX.W; or word with 66)
void zero(std::vector<uint8_t>& code, uint32_t off, unsigned size) {
  if (size == 2) code.push_back(0x66);
  if (size == 8) code.push_back(0x48);
  emit(code, {0xc7, 0x83});
  emit32(code, off);
  if (size == 2)
    emit(code, {0, 0});
  else
    emit32(code, 0);
}

// The instruction: opcode and ModR/M; a memory form (`reg` given) gets
// [rbx + kOperand].
std::vector<uint8_t> x87_insn(uint8_t opcode, uint8_t modrm, bool mem, uint8_t prefix = 0) {
  std::vector<uint8_t> b;
  if (prefix) b.push_back(prefix);
  b.push_back(opcode);
  if (mem) {
    b.push_back(uint8_t(0x83 | (modrm & 0x38)));
    emit32(b, kOperand);
  } else {
    b.push_back(modrm);
  }
  return b;
}

enum class Kind { Compute, Control, LoadsPointers };

Case make_case(Gen& g, const std::string& name, const std::vector<uint8_t>& insn, const State& s, bool mem,
               const std::vector<uint8_t>& operand, Kind kind, unsigned operand_pointer_bytes = 0) {
  Case c = g.start(name);
  c.in.r[rBX] = g.base + kDataOff;
  c.memory = true;
  c.patches = {{kDataOff + kImageIn, image_of(s)}};
  if (!operand.empty()) c.patches.push_back({kDataOff + kOperand, operand});
  std::vector<uint8_t> code;
  emit(code, {0x48, 0x0f, 0xae, 0x0b});  // fxrstor64 [rbx]
  code.insert(code.end(), insn.begin(), insn.end());
  emit(code, {0x48, 0x0f, 0xae, 0x83});  // fxsave64 [rbx+0x200]
  emit32(code, kImageOut);
  emit(code, {0xd9, 0xb3});  // fnstenv [rbx+0x400]
  emit32(code, kEnvOut);
  namespace fx = arch::fxsave;
  namespace env = arch::fpuenv;
  zero(code, kImageOut + fx::MXCSR_MASK, 4);
  zero(code, kImageOut + fx::FOP, 2);
  zero(code, kImageOut + fx::FIP, 8);
  zero(code, kImageOut + fx::FDP, 8);
  zero(code, kEnvOut + env::FCS32, 2);
  zero(code, kEnvOut + env::FDS32, 2);
  if (!mem && kind == Kind::Compute) zero(code, kEnvOut + env::FDP32, 4);
  if (kind == Kind::Control) {
    zero(code, kEnvOut + env::FIP32, 4);
    zero(code, kEnvOut + env::FCS32, 4);
    zero(code, kEnvOut + env::FDP32, 4);
  }
  if (operand_pointer_bytes == env::SIZE32) {  // FNSTENV/FNSAVE's own image: the same pointers
    zero(code, kOperand + env::FIP32, 4);
    zero(code, kOperand + env::FCS32, 4);
    zero(code, kOperand + env::FDP32, 4);
    zero(code, kOperand + env::FDS32, 2);
  } else if (operand_pointer_bytes == env::SIZE16) {
    zero(code, kOperand + env::FIP16, 2);
    zero(code, kOperand + env::FCS16, 2);
    zero(code, kOperand + env::FDP16, 2);
    zero(code, kOperand + env::FDS16, 2);
  }
  emit(code, {0xdb, 0xe3});  // fninit
  c.code = std::move(code);
  return c;
}

// Memory operand bytes for a load of `size` bytes.
std::vector<uint8_t> operand_bytes(Gen& g, unsigned size, bool integer) {
  std::vector<uint8_t> b(size);
  if (size == 10) {
    const F80 f = random_f80(g);
    std::memcpy(&b[0], &f.mant, 8);
    std::memcpy(&b[8], &f.se, 2);
    if (integer) {  // packed BCD: 18 digits and a sign byte, now and then invalid
      for (unsigned k = 0; k < 9; ++k) b[k] = uint8_t((g.below(10) << 4) | g.below(10));
      if (g.below(8) == 0) b[g.below(9)] = 0xfa;
      b[9] = g.coin() ? 0x80 : 0;
    }
    return b;
  }
  uint64_t v = g.r64() >> g.below(64);
  if (!integer) {
    if (size == 4) {
      const uint32_t e[] = {0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000, 0x00000001, 0x807fffff, 0x3f800000, 0x7f7fffff};
      v = g.coin() ? e[g.below(10)] : (g.r64() & 0x807fffff) | (uint64_t(0x60 + g.below(64)) << 23);
    } else if (size == 8) {
      const uint64_t e[] = {0, 0x8000000000000000, 0x7ff0000000000000, 0x7ff8000000000000, 0x7ff4000000000000,
                            0x0000000000000001, 0x800fffffffffffff, 0x3ff0000000000000, 0x7fefffffffffffff};
      v = g.coin() ? e[g.below(9)] : (g.r64() & 0x800fffffffffffff) | (uint64_t(0x3c0 + g.below(128)) << 52);
    }
  } else if (g.below(4) == 0) {
    v = g.coin() ? 0 : ~0ull << (8 * size - 1);  // 0 or the minimum
  }
  std::memcpy(b.data(), &v, size);
  return b;
}

struct RegForm {
  uint8_t opcode, first, last;  // ModR/M first..last
  const char* name;
};
// Every register-form x87 instruction other than FNINIT/FNCLEX/FNSTSW AX
// (SDM vol. 2, appendix A.4.2, tables ).
const RegForm kRegForms[] = {
    {0xd8, 0xc0, 0xff, "fadd/fmul/fcom/fcomp/fsub/fsubr/fdiv/fdivr st0, sti"},
    {0xd9, 0xc0, 0xcf, "fld sti / fxch"},
    {0xd9, 0xd0, 0xd0, "fnop"},
    {0xd9, 0xe0, 0xe1, "fchs/fabs"},
    {0xd9, 0xe4, 0xe5, "ftst/fxam"},
    {0xd9, 0xe8, 0xee, "fld constants"},
    {0xd9, 0xf0, 0xff, "f2xm1 .. fcos"},
    {0xda, 0xc0, 0xdf, "fcmovb/e/be/u"},
    {0xda, 0xe9, 0xe9, "fucompp"},
    {0xdb, 0xc0, 0xdf, "fcmovnb/ne/nbe/nu"},
    {0xdb, 0xe8, 0xf7, "fucomi/fcomi"},
    {0xdc, 0xc0, 0xc7, "fadd sti, st0"},
    {0xdc, 0xc8, 0xcf, "fmul sti, st0"},
    {0xdc, 0xe0, 0xff, "fsubr/fsub/fdivr/fdiv sti, st0"},
    {0xdd, 0xc0, 0xc7, "ffree"},
    {0xdd, 0xd0, 0xef, "fst/fstp sti, fucom/fucomp"},
    {0xde, 0xc0, 0xcf, "faddp/fmulp"},
    {0xde, 0xd9, 0xd9, "fcompp"},
    {0xde, 0xe0, 0xff, "fsubrp/fsubp/fdivrp/fdivp"},
    {0xdf, 0xe8, 0xf7, "fucomip/fcomip"},
};

// The register forms: every ModR/M byte, several states each.
TEST_F(Differential, X87RegisterForms) {
  Gen g(0x87, base());
  std::vector<Case> cases;
  unsigned n = 0;
  for (const RegForm& f : kRegForms) {
    for (unsigned m = f.first; m <= f.last; ++m) {
      const unsigned per = f.last - f.first < 8 ? 12 : 4;
      for (unsigned k = 0; k < per; ++k, ++n) {
        char name[96];
        std::snprintf(name, sizeof name, "%s (%02x %02x)", f.name, f.opcode, m);
        cases.push_back(make_case(g, name, x87_insn(f.opcode, uint8_t(m), false), random_state(g, n), false, {},
                                  Kind::Compute));
      }
    }
  }
  check(cases);
}

// The memory forms: loads and arithmetic with m16/m32/m64 integers, m32/
// m64/m80 reals and packed BCD, and the stores (FST, FIST, FISTTP, FBSTP),
// whose destination is not written after an unmasked exception.
TEST_F(Differential, X87MemoryForms) {
  Gen g(0x387, base());
  std::vector<Case> cases;
  struct MemForm {
    uint8_t opcode, reg, size;
    bool integer, store;
    const char* name;
  };
  std::vector<MemForm> forms;
  for (uint8_t reg = 0; reg < 8; ++reg) {
    forms.push_back({0xd8, reg, 4, false, false, "arith m32fp"});
    forms.push_back({0xda, reg, 4, true, false, "arith m32int"});
    forms.push_back({0xdc, reg, 8, false, false, "arith m64fp"});
    forms.push_back({0xde, reg, 2, true, false, "arith m16int"});
  }
  const MemForm others[] = {
      {0xd9, 0, 4, false, false, "fld m32"},     {0xd9, 2, 4, false, true, "fst m32"},
      {0xd9, 3, 4, false, true, "fstp m32"},     {0xdb, 0, 4, true, false, "fild m32"},
      {0xdb, 1, 4, true, true, "fisttp m32"},    {0xdb, 2, 4, true, true, "fist m32"},
      {0xdb, 3, 4, true, true, "fistp m32"},     {0xdb, 5, 10, false, false, "fld m80"},
      {0xdb, 7, 10, false, true, "fstp m80"},    {0xdd, 0, 8, false, false, "fld m64"},
      {0xdd, 1, 8, true, true, "fisttp m64"},    {0xdd, 2, 8, false, true, "fst m64"},
      {0xdd, 3, 8, false, true, "fstp m64"},     {0xdf, 0, 2, true, false, "fild m16"},
      {0xdf, 1, 2, true, true, "fisttp m16"},    {0xdf, 2, 2, true, true, "fist m16"},
      {0xdf, 3, 2, true, true, "fistp m16"},     {0xdf, 4, 10, true, false, "fbld"},
      {0xdf, 5, 8, true, false, "fild m64"},     {0xdf, 6, 10, true, true, "fbstp"},
      {0xdf, 7, 8, true, true, "fistp m64"},
  };
  forms.insert(forms.end(), std::begin(others), std::end(others));
  unsigned n = 0;
  for (const MemForm& f : forms) {
    const unsigned per = f.opcode == 0xd9 || f.opcode == 0xdb || f.opcode == 0xdd || f.opcode == 0xdf ? 48 : 24;
    for (unsigned k = 0; k < per; ++k, ++n) {
      char name[96];
      std::snprintf(name, sizeof name, "%s (%02x /%u)", f.name, f.opcode, f.reg);
      State s = random_state(g, n);
      if (f.store && k % 3 == 0) s.st[0] = F80{g.r64() | 0x8000000000000000ull, uint16_t(0x3fff + g.below(64))};
      const auto operand = f.store ? std::vector<uint8_t>{} : operand_bytes(g, f.size, f.integer);
      cases.push_back(make_case(g, name, x87_insn(f.opcode, uint8_t(f.reg << 3), true), s, true, operand, Kind::Compute));
    }
  }
  check(cases);
}

// The control instructions: FLDCW (an unmasked flag already set becomes
// pending), FNSTCW, FNSTSW m16 and AX, FNCLEX, FNINIT, FNSTENV, FLDENV,
// FNSAVE, FRSTOR, in the 32-bit format and with an operand-size prefix in
// the 16-bit one.
TEST_F(Differential, X87Control) {
  Gen g(0xc87, base());
  std::vector<Case> cases;
  for (unsigned k = 0; k < 64; ++k) {
    State s = random_state(g, k);
    std::vector<uint8_t> cw(2);
    const uint16_t v = uint16_t(kFcws[g.below(14)] ^ (g.r64() & 0xf0c0));
    std::memcpy(cw.data(), &v, 2);
    cases.push_back(make_case(g, "fldcw", x87_insn(0xd9, 5 << 3, true), s, true, cw, Kind::Control));
    cases.push_back(make_case(g, "fnstcw", x87_insn(0xd9, 7 << 3, true), s, true, {}, Kind::Control));
    cases.push_back(make_case(g, "fnstsw m16", x87_insn(0xdd, 7 << 3, true), s, true, {}, Kind::Control));
    cases.push_back(make_case(g, "fnstsw ax", x87_insn(0xdf, 0xe0, false), s, false, {}, Kind::Control));
    cases.push_back(make_case(g, "fnclex", x87_insn(0xdb, 0xe2, false), s, false, {}, Kind::Control));
    cases.push_back(make_case(g, "fninit", x87_insn(0xdb, 0xe3, false), s, false, {}, Kind::Control));
    for (uint8_t prefix : {0, 0x66}) {
      const unsigned env_bytes = prefix ? 14 : 28;
      cases.push_back(make_case(g, prefix ? "fnstenv 16" : "fnstenv", x87_insn(0xd9, 6 << 3, true, prefix), s, true, {},
                                Kind::Control, env_bytes));
      cases.push_back(make_case(g, prefix ? "fnsave 16" : "fnsave", x87_insn(0xdd, 6 << 3, true, prefix), s, true, {},
                                Kind::Control, env_bytes));
      // FLDENV/FRSTOR images: a state's FCW, FSW, a full tag word with
      // random non-empty tags (the FPU recomputes them), pointers.
      std::vector<uint8_t> img(env_bytes + 80);
      const State t = random_state(g, k + 3);
      uint16_t tw = 0;
      for (unsigned r = 0; r < 8; ++r)
        tw |= uint16_t(((t.ftw >> r & 1) ? g.below(3) : 3) << (2 * r));
      for (size_t b = 0; b < img.size(); ++b) img[b] = uint8_t(g.r64());
      const unsigned w = prefix ? 2 : 4;
      std::memcpy(&img[0], &t.fcw, 2);
      uint16_t fsw = t.fsw;
      if (k % 4 == 0) fsw |= uint16_t(g.r64() & arch::x87::FSW_EXCEPTIONS);  // unmasked ones become pending
      std::memcpy(&img[w], &fsw, 2);
      std::memcpy(&img[2 * w], &tw, 2);
      for (unsigned r = 0; r < 8; ++r) {
        std::memcpy(&img[env_bytes + 10 * r], &t.st[r].mant, 8);
        std::memcpy(&img[env_bytes + 10 * r + 8], &t.st[r].se, 2);
      }
      std::vector<uint8_t> env_only(img.begin(), img.begin() + env_bytes);
      // The loaded FIP/FDP/FOP are compared only in the 32-bit format
      // (FNSTENV [rbx+0x400] stores that one).
      const Kind kind = prefix ? Kind::Control : Kind::LoadsPointers;
      cases.push_back(make_case(g, prefix ? "fldenv 16" : "fldenv", x87_insn(0xd9, 4 << 3, true, prefix), s, true,
                                env_only, kind));
      cases.push_back(make_case(g, prefix ? "frstor 16" : "frstor", x87_insn(0xdd, 4 << 3, true, prefix), s, true, img,
                                kind));
    }
  }
  check(cases);
}

// MMX (SDM vol. 1, chapter 9): every instruction the sim implements, on
// random x87 states (any TOP and tags: an MMX instruction sets TOP to 0 and
// every tag valid, and its destination's exponent to all ones), register
// and memory forms. The x87 pointers are masked as for the control
// instructions: MMX instructions leave them.
std::vector<uint8_t> mmx_insn(std::initializer_list<uint8_t> prefix_and_opcode, uint8_t modrm, bool mem, int imm = -1) {
  std::vector<uint8_t> b(prefix_and_opcode);
  if (mem) {
    b.push_back(uint8_t(0x83 | (modrm & 0x38)));
    emit32(b, kOperand);
  } else {
    b.push_back(modrm);
  }
  if (imm >= 0) b.push_back(uint8_t(imm));
  return b;
}

TEST_F(Differential, Mmx) {
  Gen g(0x3307, base());
  std::vector<Case> cases;
  auto add = [&](const std::string& name, const std::vector<uint8_t>& insn, bool mem, unsigned k,
                 const State* state = nullptr, const std::vector<uint8_t>* operand_in = nullptr) {
    std::vector<uint8_t> operand(16);
    const uint64_t a = g.r64(), b = k % 5 == 0 ? 0x8000800080008000ull : g.r64() >> g.below(64);
    std::memcpy(&operand[0], &a, 8);
    std::memcpy(&operand[8], &b, 8);
    if (operand_in) operand = *operand_in;
    Case c = make_case(g, name, insn, state ? *state : random_state(g, k, 3), mem, operand, Kind::Control);
    c.in.r[rDI] = g.base + kDataOff + kOperand;  // MASKMOVQ's destination
    cases.push_back(c);
  };
  const uint8_t host_ops[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x74, 0x75,
                              0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
                              0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
                              0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe};
  unsigned n = 0;
  for (uint8_t op : host_ops) {
    for (unsigned k = 0; k < 8; ++k, ++n) {
      const bool mem = k % 3 == 2;
      char name[48];
      std::snprintf(name, sizeof name, "0f %02x%s", op, mem ? " mem" : "");
      add(name, mmx_insn({0x0f, op}, uint8_t(0xc0 | g.below(64)), mem), mem, n);
    }
  }
  // The SSSE3 forms on MMX registers (0F 38 map), PALIGNR (0F 3A 0F).
  for (uint8_t op : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e}) {
    for (unsigned k = 0; k < 6; ++k, ++n) {
      const bool mem = k % 3 == 2;
      char name[48];
      std::snprintf(name, sizeof name, "0f 38 %02x%s", op, mem ? " mem" : "");
      add(name, mmx_insn({0x0f, 0x38, op}, uint8_t(0xc0 | g.below(64)), mem), mem, n);
    }
  }
  for (int imm : {0, 1, 3, 7, 8, 9, 15, 16, 200}) {
    const bool mem = imm % 2 == 1;
    add("palignr" + std::to_string(imm), mmx_insn({0x0f, 0x3a, 0x0f}, uint8_t(0xc0 | g.below(64)), mem, imm), mem, n++);
  }
  // Shifts by an immediate: 71/72/73 /2 /4 /6 (73: /2 /6).
  const int counts[] = {0, 1, 7, 15, 16, 31, 32, 63, 64, 200};
  for (uint8_t op : {0x71, 0x72, 0x73}) {
    for (unsigned ext : {2u, 4u, 6u}) {
      if (op == 0x73 && ext == 4) continue;
      for (int count : counts) {
        char name[48];
        std::snprintf(name, sizeof name, "0f %02x /%u %d", op, ext, count);
        add(name, mmx_insn({0x0f, op}, uint8_t(0xc0 | ext << 3 | g.below(8)), false, count), false, n++);
      }
    }
  }
  // Moves, EMMS and the SSE forms on MMX registers. GPR operands: RAX,
  // RCX, RDX (ModR/M r/m 0-2), never RBX (the data area's base).
  for (unsigned k = 0; k < 12; ++k, ++n) {
    const uint8_t mm = uint8_t(g.below(8)), mm2 = uint8_t(g.below(8)), gpr = uint8_t(g.below(3));
    const uint8_t to_gpr = uint8_t(0xc0 | mm << 3 | gpr), rr = uint8_t(0xc0 | mm << 3 | mm2);
    const bool mem = k % 2 == 1;
    add("movd mm, r/m32", mmx_insn({0x0f, 0x6e}, to_gpr, mem), mem, n);
    add("movq mm, r/m64", mmx_insn({0x48, 0x0f, 0x6e}, to_gpr, mem), mem, n);
    add("movd r/m32, mm", mmx_insn({0x0f, 0x7e}, to_gpr, mem), mem, n);
    add("movq r/m64, mm", mmx_insn({0x48, 0x0f, 0x7e}, to_gpr, mem), mem, n);
    add("movq mm, mm/m64", mmx_insn({0x0f, 0x6f}, rr, mem), mem, n);
    add("movq mm/m64, mm", mmx_insn({0x0f, 0x7f}, rr, mem), mem, n);
    add("movntq m64, mm", mmx_insn({0x0f, 0xe7}, rr, true), true, n);
    add("emms", {0x0f, 0x77}, false, n);
    add("pshufw", mmx_insn({0x0f, 0x70}, rr, mem, int(g.below(256))), mem, n);
    add("pinsrw", mmx_insn({0x0f, 0xc4}, to_gpr, mem, int(g.below(256))), mem, n);
    add("pextrw", mmx_insn({0x0f, 0xc5}, uint8_t(0xc0 | gpr << 3 | mm), false, int(g.below(256))), false, n);
    add("pmovmskb", mmx_insn({0x0f, 0xd7}, uint8_t(0xc0 | gpr << 3 | mm), false), false, n);
    add("maskmovq", mmx_insn({0x0f, 0xf7}, rr, false), false, n);
    add("movq2dq", mmx_insn({0xf3, 0x0f, 0xd6}, rr, false), false, n);
    add("movdq2q", mmx_insn({0xf2, 0x0f, 0xd6}, rr, false), false, n);
  }
  // CVTPI2PS, CVTPI2PD, CVT(T)PS2PI, CVT(T)PD2PI, with floating-point
  // edge values and integers, in each rounding mode with DAZ, all
  // exceptions masked (the harness cannot compare a host #XM here).
  const uint32_t mxcsrs[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x1fc0, 0x1fa1};
  const uint32_t f32s[] = {0, 0x80000000, 0x3fc00000, 0xbfc00000, 0x40200000, 0x7f800000, 0xff800000, 0x7fc00000,
                           0x7fa00000, 0x00000001, 0x4f000000, 0xcf000000, 0xcf000001, 0x4effffff, 0x3f000000, 0x3f400000};
  const uint64_t f64s[] = {0, 0x8000000000000000, 0x3ff8000000000000, 0xc004000000000000, 0x7ff0000000000000,
                           0x7ff8000000000000, 0x7ff4000000000000, 0x0000000000000001, 0x41dfffffffc00000,
                           0xc1e0000000000000, 0xc1e0000000200000, 0x41e0000000000000, 0x3fe0000000000000,
                           0x41dfffffffe00000};
  const struct {
    const char* name;
    std::initializer_list<uint8_t> op;
    bool to_xmm, dbl;
  } cvts[] = {{"cvtpi2ps", {0x0f, 0x2a}, true, false},  {"cvtpi2pd", {0x66, 0x0f, 0x2a}, true, true},
              {"cvtps2pi", {0x0f, 0x2d}, false, false}, {"cvttps2pi", {0x0f, 0x2c}, false, false},
              {"cvtpd2pi", {0x66, 0x0f, 0x2d}, false, true}, {"cvttpd2pi", {0x66, 0x0f, 0x2c}, false, true}};
  for (const auto& cv : cvts) {
    for (unsigned k = 0; k < 24; ++k, ++n) {
      State s = random_state(g, n, 3);
      s.mxcsr = mxcsrs[k % 6];
      std::vector<uint8_t> operand(16);
      uint64_t v[2];
      if (cv.to_xmm) {
        v[0] = (g.r64() >> g.below(64)) ^ (g.coin() ? 0xffffffff00000000ull : 0);
        if (k % 4 == 0) v[0] = 0x800000007fffffffull;
        v[1] = g.r64();
        for (auto& x : s.xmm) x[0] = g.r64(), x[1] = g.r64();
      } else if (cv.dbl) {
        v[0] = f64s[g.below(14)];
        v[1] = f64s[g.below(14)];
      } else {
        v[0] = uint64_t(f32s[g.below(16)]) | uint64_t(f32s[g.below(16)]) << 32;
        v[1] = g.r64();
      }
      std::memcpy(operand.data(), v, 16);
      const bool mem = k % 3 == 1;
      const uint8_t dst = uint8_t(g.below(8)), src = uint8_t(g.below(8));
      if (!cv.to_xmm) std::memcpy(s.xmm[src], v, 16);
      else {
        uint64_t mm = v[0];  // the mm source: a register's significand
        unsigned top = (s.fsw >> 11) & 7;
        std::memcpy(&s.st[(src - top) & 7].mant, &mm, 8);
      }
      add(std::string(cv.name) + (mem ? " mem" : ""), mmx_insn(cv.op, uint8_t(0xc0 | dst << 3 | src), mem), mem, n, &s,
          &operand);
    }
  }
  check(cases);
}

}  // namespace
}  // namespace nestbed::testing
