#include "runtime/apic.h"

#include "runtime/interrupts.h"

namespace rt::apic {
namespace {
volatile uint32_t* reg_at(uint32_t reg) {
  return reinterpret_cast<volatile uint32_t*>(arch::apic::DEFAULT_BASE + reg);
}
void ignore_spurious(InterruptFrame&) {}
}  // namespace

// The registers are 32 bits wide on 16-byte boundaries and must be accessed
// with aligned 32-bit loads and stores (SDM 11.4.1); volatile keeps them so.
uint32_t read(uint32_t reg) { return *reg_at(reg); }
void write(uint32_t reg, uint32_t value) { *reg_at(reg) = value; }

void enable(uint8_t spurious_vector) {
  set_interrupt_handler(spurious_vector, ignore_spurious);
  write(arch::apic::SVR, arch::apic::SVR_ENABLE | spurious_vector);
}

void timer_start_periodic(uint8_t vector, uint32_t divide_config, uint32_t initial_count) {
  write(arch::apic::TIMER_DIVIDE_CONFIG, divide_config);
  write(arch::apic::LVT_TIMER, arch::apic::LVT_TIMER_PERIODIC | vector);
  // Writing the initial count starts the countdown (SDM 11.5.4), so it goes last.
  write(arch::apic::TIMER_INITIAL_COUNT, initial_count);
}

void timer_stop() {
  write(arch::apic::LVT_TIMER, read(arch::apic::LVT_TIMER) | arch::apic::LVT_MASKED);
  write(arch::apic::TIMER_INITIAL_COUNT, 0);  // a zero initial count stops the timer
}

void eoi() { write(arch::apic::EOI, 0); }

}  // namespace rt::apic
