// l1-vmm's hypercall ABI (README.md, "Hypercalls"): a guest executes VMCALL
// with the number in RAX and arguments in RBX, RCX, RDX, RSI (KVM's
// registers); the result comes back in RAX, every other register kept.
// Freestanding: guests include it for the numbers and vmcall().
//
// Numbers are an ABI: never renumber, only add (and bump ABI_VERSION, which
// CPUID 0x40000001 EBX reports).
#pragma once
#include <stdint.h>

namespace l1::hypercall {

inline constexpr uint32_t ABI_VERSION = 1;

enum Number : uint64_t {
  NOP = 0,          // nothing; returns OK (vmcall-loop's exit)
  PUTCHAR = 1,      // RBX bits 7:0 to COM1; returns OK
  EXIT = 2,         // ends the run: l1-vmm's statistics (with `stats`), then isa-debug-exit with RBX bits 31:0
  PRINT_STATS = 3,  // prints l1-vmm's exit statistics now (with `stats`); returns OK
};

inline constexpr uint64_t OK = 0;
inline constexpr uint64_t E_PERM = uint64_t(-1);      // VMCALL above CPL 0 (KVM's -KVM_EPERM)
inline constexpr uint64_t E_NOSYS = uint64_t(-1000);  // unknown number (KVM's -KVM_ENOSYS)

#if defined(__x86_64__)
// VMCALL from a guest of l1-vmm. (Outside VMX non-root operation VMCALL is
// #UD, SDM vol. 2C.)
static inline uint64_t vmcall(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
  uint64_t ret;
  asm volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
  return ret;
}
#endif

}  // namespace l1::hypercall
