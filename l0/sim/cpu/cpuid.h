// The CPUID leaves the sim CPU reports: only features it implements.
#pragma once
#include <cstdint>

#include "arch/x86/xsave.h"

namespace nestbed::sim {

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};

// The processor state some CPUID bits follow.
struct CpuidState {
  uint64_t misc_enable = 0;  // IA32_MISC_ENABLE: limit CPUID maxval (bit 22), XD disable (bit 34)
  bool apic_enabled = true;  // IA32_APIC_BASE.EN: CPUID.01H:EDX.APIC (SDM 10.4.3)
  bool osxsave = false;      // CR4.OSXSAVE: CPUID.01H:ECX.OSXSAVE (SDM vol. 2A, CPUID)
  uint64_t xcr0 = arch::xcr0::RESET;  // CPUID.(EAX=0DH,ECX=0):EBX, the area size for XCR0
};

// The XCR0 bits this CPU supports (CPUID.(EAX=0DH,ECX=0):EDX:EAX): x87 and
// SSE state only, no AVX. XSETBV refuses every other bit.
inline constexpr uint64_t kXcr0Supported = arch::xcr0::X87 | arch::xcr0::SSE;

CpuidResult cpuid(uint32_t leaf, uint32_t subleaf, uint32_t apic_id, const CpuidState& state = {});

}  // namespace nestbed::sim
