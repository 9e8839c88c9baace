// Which exits of level k+2 level k+1 asked for (KVM's
// nested_vmx_l1_wants_exit): a pure function of vmcs12, the exit and
// level k+1's bitmaps in its memory, so the host unit tests check it case
// by case. l0_wants_exit (l1-vmm's own needs) is asked first, in
// nested_exit.cpp.
#pragma once
#include <stdint.h>

#include "l1-vmm/nested/vmcs12.h"

namespace l1::nested {

// The exit as the hardware reported it, and what the predicate needs of
// the guest's registers.
struct ExitFacts {
  uint16_t basic = 0;            // basic exit reason
  uint64_t qualification = 0;
  uint32_t intr_info = 0;        // VM_EXIT_INTR_INFO (exceptions, NMIs, interrupts)
  uint32_t intr_error_code = 0;  // VM_EXIT_INTR_ERROR_CODE (a #PF's error code)
  uint32_t msr_index = 0;        // ECX of RDMSR/WRMSR
  uint64_t cr_source = 0;        // MOV to CR: the value written (its register, sized)
};

// Reads one byte of level k+1's memory at guest-physical `gpa`; false if
// it is not RAM (the bitmap bit then reads as 1: the exit is reflected).
struct GuestBytes {
  void* ctx;
  bool (*read)(void* ctx, uint64_t gpa, uint8_t& byte);
};

bool l1_wants_exit(const Vmcs12& vmcs12, const ExitFacts& exit, const GuestBytes& memory);

// The pieces, for the tests and the handlers that need them.
bool l1_wants_exception(const Vmcs12& vmcs12, uint32_t intr_info, uint32_t error_code);
bool l1_wants_cr_access(const Vmcs12& vmcs12, uint64_t qualification, uint64_t source);
bool l1_wants_io(const Vmcs12& vmcs12, uint64_t qualification, const GuestBytes& memory);
bool l1_wants_msr(const Vmcs12& vmcs12, uint32_t msr, bool write, const GuestBytes& memory);

}  // namespace l1::nested
