// SSE4.1, SSE4.2 (SDM vol. 1, chapter 12), POPCNT and CRC32 (vol. 2, each
// instruction). DPPS/DPPD and ROUNDPS/PD/SS/SD are the host's own
// instructions under the guest's MXCSR (exec_sse.h); on a host without
// SSE4.1, SSE2 steps and integer code. Everything else is integer code,
// exact on every host. PCMPESTRI/PCMPESTRM/PCMPISTRI/
// PCMPISTRM follow vol. 2, 4.1 (the imm8 control byte, tables 4-7 to 4-9).
//
// Alignment (vol. 2, table 2-21, type 4 and its note): 128-bit memory
// operands are #GP(0) when misaligned except for PCMPxSTRx; the narrower
// ones (PMOVSX/ZX, PINSR*, PEXTR*, EXTRACTPS, INSERTPS, ROUNDSS/SD) have
// no alignment rule. POPCNT and CRC32 are general-purpose instructions:
// no CR0/CR4 check.
#include <capstone/capstone.h>

#include <algorithm>
#include <cstdlib>

#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"

namespace nestbed::sim {

namespace {

// ---------------------------------------------------------------- blends

// BLENDPS/BLENDPD/PBLENDW: element k from the source where imm8 bit k is set.
template <typename T>
struct BlendImm {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    XmmLanes<T> d(a), s(b);
    for (unsigned k = 0; k < XmmLanes<T>::N; ++k)
      if (imm & (1u << k)) d.e[k] = s.e[k];
    return d.get();
  }
};

// BLENDVPS/BLENDVPD/PBLENDVB: element k from the source where the sign bit
// of XMM0's element k is set (XMM0 is the implicit third operand).
template <typename T, Form S>
void h_blendv(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<16, true, S>(c, i, 1);
  XmmLanes<T> d(get_xmm(c, i.op[0].reg)), s(b), m(get_xmm(c, 0));
  for (unsigned k = 0; k < XmmLanes<T>::N; ++k)
    if (m.e[k] < 0) d.e[k] = s.e[k];
  set_xmm(c, i.op[0].reg, d.get());
}

// ------------------------------------------------- floating point (host)

// DPPS/DPPD: imm8's high bits (which products enter the sum) select a host
// instruction with all its broadcast bits set; the broadcast mask (the low
// bits) is applied afterwards, as it only chooses which elements receive
// the sum and which become +0.0 (SDM vol. 2, DPPS/DPPD).
using HostFp = V128 (*)(V128, V128, uint32_t&);
template <unsigned IMM>
V128 host_dpps(V128 a, V128 b, uint32_t& m) {
  uint32_t h;
  asm volatile(NB_UNDER_MXCSR("dpps %[i], %[b], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [b] "x"(b), [i] "i"(IMM));
  return a;
}
template <unsigned IMM>
V128 host_dppd(V128 a, V128 b, uint32_t& m) {
  uint32_t h;
  asm volatile(NB_UNDER_MXCSR("dppd %[i], %[b], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [b] "x"(b), [i] "i"(IMM));
  return a;
}
constexpr HostFp kDpps[16] = {&host_dpps<0x0f>, &host_dpps<0x1f>, &host_dpps<0x2f>, &host_dpps<0x3f>,
                               &host_dpps<0x4f>, &host_dpps<0x5f>, &host_dpps<0x6f>, &host_dpps<0x7f>,
                               &host_dpps<0x8f>, &host_dpps<0x9f>, &host_dpps<0xaf>, &host_dpps<0xbf>,
                               &host_dpps<0xcf>, &host_dpps<0xdf>, &host_dpps<0xef>, &host_dpps<0xff>};
constexpr HostFp kDppd[4] = {&host_dppd<0x03>, &host_dppd<0x13>, &host_dppd<0x23>, &host_dppd<0x33>};

struct Dpps {
  static V128 run(V128 a, V128 b, uint8_t imm, uint32_t& m) {
    XmmLanes<uint32_t> r(kDpps[imm >> 4](a, b, m));
    for (unsigned k = 0; k < 4; ++k)
      if (!(imm & (1u << k))) r.e[k] = 0;
    return r.get();
  }
};
struct Dppd {
  static V128 run(V128 a, V128 b, uint8_t imm, uint32_t& m) {
    XmmLanes<uint64_t> r(kDppd[(imm >> 4) & 3](a, b, m));
    for (unsigned k = 0; k < 2; ++k)
      if (!(imm & (1u << k))) r.e[k] = 0;
    return r.get();
  }
};

// DPPS/DPPD as SSE2 steps on a host without SSE4.1 (exec_sse.h): the
// SDM's pseudocode, each product and sum rounded on its own, products of
// the elements not in imm8[7:4] replaced by +0.0.
template <typename U>
struct DpSteps {
  static V128 run(V128 a, V128 b, uint8_t imm, uint32_t mx, uint32_t& flags) {
    constexpr unsigned n = XmmLanes<U>::N;
    const XmmLanes<U> d(a), s(b);
    U t[n];
    uint32_t products = 0, sums = 0, total = 0;
    for (unsigned k = 0; k < n; ++k) t[k] = (imm >> (4 + k)) & 1 ? scalar_step(StepOp::Mul, d.e[k], s.e[k], mx, products) : 0;
    if (end_stage(mx, products, flags)) return a;
    U sum = scalar_step(StepOp::Add, t[0], t[1], mx, sums);
    if constexpr (n == 4) {
      const U high = scalar_step(StepOp::Add, t[2], t[3], mx, sums);
      if (end_stage(mx, sums, flags)) return a;
      sum = scalar_step(StepOp::Add, sum, high, mx, total);
      if (end_stage(mx, total, flags)) return a;
    } else {
      if (end_stage(mx, sums, flags)) return a;
    }
    XmmLanes<U> r;
    for (unsigned k = 0; k < n; ++k) r.e[k] = (imm >> k) & 1 ? sum : 0;
    return r.get();
  }
};

// ROUNDPS/PD/SS/SD: imm8 bits 3:0 (rounding control, "use MXCSR.RC",
// precision suppression) select the host instruction; bits 7:4 are
// reserved and ignored by the legacy-SSE forms.
#define NB_ROUND(name, insn)                                                                              \
  template <unsigned IMM>                                                                                 \
  V128 name(V128 a, V128 b, uint32_t& m) {                                                                \
    uint32_t h;                                                                                           \
    asm volatile(NB_UNDER_MXCSR(insn " %[i], %[b], %[a]")                                                 \
                 : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h)                                                  \
                 : [b] "x"(b), [i] "i"(IMM));                                                             \
    return a;                                                                                             \
  }
NB_ROUND(host_roundps, "roundps")
NB_ROUND(host_roundpd, "roundpd")
NB_ROUND(host_roundss, "roundss")
NB_ROUND(host_roundsd, "roundsd")
#undef NB_ROUND

#define NB_ROUND_TABLE(fn) \
  {&fn<0>, &fn<1>, &fn<2>, &fn<3>, &fn<4>, &fn<5>, &fn<6>, &fn<7>, &fn<8>, &fn<9>, &fn<10>, &fn<11>, &fn<12>, &fn<13>, &fn<14>, &fn<15>}
constexpr HostFp kRoundps[16] = NB_ROUND_TABLE(host_roundps);
constexpr HostFp kRoundpd[16] = NB_ROUND_TABLE(host_roundpd);
constexpr HostFp kRoundss[16] = NB_ROUND_TABLE(host_roundss);
constexpr HostFp kRoundsd[16] = NB_ROUND_TABLE(host_roundsd);
#undef NB_ROUND_TABLE

template <const HostFp* TABLE>
struct Round {
  static V128 run(V128 a, V128 b, uint8_t imm, uint32_t& m) { return TABLE[imm & 15](a, b, m); }
};

// ROUND* in integer code, for a host without SSE4.1 (and for the tests
// that compare it with the host's): SDM vol. 2 ROUNDPS. An SNaN becomes a
// QNaN and signals invalid; a denormal is zero under DAZ (ROUND* never
// signals denormal); a non-integral value signals precision unless imm8
// bit 3 suppresses it; zeros, infinities and integral values pass.
template <typename U>
struct Ieee;
template <>
struct Ieee<uint32_t> {
  static constexpr unsigned MANT = 23, EXP_MAX = 0xff;
  static constexpr int BIAS = 127;
};
template <>
struct Ieee<uint64_t> {
  static constexpr unsigned MANT = 52, EXP_MAX = 0x7ff;
  static constexpr int BIAS = 1023;
};

// x rounded to an integral value with rounding control rc (MXCSR.RC's
// encoding: nearest even, down, up, toward zero); flags collects IE/PE.
template <typename U>
U round_integral(U x, unsigned rc, bool daz, uint32_t& flags) {
  using I = Ieee<U>;
  constexpr U one = 1;
  const U sign = x & (one << (8 * sizeof(U) - 1));
  const unsigned exp = unsigned(x >> I::MANT) & I::EXP_MAX;
  const U mant = x & ((one << I::MANT) - 1);
  if (exp == I::EXP_MAX) {  // infinity or NaN
    if (mant && !(mant >> (I::MANT - 1))) {
      flags |= arch::mxcsr::IE;
      return x | (one << (I::MANT - 1));
    }
    return x;
  }
  if (exp == 0 && (mant == 0 || daz)) return sign;
  const int e = int(exp) - I::BIAS;
  if (e >= int(I::MANT)) return x;
  if (e < 0) {  // 0 < |x| < 1: the result is 0 or 1 with x's sign
    flags |= arch::mxcsr::PE;
    const bool to_one = rc == 0 ? (e == -1 && mant != 0) : rc == 1 ? sign != 0 : rc == 2 ? sign == 0 : false;
    return sign | (to_one ? U(I::BIAS) << I::MANT : 0);
  }
  const unsigned frac = I::MANT - unsigned(e);  // fraction bits, 1..MANT
  const U m = mant | (one << I::MANT);
  const U rem = m & ((one << frac) - 1), half = one << (frac - 1);
  if (rem == 0) return x;
  flags |= arch::mxcsr::PE;
  U ip = m >> frac;
  if (rc == 0 ? (rem > half || (rem == half && (ip & 1))) : rc == 1 ? sign != 0 : rc == 2 ? sign == 0 : false) ++ip;
  U r = ip << frac;
  unsigned ex = exp;
  if (r >> (I::MANT + 1)) {  // rounded up to the next power of two
    r >>= 1;
    ++ex;
  }
  return sign | (U(ex) << I::MANT) | (r & ((one << I::MANT) - 1));
}

template <typename U, bool SCALAR, unsigned N, Form S>
void h_round_soft(Cpu& c, const DecodedInsn& i) {
  namespace mx = arch::mxcsr;
  check_sse(c);
  const V128 b = read_src<N, N == 16, S>(c, i, 1);
  XmmLanes<U> d(get_xmm(c, i.op[0].reg));
  const XmmLanes<U> s(b);
  const uint8_t imm = uint8_t(i.imm);
  uint32_t& mxcsr = c.state().mxcsr;
  const unsigned rc = imm & 4 ? (mxcsr & mx::RC) >> mx::RC_SHIFT : imm & 3;
  uint32_t flags = 0;
  for (unsigned k = 0; k < (SCALAR ? 1 : XmmLanes<U>::N); ++k) d.e[k] = round_integral(s.e[k], rc, mxcsr & mx::DAZ, flags);
  if (imm & 8) flags &= ~mx::PE;
  const uint32_t unmasked = ~(mxcsr >> mx::MASK_SHIFT) & mx::FLAGS;
  // Invalid is found before the computation (SDM vol. 1, 11.5.2.1): when
  // it is unmasked, precision is not reported.
  if (flags & unmasked & mx::IE) flags = mx::IE;
  mxcsr |= flags;
  if (flags & unmasked) raise_simd_exception(c);
  set_xmm(c, i.op[0].reg, d.get());
}
template <typename U, bool SCALAR, unsigned N>
struct RoundSoft {
  template <typename, unsigned, bool, Form S>
  struct H {
    static void fn(Cpu& c, const DecodedInsn& i) { h_round_soft<U, SCALAR, N, S>(c, i); }
  };
};

// ----------------------------------------------------- insert / extract

// EXTRACTPS, PEXTRB/W/D/Q r/m, xmm, imm8: element imm8 (modulo the count)
// to memory, or zero-extended to the whole register.
template <typename E, Form D>
void h_extract(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const XmmLanes<E> s(get_xmm(c, i.op[1].reg));
  const E v = s.e[i.imm & (XmmLanes<E>::N - 1)];
  if constexpr (D == Form::R)
    c.reg(i.op[0].reg) = uint64_t(v);
  else
    c.write<E>(form_linear<D>(c, i, sizeof(E), Access::Write), v);
}

// PINSRB/D/Q xmm, r/m, imm8: the register's low bits or the memory
// element into element imm8 (modulo the count).
template <typename E, Form S>
void h_insert(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const E v = read_form<E, S>(c, i, 1);
  XmmLanes<E> d(get_xmm(c, i.op[0].reg));
  d.e[i.imm & (XmmLanes<E>::N - 1)] = v;
  set_xmm(c, i.op[0].reg, d.get());
}

// INSERTPS xmm, xmm/m32, imm8: the source element imm8[7:6] (a register)
// or the m32 into element imm8[5:4], then the elements in imm8[3:0] zeroed.
template <bool MEM>
struct Insertps {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    XmmLanes<uint32_t> d(a), s(b);
    d.e[(imm >> 4) & 3] = s.e[MEM ? 0 : imm >> 6];
    for (unsigned k = 0; k < 4; ++k)
      if (imm & (1u << k)) d.e[k] = 0;
    return d.get();
  }
};

// ------------------------------------------------------- integer SIMD

template <typename T, bool MAX>
struct MinMax {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<T> d(a), s(b);
    for (unsigned k = 0; k < XmmLanes<T>::N; ++k) d.e[k] = MAX ? std::max(d.e[k], s.e[k]) : std::min(d.e[k], s.e[k]);
    return d.get();
  }
};

// PMOVSX*/PMOVZX*: the low 16 / sizeof(To) elements of type From of the
// source, sign- or zero-extended (the types carry the signedness).
template <typename From, typename To>
struct Pmovx {
  static V128 run(V128, V128 b, uint8_t) {
    XmmLanes<From> s(b);
    XmmLanes<To> r;
    for (unsigned k = 0; k < XmmLanes<To>::N; ++k) r.e[k] = To(s.e[k]);
    return r.get();
  }
};

struct Movntdqa {  // an ordinary aligned load here (no write-combining memory)
  static V128 run(V128, V128 b, uint8_t) { return b; }
};

struct Packusdw {  // signed doublewords to unsigned words, saturated
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<int32_t> d(a), s(b);
    XmmLanes<uint16_t> r;
    for (unsigned k = 0; k < 4; ++k) {
      r.e[k] = saturate<uint16_t>(d.e[k]);
      r.e[4 + k] = saturate<uint16_t>(s.e[k]);
    }
    return r.get();
  }
};

template <bool GT>
struct PcmpQ {  // PCMPEQQ, PCMPGTQ (signed)
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<int64_t> d(a), s(b);
    for (unsigned k = 0; k < 2; ++k) d.e[k] = (GT ? d.e[k] > s.e[k] : d.e[k] == s.e[k]) ? -1 : 0;
    return d.get();
  }
};

