// System instructions: HLT, CLI/STI, IN/OUT, MOV to/from CR/DR/Sreg,
// descriptor tables, LAR/LSL/VERR/VERW, INVLPG, RDMSR/WRMSR, RDTSC(P), RDPMC, CPUID, SWAPGS,
// cache control (SDM vol. 2; vol. 3 chapters 2-5).
#include <capstone/capstone.h>

#include <initializer_list>

#include "arch/x86/paging.h"
#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/debug.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/cpuid.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_vmx.h"

namespace nestbed::sim {

namespace {

using arch::vmx::ExitReason;
namespace pc = arch::vmx::proc_ctl;
namespace pc2 = arch::vmx::proc_ctl2;

inline void require_cpl0(Cpu& c) {
  if (c.state().cpl != 0) raise_gp(0);
}
// "Not recognized in real-address mode" and #UD in virtual-8086 mode
// (LAR, LSL, VERR, VERW, LLDT, SLDT, LTR, STR): before the privilege
// checks and any VM exit (SDM 25.1.1).
void require_protected_mode(Cpu& c) {
  if (!(c.state().cr0 & arch::cr0::PE) || (c.state().rflags & fl::VM)) raise_ud();
}
// SGDT, SIDT, SLDT, SMSW, STR: #GP(0) at CPL > 0 with CR4.UMIP (SDM vol. 3,
// 2.5), a privilege fault and so before any VM exit (SDM 25.1.1).
inline void check_umip(Cpu& c) {
  if ((c.state().cr4 & arch::cr4::UMIP) && c.state().cpl != 0) raise_gp(0);
}
inline unsigned iopl(const Cpu& c) { return (c.state().rflags & fl::IOPL) >> fl::IOPL_SHIFT; }

void h_hlt(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (proc_exiting(c, pc::HLT_EXITING)) return c.vm_exit_pending(i, uint32_t(ExitReason::HLT));
  c.halt();
}

void h_cli(Cpu& c, const DecodedInsn&) {
  if (c.state().cpl > iopl(c)) raise_gp(0);
  c.state().rflags &= ~fl::IF;
}

// STI: interrupts stay blocked until after the next instruction (SDM STI).
void h_sti(Cpu& c, const DecodedInsn&) {
  if (c.state().cpl > iopl(c)) raise_gp(0);
  const bool was_enabled = c.state().rflags & fl::IF;
  c.state().rflags |= fl::IF;
  if (!was_enabled) c.interrupt_shadow();
  c.check_events_soon();
}

// The I/O-permission checks come first, then the VMX I/O exit (SDM 25.1.1).
// True when the instruction exits (the caller returns at once).
bool io_intercept(Cpu& c, const DecodedInsn& i, uint16_t port, unsigned size, bool in, bool immediate) {
  if (!c.non_root()) return false;
  c.check_io_permission(port, size);
  if (!c.vmx().io_exits(port, size)) return false;
  namespace q = arch::vmx::qual_io;
  const uint64_t qual = q::SIZE.make(size - 1) | q::DIRECTION.make(in ? q::IN : q::OUT) |
                        q::OPERAND_ENCODING.make(immediate ? q::PORT_IMMEDIATE : q::PORT_IN_DX) | q::PORT.make(port);
  c.vm_exit_pending(i, uint32_t(ExitReason::IO_INSTRUCTION), qual);
  return true;
}

template <typename T>
void h_in(Cpu& c, const DecodedInsn& i) {
  const bool immediate = i.op[1].kind == OpKind::Imm;
  const uint16_t port = immediate ? uint16_t(i.imm & 0xff) : uint16_t(c.reg(RDX));
  if (io_intercept(c, i, port, sizeof(T), true, immediate)) return;
  set_reg<T>(c, RAX, T(c.io_in(port, sizeof(T))));
}

template <typename T>
void h_out(Cpu& c, const DecodedInsn& i) {
  const bool immediate = i.op[0].kind == OpKind::Imm;
  const uint16_t port = immediate ? uint16_t(i.imm & 0xff) : uint16_t(c.reg(RDX));
  if (io_intercept(c, i, port, sizeof(T), false, immediate)) return;
  c.io_out(port, sizeof(T), uint32_t(T(c.reg(RAX))));
}

// MOV to/from segment registers (SDM MOV).
void h_mov_to_sreg(Cpu& c, const DecodedInsn& i) {
  const unsigned seg = i.op[0].reg;
  if (seg == arch::seg::CS) raise_ud();
  const uint16_t sel = read_op<uint16_t>(c, i, 1);
  c.load_segment(seg, sel);
  if (seg == arch::seg::SS) c.interrupt_shadow(true);
}

void h_mov_from_sreg(Cpu& c, const DecodedInsn& i) {
  const uint16_t sel = c.state().seg[i.op[1].reg].selector;
  if (i.op[0].kind == OpKind::Mem)
    c.write<uint16_t>(c.linear(i, 2, Access::Write), sel);
  else if (i.op[0].size == 2)
    set_reg<uint16_t>(c, i.op[0], sel);
  else
    c.reg(i.op[0].reg) = sel;  // zero-extended for 32/64-bit destinations
}

// MOV CRn (SDM MOV-Move to/from Control Registers): CPL 0; CR1, CR5-7 and
// CR9-15 are #UD; CR8 exists in 64-bit mode.
// Exit qualification of a control-register access (SDM 27.2.1, table 27-3).
uint64_t cr_qualification(unsigned cr, uint64_t type, unsigned gpr) {
  namespace q = arch::vmx::qual_cr_access;
  return q::CR.make(cr) | q::ACCESS_TYPE.make(type) | q::GPR.make(gpr);
}

// MOV to CR in non-root operation (SDM 25.1.3): exits when a host-owned
// bit (mask = 1) would differ from the read shadow, or a CR3 value is not a
// CR3-target; otherwise the host-owned bits keep their value (SDM 25.3).
uint64_t cr_write_intercept(Cpu& c, const DecodedInsn& i, unsigned cr, uint64_t v) {
  if (!c.non_root()) return v;
  const vmx::GuestControls& ctl = c.vmx().controls();
  namespace q = arch::vmx::qual_cr_access;
  auto exit = [&]() { c.vm_exit_insn(i, uint32_t(ExitReason::CR_ACCESS), cr_qualification(cr, q::MOV_TO_CR, i.op[1].reg)); };
  if (cr == 0 || cr == 4) {
    const uint64_t mask = cr == 0 ? ctl.cr0_mask : ctl.cr4_mask;
    const uint64_t shadow = cr == 0 ? ctl.cr0_shadow : ctl.cr4_shadow;
    if ((v ^ shadow) & mask) exit();
    const uint64_t current = cr == 0 ? c.state().cr0 : c.state().cr4;
    const uint64_t value = (v & ~mask) | (current & mask);
    // The VMX fixed bits hold in non-root operation too; with unrestricted
    // guest CR0.PE and CR0.PG may be 0 (SDM 23.8, 25.3).
    const vmx::VmxCapabilities& caps = vmx::sim_vmx_capabilities();
    uint64_t fixed0 = cr == 0 ? caps.cr0_fixed0 : caps.cr4_fixed0;
    const uint64_t fixed1 = cr == 0 ? caps.cr0_fixed1 : caps.cr4_fixed1;
    if (cr == 0 && (ctl.proc2 & pc2::UNRESTRICTED_GUEST)) fixed0 &= ~(arch::cr0::PE | arch::cr0::PG);
    if ((value & fixed0) != fixed0 || (cr == 4 && (value & ~fixed1))) raise_gp(0);
    return value;
  }
  if (cr == 3 && (ctl.proc & pc::CR3_LOAD_EXITING)) {
    bool target = false;
    for (unsigned k = 0; k < ctl.cr3_target_count && k < 4; ++k) target |= ctl.cr3_targets[k] == v;
    if (!target) exit();
  }
  if (cr == 8 && (ctl.proc & pc::CR8_LOAD_EXITING)) exit();
  return v;
}

// In non-root operation with "use TPR shadow", MOV CR8 that does not exit
// reads and writes the TPR shadow, not the APIC's TPR (SDM 25.3, 29.3).
bool uses_tpr_shadow(Cpu& c) {
  return c.non_root() && (c.vmx().controls().proc & pc::USE_TPR_SHADOW);
}

void h_mov_to_cr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  uint64_t v = c.reg(i.op[1].reg);
  if (c.mode() != CpuMode::Bits64) v = uint32_t(v);
  if (i.op[0].reg == 8 && c.mode() != CpuMode::Bits64) raise_ud();
  v = cr_write_intercept(c, i, i.op[0].reg, v);
  switch (i.op[0].reg) {
    case 0: c.write_cr0(v); break;
    case 2: c.state().cr2 = v; break;
    case 3: c.write_cr3(v); break;
    case 4: c.write_cr4(v); break;
    case 8:
      if (c.mode() != CpuMode::Bits64) raise_ud();
      if (uses_tpr_shadow(c)) c.vmx().write_cr8_shadow(v);
      else c.write_cr8(v);
      break;
    default: raise_ud();
  }
  c.end_block();
}

// CR0/CR4 as software reads them: in non-root operation, host-owned bits
// (guest/host mask = 1) come from the read shadow (SDM 25.3).
uint64_t visible_cr0(Cpu& c) {
  const uint64_t cr0 = c.state().cr0;
  if (!c.non_root()) return cr0;
  const vmx::GuestControls& ctl = c.vmx().controls();
  return (cr0 & ~ctl.cr0_mask) | (ctl.cr0_shadow & ctl.cr0_mask);
}
uint64_t visible_cr4(Cpu& c) {
  const uint64_t cr4 = c.state().cr4;
  if (!c.non_root()) return cr4;
  const vmx::GuestControls& ctl = c.vmx().controls();
  return (cr4 & ~ctl.cr4_mask) | (ctl.cr4_shadow & ctl.cr4_mask);
}

void h_mov_from_cr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  uint64_t v;
  const CpuState& s = c.state();
  const unsigned cr = i.op[1].reg;
  if (c.non_root()) {
    const vmx::GuestControls& ctl = c.vmx().controls();
    namespace q = arch::vmx::qual_cr_access;
    if ((cr == 3 && (ctl.proc & pc::CR3_STORE_EXITING)) || (cr == 8 && (ctl.proc & pc::CR8_STORE_EXITING)))
      c.vm_exit_insn(i, uint32_t(ExitReason::CR_ACCESS), cr_qualification(cr, q::MOV_FROM_CR, i.op[0].reg));
  }
  switch (cr) {
    case 0: v = visible_cr0(c); break;
    case 2: v = s.cr2; break;
    case 3: v = s.cr3; break;
    case 4: v = visible_cr4(c); break;
    case 8:
      if (c.mode() != CpuMode::Bits64) raise_ud();
      v = uses_tpr_shadow(c) ? c.vmx().read_cr8_shadow() : c.read_cr8();
      break;
    default: raise_ud();
  }
  c.reg(i.op[0].reg) = c.mode() == CpuMode::Bits64 ? v : uint32_t(v);
}

