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
// IA32_FEATURE_CONTROL bits (SDM 23.7).
inline constexpr uint64_t FEATURE_CONTROL_LOCK = 1ull << 0;
inline constexpr uint64_t FEATURE_CONTROL_VMX_IN_SMX = 1ull << 1;
inline constexpr uint64_t FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1ull << 2;
// x2APIC MSRs cover 0x800..0x8ff: MSR 0x800 + (xAPIC offset >> 4) (SDM 11.12.1.2).
inline constexpr uint32_t X2APIC_FIRST = 0x800;
inline constexpr uint32_t X2APIC_LAST = 0x8ff;
}  // namespace arch::msr
