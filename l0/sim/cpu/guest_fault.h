// A fault raised while executing a guest instruction. Handlers throw it
// before committing any architectural side effect; the run loop catches it,
// rewinds RIP to the faulting instruction and delivers the exception.
#pragma once
#include <cstdint>

namespace nestbed::sim {

struct GuestFault {
  uint8_t vector;
  bool has_error_code;
  uint32_t error_code;
};

// A waiting x87 instruction found an unmasked x87 exception pending with
// CR0.NE = 0 and IGNNE# deasserted: the processor freezes before it until
// an interrupt (exec_x87.cpp, x87_pending_check).
struct X87Freeze {};

[[noreturn]] void raise_fault(uint8_t vector);                       // no error code
[[noreturn]] void raise_fault(uint8_t vector, uint32_t error_code);  // with error code
[[noreturn]] inline void raise_gp(uint32_t error_code = 0) { raise_fault(13, error_code); }
[[noreturn]] inline void raise_ud() { raise_fault(6); }

}  // namespace nestbed::sim
