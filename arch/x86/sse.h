// SSE/SSE2 and the x87 state FXSAVE carries: MXCSR (SDM vol. 1, 10.2.3),
// the x87 control and status words (vol. 1, 8.1.3-8.1.5) and the FXSAVE
// area layout (vol. 1, 10.5.1, tables 10-2 and 10-3).
#pragma once
#include <stdint.h>

namespace arch::mxcsr {
// Exception flags (sticky), in the order of the mask bits 12:7.
inline constexpr uint32_t IE = 1u << 0;  // invalid operation
inline constexpr uint32_t DE = 1u << 1;  // denormal operand
inline constexpr uint32_t ZE = 1u << 2;  // divide-by-zero
inline constexpr uint32_t OE = 1u << 3;  // overflow
inline constexpr uint32_t UE = 1u << 4;  // underflow
inline constexpr uint32_t PE = 1u << 5;  // precision
inline constexpr uint32_t FLAGS = 0x3f;
inline constexpr uint32_t DAZ = 1u << 6;  // denormals are zeros
inline constexpr unsigned MASK_SHIFT = 7;  // IM..PM = flags << 7
inline constexpr uint32_t MASKS = FLAGS << MASK_SHIFT;
inline constexpr uint32_t RC_SHIFT = 13;   // rounding control, bits 14:13
inline constexpr uint32_t RC = 3u << RC_SHIFT;
inline constexpr uint32_t FZ = 1u << 15;   // flush to zero
// Power-up, reset and INIT value (SDM vol. 3, table 10-1): all exceptions
// masked, round to nearest.
inline constexpr uint32_t RESET = 0x1f80;
// The MXCSR_MASK FXSAVE reports: every defined bit, DAZ included (SDM vol.
// 1, 10.5.1.2). Writing a bit outside it (LDMXCSR, FXRSTOR) is #GP(0).
inline constexpr uint32_t SUPPORTED = 0xffff;
}  // namespace arch::mxcsr

namespace arch::x87 {
// FNINIT's control word: all exceptions masked, 64-bit precision, round
// to nearest (SDM vol. 1, 8.1.5). Also the value at Multiboot entry: the
// SDM's power-up value is 0x0040, but a Multiboot kernel starts after
// firmware that has run FNINIT (as QEMU and KVM present it).
inline constexpr uint16_t FCW_INIT = 0x037f;
// FXSAVE's abridged tag word: one bit per register, 1 = valid (SDM vol. 1,
// 10.5.1.1); 0 after FNINIT (all empty).
inline constexpr uint8_t FTW_ABRIDGED_EMPTY = 0;
}  // namespace arch::x87

namespace arch::fxsave {
// Byte offsets in the 512-byte FXSAVE area (SDM vol. 1, tables 10-2 and
// 10-3). With REX.W (FXSAVE64) FPU IP and DP are 64-bit at 8 and 16;
// without it they are 32-bit offsets with their selectors at 12 and 20.
inline constexpr unsigned SIZE = 512;
inline constexpr unsigned ALIGN = 16;
inline constexpr unsigned FCW = 0;
inline constexpr unsigned FSW = 2;
inline constexpr unsigned FTW = 4;  // one byte (abridged); byte 5 reserved
inline constexpr unsigned FOP = 6;
inline constexpr unsigned FIP = 8;
inline constexpr unsigned FCS = 12;  // 32-bit layout only
inline constexpr unsigned FDP = 16;
inline constexpr unsigned FDS = 20;  // 32-bit layout only
inline constexpr unsigned MXCSR = 24;
inline constexpr unsigned MXCSR_MASK = 28;
inline constexpr unsigned ST0 = 32;    // ST0/MM0..ST7/MM7: 10 bytes in each 16-byte slot
inline constexpr unsigned XMM0 = 160;  // XMM0..XMM15, 16 bytes each (XMM8-15 in 64-bit mode only)
inline constexpr unsigned SLOT = 16;
}  // namespace arch::fxsave
