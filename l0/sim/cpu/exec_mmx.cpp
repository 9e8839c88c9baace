// MMX technology (SDM vol. 1, chapter 9; vol. 2, each instruction), and
// the SSE/SSE2 instructions' forms on MMX registers.
//
// MM0-MM7 are the significands of the x87 physical registers R0-R7 (vol.
// 1, 9.2.1): an MMX instruction other than EMMS sets TOP to 0 and every
// tag valid, and a write to MMi sets Ri's sign and exponent to all ones
// (9.5.1, table 9-2); EMMS sets TOP to 0 and empties every tag.
//
// The arithmetic (PADD*, PSUB*, PCMP*, PMUL*, logic, shifts, PUNPCK*,
// PACK*, PAVG*, PMIN/PMAX, PSADBW) runs on the host's own MMX unit the
// way exec_x87.cpp runs x87 instructions: FXRSTOR of the guest's x87
// state, the one instruction from a table of host stubs (one per opcode
// and register pair, and one per destination with a memory source),
// FXSAVE back; so results and the x87 side effects are the hardware's.
// Shifts by an immediate run as the shift by a memory count holding the
// immediate (the same operation, SDM vol. 2 PSLLW/PSRLW/PSRAW). The data
// movement (MOVD, MOVQ, MOVNTQ, MASKMOVQ, PSHUFW, PINSRW, PEXTRW,
// PMOVMSKB, MOVQ2DQ, MOVDQ2Q) and EMMS are done here in software.
//
// CVTPI2PS, CVTPI2PD, CVT(T)PS2PI and CVT(T)PD2PI also run on the host,
// under the guest's MXCSR; the SSSE3 forms on MMX registers (0F 38 map)
// run on the host too, PALIGNR in software. Every instruction with an MMX
// register operand is implemented.
#include <capstone/capstone.h>

#include <cstring>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "arch/x86/x87.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"
#include "l0/sim/cpu/exec_x87.h"

// The 0F-map opcodes run on the host, "mm, mm/m64" forms.
#define NB_MMX_HOST_OPS                                                                                             \
  0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, \
      0xd5, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8, 0xe9, 0xea,  \
      0xeb, 0xec, 0xed, 0xee, 0xef, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe
// The 0F 38-map opcodes run on the host (SSSE3: PSHUFB PHADDW PHADDD
// PHADDSW PMADDUBSW PHSUBW PHSUBD PHSUBSW PSIGNB/W/D PMULHRSW PABSB/W/D).
#define NB_MMX_HOST_OPS_0F38 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e
#define NB_MMX_STR_(...) #__VA_ARGS__
#define NB_MMX_STR(...) NB_MMX_STR_(__VA_ARGS__)

// The host stubs (exec_x87.h, X87Stub): for each opcode above, 0F-map then
// 0F 38-map, 72 entries of 32 bytes: entry m < 64 is ModR/M 0xc0 | m
// (MM(m >> 3), MM(m & 7)), entry 64 + r is MM(r) with the memory operand
// [rdi].
asm(".text\n.p2align 5\n.globl nb_mmx_stubs\n.hidden nb_mmx_stubs\n.type nb_mmx_stubs, @function\n"
    "nb_mmx_stubs:\n.irp nb_op, " NB_MMX_STR(NB_MMX_HOST_OPS) R"(
    .set nb_mmx_m, 0
    .rept 72
    .p2align 5
    fxsave64 (%rdx)
    fxrstor64 (%rsi)
    .byte 0x0f, \nb_op, ((nb_mmx_m < 64) & (0xc0 | nb_mmx_m)) | (~(nb_mmx_m < 64) & ((((nb_mmx_m - 64) & 7) << 3) | 7))
    fxsave64 (%rsi)
    fxrstor64 (%rdx)
    ret
    .set nb_mmx_m, nb_mmx_m + 1
    .endr
    .endr
)"
    ".irp nb_op, " NB_MMX_STR(NB_MMX_HOST_OPS_0F38) R"(
    .set nb_mmx_m, 0
    .rept 72
    .p2align 5
    fxsave64 (%rdx)
    fxrstor64 (%rsi)
    .byte 0x0f, 0x38, \nb_op, ((nb_mmx_m < 64) & (0xc0 | nb_mmx_m)) | (~(nb_mmx_m < 64) & ((((nb_mmx_m - 64) & 7) << 3) | 7))
    fxsave64 (%rsi)
    fxrstor64 (%rdx)
    ret
    .set nb_mmx_m, nb_mmx_m + 1
    .endr
    .endr
    .size nb_mmx_stubs, .-nb_mmx_stubs
)");

