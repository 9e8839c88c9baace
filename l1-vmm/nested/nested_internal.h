// What the files of nested/ share among themselves (not for the rest of
// l1-vmm: nested.h is its interface).
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "l1-vmm/nested/nested.h"

namespace l1::nested {


// How an emulated VMX instruction ends (SDM 30.2), RIP past it:
// VMsucceed; VMfailInvalid; VMfail(n): VMfailValid with the error in
// vmcs12 if there is a current VMCS, else VMfailInvalid.
void nested_vmx_succeed(Vcpu& v);
void nested_vmx_fail_invalid(Vcpu& v);
void nested_vmx_fail(Vcpu& v, arch::vmx::VmInstructionError error);

// Writes the current vmcs12 back to the guest's memory; no current VMCS after.
void nested_release_vmcs12(Vcpu& v);
// VMCLEAR: the vmcs12 at `vmptr`, current or parked, back to the guest's
// memory, and forgotten.
void nested_forget_vmcs12(Vcpu& v, uint64_t vmptr);
// VMXOFF: every vmcs12 back to the guest's memory.
void nested_release_all_vmcs12(Vcpu& v);
// VMPTRLD: `vmptr` (whose region is `region`) becomes current, from its
// slot if l1-vmm holds it, else loaded; false if it was current already.
bool nested_make_current(Vcpu& v, uint64_t vmptr, const uint8_t* region, bool is_shadow);

// VMLAUNCH (launch) or VMRESUME of vmcs12 (nested_vmx.cpp).
void nested_vmx_run(Vcpu& v, bool launch);

// Flushes the translations level k+2 has cached under the vpid02 of
// `vpid12`, or under every vpid02 (vpid12 = 0).
void nested_flush_vpid02(Vcpu& v, uint16_t vpid12);

// Guest-state fields copied from vmcs12 to vmcs02 as they are, and back at
// a nested VM exit (SDM 24.4). CR0/CR4, EFER, PAT, DR7/DEBUGCTL and the
// preemption timer are merged (prepare_vmcs02, sync_vmcs02_to_vmcs12).
namespace guest_state_copied {
using F = VmcsField;
inline constexpr F kFields[] = {
    F::GUEST_ES_SELECTOR, F::GUEST_CS_SELECTOR, F::GUEST_SS_SELECTOR, F::GUEST_DS_SELECTOR,
    F::GUEST_FS_SELECTOR, F::GUEST_GS_SELECTOR, F::GUEST_LDTR_SELECTOR, F::GUEST_TR_SELECTOR,
    F::GUEST_ES_LIMIT, F::GUEST_CS_LIMIT, F::GUEST_SS_LIMIT, F::GUEST_DS_LIMIT, F::GUEST_FS_LIMIT,
    F::GUEST_GS_LIMIT, F::GUEST_LDTR_LIMIT, F::GUEST_TR_LIMIT, F::GUEST_GDTR_LIMIT, F::GUEST_IDTR_LIMIT,
    F::GUEST_ES_AR_BYTES, F::GUEST_CS_AR_BYTES, F::GUEST_SS_AR_BYTES, F::GUEST_DS_AR_BYTES,
    F::GUEST_FS_AR_BYTES, F::GUEST_GS_AR_BYTES, F::GUEST_LDTR_AR_BYTES, F::GUEST_TR_AR_BYTES,
    F::GUEST_ES_BASE, F::GUEST_CS_BASE, F::GUEST_SS_BASE, F::GUEST_DS_BASE, F::GUEST_FS_BASE,
    F::GUEST_GS_BASE, F::GUEST_LDTR_BASE, F::GUEST_TR_BASE, F::GUEST_GDTR_BASE, F::GUEST_IDTR_BASE,
    F::GUEST_CR3, F::GUEST_RSP, F::GUEST_RIP, F::GUEST_RFLAGS, F::GUEST_INTERRUPTIBILITY_INFO,
    F::GUEST_ACTIVITY_STATE, F::GUEST_PENDING_DBG_EXCEPTIONS, F::GUEST_SYSENTER_CS, F::GUEST_SYSENTER_ESP,
    F::GUEST_SYSENTER_EIP, F::GUEST_PDPTR0, F::GUEST_PDPTR1, F::GUEST_PDPTR2, F::GUEST_PDPTR3,
};
}  // namespace guest_state_copied
inline constexpr const auto& kGuestStateCopied = guest_state_copied::kFields;
inline constexpr unsigned kGuestStateCopiedCount = sizeof(kGuestStateCopied) / sizeof(kGuestStateCopied[0]);

void vmptrld_or_die(uint64_t pa, const char* what);

// The reflected exit (nested_exit.cpp): level k+1 sees a VM exit of level
// k+2 with this reason and qualification; the other exit-information
// fields come from vmcs02 (hardware's) unless the caller set them in
// vmcs12 already and passes own_exit_info.
void nested_vmx_vmexit(Vcpu& v, uint32_t reason, uint64_t qualification, bool own_exit_info = false);

// Level k+2's RDMSR (write false) or WRMSR that level k+1 does not
// intercept: true if vmcs12's x2APIC virtualization covers it (the TPR,
// reads with APIC-register virtualization, EOI and SELF IPI with
// virtual-interrupt delivery) and it is done (apic_virt.cpp); false: an
// ordinary MSR access for l1-vmm to carry out.
bool nested_x2apic_access(Vcpu& v, bool write);

}  // namespace l1::nested
