// Shared pieces of the SSE/SSE2 handlers (exec_sse.cpp: state, moves,
// MXCSR, FXSAVE; exec_sse_int.cpp: integer SIMD; exec_sse_fp.cpp:
// floating point): the availability checks of SDM vol. 3 13.1-13.2
// (table 13-1), XMM and memory operand access, and running one host SSE
// instruction under the guest's MXCSR.
//
// Floating-point results and MXCSR flags come from the host CPU executing
// the same instruction (the project targets x86-64 hosts, where SSE2 is
// the baseline): one asm block loads the guest's MXCSR, runs the
// instruction, stores MXCSR back and restores the host's, so the compiler
// can neither fold the operation nor move other floating-point code into
// that window. With every exception masked (MXCSR's reset value, and what
// compiled code runs with) the host cannot trap. With an exception
// unmasked the host instruction runs under the guest's masks exactly and a
// host #XM (SIGFPE) is caught: then the destination is left unchanged and
// MXCSR holds the flags the host set, as the SDM says for an unmasked
// SIMD floating-point exception (vol. 1, 11.5.1).
#pragma once
#include <emmintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/sse.h"
#include "l0/sim/cpu/exec_common.h"

namespace nestbed::sim {

using V128 = __m128i;

// SSE/SSE2 instructions (not FXSAVE/FXRSTOR): #UD if CR0.EM = 1 or
// CR4.OSFXSR = 0, then #NM if CR0.TS = 1 (SDM vol. 3, 13.1 and table 13-1,
// "action taken for combinations of OSFXSR, OSXMMEXCPT, SSE ..., EM, MP
// and TS"; #UD outranks #NM in the instruction's exception table).
[[noreturn]] void sse_unavailable(Cpu& c);
NB_INLINE void check_sse(Cpu& c) {
  const CpuState& s = c.state();
  if (NB_UNLIKELY((s.cr0 & (arch::cr0::EM | arch::cr0::TS)) || !(s.cr4 & arch::cr4::OSFXSR))) sse_unavailable(c);
}

// The XMM registers the FXSAVE and XSAVE images hold: XMM0-XMM15 in
// 64-bit mode, XMM0-XMM7 outside it (SDM vol. 1, 10.5.1 and 13.5.2).
unsigned xmm_count(Cpu& c);
// The 512-byte FXSAVE image of the current state (the layout of XSAVE's
// legacy region too); REX.W selects the 64-bit FPU IP/DP layout.
void fxsave_image(Cpu& c, uint8_t* img, bool rex_w);

// An unmasked SIMD floating-point exception: #XM with CR4.OSXMMEXCPT = 1,
// else #UD (SDM vol. 3, 13.2 and vol. 1, 11.5.2).
[[noreturn]] void raise_simd_exception(Cpu& c);

NB_INLINE V128 get_xmm(Cpu& c, unsigned r) {
  return _mm_load_si128(reinterpret_cast<const V128*>(c.state().xmm[r].q));
}
NB_INLINE void set_xmm(Cpu& c, unsigned r, V128 v) { _mm_store_si128(reinterpret_cast<V128*>(c.state().xmm[r].q), v); }

NB_INLINE uint64_t low64(V128 v) { return uint64_t(_mm_cvtsi128_si64(v)); }
NB_INLINE uint64_t high64(V128 v) { return uint64_t(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v))); }
NB_INLINE V128 make128(uint64_t lo, uint64_t hi) { return _mm_set_epi64x(int64_t(hi), int64_t(lo)); }

// The linear address of a memory operand of N bytes in form F (M or M64),
// #GP(0) when ALIGNED and it is not 16-byte aligned (the legacy SSE forms
// with a 128-bit memory operand other than MOVUPS/MOVUPD/MOVDQU).
template <unsigned N, bool ALIGNED, Form F>
NB_INLINE uint64_t sse_linear(Cpu& c, const DecodedInsn& i, Access a) {
  const uint64_t la = form_linear<F>(c, i, N, a);
  if constexpr (ALIGNED) {
    if (la & 15) raise_gp(0);
  }
  return la;
}

// N bytes (2, 4, 8 or 16) from memory, zero-extended to 128 bits.
template <unsigned N, bool ALIGNED, Form F>
NB_INLINE V128 load_mem(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = sse_linear<N, ALIGNED, F>(c, i, Access::Read);
  if constexpr (N == 16) {
    const uint64_t lo = c.read<uint64_t>(la), hi = c.read<uint64_t>(la + 8);
    return make128(lo, hi);
  } else if constexpr (N == 8) {
    return make128(c.read<uint64_t>(la), 0);
  } else if constexpr (N == 4) {
    return make128(c.read<uint32_t>(la), 0);
  } else {
    static_assert(N == 2);
    return make128(c.read<uint16_t>(la), 0);
  }
}