// MOV DRn: DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); with DR7.GD
// set, any MOV DR is a #DB fault with DR6.BD (general detect, SDM
// 18.2.4), after a MOV-DR VM exit (which takes precedence: SDM 25.1.1).
unsigned debug_register(Cpu& c, unsigned n) {
  if (n == 4 || n == 5) {
    if (c.state().cr4 & arch::cr4::DE) raise_ud();
    n += 2;
  }
  if (n > 7) raise_ud();
  if (c.state().dr[7] & arch::debug::DR7_GD) c.raise_debug_fault(arch::debug::DR6_BD);
  return n;
}

void dr_intercept(Cpu& c, const DecodedInsn& i, unsigned dr, bool to_dr, unsigned gpr) {
  if (!proc_exiting(c, pc::MOV_DR_EXITING)) return;
  namespace q = arch::vmx::qual_mov_dr;
  c.vm_exit_insn(i, uint32_t(ExitReason::DR_ACCESS),
                 q::DR.make(dr) | q::DIRECTION.make(to_dr ? q::MOV_TO_DR : q::MOV_FROM_DR) | q::GPR.make(gpr));
}

void h_mov_to_dr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  dr_intercept(c, i, i.op[0].reg, true, i.op[1].reg);
  const unsigned n = debug_register(c, i.op[0].reg);
  uint64_t v = c.reg(i.op[1].reg);
  if (c.mode() != CpuMode::Bits64) v = uint32_t(v);
  if ((n == 6 || n == 7) && (v >> 32)) raise_gp(0);
  if (n == 6) v = (v & arch::debug::DR6_WRITABLE) | arch::debug::DR6_FIXED1;
  if (n == 7) v = (v & ~arch::debug::DR7_READ_AS_ZERO) | arch::debug::DR7_INIT;
  c.state().dr[n] = v;
  if (n != 6) c.debug_registers_changed();
}

