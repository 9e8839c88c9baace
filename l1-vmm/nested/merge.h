// vmcs12 merged with l1-vmm's own needs into vmcs02's values (KVM's
// prepare_vmcs02_early and the CR0/CR4 rules of prepare_vmcs02, and their
// inverse at a nested VM exit): pure functions of field values, so the host
// unit tests check them case by case. nested_vmx.cpp and nested_exit.cpp
// write and read the VMCSs around them.
#pragma once
#include <stdint.h>

#include "l1-vmm/nested/vmcs12.h"

namespace l1::nested {

// What l1-vmm itself asks of any VMCS it runs a guest on: the control
// words chosen from the platform's capabilities (vmx/vmcs_config.h), its
// options, and the platform's exit/entry capability MSRs (so that merged
// words stay within what the platform allows).
struct OwnNeeds {
  uint32_t pin, proc, exit, entry;  // l1-vmm's chosen controls (VmcsConfig)
  uint64_t platform_exit_caps, platform_entry_caps;
  uint32_t exit_exc;                // option exit_exc: l1-vmm's exception bitmap
  uint32_t preempt;                 // option preempt: l1-vmm's timer value
  bool vpid;                        // l1-vmm runs its guests with VPID
  bool interrupts_owed;             // l1-vmm holds external interrupts for the guest
};

struct Vmcs02Controls {
  uint32_t pin, proc, proc2, exit, entry;
  uint32_t exception_bitmap, pf_error_code_mask, pf_error_code_match;
  bool timer;                 // pin has the preemption timer; timer_value is its value
  uint64_t timer_value;
  bool ept12;                 // vmcs12 enables EPT: vmcs02 runs on EPT02, else on EPT01
};

// The control words of vmcs02. Every I/O instruction and every RDMSR/WRMSR
// exits (vmcs12's bitmaps are consulted at the exit, reflect.h); EPT is
// always on; VPID when l1-vmm uses it.
Vmcs02Controls merge_controls(const Vmcs12& vmcs12, const OwnNeeds& own);

// CR0 or CR4 of vmcs02 from vmcs12's guest value, mask and read shadow and
// l1-vmm's own mask: a bit either level owns exits; level k+2 reads
// vmcs12's shadow for the bits level k+1 owns, its own value for the rest.
struct MergedCr {
  uint64_t value, mask, shadow;
};
MergedCr merge_cr(uint64_t guest12, uint64_t mask12, uint64_t shadow12, uint64_t own_mask);

// The inverse at a nested VM exit (KVM's vmcs12_guest_cr0): the value
// level k+1 finds in vmcs12 — bits nobody intercepts from the register,
// the bits level k+1 owns as it left them, the bits only l1-vmm owns from
// vmcs02's read shadow.
uint64_t vmcs12_guest_cr(uint64_t cr02, uint64_t shadow02, uint64_t mask02, uint64_t cr12, uint64_t mask12);

}  // namespace l1::nested
