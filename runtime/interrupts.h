// The IDT: 256 64-bit interrupt gates, all through one common entry that
// saves the registers and calls the handler registered for the vector. A
// vector without a handler is fatal: exceptions print vector, error code,
// RIP and CR2 and exit with EXIT_EXCEPTION; other vectors exit with
// EXIT_UNEXPECTED_INTERRUPT.
#pragma once
#include <stdint.h>

namespace rt {

// The stack as the common entry leaves it (lowest address first).
struct InterruptFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector;
  uint64_t error_code;  // 0 for vectors that push none
  // Pushed by the CPU (SDM vol. 3, 6.14.2, figure 6-9).
  uint64_t rip, cs, rflags, rsp, ss;
};

using InterruptHandler = void (*)(InterruptFrame& frame);

// Loads the IDT. Called once by the runtime before kmain.
void interrupts_init();

// Runs `handler` (with interrupts disabled, on the interrupted stack) for
// `vector`; nullptr restores the fatal default.
void set_interrupt_handler(uint8_t vector, InterruptHandler handler);

}  // namespace rt
