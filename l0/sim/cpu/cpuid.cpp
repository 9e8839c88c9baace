#include "l0/sim/cpu/cpuid.h"

#include <cstring>

#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/xsave.h"

namespace nestbed::sim {

using namespace arch::cpuid;

namespace {
constexpr uint32_t kMaxBasicLeaf = 0xd;
constexpr uint32_t kMaxExtendedLeaf = 0x80000008;
// Family 6, model 0x55, stepping 4 (a Skylake-SP signature), like the
// machines the published exit costs in shared/reference were measured on.
constexpr uint32_t kSignature = 0x00050654;
constexpr char kVendor[13] = "GenuineIntel";
constexpr char kBrand[49] = "nestbed sim x86-64 processor                   ";

uint32_t chars(const char* s) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  return v;
}
// Leaf 0DH without its XCR0-dependent EBX (SDM vol. 2A, CPUID, table 3-8;
// vol. 1, 13.2). Sub-leaf 0: the supported XCR0 bits and the size of the
// area for all of them (components 0 and 1 live in the legacy region, so
// that is the legacy region and the header). Sub-leaf 1: XSAVEOPT only
// (no XSAVEC, XGETBV with ECX = 1, XSAVES; no IA32_XSS bits). Sub-leaves
// 2..62 describe supported components >= 2: there are none, so they
// return zeros, as do the others.
CpuidResult xsave_leaf(uint32_t subleaf) {
  switch (subleaf) {
    case 0: return {uint32_t(kXcr0Supported), 0, arch::xsave::SIZE_X87_SSE, uint32_t(kXcr0Supported >> 32)};
    case 1: return {LD_1_EAX_XSAVEOPT, 0, 0, 0};
    default: return {0, 0, 0, 0};
  }
}

// The size of the standard-form XSAVE area for the components `xcr0`
// enables (CPUID.(EAX=0DH,ECX=0):EBX): x87 and SSE need only the legacy
// region and the header.
uint32_t xsave_size(uint64_t xcr0) {
  (void)xcr0;
  static_assert((kXcr0Supported & ~(arch::xcr0::X87 | arch::xcr0::SSE)) == 0, "a component beyond SSE needs its offset here");
  return arch::xsave::SIZE_X87_SSE;
}
}  // namespace

// Leaves above the maximum return zeros (deterministic; real Intel parts
// return the highest basic leaf's data instead). Leaves up to the maximum
// that this CPU has nothing to report in (8 and 0CH reserved, 9 DCA, 0AH
// performance monitoring version 0, 0BH topology with EBX = 0, which the
// SDM defines as "leaf 0BH not supported") return zeros too.
static CpuidResult base_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t apic_id) {
  switch (leaf) {
    case 0: return {kMaxBasicLeaf, chars(kVendor), chars(kVendor + 8), chars(kVendor + 4)};
    case 1: {
      // EBX: CLFLUSH line size 8 qwords, one logical processor, APIC ID.
      const uint32_t ebx = (8u << 8) | (1u << 16) | (apic_id << 24);
      // ECX: the x86-64-v2 level (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT,
      // CMPXCHG16B; not MONITOR/MWAIT), PCID, x2APIC, VMX, XSAVE
      // (exec_xsave.cpp; OSXSAVE is added by cpuid() from CR4) and PDCM
      // (IA32_PERF_CAPABILITIES, which gives the LBR format: lbr.cpp).
      const uint32_t ecx = L1_ECX_SSE3 | L1_ECX_SSSE3 | L1_ECX_CX16 | L1_ECX_SSE4_1 | L1_ECX_SSE4_2 | L1_ECX_POPCNT |
                           L1_ECX_PCID | L1_ECX_X2APIC | L1_ECX_VMX | L1_ECX_XSAVE | L1_ECX_PDCM;
      const uint32_t edx = L1_EDX_FPU | L1_EDX_DE | L1_EDX_PSE | L1_EDX_TSC | L1_EDX_MSR | L1_EDX_PAE | L1_EDX_CX8 |
                           L1_EDX_APIC | L1_EDX_MTRR | L1_EDX_PGE | L1_EDX_CMOV | L1_EDX_PAT | (1u << 19) /* CLFSH */ |
                           L1_EDX_MMX | L1_EDX_FXSR | L1_EDX_SSE | L1_EDX_SSE2;
      // FPU: the x87 FPU (exec_x87.cpp); MMX: exec_mmx.cpp.
      return {kSignature, ebx, ecx, edx};
    }
    case 7: return subleaf == 0 ? CpuidResult{0, L7_EBX_TSC_ADJUST | L7_EBX_INVPCID, L7_ECX_UMIP, 0} : CpuidResult{0, 0, 0, 0};
    case 0xd: return xsave_leaf(subleaf);
    case 0x80000000: return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000001:
      return {0, 0, X1_ECX_LAHF_LM, X1_EDX_SYSCALL | X1_EDX_NX | X1_EDX_PDPE1GB | X1_EDX_RDTSCP | X1_EDX_LM};
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const char* p = kBrand + 16 * (leaf - 0x80000002);
      return {chars(p), chars(p + 4), chars(p + 8), chars(p + 12)};
    }
    case 0x80000008: return {0x3000 | arch::pte::MAXPHYADDR, 0, 0, 0};  // 48-bit linear addresses
    default: return {0, 0, 0, 0};
  }
}

// IA32_MISC_ENABLE (SDM vol. 4, table 2-2): "limit CPUID maxval" makes
// CPUID.0 report 2 and the leaves above it behave as leaves above the
// maximum do; "XD bit disable" clears CPUID.80000001H:EDX.NX. A globally
// disabled APIC clears CPUID.01H:EDX.APIC (SDM 11.4.3). CPUID.01H:ECX.OSXSAVE
// is CR4.OSXSAVE, and CPUID.(EAX=0DH,ECX=0):EBX follows XCR0.
CpuidResult cpuid(uint32_t leaf, uint32_t subleaf, uint32_t apic_id, const CpuidState& state) {
  const bool limited = state.misc_enable & arch::msr::MISC_ENABLE_LIMIT_CPUID;
  if (limited && leaf > arch::msr::MISC_ENABLE_LIMIT_CPUID_MAXVAL && leaf <= kMaxBasicLeaf) return {0, 0, 0, 0};
  CpuidResult r = base_cpuid(leaf, subleaf, apic_id);
  if (leaf == 0 && limited) r.eax = arch::msr::MISC_ENABLE_LIMIT_CPUID_MAXVAL;
  if (leaf == 1 && !state.apic_enabled) r.edx &= ~L1_EDX_APIC;
  if (leaf == 1 && state.osxsave) r.ecx |= L1_ECX_OSXSAVE;
  if (leaf == 0xd && subleaf == 0) r.ebx = xsave_size(state.xcr0);
  if (leaf == 0x80000001 && (state.misc_enable & arch::msr::MISC_ENABLE_XD_DISABLE)) r.edx &= ~X1_EDX_NX;
  return r;
}

}  // namespace nestbed::sim