void h_mov_from_dr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  dr_intercept(c, i, i.op[1].reg, false, i.op[0].reg);
  const unsigned n = debug_register(c, i.op[1].reg);
  const uint64_t v = c.state().dr[n];
  c.reg(i.op[0].reg) = c.mode() == CpuMode::Bits64 ? v : uint32_t(v);
}

// LGDT/LIDT m16&32 or m16&64 (SDM LGDT): a 16-bit operand size keeps 24 bits of base.
// Descriptor-table exiting (SDM 25.1.3; information: tables 27-10, 27-11).
void dtable_intercept(Cpu& c, const DecodedInsn& i, bool gdtr_idtr, unsigned identity) {
  if (!proc2_exiting(c, pc2::DESCRIPTOR_TABLE_EXITING)) return;
  uint64_t info;
  if (gdtr_idtr) {
    namespace f = arch::vmx::insn_info_dtable;
    info = memory_operand_info(i) | f::OPERAND_SIZE.make(i.opsize != 2) | f::IDENTITY.make(identity);
  } else {
    namespace f = arch::vmx::insn_info_ldt_tr;
    info = f::IDENTITY.make(identity);
    if (i.op[0].kind == OpKind::Mem)
      info |= memory_operand_info(i);
    else
      info |= f::MEM_REG.mask | f::REG1.make(i.op[0].reg);
  }
  c.vm_exit_insn(i, uint32_t(gdtr_idtr ? ExitReason::GDTR_IDTR : ExitReason::LDTR_TR),
                 i.op[0].kind == OpKind::Mem ? displacement_qualification(i) : 0, uint32_t(info));
}

template <bool IDT>
void h_load_table(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  dtable_intercept(c, i, true, IDT ? 3 : 2);
  const unsigned base_size = c.mode() == CpuMode::Bits64 ? 8 : 4;
  const uint64_t la = c.linear(i, 2 + base_size, Access::Read);
  const uint16_t limit = c.read<uint16_t>(la);
  uint64_t base = base_size == 8 ? c.read<uint64_t>(la + 2) : c.read<uint32_t>(la + 2);
  if (c.mode() != CpuMode::Bits64 && i.opsize == 2) base &= 0xffffff;
  if (c.mode() == CpuMode::Bits64 && !arch::is_canonical(base)) raise_gp(0);
  TableRegister& t = IDT ? c.state().idtr : c.state().gdtr;
  t.base = base;
  t.limit = limit;
}

template <bool IDT>
void h_store_table(Cpu& c, const DecodedInsn& i) {
  check_umip(c);
  dtable_intercept(c, i, true, IDT ? 1 : 0);
  const unsigned base_size = c.mode() == CpuMode::Bits64 ? 8 : 4;
  const uint64_t la = c.linear(i, 2 + base_size, Access::Write);
  const TableRegister& t = IDT ? c.state().idtr : c.state().gdtr;
  c.translate(la + 1 + base_size, Access::Write);  // both ends writable before storing
  c.write<uint16_t>(la, t.limit);
  if (base_size == 8)
    c.write<uint64_t>(la + 2, t.base);
  else
    c.write<uint32_t>(la + 2, uint32_t(t.base));
}

