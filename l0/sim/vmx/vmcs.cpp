#include "l0/sim/vmx/vmcs.h"

namespace nestbed::sim::vmx {

using namespace arch::vmx;

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
  versions_.note_all_changed();
}

}  // namespace nestbed::sim::vmx
