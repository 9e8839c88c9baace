// The guest hypervisor's VMX instructions (SDM chapter 30/31, "VMX
// Instruction Reference"), emulated on vmcs12 (KVM's handle_vmxon,
// handle_vmclear, handle_vmread, ...). They always exit in VMX non-root
// operation (SDM 25.1.2), after the processor has raised the #UD that has
// priority over the exit (register operand, CR0.PE = 0, compatibility
// mode); what the pseudocode checks after "ELSIF in VMX non-root operation
// THEN VM exit" is checked here, in the pseudocode's order: CR4.VMXE as
// the guest sees it, VMX operation, CPL, then the operands.
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "common/vmx/entry_checks.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/nested/guest_access.h"
#include "l1-vmm/nested/nested.h"
#include "l1-vmm/nested/nested_ept.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/nested/shadow_vmcs.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {
namespace {

using namespace arch::vmx;
using F = VmcsField;
using E = VmInstructionError;
namespace rw = insn_info_vmread_vmwrite;
namespace inv = insn_info_inv;

// A VMCS/VMXON pointer: 4 KiB aligned, within the physical-address width (SDM 30.3).
bool valid_vmx_pointer(uint64_t pa) {
  return (pa & (arch::pte::PAGE_SIZE - 1)) == 0 && (pa >> arch::pte::MAXPHYADDR) == 0;
}

// The revision identifier at the start of a region in the guest's memory;
// all-ones outside RAM (what a read of nothing returns).
uint32_t region_revision(uint64_t pa) { return uint32_t(guest_memory.read_or_ones(pa, 4)); }

// The 64-bit memory operand of VMXON/VMCLEAR/VMPTRLD; false: a fault was injected.
bool read_pointer_operand(Vcpu& v, uint64_t& ptr) {
  uint64_t la;
  if (!vmx_operand_address(v, vmcs_read32(F::VMX_INSTRUCTION_INFO), v.exit.qualification, la)) return false;
  return read_guest_linear(v, la, &ptr, sizeof(ptr));
}

// Outside 64-bit mode a register operand is 32 bits (SDM 30.3, VMREAD/VMWRITE).
uint64_t operand_mask() { return guest_64bit_code() ? ~0ull : 0xffffffffull; }
unsigned operand_bytes() { return guest_64bit_code() ? 8 : 4; }

void handle_vmxon(Vcpu& v, NestedVmx& n) {
  if (!(guest_cr4_view() & arch::cr4::VMXE)) return inject_exception(v, uint8_t(arch::Vector::UD));
  if (n.vmxon) {
    if (guest_cpl() > 0) return inject_exception(v, uint8_t(arch::Vector::GP), 0);
    return nested_vmx_fail(v, E::VMXON_IN_VMX_ROOT);
  }
  // CPL, and CR0/CR4 values VMX operation supports (the FIXED MSRs offered),
  // and IA32_FEATURE_CONTROL (always locked and enabled here): #GP(0).
  if (guest_cpl() > 0 || !nested_cr0_valid_in_vmx(v, guest_cr0_view()) ||
      !nested_cr4_valid_in_vmx(v, guest_cr4_view()))
    return inject_exception(v, uint8_t(arch::Vector::GP), 0);
  uint64_t ptr;
  if (!read_pointer_operand(v, ptr)) return;
  const uint32_t rev = region_revision(ptr);
  if (!valid_vmx_pointer(ptr) || (rev & vmcs_region::SHADOW_VMCS_INDICATOR) ||
      (rev & vmcs_region::REVISION_ID_MASK) != kVmcs12Revision)
    return nested_vmx_fail_invalid(v);
  n.vmxon = true;
  n.vmxon_ptr = ptr;
  n.cur = nullptr;
  shadow_vmcs_vmx_operation(v, true);
  nested_vmx_succeed(v);
}

void handle_vmxoff(Vcpu& v, NestedVmx& n) {
  nested_release_all_vmcs12(v);
  n.vmxon = false;
  shadow_vmcs_vmx_operation(v, false);
  nested_ept_drop();
  nested_vmx_succeed(v);
}

void handle_vmclear(Vcpu& v, NestedVmx& n) {
  uint64_t ptr;
  if (!read_pointer_operand(v, ptr)) return;
  if (!valid_vmx_pointer(ptr)) return nested_vmx_fail(v, E::VMCLEAR_INVALID_ADDRESS);
  if (ptr == n.vmxon_ptr) return nested_vmx_fail(v, E::VMCLEAR_VMXON_POINTER);
  bool held = false;
  for (const VmcsSlot& s : n.slots) held |= s.vmptr == ptr;
  if (held) {
    // Current or parked: its fields go back to its region, launch state clear.
    for (VmcsSlot& s : n.slots)
      if (s.vmptr == ptr) s.vmcs12.launched = false;
    nested_forget_vmcs12(v, ptr);
  } else if (auto* region = static_cast<uint8_t*>(guest_memory.hva(ptr, vmcs12_layout::SIZE))) {
    const uint32_t clear = 0;  // launch state "clear" (SDM 24.1)
    __builtin_memcpy(region + vmcs12_layout::LAUNCH_STATE, &clear, sizeof(clear));
  }
  nested_vmx_succeed(v);
}

void handle_vmptrld(Vcpu& v, NestedVmx& n) {
  uint64_t ptr;
  if (!read_pointer_operand(v, ptr)) return;
  if (!valid_vmx_pointer(ptr)) return nested_vmx_fail(v, E::VMPTRLD_INVALID_ADDRESS);
  if (ptr == n.vmxon_ptr) return nested_vmx_fail(v, E::VMPTRLD_VMXON_POINTER);
  // A shadow VMCS (bit 31) may be made current only where VMCS shadowing
  // is offered (SDM 30.3 VMPTRLD).
  const auto* region = static_cast<const uint8_t*>(guest_memory.hva(ptr, vmcs12_layout::SIZE));
  const uint32_t rev = region_revision(ptr);
  const bool shadow = rev & vmcs_region::SHADOW_VMCS_INDICATOR;
  const bool shadowing_offered = ctls_allowed1(n.caps.procbased2()) & proc_ctl2::VMCS_SHADOWING;
  if (!region || (rev & vmcs_region::REVISION_ID_MASK) != kVmcs12Revision || (shadow && !shadowing_offered))
    return nested_vmx_fail(v, E::VMPTRLD_INCORRECT_REVISION_ID);
  nested_make_current(v, ptr, region, shadow);
  nested_vmx_succeed(v);
}

void handle_vmptrst(Vcpu& v, NestedVmx& n) {
  uint64_t la;
  if (!vmx_operand_address(v, vmcs_read32(F::VMX_INSTRUCTION_INFO), v.exit.qualification, la)) return;
  const uint64_t current = n.current_vmptr();
  if (!write_guest_linear(v, la, &current, sizeof(current))) return;
  nested_vmx_succeed(v);
}

void handle_vmread(Vcpu& v, NestedVmx& n) {
  const uint32_t insn = vmcs_read32(F::VMX_INSTRUCTION_INFO);
  if (!n.cur) return nested_vmx_fail_invalid(v);
  const uint64_t encoding = v.gpr(unsigned(rw::REG2.get(insn))) & operand_mask();
  uint64_t value;
  if (!n.cur->vmcs12.vmread(encoding, value)) return nested_vmx_fail(v, E::UNSUPPORTED_VMCS_COMPONENT);
  value &= operand_mask();
  if (rw::MEM_REG.test(insn)) {
    v.set_gpr(unsigned(rw::REG1.get(insn)), value);
  } else {
    uint64_t la;
    if (!vmx_operand_address(v, insn, v.exit.qualification, la)) return;
    if (!write_guest_linear(v, la, &value, operand_bytes())) return;
  }
  nested_vmx_succeed(v);
}

void handle_vmwrite(Vcpu& v, NestedVmx& n) {
  const uint32_t insn = vmcs_read32(F::VMX_INSTRUCTION_INFO);
  if (!n.cur) return nested_vmx_fail_invalid(v);
  uint64_t value = 0;
  if (rw::MEM_REG.test(insn)) {
    value = v.gpr(unsigned(rw::REG1.get(insn))) & operand_mask();
  } else {
    uint64_t la;
    if (!vmx_operand_address(v, insn, v.exit.qualification, la)) return;
    if (!read_guest_linear(v, la, &value, operand_bytes())) return;
  }
  const uint64_t encoding = v.gpr(unsigned(rw::REG2.get(insn))) & operand_mask();
  if (!vmcs_field_known(encoding)) return nested_vmx_fail(v, E::UNSUPPORTED_VMCS_COMPONENT);
  if (vmcs_field_read_only(encoding) && !vmx_misc::VMWRITE_ANY_FIELD.test(n.caps.misc()))
    return nested_vmx_fail(v, E::VMWRITE_READ_ONLY_COMPONENT);
  n.cur->vmcs12.vmwrite(encoding, value);
  nested_vmx_succeed(v);
}

// The INVEPT/INVVPID type (a register) and 128-bit descriptor (memory);
// false: a fault was injected.
bool read_inv_operands(Vcpu& v, uint64_t& type, uint64_t desc[2]) {
  const uint32_t insn = vmcs_read32(F::VMX_INSTRUCTION_INFO);
  type = v.gpr(unsigned(inv::REG2.get(insn))) & operand_mask();
  uint64_t la;
  if (!vmx_operand_address(v, insn, v.exit.qualification, la)) return false;
  return read_guest_linear(v, la, desc, 16);
}

void handle_invept(Vcpu& v, NestedVmx& n) {
  const uint64_t cap = n.caps.ept_vpid_cap();
  if (!(ctls_allowed1(n.caps.procbased2()) & proc_ctl2::ENABLE_EPT) || !vmx_ept_vpid_cap::INVEPT.test(cap))
    return inject_exception(v, uint8_t(arch::Vector::UD));
  uint64_t type, desc[2];
  if (!read_inv_operands(v, type, desc)) return;
  const bool single = type == invept_type::SINGLE_CONTEXT && vmx_ept_vpid_cap::INVEPT_SINGLE_CONTEXT.test(cap);
  const bool all = type == invept_type::ALL_CONTEXT && vmx_ept_vpid_cap::INVEPT_ALL_CONTEXT.test(cap);
  if (!single && !all) return nested_vmx_fail(v, E::INVALID_INVEPT_INVVPID_OPERAND);
  if (single && !nestbed::common::vmx::check_eptp(desc[0], n.entry_caps).ok()) return nested_vmx_fail(v, E::INVALID_INVEPT_INVVPID_OPERAND);
  // EPT02 holds translations derived from one EPTP12: drop them all.
  nested_ept_drop();
  nested_vmx_succeed(v);
}

void handle_invvpid(Vcpu& v, NestedVmx& n) {
  const uint64_t cap = n.caps.ept_vpid_cap();
  if (!(ctls_allowed1(n.caps.procbased2()) & proc_ctl2::ENABLE_VPID) || !vmx_ept_vpid_cap::INVVPID.test(cap))
    return inject_exception(v, uint8_t(arch::Vector::UD));
  uint64_t type, desc[2];
  if (!read_inv_operands(v, type, desc)) return;
  const bool supported = type <= invvpid_type::SINGLE_CONTEXT_RETAINING_GLOBALS &&
                         ((cap >> (vmx_ept_vpid_cap::INVVPID_INDIVIDUAL_ADDRESS.lsb + type)) & 1);
  const uint64_t vpid = desc[0];
  if (!supported || (vpid >> 16) != 0) return nested_vmx_fail(v, E::INVALID_INVEPT_INVVPID_OPERAND);
  if (type != invvpid_type::ALL_CONTEXT && vpid == 0) return nested_vmx_fail(v, E::INVALID_INVEPT_INVVPID_OPERAND);
  if (type == invvpid_type::INDIVIDUAL_ADDRESS && !arch::is_canonical(desc[1]))
    return nested_vmx_fail(v, E::INVALID_INVEPT_INVVPID_OPERAND);
  // The vpid02 of that vpid12, or every vpid02 (all contexts): a whole
  // context flushes at least what was asked.
  nested_flush_vpid02(v, type == invvpid_type::ALL_CONTEXT ? 0 : uint16_t(vpid));
  nested_vmx_succeed(v);
}

}  // namespace