// Reads a system descriptor (LDT, TSS): 16 bytes in IA-32e mode (SDM 7.2.3).
uint64_t system_descriptor_base(Cpu& c, uint16_t sel, uint64_t lo) {
  uint64_t base = arch::seg::descriptor_base(lo);
  if (c.state().efer & arch::efer::LMA) {
    const uint64_t hi = c.read_system(c.state().gdtr.base + arch::seg::selector_index(sel) * 8u + 8, 8);
    base |= (hi & 0xffffffff) << 32;
  }
  return base;
}

void h_lldt(Cpu& c, const DecodedInsn& i) {
  require_protected_mode(c);
  require_cpl0(c);
  dtable_intercept(c, i, false, 2);
  const uint16_t sel = read_op<uint16_t>(c, i, 0);
  if ((sel & 0xfffc) == 0) {
    c.state().ldtr = Segment{sel, 0, 0, arch::seg::ar::UNUSABLE};
    return;
  }
  if (arch::seg::selector_ti(sel)) raise_gp(sel & 0xfffc);
  const uint64_t d = c.read_descriptor(sel, sel & 0xfffc);
  const uint32_t ar = arch::seg::descriptor_access_rights(d);
  if ((ar & arch::seg::ar::S) || (ar & arch::seg::ar::TYPE_MASK) != arch::seg::sys_type::LDT) raise_gp(sel & 0xfffc);
  if (!(ar & arch::seg::ar::P)) raise_fault(uint8_t(arch::Vector::NP), sel & 0xfffc);
  c.state().ldtr = Segment{sel, system_descriptor_base(c, sel, d), arch::seg::descriptor_limit(d), ar};
}

// LTR: an available TSS, marked busy in the GDT (SDM LTR).
void h_ltr(Cpu& c, const DecodedInsn& i) {
  require_protected_mode(c);
  require_cpl0(c);
  dtable_intercept(c, i, false, 3);
  const uint16_t sel = read_op<uint16_t>(c, i, 0);
  if ((sel & 0xfffc) == 0 || arch::seg::selector_ti(sel)) raise_gp(sel & 0xfffc);
  const uint64_t d = c.read_descriptor(sel, sel & 0xfffc);
  const uint32_t ar = arch::seg::descriptor_access_rights(d);
  if ((ar & arch::seg::ar::S) || (ar & arch::seg::ar::TYPE_MASK) != arch::seg::sys_type::TSS_AVAILABLE)
    raise_gp(sel & 0xfffc);
  if (!(ar & arch::seg::ar::P)) raise_fault(uint8_t(arch::Vector::NP), sel & 0xfffc);
  const uint64_t base = system_descriptor_base(c, sel, d);
  const uint64_t type_byte_la = c.state().gdtr.base + arch::seg::selector_index(sel) * 8u + 5;
  c.write_system(type_byte_la, 1, ((d >> 40) & 0xff) | 0x2, true);  // busy
  c.state().tr = Segment{sel, base, arch::seg::descriptor_limit(d), ar | 0x2};
}

template <bool TR>
void h_store_selector(Cpu& c, const DecodedInsn& i) {
  require_protected_mode(c);
  check_umip(c);
  dtable_intercept(c, i, false, TR ? 1 : 0);
  const uint16_t sel = TR ? c.state().tr.selector : c.state().ldtr.selector;
  if (i.op[0].kind == OpKind::Mem)
    c.write<uint16_t>(c.linear(i, 2, Access::Write), sel);
  else
    c.reg(i.op[0].reg) = sel;
}

// LAR, LSL, VERR, VERW (SDM vol. 2A LAR, LSL; vol. 2B VERR/VERW) ask what a
// selector names without loading it. A null selector, an offset past the
// GDT/LDT limit, a descriptor that is not visible (not conforming code and
// DPL < CPL or DPL < RPL) or a type the instruction does not accept clear ZF
// and leave the destination alone; only the operand and the descriptor-table
// read fault. None of them causes a VM exit.
enum class SelectorCheck { LAR, LSL, VERR, VERW };

// The system-descriptor types (S = 0) LAR and LSL accept, bit t for type t:
// SDM vol. 2A tables 3-52 (LAR) and 3-55 (LSL) give one column for
// protected mode and one for IA-32e mode (EFER.LMA = 1: 64-bit and
// compatibility mode). Gates have no limit, so LSL takes none; in IA-32e mode
// the 16-bit TSSs and the task gate are gone, LAR no longer takes the LDT,
// and LSL takes type 0 ("upper 8 bytes of a 16-byte descriptor"). AMD's
// manual lets LAR take the LDT in long mode; this CPU is Intel's.
constexpr uint16_t type_bits(std::initializer_list<unsigned> types) {
  uint16_t m = 0;
  for (unsigned t : types) m |= uint16_t(1u << t);
  return m;
}
constexpr uint16_t LAR_TYPES_PROTECTED = type_bits({0x1, 0x2, 0x3, 0x4, 0x5, 0x9, 0xb, 0xc});
constexpr uint16_t LAR_TYPES_IA32E = type_bits({0x9, 0xb, 0xc});
constexpr uint16_t LSL_TYPES_PROTECTED = type_bits({0x1, 0x2, 0x3, 0x9, 0xb});
constexpr uint16_t LSL_TYPES_IA32E = type_bits({0x0, 0x2, 0x9, 0xb});

