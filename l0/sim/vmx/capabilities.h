// The VMX capability MSRs the sim CPU reports (SDM appendix A): exactly the
// controls and features this implementation models, nothing more. One
// definition; the CPU's RDMSR, VM-entry checks and tests all read it.
#pragma once
#include <cstdint>

namespace nestbed::sim::vmx {

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
  uint64_t pinbased_legacy, procbased_legacy, exit_legacy, entry_legacy;
};

const VmxCapabilities& sim_vmx_capabilities();

// VMCS revision identifier of the sim's VMCS format.
inline constexpr uint32_t kVmcsRevision = 0x4e42;  // "NB"
// The VMX-preemption timer counts down once every 2^kPreemptionTimerRate TSC cycles.
inline constexpr unsigned kPreemptionTimerRate = 5;
inline constexpr unsigned kCr3TargetCount = 4;

// RDMSR of a capability MSR (0x480-0x491). False: not a VMX capability MSR
// this CPU reports.
bool read_vmx_capability_msr(uint32_t index, uint64_t& value);

}  // namespace nestbed::sim::vmx