// 16 bytes to memory in one piece: when they cross a page both pages are
// translated for writing first, so a fault on the second leaves nothing
// written (as a 16-byte store does).
void store16(Cpu& c, uint64_t la, V128 v);
// Translates every page of [la, la + len) for writing (and faults as the
// first inaccessible one does) before anything is written.
void check_writable(Cpu& c, uint64_t la, unsigned len);

// The source operand n: an XMM register (Form::R), N bytes of memory, or
// nothing (Form::I: an instruction whose other input is its immediate).
template <unsigned N, bool ALIGNED, Form F>
NB_INLINE V128 read_src(Cpu& c, const DecodedInsn& i, unsigned n) {
  if constexpr (F == Form::R)
    return get_xmm(c, i.op[n].reg);
  else if constexpr (F == Form::I)
    return _mm_setzero_si128();
  else
    return load_mem<N, ALIGNED, F>(c, i);
}

// Picks the instance of an XMM-source handler for the source's form:
// `pick(FormTag<F>{})`.
template <Form F>
struct FormTag {
  static constexpr Form value = F;
};
template <typename Pick>
inline Handler by_src_form(Form f, Pick pick) {
  switch (f) {
    case Form::R: return pick(FormTag<Form::R>{});
    case Form::I: return pick(FormTag<Form::I>{});
    case Form::M: return pick(FormTag<Form::M>{});
    default: return pick(FormTag<Form::M64>{});
  }
}
// The form of operand n when it may be an XMM register.
inline Form sse_form_of(const DecodedInsn& d, unsigned n, CpuMode mode) {
  return d.op[n].kind == OpKind::Xmm ? Form::R : form_of(d, n, mode);
}

// ------------------------------------------------- host floating point

// Wraps one host SSE instruction (text `insn`, AT&T operand order) so that
// it runs under the MXCSR in operand %[m] and stores the resulting MXCSR
// back there, with the host's MXCSR saved in %[h] and restored.
#define NB_UNDER_MXCSR(insn) "stmxcsr %[h]\n\tldmxcsr %[m]\n\t" insn "\n\tstmxcsr %[m]\n\tldmxcsr %[h]"

// Runs fn(mx) (an NB_UNDER_MXCSR block with mx as %[m]) with the host's
// SIGFPE caught: true if the instruction raised an unmasked exception,
// with `mx` then holding the MXCSR at the trap.
bool run_trapping(void (*fn)(void*, uint32_t&), void* ctx, uint32_t& mx);

// Runs `fn(uint32_t& mx)`, one host SSE instruction under the guest's
// MXCSR, and updates the guest's MXCSR, or raises the SIMD floating-point
// exception without changing anything but MXCSR's flags. The caller
// commits the result only when this returns.
template <typename Fn>
NB_INLINE void simd_fp(Cpu& c, Fn&& fn) {
  uint32_t mx = c.state().mxcsr;
  if (NB_LIKELY((mx & arch::mxcsr::MASKS) == arch::mxcsr::MASKS)) {
    fn(mx);
  } else {
    auto call = [](void* p, uint32_t& m) { (*static_cast<Fn*>(p))(m); };
    if (run_trapping(call, &fn, mx)) {
      c.state().mxcsr = mx;
      raise_simd_exception(c);
    }
  }
  c.state().mxcsr = mx;
}