// True (ZF = 1) when `sel` names a descriptor the instruction accepts; `d`
// is then that descriptor. The descriptor is read as read_descriptor reads
// it (a supervisor access: #PF or #GP there are the instruction's).
bool selector_passes(Cpu& c, uint16_t sel, SelectorCheck check, uint64_t& d) {
  namespace ar = arch::seg::ar;
  uint64_t la;
  if ((sel & 0xfffc) == 0 || !c.descriptor_address(sel, la)) return false;
  d = c.read_system(la, 8);
  const uint32_t rights = arch::seg::descriptor_access_rights(d);
  const unsigned dpl = (rights & ar::DPL_MASK) >> ar::DPL_SHIFT;
  const bool segment = rights & ar::S;  // code or data
  const bool code = segment && (rights & ar::TYPE_CODE);
  const bool conforming_code = code && (rights & ar::TYPE_CONFORMING);
  if (!conforming_code && (c.state().cpl > dpl || arch::seg::selector_rpl(sel) > dpl)) return false;
  const unsigned type = rights & ar::TYPE_MASK;
  const bool ia32e = c.state().efer & arch::efer::LMA;
  switch (check) {
    case SelectorCheck::LAR: return segment || ((ia32e ? LAR_TYPES_IA32E : LAR_TYPES_PROTECTED) >> type & 1);
    case SelectorCheck::LSL: return segment || ((ia32e ? LSL_TYPES_IA32E : LSL_TYPES_PROTECTED) >> type & 1);
    case SelectorCheck::VERR: return segment && (!code || (rights & ar::TYPE_WRITABLE));  // code: readable
    case SelectorCheck::VERW: return segment && !code && (rights & ar::TYPE_WRITABLE);
  }
  return false;
}

void set_zf(Cpu& c, bool zf) { set_status(c.state().rflags, zf ? fl::ZF : 0, fl::ZF); }

// LAR r16/r32/r64, r/m16 and LSL: T is the destination's size. LAR gives
// descriptor bits 23:8 of the second doubleword (type, S, DPL, P, AVL, L,
// D/B, G) masked by 00FxFF00H (x, limit 19:16, undefined: 0 here), or FF00H
// with a 16-bit operand; LSL the byte-granular limit. A 32-bit destination
// is zero-extended, a 16-bit one keeps bits 63:16 (SDM vol. 1, 3.4.1.1).
template <SelectorCheck CHECK, typename T>
void h_load_from_selector(Cpu& c, const DecodedInsn& i) {
  require_protected_mode(c);
  const uint16_t sel = read_op<uint16_t>(c, i, 1);
  uint64_t d;
  const bool ok = selector_passes(c, sel, CHECK, d);
  set_zf(c, ok);
  if (!ok) return;
  uint32_t v;
  if constexpr (CHECK == SelectorCheck::LAR)
    v = uint32_t(d >> 32) & (sizeof(T) == 2 ? 0xff00u : 0x00f0ff00u);
  else
    v = arch::seg::descriptor_limit(d);
  set_reg<T>(c, i.op[0], T(v));
}

// VERR/VERW r/m16: ZF says whether the segment is readable/writable.
template <SelectorCheck CHECK>
void h_verify_selector(Cpu& c, const DecodedInsn& i) {
  require_protected_mode(c);
  uint64_t d;
  set_zf(c, selector_passes(c, read_op<uint16_t>(c, i, 0), CHECK, d));
}

// LMSW changes CR0.PE/MP/EM/TS only, and cannot clear PE.
void h_lmsw(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const uint16_t v = read_op<uint16_t>(c, i, 0);
  const uint64_t cr0 = c.state().cr0;
  uint64_t keep = 0;  // host-owned bits LMSW may not change in non-root operation
  if (c.non_root()) {
    // SDM 25.1.3: LMSW exits if it would set a host-owned PE the shadow
    // clears, or change a host-owned MP/EM/TS from the shadow.
    const vmx::GuestControls& ctl = c.vmx().controls();
    const bool pe = (ctl.cr0_mask & 1) && (v & 1) && !(ctl.cr0_shadow & 1);
    const bool others = ((v ^ ctl.cr0_shadow) & ctl.cr0_mask & 0xe) != 0;
    if (pe || others) {
      namespace q = arch::vmx::qual_cr_access;
      const uint64_t qual = q::ACCESS_TYPE.make(q::LMSW) | q::LMSW_SOURCE.make(v) |
                            q::LMSW_OPERAND.make(i.op[0].kind == OpKind::Mem ? q::LMSW_MEMORY : q::LMSW_REGISTER);
      c.vm_exit_insn(i, uint32_t(ExitReason::CR_ACCESS), qual, 0);
    }
    keep = ctl.cr0_mask & 0xf;
  }
  const uint64_t lmsw = (cr0 & ~0xeull) | (v & 0xf) | (cr0 & 1);
  c.write_cr0((lmsw & ~keep) | (cr0 & keep));
  c.end_block();
}

