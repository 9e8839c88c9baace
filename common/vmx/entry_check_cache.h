// The VM-entry checks (SDM 26.2-26.3) of one VMCS with what passed
// remembered, for a VMM that enters the same VMCS again and again: the sim
// at each VMLAUNCH/VMRESUME, l1-vmm at each nested entry of its guest
// hypervisor's vmcs12. Checks whose fields have not changed since they
// passed pass again, so only those that read a changed field, or memory,
// run.
//
// The VMCS counts its own changes (EntryCheckVersions): any change of a
// control or host-state field, and any change of a guest field that the
// checks of the guest's registers read (kGuestRegisterFields). Equal
// counts mean equal fields. Freestanding (l1-vmm compiles it too).
#pragma once
#include <stdint.h>

#include "arch/vmx/vmcs_fields.h"
#include "common/vmx/entry_checks.h"

namespace nestbed::common::vmx {

// A set of VMCS slots (arch::vmx::vmcs_field_slot), one bit each.
struct VmcsSlotSet {
  static constexpr unsigned kWords = (arch::vmx::kVmcsFieldCount + 63) / 64;
  uint64_t bits[kWords];
  constexpr bool has(unsigned s) const { return (bits[s / 64] >> (s % 64)) & 1; }
};

namespace detail {
constexpr VmcsSlotSet make_guest_register_slots() {
  VmcsSlotSet t{};
  for (arch::vmx::VmcsField f : kGuestRegisterFields) {
    const unsigned s = unsigned(arch::vmx::vmcs_field_slot(f));
    t.bits[s / 64] |= 1ull << (s % 64);
  }
  return t;
}
}  // namespace detail

// The slots of the guest fields the checks of the guest's registers read
// (SDM 26.3.1.1-26.3.1.3).
inline constexpr VmcsSlotSet kGuestRegisterSlots = detail::make_guest_register_slots();

class EntryCheckVersions {
 public:
  // Whether a change of slot `s` moves a counter (a constant for a slot
  // known at compile time, so writes of other fields cost nothing).
  static constexpr bool tracked(unsigned s) { return controls_or_host(s) || kGuestRegisterSlots.has(s); }

  // Slot `s` took a new value.
  void note_change(unsigned s) {
    if (controls_or_host(s)) controls_and_host_++;
    if (kGuestRegisterSlots.has(s)) guest_registers_++;
  }
  // Every field may have changed (a VMCS loaded from memory).
  void note_all_changed() {
    controls_and_host_++;
    guest_registers_++;
  }

  // The changes of the control and host-state fields (SDM 26.2).
  uint64_t controls_and_host() const { return controls_and_host_; }
  // The changes of the fields of kGuestRegisterFields.
  uint64_t guest_registers() const { return guest_registers_; }

 private:
  static constexpr bool controls_or_host(unsigned s) {
    const auto type = arch::vmx::vmcs_encoding_type(arch::vmx::kVmcsFieldEncodings[s]);
    return type == arch::vmx::VmcsType::CONTROL || type == arch::vmx::VmcsType::HOST;
  }
  uint64_t controls_and_host_ = 1;  // never 0, which a fresh EntryCheckCache holds
  uint64_t guest_registers_ = 1;
};

class EntryCheckCache {
 public:
  // check_vm_entry's result for `vmcs`, whose counters are `versions`:
  //  - the checks of the controls and host state (26.2) when a control or
  //    host-state field changed since they passed, or the processor's
  //    IA-32e mode (ctx.cpu_in_ia32e_mode) did; else only the two parts
  //    of them that read more than those fields: VTPR in memory (the TPR
  //    threshold) and the entry controls' event-injection checks, which
  //    read guest CR0;
  //  - the checks of the guest's registers (26.3.1.1-26.3.1.3) when one of
  //    their fields, a control or RFLAGS.VM changed since they passed;
  //  - the rest of the guest-state checks (RIP, RFLAGS, non-register
  //    state, PDPTEs in memory) always.
  // The first failure in SDM order wins, as with check_vm_entry: a check
  // skipped would have passed.
  EntryCheckResult check(VmcsView vmcs, const EntryCheckContext& ctx, const EntryCheckVersions& versions);

 private:
  uint64_t controls_version_ = 0;  // 0: not passed
  bool controls_ia32e_ = false;
  uint64_t registers_version_ = 0, registers_controls_version_ = 0;  // 0: not passed
  bool registers_vm86_ = false;
};

}  // namespace nestbed::common::vmx