struct Pmuldq {  // signed doublewords 0 and 2 to quadword products
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<int32_t> d(a), s(b);
    XmmLanes<int64_t> r;
    for (unsigned k = 0; k < 2; ++k) r.e[k] = int64_t(d.e[2 * k]) * s.e[2 * k];
    return r.get();
  }
};
struct Pmulld {  // the low doublewords of the products
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<uint32_t> d(a), s(b);
    for (unsigned k = 0; k < 4; ++k) d.e[k] = d.e[k] * s.e[k];
    return d.get();
  }
};

// PHMINPOSUW: the smallest unsigned word of the source in word 0, its
// (lowest) index in word 1, the rest zero.
struct Phminposuw {
  static V128 run(V128, V128 b, uint8_t) {
    XmmLanes<uint16_t> s(b);
    unsigned at = 0;
    for (unsigned k = 1; k < 8; ++k)
      if (s.e[k] < s.e[at]) at = k;
    return make128(s.e[at] | (uint64_t(at) << 16), 0);
  }
};

// MPSADBW: eight sums of absolute differences between the four source
// bytes at imm8[1:0] * 4 and the destination bytes at imm8[2] * 4 + k.
struct Mpsadbw {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    XmmLanes<uint8_t> d(a), s(b);
    XmmLanes<uint16_t> r;
    const unsigned so = (imm & 3) * 4, dof = ((imm >> 2) & 1) * 4;
    for (unsigned k = 0; k < 8; ++k) {
      unsigned sum = 0;
      for (unsigned j = 0; j < 4; ++j) sum += unsigned(std::abs(int(d.e[dof + k + j]) - int(s.e[so + j])));
      r.e[k] = uint16_t(sum);
    }
    return r.get();
  }
};

