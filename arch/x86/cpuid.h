// CPUID feature bits the platform reports or consults (SDM vol. 2A, CPUID).
#pragma once
#include <stdint.h>

namespace arch::cpuid {
// Leaf 1, ECX.
inline constexpr uint32_t L1_ECX_SSE3 = 1u << 0;
inline constexpr uint32_t L1_ECX_VMX = 1u << 5;
inline constexpr uint32_t L1_ECX_SSSE3 = 1u << 9;
inline constexpr uint32_t L1_ECX_CX16 = 1u << 13;
inline constexpr uint32_t L1_ECX_PDCM = 1u << 15;  // IA32_PERF_CAPABILITIES exists
inline constexpr uint32_t L1_ECX_PCID = 1u << 17;
inline constexpr uint32_t L1_ECX_SSE4_1 = 1u << 19;
inline constexpr uint32_t L1_ECX_SSE4_2 = 1u << 20;
inline constexpr uint32_t L1_ECX_X2APIC = 1u << 21;
inline constexpr uint32_t L1_ECX_POPCNT = 1u << 23;
inline constexpr uint32_t L1_ECX_TSC_DEADLINE = 1u << 24;
inline constexpr uint32_t L1_ECX_XSAVE = 1u << 26;
inline constexpr uint32_t L1_ECX_OSXSAVE = 1u << 27;  // reflects CR4.OSXSAVE
inline constexpr uint32_t L1_ECX_HYPERVISOR = 1u << 31;
// Leaf 1, EDX.
inline constexpr uint32_t L1_EDX_FPU = 1u << 0;
inline constexpr uint32_t L1_EDX_VME = 1u << 1;
inline constexpr uint32_t L1_EDX_DE = 1u << 2;
inline constexpr uint32_t L1_EDX_PSE = 1u << 3;
inline constexpr uint32_t L1_EDX_TSC = 1u << 4;
inline constexpr uint32_t L1_EDX_MSR = 1u << 5;
inline constexpr uint32_t L1_EDX_PAE = 1u << 6;
inline constexpr uint32_t L1_EDX_CX8 = 1u << 8;
inline constexpr uint32_t L1_EDX_APIC = 1u << 9;
inline constexpr uint32_t L1_EDX_SEP = 1u << 11;
inline constexpr uint32_t L1_EDX_MTRR = 1u << 12;
inline constexpr uint32_t L1_EDX_PGE = 1u << 13;
inline constexpr uint32_t L1_EDX_CMOV = 1u << 15;
inline constexpr uint32_t L1_EDX_PAT = 1u << 16;
inline constexpr uint32_t L1_EDX_MMX = 1u << 23;
inline constexpr uint32_t L1_EDX_FXSR = 1u << 24;
inline constexpr uint32_t L1_EDX_SSE = 1u << 25;
inline constexpr uint32_t L1_EDX_SSE2 = 1u << 26;
// Leaf 7 (subleaf 0), EBX.
inline constexpr uint32_t L7_EBX_TSC_ADJUST = 1u << 1;
inline constexpr uint32_t L7_EBX_INVPCID = 1u << 10;
// Leaf 7 (subleaf 0), ECX.
inline constexpr uint32_t L7_ECX_UMIP = 1u << 2;
// Leaf 0DH (XSAVE), sub-leaf 1, EAX (SDM vol. 2A, CPUID, table 3-8).
inline constexpr uint32_t LD_1_EAX_XSAVEOPT = 1u << 0;
inline constexpr uint32_t LD_1_EAX_XSAVEC = 1u << 1;
inline constexpr uint32_t LD_1_EAX_XGETBV_ECX1 = 1u << 2;
inline constexpr uint32_t LD_1_EAX_XSAVES = 1u << 3;
// Leaf 0x80000001.
inline constexpr uint32_t X1_ECX_LAHF_LM = 1u << 0;
inline constexpr uint32_t X1_EDX_SYSCALL = 1u << 11;
inline constexpr uint32_t X1_EDX_NX = 1u << 20;
inline constexpr uint32_t X1_EDX_PDPE1GB = 1u << 26;
inline constexpr uint32_t X1_EDX_RDTSCP = 1u << 27;
inline constexpr uint32_t X1_EDX_LM = 1u << 29;
}  // namespace arch::cpuid
