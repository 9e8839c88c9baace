// The shadowed VMCS fields (shadow_fields.def) as a table, and the
// VMREAD/VMWRITE bitmap bits they clear (SDM 24.6.15).
#pragma once
#include <stdint.h>

#include "arch/vmx/vmcs_fields.h"

namespace arch::vmx {

enum class ShadowAccess : uint8_t { RO, RW };

struct ShadowField {
  VmcsField field;
  ShadowAccess access;
};

inline constexpr ShadowField kShadowFields[] = {
#define X(name, access) {VmcsField::name, ShadowAccess::access},
#include "arch/vmx/shadow_fields.def"
#undef X
};
inline constexpr unsigned kShadowFieldCount = sizeof(kShadowFields) / sizeof(kShadowFields[0]);

namespace detail {
constexpr bool shadow_fields_valid() {
  for (const ShadowField& s : kShadowFields) {
    if (vmcs_field_slot(s.field) < 0) return false;
    // Exit information is read-only to VMWRITE without IA32_VMX_MISC bit 29:
    // a shadowed VMWRITE of it would need that bit, so it is never RW here.
    if (vmcs_field_type(s.field) == VmcsType::EXIT_INFO && s.access == ShadowAccess::RW) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::shadow_fields_valid(), "shadow_fields.def: unknown field, or exit information marked RW");

// Sets the bitmap bits (VMREAD when `write` is false, VMWRITE when true) of
// every shadowed field to 0 in a 4 KiB bitmap whose bits are all 1: a
// VMREAD/VMWRITE of a field whose bit is 0 does not exit (SDM 25.1.3).
constexpr void clear_shadow_bitmap_bits(uint8_t* bitmap, bool write) {
  for (const ShadowField& s : kShadowFields) {
    if (write && s.access != ShadowAccess::RW) continue;
    const uint32_t enc = uint32_t(s.field);
    const bool wide = vmcs_field_width(s.field) == VmcsWidth::BITS64;
    for (unsigned half = 0; half < (wide ? 2u : 1u); half++) {
      const uint32_t bit = vmcs_shadow_bitmap_bit(enc | half);
      bitmap[bit / 8] = uint8_t(bitmap[bit / 8] & ~(1u << (bit % 8)));
    }
  }
}

}  // namespace arch::vmx
