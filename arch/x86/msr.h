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
// The IA32_DEBUGCTL bits the platform implements: LBR (the last-branch
// record stack below), BTF, and the freeze bits, which take effect on a PMI
// or in SMM, neither of which exists on it (no PMU: CPUID leaf 0AH reports
// version 0; no SMM). Branch trace store (TR, BTS, BTINT, the BTS_OFF bits:
// IA32_MISC_ENABLE reports BTS unavailable), the uncore PMI and RTM
// debugging are not modeled: writing them is #GP.
inline constexpr uint64_t DEBUGCTL_IMPLEMENTED = DEBUGCTL_LBR | DEBUGCTL_BTF | DEBUGCTL_FREEZE_LBRS_ON_PMI |
                                                 DEBUGCTL_FREEZE_PERFMON_ON_PMI | DEBUGCTL_FREEZE_WHILE_SMM;
// The last-branch record stack of processors based on the Skylake
// microarchitecture (SDM vol. 3, 17.10 / 18.10 in later editions; vol. 4,
// the Skylake MSR tables): 32 entries of MSR_LASTBRANCH_n_FROM_IP (680H +
// n), MSR_LASTBRANCH_n_TO_IP (6C0H + n) and MSR_LBR_INFO_n (DC0H + n), and
// a 5-bit top-of-stack index in MSR_LASTBRANCH_TOS.
inline constexpr unsigned LBR_SKYLAKE_DEPTH = 32;
inline constexpr uint64_t LBR_TOS_MASK_SKYLAKE = LBR_SKYLAKE_DEPTH - 1;
// MSR_LBR_INFO_n (SDM 17.10, Skylake): the elapsed core cycles since
// the previous LBR update (saturating), and three flags; bits 60:16 are
// undefined.
inline constexpr uint64_t LBR_INFO_CYC_CNT = 0xffff;
inline constexpr uint64_t LBR_INFO_TSX_ABORT = 1ull << 61;
inline constexpr uint64_t LBR_INFO_IN_TSX = 1ull << 62;
inline constexpr uint64_t LBR_INFO_MISPRED = 1ull << 63;
// MSR_LBR_SELECT (SDM 17.7.2, table 17-11, with the Sandy Bridge meaning of
// the jump bits, table 17-12, and Haswell's call-stack bit, 17.9; section
// numbers of the 2016 edition, one chapter later from 2023): a set bit
// filters a class of branches out of the stack.
inline constexpr uint64_t LBR_SELECT_CPL_EQ_0 = 1ull << 0;    // branches ending in ring 0
inline constexpr uint64_t LBR_SELECT_CPL_NEQ_0 = 1ull << 1;   // branches ending in ring > 0
inline constexpr uint64_t LBR_SELECT_JCC = 1ull << 2;         // conditional branches
inline constexpr uint64_t LBR_SELECT_NEAR_REL_CALL = 1ull << 3;
inline constexpr uint64_t LBR_SELECT_NEAR_IND_CALL = 1ull << 4;
inline constexpr uint64_t LBR_SELECT_NEAR_RET = 1ull << 5;
inline constexpr uint64_t LBR_SELECT_NEAR_IND_JMP = 1ull << 6;  // but calls and returns
inline constexpr uint64_t LBR_SELECT_NEAR_REL_JMP = 1ull << 7;  // but calls
inline constexpr uint64_t LBR_SELECT_FAR_BRANCH = 1ull << 8;    // far transfers, interrupts, exceptions
inline constexpr uint64_t LBR_SELECT_EN_CALLSTACK = 1ull << 9;  // LIFO: returns pop their call
inline constexpr uint64_t LBR_SELECT_VALID = (1ull << 10) - 1;
// IA32_PERF_CAPABILITIES (SDM vol. 4, table 2-2; vol. 3, 17.4.8.1): the
// format of the LBR records in bits 5:0; bit 12 says IA32_DEBUGCTL bit 14
// (FREEZE_WHILE_SMM) is supported. Format 000101B: 64-bit EIP (the offset
// in CS, upper 32 bits 0 outside 64-bit mode), flags, TSX and LBR_INFO
// (Skylake).
inline constexpr uint64_t PERF_CAP_LBR_FMT = 0x3f;
inline constexpr uint64_t PERF_CAP_LBR_FMT_EIP_FLAGS_TSX_INFO = 0x5;
inline constexpr uint64_t PERF_CAP_FREEZE_WHILE_SMM = 1ull << 12;
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
