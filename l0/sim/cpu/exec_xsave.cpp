// The XSAVE feature set for x87 and SSE state (SDM vol. 1, chapter 13;
// vol. 2, each instruction): XGETBV, XSETBV, and the standard forms of
// XSAVE, XSAVEOPT and XRSTOR (with REX.W, the 64-bit FPU IP/DP layout of
// the legacy region). XSAVEC and XSAVES are not reported (CPUID.(EAX=0DH,
// ECX=1):EAX) and stay #UD, so the area always has the standard form.
//
// XINUSE (SDM vol. 1, 13.6): the sim tracks no usage; XINUSE[i] is 1 exactly
// when state component i is not in its initial configuration, which the
// SDM allows (XINUSE[i] = 0 must imply the initial configuration, not the
// converse). So XSAVE writes XSTATE_BV[i] = 0 for an x87 or SSE state in its
// initial configuration, and XSAVEOPT uses the init optimization on it (does
// not write it). Real processors track XINUSE by use and may write 1 there
// for a state that merely holds initial values. XSAVEOPT's modified
// optimization is not used: XSAVEOPT writes every in-use component, as the
// SDM allows.
#include <capstone/capstone.h>

#include <cstring>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/xsave.h"
#include "arch/vmx/exit_reasons.h"
#include "l0/sim/cpu/cpuid.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"
#include "l0/sim/cpu/exec_x87.h"

