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

// How a guest tells that l1-vmm is the hypervisor under it (README.md,
// "CPUID"): leaf 0x40000000 gives the highest hypervisor leaf in EAX and this
// signature in EBX, ECX, EDX (as KVM's "KVMKVMKVM\0\0\0"); leaf 0x40000001
// gives the guest's level in EAX and ABI_VERSION in EBX.
inline constexpr uint32_t CPUID_LEAF_SIGNATURE = 0x40000000;
inline constexpr uint32_t CPUID_LEAF_LEVEL = 0x40000001;
inline constexpr char SIGNATURE[13] = "NestbedL1VMM";

inline constexpr uint64_t OK = 0;
inline constexpr uint64_t E_PERM = uint64_t(-1);      // VMCALL above CPL 0 (KVM's -KVM_EPERM)
inline constexpr uint64_t E_NOSYS = uint64_t(-1000);  // unknown number (KVM's -KVM_ENOSYS)

#if defined(__x86_64__)
// Whether l1-vmm answers this guest's VMCALLs: its signature at
// CPUID_LEAF_SIGNATURE. Elsewhere VMCALL is #UD (no VMX non-root operation)
// or goes to another hypervisor, whose ABI is not this one.
static inline bool l1_vmm_present() {
  uint32_t a, b, c, d;
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(CPUID_LEAF_SIGNATURE), "c"(0));
  const uint32_t words[3] = {b, c, d};
  for (unsigned i = 0; i < 12; ++i)
    if (char(words[i / 4] >> (8 * (i % 4))) != SIGNATURE[i]) return false;
  return a >= CPUID_LEAF_LEVEL;
}

// VMCALL from a guest of l1-vmm. (Outside VMX non-root operation VMCALL is
// #UD, SDM vol. 2C.)
static inline uint64_t vmcall(uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
  uint64_t ret;
  asm volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
  return ret;
}
#endif

}  // namespace l1::hypercall
