// SSE/SSE2 state and data movement: the availability checks, MOVAPS..
// MOVDQU, MOVD/MOVQ, MOVSS/MOVSD, the half moves, MOVMSKPS/PD, PMOVMSKB,
// the non-temporal stores, MASKMOVDQU, PINSRW/PEXTRW, LDMXCSR/STMXCSR,
// FXSAVE/FXRSTOR (SDM vol. 1, 10.5.1; the x87 part of the image is
// exec_x87.cpp's; exec_xsave.cpp's legacy region reuses fxsave_image).
// The arithmetic is in exec_sse_int.cpp and exec_sse_fp.cpp; select_sse
// tries all three.
#include <capstone/capstone.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <cstring>

#include "arch/x86/segment.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"
#include "l0/sim/cpu/exec_x87.h"

namespace nestbed::sim {

namespace mx = arch::mxcsr;
namespace fx = arch::fxsave;

void sse_unavailable(Cpu& c) {
  const CpuState& s = c.state();
  if ((s.cr0 & arch::cr0::EM) || !(s.cr4 & arch::cr4::OSFXSR)) raise_ud();
  raise_fault(uint8_t(arch::Vector::NM));
}

void raise_simd_exception(Cpu& c) {
  if (c.state().cr4 & arch::cr4::OSXMMEXCPT) raise_fault(uint8_t(arch::Vector::XM));
  raise_ud();
}

void check_writable(Cpu& c, uint64_t la, unsigned len) {
  while (len) {
    const unsigned in_page = unsigned(std::min<uint64_t>(len, 0x1000 - (la & 0xfff)));
    c.translate(la, Access::Write, false, in_page);
    la += in_page;
    len -= in_page;
  }
}

void store16(Cpu& c, uint64_t la, V128 v) {
  if ((la & 0xfff) > 0x1000 - 16) check_writable(c, la, 16);
  c.write<uint64_t>(la, low64(v));
  c.write<uint64_t>(la + 8, high64(v));
}

// ------------------------------------------------- host SIMD exceptions

namespace {
thread_local sigjmp_buf* t_trap = nullptr;
thread_local uint32_t t_trap_mxcsr = 0;

void on_simd_trap(int sig, siginfo_t*, void* context) {
  if (!t_trap) {  // not ours: the default action
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  t_trap_mxcsr = static_cast<ucontext_t*>(context)->uc_mcontext.fpregs->mxcsr;
  siglongjmp(*t_trap, 1);
}
}  // namespace

bool run_trapping(void (*fn)(void*, uint32_t&), void* ctx, uint32_t& m) {
  const uint32_t host = _mm_getcsr();
  struct sigaction sa {}, old {};
  sa.sa_sigaction = &on_simd_trap;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGFPE, &sa, &old);
  sigjmp_buf jb;
  volatile bool trapped = false;
  if (sigsetjmp(jb, 1) == 0) {
    t_trap = &jb;
    fn(ctx, m);
  } else {
    trapped = true;
    m = t_trap_mxcsr;
    _mm_setcsr(host);  // the handler ran with the kernel's initial MXCSR
  }
  t_trap = nullptr;
  sigaction(SIGFPE, &old, nullptr);
  return trapped;
}

namespace {

// ------------------------------------------------------------------ moves

// MOVAPS/MOVUPS/MOVAPD/MOVUPD/MOVDQA/MOVDQU, MOVNTPS/PD/DQ (stores only).
template <bool ALIGNED, Form S>
void h_mov128_load(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  set_xmm(c, i.op[0].reg, read_src<16, ALIGNED, S>(c, i, 1));
}
template <bool ALIGNED, Form D>
void h_mov128_store(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  store16(c, sse_linear<16, ALIGNED, D>(c, i, Access::Write), get_xmm(c, i.op[1].reg));
}

// Stores of the low N bytes of an XMM register (MOVSS, MOVSD, MOVQ, MOVD,
// MOVLPS/PD) or of its high quadword (MOVHPS/PD).
template <unsigned N, bool HIGH, Form D>
void h_store_part(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 v = get_xmm(c, i.op[1].reg);
  const uint64_t la = form_linear<D>(c, i, N, Access::Write);
  if constexpr (N == 4)
    c.write<uint32_t>(la, uint32_t(low64(v)));
  else
    c.write<uint64_t>(la, HIGH ? high64(v) : low64(v));
}

// MOVSS/MOVSD xmm, m32/m64 and MOVQ xmm, xmm/m64, MOVD/MOVQ xmm, r/m:
// the element, zero-extended to 128 bits.
template <unsigned N, Form S>
void h_load_zx(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  V128 v;
  if constexpr (S == Form::R)
    v = make128(N == 8 ? low64(get_xmm(c, i.op[1].reg)) : uint32_t(low64(get_xmm(c, i.op[1].reg))), 0);
  else
    v = load_mem<N, false, S>(c, i);
  set_xmm(c, i.op[0].reg, v);
}
template <typename T, Form S>
void h_movd_to_xmm(Cpu& c, const DecodedInsn& i) {  // MOVD/MOVQ xmm, r/m32 or r/m64
  check_sse(c);
  set_xmm(c, i.op[0].reg, make128(read_form<T, S>(c, i, 1), 0));
}
template <typename T, Form D>
void h_movd_from_xmm(Cpu& c, const DecodedInsn& i) {  // MOVD/MOVQ r/m32 or r/m64, xmm
  check_sse(c);
  const T v = T(low64(get_xmm(c, i.op[1].reg)));
  if constexpr (D == Form::R)
    set_reg<T>(c, i.op[0], v);
  else
    c.write<T>(form_linear<D>(c, i, sizeof(T), Access::Write), v);
}

// MOVSS/MOVSD xmm, xmm: the low element only.
template <unsigned N>
void h_move_low_element(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 d = get_xmm(c, i.op[0].reg), s = get_xmm(c, i.op[1].reg);
  if constexpr (N == 4) {
    const uint64_t lo = (low64(d) & ~0xffffffffull) | (low64(s) & 0xffffffffull);
    set_xmm(c, i.op[0].reg, make128(lo, high64(d)));
  } else {
    set_xmm(c, i.op[0].reg, make128(low64(s), high64(d)));
  }
}

// MOVLPS/MOVLPD/MOVHPS/MOVHPD xmm, m64 (the other half kept), MOVHLPS and
// MOVLHPS (register forms, sharing MOVLPS's and MOVHPS's opcodes).
template <bool HIGH, Form S>
void h_load_half(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const uint64_t v = low64(load_mem<8, false, S>(c, i));
  const V128 d = get_xmm(c, i.op[0].reg);
  set_xmm(c, i.op[0].reg, HIGH ? make128(low64(d), v) : make128(v, high64(d)));
}
void h_movhlps(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 d = get_xmm(c, i.op[0].reg), s = get_xmm(c, i.op[1].reg);
  set_xmm(c, i.op[0].reg, make128(high64(s), high64(d)));
}
void h_movlhps(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 d = get_xmm(c, i.op[0].reg), s = get_xmm(c, i.op[1].reg);
  set_xmm(c, i.op[0].reg, make128(low64(d), low64(s)));
}

// MOVMSKPS/MOVMSKPD/PMOVMSKB r32/r64, xmm: the sign bits, zero-extended.
template <int KIND>
void h_movmsk(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const V128 s = get_xmm(c, i.op[1].reg);
  uint32_t m;
  if constexpr (KIND == 0)
    m = uint32_t(_mm_movemask_ps(_mm_castsi128_ps(s)));
  else if constexpr (KIND == 1)
    m = uint32_t(_mm_movemask_pd(_mm_castsi128_pd(s)));
  else
    m = uint32_t(_mm_movemask_epi8(s));
  c.reg(i.op[0].reg) = m;
}

// MOVNTI m32/m64, r: an ordinary store here (no caches to bypass); SSE2,
// but of general-purpose registers, so without the CR0/CR4 checks.
template <typename T, Form D>
void h_movnti(Cpu& c, const DecodedInsn& i) {
  c.write<T>(form_linear<D>(c, i, sizeof(T), Access::Write), get_reg<T>(c, i.op[1]));
}

// PINSRW xmm, r32/m16, imm8 and PEXTRW r32/r64, xmm, imm8 (imm8 bits 2:0
// select the word).
template <Form S>
void h_pinsrw(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const uint16_t w = read_form<uint16_t, S>(c, i, 1);
  alignas(16) uint16_t e[8];
  _mm_store_si128(reinterpret_cast<V128*>(e), get_xmm(c, i.op[0].reg));
  e[i.imm & 7] = w;
  set_xmm(c, i.op[0].reg, _mm_load_si128(reinterpret_cast<const V128*>(e)));
}
void h_pextrw(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  alignas(16) uint16_t e[8];
  _mm_store_si128(reinterpret_cast<V128*>(e), get_xmm(c, i.op[1].reg));
  c.reg(i.op[0].reg) = e[i.imm & 7];
}

// MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose mask byte in xmm2 has its
// top bit set go to DS:rDI (segment overridable). Both pages are checked
// for writing first, whatever the mask (the SDM leaves faults with an
// all-zero mask implementation-specific), so a fault writes nothing.
template <Form F>
void h_maskmovdqu(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const uint64_t la = form_linear<F>(c, i, 16, Access::Write);
  check_writable(c, la, 16);
  alignas(16) uint8_t src[16], mask[16];
  _mm_store_si128(reinterpret_cast<V128*>(src), get_xmm(c, i.op[0].reg));
  _mm_store_si128(reinterpret_cast<V128*>(mask), get_xmm(c, i.op[1].reg));
  for (unsigned k = 0; k < 16; ++k)
    if (mask[k] & 0x80) c.write<uint8_t>(la + k, src[k]);
}

// ------------------------------------------------------------------ MXCSR

template <Form F>
void h_ldmxcsr(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  const uint32_t v = c.read<uint32_t>(form_linear<F>(c, i, 4, Access::Read));
  if (v & ~mx::SUPPORTED) raise_gp(0);  // SDM vol. 2, LDMXCSR
  c.state().mxcsr = v;
}
template <Form F>
void h_stmxcsr(Cpu& c, const DecodedInsn& i) {
  check_sse(c);
  c.write<uint32_t>(form_linear<F>(c, i, 4, Access::Write), c.state().mxcsr);
}

// ---------------------------------------------------------- FXSAVE/FXRSTOR

// FXSAVE/FXRSTOR: #NM if CR0.EM or CR0.TS is set (check_fpu; SDM vol. 2,
// FXSAVE). CR4.OSFXSR only decides whether the SSE state is included;
// this CPU always includes it (SDM vol. 2 FXSAVE: "implementation
// dependent").

}  // namespace

// XMM8-XMM15 are in the image only in 64-bit mode (SDM vol. 1, 10.5.1).
unsigned xmm_count(Cpu& c) { return c.mode() == CpuMode::Bits64 ? 16 : 8; }

// The 512-byte FXSAVE image of the current state. Bytes the processor
// does not write (the reserved 416-463 and the software-available 464-511,
// XMM8-15 outside 64-bit mode) are not part of it. REX.W
// selects the 64-bit FPU IP/DP layout (SDM vol. 1, tables 10-2, 10-3).
void fxsave_image(Cpu& c, uint8_t* img, bool rex_w) {
  const CpuState& s = c.state();
  x87_to_fxsave(s.x87, img, rex_w);
  auto put = [&](unsigned off, auto v) { std::memcpy(img + off, &v, sizeof v); };
  put(fx::MXCSR, s.mxcsr);
  put(fx::MXCSR_MASK, mx::SUPPORTED);
  for (unsigned k = 0; k < xmm_count(c); ++k) std::memcpy(img + fx::XMM0 + fx::SLOT * k, s.xmm[k].q, 16);
}

namespace {

// The image's linear address: 16-byte aligned or #GP(0) (SDM vol. 2, FXSAVE).
template <Form F>
uint64_t fxsave_linear(Cpu& c, const DecodedInsn& i, Access a) {
  const uint64_t la = form_linear<F>(c, i, fx::SIZE, a);
  if (la & (fx::ALIGN - 1)) raise_gp(0);
  return la;
}

template <Form F, bool REX_W>
void h_fxsave(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  const uint64_t la = fxsave_linear<F>(c, i, Access::Write);
  // Bytes [0, end) are all written; every page is checked for writing
  // first, so the image is stored whole or not at all.
  const unsigned end = fx::XMM0 + xmm_count(c) * fx::SLOT;
  check_writable(c, la, end);
  uint8_t img[fx::SIZE];
  fxsave_image(c, img, REX_W);
  for (unsigned off = 0; off < end; off += 8) {
    uint64_t v;
    std::memcpy(&v, img + off, 8);
    c.write<uint64_t>(la + off, v);
  }
}

template <Form F, bool REX_W>
void h_fxrstor(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  const uint64_t la = fxsave_linear<F>(c, i, Access::Read);
  uint8_t img[fx::SIZE];
  const unsigned n = xmm_count(c);
  const unsigned end = fx::XMM0 + n * fx::SLOT;
  for (unsigned off = 0; off < end; off += 8) {
    const uint64_t v = c.read<uint64_t>(la + off);
    std::memcpy(img + off, &v, 8);
  }
  auto get = [&](unsigned off, auto& v) { std::memcpy(&v, img + off, sizeof v); };
  uint32_t mxcsr;
  get(fx::MXCSR, mxcsr);
  if (mxcsr & ~mx::SUPPORTED) raise_gp(0);  // SDM vol. 2, FXRSTOR
  CpuState& s = c.state();
  x87_from_fxsave(s.x87, img, REX_W);
  x87_loaded(s.x87);
  s.mxcsr = mxcsr;
  for (unsigned k = 0; k < n; ++k) std::memcpy(s.xmm[k].q, img + fx::XMM0 + fx::SLOT * k, 16);
}

// ---------------------------------------------------------------- select

// A handler template instance by the form of memory operand n (M or M64).
template <template <Form> class H>
struct MemForm {
  static Handler pick(const DecodedInsn& d, unsigned n, CpuMode mode) {
    return form_of(d, n, mode) == Form::M64 ? &H<Form::M64>::fn : &H<Form::M>::fn;
  }
};

#define NB_FORM_WRAPPER(name, ...)      \
  template <Form F>                     \
  struct name {                         \
    static void fn(Cpu& c, const DecodedInsn& i) { __VA_ARGS__(c, i); } \
  };
NB_FORM_WRAPPER(Ldmxcsr, h_ldmxcsr<F>)
NB_FORM_WRAPPER(Stmxcsr, h_stmxcsr<F>)
NB_FORM_WRAPPER(Fxsave32, h_fxsave<F, false>)
NB_FORM_WRAPPER(Fxsave64, h_fxsave<F, true>)
NB_FORM_WRAPPER(Fxrstor32, h_fxrstor<F, false>)
NB_FORM_WRAPPER(Fxrstor64, h_fxrstor<F, true>)
#undef NB_FORM_WRAPPER

// The 128-bit moves: load (xmm <- xmm/m128) or store (m128 <- xmm).
Handler mov128(const DecodedInsn& d, CpuMode mode, bool aligned) {
  if (d.op[0].kind == OpKind::Xmm) {
    return by_src_form(sse_form_of(d, 1, mode), [aligned](auto f) -> Handler {
      constexpr Form F = decltype(f)::value;
      if constexpr (F == Form::I) return nullptr;
      else return aligned ? &h_mov128_load<true, F> : &h_mov128_load<false, F>;
    });
  }
  if (d.op[0].kind != OpKind::Mem || d.op[1].kind != OpKind::Xmm) return nullptr;
  const bool m64 = form_of(d, 0, mode) == Form::M64;
  if (aligned) return m64 ? &h_mov128_store<true, Form::M64> : &h_mov128_store<true, Form::M>;
  return m64 ? &h_mov128_store<false, Form::M64> : &h_mov128_store<false, Form::M>;
}

template <unsigned N, bool HIGH>
Handler store_part(const DecodedInsn& d, CpuMode mode) {
  if (d.op[0].kind != OpKind::Mem || d.op[1].kind != OpKind::Xmm) return nullptr;
  return form_of(d, 0, mode) == Form::M64 ? &h_store_part<N, HIGH, Form::M64> : &h_store_part<N, HIGH, Form::M>;
}

// MOVSS/MOVSD (the SSE forms: one operand is an XMM register).
template <unsigned N>
Handler movs_scalar(const DecodedInsn& d, CpuMode mode) {
  if (d.op[0].kind == OpKind::Xmm && d.op[1].kind == OpKind::Xmm) return &h_move_low_element<N>;
  if (d.op[0].kind == OpKind::Xmm && d.op[1].kind == OpKind::Mem)
    return form_of(d, 1, mode) == Form::M64 ? &h_load_zx<N, Form::M64> : &h_load_zx<N, Form::M>;
  return store_part<N, false>(d, mode);
}

// MOVD/MOVQ: to or from a general-purpose register or memory, or (MOVQ)
// between XMM registers and from/to m64.
Handler movd_movq(const DecodedInsn& d, CpuMode mode, bool q) {
  const Operand &a = d.op[0], &b = d.op[1];
  if (a.kind == OpKind::Xmm && b.kind == OpKind::Xmm) return q ? &h_load_zx<8, Form::R> : nullptr;
  if (a.kind == OpKind::Xmm && b.kind == OpKind::Reg) {
    if (b.size == 8) return &h_movd_to_xmm<uint64_t, Form::R>;
    return b.size == 4 ? &h_movd_to_xmm<uint32_t, Form::R> : nullptr;
  }
  if (a.kind == OpKind::Xmm && b.kind == OpKind::Mem) {
    const bool m64 = form_of(d, 1, mode) == Form::M64;
    if (q) return m64 ? &h_load_zx<8, Form::M64> : &h_load_zx<8, Form::M>;
    return m64 ? &h_load_zx<4, Form::M64> : &h_load_zx<4, Form::M>;
  }
  if (a.kind == OpKind::Reg && b.kind == OpKind::Xmm) {
    if (a.size == 8) return &h_movd_from_xmm<uint64_t, Form::R>;
    return a.size == 4 ? &h_movd_from_xmm<uint32_t, Form::R> : nullptr;
  }
  if (a.kind == OpKind::Mem && b.kind == OpKind::Xmm) return q ? store_part<8, false>(d, mode) : store_part<4, false>(d, mode);
  return nullptr;
}

template <bool HIGH>
Handler load_half(const DecodedInsn& d, CpuMode mode) {
  if (d.op[0].kind == OpKind::Xmm && d.op[1].kind == OpKind::Mem)
    return form_of(d, 1, mode) == Form::M64 ? &h_load_half<HIGH, Form::M64> : &h_load_half<HIGH, Form::M>;
  return store_part<8, HIGH>(d, mode);
}

bool has_xmm_operand(const DecodedInsn& d) {
  for (unsigned k = 0; k < d.nops; ++k)
    if (d.op[k].kind == OpKind::Xmm) return true;
  return false;
}

Handler select_sse_move(unsigned id, DecodedInsn& d, CpuMode mode, CostClass& cost) {
  cost = CostClass::load_store;
  const bool mem0 = d.nops >= 1 && d.op[0].kind == OpKind::Mem;
  switch (id) {
    case X86_INS_MOVAPS: case X86_INS_MOVAPD: case X86_INS_MOVDQA: return mov128(d, mode, true);
    case X86_INS_MOVUPS: case X86_INS_MOVUPD: case X86_INS_MOVDQU: return mov128(d, mode, false);
    case X86_INS_MOVNTPS: case X86_INS_MOVNTPD: case X86_INS_MOVNTDQ: return mem0 ? mov128(d, mode, true) : nullptr;
    case X86_INS_MOVSS: return movs_scalar<4>(d, mode);
    case X86_INS_MOVSD: return has_xmm_operand(d) ? movs_scalar<8>(d, mode) : nullptr;
    case X86_INS_MOVD: return movd_movq(d, mode, false);
    case X86_INS_MOVQ: return movd_movq(d, mode, true);
    case X86_INS_MOVLPS: case X86_INS_MOVLPD: return load_half<false>(d, mode);
    case X86_INS_MOVHPS: case X86_INS_MOVHPD: return load_half<true>(d, mode);
    case X86_INS_MOVHLPS: return d.op[1].kind == OpKind::Xmm ? &h_movhlps : nullptr;
    case X86_INS_MOVLHPS: return d.op[1].kind == OpKind::Xmm ? &h_movlhps : nullptr;
    case X86_INS_MOVMSKPS: return d.op[0].kind == OpKind::Reg && d.op[1].kind == OpKind::Xmm ? &h_movmsk<0> : nullptr;
    case X86_INS_MOVMSKPD: return d.op[0].kind == OpKind::Reg && d.op[1].kind == OpKind::Xmm ? &h_movmsk<1> : nullptr;
    case X86_INS_PMOVMSKB: return d.op[0].kind == OpKind::Reg && d.op[1].kind == OpKind::Xmm ? &h_movmsk<2> : nullptr;
    case X86_INS_PINSRW:
      if (d.op[0].kind != OpKind::Xmm) return nullptr;
      if (d.op[1].kind == OpKind::Reg) return &h_pinsrw<Form::R>;
      return form_of(d, 1, mode) == Form::M64 ? &h_pinsrw<Form::M64> : &h_pinsrw<Form::M>;
    case X86_INS_MASKMOVDQU: {
      if (d.op[0].kind != OpKind::Xmm || d.op[1].kind != OpKind::Xmm) return nullptr;
      // The implicit operand DS:rDI as a memory operand [rDI] (SDM 3.3.7:
      // in 64-bit mode only an FS or GS override has a base).
      d.mem_base = RDI;
      d.mem_index = REG_ZERO;
      d.mem_scale = 0;
      d.disp = 0;
      d.mem_seg_arch = d.mem_seg;
      if (mode == CpuMode::Bits64 && d.mem_seg != arch::seg::FS && d.mem_seg != arch::seg::GS) d.mem_seg = SEG_NONE;
      return mode == CpuMode::Bits64 && d.addrsize == 8 ? &h_maskmovdqu<Form::M64> : &h_maskmovdqu<Form::M>;
    }
    case X86_INS_PEXTRW:
      return d.op[0].kind == OpKind::Reg && d.op[1].kind == OpKind::Xmm ? &h_pextrw : nullptr;
    default: return nullptr;
  }
}

// The instructions with a single memory operand, and MOVNTI.
Handler select_sse_state(unsigned id, const DecodedInsn& d, CpuMode mode, CostClass& cost) {
  const bool mem0 = d.nops == 1 && d.op[0].kind == OpKind::Mem;
  cost = CostClass::load_store;
  switch (id) {
    case X86_INS_LDMXCSR: return mem0 ? MemForm<Ldmxcsr>::pick(d, 0, mode) : nullptr;
    case X86_INS_STMXCSR: return mem0 ? MemForm<Stmxcsr>::pick(d, 0, mode) : nullptr;
    case X86_INS_FXSAVE: cost = CostClass::fxsave; return mem0 ? MemForm<Fxsave32>::pick(d, 0, mode) : nullptr;
    case X86_INS_FXSAVE64: cost = CostClass::fxsave; return mem0 ? MemForm<Fxsave64>::pick(d, 0, mode) : nullptr;
    case X86_INS_FXRSTOR: cost = CostClass::fxsave; return mem0 ? MemForm<Fxrstor32>::pick(d, 0, mode) : nullptr;
    case X86_INS_FXRSTOR64: cost = CostClass::fxsave; return mem0 ? MemForm<Fxrstor64>::pick(d, 0, mode) : nullptr;
    case X86_INS_MOVNTI:
      if (d.nops != 2 || d.op[0].kind != OpKind::Mem || d.op[1].kind != OpKind::Reg || d.op[1].size < 4) return nullptr;
      if (form_of(d, 0, mode) == Form::M64)
        return d.op[1].size == 8 ? &h_movnti<uint64_t, Form::M64> : &h_movnti<uint32_t, Form::M64>;
      return d.op[1].size == 8 ? &h_movnti<uint64_t, Form::M> : &h_movnti<uint32_t, Form::M>;
    default: return nullptr;
  }
}

}  // namespace

bool select_sse(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  CostClass cost = CostClass::load_store;
  Handler h = select_sse_state(id, d, mode, cost);
  if (!h && d.nops >= 2) h = select_sse_move(id, d, mode, cost);
  if (h) {
    set_handler(d, h, costs, cost);
    return true;
  }
  // (CVTSS2SI r32, m32 and the like have no XMM operand.)
  return select_sse_int(id, d, mode, costs) || select_sse_fp(id, d, mode, costs) || select_sse34(id, d, mode, costs);
}

}  // namespace nestbed::sim
