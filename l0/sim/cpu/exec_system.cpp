// System instructions: HLT, CLI/STI, IN/OUT, MOV to/from CR/DR/Sreg,
// descriptor tables, INVLPG, RDMSR/WRMSR, RDTSC(P), RDPMC, CPUID, SWAPGS,
// cache control (SDM vol. 2; vol. 3 chapters 2-5).
#include <capstone/capstone.h>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/cpuid.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"

namespace nestbed::sim {

namespace {

inline void require_cpl0(Cpu& c) {
  if (c.state().cpl != 0) raise_gp(0);
}
inline unsigned iopl(const Cpu& c) { return (c.state().rflags & fl::IOPL) >> fl::IOPL_SHIFT; }

void h_hlt(Cpu& c, const DecodedInsn&) { c.halt(); }

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

template <typename T>
void h_in(Cpu& c, const DecodedInsn& i) {
  const uint16_t port = i.op[1].kind == OpKind::Imm ? uint16_t(i.imm & 0xff) : uint16_t(c.reg(RDX));
  set_reg<T>(c, RAX, T(c.io_in(port, sizeof(T))));
}

template <typename T>
void h_out(Cpu& c, const DecodedInsn& i) {
  const uint16_t port = i.op[0].kind == OpKind::Imm ? uint16_t(i.imm & 0xff) : uint16_t(c.reg(RDX));
  c.io_out(port, sizeof(T), uint32_t(T(c.reg(RAX))));
}

// MOV to/from segment registers (SDM MOV).
void h_mov_to_sreg(Cpu& c, const DecodedInsn& i) {
  const unsigned seg = i.op[0].reg;
  if (seg == arch::seg::CS) raise_ud();
  const uint16_t sel = read_op<uint16_t>(c, i, 1);
  c.load_segment(seg, sel);
  if (seg == arch::seg::SS) c.interrupt_shadow();
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
void h_mov_to_cr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  uint64_t v = c.reg(i.op[1].reg);
  if (c.mode() != CpuMode::Bits64) v = uint32_t(v);
  switch (i.op[0].reg) {
    case 0: c.write_cr0(v); break;
    case 2: c.state().cr2 = v; break;
    case 3: c.write_cr3(v); break;
    case 4: c.write_cr4(v); break;
    case 8:
      if (c.mode() != CpuMode::Bits64) raise_ud();
      c.write_cr8(v);
      break;
    default: raise_ud();
  }
  c.end_block();
}

void h_mov_from_cr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  uint64_t v;
  const CpuState& s = c.state();
  switch (i.op[1].reg) {
    case 0: v = s.cr0; break;
    case 2: v = s.cr2; break;
    case 3: v = s.cr3; break;
    case 4: v = s.cr4; break;
    case 8:
      if (c.mode() != CpuMode::Bits64) raise_ud();
      v = c.read_cr8();
      break;
    default: raise_ud();
  }
  c.reg(i.op[0].reg) = c.mode() == CpuMode::Bits64 ? v : uint32_t(v);
}

// MOV DRn: DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD). Breakpoints
// are stored but not armed: this CPU does not model debug exceptions.
unsigned debug_register(Cpu& c, unsigned n) {
  if (n == 4 || n == 5) {
    if (c.state().cr4 & arch::cr4::DE) raise_ud();
    return n + 2;
  }
  if (n > 7) raise_ud();
  return n;
}

void h_mov_to_dr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const unsigned n = debug_register(c, i.op[0].reg);
  uint64_t v = c.reg(i.op[1].reg);
  if (c.mode() != CpuMode::Bits64) v = uint32_t(v);
  if ((n == 6 || n == 7) && (v >> 32)) raise_gp(0);
  if (n == 6) v = (v & 0x1e00f) | 0xffff0ff0;
  if (n == 7) v = (v & ~0xd800ull) | 0x400;
  c.state().dr[n] = v;
}

void h_mov_from_dr(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const unsigned n = debug_register(c, i.op[1].reg);
  const uint64_t v = c.state().dr[n];
  c.reg(i.op[0].reg) = c.mode() == CpuMode::Bits64 ? v : uint32_t(v);
}

// LGDT/LIDT m16&32 or m16&64 (SDM LGDT): a 16-bit operand size keeps 24 bits of base.
template <bool IDT>
void h_load_table(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const unsigned base_size = c.mode() == CpuMode::Bits64 ? 8 : 4;
  const uint64_t la = c.linear(i, 2 + base_size, Access::Read);
  const uint16_t limit = c.read<uint16_t>(la);
  uint64_t base = base_size == 8 ? c.read<uint64_t>(la + 2) : c.read<uint32_t>(la + 2);
  if (c.mode() != CpuMode::Bits64 && i.opsize == 2) base &= 0xffffff;
  if (c.mode() == CpuMode::Bits64 && uint64_t(int64_t(base << 16) >> 16) != base) raise_gp(0);
  TableRegister& t = IDT ? c.state().idtr : c.state().gdtr;
  t.base = base;
  t.limit = limit;
}

