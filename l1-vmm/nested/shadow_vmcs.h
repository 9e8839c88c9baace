// VMCS shadowing, both ways (SDM 24.10; KVM's enable_shadow_vmcs):
//
//  - used: when the platform offers it (shadow_vmcs=1), the guest
//    hypervisor's VMREADs of the fields of arch/vmx/shadow_fields.def, and
//    VMWRITEs of the read-write ones, run without a VM exit against a
//    platform shadow VMCS linked from vmcs01, which l1-vmm keeps equal to
//    the current vmcs12: copy_vmcs12_to_shadow when vmcs12 changes under
//    the guest hypervisor (a nested VM exit, an emulated instruction),
//    copy_shadow_to_vmcs12 before l1-vmm uses vmcs12 (any emulated VMX
//    instruction, VMLAUNCH/VMRESUME among them). Both copy only what
//    differs from what the shadow VMCS is known to hold.
//
//  - offered: the guest hypervisor may enable "VMCS shadowing" in vmcs12
//    for its own guest, with its VMREAD/VMWRITE bitmaps and a shadow VMCS
//    in its memory. A VMREAD/VMWRITE of that guest which the bitmaps let
//    through is carried out here, on the shadow VMCS region, by the level
//    that sees the exit: no trip through the guest hypervisor.
#pragma once
#include <stdint.h>

namespace l1 {
struct Vcpu;
}

namespace l1::nested {

struct VmcsSlot;

// Boot: the bitmaps and the shadow VMCS, when the platform and the option allow.
void shadow_vmcs_setup(Vcpu& v);

// The guest's VMXON (on) and VMXOFF (off): shadowing in vmcs01 follows.
void shadow_vmcs_vmx_operation(Vcpu& v, bool on);

// A vmcs12 became current (VMPTRLD): link the shadow VMCS, filled from it.
void shadow_vmcs_activate(Vcpu& v);
// No current vmcs12 any more (VMCLEAR, VMPTRLD of another, VMXOFF): unlink.
void shadow_vmcs_deactivate(Vcpu& v);

// The guest hypervisor's shadowed VMWRITEs into vmcs12 (before l1-vmm
// reads vmcs12), and vmcs12's changes into the shadow VMCS (after l1-vmm
// wrote vmcs12). No-ops when shadowing is not in use.
//
// Each VMPTRLD is a VM exit when l1-vmm itself runs nested, so the
// callers that switch VMCS right after say which VMCS they want current
// at the end (`next`, 0: the one current before); copy_shadow_to_vmcs12
// with keep_shadow_current leaves the shadow VMCS current, and returns
// whether it did (the caller then makes its VMCS current itself).
bool copy_shadow_to_vmcs12(Vcpu& v, bool keep_shadow_current = false);
void copy_vmcs12_to_shadow(Vcpu& v, uint64_t next = 0);

// Entering level k+2 (vmcs02 current, prepared): if vmcs12 uses VMCS
// shadowing with a shadow VMCS l1-vmm holds, link its platform shadow VMCS
// from vmcs02 so level k+2's VMREAD/VMWRITE run without exits; else unlink.
void shadow_vmcs_on_nested_entry(Vcpu& v);

// What level k+2 may have VMWRITTEN into `slot`'s platform shadow VMCS
// through vmcs02's link, into its vmcs12: before l1-vmm uses that vmcs12.
void shadow_vmcs_sync_slot(Vcpu& v, VmcsSlot& slot);

// A VMREAD/VMWRITE of level k+2 (vmcs02 current) that vmcs12's VMCS
// shadowing lets through: true if it was carried out here.
bool nested_shadowed_vmread_vmwrite(Vcpu& v);

}  // namespace l1::nested
