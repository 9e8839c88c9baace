// SSE3 (SDM vol. 1, chapter 12; vol. 2, each instruction): ADDSUBPS/PD,
// HADDPS/PD, HSUBPS/PD (the host's own instructions under the guest's
// MXCSR, as in exec_sse_fp.cpp, or SSE2 steps on a host without SSE3),
// LDDQU, MOVDDUP, MOVSHDUP, MOVSLDUP; and SSSE3 in its XMM forms:
// PABSB/W/D, PALIGNR, PHADDW/D, PHADDSW, PHSUBW/D, PHSUBSW, PMADDUBSW,
// PMULHRSW, PSHUFB, PSIGNB/W/D, computed here in integer code (exact on
// every host). Also the SSE2 steps themselves (exec_sse.h). FISTTP is x87;
// MONITOR/MWAIT have their own CPUID bit and are not implemented. The MMX
// forms of SSSE3 (0F 38 without 66) name MMX registers, which the decoder
// does not know: they stay unimplemented (#UD).
//
// Alignment (SDM vol. 2, table 2-21, exception type 4 and its note): the
// 128-bit memory operands are #GP(0) when misaligned, except LDDQU's;
// MOVDDUP's m64 is type 5 (no alignment).
#include <capstone/capstone.h>
#include <cpuid.h>

#include <atomic>

#include "arch/x86/cpuid.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"

namespace nestbed::sim {

namespace {
bool host_cpuid_ecx(uint32_t bit) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return c & bit;
}
}  // namespace

namespace {
std::atomic<bool> g_host_fp{true};
}  // namespace

void use_host_fp(bool on) { g_host_fp.store(on, std::memory_order_relaxed); }
bool host_has_sse3() {
  static const bool has = host_cpuid_ecx(arch::cpuid::L1_ECX_SSE3);
  return has && g_host_fp.load(std::memory_order_relaxed);
}
bool host_has_sse41() {
  static const bool has = host_cpuid_ecx(arch::cpuid::L1_ECX_SSE4_1);
  return has && g_host_fp.load(std::memory_order_relaxed);
}

// ------------------------------------------- SSE2 steps (exec_sse.h)

namespace {
// The step's value comes from a run with every exception masked; with an
// exception unmasked, its flags come from a second run under the guest's
// masks, the host's SIGFPE caught (an unmasked underflow is signalled by
// tininess alone, an unmasked overflow or underflow reports precision only
// for the rescaled result: SDM vol. 1, 4.9.1.5-4.9.1.6 and 11.5.2.1).
template <typename U, typename Op>
U run_step(U a, U b, uint32_t guest_mxcsr, uint32_t& flags, Op op) {
  namespace mx = arch::mxcsr;
  uint32_t m = (guest_mxcsr & ~mx::FLAGS) | mx::MASKS;
  struct Ctx {
    V128 x, y;
  } ctx{make128(a, 0), make128(b, 0)};
  const V128 x0 = ctx.x;
  op(ctx.x, ctx.y, m);
  if ((guest_mxcsr & mx::MASKS) == mx::MASKS) {
    flags |= m & mx::FLAGS;
    return U(low64(ctx.x));
  }
  const U value = U(low64(ctx.x));
  ctx.x = x0;
  uint32_t g = guest_mxcsr & ~mx::FLAGS;
  run_trapping([](void* p, uint32_t& mm) { Op{}(static_cast<Ctx*>(p)->x, static_cast<Ctx*>(p)->y, mm); }, &ctx, g);
  flags |= g & mx::FLAGS;
  return value;
}
#define NB_STEP(insn)                                                                                             \
  [](V128& x, V128 y, uint32_t& m) {                                                                              \
    uint32_t h;                                                                                                   \
    asm volatile(NB_UNDER_MXCSR(insn " %[y], %[x]") : [x] "+x"(x), [m] "+m"(m), [h] "=m"(h) : [y] "x"(y));       \
  }
}  // namespace