// PTEST: ZF = (dst AND src) == 0, CF = (NOT dst AND src) == 0; AF, OF,
// PF, SF cleared.
template <Form S>
void h_ptest(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<16, true, S>(c, i, 1), a = get_xmm(c, i.op[0].reg);
  const V128 both = _mm_and_si128(a, b), only_src = _mm_andnot_si128(a, b);
  uint64_t f = 0;
  if ((low64(both) | high64(both)) == 0) f |= fl::ZF;
  if ((low64(only_src) | high64(only_src)) == 0) f |= fl::CF;
  set_status(c.state().rflags, f);
}

// ------------------------------------------------------------ PCMPxSTRx

// The string compare of SDM vol. 2, 4.1: `a` is the first operand (xmm1,
// the set / ranges / needle), `b` the second (xmm2/m128), la and lb their
// valid lengths in elements. Returns IntRes2 and sets the flags.
struct StrCompare {
  uint16_t intres2;
  uint64_t flags;
};
StrCompare pcmpstr(V128 a, V128 b, uint8_t imm, unsigned la, unsigned lb) {
  const bool words = imm & 1, is_signed = imm & 2;
  const unsigned n = words ? 8 : 16, agg = (imm >> 2) & 3, polarity = (imm >> 4) & 3;
  int32_t ea[16], eb[16];
  const XmmLanes<uint16_t> wa(a), wb(b);
  const XmmLanes<uint8_t> ba(a), bb(b);
  for (unsigned k = 0; k < n; ++k) {
    if (words) {
      ea[k] = is_signed ? int16_t(wa.e[k]) : wa.e[k];
      eb[k] = is_signed ? int16_t(wb.e[k]) : wb.e[k];
    } else {
      ea[k] = is_signed ? int8_t(ba.e[k]) : ba.e[k];
      eb[k] = is_signed ? int8_t(bb.e[k]) : bb.e[k];
    }
  }
  // BoolRes for a[i] against b[j], with table 4-7's overrides for invalid elements.
  auto boolres = [&](unsigned i, unsigned j) -> bool {
    const bool va = i < la, vb = j < lb;
    if (!va && !vb) return agg >= 2;   // equal each, equal ordered: true
    if (!va) return agg == 3;          // equal ordered: true
    if (!vb) return false;
    if (agg == 1) return i & 1 ? eb[j] <= ea[i] : eb[j] >= ea[i];  // ranges: a holds (low, high) pairs
    return ea[i] == eb[j];
  };
  uint32_t intres1 = 0;
  for (unsigned j = 0; j < n; ++j) {
    bool r = false;
    switch (agg) {
      case 0:  // equal any
        for (unsigned i = 0; i < n; ++i) r |= boolres(i, j);
        break;
      case 1:  // ranges
        for (unsigned i = 0; i < n; i += 2) r |= boolres(i, j) && boolres(i + 1, j);
        break;
      case 2:  // equal each
        r = boolres(j, j);
        break;
      default:  // equal ordered: a found in b at j
        r = true;
        for (unsigned i = 0; i + j < n; ++i) r &= boolres(i, j + i);
        break;
    }
    intres1 |= uint32_t(r) << j;
  }
  const uint32_t all = (1u << n) - 1, valid_b = (1u << lb) - 1;
  uint32_t intres2 = intres1;
  if (polarity == 1) intres2 = ~intres1 & all;
  if (polarity == 3) intres2 = intres1 ^ valid_b;
  uint64_t f = 0;
  if (intres2) f |= fl::CF;
  if (lb < n) f |= fl::ZF;
  if (la < n) f |= fl::SF;
  if (intres2 & 1) f |= fl::OF;
  return {uint16_t(intres2), f};
}

