// The CPUID leaves the sim CPU reports: only features it implements.
#pragma once
#include <cstdint>

namespace nestbed::sim {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

// The processor state some CPUID bits follow.
struct CpuidState {
  uint64_t misc_enable = 0;  // IA32_MISC_ENABLE: limit CPUID maxval (bit 22), XD disable (bit 34)
  bool apic_enabled = true;  // IA32_APIC_BASE.EN: CPUID.01H:EDX.APIC (SDM 10.4.3)
};

CpuidResult cpuid(uint32_t leaf, uint32_t subleaf, uint32_t apic_id, const CpuidState& state = {});

}  // namespace nestbed::sim
