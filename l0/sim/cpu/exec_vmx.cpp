// VMX instructions (SDM vol. 3, 30.3): the #UD/#GP/VM-exit prologue each
// shares, operand fetch, and the call into vmx::Vmx for the semantics.
#include <capstone/capstone.h>

#include "arch/x86/paging.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_vmx.h"

namespace nestbed::sim {

namespace {

using arch::vmx::ExitReason;

// SDM 30.3 "Operation", first lines of every VMX instruction but VMXON:
// #UD outside VMX operation or outside protected/IA-32e 64-bit code, a VM
// exit in non-root operation, #GP(0) above CPL 0.
// True when the instruction exits (the caller returns at once).
[[nodiscard]] bool vmx_prologue(Cpu& c, const DecodedInsn& i, ExitReason reason, uint64_t qualification = 0,
                                uint32_t info = 0) {
  const CpuState& s = c.state();
  if (!c.vmx().in_vmx_operation() || !(s.cr0 & arch::cr0::PE) || (s.rflags & arch::rflags::VM) ||
      ((s.efer & arch::efer::LMA) && c.mode() != CpuMode::Bits64))
    raise_ud();
  if (c.non_root()) {
    c.vm_exit_pending(i, uint32_t(reason), qualification, info);
    return true;
  }
  if (s.cpl != 0) raise_gp(0);
  return false;
}

uint64_t read_m64(Cpu& c, const DecodedInsn& i) { return c.read<uint64_t>(c.linear(i, 8, Access::Read)); }

uint32_t mem_info(const DecodedInsn& i) { return memory_operand_info(i); }

void h_vmxon(Cpu& c, const DecodedInsn& i) {
  const CpuState& s = c.state();
  // SDM 30.3 VMXON: #UD without CR4.VMXE too.
  if (!(s.cr4 & arch::cr4::VMXE) || !(s.cr0 & arch::cr0::PE) || (s.rflags & arch::rflags::VM) ||
      ((s.efer & arch::efer::LMA) && c.mode() != CpuMode::Bits64))
    raise_ud();
  if (c.non_root()) c.vm_exit_insn(i, uint32_t(ExitReason::VMXON), displacement_qualification(i), mem_info(i));
  if (s.cpl != 0) raise_gp(0);
  if (!c.vmx().in_vmx_operation()) {
    // CR0/CR4 fixed bits and IA32_FEATURE_CONTROL (SDM 23.7, 23.8).
    const vmx::VmxCapabilities& caps = vmx::sim_vmx_capabilities();
    if (!arch::vmx::cr_fixed_valid(s.cr0, caps.cr0_fixed0, caps.cr0_fixed1) ||
        !arch::vmx::cr_fixed_valid(s.cr4, caps.cr4_fixed0, caps.cr4_fixed1))
      raise_gp(0);
    const uint64_t fc = s.feature_control;
    if (!(fc & arch::msr::FEATURE_CONTROL_LOCK) || !(fc & arch::msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX)) raise_gp(0);
  }
  // In VMX root operation VMXON fails (VMfail 15) without reading its
  // operand (SDM 30.3, VMXON pseudocode).
  c.vmx().vmxon(c.vmx().in_vmx_operation() ? 0 : read_m64(c, i));
}

void h_vmxoff(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMXOFF)) return;
  c.vmx().vmxoff();
}

void h_vmclear(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMCLEAR, displacement_qualification(i), mem_info(i))) return;
  c.vmx().vmclear(read_m64(c, i));
}

void h_vmptrld(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMPTRLD, displacement_qualification(i), mem_info(i))) return;
  c.vmx().vmptrld(read_m64(c, i));
}

void h_vmptrst(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMPTRST, displacement_qualification(i), mem_info(i))) return;
  c.write<uint64_t>(c.linear(i, 8, Access::Write), c.vmx().vmptrst());
  c.vmx().vm_succeed();
}