// The explicit length in rAX or rDX (64-bit with REX.W): its absolute
// value, saturated to the element count.
unsigned explicit_length(uint64_t r, bool wide, unsigned n) {
  const int64_t v = wide ? int64_t(r) : int64_t(int32_t(r));
  const uint64_t mag = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
  return mag > n ? n : unsigned(mag);
}
// The implicit length: the elements before the first zero one.
unsigned implicit_length(V128 v, bool words) {
  const XmmLanes<uint16_t> w(v);
  const XmmLanes<uint8_t> b(v);
  const unsigned n = words ? 8 : 16;
  for (unsigned k = 0; k < n; ++k)
    if ((words ? w.e[k] : b.e[k]) == 0) return k;
  return n;
}

template <bool EXPLICIT, bool MASK, Form S>
void h_pcmpstr(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<16, false, S>(c, i, 1), a = get_xmm(c, i.op[0].reg);
  const uint8_t imm = uint8_t(i.imm);
  const bool words = imm & 1;
  const unsigned n = words ? 8 : 16;
  unsigned la, lb;
  if constexpr (EXPLICIT) {
    la = explicit_length(c.reg(RAX), i.opsize == 8, n);
    lb = explicit_length(c.reg(RDX), i.opsize == 8, n);
  } else {
    la = implicit_length(a, words);
    lb = implicit_length(b, words);
  }
  const StrCompare r = pcmpstr(a, b, imm, la, lb);
  if constexpr (MASK) {
    // imm8[6]: 0 the bits zero-extended, 1 one all-ones element per bit.
    V128 m;
    if (!(imm & 0x40)) {
      m = make128(r.intres2, 0);
    } else if (words) {
      XmmLanes<uint16_t> x;
      for (unsigned k = 0; k < 8; ++k) x.e[k] = (r.intres2 >> k) & 1 ? 0xffff : 0;
      m = x.get();
    } else {
      XmmLanes<uint8_t> x;
      for (unsigned k = 0; k < 16; ++k) x.e[k] = (r.intres2 >> k) & 1 ? 0xff : 0;
      m = x.get();
    }
    set_xmm(c, 0, m);
  } else {
    // imm8[6]: 0 the least significant set bit's index, 1 the most
    // significant's; the element count when none is set.
    unsigned index = n;
    if (r.intres2) index = imm & 0x40 ? 31 - unsigned(__builtin_clz(r.intres2)) : unsigned(__builtin_ctz(r.intres2));
    c.reg(RCX) = index;
  }
  set_status(c.state().rflags, r.flags);
}

