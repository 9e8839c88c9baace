// The CPUID the kvm engine gives its guest: the host's supported set
// (KVM_GET_SUPPORTED_CPUID) with the few changes the platform needs, each
// listed and explained in guest_cpuid.cpp.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

namespace nestbed::kvm {

using CpuidEntries = std::vector<kvm_cpuid_entry2>;

// The leaf/subleaf entry, or nullptr.
kvm_cpuid_entry2* find_cpuid(CpuidEntries& entries, uint32_t function, uint32_t index = 0);
const kvm_cpuid_entry2* find_cpuid(const CpuidEntries& entries, uint32_t function, uint32_t index = 0);

// Whether the host offers VMX to its guests: CPUID.1:ECX.VMX[bit 5] in the supported set.
bool offers_vmx(const CpuidEntries& supported);

// The guest's CPUID, derived from the supported set.
CpuidEntries guest_cpuid(CpuidEntries supported);

}  // namespace nestbed::kvm
