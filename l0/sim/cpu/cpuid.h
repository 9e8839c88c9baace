// The CPUID leaves the sim CPU reports: only features it implements.
#pragma once
#include <cstdint>

namespace nestbed::sim {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

CpuidResult cpuid(uint32_t leaf, uint32_t subleaf, uint32_t apic_id);

}  // namespace nestbed::sim