// VMREAD r/m, r (SDM 30.3): operand size 64 in 64-bit mode, else 32.
uint32_t vmread_write_info(const DecodedInsn& i, unsigned rm, unsigned reg) {
  namespace f = arch::vmx::insn_info_vmread_vmwrite;
  uint64_t info = f::REG2.make(i.op[reg].reg);
  if (i.op[rm].kind == OpKind::Reg)
    info |= f::MEM_REG.mask | f::REG1.make(i.op[rm].reg) | f::ADDRESS_SIZE.make(i.addrsize == 8 ? 2 : 1);
  else
    info |= memory_operand_info(i);
  return uint32_t(info);
}

void h_vmread(Cpu& c, const DecodedInsn& i) {
  const uint64_t encoding = c.reg(i.op[1].reg) & (c.mode() == CpuMode::Bits64 ? ~0ull : 0xffffffffull);
  if (c.non_root() && c.vmx().in_vmx_operation() && c.state().cpl == 0 && c.vmx().shadowed(encoding, false)) {
    // Shadowed: read the shadow VMCS without an exit (SDM 25.1.3, 30.3).
  } else {
    if (vmx_prologue(c, i, ExitReason::VMREAD, i.op[0].kind == OpKind::Mem ? displacement_qualification(i) : 0,
                     vmread_write_info(i, 0, 1))) return;
  }
  uint64_t value;
  if (!c.vmx().vmread(encoding, value)) return;
  if (c.mode() == CpuMode::Bits64)
    write_op<uint64_t>(c, i, 0, value);
  else
    write_op<uint32_t>(c, i, 0, uint32_t(value));
}

void h_vmwrite(Cpu& c, const DecodedInsn& i) {
  const uint64_t encoding = c.reg(i.op[0].reg) & (c.mode() == CpuMode::Bits64 ? ~0ull : 0xffffffffull);
  if (c.non_root() && c.vmx().in_vmx_operation() && c.state().cpl == 0 && c.vmx().shadowed(encoding, true)) {
  } else {
    if (vmx_prologue(c, i, ExitReason::VMWRITE, i.op[1].kind == OpKind::Mem ? displacement_qualification(i) : 0,
                     vmread_write_info(i, 1, 0))) return;
  }
  const uint64_t value = c.mode() == CpuMode::Bits64 ? read_op<uint64_t>(c, i, 1) : read_op<uint32_t>(c, i, 1);
  c.vmx().vmwrite(encoding, value);
}

// VMREAD and VMWRITE with two 64-bit registers in VMX root operation at
// CPL 0 — a VMM's own accesses, dozens at every VM exit it handles: the
// prologue's checks that can fail there and the access, inline. Anything
// else (non-root operation, no current VMCS, an unsupported field, a fault)
// is the general handler's, which starts over and is exact.
bool root_vmx_access(Cpu& c) {
  return !c.non_root() && c.vmx().in_vmx_operation() && c.state().cpl == 0 && c.mode() == CpuMode::Bits64;
}

void h_vmread_reg64(Cpu& c, const DecodedInsn& i) {
  vmx::Vmcs* v = c.vmx().current();
  uint64_t value;
  if (NB_UNLIKELY(!root_vmx_access(c) || !v || !v->read_encoding(c.reg(i.op[1].reg), value))) return h_vmread(c, i);
  c.reg(i.op[0].reg) = value;
  c.state().rflags &= ~arch::rflags::STATUS;  // VMsucceed
}

void h_vmwrite_reg64(Cpu& c, const DecodedInsn& i) {
  vmx::Vmcs* v = c.vmx().current();
  if (NB_UNLIKELY(!root_vmx_access(c) || !v || !v->write_encoding(c.reg(i.op[0].reg), c.reg(i.op[1].reg))))
    return h_vmwrite(c, i);
  c.state().rflags &= ~arch::rflags::STATUS;  // VMsucceed
}

void h_vmlaunch(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMLAUNCH)) return;
  c.vmx().vmlaunch(false);
}

void h_vmresume(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::VMRESUME)) return;
  c.vmx().vmlaunch(true);
}

