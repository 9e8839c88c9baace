// vmcs01: the VMCS l1-vmm runs its guest on (DESIGN.md §1). Set up once at
// boot with the chosen controls, l1-vmm's host state and the guest in the
// state Multiboot promises (spec 3.2): 32-bit protected mode, paging off,
// flat segments, interrupts off, EAX = the magic, EBX = the info.
#pragma once
#include <stdint.h>

#include "l1-vmm/boot/multiboot_guest.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1 {

// VMXON: IA32_FEATURE_CONTROL (set and locked if the firmware left it
// open, as a BIOS would), CR0/CR4 made to fit the VMX fixed bits (CR4.VMXE),
// the VMXON region (SDM 23.7, 23.8, 24.11.5). Ends the run (L1_NO_VMX) if
// VMX cannot be entered.
void hardware_enable(const VmcsConfig& config);

// Allocates vmcs01, makes it current and writes every field (KVM's
// init_vmcs + vmx_vcpu_reset for the Multiboot state).
void init_vmcs01(Vcpu& v, const GuestBoot& boot);

// The guest-owned and l1-vmm-owned bits of CR0 and CR4 (SDM 25.3): a bit
// l1-vmm owns is one VMX fixes (CR0.NE, CR4.VMXE: fixed to 1 in VMX
// operation, the guest reads its own value from the read shadow) or one
// the processor cannot set in VMX operation. Unrestricted guest frees
// CR0.PE and CR0.PG (SDM 26.3.1.1).
uint64_t cr0_guest_host_mask(const VmcsConfig& c);
uint64_t cr4_guest_host_mask(const VmcsConfig& c);
// The value the processor runs with for the guest's `guest_value`.
uint64_t cr0_for_guest(const VmcsConfig& c, uint64_t guest_value);
uint64_t cr4_for_guest(const VmcsConfig& c, uint64_t guest_value);

}  // namespace l1
