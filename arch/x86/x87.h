// The x87 FPU (SDM vol. 1, chapter 8): status and control word bits, tag
// values, and the FSTENV/FSAVE memory images (vol. 1, 8.1.10, figures 8-9
// to 8-12). FCW_INIT and the abridged tag word FXSAVE stores are in sse.h
// with the FXSAVE layout.
#pragma once
#include <stdint.h>

#include "arch/x86/sse.h"

namespace arch::x87 {
// Status word (vol. 1, 8.1.3, figure 8-4).
inline constexpr uint16_t FSW_IE = 1u << 0;  // invalid operation
inline constexpr uint16_t FSW_DE = 1u << 1;  // denormal operand
inline constexpr uint16_t FSW_ZE = 1u << 2;  // zero divide
inline constexpr uint16_t FSW_OE = 1u << 3;  // overflow
inline constexpr uint16_t FSW_UE = 1u << 4;  // underflow
inline constexpr uint16_t FSW_PE = 1u << 5;  // precision
inline constexpr uint16_t FSW_EXCEPTIONS = 0x3f;
inline constexpr uint16_t FSW_SF = 1u << 6;  // stack fault
inline constexpr uint16_t FSW_ES = 1u << 7;  // exception summary
inline constexpr uint16_t FSW_C0 = 1u << 8;
inline constexpr uint16_t FSW_C1 = 1u << 9;
inline constexpr uint16_t FSW_C2 = 1u << 10;
inline constexpr unsigned FSW_TOP_SHIFT = 11;
inline constexpr uint16_t FSW_TOP = 7u << FSW_TOP_SHIFT;
inline constexpr uint16_t FSW_C3 = 1u << 14;
inline constexpr uint16_t FSW_B = 1u << 15;  // busy: mirrors ES (8.1.3.1)

// Control word (vol. 1, 8.1.5, figure 8-6): the exception masks are the
// FSW exception bits at the same positions. Bits 7 and 13-15 are reserved
// and read as 0, bit 6 reads as 1, whatever a load wrote (as the hosts of
// tests/unit/differential_x87_test.cpp do).
inline constexpr uint16_t FCW_MASKS = 0x3f;
inline constexpr uint16_t FCW_RESERVED = 0xe080;
inline constexpr uint16_t FCW_ONE = 0x0040;

// Tag values of the full tag word (vol. 1, 8.1.7, figure 8-7), two bits per
// physical register R0-R7.
inline constexpr uint16_t TAG_VALID = 0;
inline constexpr uint16_t TAG_ZERO = 1;
inline constexpr uint16_t TAG_SPECIAL = 2;  // NaN, infinity, denormal, unsupported
inline constexpr uint16_t TAG_EMPTY = 3;

// The 80-bit register format: 64-bit significand (bit 63 the explicit
// integer bit J), then sign and 15-bit exponent (vol. 1, 4.2.2).
inline constexpr uint16_t EXPONENT_MAX = 0x7fff;
// An MMX write sets its register's sign and exponent to all ones (vol. 1,
// 9.5.1, table 9-2); every MMX instruction but EMMS tags all registers
// valid (abridged tag word all ones).
inline constexpr uint16_t MMX_SIGN_EXPONENT = 0xffff;
inline constexpr uint8_t FTW_ABRIDGED_ALL_VALID = 0xff;
// FOP: the low 3 bits of the first opcode byte and the ModR/M byte
// (vol. 1, 8.1.9, figure 8-8).
inline constexpr uint16_t FOP_MASK = 0x7ff;
inline constexpr unsigned REG_BYTES = 10;
inline constexpr unsigned REG_COUNT = 8;
}  // namespace arch::x87

namespace arch::fpuenv {
// FSTENV/FLDENV image, 32-bit protected-mode format (28 bytes; also the
// format in 64-bit mode, which has no 64-bit FSTENV): vol. 1, figure 8-9.
// Each field is a dword; FCW/FSW/FTW use its low 16 bits.
inline constexpr unsigned SIZE32 = 28;
inline constexpr unsigned FCW32 = 0;
inline constexpr unsigned FSW32 = 4;
inline constexpr unsigned FTW32 = 8;
inline constexpr unsigned FIP32 = 12;
inline constexpr unsigned FCS32 = 16;  // bits 15:0 selector, 26:16 FOP
inline constexpr unsigned FOP32_SHIFT = 16;
inline constexpr unsigned FDP32 = 20;
inline constexpr unsigned FDS32 = 24;
// The reserved upper halves of the FCW, FSW, FTW and FDS dwords: written
// as ones (as the hosts of tests/unit/differential_x87_test.cpp do).
inline constexpr uint32_t RESERVED_ONES32 = 0xffff0000u;
// 16-bit protected-mode format (14 bytes; operand-size prefix 66):
// figure 8-11. Each field is a word; the offsets are 16 bits.
inline constexpr unsigned SIZE16 = 14;
inline constexpr unsigned FCW16 = 0;
inline constexpr unsigned FSW16 = 2;
inline constexpr unsigned FTW16 = 4;
inline constexpr unsigned FIP16 = 6;
inline constexpr unsigned FCS16 = 8;
inline constexpr unsigned FDP16 = 10;
inline constexpr unsigned FDS16 = 12;
// FSAVE/FRSTOR: the environment, then ST0-ST7 as 10 bytes each (vol. 1,
// 8.1.10, figures 8-10 and 8-12): 108 or 94 bytes.
}  // namespace arch::fpuenv
