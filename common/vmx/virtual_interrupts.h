// Virtual-interrupt delivery (SDM 29.1-29.2): the operations on the
// virtual-APIC page and the guest interrupt status (RVI, SVI; VMCS field
// 0810H) that the processor performs with the "virtual-interrupt
// delivery" VM-execution control. The sim runs them in VMX non-root
// operation; l1-vmm runs them where it emulates the processor for its
// guest hypervisor (the x2APIC MSRs of level k+2, which vmcs02 cannot let
// through). Freestanding: the page comes in as two functions.
#pragma once
#include <stdint.h>

namespace nestbed::common::vmx {

// The virtual-APIC page, 32 bits at a page offset.
struct VirtualApicPage {
  uint32_t (*read32)(void* opaque, unsigned offset);
  void (*write32)(void* opaque, unsigned offset, uint32_t value);
  void* opaque;
  uint32_t read(unsigned offset) const { return read32(opaque, offset); }
  void write(unsigned offset, uint32_t value) const { write32(opaque, offset, value); }
};

// PPR virtualization (SDM 29.1.3): VPPR from VTPR and SVI.
void ppr_virtualization(const VirtualApicPage& page, uint16_t status);
// Evaluation of pending virtual interrupts (SDM 29.2.1): is a virtual
// interrupt recognized? Only VM entry, TPR, EOI and self-IPI virtualization
// and posted-interrupt processing evaluate.
bool evaluate_pending_virtual_interrupts(const VirtualApicPage& page, uint16_t status, bool interrupt_window_exiting);
// EOI virtualization (SDM 29.1.4) up to its last step: VISR[SVI] cleared,
// SVI the next highest in-service vector, PPR virtualization. Returns the
// vector whose EOI it was; the caller then makes the EOI-induced VM exit
// if eoi_exit_bitmap_bit says so, else evaluates pending virtual interrupts.
uint8_t eoi_virtualization(const VirtualApicPage& page, uint16_t& status);
// Self-IPI virtualization (SDM 29.1.5) before its evaluation: VIRR[vector]
// set, RVI raised to the vector.
void self_ipi_virtualization(const VirtualApicPage& page, uint16_t& status, uint8_t vector);
// Virtual-interrupt delivery (SDM 29.2.2) of the recognized interrupt:
// VISR, SVI, VPPR, VIRR and RVI updated; returns the vector to deliver
// through the guest's IDT.
uint8_t deliver_virtual_interrupt(const VirtualApicPage& page, uint16_t& status);

// Posted-interrupt processing's steps 5-6 (SDM 29.6): the PIR words
// (already read and cleared in the descriptor) ORed into VIRR, RVI raised
// to the highest posted vector (unchanged if none). Evaluation follows.
void post_interrupts(const VirtualApicPage& page, uint16_t& status, const uint32_t pir[8]);

// The EOI-exit bitmap (SDM 24.6.8): EOI_EXIT_BITMAP0-3 hold vectors 0-63,
// 64-127, 128-191, 192-255.
constexpr bool eoi_exit_bitmap_bit(const uint64_t bitmap[4], uint8_t vector) {
  return (bitmap[vector >> 6] >> (vector & 63)) & 1;
}

// APIC-write emulation of a write to VICR_LO (300H) with virtual-interrupt
// delivery (SDM 29.4.3.2): a self-IPI is virtualized if the reserved bits
// (31:20, 17:16, 13) and the delivery status (12) are 0, the shorthand is
// self (01B), the trigger mode edge (0), the delivery mode fixed (000B)
// and the vector's bits 7:4 are not 0000B. Otherwise an APIC-write exit.
constexpr bool icr_is_virtualized_self_ipi(uint32_t icr_low) {
  constexpr uint32_t must_be_zero = 0xfff00000u | (3u << 16) | (1u << 15) | (1u << 13) | (1u << 12) | (7u << 8);
  return (icr_low & must_be_zero) == 0 && ((icr_low >> 18) & 3) == 1 && (icr_low & 0xf0) != 0;
}

}  // namespace nestbed::common::vmx