void h_smsw(Cpu& c, const DecodedInsn& i) {
  check_umip(c);
  const uint64_t cr0 = visible_cr0(c);
  if (i.op[0].kind == OpKind::Mem)
    c.write<uint16_t>(c.linear(i, 2, Access::Write), uint16_t(cr0));
  else if (i.op[0].size == 2)
    set_reg<uint16_t>(c, i.op[0], uint16_t(cr0));
  else
    c.reg(i.op[0].reg) = i.op[0].size == 4 ? uint32_t(cr0) : cr0;
}

void h_clts(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (c.non_root() && (c.vmx().controls().cr0_mask & arch::cr0::TS)) {
    // SDM 25.1.3: a host-owned TS exits if the shadow's TS is 1, else stays.
    if (c.vmx().controls().cr0_shadow & arch::cr0::TS)
      c.vm_exit_insn(i, uint32_t(ExitReason::CR_ACCESS),
                     arch::vmx::qual_cr_access::ACCESS_TYPE.make(arch::vmx::qual_cr_access::CLTS));
    return;
  }
  c.state().cr0 &= ~arch::cr0::TS;
}

void h_invlpg(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const uint64_t la = c.linear(i, 1, Access::Read);
  if (proc_exiting(c, pc::INVLPG_EXITING)) c.vm_exit_insn(i, uint32_t(ExitReason::INVLPG), la);
  c.invlpg(la);
  c.end_block();
}

// INVPCID r64, m128 (SDM vol. 2 INVPCID): #UD in a guest without "enable
// INVPCID" (SDM 25.3); #GP(0) at CPL > 0, before the VM exit that "INVLPG
// exiting" makes of it (25.1.1, 25.1.3); then the descriptor's checks.
void h_invpcid(Cpu& c, const DecodedInsn& i) {
  if (c.non_root() && !(c.vmx().controls().proc2 & pc2::ENABLE_INVPCID)) raise_ud();
  require_cpl0(c);
  if (proc_exiting(c, pc::INVLPG_EXITING))
    c.vm_exit_insn(i, uint32_t(ExitReason::INVPCID), displacement_qualification(i),
                   uint32_t(memory_operand_info(i) | arch::vmx::insn_info_inv::REG2.make(i.op[0].reg)));
  const uint64_t type = c.mode() == CpuMode::Bits64 ? c.reg(i.op[0].reg) : uint32_t(c.reg(i.op[0].reg));
  const uint64_t la = c.linear(i, 16, Access::Read);
  if (type > 3) raise_gp(0);
  const uint64_t desc = c.read<uint64_t>(la), address = c.read<uint64_t>(la + 8);
  if (desc >> 12) raise_gp(0);  // bits 63:12 are reserved
  if (type <= 1 && !(c.state().cr4 & arch::cr4::PCIDE) && (desc & 0xfff)) raise_gp(0);
  if (type == 0 && !arch::is_canonical(address)) raise_gp(0);
  c.invpcid(type, uint16_t(desc & 0xfff), address);
  c.end_block();
}

// "Virtualize x2APIC mode" (SDM 29.5): RDMSR and WRMSR of the x2APIC TPR
// MSR that do not exit access the 8 bytes at offset 80H of the
// virtual-APIC page; with APIC-register virtualization too, RDMSR of any
// MSR in 800H-8FFH reads the 8 bytes at (ECX & FFH) << 4; with
// virtual-interrupt delivery, WRMSR of 80BH (EOI) and 83FH (SELF IPI) are
// virtualized too. Every other access works as it would.
bool virtualizes_x2apic_tpr(Cpu& c, uint32_t index) {
  return c.non_root() && (c.vmx().controls().proc2 & pc2::VIRTUALIZE_X2APIC_MODE) &&
         index == arch::msr::IA32_X2APIC_TPR;
}
bool virtualizes_x2apic_read(Cpu& c, uint32_t index) {
  constexpr uint32_t both = pc2::VIRTUALIZE_X2APIC_MODE | pc2::APIC_REGISTER_VIRTUALIZATION;
  return c.non_root() && (c.vmx().controls().proc2 & both) == both && index >= arch::msr::X2APIC_FIRST &&
         index <= arch::msr::X2APIC_LAST;
}

bool virtualizes_x2apic_vid_write(Cpu& c, uint32_t index) {
  constexpr uint32_t both = pc2::VIRTUALIZE_X2APIC_MODE | pc2::VIRTUAL_INTERRUPT_DELIVERY;
  return c.non_root() && (c.vmx().controls().proc2 & both) == both &&
         (index == arch::msr::IA32_X2APIC_EOI || index == arch::msr::IA32_X2APIC_SELF_IPI);
}

void h_rdmsr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (c.non_root() && c.vmx().msr_exits(uint32_t(c.reg(RCX)), false)) return c.vm_exit_pending(i, uint32_t(ExitReason::MSR_READ));
  const uint32_t index = uint32_t(c.reg(RCX));
  const uint64_t v = virtualizes_x2apic_read(c, index) ? c.vmx().read_virtual_apic(uint32_t(index & 0xff) << 4, 8)
                     : virtualizes_x2apic_tpr(c, index) ? c.vmx().read_virtual_apic(arch::apic::TPR, 8)
                                                        : c.read_msr(index);
  c.reg(RAX) = uint32_t(v);
  c.reg(RDX) = v >> 32;
}

