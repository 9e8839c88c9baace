// VMCS fields (SDM 24.11.2 and appendix B), generated from vmcs_fields.def:
// the typed enum, names, widths, types, the list of all encodings and a
// dense slot number per field (for VMCS stores and offset maps).
#pragma once
#include <stdint.h>

#include "arch/vmx/bitfield.h"

namespace arch::vmx {

// Bits 14:13 and 11:10 of an encoding (SDM 24.11.2).
enum class VmcsWidth : uint8_t { BITS16 = 0, BITS64 = 1, BITS32 = 2, NATURAL = 3 };
enum class VmcsType : uint8_t { CONTROL = 0, EXIT_INFO = 1, GUEST = 2, HOST = 3 };

// Structure of a VMCS component encoding (SDM 24.11.2).
namespace vmcs_encoding {
inline constexpr BitField ACCESS_HIGH{0, 1};  // 1: the high 32 bits of a 64-bit field
inline constexpr BitField INDEX{1, 9};
inline constexpr BitField TYPE{10, 2};
inline constexpr BitField WIDTH{13, 2};
inline constexpr uint64_t RESERVED = 0xffffffffffff9000ull;  // bit 12 and bits 63:15
}  // namespace vmcs_encoding

constexpr VmcsWidth vmcs_encoding_width(uint64_t enc) {
  return VmcsWidth(vmcs_encoding::WIDTH.get(enc));
}
constexpr VmcsType vmcs_encoding_type(uint64_t enc) { return VmcsType(vmcs_encoding::TYPE.get(enc)); }
constexpr unsigned vmcs_encoding_index(uint64_t enc) { return unsigned(vmcs_encoding::INDEX.get(enc)); }
constexpr bool vmcs_encoding_is_high(uint64_t enc) { return vmcs_encoding::ACCESS_HIGH.test(enc); }
constexpr uint32_t vmcs_encode(VmcsWidth w, VmcsType t, unsigned index, bool high = false) {
  return uint32_t(vmcs_encoding::WIDTH.make(uint64_t(w)) | vmcs_encoding::TYPE.make(uint64_t(t)) |
                  vmcs_encoding::INDEX.make(index) | vmcs_encoding::ACCESS_HIGH.make(high));
}

constexpr unsigned width_bits(VmcsWidth w) {
  return w == VmcsWidth::BITS16 ? 16 : w == VmcsWidth::BITS32 ? 32 : 64;
}
// The bits a VMREAD/VMWRITE of a field of this width keeps. Natural width is
// 64 bits here: nestbed's processors are 64-bit ones (SDM 24.11.2).
constexpr uint64_t width_mask(VmcsWidth w) {
  return w == VmcsWidth::BITS16 ? 0xffffull : w == VmcsWidth::BITS32 ? 0xffffffffull : ~0ull;
}
constexpr const char* vmcs_width_name(VmcsWidth w) {
  switch (w) {
    case VmcsWidth::BITS16: return "16";
    case VmcsWidth::BITS64: return "64";
    case VmcsWidth::BITS32: return "32";
    case VmcsWidth::NATURAL: return "natural";
  }
  return "?";
}
constexpr const char* vmcs_type_name(VmcsType t) {
  switch (t) {
    case VmcsType::CONTROL: return "control";
    case VmcsType::EXIT_INFO: return "exit_info";
    case VmcsType::GUEST: return "guest";
    case VmcsType::HOST: return "host";
  }
  return "?";
}

enum class VmcsField : uint32_t {
#define X(name, e, width, type) name = e,
#include "arch/vmx/vmcs_fields.def"
#undef X
};

// Every row's columns agree with its encoding's bits.
#define X(name, e, width, type)                                                           \
  static_assert(vmcs_encoding_width(e) == VmcsWidth::width, #name ": width vs bits 14:13"); \
  static_assert(vmcs_encoding_type(e) == VmcsType::type, #name ": type vs bits 11:10");     \
  static_assert(!vmcs_encoding_is_high(e), #name ": the table holds FULL encodings");       \
  static_assert(((e) & vmcs_encoding::RESERVED) == 0, #name ": reserved encoding bits");
#include "arch/vmx/vmcs_fields.def"
#undef X

struct VmcsFieldInfo {
  uint32_t encoding;  // FULL encoding
  VmcsWidth width;
  VmcsType type;
  const char* name;
};

// All fields, in appendix B order.
inline constexpr VmcsFieldInfo kVmcsFields[] = {
#define X(name, e, width, type) {e, VmcsWidth::width, VmcsType::type, #name},
#include "arch/vmx/vmcs_fields.def"
#undef X
};
inline constexpr uint32_t kVmcsFieldEncodings[] = {
#define X(name, e, width, type) e,
#include "arch/vmx/vmcs_fields.def"
#undef X
};
inline constexpr unsigned kVmcsFieldCount = sizeof(kVmcsFieldEncodings) / sizeof(kVmcsFieldEncodings[0]);

namespace detail {
constexpr bool vmcs_encodings_unique() {
  for (unsigned i = 0; i < kVmcsFieldCount; i++)
    for (unsigned j = i + 1; j < kVmcsFieldCount; j++)
      if (kVmcsFieldEncodings[i] == kVmcsFieldEncodings[j]) return false;
  return true;
}
constexpr unsigned vmcs_max_index() {
  unsigned m = 0;
  for (uint32_t enc : kVmcsFieldEncodings)
    if (vmcs_encoding_index(enc) > m) m = vmcs_encoding_index(enc);
  return m;
}

// Dense slot numbers: key = width:type:index (13 bits) -> row number.
inline constexpr unsigned kVmcsSlotKeys = 1u << 13;
constexpr unsigned vmcs_slot_key(uint64_t enc) {
  return (unsigned(vmcs_encoding::WIDTH.get(enc)) << 11) | (unsigned(vmcs_encoding::TYPE.get(enc)) << 9) |
         vmcs_encoding_index(enc);
}
struct VmcsSlotTable {
  int16_t slot[kVmcsSlotKeys];
};
constexpr VmcsSlotTable make_vmcs_slot_table() {
  VmcsSlotTable t{};
  for (auto& s : t.slot) s = -1;
  for (unsigned i = 0; i < kVmcsFieldCount; i++) t.slot[vmcs_slot_key(kVmcsFieldEncodings[i])] = int16_t(i);
  return t;
}
inline constexpr VmcsSlotTable kVmcsSlotTable = make_vmcs_slot_table();
}  // namespace detail

static_assert(detail::vmcs_encodings_unique(), "vmcs_fields.def: duplicate encoding");

// The highest index of any field: IA32_VMX_VMCS_ENUM bits 9:1 (SDM A.9) for a
// processor that supports every field of the table.
inline constexpr unsigned kVmcsMaxIndex = detail::vmcs_max_index();

// The field's row in kVmcsFields (0 .. kVmcsFieldCount-1) for a FULL encoding
// or the HIGH encoding of a 64-bit field; -1 for anything else (an
// unsupported VMCS component, VM-instruction error 12).
constexpr int vmcs_field_slot(uint64_t enc) {
  if (enc & vmcs_encoding::RESERVED) return -1;
  int slot = detail::kVmcsSlotTable.slot[detail::vmcs_slot_key(enc)];
  if (slot >= 0 && vmcs_encoding_is_high(enc) && vmcs_encoding_width(enc) != VmcsWidth::BITS64) return -1;
  return slot;
}
constexpr bool vmcs_field_known(uint64_t enc) { return vmcs_field_slot(enc) >= 0; }

// Width and type straight from the encoding (the table agrees, see above).
// The HIGH encoding of a 64-bit field reports BITS64 (the field's width);
// width_mask() below gives the 32 bits such an access moves.
constexpr VmcsWidth vmcs_field_width(uint64_t enc) { return vmcs_encoding_width(enc); }
constexpr VmcsType vmcs_field_type(uint64_t enc) { return vmcs_encoding_type(enc); }
constexpr bool vmcs_field_read_only(uint64_t enc) {
  // Writable only with IA32_VMX_MISC bit 29 (SDM 24.11.2, A.6).
  return vmcs_encoding_type(enc) == VmcsType::EXIT_INFO;
}
// The value bits a VMREAD/VMWRITE through this encoding moves.
constexpr uint64_t width_mask(uint64_t enc) {
  return vmcs_encoding_is_high(enc) ? 0xffffffffull : width_mask(vmcs_encoding_width(enc));
}

// "GUEST_RIP", "TSC_OFFSET_HIGH"; nullptr for an unknown encoding.
constexpr const char* vmcs_field_name(uint64_t enc) {
  if (enc & vmcs_encoding::RESERVED) return nullptr;
  const bool high = vmcs_encoding_is_high(enc);
  if (high && vmcs_encoding_width(enc) != VmcsWidth::BITS64) return nullptr;
  switch (uint32_t(enc) & ~1u) {
#define X(name, e, width, type) \
  case e:                       \
    return high ? #name "_HIGH" : #name;
#include "arch/vmx/vmcs_fields.def"
#undef X
    default:
      return nullptr;
  }
}

constexpr uint32_t vmcs_field_high(VmcsField f) { return uint32_t(f) | 1u; }
constexpr int vmcs_field_slot(VmcsField f) { return vmcs_field_slot(uint32_t(f)); }
constexpr VmcsWidth vmcs_field_width(VmcsField f) { return vmcs_encoding_width(uint32_t(f)); }
constexpr VmcsType vmcs_field_type(VmcsField f) { return vmcs_encoding_type(uint32_t(f)); }
constexpr uint64_t width_mask(VmcsField f) { return width_mask(uint64_t(uint32_t(f))); }
constexpr const char* vmcs_field_name(VmcsField f) { return vmcs_field_name(uint32_t(f)); }

// The guest-state fields of each segment register (SDM 24.4.1), in the
// order ES, CS, SS, DS, FS, GS (arch::seg::SegReg), LDTR, TR.
struct GuestSegmentFields {
  VmcsField selector, base, limit, access_rights;
};
inline constexpr GuestSegmentFields kGuestSegmentFields[8] = {
    {VmcsField::GUEST_ES_SELECTOR, VmcsField::GUEST_ES_BASE, VmcsField::GUEST_ES_LIMIT, VmcsField::GUEST_ES_AR_BYTES},
    {VmcsField::GUEST_CS_SELECTOR, VmcsField::GUEST_CS_BASE, VmcsField::GUEST_CS_LIMIT, VmcsField::GUEST_CS_AR_BYTES},
    {VmcsField::GUEST_SS_SELECTOR, VmcsField::GUEST_SS_BASE, VmcsField::GUEST_SS_LIMIT, VmcsField::GUEST_SS_AR_BYTES},
    {VmcsField::GUEST_DS_SELECTOR, VmcsField::GUEST_DS_BASE, VmcsField::GUEST_DS_LIMIT, VmcsField::GUEST_DS_AR_BYTES},
    {VmcsField::GUEST_FS_SELECTOR, VmcsField::GUEST_FS_BASE, VmcsField::GUEST_FS_LIMIT, VmcsField::GUEST_FS_AR_BYTES},
    {VmcsField::GUEST_GS_SELECTOR, VmcsField::GUEST_GS_BASE, VmcsField::GUEST_GS_LIMIT, VmcsField::GUEST_GS_AR_BYTES},
    {VmcsField::GUEST_LDTR_SELECTOR, VmcsField::GUEST_LDTR_BASE, VmcsField::GUEST_LDTR_LIMIT,
     VmcsField::GUEST_LDTR_AR_BYTES},
    {VmcsField::GUEST_TR_SELECTOR, VmcsField::GUEST_TR_BASE, VmcsField::GUEST_TR_LIMIT, VmcsField::GUEST_TR_AR_BYTES},
};
inline constexpr unsigned kGuestLdtrIndex = 6, kGuestTrIndex = 7;

// The guest PDPTE fields (SDM 24.4.2), PDPTE0..3.
inline constexpr VmcsField kGuestPdpteFields[4] = {VmcsField::GUEST_PDPTR0, VmcsField::GUEST_PDPTR1,
                                                   VmcsField::GUEST_PDPTR2, VmcsField::GUEST_PDPTR3};

// The VMCS region (SDM 24.2): revision identifier (bit 31: shadow-VMCS
// indicator), VMX-abort indicator, then implementation-specific data.
namespace vmcs_region {
inline constexpr uint32_t REVISION_ID_MASK = 0x7fffffffu;
inline constexpr uint32_t SHADOW_VMCS_INDICATOR = 1u << 31;
inline constexpr unsigned REVISION_OFFSET = 0;
inline constexpr unsigned ABORT_INDICATOR_OFFSET = 4;
inline constexpr unsigned DATA_OFFSET = 8;
inline constexpr unsigned MAX_SIZE = 4096;  // IA32_VMX_BASIC[44:32] is at most 4 KiB (A.1)
}  // namespace vmcs_region

// "No VMCS": the current-VMCS pointer after VMXON/VMCLEAR of the current
// VMCS (VMPTRST stores it, SDM 30.3) and the VMCS link pointer's "unused"
// value (SDM 26.3.1.5).
inline constexpr uint64_t VMCS_POINTER_NONE = ~0ull;

// VMREAD/VMWRITE bitmaps (SDM 24.6.15): with VMCS shadowing, a VMREAD or
// VMWRITE in VMX non-root operation consults bit (encoding & 0x7fff) of the
// bitmap; an encoding with any of bits 63:15 set always exits.
inline constexpr uint64_t VMCS_SHADOW_BITMAP_BITS = 1ull << 15;
constexpr bool vmcs_shadow_bitmap_in_range(uint64_t enc) { return (enc >> 15) == 0; }
constexpr uint32_t vmcs_shadow_bitmap_bit(uint64_t enc) { return uint32_t(enc & 0x7fff); }

}  // namespace arch::vmx
