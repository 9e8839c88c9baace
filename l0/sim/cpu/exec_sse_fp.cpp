// SSE/SSE2 floating point: arithmetic, square root, minimum/maximum and
// compares in the PS/PD/SS/SD forms, COMISS/COMISD/UCOMISS/UCOMISD, and the
// conversions between integers, singles and doubles (SDM vol. 1, 10.4.2,
// 11.4.1). Every operation is the host's own instruction under the
// guest's MXCSR (exec_sse.h), so rounding, DAZ/FTZ, NaN propagation and
// the exception flags are the hardware's.
//
// RCPPS/RCPSS/RSQRTPS/RSQRTSS are approximations whose bits differ between
// implementations; they are computed here, not by the host (see
// ApproxReciprocal below).
#include <capstone/capstone.h>

#include <bit>
#include <cmath>

#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"

namespace nestbed::sim {

namespace {

namespace mx = arch::mxcsr;

// dst = Op(dst, src): N bytes of memory source (4 for SS, 8 for SD and
// the conversions reading two elements, 16 aligned otherwise).
template <typename Op, unsigned N, Form S>
void h_fp(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<N, N == 16, S>(c, i, 1);
  V128 a = get_xmm(c, i.op[0].reg);
  simd_fp(c, [&](uint32_t& m) { a = Op::run(a, b, m); });
  set_xmm(c, i.op[0].reg, a);
}

// One host instruction `insn %b, %a` (AT&T order: a is the destination).
#define NB_FP_OP(name, insn)                                                                              \
  struct name {                                                                                           \
    static NB_INLINE V128 run(V128 a, V128 b, uint32_t& m) {                                              \
      uint32_t h;                                                                                         \
      asm volatile(NB_UNDER_MXCSR(insn " %[b], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [b] "x"(b)); \
      return a;                                                                                           \
    }                                                                                                     \
  };
#define NB_FP_FAMILY(NAME, insn) \
  NB_FP_OP(NAME##ps, insn "ps") NB_FP_OP(NAME##ss, insn "ss") NB_FP_OP(NAME##pd, insn "pd") NB_FP_OP(NAME##sd, insn "sd")
NB_FP_FAMILY(Add, "add")
NB_FP_FAMILY(Sub, "sub")
NB_FP_FAMILY(Mul, "mul")
NB_FP_FAMILY(Div, "div")
NB_FP_FAMILY(Min, "min")
NB_FP_FAMILY(Max, "max")
NB_FP_FAMILY(Sqrt, "sqrt")
#undef NB_FP_FAMILY
NB_FP_OP(Cvtps2pd, "cvtps2pd")
NB_FP_OP(Cvtpd2ps, "cvtpd2ps")
NB_FP_OP(Cvtss2sd, "cvtss2sd")
NB_FP_OP(Cvtsd2ss, "cvtsd2ss")
NB_FP_OP(Cvtdq2ps, "cvtdq2ps")
NB_FP_OP(Cvtps2dq, "cvtps2dq")
NB_FP_OP(Cvttps2dq, "cvttps2dq")
NB_FP_OP(Cvtdq2pd, "cvtdq2pd")
NB_FP_OP(Cvtpd2dq, "cvtpd2dq")
NB_FP_OP(Cvttpd2dq, "cvttpd2dq")
#undef NB_FP_OP

// RCPPS/RCPSS and RSQRTPS/RSQRTSS (SDM vol. 2): the SDM bounds their
// relative error by 1.5 * 2^-12 and fixes their special cases, not their
// bits: each processor has its own tables, and this host's (whatever its
// maker) would not be the guest's. The sim returns the reciprocal (of the
// square root) rounded to nearest, which is within the bound and the same
// on every host (QEMU TCG's choice too), with the SDM's special cases:
//  - no SIMD floating-point exception, no MXCSR flag, whatever MXCSR says;
//  - a denormal source is a zero of its sign: 1/x is then an infinity;
//  - RCP: |x| <= 1.00000000000110000000001B * 2^-126 gives an infinity
//    and |x| >= 1.11111111110100000000000B * 2^125 a zero (tiny results
//    are flushed), both of the source's sign;
//  - RSQRT: -0 gives -infinity, any other negative the QNaN indefinite;
//  - 1/infinity is a zero of its sign; a NaN source gives that NaN, quiet.
struct ApproxReciprocal {
  static constexpr uint32_t SIGN = 0x80000000u, QUIET = 0x00400000u, INF = 0x7f800000u;
  static constexpr uint32_t INDEFINITE = 0xffc00000u;
  static constexpr uint32_t RCP_INFINITE_AT_OR_BELOW = 0x00800c01u;  // 1.00000000000110000000001B * 2^-126
  static constexpr uint32_t RCP_ZERO_AT_OR_ABOVE = 0x7e7fe800u;      // 1.11111111110100000000000B * 2^125

  static uint32_t rcp(uint32_t x) {
    const uint32_t sign = x & SIGN, mag = x & ~SIGN;
    if (mag > INF) return x | QUIET;                            // NaN
    if (mag <= RCP_INFINITE_AT_OR_BELOW) return sign | INF;     // 0, denormals, the smallest normals
    if (mag >= RCP_ZERO_AT_OR_ABOVE) return sign;               // infinity, and tiny results flushed
    return std::bit_cast<uint32_t>(1.0f / std::bit_cast<float>(x));
  }
  static uint32_t rsqrt(uint32_t x) {
    const uint32_t sign = x & SIGN, mag = x & ~SIGN;
    if (mag > INF) return x | QUIET;                            // NaN
    if (mag < 0x00800000u) return sign | INF;                   // +-0 and denormals (as zeros)
    if (sign) return INDEFINITE;                                // negative
    if (mag == INF) return 0;                                   // +infinity
    return std::bit_cast<uint32_t>(float(1.0 / std::sqrt(double(std::bit_cast<float>(x)))));  // every such result is a normal single
  }
  template <uint32_t (*F)(uint32_t), bool Packed>
  static V128 apply(V128 a, V128 b) {
    const XmmLanes<uint32_t> in(b);
    XmmLanes<uint32_t> out(a);
    for (unsigned k = 0; k < (Packed ? 4u : 1u); k++) out.e[k] = F(in.e[k]);
    return out.get();
  }
};
struct Rcpps {
  static V128 run(V128 a, V128 b, uint32_t&) { return ApproxReciprocal::apply<ApproxReciprocal::rcp, true>(a, b); }
};
struct Rcpss {
  static V128 run(V128 a, V128 b, uint32_t&) { return ApproxReciprocal::apply<ApproxReciprocal::rcp, false>(a, b); }
};
struct Rsqrtps {
  static V128 run(V128 a, V128 b, uint32_t&) { return ApproxReciprocal::apply<ApproxReciprocal::rsqrt, true>(a, b); }
};
struct Rsqrtss {
  static V128 run(V128 a, V128 b, uint32_t&) { return ApproxReciprocal::apply<ApproxReciprocal::rsqrt, false>(a, b); }
};

// CMPPS/CMPPD/CMPSS/CMPSD with predicate P (0..7; legacy SSE ignores
// imm8 bits 7:3, SDM vol. 2 CMPPS).
#define NB_FP_CMP(name, insn)                                                                       \
  template <int P>                                                                                  \
  struct name {                                                                                     \
    static NB_INLINE V128 run(V128 a, V128 b, uint32_t& m) {                                        \
      uint32_t h;                                                                                   \
      asm volatile(NB_UNDER_MXCSR(insn " %[p], %[b], %[a]")                                          \
                   : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h)                                           \
                   : [b] "x"(b), [p] "i"(P));                                                       \
      return a;                                                                                     \
    }                                                                                               \
  };
NB_FP_CMP(Cmpps, "cmpps")
NB_FP_CMP(Cmppd, "cmppd")
NB_FP_CMP(Cmpss, "cmpss")
NB_FP_CMP(Cmpsd, "cmpsd")
#undef NB_FP_CMP

// COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the comparison, OF, SF,
// AF cleared (SDM vol. 2, COMISS); the host's flags are taken whole.
#define NB_FP_COMI(name, insn)                                                                        \
  struct name {                                                                                       \
    static NB_INLINE uint16_t run(V128 a, V128 b, uint32_t& m) {                                      \
      uint32_t h;                                                                                     \
      uint16_t ax;                                                                                    \
      asm volatile(NB_UNDER_MXCSR(insn " %[b], %[a]\n\tlahf\n\tseto %%al")                             \
                   : "=&a"(ax), [m] "+m"(m), [h] "=m"(h)                                              \
                   : [a] "x"(a), [b] "x"(b)                                                           \
                   : "cc");                                                                           \
      return ax;                                                                                      \
    }                                                                                                 \
  };
NB_FP_COMI(Comiss, "comiss")
NB_FP_COMI(Ucomiss, "ucomiss")
NB_FP_COMI(Comisd, "comisd")
NB_FP_COMI(Ucomisd, "ucomisd")
#undef NB_FP_COMI

template <typename Op, unsigned N, Form S>
void h_comi(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<N, false, S>(c, i, 1);
  const V128 a = get_xmm(c, i.op[0].reg);
  uint16_t ax = 0;
  simd_fp(c, [&](uint32_t& m) { ax = Op::run(a, b, m); });
  set_status(c.state().rflags, host_status(ax));
}

// CVTSI2SS/CVTSI2SD xmm, r/m32 or r/m64 (T): only the low element changes.
#define NB_FP_FROM_INT(name, insn32, insn64)                                                                  \
  template <typename T>                                                                                       \
  struct name {                                                                                               \
    static NB_INLINE V128 run(V128 a, T g, uint32_t& m) {                                                     \
      uint32_t h;                                                                                             \
      if constexpr (sizeof(T) == 4)                                                                           \
        asm volatile(NB_UNDER_MXCSR(insn32 " %[g], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [g] "r"(g)); \
      else                                                                                                    \
        asm volatile(NB_UNDER_MXCSR(insn64 " %[g], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [g] "r"(g)); \
      return a;                                                                                               \
    }                                                                                                         \
  };
NB_FP_FROM_INT(Cvtsi2ss, "cvtsi2ssl", "cvtsi2ssq")
NB_FP_FROM_INT(Cvtsi2sd, "cvtsi2sdl", "cvtsi2sdq")
#undef NB_FP_FROM_INT

template <template <typename> class Op, typename T, Form S>
void h_cvt_from_int(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const T g = read_form<T, S>(c, i, 1);
  V128 a = get_xmm(c, i.op[0].reg);
  simd_fp(c, [&](uint32_t& m) { a = Op<T>::run(a, g, m); });
  set_xmm(c, i.op[0].reg, a);
}

// CVT(T)SS2SI/CVT(T)SD2SI r32 or r64 (T), xmm/m32 or m64.
#define NB_FP_TO_INT(name, insn)                                                                          \
  template <typename T>                                                                                   \
  struct name {                                                                                           \
    static NB_INLINE T run(V128 b, uint32_t& m) {                                                         \
      uint32_t h;                                                                                         \
      T g;                                                                                                \
      asm volatile(NB_UNDER_MXCSR(insn " %[b], %[g]") : [g] "=r"(g), [m] "+m"(m), [h] "=m"(h) : [b] "x"(b)); \
      return g;                                                                                           \
    }                                                                                                     \
  };
NB_FP_TO_INT(Cvtss2si, "cvtss2si")
NB_FP_TO_INT(Cvttss2si, "cvttss2si")
NB_FP_TO_INT(Cvtsd2si, "cvtsd2si")
NB_FP_TO_INT(Cvttsd2si, "cvttsd2si")
#undef NB_FP_TO_INT

template <template <typename> class Op, typename T, unsigned N, Form S>
void h_cvt_to_int(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<N, false, S>(c, i, 1);
  T g = 0;
  simd_fp(c, [&](uint32_t& m) { g = Op<T>::run(b, m); });
  set_reg<T>(c, i.op[0], g);
}

template <typename Op, unsigned N>
Handler fp_handler(const DecodedInsn& d, CpuMode mode) {
  return by_src_form(sse_form_of(d, 1, mode), [](auto f) -> Handler {
    if constexpr (decltype(f)::value == Form::I)
      return nullptr;
    else
      return &h_fp<Op, N, decltype(f)::value>;
  });
}

template <typename Op, unsigned N>
Handler comi_handler(const DecodedInsn& d, CpuMode mode) {
  return by_src_form(sse_form_of(d, 1, mode), [](auto f) -> Handler {
    if constexpr (decltype(f)::value == Form::I)
      return nullptr;
    else
      return &h_comi<Op, N, decltype(f)::value>;
  });
}

template <template <typename> class Op>
Handler from_int_handler(const DecodedInsn& d, CpuMode mode) {
  const bool wide = d.op[1].size == 8;
  return by_src_form(form_of(d, 1, mode), [wide](auto f) -> Handler {
    constexpr Form F = decltype(f)::value;
    if constexpr (F == Form::I)
      return nullptr;
    else
      return wide ? &h_cvt_from_int<Op, uint64_t, F> : &h_cvt_from_int<Op, uint32_t, F>;
  });
}

template <template <typename> class Op, unsigned N>
Handler to_int_handler(const DecodedInsn& d, CpuMode mode) {
  const bool wide = d.op[0].size == 8;
  return by_src_form(sse_form_of(d, 1, mode), [wide](auto f) -> Handler {
    constexpr Form F = decltype(f)::value;
    if constexpr (F == Form::I)
      return nullptr;
    else
      return wide ? &h_cvt_to_int<Op, uint64_t, N, F> : &h_cvt_to_int<Op, uint32_t, N, F>;
  });
}

// The compare handler for predicate p of the family Cmp (N-byte source).
template <template <int> class Cmp, unsigned N>
Handler cmp_handler(const DecodedInsn& d, CpuMode mode, unsigned p) {
  switch (p & 7) {
    case 0: return fp_handler<Cmp<0>, N>(d, mode);
    case 1: return fp_handler<Cmp<1>, N>(d, mode);
    case 2: return fp_handler<Cmp<2>, N>(d, mode);
    case 3: return fp_handler<Cmp<3>, N>(d, mode);
    case 4: return fp_handler<Cmp<4>, N>(d, mode);
    case 5: return fp_handler<Cmp<5>, N>(d, mode);
    case 6: return fp_handler<Cmp<6>, N>(d, mode);
    default: return fp_handler<Cmp<7>, N>(d, mode);
  }
}

}  // namespace

bool select_sse_fp(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  if (d.nops < 2) return false;
  const bool src_ok = d.op[1].kind == OpKind::Xmm || d.op[1].kind == OpKind::Mem;
  Handler h = nullptr;
  CostClass cost = CostClass::simple;  // Agner Fog, Skylake: ADDPS..CVT* reciprocal throughput 0.5-1
  switch (id) {
#define NB_FP(ID, OP, N) \
  case X86_INS_##ID: h = fp_handler<OP, N>(d, mode); break;
#define NB_FP_FAMILY(ID, OP) NB_FP(ID##PS, OP##ps, 16) NB_FP(ID##SS, OP##ss, 4) NB_FP(ID##PD, OP##pd, 16) NB_FP(ID##SD, OP##sd, 8)
    NB_FP_FAMILY(ADD, Add) NB_FP_FAMILY(SUB, Sub) NB_FP_FAMILY(MUL, Mul) NB_FP_FAMILY(MIN, Min) NB_FP_FAMILY(MAX, Max)
    NB_FP(CVTPS2PD, Cvtps2pd, 8) NB_FP(CVTPD2PS, Cvtpd2ps, 16) NB_FP(CVTSS2SD, Cvtss2sd, 4)
    NB_FP(CVTSD2SS, Cvtsd2ss, 8) NB_FP(CVTDQ2PS, Cvtdq2ps, 16) NB_FP(CVTPS2DQ, Cvtps2dq, 16)
    NB_FP(CVTTPS2DQ, Cvttps2dq, 16) NB_FP(CVTDQ2PD, Cvtdq2pd, 8) NB_FP(CVTPD2DQ, Cvtpd2dq, 16)
    NB_FP(CVTTPD2DQ, Cvttpd2dq, 16)
#undef NB_FP_FAMILY
    case X86_INS_DIVPS: h = fp_handler<Divps, 16>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_DIVSS: h = fp_handler<Divss, 4>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_DIVPD: h = fp_handler<Divpd, 16>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_DIVSD: h = fp_handler<Divsd, 8>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_SQRTPS: h = fp_handler<Sqrtps, 16>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_SQRTSS: h = fp_handler<Sqrtss, 4>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_SQRTPD: h = fp_handler<Sqrtpd, 16>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_SQRTSD: h = fp_handler<Sqrtsd, 8>(d, mode); cost = CostClass::sse_divide; break;
    case X86_INS_RCPPS: h = fp_handler<Rcpps, 16>(d, mode); break;
    case X86_INS_RCPSS: h = fp_handler<Rcpss, 4>(d, mode); break;
    case X86_INS_RSQRTPS: h = fp_handler<Rsqrtps, 16>(d, mode); break;
    case X86_INS_RSQRTSS: h = fp_handler<Rsqrtss, 4>(d, mode); break;
#undef NB_FP
    // Capstone names the compares with predicates 0-7 by predicate
    // (CMPLTPS...) and keeps CMPPS with its immediate for the rest.
#define NB_CMP(PRED, P)                                                          \
  case X86_INS_CMP##PRED##PS: h = cmp_handler<Cmpps, 16>(d, mode, P); break;      \
  case X86_INS_CMP##PRED##PD: h = cmp_handler<Cmppd, 16>(d, mode, P); break;      \
  case X86_INS_CMP##PRED##SS: h = cmp_handler<Cmpss, 4>(d, mode, P); break;       \
  case X86_INS_CMP##PRED##SD: h = cmp_handler<Cmpsd, 8>(d, mode, P); break;
    NB_CMP(EQ, 0) NB_CMP(LT, 1) NB_CMP(LE, 2) NB_CMP(UNORD, 3) NB_CMP(NEQ, 4) NB_CMP(NLT, 5) NB_CMP(NLE, 6)
    NB_CMP(ORD, 7)
#undef NB_CMP
    case X86_INS_CMPPS: h = d.nops == 3 ? cmp_handler<Cmpps, 16>(d, mode, unsigned(d.imm)) : nullptr; break;
    case X86_INS_CMPPD: h = d.nops == 3 ? cmp_handler<Cmppd, 16>(d, mode, unsigned(d.imm)) : nullptr; break;
    case X86_INS_CMPSS: h = d.nops == 3 ? cmp_handler<Cmpss, 4>(d, mode, unsigned(d.imm)) : nullptr; break;
    case X86_INS_CMPSD: h = d.nops == 3 ? cmp_handler<Cmpsd, 8>(d, mode, unsigned(d.imm)) : nullptr; break;
    case X86_INS_COMISS: h = comi_handler<Comiss, 4>(d, mode); break;
    case X86_INS_UCOMISS: h = comi_handler<Ucomiss, 4>(d, mode); break;
    case X86_INS_COMISD: h = comi_handler<Comisd, 8>(d, mode); break;
    case X86_INS_UCOMISD: h = comi_handler<Ucomisd, 8>(d, mode); break;
    case X86_INS_CVTSI2SS:
      if (d.op[1].kind != OpKind::Reg && d.op[1].kind != OpKind::Mem) return false;
      h = from_int_handler<Cvtsi2ss>(d, mode);
      break;
    case X86_INS_CVTSI2SD:
      if (d.op[1].kind != OpKind::Reg && d.op[1].kind != OpKind::Mem) return false;
      h = from_int_handler<Cvtsi2sd>(d, mode);
      break;
    case X86_INS_CVTSS2SI: h = to_int_handler<Cvtss2si, 4>(d, mode); break;
    case X86_INS_CVTTSS2SI: h = to_int_handler<Cvttss2si, 4>(d, mode); break;
    case X86_INS_CVTSD2SI: h = to_int_handler<Cvtsd2si, 8>(d, mode); break;
    case X86_INS_CVTTSD2SI: h = to_int_handler<Cvttsd2si, 8>(d, mode); break;
    default: return false;
  }
  if (!h) return false;
  const bool to_int = id == X86_INS_CVTSS2SI || id == X86_INS_CVTTSS2SI || id == X86_INS_CVTSD2SI ||
                      id == X86_INS_CVTTSD2SI;
  const bool from_int = id == X86_INS_CVTSI2SS || id == X86_INS_CVTSI2SD;
  if (to_int ? (d.op[0].kind != OpKind::Reg || !src_ok) : d.op[0].kind != OpKind::Xmm) return false;
  if (!to_int && !from_int && !src_ok) return false;
  set_handler(d, h, costs, cost);
  return true;
}

}  // namespace nestbed::sim
