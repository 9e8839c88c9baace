// SSE/SSE2 operations without floating-point exceptions: 128-bit integer
// SIMD (PADD..PUNPCK, SDM vol. 1, 11.4.3), the bitwise logic of the PS/PD
// forms, unpacks and shuffles (vol. 1, 10.4.4 and 11.4.1). Each is one
// host SSE2 operation (integer SIMD is exact on every host) or a short
// loop where the immediate is a run-time value.
#include <capstone/capstone.h>

#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"

namespace nestbed::sim {

namespace {

// dst = Op::run(dst, src, imm8); the source is an XMM register, 16 aligned
// bytes of memory, or absent (the shifts by an immediate).
template <typename Op, Form S>
void h_int(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<16, true, S>(c, i, 1);
  set_xmm(c, i.op[0].reg, Op::run(get_xmm(c, i.op[0].reg), b, uint8_t(i.imm)));
}

#define NB_INT_OP(name, expr)                                   \
  struct name {                                                 \
    static NB_INLINE V128 run(V128 a, V128 b, uint8_t imm) {     \
      (void)a;                                                  \
      (void)b;                                                  \
      (void)imm;                                                \
      return expr;                                              \
    }                                                           \
  };

NB_INT_OP(Paddb, _mm_add_epi8(a, b))
NB_INT_OP(Paddw, _mm_add_epi16(a, b))
NB_INT_OP(Paddd, _mm_add_epi32(a, b))
NB_INT_OP(Paddq, _mm_add_epi64(a, b))
NB_INT_OP(Psubb, _mm_sub_epi8(a, b))
NB_INT_OP(Psubw, _mm_sub_epi16(a, b))
NB_INT_OP(Psubd, _mm_sub_epi32(a, b))
NB_INT_OP(Psubq, _mm_sub_epi64(a, b))
NB_INT_OP(Paddsb, _mm_adds_epi8(a, b))
NB_INT_OP(Paddsw, _mm_adds_epi16(a, b))
NB_INT_OP(Paddusb, _mm_adds_epu8(a, b))
NB_INT_OP(Paddusw, _mm_adds_epu16(a, b))
NB_INT_OP(Psubsb, _mm_subs_epi8(a, b))
NB_INT_OP(Psubsw, _mm_subs_epi16(a, b))
NB_INT_OP(Psubusb, _mm_subs_epu8(a, b))
NB_INT_OP(Psubusw, _mm_subs_epu16(a, b))
NB_INT_OP(Pcmpeqb, _mm_cmpeq_epi8(a, b))
NB_INT_OP(Pcmpeqw, _mm_cmpeq_epi16(a, b))
NB_INT_OP(Pcmpeqd, _mm_cmpeq_epi32(a, b))
NB_INT_OP(Pcmpgtb, _mm_cmpgt_epi8(a, b))
NB_INT_OP(Pcmpgtw, _mm_cmpgt_epi16(a, b))
NB_INT_OP(Pcmpgtd, _mm_cmpgt_epi32(a, b))
NB_INT_OP(Pmullw, _mm_mullo_epi16(a, b))
NB_INT_OP(Pmulhw, _mm_mulhi_epi16(a, b))
NB_INT_OP(Pmulhuw, _mm_mulhi_epu16(a, b))
NB_INT_OP(Pmuludq, _mm_mul_epu32(a, b))
NB_INT_OP(Pmaddwd, _mm_madd_epi16(a, b))
NB_INT_OP(Psadbw, _mm_sad_epu8(a, b))
NB_INT_OP(Pavgb, _mm_avg_epu8(a, b))
NB_INT_OP(Pavgw, _mm_avg_epu16(a, b))
NB_INT_OP(Pminub, _mm_min_epu8(a, b))
NB_INT_OP(Pmaxub, _mm_max_epu8(a, b))
NB_INT_OP(Pminsw, _mm_min_epi16(a, b))
NB_INT_OP(Pmaxsw, _mm_max_epi16(a, b))
NB_INT_OP(Pand, _mm_and_si128(a, b))
NB_INT_OP(Pandn, _mm_andnot_si128(a, b))
NB_INT_OP(Por, _mm_or_si128(a, b))
NB_INT_OP(Pxor, _mm_xor_si128(a, b))
NB_INT_OP(Punpcklbw, _mm_unpacklo_epi8(a, b))
NB_INT_OP(Punpcklwd, _mm_unpacklo_epi16(a, b))
NB_INT_OP(Punpckldq, _mm_unpacklo_epi32(a, b))
NB_INT_OP(Punpcklqdq, _mm_unpacklo_epi64(a, b))
NB_INT_OP(Punpckhbw, _mm_unpackhi_epi8(a, b))
NB_INT_OP(Punpckhwd, _mm_unpackhi_epi16(a, b))
NB_INT_OP(Punpckhdq, _mm_unpackhi_epi32(a, b))
NB_INT_OP(Punpckhqdq, _mm_unpackhi_epi64(a, b))
NB_INT_OP(Packsswb, _mm_packs_epi16(a, b))
NB_INT_OP(Packssdw, _mm_packs_epi32(a, b))
NB_INT_OP(Packuswb, _mm_packus_epi16(a, b))
// Shifts by the count in the source's low quadword (counts above the
// element width clear the element, or fill it with the sign for PSRA).
NB_INT_OP(Psllw, _mm_sll_epi16(a, b))
NB_INT_OP(Pslld, _mm_sll_epi32(a, b))
NB_INT_OP(Psllq, _mm_sll_epi64(a, b))
NB_INT_OP(Psrlw, _mm_srl_epi16(a, b))
NB_INT_OP(Psrld, _mm_srl_epi32(a, b))
NB_INT_OP(Psrlq, _mm_srl_epi64(a, b))
NB_INT_OP(Psraw, _mm_sra_epi16(a, b))
NB_INT_OP(Psrad, _mm_sra_epi32(a, b))
// The same by an immediate (all 8 bits of it count).
NB_INT_OP(PsllwI, _mm_sll_epi16(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PslldI, _mm_sll_epi32(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsllqI, _mm_sll_epi64(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsrlwI, _mm_srl_epi16(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsrldI, _mm_srl_epi32(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsrlqI, _mm_srl_epi64(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsrawI, _mm_sra_epi16(a, _mm_cvtsi32_si128(imm)))
NB_INT_OP(PsradI, _mm_sra_epi32(a, _mm_cvtsi32_si128(imm)))
#undef NB_INT_OP

template <typename E>
struct Lanes {
  static constexpr unsigned N = 16 / sizeof(E);
  E e[N];
  explicit Lanes(V128 v) { _mm_storeu_si128(reinterpret_cast<V128*>(e), v); }
  V128 get() const { return _mm_loadu_si128(reinterpret_cast<const V128*>(e)); }
};

// PSLLDQ/PSRLDQ: byte shifts of the whole register; counts above 15 clear it.
struct Pslldq {
  static V128 run(V128 a, V128, uint8_t imm) {
    Lanes<uint8_t> s(a), r(_mm_setzero_si128());
    for (unsigned k = imm; k < 16; ++k) r.e[k] = s.e[k - imm];
    return r.get();
  }
};
struct Psrldq {
  static V128 run(V128 a, V128, uint8_t imm) {
    Lanes<uint8_t> s(a), r(_mm_setzero_si128());
    for (unsigned k = 0; k + imm < 16; ++k) r.e[k] = s.e[k + imm];
    return r.get();
  }
};

// PSHUFD/PSHUFLW/PSHUFHW select from the source; SHUFPS/SHUFPD take the
// low half of the result from the destination and the high half from the
// source (SDM vol. 2, each instruction).
struct Pshufd {
  static V128 run(V128, V128 b, uint8_t imm) {
    Lanes<uint32_t> s(b), r(b);
    for (unsigned k = 0; k < 4; ++k) r.e[k] = s.e[(imm >> (2 * k)) & 3];
    return r.get();
  }
};
struct Pshuflw {
  static V128 run(V128, V128 b, uint8_t imm) {
    Lanes<uint16_t> s(b), r(b);
    for (unsigned k = 0; k < 4; ++k) r.e[k] = s.e[(imm >> (2 * k)) & 3];
    return r.get();
  }
};
struct Pshufhw {
  static V128 run(V128, V128 b, uint8_t imm) {
    Lanes<uint16_t> s(b), r(b);
    for (unsigned k = 0; k < 4; ++k) r.e[4 + k] = s.e[4 + ((imm >> (2 * k)) & 3)];
    return r.get();
  }
};
struct Shufps {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    Lanes<uint32_t> d(a), s(b), r(a);
    r.e[0] = d.e[imm & 3];
    r.e[1] = d.e[(imm >> 2) & 3];
    r.e[2] = s.e[(imm >> 4) & 3];
    r.e[3] = s.e[(imm >> 6) & 3];
    return r.get();
  }
};
struct Shufpd {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    return make128(imm & 1 ? high64(a) : low64(a), imm & 2 ? high64(b) : low64(b));
  }
};

template <typename Op>
Handler int_handler(const DecodedInsn& d, CpuMode mode) {
  return by_src_form(d.nops >= 2 ? sse_form_of(d, 1, mode) : Form::I,
                     [](auto f) -> Handler { return &h_int<Op, decltype(f)::value>; });
}

}  // namespace

bool select_sse_int(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  if (d.op[0].kind != OpKind::Xmm) return false;
  // Shifts by an immediate have the same id as those by a register.
  const bool by_imm = d.nops == 2 && d.op[1].kind == OpKind::Imm;
  Handler h = nullptr;
  const CostClass cost = CostClass::simple;  // Agner Fog, Skylake: reciprocal throughput 0.5-1
  switch (id) {
#define NB_CASE(ID, OP) \
  case X86_INS_##ID: h = int_handler<OP>(d, mode); break;
#define NB_SHIFT(ID, OP) \
  case X86_INS_##ID: h = by_imm ? int_handler<OP##I>(d, mode) : int_handler<OP>(d, mode); break;
    NB_CASE(PADDB, Paddb) NB_CASE(PADDW, Paddw) NB_CASE(PADDD, Paddd) NB_CASE(PADDQ, Paddq)
    NB_CASE(PSUBB, Psubb) NB_CASE(PSUBW, Psubw) NB_CASE(PSUBD, Psubd) NB_CASE(PSUBQ, Psubq)
    NB_CASE(PADDSB, Paddsb) NB_CASE(PADDSW, Paddsw) NB_CASE(PADDUSB, Paddusb) NB_CASE(PADDUSW, Paddusw)
    NB_CASE(PSUBSB, Psubsb) NB_CASE(PSUBSW, Psubsw) NB_CASE(PSUBUSB, Psubusb) NB_CASE(PSUBUSW, Psubusw)
    NB_CASE(PCMPEQB, Pcmpeqb) NB_CASE(PCMPEQW, Pcmpeqw) NB_CASE(PCMPEQD, Pcmpeqd)
    NB_CASE(PCMPGTB, Pcmpgtb) NB_CASE(PCMPGTW, Pcmpgtw) NB_CASE(PCMPGTD, Pcmpgtd)
    NB_CASE(PSADBW, Psadbw) NB_CASE(PAVGB, Pavgb) NB_CASE(PAVGW, Pavgw)
    NB_CASE(PMINUB, Pminub) NB_CASE(PMAXUB, Pmaxub) NB_CASE(PMINSW, Pminsw) NB_CASE(PMAXSW, Pmaxsw)
    NB_CASE(PAND, Pand) NB_CASE(PANDN, Pandn) NB_CASE(POR, Por) NB_CASE(PXOR, Pxor)
    NB_CASE(ANDPS, Pand) NB_CASE(ANDPD, Pand) NB_CASE(ANDNPS, Pandn) NB_CASE(ANDNPD, Pandn)
    NB_CASE(ORPS, Por) NB_CASE(ORPD, Por) NB_CASE(XORPS, Pxor) NB_CASE(XORPD, Pxor)
    NB_CASE(PUNPCKLBW, Punpcklbw) NB_CASE(PUNPCKLWD, Punpcklwd) NB_CASE(PUNPCKLDQ, Punpckldq)
    NB_CASE(PUNPCKLQDQ, Punpcklqdq) NB_CASE(PUNPCKHBW, Punpckhbw) NB_CASE(PUNPCKHWD, Punpckhwd)
    NB_CASE(PUNPCKHDQ, Punpckhdq) NB_CASE(PUNPCKHQDQ, Punpckhqdq)
    NB_CASE(UNPCKLPS, Punpckldq) NB_CASE(UNPCKHPS, Punpckhdq) NB_CASE(UNPCKLPD, Punpcklqdq)
    NB_CASE(UNPCKHPD, Punpckhqdq)
    NB_CASE(PACKSSWB, Packsswb) NB_CASE(PACKSSDW, Packssdw) NB_CASE(PACKUSWB, Packuswb)
    NB_CASE(PSHUFD, Pshufd) NB_CASE(PSHUFLW, Pshuflw) NB_CASE(PSHUFHW, Pshufhw)
    NB_CASE(SHUFPS, Shufps) NB_CASE(SHUFPD, Shufpd)
    NB_SHIFT(PSLLW, Psllw) NB_SHIFT(PSLLD, Pslld) NB_SHIFT(PSLLQ, Psllq)
    NB_SHIFT(PSRLW, Psrlw) NB_SHIFT(PSRLD, Psrld) NB_SHIFT(PSRLQ, Psrlq)
    NB_SHIFT(PSRAW, Psraw) NB_SHIFT(PSRAD, Psrad)
    case X86_INS_PSLLDQ: h = int_handler<Pslldq>(d, mode); break;
    case X86_INS_PSRLDQ: h = int_handler<Psrldq>(d, mode); break;
    case X86_INS_PMULLW: h = int_handler<Pmullw>(d, mode); break;
    case X86_INS_PMULHW: h = int_handler<Pmulhw>(d, mode); break;
    case X86_INS_PMULHUW: h = int_handler<Pmulhuw>(d, mode); break;
    case X86_INS_PMULUDQ: h = int_handler<Pmuludq>(d, mode); break;
    case X86_INS_PMADDWD: h = int_handler<Pmaddwd>(d, mode); break;
#undef NB_CASE
#undef NB_SHIFT
    default: return false;
  }
  // Shifts by immediate, PSLLDQ and PSRLDQ have no source; the others need one.
  const bool imm_only = id == X86_INS_PSLLDQ || id == X86_INS_PSRLDQ || by_imm;
  if (imm_only != (d.nops == 2 && d.op[1].kind == OpKind::Imm)) return false;
  if (!imm_only && d.op[1].kind != OpKind::Xmm && d.op[1].kind != OpKind::Mem) return false;
  set_handler(d, h, costs, cost);
  return true;
}

}  // namespace nestbed::sim
