// EPT (SDM 28.2): the EPT pointer, paging-structure entry bits, memory
// types and INVEPT/INVVPID types, generated from ept.def into
// arch::vmx::{eptp, ept_entry, ept_memory_type, invept_type, invvpid_type}
// (see arch/vmx/bitfield.h), plus the INVEPT/INVVPID descriptors, the #VE
// information area and the architectural predicates on entries.
//
//   if (!(e & (ept_entry::READ.mask | ept_entry::WRITE.mask | ept_entry::EXECUTE.mask))) ...
//   uint64_t next = ept_entry::ADDRESS.get(e) << 12;
#pragma once
#include <stdint.h>

#include "arch/vmx/bitfield.h"

namespace arch::vmx {

#define LAYOUT NESTBED_LAYOUT_CXX_LAYOUT
#define FIELD NESTBED_LAYOUT_CXX_FIELD
#define VALUE NESTBED_LAYOUT_CXX_VALUE
#include "arch/vmx/ept.def"

namespace ept_entry {
inline constexpr uint64_t RWX = READ.mask | WRITE.mask | EXECUTE.mask;
inline constexpr uint64_t ADDRESS_MASK = ADDRESS.mask;  // bits 51:12
}  // namespace ept_entry

inline constexpr unsigned EPT_ENTRIES_PER_TABLE = 512;
inline constexpr unsigned EPT_LEVEL_SHIFT = 9;
// Bits of the guest-physical address translated by one entry at `level`
// (1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E, 5 = PML5E).
constexpr unsigned ept_level_shift(unsigned level) { return 12 + EPT_LEVEL_SHIFT * (level - 1); }
constexpr unsigned ept_index(uint64_t gpa, unsigned level) {
  return unsigned(gpa >> ept_level_shift(level)) & (EPT_ENTRIES_PER_TABLE - 1);
}

// Number of levels the EPTP asks for (4 or 5 when valid).
constexpr unsigned eptp_levels(uint64_t eptp_value) { return unsigned(eptp::PAGE_WALK_LENGTH.get(eptp_value)) + 1; }
constexpr uint64_t eptp_root(uint64_t eptp_value) { return eptp_value & eptp::PML4_ADDRESS.mask; }

// An entry is present if any of bits 2:0 is set, or bit 10 with mode-based
// execute control (SDM 28.2.2).
constexpr bool ept_entry_present(uint64_t e, bool mode_based_execute = false) {
  return (e & ept_entry::RWX) != 0 || (mode_based_execute && ept_entry::USER_EXECUTE.test(e));
}
// Permission combinations that make a present entry misconfigured (SDM
// 28.2.3.1): write without read, and execute-only without the capability
// (IA32_VMX_EPT_VPID_CAP bit 0).
constexpr bool ept_rwx_misconfigured(uint64_t e, bool execute_only_supported) {
  const uint64_t rwx = e & ept_entry::RWX;
  if ((rwx & ept_entry::WRITE.mask) && !(rwx & ept_entry::READ.mask)) return true;
  return rwx == ept_entry::EXECUTE.mask && !execute_only_supported;
}
// Memory types 2, 3 and 7 are reserved in EPT leaf entries (SDM 28.2.3.1).
constexpr bool ept_memory_type_valid(uint64_t type) {
  return type == ept_memory_type::UC || type == ept_memory_type::WC || type == ept_memory_type::WT ||
         type == ept_memory_type::WP || type == ept_memory_type::WB;
}

// INVEPT and INVVPID memory operands, 128 bits (SDM 30.3).
struct InveptDescriptor {
  uint64_t eptp;
  uint64_t reserved;  // must be 0
};
struct InvvpidDescriptor {
  uint64_t vpid;  // bits 15:0; bits 63:16 must be 0
  uint64_t linear_address;
};
static_assert(sizeof(InveptDescriptor) == 16 && sizeof(InvvpidDescriptor) == 16, "128-bit descriptors");

// Virtualization-exception information area (SDM 25.5.6.2): written on an
// EPT violation converted to #VE.
struct VeInformation {
  uint32_t exit_reason;  // 48
  uint32_t busy;         // set to FFFFFFFFH; no #VE while it is
  uint64_t exit_qualification;
  uint64_t guest_linear_address;
  uint64_t guest_physical_address;
  uint16_t eptp_index;
};
inline constexpr uint32_t VE_INFORMATION_BUSY = 0xffffffffu;

}  // namespace arch::vmx