uint32_t scalar_step(StepOp op, uint32_t a, uint32_t b, uint32_t guest_mxcsr, uint32_t& flags) {
  switch (op) {
    case StepOp::Add: return run_step(a, b, guest_mxcsr, flags, NB_STEP("addss"));
    case StepOp::Sub: return run_step(a, b, guest_mxcsr, flags, NB_STEP("subss"));
    default: return run_step(a, b, guest_mxcsr, flags, NB_STEP("mulss"));
  }
}
uint64_t scalar_step(StepOp op, uint64_t a, uint64_t b, uint32_t guest_mxcsr, uint32_t& flags) {
  switch (op) {
    case StepOp::Add: return run_step(a, b, guest_mxcsr, flags, NB_STEP("addsd"));
    case StepOp::Sub: return run_step(a, b, guest_mxcsr, flags, NB_STEP("subsd"));
    default: return run_step(a, b, guest_mxcsr, flags, NB_STEP("mulsd"));
  }
}
#undef NB_STEP

bool end_stage(uint32_t guest_mxcsr, uint32_t stage, uint32_t& flags) {
  namespace mx = arch::mxcsr;
  const uint32_t unmasked = ~(guest_mxcsr >> mx::MASK_SHIFT) & mx::FLAGS, pre = mx::IE | mx::DE | mx::ZE;
  if (stage & unmasked & pre) stage &= pre;
  flags |= stage;
  return stage & unmasked;
}

void commit_step_flags(Cpu& c, uint32_t flags) {
  namespace mx = arch::mxcsr;
  uint32_t& mxcsr = c.state().mxcsr;
  mxcsr |= flags;
  if (flags & ~(mxcsr >> mx::MASK_SHIFT) & mx::FLAGS) raise_simd_exception(c);
}

namespace {

// ------------------------------------------------------------ SSE3 FP

#define NB_FP3_OP(name, insn)                                                                             \
  struct name {                                                                                           \
    static NB_INLINE V128 run(V128 a, V128 b, uint8_t, uint32_t& m) {                                     \
      uint32_t h;                                                                                         \
      asm volatile(NB_UNDER_MXCSR(insn " %[b], %[a]") : [a] "+x"(a), [m] "+m"(m), [h] "=m"(h) : [b] "x"(b)); \
      return a;                                                                                           \
    }                                                                                                     \
  };
NB_FP3_OP(Addsubps, "addsubps")
NB_FP3_OP(Addsubpd, "addsubpd")
NB_FP3_OP(Haddps, "haddps")
NB_FP3_OP(Haddpd, "haddpd")
NB_FP3_OP(Hsubps, "hsubps")
NB_FP3_OP(Hsubpd, "hsubpd")
#undef NB_FP3_OP

// The same as SSE2 steps (SDM vol. 2 pseudocode): element k of the result
// is x[i] op y[j] with (x, y, i, j, op) from Pick(k).
template <typename U, typename Pick>
V128 steps(V128 a, V128 b, uint32_t mx, uint32_t& flags, Pick pick) {
  const XmmLanes<U> d(a), s(b);
  XmmLanes<U> r;
  uint32_t stage = 0;
  for (unsigned k = 0; k < XmmLanes<U>::N; ++k) {
    const auto [x_is_src, i, y_is_src, j, op] = pick(k);
    r.e[k] = scalar_step(op, (x_is_src ? s : d).e[i], (y_is_src ? s : d).e[j], mx, stage);
  }
  end_stage(mx, stage, flags);  // one stage: the elements in parallel
  return r.get();
}
struct Step {
  bool x_src;
  unsigned i;
  bool y_src;
  unsigned j;
  StepOp op;
};
template <typename U>
struct AddsubSteps {  // element k: d[k] - s[k] for even k, d[k] + s[k] for odd
  static V128 run(V128 a, V128 b, uint8_t, uint32_t mx, uint32_t& flags) {
    return steps<U>(a, b, mx, flags, [](unsigned k) { return Step{false, k, true, k, k & 1 ? StepOp::Add : StepOp::Sub}; });
  }
};
template <typename U, StepOp OP>
struct HorizontalSteps {  // low half from pairs of the destination, high half from the source's
  static V128 run(V128 a, V128 b, uint8_t, uint32_t mx, uint32_t& flags) {
    constexpr unsigned half = XmmLanes<U>::N / 2;
    return steps<U>(a, b, mx, flags, [](unsigned k) {
      const bool src = k >= half;
      const unsigned p = 2 * (k % half);
      return Step{src, p, src, p + 1, OP};
    });
  }
};

// ---------------------------------------------------------- SSE3 moves

struct Lddqu {  // the source, whatever its alignment
  static V128 run(V128, V128 b, uint8_t) { return b; }
};
struct Movddup {  // the low quadword twice
  static V128 run(V128, V128 b, uint8_t) { return make128(low64(b), low64(b)); }
};
struct Movshdup {  // doublewords 1 and 3, each twice
  static V128 run(V128, V128 b, uint8_t) {
    XmmLanes<uint32_t> s(b), r;
    r.e[0] = r.e[1] = s.e[1];
    r.e[2] = r.e[3] = s.e[3];
    return r.get();
  }
};
struct Movsldup {  // doublewords 0 and 2, each twice
  static V128 run(V128, V128 b, uint8_t) {
    XmmLanes<uint32_t> s(b), r;
    r.e[0] = r.e[1] = s.e[0];
    r.e[2] = r.e[3] = s.e[2];
    return r.get();
  }
};

// --------------------------------------------------------------- SSSE3

// PSHUFB: byte k is the destination's byte (src[k] & 15), or 0 when
// src[k] bit 7 is set.
struct Pshufb {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<uint8_t> d(a), s(b), r;
    for (unsigned k = 0; k < 16; ++k) r.e[k] = (s.e[k] & 0x80) ? 0 : d.e[s.e[k] & 15];
    return r.get();
  }
};

