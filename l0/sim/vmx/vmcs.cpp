#include "l0/sim/vmx/vmcs.h"

namespace nestbed::sim::vmx {

using namespace arch::vmx;

bool Vmcs::read_encoding(uint64_t enc, uint64_t& value) const {
  const int slot = vmcs_field_slot(enc);
  if (slot < 0) return false;
  const uint64_t v = values_[slot];
  // The HIGH encoding of a 64-bit field reads its upper 32 bits.
  value = vmcs_encoding_is_high(enc) ? (v >> 32) : v;
  return true;
}

bool Vmcs::write_encoding(uint64_t enc, uint64_t value) {
  const int slot = vmcs_field_slot(enc);
  if (slot < 0) return false;
  const uint32_t full = uint32_t(enc & ~1ull);
  if (vmcs_encoding_is_high(enc)) {
    values_[slot] = (values_[slot] & 0xffffffffull) | (uint64_t(uint32_t(value)) << 32);
  } else {
    values_[slot] = value & width_mask(vmcs_encoding_width(full));
  }
  return true;
}

void Vmcs::serialize(uint8_t* region) const {
  const uint32_t first = (revision & ~kShadowIndicator) | (shadow ? kShadowIndicator : 0);
  const uint32_t launch = launched ? 1 : 0;
  std::memcpy(region, &first, 4);
  std::memcpy(region + 4, &abort_indicator, 4);
  std::memcpy(region + 8, &launch, 4);
  std::memcpy(region + kFieldsOffset, values_, sizeof values_);
}

void Vmcs::deserialize(const uint8_t* region) {
  uint32_t first, launch;
  std::memcpy(&first, region, 4);
  std::memcpy(&abort_indicator, region + 4, 4);
  std::memcpy(&launch, region + 8, 4);
  revision = first & ~kShadowIndicator;
  shadow = first & kShadowIndicator;
  launched = launch == 1;
  std::memcpy(values_, region + kFieldsOffset, sizeof values_);
}

}  // namespace nestbed::sim::vmx