// The conversions between MMX and XMM registers, 6 forms x 16 entries: 0F 2A
// CVTPI2PS, 66 0F 2A CVTPI2PD (entry k < 8: xmm0, mm(k); 8: xmm0, [rdi]),
// 0F 2D CVTPS2PI, 0F 2C CVTTPS2PI, 66 0F 2D CVTPD2PI, 66 0F 2C CVTTPD2PI
// (entry k < 8: mm(k), xmm0; 8 + r: mm(r), [rdi]). The guest's XMM
// operand travels in the image's XMM0.
asm(R"(
    .text
    .p2align 5
    .globl nb_mmx_cvt_stubs
    .hidden nb_mmx_cvt_stubs
    .type nb_mmx_cvt_stubs, @function
nb_mmx_cvt_stubs:
    .irp nb_form, 0, 1, 2, 3, 4, 5
    .set nb_k, 0
    .rept 16
    .p2align 5
    fxsave64 (%rdx)
    fxrstor64 (%rsi)
    .if (\nb_form == 1) | (\nb_form >= 4)
    .byte 0x66
    .endif
    .if \nb_form <= 1
    .byte 0x0f, 0x2a, ((nb_k < 8) & (0xc0 | nb_k)) | (~(nb_k < 8) & 0x07)
    .else
    .if (\nb_form == 2) | (\nb_form == 4)
    .set nb_cvt_op, 0x2d
    .else
    .set nb_cvt_op, 0x2c
    .endif
    .byte 0x0f, nb_cvt_op, ((nb_k < 8) & (0xc0 | (nb_k << 3))) | (~(nb_k < 8) & ((((nb_k - 8) & 7) << 3) | 7))
    .endif
    fxsave64 (%rsi)
    fxrstor64 (%rdx)
    ret
    .set nb_k, nb_k + 1
    .endr
    .endr
    .size nb_mmx_cvt_stubs, .-nb_mmx_cvt_stubs
)");

extern "C" char nb_mmx_stubs[];
extern "C" char nb_mmx_cvt_stubs[];

