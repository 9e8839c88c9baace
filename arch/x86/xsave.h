// XSAVE-managed state: XCR0, the state components, the XSAVE area's
// standard form (SDM vol. 1, chapter 13) and the XSAVE CPUID leaf 0DH.
#pragma once
#include <stdint.h>

namespace arch::xcr0 {
// The extended control register XSETBV/XGETBV address with ECX = 0.
inline constexpr uint32_t INDEX = 0;
// State-component bitmap bits (SDM vol. 1, 13.1).
inline constexpr uint64_t X87 = 1ull << 0;  // always 1 (XSETBV #GP if clear)
inline constexpr uint64_t SSE = 1ull << 1;
inline constexpr uint64_t AVX = 1ull << 2;  // YMM_Hi128
inline constexpr uint64_t BNDREGS = 1ull << 3;  // MPX
inline constexpr uint64_t BNDCSR = 1ull << 4;
inline constexpr uint64_t AVX512 = 7ull << 5;  // opmask, ZMM_Hi256, Hi16_ZMM
inline constexpr uint64_t XTILE = 3ull << 17;  // AMX TILECFG, TILEDATA
// Power-up, reset and INIT value (SDM vol. 3, table 10-1 and vol. 1, 13.3).
inline constexpr uint64_t RESET = X87;

// Whether XSETBV accepts `v` for XCR0 on a processor that supports the
// components in `supported` (CPUID.(EAX=0DH,ECX=0):EDX:EAX). SDM vol. 1,
// 13.3 and vol. 2, XSETBV: bit 0 set; AVX only with SSE; the MPX bits
// together; the AVX-512 bits all or none, and only with AVX (and so SSE);
// the AMX bits together; nothing unsupported. (KVM's __kvm_set_xcr.)
constexpr bool valid(uint64_t v, uint64_t supported) {
  if (!(v & X87) || (v & ~supported)) return false;
  if ((v & AVX) && !(v & SSE)) return false;
  if (!(v & BNDREGS) != !(v & BNDCSR)) return false;
  if ((v & AVX512) && ((v & AVX512) != AVX512 || !(v & AVX))) return false;
  if ((v & XTILE) && (v & XTILE) != XTILE) return false;
  return true;
}
}  // namespace arch::xcr0

namespace arch::xsave {
// The legacy region is the FXSAVE layout (arch::fxsave); the XSAVE header
// follows it (SDM vol. 1, 13.4.2).
inline constexpr unsigned LEGACY_SIZE = 512;
inline constexpr unsigned HEADER = 512;
inline constexpr unsigned XSTATE_BV = HEADER + 0;
inline constexpr unsigned XCOMP_BV = HEADER + 8;
inline constexpr unsigned HEADER_SIZE = 64;
// The area for components 0 and 1 alone (legacy region + header).
inline constexpr unsigned SIZE_X87_SSE = LEGACY_SIZE + HEADER_SIZE;  // 576
// XSAVE, XRSTOR, XSAVEOPT: the area is 64-byte aligned or #GP(0) (SDM
// vol. 1, 13.4).
inline constexpr unsigned ALIGN = 64;
// XCOMP_BV bit 63: the compacted form (XSAVEC/XSAVES).
inline constexpr uint64_t XCOMP_BV_COMPACTED = 1ull << 63;
}  // namespace arch::xsave