// --------------------------------------------------------- POPCNT, CRC32

template <typename T, Form S>
void h_popcnt(Cpu& c, const DecodedInsn& i) {
  const T v = read_form<T, S>(c, i, 1);
  set_reg<T>(c, i.op[0], T(__builtin_popcountll(v)));
  set_status(c.state().rflags, v == 0 ? fl::ZF : 0);  // OF, SF, AF, CF, PF cleared
}

// CRC32: the CRC-32C (Castagnoli, polynomial 11EDC6F41H) of the source's
// bytes, starting from the destination's low doubleword, in the
// bit-reflected form the SDM's pseudocode computes; the 32-bit result is
// zero-extended into a 64-bit destination.
uint32_t crc32c_byte(uint32_t crc, uint8_t b) {
  crc ^= b;
  for (unsigned k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
  return crc;
}
template <typename T, Form S>
void h_crc32(Cpu& c, const DecodedInsn& i) {
  const T v = read_form<T, S>(c, i, 1);
  uint32_t crc = uint32_t(c.reg(i.op[0].reg));
  for (unsigned k = 0; k < sizeof(T); ++k) crc = crc32c_byte(crc, uint8_t(uint64_t(v) >> (8 * k)));
  c.reg(i.op[0].reg) = crc;
}

// ---------------------------------------------------------------- select

template <typename Op, unsigned N = 16, bool ALIGNED = true>
Handler int_op(const DecodedInsn& d, CpuMode mode) {
  return XmmPick<XmmInt, Op, N, ALIGNED>::pick(d, mode);
}
bool has_imm(const DecodedInsn& d) { return d.nops == 3 && d.op[2].kind == OpKind::Imm; }
template <typename Op, unsigned N = 16>
Handler fp_op(const DecodedInsn& d, CpuMode mode) {
  return XmmPick<XmmFp, Op, N, N == 16>::pick(d, mode);
}
// DPPS/DPPD: the host's instruction, or SSE2 steps without SSE4.1.
template <typename Op, typename U>
Handler dp_op(const DecodedInsn& d, CpuMode mode) {
  if (!has_imm(d)) return nullptr;
  if (!host_has_sse41()) return XmmPick<XmmFpSteps, DpSteps<U>, 16, true>::pick(d, mode);
  return fp_op<Op>(d, mode);
}
// ROUND*: the host's instruction, or the integer code without SSE4.1.
template <const HostFp* TABLE, typename U, bool SCALAR, unsigned N>
Handler round_op(const DecodedInsn& d, CpuMode mode) {
  if (!has_imm(d)) return nullptr;
  if (host_has_sse41()) return fp_op<Round<TABLE>, N>(d, mode);
  return XmmPick<RoundSoft<U, SCALAR, N>::template H, void, N, N == 16>::pick(d, mode);
}

// An XMM-source handler H<F> by operand 1's form.
template <typename Pick>
Handler xmm_src(const DecodedInsn& d, CpuMode mode, Pick pick) {
  if (d.nops < 2 || d.op[0].kind != OpKind::Xmm) return nullptr;
  if (d.op[1].kind != OpKind::Xmm && d.op[1].kind != OpKind::Mem) return nullptr;
  return by_src_form(sse_form_of(d, 1, mode), [&](auto f) -> Handler {
    if constexpr (decltype(f)::value == Form::I)
      return nullptr;
    else
      return pick(f);
  });
}

template <typename E>
Handler extract(const DecodedInsn& d, CpuMode mode) {
  if (!has_imm(d) || d.op[1].kind != OpKind::Xmm) return nullptr;
  if (d.op[0].kind == OpKind::Reg) return &h_extract<E, Form::R>;
  if (d.op[0].kind != OpKind::Mem) return nullptr;
  return form_of(d, 0, mode) == Form::M64 ? &h_extract<E, Form::M64> : &h_extract<E, Form::M>;
}
template <typename E>
Handler insert(const DecodedInsn& d, CpuMode mode) {
  if (!has_imm(d) || d.op[0].kind != OpKind::Xmm) return nullptr;
  if (d.op[1].kind == OpKind::Reg) return &h_insert<E, Form::R>;
  if (d.op[1].kind != OpKind::Mem) return nullptr;
  return form_of(d, 1, mode) == Form::M64 ? &h_insert<E, Form::M64> : &h_insert<E, Form::M>;
}

template <bool EXPLICIT, bool MASK>
Handler pcmpstr_op(const DecodedInsn& d, CpuMode mode) {
  if (!has_imm(d)) return nullptr;
  return xmm_src(d, mode, [](auto f) -> Handler { return &h_pcmpstr<EXPLICIT, MASK, decltype(f)::value>; });
}

// A GPR instruction reg, r/m with the source type from the source's size.
template <template <typename, Form> class H>
struct GprPick {
  template <typename T>
  static Handler by_form(const DecodedInsn& d, CpuMode mode) {
    if (d.op[1].kind == OpKind::Reg) return &H<T, Form::R>::fn;
    return form_of(d, 1, mode) == Form::M64 ? &H<T, Form::M64>::fn : &H<T, Form::M>::fn;
  }
  static Handler pick(const DecodedInsn& d, CpuMode mode) {
    if (d.nops != 2 || d.op[0].kind != OpKind::Reg || (d.op[1].kind != OpKind::Reg && d.op[1].kind != OpKind::Mem))
      return nullptr;
    return by_size(d.op[1].size, [&](auto t) { return by_form<typename decltype(t)::type>(d, mode); });
  }
};
template <typename T, Form S>
struct Popcnt {
  static void fn(Cpu& c, const DecodedInsn& i) { h_popcnt<T, S>(c, i); }
};
template <typename T, Form S>
struct Crc32 {
  static void fn(Cpu& c, const DecodedInsn& i) { h_crc32<T, S>(c, i); }
};

}  // namespace

