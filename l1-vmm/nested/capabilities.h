// The VMX capability MSRs l1-vmm offers its guest hypervisor (SDM appendix
// A; KVM's nested_vmx_setup_ctls_msrs): the platform's own, restricted to
// what l1-vmm's nested VMX implements. Every feature l1-vmm itself uses is
// in the set, so the same binary runs one level further up; nothing is
// advertised that is not emulated exactly (README.md, "Nested VMX", lists
// what is left out and why).
//
// Freestanding and free of VMX instructions (host unit tests compile it).
#pragma once
#include <stdint.h>

#include "common/vmx/capabilities.h"
#include "runtime/vmx.h"

namespace l1::nested {

// The allowed-1 bits nested VMX implements, per control word. The
// allowed-0 bits are the platform's (a control the platform forces on is
// forced on for the guest hypervisor too).
namespace supported {
uint32_t pin(bool offer_posted_interrupts);
uint32_t proc();
uint32_t proc2(bool shadowing);
uint32_t exit();
uint32_t entry();
uint64_t ept_vpid_cap();
uint64_t misc_mask();
}  // namespace supported

struct NestedCapabilities {
  // IA32_VMX_BASIC (0x480) .. IA32_VMX_VMFUNC (0x491), by index - 0x480;
  // present[i] false: that MSR does not exist for the guest (#GP).
  uint64_t value[0x12];
  bool present[0x12];

  // RDMSR of a VMX capability MSR; false: #GP.
  bool read(uint32_t index, uint64_t& v) const;
  // The true controls software follows (SDM A.2).
  uint64_t pinbased() const;
  uint64_t procbased() const;
  uint64_t procbased2() const;
  uint64_t exit() const;
  uint64_t entry() const;
  uint64_t misc() const;
  uint64_t ept_vpid_cap() const;
  uint64_t cr0_fixed0() const;
  uint64_t cr0_fixed1() const;
  uint64_t cr4_fixed0() const;
  uint64_t cr4_fixed1() const;

  // The same values as the VM-entry checks take them (common/vmx/entry_checks.h).
  nestbed::common::vmx::VmxCapabilities for_entry_checks() const;
};

// From the platform's capabilities (what l1-vmm reads at boot).
// offer_shadowing: VMCS shadowing (emulated, nested/shadow_vmcs.h) is offered.
// offer_posted_interrupts: false where l1-vmm takes every external
// interrupt itself (exit_intr), which a notification vector would be.
NestedCapabilities make_nested_capabilities(const rt::vmx::Capabilities& platform, bool offer_shadowing,
                                            bool offer_posted_interrupts = true);

}  // namespace l1::nested
