// Local APIC registers (SDM vol. 3, 11.4.1 table 11-1; 11.5.4 timer).
#pragma once
#include <stdint.h>

namespace arch::apic {
inline constexpr uint64_t DEFAULT_BASE = 0xfee00000;
inline constexpr uint64_t MMIO_SIZE = 0x1000;

// xAPIC MMIO offsets. The x2APIC MSR for offset o is 0x800 + (o >> 4).
inline constexpr uint32_t ID = 0x020;
inline constexpr uint32_t VERSION = 0x030;
inline constexpr uint32_t TPR = 0x080;
inline constexpr uint32_t APR = 0x090;
inline constexpr uint32_t PPR = 0x0a0;
inline constexpr uint32_t EOI = 0x0b0;
inline constexpr uint32_t RRD = 0x0c0;
inline constexpr uint32_t LDR = 0x0d0;
inline constexpr uint32_t DFR = 0x0e0;
inline constexpr uint32_t SVR = 0x0f0;
inline constexpr uint32_t ISR0 = 0x100;  // 8 registers, 0x10 apart
inline constexpr uint32_t TMR0 = 0x180;
inline constexpr uint32_t IRR0 = 0x200;
inline constexpr uint32_t ESR = 0x280;
inline constexpr uint32_t LVT_CMCI = 0x2f0;
inline constexpr uint32_t ICR_LOW = 0x300;
inline constexpr uint32_t ICR_HIGH = 0x310;
inline constexpr uint32_t LVT_TIMER = 0x320;
inline constexpr uint32_t LVT_THERMAL = 0x330;
inline constexpr uint32_t LVT_PERF = 0x340;
inline constexpr uint32_t LVT_LINT0 = 0x350;
inline constexpr uint32_t LVT_LINT1 = 0x360;
inline constexpr uint32_t LVT_ERROR = 0x370;
inline constexpr uint32_t TIMER_INITIAL_COUNT = 0x380;
inline constexpr uint32_t TIMER_CURRENT_COUNT = 0x390;
inline constexpr uint32_t TIMER_DIVIDE_CONFIG = 0x3e0;
inline constexpr uint32_t SELF_IPI = 0x3f0;  // x2APIC only

// LVT bits.
inline constexpr uint32_t LVT_VECTOR_MASK = 0xff;
inline constexpr uint32_t LVT_DELIVERY_PENDING = 1u << 12;
inline constexpr uint32_t LVT_MASKED = 1u << 16;
inline constexpr uint32_t LVT_TIMER_MODE_MASK = 3u << 17;
inline constexpr uint32_t LVT_TIMER_ONESHOT = 0u << 17;
inline constexpr uint32_t LVT_TIMER_PERIODIC = 1u << 17;
inline constexpr uint32_t LVT_TIMER_TSC_DEADLINE = 2u << 17;
// SVR bits.
inline constexpr uint32_t SVR_ENABLE = 1u << 8;

// Divide configuration register encodes the divisor in bits 0,1,3 (SDM figure 11-10).
constexpr uint32_t timer_divisor(uint32_t dcr) {
  uint32_t v = ((dcr >> 1) & 4) | (dcr & 3);
  return v == 7 ? 1 : (2u << v);
}
}  // namespace arch::apic
