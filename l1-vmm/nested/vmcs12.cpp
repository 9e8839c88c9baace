#include "l1-vmm/nested/vmcs12.h"

namespace l1::nested {

using namespace arch::vmx;

bool Vmcs12::vmread(uint64_t encoding, uint64_t& value) const {
  const int s = vmcs_field_slot(encoding);
  if (s < 0) return false;
  const uint64_t v = field_[s];
  value = vmcs_encoding_is_high(encoding) ? v >> 32 : v & width_mask(encoding);
  return true;
}

bool Vmcs12::vmwrite(uint64_t encoding, uint64_t value) {
  const int s = vmcs_field_slot(encoding);
  if (s < 0) return false;
  uint64_t& f = field_[s];
  const uint64_t before = f;
  if (vmcs_encoding_is_high(encoding)) f = (f & 0xffffffffull) | (value << 32);
  else f = value & width_mask(encoding);
  dirty_[unsigned(s) / 64] |= 1ull << (unsigned(s) % 64);
  if (f != before) note_change(unsigned(s));
  return true;
}

bool Vmcs12::region_vmread(const uint8_t* region, uint64_t encoding, uint64_t& value) {
  const int s = vmcs_field_slot(encoding);
  if (s < 0) return false;
  uint64_t v;
  __builtin_memcpy(&v, region + vmcs12_layout::FIELDS + 8 * unsigned(s), sizeof(v));
  value = vmcs_encoding_is_high(encoding) ? v >> 32 : v & width_mask(encoding);
  return true;
}

bool Vmcs12::region_vmwrite(uint8_t* region, uint64_t encoding, uint64_t value) {
  const int s = vmcs_field_slot(encoding);
  if (s < 0) return false;
  uint8_t* p = region + vmcs12_layout::FIELDS + 8 * unsigned(s);
  uint64_t f;
  __builtin_memcpy(&f, p, sizeof(f));
  if (vmcs_encoding_is_high(encoding)) f = (f & 0xffffffffull) | (value << 32);
  else f = value & width_mask(encoding);
  __builtin_memcpy(p, &f, sizeof(f));
  return true;
}

// Byte copies: the region is the guest's memory, with no alignment promise
// beyond the 4 KiB that VMPTRLD checks.
void Vmcs12::note_all_changed() {
  for (unsigned s = 0; s < kVmcsFieldCount; s++) changed_[s / 64] |= 1ull << (s % 64);
  versions_.note_all_changed();
}

void Vmcs12::load(const uint8_t* region) {
  clear_dirty();
  note_all_changed();
  __builtin_memcpy(field_, region + vmcs12_layout::FIELDS, sizeof(field_));
  uint32_t state;
  __builtin_memcpy(&state, region + vmcs12_layout::LAUNCH_STATE, sizeof(state));
  launched = state == 1;
}

void Vmcs12::store(uint8_t* region) const {
  __builtin_memcpy(region + vmcs12_layout::FIELDS, field_, sizeof(field_));
  const uint32_t state = launched ? 1 : 0;
  __builtin_memcpy(region + vmcs12_layout::LAUNCH_STATE, &state, sizeof(state));
}

}  // namespace l1::nested