void emulate_vmx_instruction(Vcpu& v, NestedVmx& n, ExitReason reason);

void handle_vmx_instruction(Vcpu& v) {
  NestedVmx& n = v.nested;
  const auto reason = ExitReason(v.exit.basic);
  if (!n.enabled || reason == ExitReason::VMFUNC) return inject_exception(v, uint8_t(arch::Vector::UD));
  if (reason == ExitReason::VMXON) return handle_vmxon(v, n);
  // Every other VMX instruction: #UD outside VMX operation, #GP(0) at CPL > 0.
  if (!n.vmxon) return inject_exception(v, uint8_t(arch::Vector::UD));
  if (guest_cpl() > 0) return inject_exception(v, uint8_t(arch::Vector::GP), 0);
  // The guest hypervisor's shadowed VMWRITEs into vmcs12 first where the
  // instruction reads vmcs12 (VMREAD/VMWRITE here; VMLAUNCH/VMRESUME on
  // their way from vmcs01 to vmcs02, nested_vmx_run; VMCLEAR, VMXOFF and
  // a VMPTRLD that evicts it when vmcs12 goes back to memory,
  // write_back_slot), and whatever emulating it changes in vmcs12 back
  // into the shadow VMCS after. No other instruction changes a read-write
  // shadowed field of vmcs12, so none overwrites a newer value there.
  if (reason == ExitReason::VMREAD || reason == ExitReason::VMWRITE) copy_shadow_to_vmcs12(v);
  emulate_vmx_instruction(v, n, reason);
  copy_vmcs12_to_shadow(v);
}

void emulate_vmx_instruction(Vcpu& v, NestedVmx& n, ExitReason reason) {
  switch (reason) {
    case ExitReason::VMXOFF: return handle_vmxoff(v, n);
    case ExitReason::VMCLEAR: return handle_vmclear(v, n);
    case ExitReason::VMPTRLD: return handle_vmptrld(v, n);
    case ExitReason::VMPTRST: return handle_vmptrst(v, n);
    case ExitReason::VMREAD: return handle_vmread(v, n);
    case ExitReason::VMWRITE: return handle_vmwrite(v, n);
    case ExitReason::VMLAUNCH: return nested_vmx_run(v, true);
    case ExitReason::VMRESUME: return nested_vmx_run(v, false);
    case ExitReason::INVEPT: return handle_invept(v, n);
    case ExitReason::INVVPID: return handle_invvpid(v, n);
    default: return inject_exception(v, uint8_t(arch::Vector::UD));
  }
}

}  // namespace l1::nested