namespace nestbed::sim {

namespace {

namespace fx = arch::fxsave;
namespace xs = arch::xsave;
namespace xcr0 = arch::xcr0;

// Every instruction of the feature set: #UD while CR4.OSXSAVE = 0.
void require_osxsave(Cpu& c) {
  if (!(c.state().cr4 & arch::cr4::OSXSAVE)) raise_ud();
}

uint64_t edx_eax(Cpu& c) { return (uint64_t(uint32_t(c.reg(RDX))) << 32) | uint32_t(c.reg(RAX)); }

// -------------------------------------------------------------- XGETBV/XSETBV

// XGETBV: ECX = 0 reads XCR0; ECX = 1 (XINUSE) only where CPUID.(EAX=0DH,
// ECX=1):EAX[2] is 1, which this CPU does not report: #GP(0), as for every
// other ECX (SDM vol. 2, XGETBV). Any CPL; never a VM exit.
void h_xgetbv(Cpu& c, const DecodedInsn&) {
  require_osxsave(c);
  if (uint32_t(c.reg(RCX)) != xcr0::INDEX) raise_gp(0);
  const uint64_t v = c.state().xcr0;
  c.reg(RAX) = uint32_t(v);
  c.reg(RDX) = v >> 32;
}

// XSETBV: #UD with CR4.OSXSAVE = 0 and #GP(0) at CPL > 0 come before the VM
// exit, which is unconditional in VMX non-root operation (SDM 25.1.1,
// 25.1.2); the checks of ECX and the value are the VMM's then.
void h_xsetbv(Cpu& c, const DecodedInsn& i) {
  require_osxsave(c);
  if (c.state().cpl != 0) raise_gp(0);
  if (c.non_root()) c.vm_exit_insn(i, uint32_t(arch::vmx::ExitReason::XSETBV));
  const uint64_t v = edx_eax(c);
  if (uint32_t(c.reg(RCX)) != xcr0::INDEX || !xcr0::valid(v, kXcr0Supported)) raise_gp(0);
  c.state().xcr0 = v;
}

// ------------------------------------------------------------ the XSAVE area

// The initial configurations (SDM vol. 1, 13.6): x87 with FCW 037FH, FSW 0,
// all registers empty, pointers and opcode 0, ST0-ST7 0 (X87State's
// defaults); SSE with every XMM register 0 (MXCSR is not part of it).
bool x87_in_init(const X87State& x) {
  const X87State init{};
  return x.fcw == init.fcw && x.fsw == init.fsw && x.ftw == init.ftw && x.fop == init.fop && x.fip == 0 &&
         x.fdp == 0 && x.fcs == 0 && x.fds == 0 && std::memcmp(x.st, init.st, sizeof x.st) == 0;
}
bool sse_in_init(const CpuState& s) {
  for (const Xmm& r : s.xmm)
    if (r.q[0] | r.q[1]) return false;
  return true;
}
uint64_t xinuse(const CpuState& s) {
  return (x87_in_init(s.x87) ? 0 : xcr0::X87) | (sse_in_init(s) ? 0 : xcr0::SSE);
}

// #UD (CR4.OSXSAVE), then #NM (CR0.TS; CR0.EM does not matter), then the
// area's address: 64-byte aligned or #GP(0), also with alignment checking
// on (SDM vol. 2, XSAVE and XRSTOR: where #AC is not signalled, #GP is;
// this CPU never signals #AC for the area).
template <Form F>
uint64_t xsave_area(Cpu& c, const DecodedInsn& i, Access a) {
  require_osxsave(c);
  if (c.state().cr0 & arch::cr0::TS) raise_fault(uint8_t(arch::Vector::NM));
  const uint64_t la = form_linear<F>(c, i, xs::SIZE_X87_SSE, a);
  if (la & (xs::ALIGN - 1)) raise_gp(0);
  return la;
}

void write_bytes(Cpu& c, uint64_t la, const uint8_t* img, unsigned from, unsigned to) {
  for (unsigned off = from; off < to; off += 8) {
    uint64_t v;
    std::memcpy(&v, img + off, 8);
    c.write<uint64_t>(la + off, v);
  }
}

// XSAVE and XSAVEOPT (SDM vol. 1, 13.7 and 13.9): the components in RFBM
// (XSAVEOPT: those also in XINUSE) into the legacy region, MXCSR and
// MXCSR_MASK when RFBM[1] or RFBM[2] is set, and XSTATE_BV's RFBM bits
// from XINUSE; the rest of the area, XCOMP_BV included, is not written.
// Every page of the area is checked for writing first, so a page fault
// leaves memory unchanged.
template <Form F, bool REX_W, bool OPT>
void h_xsave(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = xsave_area<F>(c, i, Access::Write);
  check_writable(c, la, xs::SIZE_X87_SSE);
  const CpuState& s = c.state();
  const uint64_t rfbm = edx_eax(c) & s.xcr0;
  const uint64_t in_use = xinuse(s);
  const uint64_t save = OPT ? rfbm & in_use : rfbm;
  uint8_t img[fx::SIZE];
  fxsave_image(c, img, REX_W);
  if (save & xcr0::X87) {
    write_bytes(c, la, img, fx::FCW, fx::MXCSR);
    write_bytes(c, la, img, fx::ST0, fx::XMM0);
  }
  if (rfbm & (xcr0::SSE | xcr0::AVX)) write_bytes(c, la, img, fx::MXCSR, fx::ST0);
  if (save & xcr0::SSE) write_bytes(c, la, img, fx::XMM0, fx::XMM0 + fx::SLOT * xmm_count(c));
  const uint64_t bv = c.read<uint64_t>(la + xs::XSTATE_BV);
  c.write<uint64_t>(la + xs::XSTATE_BV, (bv & ~rfbm) | (in_use & rfbm));
}

// XRSTOR, standard form (SDM vol. 1, 13.8.1; vol. 2, XRSTOR). All checks
// come before any state changes: #GP(0) for XCOMP_BV bit 63 (XSAVEC is not
// supported), for header bytes 23:8 not 0 (XCOMP_BV and the following
// quadword), for an XSTATE_BV bit outside XCR0, and for MXCSR reserved bits
// when MXCSR is to be loaded (RFBM[1] or RFBM[2]). Then each component in
// RFBM is loaded when its XSTATE_BV bit is 1 and set to its initial
// configuration when it is 0; MXCSR is loaded whatever XSTATE_BV[1] says.
template <Form F, bool REX_W>
void h_xrstor(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = xsave_area<F>(c, i, Access::Read);
  CpuState& s = c.state();
  const uint64_t rfbm = edx_eax(c) & s.xcr0;
  const unsigned n = xmm_count(c);
  uint8_t img[fx::SIZE];
  for (unsigned off = 0; off < fx::XMM0 + n * fx::SLOT; off += 8) {
    const uint64_t v = c.read<uint64_t>(la + off);
    std::memcpy(img + off, &v, 8);
  }
  const uint64_t xstate_bv = c.read<uint64_t>(la + xs::XSTATE_BV);
  const uint64_t xcomp_bv = c.read<uint64_t>(la + xs::XCOMP_BV);
  const uint64_t reserved = c.read<uint64_t>(la + xs::XCOMP_BV + 8);
  if (xcomp_bv != 0 || reserved != 0) raise_gp(0);  // bit 63 included: no compacted form
  if (xstate_bv & ~s.xcr0) raise_gp(0);
  const bool load_mxcsr = rfbm & (xcr0::SSE | xcr0::AVX);
  uint32_t mxcsr;
  std::memcpy(&mxcsr, img + fx::MXCSR, 4);
  if (load_mxcsr && (mxcsr & ~arch::mxcsr::SUPPORTED)) raise_gp(0);

  if (rfbm & xcr0::X87) {
    if (xstate_bv & xcr0::X87) {
      x87_from_fxsave(s.x87, img, REX_W);
      x87_loaded(s.x87);
    } else {
      s.x87 = X87State{};
    }
  }
  if (load_mxcsr) s.mxcsr = mxcsr;
  if (rfbm & xcr0::SSE) {
    for (unsigned k = 0; k < n; ++k) {
      if (xstate_bv & xcr0::SSE)
        std::memcpy(s.xmm[k].q, img + fx::XMM0 + fx::SLOT * k, 16);
      else
        s.xmm[k] = Xmm{};
    }
  }
}

// -------------------------------------------------------------------- select

template <template <Form> class H>
Handler by_form(const DecodedInsn& d, CpuMode mode) {
  return form_of(d, 0, mode) == Form::M64 ? &H<Form::M64>::fn : &H<Form::M>::fn;
}

#define NB_XSAVE_WRAPPER(name, ...)                                     \
  template <Form F>                                                     \
  struct name {                                                         \
    static void fn(Cpu& c, const DecodedInsn& i) { __VA_ARGS__(c, i); } \
  };
NB_XSAVE_WRAPPER(Xsave32, h_xsave<F, false, false>)
NB_XSAVE_WRAPPER(Xsave64, h_xsave<F, true, false>)
NB_XSAVE_WRAPPER(Xsaveopt32, h_xsave<F, false, true>)
NB_XSAVE_WRAPPER(Xsaveopt64, h_xsave<F, true, true>)
NB_XSAVE_WRAPPER(Xrstor32, h_xrstor<F, false>)
NB_XSAVE_WRAPPER(Xrstor64, h_xrstor<F, true>)
#undef NB_XSAVE_WRAPPER

}  // namespace

bool select_xsave(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const bool mem0 = d.nops == 1 && d.op[0].kind == OpKind::Mem;
  Handler h = nullptr;
  // For x87 | SSE state the XSAVE family moves what FXSAVE/FXRSTOR move:
  // their cost class. XGETBV/XSETBV cost as a control-register access.
  CostClass cost = CostClass::fxsave;
  switch (id) {
    case X86_INS_XGETBV: h = &h_xgetbv; cost = CostClass::control_register; break;
    case X86_INS_XSETBV: h = &h_xsetbv; cost = CostClass::control_register; break;
    case X86_INS_XSAVE: h = mem0 ? by_form<Xsave32>(d, mode) : nullptr; break;
    case X86_INS_XSAVE64: h = mem0 ? by_form<Xsave64>(d, mode) : nullptr; break;
    case X86_INS_XSAVEOPT: h = mem0 ? by_form<Xsaveopt32>(d, mode) : nullptr; break;
    case X86_INS_XSAVEOPT64: h = mem0 ? by_form<Xsaveopt64>(d, mode) : nullptr; break;
    case X86_INS_XRSTOR: h = mem0 ? by_form<Xrstor32>(d, mode) : nullptr; break;
    case X86_INS_XRSTOR64: h = mem0 ? by_form<Xrstor64>(d, mode) : nullptr; break;
    default: return false;
  }
  if (!h) return false;
  // No decoded instruction depends on XCR0 or the state XRSTOR loads (each
  // handler reads them when it runs), so none of these ends its block.
  set_handler(d, h, costs, cost);
  return true;
}

}  // namespace nestbed::sim