void h_wrmsr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (c.non_root() && c.vmx().msr_exits(uint32_t(c.reg(RCX)), true)) return c.vm_exit_pending(i, uint32_t(ExitReason::MSR_WRITE));
  const uint64_t value = (c.reg(RDX) << 32) | uint32_t(c.reg(RAX));
  if (virtualizes_x2apic_tpr(c, uint32_t(c.reg(RCX)))) {
    // Only bits 7:0 may be set (SDM 29.5): #GP otherwise, nothing written.
    if (value >> 8) raise_gp(0);
    c.vmx().write_x2apic_tpr_shadow(value);
    return c.end_block();
  }
  if (virtualizes_x2apic_vid_write(c, uint32_t(c.reg(RCX)))) {
    // With virtual-interrupt delivery (SDM 29.5): WRMSR 80BH of 0 is EOI
    // virtualization, after the instruction like the APIC-access page's
    // write to VEOI (its EOI-induced exit is trap-like); WRMSR 83FH of a
    // vector is self-IPI virtualization. Other values: #GP(0).
    if (uint32_t(c.reg(RCX)) == arch::msr::IA32_X2APIC_EOI) {
      if (value) raise_gp(0);
      c.apic_write_virtualized(arch::apic::EOI);
      return c.end_block();
    }
    if (value >> 8) raise_gp(0);
    c.vmx().self_ipi_virtualization(uint8_t(value));
    return c.end_block();
  }
  c.write_msr(uint32_t(c.reg(RCX)), value);
  c.end_block();
}

// The TSC as the running software sees it: plus the VMCS TSC offset in
// non-root operation (SDM 25.3).
uint64_t guest_tsc(Cpu& c) { return c.read_tsc() + (c.non_root() ? c.vmx().controls().tsc_offset : 0); }

void h_rdtsc(Cpu& c, const DecodedInsn& i) {
  if ((c.state().cr4 & arch::cr4::TSD) && c.state().cpl != 0) raise_gp(0);
  if (proc_exiting(c, pc::RDTSC_EXITING)) return c.vm_exit_pending(i, uint32_t(ExitReason::RDTSC));
  const uint64_t tsc = guest_tsc(c);
  c.reg(RAX) = uint32_t(tsc);
  c.reg(RDX) = tsc >> 32;
}

void h_rdtscp(Cpu& c, const DecodedInsn& i) {
  if (c.non_root() && !(c.vmx().controls().proc2 & pc2::ENABLE_RDTSCP)) raise_ud();  // SDM 25.3
  if ((c.state().cr4 & arch::cr4::TSD) && c.state().cpl != 0) raise_gp(0);
  if (proc_exiting(c, pc::RDTSC_EXITING)) return c.vm_exit_pending(i, uint32_t(ExitReason::RDTSCP));
  const uint64_t tsc = guest_tsc(c);
  c.reg(RAX) = uint32_t(tsc);
  c.reg(RDX) = tsc >> 32;
  c.reg(RCX) = uint32_t(c.state().tsc_aux);
}

// No performance counters are advertised (CPUID leaf 0xA reports version 0), so
// every counter index is invalid: #GP(0) (SDM RDPMC).
void h_rdpmc(Cpu& c, const DecodedInsn& i) {
  if (c.state().cpl != 0 && !(c.state().cr4 & arch::cr4::PCE)) raise_gp(0);
  if (proc_exiting(c, pc::RDPMC_EXITING)) c.vm_exit_insn(i, uint32_t(ExitReason::RDPMC));
  raise_gp(0);
}

void h_cpuid(Cpu& c, const DecodedInsn& i) {
  if (c.non_root()) return c.vm_exit_pending(i, uint32_t(ExitReason::CPUID));  // unconditional (SDM 25.1.2)
  const CpuState& s = c.state();
  const CpuidState state{s.misc_enable, (c.devices().apic.apic_base() & arch::msr::APIC_BASE_EN) != 0,
                         (s.cr4 & arch::cr4::OSXSAVE) != 0, s.xcr0};
  const CpuidResult r = cpuid(uint32_t(c.reg(RAX)), uint32_t(c.reg(RCX)), LocalApic::initial_apic_id(), state);
  c.reg(RAX) = r.eax;
  c.reg(RBX) = r.ebx;
  c.reg(RCX) = r.ecx;
  c.reg(RDX) = r.edx;
}

void h_swapgs(Cpu& c, const DecodedInsn&) {
  if (c.mode() != CpuMode::Bits64) raise_ud();
  require_cpl0(c);
  std::swap(c.state().seg[arch::seg::GS].base, c.state().kernel_gs_base);
}

void h_wbinvd(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (proc2_exiting(c, pc2::WBINVD_EXITING)) c.vm_exit_insn(i, uint32_t(ExitReason::WBINVD));
}

void h_invd(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  if (c.non_root()) c.vm_exit_insn(i, uint32_t(ExitReason::INVD));  // unconditional (SDM 25.1.2)
}

void h_clflush(Cpu& c, const DecodedInsn& i) { c.translate(c.linear(i, 1, Access::Read), Access::Read); }

}  // namespace

void h_unimplemented(Cpu& c, const DecodedInsn& i) { c.unimplemented(i); }
void h_invalid_opcode(Cpu&, const DecodedInsn&) { raise_ud(); }

