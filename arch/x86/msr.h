// MSR indices, generated from msr.def.
#pragma once
#include <stdint.h>

namespace arch::msr {
#define X(name, index) inline constexpr uint32_t name = index;
#include "arch/x86/msr.def"
#undef X

constexpr const char* name(uint32_t index) {
  switch (index) {
#define X(n, i) \
  case i:       \
    return #n;
#include "arch/x86/msr.def"
#undef X
    default:
      return nullptr;
  }
}

// IA32_APIC_BASE bits (SDM 11.4.4).
inline constexpr uint64_t APIC_BASE_BSP = 1ull << 8;
inline constexpr uint64_t APIC_BASE_EXTD = 1ull << 10;  // x2APIC mode
inline constexpr uint64_t APIC_BASE_EN = 1ull << 11;
// IA32_DEBUGCTL bits (SDM vol. 3, 17.4.1).
inline constexpr uint64_t DEBUGCTL_BTF = 1ull << 1;  // single-step on branches
// IA32_PAT (SDM 11.12.2): eight one-byte entries, each a memory type other
// than the reserved 2, 3 and 8..255.
constexpr bool pat_memory_type_valid(uint64_t type) { return type <= 7 && type != 2 && type != 3; }
constexpr bool pat_valid(uint64_t pat) {
  for (int k = 0; k < 8; ++k)
    if (!pat_memory_type_valid((pat >> (8 * k)) & 0xff)) return false;
  return true;
}
// IA32_FEATURE_CONTROL bits (SDM 23.7).
inline constexpr uint64_t FEATURE_CONTROL_LOCK = 1ull << 0;
inline constexpr uint64_t FEATURE_CONTROL_VMX_IN_SMX = 1ull << 1;
inline constexpr uint64_t FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1ull << 2;
// x2APIC MSRs cover 0x800..0x8ff: MSR 0x800 + (xAPIC offset >> 4) (SDM 11.12.1.2).
inline constexpr uint32_t X2APIC_FIRST = 0x800;
inline constexpr uint32_t X2APIC_LAST = 0x8ff;
}  // namespace arch::msr