bool select_sse4(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  Handler h = nullptr;
  CostClass cost = CostClass::simple;  // Agner Fog, Skylake: reciprocal throughput 0.5-1
  switch (id) {
    // SSE4.1
    case X86_INS_BLENDPS: h = has_imm(d) ? int_op<BlendImm<uint32_t>>(d, mode) : nullptr; break;
    case X86_INS_BLENDPD: h = has_imm(d) ? int_op<BlendImm<uint64_t>>(d, mode) : nullptr; break;
    case X86_INS_PBLENDW: h = has_imm(d) ? int_op<BlendImm<uint16_t>>(d, mode) : nullptr; break;
    case X86_INS_BLENDVPS:
      h = xmm_src(d, mode, [](auto f) -> Handler { return &h_blendv<int32_t, decltype(f)::value>; });
      break;
    case X86_INS_BLENDVPD:
      h = xmm_src(d, mode, [](auto f) -> Handler { return &h_blendv<int64_t, decltype(f)::value>; });
      break;
    case X86_INS_PBLENDVB:
      h = xmm_src(d, mode, [](auto f) -> Handler { return &h_blendv<int8_t, decltype(f)::value>; });
      break;
    case X86_INS_DPPS: h = dp_op<Dpps, uint32_t>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_DPPD: h = dp_op<Dppd, uint64_t>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_ROUNDPS: h = round_op<kRoundps, uint32_t, false, 16>(d, mode); break;
    case X86_INS_ROUNDPD: h = round_op<kRoundpd, uint64_t, false, 16>(d, mode); break;
    case X86_INS_ROUNDSS: h = round_op<kRoundss, uint32_t, true, 4>(d, mode); break;
    case X86_INS_ROUNDSD: h = round_op<kRoundsd, uint64_t, true, 8>(d, mode); break;
    case X86_INS_EXTRACTPS: h = extract<uint32_t>(d, mode); break;
    case X86_INS_PEXTRB: h = extract<uint8_t>(d, mode); break;
    case X86_INS_PEXTRW: h = d.op[0].kind == OpKind::Mem ? extract<uint16_t>(d, mode) : nullptr; break;  // the register form is SSE2's
    case X86_INS_PEXTRD: h = extract<uint32_t>(d, mode); break;
    case X86_INS_PEXTRQ: h = extract<uint64_t>(d, mode); break;
    case X86_INS_PINSRB: h = insert<uint8_t>(d, mode); break;
    case X86_INS_PINSRD: h = insert<uint32_t>(d, mode); break;
    case X86_INS_PINSRQ: h = insert<uint64_t>(d, mode); break;
    case X86_INS_INSERTPS:
      if (!has_imm(d)) break;
      h = d.op[1].kind == OpKind::Mem ? int_op<Insertps<true>, 4, false>(d, mode) : int_op<Insertps<false>>(d, mode);
      break;
    case X86_INS_MOVNTDQA:
      h = d.nops == 2 && d.op[1].kind == OpKind::Mem ? int_op<Movntdqa>(d, mode) : nullptr;
      cost = CostClass::load_store;
      break;
    case X86_INS_MPSADBW: h = has_imm(d) ? int_op<Mpsadbw>(d, mode) : nullptr; cost = CostClass::multiply; break;
    case X86_INS_PACKUSDW: h = int_op<Packusdw>(d, mode); break;
    case X86_INS_PCMPEQQ: h = int_op<PcmpQ<false>>(d, mode); break;
    case X86_INS_PHMINPOSUW: h = int_op<Phminposuw>(d, mode); break;
    case X86_INS_PMAXSB: h = int_op<MinMax<int8_t, true>>(d, mode); break;
    case X86_INS_PMAXSD: h = int_op<MinMax<int32_t, true>>(d, mode); break;
    case X86_INS_PMAXUW: h = int_op<MinMax<uint16_t, true>>(d, mode); break;
    case X86_INS_PMAXUD: h = int_op<MinMax<uint32_t, true>>(d, mode); break;
    case X86_INS_PMINSB: h = int_op<MinMax<int8_t, false>>(d, mode); break;
    case X86_INS_PMINSD: h = int_op<MinMax<int32_t, false>>(d, mode); break;
    case X86_INS_PMINUW: h = int_op<MinMax<uint16_t, false>>(d, mode); break;
    case X86_INS_PMINUD: h = int_op<MinMax<uint32_t, false>>(d, mode); break;
    case X86_INS_PMOVSXBW: h = int_op<Pmovx<int8_t, int16_t>, 8, false>(d, mode); break;
    case X86_INS_PMOVSXBD: h = int_op<Pmovx<int8_t, int32_t>, 4, false>(d, mode); break;
    case X86_INS_PMOVSXBQ: h = int_op<Pmovx<int8_t, int64_t>, 2, false>(d, mode); break;
    case X86_INS_PMOVSXWD: h = int_op<Pmovx<int16_t, int32_t>, 8, false>(d, mode); break;
    case X86_INS_PMOVSXWQ: h = int_op<Pmovx<int16_t, int64_t>, 4, false>(d, mode); break;
    case X86_INS_PMOVSXDQ: h = int_op<Pmovx<int32_t, int64_t>, 8, false>(d, mode); break;
    case X86_INS_PMOVZXBW: h = int_op<Pmovx<uint8_t, uint16_t>, 8, false>(d, mode); break;
    case X86_INS_PMOVZXBD: h = int_op<Pmovx<uint8_t, uint32_t>, 4, false>(d, mode); break;
    case X86_INS_PMOVZXBQ: h = int_op<Pmovx<uint8_t, uint64_t>, 2, false>(d, mode); break;
    case X86_INS_PMOVZXWD: h = int_op<Pmovx<uint16_t, uint32_t>, 8, false>(d, mode); break;
    case X86_INS_PMOVZXWQ: h = int_op<Pmovx<uint16_t, uint64_t>, 4, false>(d, mode); break;
    case X86_INS_PMOVZXDQ: h = int_op<Pmovx<uint32_t, uint64_t>, 8, false>(d, mode); break;
    case X86_INS_PMULDQ: h = int_op<Pmuldq>(d, mode); break;
    case X86_INS_PMULLD: h = int_op<Pmulld>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_PTEST:
      h = xmm_src(d, mode, [](auto f) -> Handler { return &h_ptest<decltype(f)::value>; });
      break;
    // SSE4.2
    case X86_INS_PCMPGTQ: h = int_op<PcmpQ<true>>(d, mode); break;
    case X86_INS_PCMPESTRI: h = pcmpstr_op<true, false>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_PCMPESTRM: h = pcmpstr_op<true, true>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_PCMPISTRI: h = pcmpstr_op<false, false>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_PCMPISTRM: h = pcmpstr_op<false, true>(d, mode); cost = CostClass::multiply; break;
    case X86_INS_CRC32: h = GprPick<Crc32>::pick(d, mode); cost = CostClass::multiply; break;
    // POPCNT (its own CPUID bit)
    case X86_INS_POPCNT:
      h = GprPick<Popcnt>::pick(d, mode);
      if (h && d.op[0].size != d.op[1].size) h = nullptr;
      break;
    default: return false;
  }
  if (!h) return false;
  set_handler(d, h, costs, cost);
  return true;
}

bool select_sse34(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  return select_sse3(id, d, mode, costs) || select_sse4(id, d, mode, costs);
}

}  // namespace nestbed::sim
