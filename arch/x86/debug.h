// Debug registers DR6 and DR7 (SDM vol. 3, 18.2) and the exception classes
// that decide the RF flag an event pushes (18.3.1.1).
#pragma once
#include <stdint.h>

namespace arch::debug {

// DR6, the debug status register (SDM 18.2.3).
inline constexpr uint64_t DR6_B0_B3 = 0xf;          // breakpoint n condition met (bit n)
inline constexpr uint64_t DR6_BLD = 1ull << 11;     // bus-lock detected (active low)
inline constexpr uint64_t DR6_BD = 1ull << 13;      // debug-register access detected (general detect)
inline constexpr uint64_t DR6_BS = 1ull << 14;      // single step
inline constexpr uint64_t DR6_BT = 1ull << 15;      // task switch
inline constexpr uint64_t DR6_RTM = 1ull << 16;     // in an RTM region (active low)
// Bits that read as 1 with no bus-lock detection and no RTM (the reset
// value 0xFFFF0FF0), and the bits MOV to DR6 can change.
inline constexpr uint64_t DR6_FIXED1 = 0xffff0ff0;
inline constexpr uint64_t DR6_WRITABLE = DR6_B0_B3 | DR6_BD | DR6_BS | DR6_BT;
inline constexpr uint64_t DR6_INIT = DR6_FIXED1;

// DR7, the debug control register (SDM 18.2.4).
inline constexpr uint64_t DR7_INIT = 0x400;          // bit 10 reads as 1
inline constexpr uint64_t DR7_GD = 1ull << 13;       // general detect
// Bits 11 (RTM, without RTM support), 12, 14 and 15 read as 0.
inline constexpr uint64_t DR7_READ_AS_ZERO = 0xd800;
constexpr bool dr7_enabled(uint64_t dr7, unsigned n) { return (dr7 >> (2 * n)) & 3; }  // Ln or Gn
constexpr unsigned dr7_rw(uint64_t dr7, unsigned n) { return unsigned(dr7 >> (16 + 4 * n)) & 3; }
// LENn: 00 one byte, 01 two, 11 four, 10 eight (SDM 18.2.5).
constexpr unsigned dr7_len(uint64_t dr7, unsigned n) {
  constexpr unsigned kBytes[4] = {1, 2, 8, 4};
  return kBytes[(dr7 >> (18 + 4 * n)) & 3];
}
// R/Wn: what breakpoint n watches.
inline constexpr unsigned RW_EXECUTE = 0;
inline constexpr unsigned RW_WRITE = 1;
inline constexpr unsigned RW_IO = 2;  // with CR4.DE = 1; undefined otherwise
inline constexpr unsigned RW_READ_WRITE = 3;

}  // namespace arch::debug

namespace arch {
// Fault-class exceptions (SDM 6.5, table 6-1): the instruction did not
// complete and the saved RIP points at it. Every one of them but #DB (an
// instruction breakpoint is a fault too, but pushes RF = 0) sets RF in the
// RFLAGS image it pushes (SDM 18.3.1.1).
constexpr bool exception_pushes_rf(uint8_t vector) {
  switch (vector) {
    case 0: case 5: case 6: case 7: case 10: case 11: case 12: case 13: case 14:
    case 16: case 17: case 19: case 20: case 21:
      return true;
    default:
      return false;
  }
}
}  // namespace arch
