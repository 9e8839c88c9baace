// A VMCS as the sim CPU keeps it (SDM 24.2): field values by dense slot
// (arch::vmx::vmcs_field_slot), plus the revision identifier, the
// shadow-VMCS indicator and the launch state. The in-memory layout of a
// VMCS region is implementation-specific (software must use VMREAD/VMWRITE);
// ours is documented at serialize().
#pragma once
#include <cstdint>
#include <cstring>

#include "arch/vmx/vmcs_fields.h"
#include "common/vmx/entry_check_cache.h"
#include "common/vmx/host_state.h"

namespace nestbed::sim::vmx {

using arch::vmx::VmcsField;

class Vmcs {
 public:
  static constexpr uint32_t kShadowIndicator = 1u << 31;  // SDM 24.2, bit 31 of the first dword

  uint64_t read(VmcsField f) const { return values_[slot_of(uint32_t(f))]; }
  // Every field's value by slot: what common::vmx::VmcsView reads.
  const uint64_t* fields() const { return values_; }
  void write(VmcsField f, uint64_t v) {
    const uint32_t enc = uint32_t(f);
    store(slot_of(enc), v & arch::vmx::width_mask(arch::vmx::vmcs_encoding_width(enc)));
  }

  // The same for a field known at compile time: slot and width mask fold
  // to constants (the VM exit and entry paths).
  template <VmcsField F>
  uint64_t get() const {
    constexpr int slot = arch::vmx::vmcs_field_slot(F);
    static_assert(slot >= 0);
    return values_[slot];
  }
  template <VmcsField F>
  void set(uint64_t v) {
    constexpr int slot = arch::vmx::vmcs_field_slot(F);
    static_assert(slot >= 0);
    v &= arch::vmx::width_mask(arch::vmx::vmcs_encoding_width(uint32_t(F)));
    if constexpr (common::vmx::EntryCheckVersions::tracked(slot)) {
      if (values_[slot] != v) versions_.note_change(slot);
    }
    values_[slot] = v;
  }

  // VMREAD/VMWRITE by encoding, including the HIGH halves of 64-bit fields
  // (SDM 24.11.2). False: not a supported component (VM-instruction error 12).
  // Inline: VMREAD and VMWRITE are the hottest VMX instructions.
  bool read_encoding(uint64_t enc, uint64_t& value) const {
    const int slot = arch::vmx::vmcs_field_slot(enc);
    if (slot < 0) return false;
    const uint64_t v = values_[slot];
    // The HIGH encoding of a 64-bit field reads its upper 32 bits.
    value = arch::vmx::vmcs_encoding_is_high(enc) ? (v >> 32) : v;
    return true;
  }
  bool write_encoding(uint64_t enc, uint64_t value) {
    const int slot = arch::vmx::vmcs_field_slot(enc);
    if (slot < 0) return false;
    if (arch::vmx::vmcs_encoding_is_high(enc))
      store(unsigned(slot), (values_[slot] & 0xffffffffull) | (uint64_t(uint32_t(value)) << 32));
    else
      store(unsigned(slot), value & arch::vmx::width_mask(arch::vmx::vmcs_encoding_width(uint32_t(enc & ~1ull))));
    return true;
  }

  // The region in guest-physical memory:
  //   +0  revision identifier (bits 30:0) | shadow-VMCS indicator (bit 31)
  //   +4  VMX-abort indicator
  //   +8  launch state (0 clear, 1 launched)
  //   +16 every field as 8 bytes, in arch::vmx::kVmcsFields order
  static constexpr unsigned kFieldsOffset = 16;
  static constexpr unsigned kRegionBytes = kFieldsOffset + 8 * arch::vmx::kVmcsFieldCount;
  void serialize(uint8_t* region) const;
  void deserialize(const uint8_t* region);

  uint32_t revision = 0;
  bool shadow = false;
  bool launched = false;
  uint32_t abort_indicator = 0;

  // VM entry's checks of this VMCS, with what passed remembered, and the
  // changes they depend on (common/vmx/entry_check_cache.h).
  const common::vmx::EntryCheckVersions& versions() const { return versions_; }
  common::vmx::EntryCheckCache entry_checks;
  // What a VM exit from it loads (SDM 27.5), for its host-state fields.
  common::vmx::HostStateLoadCache host_load;

 private:
  static unsigned slot_of(uint32_t enc) { return unsigned(arch::vmx::vmcs_field_slot(enc)); }
  void store(unsigned slot, uint64_t v) {
    if (values_[slot] != v) versions_.note_change(slot);
    values_[slot] = v;
  }
  common::vmx::EntryCheckVersions versions_;
  uint64_t values_[arch::vmx::kVmcsFieldCount] = {};
};

static_assert(Vmcs::kRegionBytes <= 4096, "a VMCS region is one 4 KiB page");

}  // namespace nestbed::sim::vmx
