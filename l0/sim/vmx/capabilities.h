// The VMX capability MSRs the sim CPU reports (SDM appendix A): exactly the
// controls and features this implementation models, nothing more. One
// definition; the CPU's RDMSR, VM-entry checks and tests all read it.
#pragma once
#include <cstdint>

#include "common/vmx/capabilities.h"

namespace nestbed::sim::vmx {

using nestbed::common::vmx::VmxCapabilities;

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