template <bool IDT>
void h_store_table(Cpu& c, const DecodedInsn& i) {
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
  require_cpl0(c);
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
  require_cpl0(c);
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
  const uint16_t sel = TR ? c.state().tr.selector : c.state().ldtr.selector;
  if (i.op[0].kind == OpKind::Mem)
    c.write<uint16_t>(c.linear(i, 2, Access::Write), sel);
  else
    c.reg(i.op[0].reg) = sel;
}

// LMSW changes CR0.PE/MP/EM/TS only, and cannot clear PE.
void h_lmsw(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  const uint16_t v = read_op<uint16_t>(c, i, 0);
  const uint64_t cr0 = c.state().cr0;
  c.write_cr0((cr0 & ~0xeull) | (v & 0xf) | (cr0 & 1));
  c.end_block();
}

void h_smsw(Cpu& c, const DecodedInsn& i) {
  const uint64_t cr0 = c.state().cr0;
  if (i.op[0].kind == OpKind::Mem)
    c.write<uint16_t>(c.linear(i, 2, Access::Write), uint16_t(cr0));
  else if (i.op[0].size == 2)
    set_reg<uint16_t>(c, i.op[0], uint16_t(cr0));
  else
    c.reg(i.op[0].reg) = i.op[0].size == 4 ? uint32_t(cr0) : cr0;
}

void h_clts(Cpu& c, const DecodedInsn&) {
  require_cpl0(c);
  c.state().cr0 &= ~arch::cr0::TS;
}

void h_invlpg(Cpu& c, const DecodedInsn& i) {
  require_cpl0(c);
  c.invlpg(c.linear(i, 1, Access::Read));
  c.end_block();
}

void h_rdmsr(Cpu& c, const DecodedInsn&) {
  require_cpl0(c);
  const uint64_t v = c.read_msr(uint32_t(c.reg(RCX)));
  c.reg(RAX) = uint32_t(v);
  c.reg(RDX) = v >> 32;
}

void h_wrmsr(Cpu& c, const DecodedInsn&) {
  require_cpl0(c);
  c.write_msr(uint32_t(c.reg(RCX)), (c.reg(RDX) << 32) | uint32_t(c.reg(RAX)));
  c.end_block();
}

void h_rdtsc(Cpu& c, const DecodedInsn&) {
  if ((c.state().cr4 & arch::cr4::TSD) && c.state().cpl != 0) raise_gp(0);
  const uint64_t tsc = c.read_tsc();
  c.reg(RAX) = uint32_t(tsc);
  c.reg(RDX) = tsc >> 32;
}

void h_rdtscp(Cpu& c, const DecodedInsn& i) {
  h_rdtsc(c, i);
  c.reg(RCX) = uint32_t(c.state().tsc_aux);
}

// No performance counters are advertised (CPUID leaf 0xA is absent), so
// every counter index is invalid: #GP(0) (SDM RDPMC).
void h_rdpmc(Cpu& c, const DecodedInsn&) {
  if (c.state().cpl != 0 && !(c.state().cr4 & arch::cr4::PCE)) raise_gp(0);
  raise_gp(0);
}

void h_cpuid(Cpu& c, const DecodedInsn&) {
  const CpuidResult r = cpuid(uint32_t(c.reg(RAX)), uint32_t(c.reg(RCX)), 0);
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

void h_cache_control(Cpu& c, const DecodedInsn&) { require_cpl0(c); }

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
    case X86_INS_LMSW: set_handler(d, &h_lmsw, costs, CostClass::control_register, true); return true;
    case X86_INS_SMSW: set_handler(d, &h_smsw, costs, CostClass::control_register); return true;
    case X86_INS_CLTS: set_handler(d, &h_clts, costs, CostClass::control_register); return true;
    case X86_INS_INVLPG: set_handler(d, &h_invlpg, costs, CostClass::invlpg, true); return true;
    case X86_INS_RDMSR: set_handler(d, &h_rdmsr, costs, CostClass::msr); return true;
    case X86_INS_WRMSR: set_handler(d, &h_wrmsr, costs, CostClass::msr, true); return true;
    case X86_INS_RDTSC: set_handler(d, &h_rdtsc, costs, CostClass::rdtsc); return true;
    case X86_INS_RDTSCP: set_handler(d, &h_rdtscp, costs, CostClass::rdtsc); return true;
    case X86_INS_RDPMC: set_handler(d, &h_rdpmc, costs, CostClass::msr); return true;
    case X86_INS_CPUID: set_handler(d, &h_cpuid, costs, CostClass::cpuid); return true;
    case X86_INS_SWAPGS: set_handler(d, &h_swapgs, costs, CostClass::segment_load); return true;
    case X86_INS_WBINVD:
    case X86_INS_INVD: set_handler(d, &h_cache_control, costs, CostClass::serializing); return true;
    case X86_INS_CLFLUSH: set_handler(d, &h_clflush, costs, CostClass::serializing); return true;
    default: return false;
  }
}

}  // namespace nestbed::sim
