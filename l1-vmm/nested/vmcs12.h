// vmcs12: the VMCS the guest hypervisor (level k+1) builds for its own guest
// (level k+2), as l1-vmm at level k emulates it (KVM's struct vmcs12).
//
// The region lives in the guest hypervisor's memory, 4 KiB, in a layout of
// l1-vmm's own (the SDM leaves a VMCS's data implementation-specific, SDM
// 24.2), generated from the one field table arch/vmx/vmcs_fields.def:
//
//   offset 0   revision identifier (kVmcs12Revision; bit 31 the shadow-VMCS indicator)
//   offset 4   VMX-abort indicator
//   offset 8   launch state (0 clear, 1 launched)
//   offset 16  every field of the table, 8 bytes each, at 16 + 8 * slot
//              (arch::vmx::vmcs_field_slot), in appendix B order
//
// While a vmcs12 is current it is cached here (l1-vmm's memory): VMREAD and
// VMWRITE work on the cache, VMCLEAR and VMPTRLD of another VMCS and VMXOFF
// write it back (SDM 24.11.1 allows the processor exactly this).
//
// Freestanding and free of VMX instructions, so the host unit tests compile
// it too.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "common/vmx/entry_check_cache.h"
#include "common/vmx/entry_checks.h"

namespace l1::nested {

using arch::vmx::VmcsField;

// The revision identifier l1-vmm's VMCS layout reports in IA32_VMX_BASIC
// (bits 30:0). It differs from the platform's, so a guest that passes a
// platform VMCS (or garbage) to VMPTRLD is told so (VM-instruction error 11).
inline constexpr uint32_t kVmcs12Revision = 0x4e4c3132u & 0x7fffffffu;  // "21LN"

namespace vmcs12_layout {
inline constexpr unsigned REVISION = 0;
inline constexpr unsigned ABORT = 4;
inline constexpr unsigned LAUNCH_STATE = 8;
inline constexpr unsigned FIELDS = 16;
inline constexpr unsigned SIZE = FIELDS + 8 * arch::vmx::kVmcsFieldCount;
static_assert(SIZE <= arch::vmx::vmcs_region::MAX_SIZE, "vmcs12 must fit the 4 KiB region it advertises");
}  // namespace vmcs12_layout

// Sets of vmcs12 slots (arch::vmx::vmcs_field_slot), one bit each.
namespace vmcs12_slots {
inline constexpr unsigned kWords = nestbed::common::vmx::VmcsSlotSet::kWords;
}  // namespace vmcs12_slots

class Vmcs12 {
 public:
  // Field access by enum (l1-vmm's own reads and writes: no width checks).
  uint64_t get(VmcsField f) const { return field_[slot(f)]; }
  uint32_t get32(VmcsField f) const { return uint32_t(field_[slot(f)]); }
  void set(VmcsField f, uint64_t v) { set_slot(slot(f), v & arch::vmx::width_mask(f)); }
  bool test(VmcsField f, uint64_t bits) const { return (get(f) & bits) != 0; }
  // By slot, with a value already cut to the field's width (as VMREAD
  // returns it): the nested exit's copy of vmcs02's guest state.
  void set_slot(unsigned s, uint64_t v) {
    if (field_[s] == v) return;
    field_[s] = v;
    note_change(s);
  }

  // VMREAD/VMWRITE semantics by encoding (SDM 30.3): false for an encoding
  // that is not a field (VM-instruction error 12). A HIGH encoding moves
  // bits 63:32 of its 64-bit field; values are cut to the field's width.
  // vmwrite() marks the field dirty: the guest hypervisor changed it since
  // vmcs02 was last prepared from this vmcs12.
  bool vmread(uint64_t encoding, uint64_t& value) const;
  bool vmwrite(uint64_t encoding, uint64_t value);

  // The fields written by vmwrite() since the last clear_dirty(), by slot.
  template <typename Fn>
  void for_each_dirty(Fn fn) const {
    for (unsigned w = 0; w < kDirtyWords; w++)
      for (uint64_t bits = dirty_[w]; bits; bits &= bits - 1) fn(w * 64 + unsigned(__builtin_ctzll(bits)));
  }
  void clear_dirty() {
    for (uint64_t& d : dirty_) d = 0;
  }

  // The fields whose value changed since the last clear_changed(), by slot
  // (every field after load()): what the shadow VMCS must be told
  // (KVM's copy_vmcs12_to_shadow copies them all; this copies only these).
  template <typename Fn>
  void for_each_changed(Fn fn) const {
    for (unsigned w = 0; w < kDirtyWords; w++)
      for (uint64_t bits = changed_[w]; bits; bits &= bits - 1) fn(w * 64 + unsigned(__builtin_ctzll(bits)));
  }
  void clear_changed() {
    for (uint64_t& d : changed_) d = 0;
  }

  // Counts the changes of the fields the VM-entry checks of controls and
  // host state read (SDM 26.2: the control and host-state fields): equal
  // counts, equal fields, so checks that passed before pass again.
  uint64_t controls_and_host_version() const { return versions_.controls_and_host(); }
  // The same for the guest fields the checks of the guest's registers read
  // (common::vmx::kGuestRegisterFields).
  uint64_t guest_registers_version() const { return versions_.guest_registers(); }
  // Both, for the VM-entry checks' cache (common/vmx/entry_check_cache.h).
  const nestbed::common::vmx::EntryCheckVersions& versions() const { return versions_; }

  // The fields in slot order (arch::vmx::vmcs_field_slot), for the VM-entry
  // checks' view (common/vmx/entry_checks.h).
  const uint64_t* fields() const { return field_; }

  // The region <-> cache copies, over the guest's memory at `region`
  // (a host pointer to its 4 KiB).
  void load(const uint8_t* region);
  void store(uint8_t* region) const;

  bool launched = false;

  // VMREAD/VMWRITE semantics straight on a region in the guest's memory
  // (`region`, its 4 KiB), without caching it: a shadow VMCS the guest
  // hypervisor links for its own guest (SDM 24.10), read and written by the
  // level that sees that guest's VMREAD/VMWRITE.
  static bool region_vmread(const uint8_t* region, uint64_t encoding, uint64_t& value);
  static bool region_vmwrite(uint8_t* region, uint64_t encoding, uint64_t value);

 private:
  static unsigned slot(VmcsField f) { return unsigned(arch::vmx::vmcs_field_slot(f)); }
  static constexpr unsigned kDirtyWords = vmcs12_slots::kWords;
  void note_change(unsigned s) {
    changed_[s / 64] |= 1ull << (s % 64);
    versions_.note_change(s);
  }

  void note_all_changed();
  uint64_t field_[arch::vmx::kVmcsFieldCount] = {};
  uint64_t dirty_[kDirtyWords] = {};
  uint64_t changed_[kDirtyWords] = {};
  nestbed::common::vmx::EntryCheckVersions versions_;
};

}  // namespace l1::nested
