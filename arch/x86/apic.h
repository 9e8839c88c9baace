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

// APIC-register virtualization (SDM 29.4.2, 29.4.3.1): the registers whose
// 4 bytes (offset to offset+3) a read of the APIC-access page may be
// virtualized for, and those a write may be (without virtual-interrupt
// delivery). Offsets are those of the 16-byte register slots.
constexpr bool apicv_read_register(uint32_t reg) {
  switch (reg) {
    case ID: case VERSION: case TPR: case EOI: case LDR: case DFR: case SVR: case ESR: case ICR_LOW: case ICR_HIGH:
    case TIMER_INITIAL_COUNT: case TIMER_DIVIDE_CONFIG:
      return true;
    default:
      return (reg >= ISR0 && reg < ESR) || (reg >= LVT_TIMER && reg <= LVT_ERROR);  // ISR, TMR, IRR; the LVTs
  }
}
constexpr bool apicv_write_register(uint32_t reg) {
  switch (reg) {
    case TPR: case EOI: case LDR: case DFR: case SVR: case ESR: case ICR_LOW: case ICR_HIGH: case TIMER_INITIAL_COUNT:
    case TIMER_DIVIDE_CONFIG:
      return true;
    default:
      return reg >= LVT_TIMER && reg <= LVT_ERROR;
  }
}

// ISR, TMR and IRR (and their virtual copies VISR, VIRR on the
// virtual-APIC page, SDM 29.1.1) are 256 bits in eight 32-bit words 10H
// apart: vector v is bit v % 32 of the word at base + (v / 32) * 10H.
constexpr uint32_t vector_word(uint32_t base, unsigned vector) { return base + ((vector & 0xff) >> 5) * 0x10; }
constexpr uint32_t vector_bit(unsigned vector) { return 1u << (vector & 31); }

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
inline constexpr uint32_t SVR_FOCUS_DISABLE = 1u << 9;

// Version register (SDM 11.4.8): version 0x14, an integrated xAPIC, with
// max LVT entry 5 (timer, thermal, perf, LINT0, LINT1, error; no CMCI).
inline constexpr uint32_t VERSION_VALUE = 0x00050014;

// Destination format register: model in bits 31:28 (SDM 11.6.2.2).
inline constexpr uint32_t DFR_MODEL_FLAT = 0xf;
inline constexpr uint32_t DFR_MODEL_CLUSTER = 0x0;

// Interrupt command register, low half (SDM 11.6.1, figure 11-12).
inline constexpr uint32_t ICR_VECTOR_MASK = 0xff;
inline constexpr unsigned ICR_DELIVERY_MODE_SHIFT = 8;
inline constexpr uint32_t DELIVERY_FIXED = 0;
inline constexpr uint32_t DELIVERY_LOWEST_PRIORITY = 1;
inline constexpr uint32_t DELIVERY_SMI = 2;
inline constexpr uint32_t DELIVERY_NMI = 4;
inline constexpr uint32_t DELIVERY_INIT = 5;
inline constexpr uint32_t DELIVERY_STARTUP = 6;
inline constexpr uint32_t DELIVERY_EXTINT = 7;  // LVT LINT0/LINT1 only: an external 8259A's vector
inline constexpr uint32_t ICR_DEST_LOGICAL = 1u << 11;
inline constexpr uint32_t ICR_DELIVERY_STATUS = 1u << 12;
inline constexpr uint32_t ICR_LEVEL_ASSERT = 1u << 14;
inline constexpr uint32_t ICR_TRIGGER_LEVEL = 1u << 15;
inline constexpr unsigned ICR_SHORTHAND_SHIFT = 18;
inline constexpr uint32_t SHORTHAND_NONE = 0;
inline constexpr uint32_t SHORTHAND_SELF = 1;
inline constexpr uint32_t SHORTHAND_ALL_INCLUDING_SELF = 2;
inline constexpr uint32_t SHORTHAND_ALL_EXCLUDING_SELF = 3;

// Error status register bits (SDM 11.5.3, figure 11-9).
inline constexpr uint32_t ESR_SEND_CHECKSUM = 1u << 0;
inline constexpr uint32_t ESR_RECEIVE_CHECKSUM = 1u << 1;
inline constexpr uint32_t ESR_SEND_ACCEPT = 1u << 2;
inline constexpr uint32_t ESR_RECEIVE_ACCEPT = 1u << 3;
inline constexpr uint32_t ESR_REDIRECTABLE_IPI = 1u << 4;
inline constexpr uint32_t ESR_SEND_ILLEGAL_VECTOR = 1u << 5;
inline constexpr uint32_t ESR_RECEIVE_ILLEGAL_VECTOR = 1u << 6;
inline constexpr uint32_t ESR_ILLEGAL_REGISTER = 1u << 7;

// Vectors 0..15 are reserved: an APIC never delivers them (SDM 11.5.2).
inline constexpr uint32_t FIRST_LEGAL_VECTOR = 16;

// Divide configuration register encodes the divisor in bits 0,1,3 (SDM figure 11-10).
constexpr uint32_t timer_divisor(uint32_t dcr) {
  uint32_t v = ((dcr >> 1) & 4) | (dcr & 3);
  return v == 7 ? 1 : (2u << v);
}
}  // namespace arch::apic