// VMCALL: always exits in non-root operation; in root operation it would
// activate the dual-monitor treatment, which is not offered (SDM 30.3).
void h_vmcall(Cpu& c, const DecodedInsn& i) {
  if (c.non_root()) return c.vm_exit_pending(i, uint32_t(ExitReason::VMCALL));
  if (!c.vmx().in_vmx_operation()) raise_ud();
  if (c.state().cpl != 0) raise_gp(0);
  c.vmx().vm_fail(uint32_t(arch::vmx::VmInstructionError::VMCALL_IN_VMX_ROOT));
}

// INVEPT/INVVPID r64, m128 (SDM 30.3).
uint32_t inv_info(const DecodedInsn& i) {
  return uint32_t(memory_operand_info(i) | arch::vmx::insn_info_inv::REG2.make(i.op[0].reg));
}

void h_invept(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::INVEPT, displacement_qualification(i), inv_info(i))) return;
  const uint64_t type = c.reg(i.op[0].reg);
  const uint64_t la = c.linear(i, 16, Access::Read);
  const uint64_t eptp = c.read<uint64_t>(la);
  c.vmx().invept(type, eptp);
}

void h_invvpid(Cpu& c, const DecodedInsn& i) {
  if (vmx_prologue(c, i, ExitReason::INVVPID, displacement_qualification(i), inv_info(i))) return;
  const uint64_t type = c.reg(i.op[0].reg);
  const uint64_t la = c.linear(i, 16, Access::Read);
  const uint64_t lo = c.read<uint64_t>(la), linear = c.read<uint64_t>(la + 8);
  // SDM 30.3 INVVPID: bits 63:16 of the descriptor are reserved; VPID 0
  // is invalid except for all-context; the address must be canonical.
  const bool canonical = arch::is_canonical(linear);
  if ((lo >> 16) || (type != 2 && (lo & 0xffff) == 0) || (type == 0 && !canonical))
    return c.vmx().vm_fail(uint32_t(arch::vmx::VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND));
  c.vmx().invvpid(type, uint16_t(lo), linear);
}

}  // namespace

bool select_vmx(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const bool reg64 = mode == CpuMode::Bits64 && d.op[0].kind == OpKind::Reg && d.op[1].kind == OpKind::Reg;
  switch (id) {
    case X86_INS_VMXON: set_handler(d, &h_vmxon, costs, CostClass::vmx_instruction, true); return d.op[0].kind == OpKind::Mem;
    case X86_INS_VMXOFF: set_handler(d, &h_vmxoff, costs, CostClass::vmx_instruction, true); return true;
    case X86_INS_VMCLEAR: set_handler(d, &h_vmclear, costs, CostClass::vmx_instruction, true); return d.op[0].kind == OpKind::Mem;
    case X86_INS_VMPTRLD: set_handler(d, &h_vmptrld, costs, CostClass::vmx_instruction, true); return d.op[0].kind == OpKind::Mem;
    case X86_INS_VMPTRST: set_handler(d, &h_vmptrst, costs, CostClass::vmx_instruction, true); return d.op[0].kind == OpKind::Mem;
    case X86_INS_VMREAD: set_handler(d, reg64 ? &h_vmread_reg64 : &h_vmread, costs, CostClass::vmread); return true;
    case X86_INS_VMWRITE: set_handler(d, reg64 ? &h_vmwrite_reg64 : &h_vmwrite, costs, CostClass::vmwrite); return true;
    case X86_INS_VMLAUNCH: set_handler(d, &h_vmlaunch, costs, CostClass::vmx_instruction, true); return true;
    case X86_INS_VMRESUME: set_handler(d, &h_vmresume, costs, CostClass::vmx_instruction, true); return true;
    case X86_INS_VMCALL: set_handler(d, &h_vmcall, costs, CostClass::vmx_instruction, true); return true;
    case X86_INS_INVEPT: set_handler(d, &h_invept, costs, CostClass::invalidate_tlb, true); return d.op[1].kind == OpKind::Mem;
    case X86_INS_INVVPID: set_handler(d, &h_invvpid, costs, CostClass::invalidate_tlb, true); return d.op[1].kind == OpKind::Mem;
    default: return false;
  }
}

}  // namespace nestbed::sim