bool select_sse_int(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_sse_fp(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);

// ------------------------------------------- SSE3, SSSE3, SSE4.1, SSE4.2

// The elements of an XMM value as an array of E.
template <typename E>
struct XmmLanes {
  static constexpr unsigned N = 16 / sizeof(E);
  E e[N];
  XmmLanes() = default;
  explicit XmmLanes(V128 v) { _mm_storeu_si128(reinterpret_cast<V128*>(e), v); }
  V128 get() const { return _mm_loadu_si128(reinterpret_cast<const V128*>(e)); }
};

// v with signed or unsigned saturation to T's range.
template <typename T>
T saturate(int64_t v) {
  return T(std::clamp<int64_t>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

// dst = Op::run(dst, src, imm8), src an XMM register or N bytes of memory
// (16 bytes: #GP(0) when ALIGNED and misaligned): the integer operations
// of SSE3-SSE4.2, which raise no SIMD floating-point exception.
template <typename Op, unsigned N, bool ALIGNED, Form S>
void h_xmm_int(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<N, ALIGNED, S>(c, i, 1);
  set_xmm(c, i.op[0].reg, Op::run(get_xmm(c, i.op[0].reg), b, uint8_t(i.imm)));
}
// The same for a floating-point operation: Op::run(dst, src, imm8, mxcsr)
// runs one host instruction under the guest's MXCSR (simd_fp).
template <typename Op, unsigned N, bool ALIGNED, Form S>
void h_xmm_fp(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 b = read_src<N, ALIGNED, S>(c, i, 1);
  V128 a = get_xmm(c, i.op[0].reg);
  const uint8_t imm = uint8_t(i.imm);
  simd_fp(c, [&](uint32_t& m) { a = Op::run(a, b, imm, m); });
  set_xmm(c, i.op[0].reg, a);
}
// The instance of H<Op, N, ALIGNED, form> for operand 1's form (an XMM
// register or memory), or nullptr for any other operand.
template <template <typename, unsigned, bool, Form> class H, typename Op, unsigned N, bool ALIGNED>
struct XmmPick {
  static Handler pick(const DecodedInsn& d, CpuMode mode) {
    if (d.nops < 2 || d.op[0].kind != OpKind::Xmm) return nullptr;
    if (d.op[1].kind != OpKind::Xmm && d.op[1].kind != OpKind::Mem) return nullptr;
    return by_src_form(sse_form_of(d, 1, mode), [](auto f) -> Handler {
      constexpr Form F = decltype(f)::value;
      if constexpr (F == Form::I)
        return nullptr;
      else
        return &H<Op, N, ALIGNED, F>::fn;
    });
  }
};
template <typename Op, unsigned N, bool ALIGNED, Form S>
struct XmmInt {
  static void fn(Cpu& c, const DecodedInsn& i) { h_xmm_int<Op, N, ALIGNED, S>(c, i); }
};
template <typename Op, unsigned N, bool ALIGNED, Form S>
struct XmmFp {
  static void fn(Cpu& c, const DecodedInsn& i) { h_xmm_fp<Op, N, ALIGNED, S>(c, i); }
};

// Whether the host CPU executes an instruction set (CPUID, read once): the
// floating-point instructions of SSE3 and SSE4.1 run as the host's own.
// Without SSE4.1, ROUND* runs as integer code (exec_sse4.cpp).
bool host_has_sse3();
bool host_has_sse41();
// On a host without them, the others run as sequences of SSE2
// scalar operations in the order of the SDM's pseudocode (each rounded as
// the instruction rounds it), in stages (the operations one stage does in
// parallel: DPPS's products, then its sums): scalar_step runs one
// (ADDSS/SUBSS/MULSS for 32-bit elements, the SD forms for 64-bit) under
// the guest's MXCSR and ORs the flags it raised into `stage`; end_stage
// adds a stage's flags to `flags` as SDM vol. 1, 11.5.2.1 says (invalid,
// denormal and divide-by-zero are found before any result: when one of
// them is unmasked, the stage's overflow, underflow and precision are not
// reported) and answers whether the instruction stops there with an
// unmasked exception; commit_step_flags then updates MXCSR and raises it.
enum class StepOp : uint8_t { Add, Sub, Mul };
uint32_t scalar_step(StepOp op, uint32_t a, uint32_t b, uint32_t guest_mxcsr, uint32_t& stage);
uint64_t scalar_step(StepOp op, uint64_t a, uint64_t b, uint32_t guest_mxcsr, uint32_t& stage);
bool end_stage(uint32_t guest_mxcsr, uint32_t stage, uint32_t& flags);
void commit_step_flags(Cpu& c, uint32_t flags);
// dst = Op::run(dst, src, imm8, guest MXCSR, flags) in steps, then the flags.
template <typename Op, unsigned N, bool ALIGNED, Form S>
struct XmmFpSteps {
  static void fn(Cpu& c, const DecodedInsn& i) {
    check_sse(c);
    const V128 b = read_src<N, ALIGNED, S>(c, i, 1);
    uint32_t flags = 0;
    const V128 r = Op::run(get_xmm(c, i.op[0].reg), b, uint8_t(i.imm), c.state().mxcsr, flags);
    commit_step_flags(c, flags);
    set_xmm(c, i.op[0].reg, r);
  }
};

// Tests: false makes host_has_sse3/41 answer false, so instructions decoded
// afterwards take the paths of a host without them.
void use_host_fp(bool on);

// SSE3 and SSSE3 (exec_sse3.cpp); SSE4.1, SSE4.2, POPCNT and CRC32
// (exec_sse4.cpp). select_sse tries them after the SSE/SSE2 families.
bool select_sse3(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_sse4(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_sse34(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);  // both

}  // namespace nestbed::sim
