// The VMX capability MSRs of one processor (SDM appendix A), as plain
// values: what a VMM reads with RDMSR and what the VM-entry checks
// (common/vmx/entry_checks.h) test a VMCS against. The sim fills one for
// the CPU it models (l0/sim/vmx/capabilities.cpp); a VMM fills one for the
// VMX it offers its guest. Layouts of each MSR: arch/vmx/capability_msrs.h.
#pragma once
#include <stdint.h>

namespace nestbed::common::vmx {

struct VmxCapabilities {
  uint64_t basic;          // IA32_VMX_BASIC
  uint64_t pinbased;       // IA32_VMX_TRUE_PINBASED_CTLS (allowed-0 low, allowed-1 high)
  uint64_t procbased;      // IA32_VMX_TRUE_PROCBASED_CTLS
  uint64_t procbased2;     // IA32_VMX_PROCBASED_CTLS2
  uint64_t exit;           // IA32_VMX_TRUE_EXIT_CTLS
  uint64_t entry;          // IA32_VMX_TRUE_ENTRY_CTLS
  uint64_t misc;           // IA32_VMX_MISC
  uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
  uint64_t vmcs_enum;      // IA32_VMX_VMCS_ENUM
  uint64_t ept_vpid_cap;   // IA32_VMX_EPT_VPID_CAP
  uint64_t vmfunc;         // IA32_VMX_VMFUNC
  // The non-"true" forms, with the default1 bits forced to 1 (SDM A.3-A.5).
  // VM entry checks the controls against the true forms above; a processor
  // without them (IA32_VMX_BASIC[55] = 0) checks against these, so such a
  // processor's description repeats them there (SDM 26.2.1, A.2).
  uint64_t pinbased_legacy, procbased_legacy, exit_legacy, entry_legacy;
};

}  // namespace nestbed::common::vmx
