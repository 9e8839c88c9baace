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
inline constexpr uint64_t DEBUGCTL_LBR = 1ull << 0;  // last-branch records
inline constexpr uint64_t DEBUGCTL_BTF = 1ull << 1;  // single-step on branches
inline constexpr uint64_t DEBUGCTL_FREEZE_LBRS_ON_PMI = 1ull << 11;
inline constexpr uint64_t DEBUGCTL_FREEZE_PERFMON_ON_PMI = 1ull << 12;
inline constexpr uint64_t DEBUGCTL_FREEZE_WHILE_SMM = 1ull << 14;
// The IA32_DEBUGCTL bits the platform implements: BTF, and the freeze
// bits, which take effect on a PMI or in SMM, neither of which exists on
// it (no PMU, no SMM). LBR, branch trace store (TR, BTS, BTINT, the BTS_OFF
// bits: IA32_MISC_ENABLE reports BTS unavailable), the uncore PMI and RTM
// debugging are not modeled: writing them is #GP.
inline constexpr uint64_t DEBUGCTL_IMPLEMENTED =
    DEBUGCTL_BTF | DEBUGCTL_FREEZE_LBRS_ON_PMI | DEBUGCTL_FREEZE_PERFMON_ON_PMI | DEBUGCTL_FREEZE_WHILE_SMM;
// IA32_PAT (SDM 11.12.2): eight one-byte entries, each a memory type other
// than the reserved 2, 3 and 8..255.
constexpr bool pat_memory_type_valid(uint64_t type) { return type <= 7 && type != 2 && type != 3; }
constexpr bool pat_valid(uint64_t pat) {
  for (int k = 0; k < 8; ++k)
    if (!pat_memory_type_valid((pat >> (8 * k)) & 0xff)) return false;
  return true;
}
// MTRRs (SDM 11.11). The memory types an MTRR may hold: UC 0, WC 1, WT 4,
// WP 5, WB 6 (UC- 7 exists only in the PAT; 2, 3 and 8..255 are reserved).
constexpr bool mtrr_memory_type_valid(uint64_t type) { return type <= 6 && type != 2 && type != 3; }
// IA32_MTRRCAP (SDM 11.11.1): VCNT, FIX, WC, SMRR.
inline constexpr uint64_t MTRRCAP_VCNT_MASK = 0xff;
inline constexpr uint64_t MTRRCAP_FIX = 1ull << 8;
inline constexpr uint64_t MTRRCAP_WC = 1ull << 10;
inline constexpr uint64_t MTRRCAP_SMRR = 1ull << 11;
// IA32_MTRR_DEF_TYPE (SDM 11.11.2.1): default type, FE, E; the rest is reserved.
inline constexpr uint64_t MTRR_DEF_TYPE_TYPE = 0xff;
inline constexpr uint64_t MTRR_DEF_TYPE_FE = 1ull << 10;
inline constexpr uint64_t MTRR_DEF_TYPE_E = 1ull << 11;
// IA32_MTRR_PHYSBASEn / PHYSMASKn (SDM 11.11.2.3): type in PHYSBASE[7:0], valid
// in PHYSMASK[11]; bits 11:8 of PHYSBASE, 10:0 of PHYSMASK and everything at
// or above MAXPHYADDR are reserved. Pair n is at PHYSBASE0 + 2n.
inline constexpr uint64_t MTRR_PHYSBASE_TYPE = 0xff;
inline constexpr uint64_t MTRR_PHYSMASK_VALID = 1ull << 11;
inline constexpr uint64_t MTRR_PHYSBASE_RESERVED_LOW = 0xf00;
inline constexpr uint64_t MTRR_PHYSMASK_RESERVED_LOW = 0x7ff;
// Each fixed-range MTRR (SDM 11.11.2.2) holds eight one-byte types.
constexpr bool mtrr_fixed_valid(uint64_t v) {
  for (int k = 0; k < 8; ++k)
    if (!mtrr_memory_type_valid((v >> (8 * k)) & 0xff)) return false;
  return true;
}
// The 11 fixed-range MTRRs in the order of SDM table 11-9 (0 .. 10).
constexpr int mtrr_fixed_index(uint32_t index) {
  if (index == IA32_MTRR_FIX64K_00000) return 0;
  if (index == IA32_MTRR_FIX16K_80000 || index == IA32_MTRR_FIX16K_A0000) return int(index - IA32_MTRR_FIX16K_80000) + 1;
  if (index >= IA32_MTRR_FIX4K_C0000 && index <= IA32_MTRR_FIX4K_F8000) return int(index - IA32_MTRR_FIX4K_C0000) + 3;
  return -1;
}
inline constexpr unsigned MTRR_FIXED_COUNT = 11;
// IA32_MISC_ENABLE architectural bits (SDM vol. 4, table 2-2).
inline constexpr uint64_t MISC_ENABLE_FAST_STRINGS = 1ull << 0;
inline constexpr uint64_t MISC_ENABLE_AUTO_THERMAL_CONTROL = 1ull << 3;
inline constexpr uint64_t MISC_ENABLE_BTS_UNAVAILABLE = 1ull << 11;   // read-only
inline constexpr uint64_t MISC_ENABLE_PEBS_UNAVAILABLE = 1ull << 12;  // read-only
inline constexpr uint64_t MISC_ENABLE_LIMIT_CPUID = 1ull << 22;  // CPUID.0:EAX reports at most 2
inline constexpr uint64_t MISC_ENABLE_XD_DISABLE = 1ull << 34;   // CPUID.80000001H:EDX.NX reads 0
inline constexpr uint32_t MISC_ENABLE_LIMIT_CPUID_MAXVAL = 2;
// IA32_FEATURE_CONTROL bits (SDM 23.7).
inline constexpr uint64_t FEATURE_CONTROL_LOCK = 1ull << 0;
inline constexpr uint64_t FEATURE_CONTROL_VMX_IN_SMX = 1ull << 1;
inline constexpr uint64_t FEATURE_CONTROL_VMX_OUTSIDE_SMX = 1ull << 2;
// x2APIC MSRs cover 0x800..0x8ff: MSR 0x800 + (xAPIC offset >> 4) (SDM 11.12.1.2).
inline constexpr uint32_t X2APIC_FIRST = 0x800;
inline constexpr uint32_t X2APIC_LAST = 0x8ff;
}  // namespace arch::msr