// PHADD*/PHSUB*: the low half of the result from adjacent pairs of the
// destination, the high half from those of the source; element 2k minus
// element 2k+1 for the subtractions. SAT: signed saturation (PHADDSW,
// PHSUBSW), else wrap-around.
template <typename T, bool SUB, bool SAT>
struct Phorizontal {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<T> d(a), s(b), r;
    constexpr unsigned half = XmmLanes<T>::N / 2;
    for (unsigned k = 0; k < half; ++k) {
      for (unsigned which = 0; which < 2; ++which) {
        const XmmLanes<T>& x = which ? s : d;
        const int64_t v = SUB ? int64_t(x.e[2 * k]) - int64_t(x.e[2 * k + 1]) : int64_t(x.e[2 * k]) + int64_t(x.e[2 * k + 1]);
        r.e[which * half + k] = SAT ? saturate<T>(v) : T(v);
      }
    }
    return r.get();
  }
};

// PMADDUBSW: unsigned bytes of the destination times signed bytes of the
// source, adjacent products added with signed saturation to words.
struct Pmaddubsw {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<uint8_t> d(a);
    XmmLanes<int8_t> s(b);
    XmmLanes<int16_t> r;
    for (unsigned k = 0; k < 8; ++k)
      r.e[k] = saturate<int16_t>(int32_t(d.e[2 * k]) * s.e[2 * k] + int32_t(d.e[2 * k + 1]) * s.e[2 * k + 1]);
    return r.get();
  }
};

// PMULHRSW: the signed product's bits 30:15, rounded ((p >> 14) + 1) >> 1.
struct Pmulhrsw {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<int16_t> d(a), s(b), r;
    for (unsigned k = 0; k < 8; ++k) r.e[k] = int16_t((((int32_t(d.e[k]) * s.e[k]) >> 14) + 1) >> 1);
    return r.get();
  }
};

// PSIGN*: the destination element negated, zeroed or kept as the source
// element is negative, zero or positive.
template <typename T>
struct Psign {
  static V128 run(V128 a, V128 b, uint8_t) {
    XmmLanes<T> d(a), s(b), r;
    for (unsigned k = 0; k < XmmLanes<T>::N; ++k)
      r.e[k] = s.e[k] < 0 ? T(-int64_t(d.e[k])) : s.e[k] == 0 ? T(0) : d.e[k];
    return r.get();
  }
};

// PABS*: the absolute value of the source's signed elements, as unsigned.
template <typename T>
struct Pabs {
  static V128 run(V128, V128 b, uint8_t) {
    XmmLanes<T> s(b), r;
    for (unsigned k = 0; k < XmmLanes<T>::N; ++k) r.e[k] = s.e[k] < 0 ? T(-int64_t(s.e[k])) : s.e[k];
    return r.get();
  }
};

// PALIGNR: destination:source (32 bytes, destination high) shifted right
// by imm8 bytes, the low 16 kept; imm8 >= 32 gives zero.
struct Palignr {
  static V128 run(V128 a, V128 b, uint8_t imm) {
    uint8_t cat[48] = {};
    _mm_storeu_si128(reinterpret_cast<V128*>(cat), b);
    _mm_storeu_si128(reinterpret_cast<V128*>(cat + 16), a);
    XmmLanes<uint8_t> r;
    for (unsigned k = 0; k < 16; ++k) r.e[k] = imm + k < 32 ? cat[imm + k] : 0;
    return r.get();
  }
};

