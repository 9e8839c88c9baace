// VMX capability MSRs (SDM appendix A): layouts generated from
// capability_msrs.def into arch::vmx::<layout>, and helpers for the
// allowed-0/allowed-1 halves and the CR0/CR4 fixed bits. The MSR indices
// are arch::msr::IA32_VMX_* (arch/x86/msr.def).
#pragma once
#include <stdint.h>

#include "arch/vmx/bitfield.h"

namespace arch::vmx {

#define LAYOUT NESTBED_LAYOUT_CXX_LAYOUT
#define FIELD NESTBED_LAYOUT_CXX_FIELD
#define VALUE NESTBED_LAYOUT_CXX_VALUE
#include "arch/vmx/capability_msrs.def"

// ---- Control capability MSRs (A.3-A.5): allowed-0 low, allowed-1 high ----
constexpr uint32_t ctls_allowed0(uint64_t cap) { return uint32_t(vmx_ctls::ALLOWED0.get(cap)); }
constexpr uint32_t ctls_allowed1(uint64_t cap) { return uint32_t(vmx_ctls::ALLOWED1.get(cap)); }
constexpr uint64_t ctls_make(uint32_t allowed0, uint32_t allowed1) {
  return vmx_ctls::ALLOWED0.make(allowed0) | vmx_ctls::ALLOWED1.make(allowed1);
}
// Does a control word respect the capability (SDM 26.2.1.1)?
constexpr bool ctls_valid(uint64_t cap, uint32_t value) {
  return (value & ctls_allowed0(cap)) == ctls_allowed0(cap) && (value & ~ctls_allowed1(cap)) == 0;
}
// The wanted controls with the required ones set and the impossible ones
// cleared (what a VMM does before writing a control word).
constexpr uint32_t ctls_adjust(uint64_t cap, uint32_t wanted) {
  return (wanted | ctls_allowed0(cap)) & ctls_allowed1(cap);
}
// 64-bit control words (tertiary, secondary VM-exit, VM functions): their
// capability MSR holds only allowed-1 settings.
constexpr bool ctls64_valid(uint64_t allowed1, uint64_t value) { return (value & ~allowed1) == 0; }

// ---- IA32_VMX_CR0/CR4_FIXED0/1 (A.7, A.8) ----
// A bit set in FIXED0 must be 1; a bit clear in FIXED1 must be 0.
constexpr bool cr_fixed_valid(uint64_t value, uint64_t fixed0, uint64_t fixed1) {
  return (value & fixed0) == fixed0 && (value & ~fixed1) == 0;
}
constexpr uint64_t cr_fixed_adjust(uint64_t value, uint64_t fixed0, uint64_t fixed1) {
  return (value | fixed0) & fixed1;
}

// ---- IA32_VMX_MISC (A.6) ----
inline constexpr unsigned MSR_LIST_MULTIPLIER = 512;
constexpr uint32_t vmx_misc_max_msr_list(uint64_t misc) {
  return MSR_LIST_MULTIPLIER * (uint32_t(vmx_misc::MAX_MSR_LIST.get(misc)) + 1);
}
// Is activity state `state` (activity_state::HLT, ...) allowed by MISC?
// ACTIVE always is.
constexpr bool vmx_misc_activity_supported(uint64_t misc, uint64_t state) {
  return state == 0 || (state <= 3 && ((misc >> (vmx_misc::ACTIVITY_HLT.lsb + state - 1)) & 1));
}

}  // namespace arch::vmx
