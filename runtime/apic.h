// xAPIC helpers (SDM vol. 3, chapter 11) over the MMIO page at
// arch::apic::DEFAULT_BASE, which boot.cpp maps uncached.
#pragma once
#include <stdint.h>

#include "arch/x86/apic.h"

namespace rt::apic {

// Divide configuration for "divide by 16" (SDM figure 11-10: bits 3,1:0 = 0,11).
inline constexpr uint32_t DIVIDE_BY_16 = 0x3;
static_assert(arch::apic::timer_divisor(DIVIDE_BY_16) == 16);

uint32_t read(uint32_t reg);
void write(uint32_t reg, uint32_t value);

// Software-enables the APIC (SVR) with `spurious_vector`, whose interrupts
// are ignored: they set no ISR bit and so take no EOI (SDM 11.9).
void enable(uint8_t spurious_vector);

// Starts the timer in periodic mode: an interrupt on `vector` every
// initial_count × divisor bus clocks (SDM 11.5.4).
void timer_start_periodic(uint8_t vector, uint32_t divide_config, uint32_t initial_count);

// Masks the timer's LVT entry and stops the count.
void timer_stop();

void eoi();

}  // namespace rt::apic