bool select_system(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  (void)mode;
  switch (id) {
    case X86_INS_HLT: set_handler(d, &h_hlt, costs, CostClass::halt, true); return true;
    case X86_INS_CLI: set_handler(d, &h_cli, costs, CostClass::simple, true); return true;
    case X86_INS_STI: set_handler(d, &h_sti, costs, CostClass::simple, true); return true;
    case X86_INS_IN:
      set_handler(d, NB_BY_SIZE(h_in, d.op[0].size), costs, CostClass::port_io, true);
      return d.op[0].size <= 4;
    case X86_INS_OUT:
      set_handler(d, NB_BY_SIZE(h_out, d.op[1].size), costs, CostClass::port_io, true);
      return d.op[1].size <= 4;
    case X86_INS_MOV:
      if (d.op[0].kind == OpKind::SegReg) { set_handler(d, &h_mov_to_sreg, costs, CostClass::segment_load, true); return true; }
      if (d.op[1].kind == OpKind::SegReg) { set_handler(d, &h_mov_from_sreg, costs, CostClass::simple); return true; }
      if (d.op[0].kind == OpKind::CtrlReg) {
        set_handler(d, &h_mov_to_cr, costs, d.op[0].reg == 3 ? CostClass::cr3_write : CostClass::control_register, true);
        return true;
      }
      if (d.op[1].kind == OpKind::CtrlReg) { set_handler(d, &h_mov_from_cr, costs, CostClass::control_register); return true; }
      if (d.op[0].kind == OpKind::DebugReg) { set_handler(d, &h_mov_to_dr, costs, CostClass::control_register, true); return true; }
      if (d.op[1].kind == OpKind::DebugReg) { set_handler(d, &h_mov_from_dr, costs, CostClass::control_register); return true; }
      return false;
    case X86_INS_LGDT: set_handler(d, &h_load_table<false>, costs, CostClass::descriptor_table, true); return true;
    case X86_INS_LIDT: set_handler(d, &h_load_table<true>, costs, CostClass::descriptor_table, true); return true;
    case X86_INS_SGDT: set_handler(d, &h_store_table<false>, costs, CostClass::descriptor_table); return true;
    case X86_INS_SIDT: set_handler(d, &h_store_table<true>, costs, CostClass::descriptor_table); return true;
    case X86_INS_LLDT: set_handler(d, &h_lldt, costs, CostClass::descriptor_table, true); return true;
    case X86_INS_LTR: set_handler(d, &h_ltr, costs, CostClass::descriptor_table, true); return true;
    case X86_INS_SLDT: set_handler(d, &h_store_selector<false>, costs, CostClass::descriptor_table); return true;
    case X86_INS_STR: set_handler(d, &h_store_selector<true>, costs, CostClass::descriptor_table); return true;
    case X86_INS_LAR:
      set_handler(d, NB_BY_SIZE_P(h_load_from_selector, SelectorCheck::LAR, d.op[0].size), costs,
                  CostClass::descriptor_table);
      return d.op[0].size >= 2;
    case X86_INS_LSL:
      set_handler(d, NB_BY_SIZE_P(h_load_from_selector, SelectorCheck::LSL, d.op[0].size), costs,
                  CostClass::descriptor_table);
      return d.op[0].size >= 2;
    case X86_INS_VERR: set_handler(d, &h_verify_selector<SelectorCheck::VERR>, costs, CostClass::descriptor_table); return true;
    case X86_INS_VERW: set_handler(d, &h_verify_selector<SelectorCheck::VERW>, costs, CostClass::descriptor_table); return true;
    case X86_INS_LMSW: set_handler(d, &h_lmsw, costs, CostClass::control_register, true); return true;
    case X86_INS_SMSW: set_handler(d, &h_smsw, costs, CostClass::control_register); return true;
    case X86_INS_CLTS: set_handler(d, &h_clts, costs, CostClass::control_register); return true;
    case X86_INS_INVLPG: set_handler(d, &h_invlpg, costs, CostClass::invlpg, true); return true;
    case X86_INS_INVPCID: set_handler(d, &h_invpcid, costs, CostClass::invlpg, true); return d.op[1].kind == OpKind::Mem;
    case X86_INS_RDMSR: set_handler(d, &h_rdmsr, costs, CostClass::msr); return true;
    case X86_INS_WRMSR: set_handler(d, &h_wrmsr, costs, CostClass::msr, true); return true;
    case X86_INS_RDTSC: set_handler(d, &h_rdtsc, costs, CostClass::rdtsc); return true;
    case X86_INS_RDTSCP: set_handler(d, &h_rdtscp, costs, CostClass::rdtsc); return true;
    case X86_INS_RDPMC: set_handler(d, &h_rdpmc, costs, CostClass::msr); return true;
    case X86_INS_CPUID: set_handler(d, &h_cpuid, costs, CostClass::cpuid); return true;
    case X86_INS_SWAPGS: set_handler(d, &h_swapgs, costs, CostClass::segment_load); return true;
    case X86_INS_WBINVD: set_handler(d, &h_wbinvd, costs, CostClass::serializing); return true;
    case X86_INS_INVD: set_handler(d, &h_invd, costs, CostClass::serializing); return true;
    case X86_INS_CLFLUSH: set_handler(d, &h_clflush, costs, CostClass::serializing); return true;
    default: return false;
  }
}

}  // namespace nestbed::sim