namespace nestbed::sim {

namespace {

namespace x87 = arch::x87;

constexpr uint8_t kHostOps[] = {NB_MMX_HOST_OPS};
constexpr uint8_t kHostOps0F38[] = {NB_MMX_HOST_OPS_0F38};
constexpr unsigned kStubsPerOp = 72, kStubBytes = 32;

int host_op_index(uint8_t opcode) {
  for (unsigned k = 0; k < sizeof kHostOps; ++k)
    if (kHostOps[k] == opcode) return int(k);
  return -1;
}

// The 0F 38 opcode of an SSSE3 instruction on MMX registers (Capstone
// gives the map's third byte only through the id), its stub row after the
// 0F-map rows, or -1.
int host_op_index_0f38(unsigned id) {
  int op;
  switch (id) {
    case X86_INS_PSHUFB: op = 0x00; break;
    case X86_INS_PHADDW: op = 0x01; break;
    case X86_INS_PHADDD: op = 0x02; break;
    case X86_INS_PHADDSW: op = 0x03; break;
    case X86_INS_PMADDUBSW: op = 0x04; break;
    case X86_INS_PHSUBW: op = 0x05; break;
    case X86_INS_PHSUBD: op = 0x06; break;
    case X86_INS_PHSUBSW: op = 0x07; break;
    case X86_INS_PSIGNB: op = 0x08; break;
    case X86_INS_PSIGNW: op = 0x09; break;
    case X86_INS_PSIGND: op = 0x0a; break;
    case X86_INS_PMULHRSW: op = 0x0b; break;
    case X86_INS_PABSB: op = 0x1c; break;
    case X86_INS_PABSW: op = 0x1d; break;
    case X86_INS_PABSD: op = 0x1e; break;
    default: return -1;
  }
  for (unsigned k = 0; k < sizeof kHostOps0F38; ++k)
    if (kHostOps0F38[k] == op) return int(sizeof kHostOps + k);
  return -1;
}

// MMX instructions: #UD with CR0.EM, #NM with CR0.TS, then #MF for a
// pending x87 exception (SDM vol. 3, table 2-2; vol. 2, each MMX
// instruction's protected-mode exceptions).
void check_mmx(Cpu& c, const DecodedInsn& i) {
  const uint64_t cr0 = c.state().cr0;
  if (cr0 & arch::cr0::EM) raise_ud();
  if (cr0 & arch::cr0::TS) raise_fault(uint8_t(arch::Vector::NM));
  x87_pending_check(c, i);
}

unsigned top_of(const X87State& x) { return (x.fsw & x87::FSW_TOP) >> x87::FSW_TOP_SHIFT; }

// MMr is physical register Rr: ST((r - TOP) mod 8).
uint64_t get_mm(const X87State& x, unsigned r) {
  uint64_t v;
  std::memcpy(&v, x.st[(r - top_of(x)) & 7], 8);
  return v;
}
// The transition every MMX instruction but EMMS makes (vol. 1, table 9-2).
void mmx_enter(X87State& x) {
  x87_set_top(x, 0);
  x.ftw = x87::FTW_ABRIDGED_ALL_VALID;
}
// After mmx_enter: MMr = v, Rr's sign and exponent all ones.
void set_mm(X87State& x, unsigned r, uint64_t v) {
  std::memcpy(x.st[r], &v, 8);
  const uint16_t se = x87::MMX_SIGN_EXPONENT;
  std::memcpy(x.st[r] + 8, &se, 2);
}
void write_mm(Cpu& c, unsigned r, uint64_t v) {
  X87State& x = c.state().x87;
  mmx_enter(x);
  set_mm(x, r, v);
}

bool is_mm(const Operand& o) { return o.kind == OpKind::Mmx; }
bool is_mem(const Operand& o) { return o.kind == OpKind::Mem; }

// ------------------------------------------------------------ host ops

// mm, mm/m64 (F: R, M or M64), stub i.imm2.
template <Form F>
void h_host(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  alignas(16) uint8_t buf[16] = {};
  if constexpr (F != Form::R) {
    const uint64_t v = c.read<uint64_t>(form_linear<F>(c, i, 8, Access::Read));
    std::memcpy(buf, &v, 8);
  }
  x87_run_stub(c, nb_mmx_stubs + kStubBytes * i.imm2, buf);
}
// PSRLW/PSRAW/PSLLW/D/Q mm, imm8: the shift by a 64-bit count in memory.
void h_shift_imm(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  alignas(16) uint64_t count[2] = {i.imm & 0xff, 0};
  x87_run_stub(c, nb_mmx_stubs + kStubBytes * i.imm2, count);
}

// ------------------------------------------------------------ moves

// MOVD/MOVQ mm, r/m32 or r/m64: zero-extended.
template <typename T, Form S>
void h_movd_to_mm(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  write_mm(c, i.op[0].reg, uint64_t(read_form<T, S>(c, i, 1)));
}
// MOVD/MOVQ r/m32 or r/m64, mm; MOVQ m64, mm; MOVNTQ m64, mm.
template <typename T, Form D>
void h_movd_from_mm(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  const T v = T(get_mm(c.state().x87, i.op[1].reg));
  if constexpr (D == Form::R)
    set_reg<T>(c, i.op[0], v);
  else
    c.write<T>(form_linear<D>(c, i, sizeof(T), Access::Write), v);
  mmx_enter(c.state().x87);
}
// MOVQ mm, mm (0F 6F or 0F 7F).
void h_movq_mm(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  write_mm(c, i.op[0].reg, get_mm(c.state().x87, i.op[1].reg));
}

void h_emms(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  x87_set_top(c.state().x87, 0);  // TOP = 0 too (vol. 1, table 9-2)
  c.state().x87.ftw = 0;
}

// PSHUFW mm1, mm2/m64, imm8: word k of the result is source word imm8[2k+1:2k].
template <Form S>
void h_pshufw(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  uint64_t s;
  if constexpr (S == Form::R)
    s = get_mm(c.state().x87, i.op[1].reg);
  else
    s = c.read<uint64_t>(form_linear<S>(c, i, 8, Access::Read));
  uint64_t r = 0;
  for (unsigned k = 0; k < 4; ++k) r |= ((s >> (16 * ((i.imm >> (2 * k)) & 3))) & 0xffff) << (16 * k);
  write_mm(c, i.op[0].reg, r);
}
// PALIGNR mm1, mm2/m64, imm8 (SSSE3): bytes imm8.. of mm1:mm2 (mm1 the
// high half), zeros past the end.
template <Form S>
void h_palignr(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  uint64_t lo;
  if constexpr (S == Form::R)
    lo = get_mm(c.state().x87, i.op[1].reg);
  else
    lo = c.read<uint64_t>(form_linear<S>(c, i, 8, Access::Read));
  const unsigned __int128 both = (unsigned __int128)get_mm(c.state().x87, i.op[0].reg) << 64 | lo;
  const unsigned shift = unsigned(i.imm & 0xff);
  write_mm(c, i.op[0].reg, shift >= 16 ? 0 : uint64_t(both >> (8 * shift)));
}

// PINSRW mm, r32/m16, imm8 (imm8 bits 1:0 select the word).
template <Form S>
void h_pinsrw(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  const uint64_t w = read_form<uint16_t, S>(c, i, 1);
  const unsigned sh = 16 * (i.imm & 3);
  const uint64_t d = get_mm(c.state().x87, i.op[0].reg);
  write_mm(c, i.op[0].reg, (d & ~(0xffffull << sh)) | (w << sh));
}
// PEXTRW r32/r64, mm, imm8: the word, zero-extended.
void h_pextrw(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  c.reg(i.op[0].reg) = (get_mm(c.state().x87, i.op[1].reg) >> (16 * (i.imm & 3))) & 0xffff;
  mmx_enter(c.state().x87);
}
// PMOVMSKB r32/r64, mm: the bytes' sign bits, zero-extended.
void h_pmovmskb(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  const uint64_t s = get_mm(c.state().x87, i.op[1].reg);
  uint64_t m = 0;
  for (unsigned k = 0; k < 8; ++k) m |= ((s >> (8 * k + 7)) & 1) << k;
  c.reg(i.op[0].reg) = m;
  mmx_enter(c.state().x87);
}
// MASKMOVQ mm1, mm2: the bytes of mm1 whose mask byte in mm2 has its top
// bit set go to DS:rDI; both pages are checked for writing first (as
// MASKMOVDQU, exec_sse.cpp).
template <Form F>
void h_maskmovq(Cpu& c, const DecodedInsn& i) {
  check_mmx(c, i);
  const uint64_t la = form_linear<F>(c, i, 8, Access::Write);
  check_writable(c, la, 8);
  const X87State& x = c.state().x87;
  const uint64_t src = get_mm(x, i.op[0].reg), mask = get_mm(x, i.op[1].reg);
  for (unsigned k = 0; k < 8; ++k)
    if ((mask >> (8 * k + 7)) & 1) c.write<uint8_t>(la + k, uint8_t(src >> (8 * k)));
  mmx_enter(c.state().x87);
}

// MOVQ2DQ xmm, mm and MOVDQ2Q mm, xmm (SSE2): also #UD with CR4.OSFXSR = 0
// (vol. 2, MOVQ2DQ).
void check_sse2_mmx(Cpu& c, const DecodedInsn& i) {
  if (!(c.state().cr4 & arch::cr4::OSFXSR)) raise_ud();
  check_mmx(c, i);
}
void h_movq2dq(Cpu& c, const DecodedInsn& i) {
  check_sse2_mmx(c, i);
  set_xmm(c, i.op[0].reg, make128(get_mm(c.state().x87, i.op[1].reg), 0));
  mmx_enter(c.state().x87);
}
void h_movdq2q(Cpu& c, const DecodedInsn& i) {
  check_sse2_mmx(c, i);
  write_mm(c, i.op[0].reg, low64(get_xmm(c, i.op[1].reg)));
}

// ------------------------------------------------------------ conversions

// CVTPI2PS/CVTPI2PD xmm, mm/m64 (FORM 0, 1) and CVT(T)PS2PI mm, xmm/m64,
// CVT(T)PD2PI mm, xmm/m128 (FORM 2-5): SSE/SSE2 instructions (#UD/#NM as
// check_sse, SDM vol. 2 CVTPI2PS), also #MF for a pending x87 exception
// when an MMX register is involved, which then makes the x87-to-MMX
// transition (a memory source does not: vol. 2, CVTPI2PS). Run on the
// host under the guest's MXCSR like exec_sse.h's simd_fp: an unmasked
// exception traps there, leaves the destination unchanged and raises #XM
// (or #UD).
struct CvtRun {
  X87Stub stub;
  void* operand;
  uint8_t* guest;
  uint8_t* host;
};
void run_cvt(void* p, uint32_t& mx) {
  CvtRun& r = *static_cast<CvtRun*>(p);
  std::memcpy(r.guest + arch::fxsave::MXCSR, &mx, 4);
  r.stub(r.operand, r.guest, r.host, fl::FIXED1);
  std::memcpy(&mx, r.guest + arch::fxsave::MXCSR, 4);
}

template <unsigned FORM, Form S>
void h_cvt(Cpu& c, const DecodedInsn& i) {
  namespace fx = arch::fxsave;
  constexpr bool to_xmm = FORM <= 1;
  constexpr unsigned n = FORM >= 4 ? 16 : 8;
  constexpr bool mm_involved = !to_xmm || S == Form::R;
  check_sse(c);
  if (mm_involved) x87_pending_check(c, i);
  alignas(16) uint8_t buf[16] = {};
  if constexpr (S != Form::R) {
    const uint64_t la = sse_linear<n, n == 16, S>(c, i, Access::Read);
    const uint64_t lo = c.read<uint64_t>(la);
    std::memcpy(buf, &lo, 8);
    if constexpr (n == 16) {
      const uint64_t hi = c.read<uint64_t>(la + 8);
      std::memcpy(buf + 8, &hi, 8);
    }
  }
  CpuState& st = c.state();
  alignas(16) uint8_t guest[fx::SIZE] = {}, host[fx::SIZE];
  if constexpr (mm_involved) {
    X87State x = st.x87;
    x.fsw &= uint16_t(~x87_held_error(x));  // IGNNE#: the host must not see the pending error
    x87_to_fxsave(x, guest, true);
  } else {
    // A memory source leaves the x87 alone: the host runs on an initialized
    // x87 state, so a pending exception of the guest's cannot reach it.
    X87State init;
    x87_to_fxsave(init, guest, true);
  }
  const unsigned xr = to_xmm ? i.op[0].reg : (S == Form::R ? i.op[1].reg : 0);
  std::memcpy(guest + fx::XMM0, st.xmm[xr].q, 16);
  const unsigned k = to_xmm ? (S == Form::R ? i.op[1].reg : 8u) : (S == Form::R ? 0u : 8u) + i.op[0].reg;
  CvtRun r{reinterpret_cast<X87Stub>(nb_mmx_cvt_stubs + kStubBytes * (FORM * 16 + k)), buf, guest, host};
  uint32_t mx = st.mxcsr;
  if ((mx & arch::mxcsr::MASKS) == arch::mxcsr::MASKS) {
    run_cvt(&r, mx);
  } else if (run_trapping(&run_cvt, &r, mx)) {
    // The host trapped between the stub's FXRSTOR of the guest image and
    // its restore of the host's state: restore that here.
    asm volatile("fxrstor64 %0" : : "m"(*reinterpret_cast<const uint8_t(*)[fx::SIZE]>(host)));
    st.mxcsr = mx;
    raise_simd_exception(c);
  }
  st.mxcsr = mx;
  if constexpr (to_xmm) std::memcpy(st.xmm[xr].q, guest + fx::XMM0, 16);
  if constexpr (mm_involved) {
    const uint16_t held = x87_held_error(st.x87);
    x87_registers_from_fxsave(st.x87, guest);
    st.x87.fsw |= held;
  }
}

template <unsigned FORM>
Handler cvt_handler(const DecodedInsn& d, CpuMode mode) {
  const Operand &a = d.op[0], &b = d.op[1];
  if (d.nops != 2) return nullptr;
  if (FORM <= 1 ? a.kind != OpKind::Xmm || (!is_mm(b) && !is_mem(b)) : !is_mm(a) || (b.kind != OpKind::Xmm && !is_mem(b)))
    return nullptr;
  if (!is_mem(b)) return &h_cvt<FORM, Form::R>;
  return form_of(d, 1, mode) == Form::M64 ? &h_cvt<FORM, Form::M64> : &h_cvt<FORM, Form::M>;
}

Handler select_cvt(unsigned id, const DecodedInsn& d, CpuMode mode) {
  switch (id) {
    case X86_INS_CVTPI2PS: return cvt_handler<0>(d, mode);
    case X86_INS_CVTPI2PD: return cvt_handler<1>(d, mode);
    case X86_INS_CVTPS2PI: return cvt_handler<2>(d, mode);
    case X86_INS_CVTTPS2PI: return cvt_handler<3>(d, mode);
    case X86_INS_CVTPD2PI: return cvt_handler<4>(d, mode);
    case X86_INS_CVTTPD2PI: return cvt_handler<5>(d, mode);
    default: return nullptr;
  }
}

// ---------------------------------------------------------------- select


template <template <Form> class H>
Handler by_src(const DecodedInsn& d, unsigned n, CpuMode mode) {
  if (d.op[n].kind == OpKind::Mmx || d.op[n].kind == OpKind::Reg) return &H<Form::R>::fn;
  if (d.op[n].kind != OpKind::Mem) return nullptr;
  return form_of(d, n, mode) == Form::M64 ? &H<Form::M64>::fn : &H<Form::M>::fn;
}
#define NB_MMX_WRAPPER(name, ...)                                       \
  template <Form F>                                                     \
  struct name {                                                         \
    static void fn(Cpu& c, const DecodedInsn& i) { __VA_ARGS__(c, i); } \
  };
NB_MMX_WRAPPER(Host, h_host<F>)
NB_MMX_WRAPPER(Pshufw, h_pshufw<F>)
NB_MMX_WRAPPER(Pinsrw, h_pinsrw<F>)
NB_MMX_WRAPPER(Palignr, h_palignr<F>)
NB_MMX_WRAPPER(Maskmovq, h_maskmovq<F>)
NB_MMX_WRAPPER(MovdTo32, (h_movd_to_mm<uint32_t, F>))
NB_MMX_WRAPPER(MovdTo64, (h_movd_to_mm<uint64_t, F>))
NB_MMX_WRAPPER(MovdFrom32, (h_movd_from_mm<uint32_t, F>))
NB_MMX_WRAPPER(MovdFrom64, (h_movd_from_mm<uint64_t, F>))
#undef NB_MMX_WRAPPER

// The shifts by an immediate (0F 71/72/73 /2 /4 /6): the opcode of the
// same shift by an mm/m64 count.
int shift_by_count_opcode(uint8_t opcode, unsigned ext) {
  static constexpr uint8_t t[3][8] = {{0, 0, 0xd1, 0, 0xe1, 0, 0xf1, 0},   // 71: W
                                      {0, 0, 0xd2, 0, 0xe2, 0, 0xf2, 0},   // 72: D
                                      {0, 0, 0xd3, 0, 0, 0, 0xf3, 0}};     // 73: Q (/3, /7 are SSE2-only)
  if (opcode < 0x71 || opcode > 0x73) return -1;
  const uint8_t r = t[opcode - 0x71][ext & 7];
  return r ? r : -1;
}

// The MOVD/MOVQ forms (0F 6E, 0F 7E, 0F 6F, 0F 7F, MOVNTQ).
Handler select_move(const DecodedInsn& d, CpuMode mode) {
  const Operand &a = d.op[0], &b = d.op[1];
  if (is_mm(a)) {
    if (is_mm(b)) return &h_movq_mm;
    // MOVD mm, r/m32; MOVQ mm, r/m64 (REX.W 0F 6E) and MOVQ mm, m64 (0F 6F): zero-extended loads.
    if ((b.kind != OpKind::Reg && !is_mem(b)) || (b.size != 4 && b.size != 8)) return nullptr;
    return b.size == 8 ? by_src<MovdTo64>(d, 1, mode) : by_src<MovdTo32>(d, 1, mode);
  }
  if (!is_mm(b)) return nullptr;
  if (a.kind == OpKind::Reg) {
    if (a.size == 8) return &h_movd_from_mm<uint64_t, Form::R>;
    return a.size == 4 ? &h_movd_from_mm<uint32_t, Form::R> : nullptr;
  }
  if (!is_mem(a)) return nullptr;
  const bool m64 = form_of(d, 0, mode) == Form::M64;
  if (a.size == 8) return m64 ? &h_movd_from_mm<uint64_t, Form::M64> : &h_movd_from_mm<uint64_t, Form::M>;
  return m64 ? &h_movd_from_mm<uint32_t, Form::M64> : &h_movd_from_mm<uint32_t, Form::M>;
}

Handler select_mmx_handler(unsigned id, uint8_t opcode, uint8_t modrm, DecodedInsn& d, CpuMode mode) {
  const Operand &a = d.op[0], &b = d.op[1];
  switch (id) {
    case X86_INS_MOVD: case X86_INS_MOVQ: case X86_INS_MOVNTQ:
      return d.nops == 2 ? select_move(d, mode) : nullptr;
    case X86_INS_PSHUFW: return d.nops == 3 && is_mm(a) ? by_src<Pshufw>(d, 1, mode) : nullptr;
    case X86_INS_PINSRW:
      if (d.nops != 3 || !is_mm(a)) return nullptr;
      return by_src<Pinsrw>(d, 1, mode);
    case X86_INS_PEXTRW: return d.nops == 3 && a.kind == OpKind::Reg && is_mm(b) ? &h_pextrw : nullptr;
    case X86_INS_PALIGNR: return d.nops == 3 && is_mm(a) ? by_src<Palignr>(d, 1, mode) : nullptr;
    case X86_INS_PMOVMSKB: return d.nops == 2 && a.kind == OpKind::Reg && is_mm(b) ? &h_pmovmskb : nullptr;
    case X86_INS_MOVQ2DQ: return a.kind == OpKind::Xmm && is_mm(b) ? &h_movq2dq : nullptr;
    case X86_INS_MOVDQ2Q: return is_mm(a) && b.kind == OpKind::Xmm ? &h_movdq2q : nullptr;
    case X86_INS_MASKMOVQ: {
      if (!is_mm(a) || !is_mm(b)) return nullptr;
      // The implicit DS:rDI as a memory operand [rDI], as MASKMOVDQU.
      d.mem_base = RDI;
      d.mem_index = REG_ZERO;
      d.mem_scale = 0;
      d.disp = 0;
      d.mem_seg_arch = d.mem_seg;
      if (mode == CpuMode::Bits64 && d.mem_seg != arch::seg::FS && d.mem_seg != arch::seg::GS) d.mem_seg = SEG_NONE;
      return mode == CpuMode::Bits64 && d.addrsize == 8 ? &Maskmovq<Form::M64>::fn : &Maskmovq<Form::M>::fn;
    }
    default: break;
  }
  if (d.nops != 2 || !is_mm(a)) return nullptr;
  if (b.kind == OpKind::Imm) {
    const int op = shift_by_count_opcode(opcode, (modrm >> 3) & 7);
    if (op < 0) return nullptr;
    d.imm2 = uint64_t(host_op_index(uint8_t(op))) * kStubsPerOp + 64 + (modrm & 7);
    return &h_shift_imm;
  }
  const int k = opcode == 0x38 ? host_op_index_0f38(id) : host_op_index(opcode);
  if (k < 0 || (!is_mm(b) && !is_mem(b))) return nullptr;
  d.imm2 = uint64_t(k) * kStubsPerOp + (is_mm(b) ? (modrm & 0x3f) : 64u + ((modrm >> 3) & 7));
  return by_src<Host>(d, 1, mode);
}

CostClass mmx_cost(unsigned id, const DecodedInsn& d) {
  switch (id) {
    case X86_INS_PMULLW: case X86_INS_PMULHW: case X86_INS_PMULHUW: case X86_INS_PMULUDQ: case X86_INS_PMADDWD:
      return CostClass::multiply;
    default: break;
  }
  for (unsigned k = 0; k < d.nops; ++k)
    if (d.op[k].kind == OpKind::Mem) return CostClass::load_store;
  return CostClass::simple;
}

}  // namespace

bool select_mmx(unsigned id, uint8_t opcode, uint8_t modrm, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  if (id == X86_INS_EMMS) {
    set_handler(d, &h_emms, costs, CostClass::simple);
    return true;
  }
  if (Handler h = select_cvt(id, d, mode)) {  // CVTPI2PS xmm, m64 has no MMX operand
    set_handler(d, h, costs, mmx_cost(id, d));
    return true;
  }
  bool mm = false;
  for (unsigned k = 0; k < d.nops; ++k) mm |= d.op[k].kind == OpKind::Mmx;
  if (!mm) return false;
  if (Handler h = select_mmx_handler(id, opcode, modrm, d, mode)) {
    set_handler(d, h, costs, mmx_cost(id, d));
    return true;
  }
  // Anything else on MMX registers stays unimplemented (#UD), as before
  // the decoder knew these registers.
  set_handler(d, &h_unimplemented, costs, CostClass::simple, true);
  return true;
}

}  // namespace nestbed::sim
