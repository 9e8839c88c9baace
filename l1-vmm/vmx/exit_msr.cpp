// RDMSR and WRMSR. The MSR bitmap passes every MSR through except the ones
// that tell whether VMX exists: IA32_FEATURE_CONTROL reads as locked with
// VMX outside SMX enabled, and the VMX capability MSRs report what nested/
// offers (nested/capabilities.h); with nested=0, FEATURE_CONTROL reads as
// locked with VMX off and the capability MSRs raise #GP, as on a processor
// without VMX. MSRs outside the bitmap's two ranges always exit (SDM
// 24.6.9): those are forwarded, l1-vmm doing the access and passing a #GP
// on to the guest.
//
// The last-branch-record MSRs (LBR stack, TOS, LBR_SELECT, LER) pass
// through, as KVM's vmx passes them through to a guest it gives the LBRs:
// IA32_DEBUGCTL is switched by the VMCS (VM exits clear it, "load debug
// controls" loads the guest's), so the stack records the guest's branches
// and never l1-vmm's, and needs no saving while l1-vmm runs one guest.
#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/control_regs.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {
namespace {

namespace msr = arch::msr;
namespace bitmap = arch::vmx::msr_bitmap;

bool is_vmx_capability_msr(uint32_t index) { return index >= msr::IA32_VMX_BASIC && index <= msr::IA32_VMX_VMFUNC; }

void intercept(uint8_t* page, uint32_t index, bool write) {
  const int byte = bitmap::byte_offset(index, write);
  if (byte >= 0) page[byte] |= uint8_t(1u << bitmap::bit_in_byte(index));
}

// Both RDMSR and WRMSR of `index` exit.
void intercept(uint8_t* page, uint32_t index) {
  intercept(page, index, false);
  intercept(page, index, true);
}

uint64_t edx_eax(const Vcpu& v) { return (v.regs.gpr[RDX] << 32) | uint32_t(v.regs.gpr[RAX]); }

void gp(Vcpu& v) { inject_exception(v, uint8_t(arch::Vector::GP), 0); }

}  // namespace

// The MSRs VM entries and exits switch through the guest-state area (SDM
// 24.4.1), and where the current VMCS keeps them. While the guest
// hypervisor's guest runs on vmcs02 every RDMSR/WRMSR exits (nested/), and
// an access level + 1 lets through reaches these in vmcs02, where the
// processor keeps level + 2's values; nested/ loads and stores the MSR lists
// of vmcs12 the same way.
bool vmcs_switched_msr(const Vcpu& v, uint32_t index, VmcsField& field) {
  switch (index) {
    case msr::IA32_EFER: field = VmcsField::GUEST_IA32_EFER; return true;
    case msr::IA32_PAT: field = VmcsField::GUEST_IA32_PAT; return (v.config.entry & arch::vmx::entry_ctl::LOAD_PAT);
    case msr::IA32_SYSENTER_CS: field = VmcsField::GUEST_SYSENTER_CS; return true;
    case msr::IA32_SYSENTER_ESP: field = VmcsField::GUEST_SYSENTER_ESP; return true;
    case msr::IA32_SYSENTER_EIP: field = VmcsField::GUEST_SYSENTER_EIP; return true;
    case msr::IA32_FS_BASE: field = VmcsField::GUEST_FS_BASE; return true;
    case msr::IA32_GS_BASE: field = VmcsField::GUEST_GS_BASE; return true;
    case msr::IA32_DEBUGCTL: field = VmcsField::GUEST_IA32_DEBUGCTL; return true;
    default: return false;
  }
}

// WRMSR of a VMCS-switched MSR: the #GP cases of WRMSR for these (SDM vol.
// 4; 2.2.1 for EFER: reserved bits, and LMA, which WRMSR cannot change).
bool write_switched_msr(uint32_t index, VmcsField field, uint64_t value) {
  if (index == msr::IA32_EFER) {
    const uint64_t old = vmcs_read(field);
    if ((value & arch::efer::RESERVED) || ((value ^ old) & arch::efer::LMA)) return false;
  } else if ((index == msr::IA32_FS_BASE || index == msr::IA32_GS_BASE || index == msr::IA32_SYSENTER_ESP ||
              index == msr::IA32_SYSENTER_EIP) && !arch::is_canonical(value)) {
    return false;
  } else if (index == msr::IA32_DEBUGCTL && (value & ~msr::DEBUGCTL_IMPLEMENTED)) {
    return false;  // bits the platform refuses (and VM entry would too)
  }
  vmcs_write(field, value);
  return true;
}


uint64_t setup_msr_bitmap() {
  const uint64_t page = mm::alloc_page_or_die("the MSR bitmap");  // cleared: everything passes through
  auto* bits = reinterpret_cast<uint8_t*>(page);
  intercept(bits, msr::IA32_FEATURE_CONTROL);
  for (uint32_t i = msr::IA32_VMX_BASIC; i <= msr::IA32_VMX_VMFUNC; i++) intercept(bits, i);
  return page;
}

void handle_rdmsr(Vcpu& v) {
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  uint64_t value;
  VmcsField field;
  if (v.nested.guest_mode && vmcs_switched_msr(v, index, field)) {
    value = vmcs_read(field);
  } else if (index == msr::IA32_FEATURE_CONTROL) {
    value = nested::nested_feature_control(v);
  } else if (is_vmx_capability_msr(index)) {
    if (!v.nested.enabled || !v.nested.caps.read(index, value)) return gp(v);
  } else if (!rdmsr_safe(index, value)) {
    return gp(v);  // a fault: RIP stays at the RDMSR
  }
  v.regs.gpr[RAX] = uint32_t(value);
  v.regs.gpr[RDX] = value >> 32;
  skip_emulated_instruction(v);
}

void handle_wrmsr(Vcpu& v) {
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  // IA32_FEATURE_CONTROL is locked (SDM 23.7); the capability MSRs are read-only.
  VmcsField field;
  if (v.nested.guest_mode && vmcs_switched_msr(v, index, field)) {
    if (!write_switched_msr(index, field, edx_eax(v))) return gp(v);
  } else if (index == msr::IA32_FEATURE_CONTROL || is_vmx_capability_msr(index) || !wrmsr_safe(index, edx_eax(v))) {
    return gp(v);
  }
  skip_emulated_instruction(v);
}

}  // namespace l1
