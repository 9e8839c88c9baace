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

// Flushes the translations level k+2 has cached under vpid02.
void nested_flush_vpid02(Vcpu& v);

// The guest-state fields vmcs02 takes from vmcs12 as they are, and gives back.
extern const arch::vmx::VmcsField kGuestStateCopied[];
extern const unsigned kGuestStateCopiedCount;

void vmptrld_or_die(uint64_t pa, const char* what);

// The reflected exit (nested_exit.cpp): level k+1 sees a VM exit of level
// k+2 with this reason and qualification; the other exit-information
// fields come from vmcs02 (hardware's) unless the caller set them in
// vmcs12 already and passes own_exit_info.
void nested_vmx_vmexit(Vcpu& v, uint32_t reason, uint64_t qualification, bool own_exit_info = false);

}  // namespace l1::nested