template <typename Op, unsigned N = 16, bool ALIGNED = true>
Handler int_op(const DecodedInsn& d, CpuMode mode) {
  return XmmPick<XmmInt, Op, N, ALIGNED>::pick(d, mode);
}
// The host's instruction, or SSE2 steps on a host without SSE3.
template <typename Op, typename Steps>
Handler fp_op(const DecodedInsn& d, CpuMode mode) {
  if (!host_has_sse3()) return XmmPick<XmmFpSteps, Steps, 16, true>::pick(d, mode);
  return XmmPick<XmmFp, Op, 16, true>::pick(d, mode);
}

}  // namespace

bool select_sse3(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  Handler h = nullptr;
  CostClass cost = CostClass::simple;  // Agner Fog, Skylake: reciprocal throughput 0.5-1 (HADD/HSUB 2)
  switch (id) {
    case X86_INS_ADDSUBPS: h = fp_op<Addsubps, AddsubSteps<uint32_t>>(d, mode); break;
    case X86_INS_ADDSUBPD: h = fp_op<Addsubpd, AddsubSteps<uint64_t>>(d, mode); break;
    case X86_INS_HADDPS: h = fp_op<Haddps, HorizontalSteps<uint32_t, StepOp::Add>>(d, mode); break;
    case X86_INS_HADDPD: h = fp_op<Haddpd, HorizontalSteps<uint64_t, StepOp::Add>>(d, mode); break;
    case X86_INS_HSUBPS: h = fp_op<Hsubps, HorizontalSteps<uint32_t, StepOp::Sub>>(d, mode); break;
    case X86_INS_HSUBPD: h = fp_op<Hsubpd, HorizontalSteps<uint64_t, StepOp::Sub>>(d, mode); break;
    case X86_INS_LDDQU:
      h = d.nops == 2 && d.op[1].kind == OpKind::Mem ? int_op<Lddqu, 16, false>(d, mode) : nullptr;
      cost = CostClass::load_store;
      break;
    case X86_INS_MOVDDUP: h = int_op<Movddup, 8, false>(d, mode); break;
    case X86_INS_MOVSHDUP: h = int_op<Movshdup>(d, mode); break;
    case X86_INS_MOVSLDUP: h = int_op<Movsldup>(d, mode); break;
    case X86_INS_PSHUFB: h = int_op<Pshufb>(d, mode); break;
    case X86_INS_PHADDW: h = int_op<Phorizontal<int16_t, false, false>>(d, mode); break;
    case X86_INS_PHADDD: h = int_op<Phorizontal<int32_t, false, false>>(d, mode); break;
    case X86_INS_PHADDSW: h = int_op<Phorizontal<int16_t, false, true>>(d, mode); break;
    case X86_INS_PHSUBW: h = int_op<Phorizontal<int16_t, true, false>>(d, mode); break;
    case X86_INS_PHSUBD: h = int_op<Phorizontal<int32_t, true, false>>(d, mode); break;
    case X86_INS_PHSUBSW: h = int_op<Phorizontal<int16_t, true, true>>(d, mode); break;
    case X86_INS_PMADDUBSW: h = int_op<Pmaddubsw>(d, mode); break;
    case X86_INS_PMULHRSW: h = int_op<Pmulhrsw>(d, mode); break;
    case X86_INS_PSIGNB: h = int_op<Psign<int8_t>>(d, mode); break;
    case X86_INS_PSIGNW: h = int_op<Psign<int16_t>>(d, mode); break;
    case X86_INS_PSIGND: h = int_op<Psign<int32_t>>(d, mode); break;
    case X86_INS_PABSB: h = int_op<Pabs<int8_t>>(d, mode); break;
    case X86_INS_PABSW: h = int_op<Pabs<int16_t>>(d, mode); break;
    case X86_INS_PABSD: h = int_op<Pabs<int32_t>>(d, mode); break;
    case X86_INS_PALIGNR: h = d.nops == 3 && d.op[2].kind == OpKind::Imm ? int_op<Palignr>(d, mode) : nullptr; break;
    default: return false;
  }
  if (!h) return false;
  set_handler(d, h, costs, cost);
  return true;
}

}  // namespace nestbed::sim
