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

#include <cstdint>

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

}  // namespace nestbed::sim
