// Thin wrappers around the privileged x86 instructions the runtime and the
// workloads use. Each is one instruction; `volatile` keeps the compiler from
// dropping or merging them, since every one of them may cause a VM exit and
// exits are what the workloads exist to produce.
#pragma once
#include <stdint.h>

namespace rt {

inline void outb(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}
inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}
inline uint8_t inb(uint16_t port) {
  uint8_t value;
  asm volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

inline uint64_t rdmsr(uint32_t index) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
  return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t index, uint64_t value) {
  asm volatile("wrmsr" : : "c"(index), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
}

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidResult r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

inline uint64_t read_cr2() {
  uint64_t v;
  asm volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
inline uint64_t read_cr3() {
  uint64_t v;
  asm volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
inline void invlpg(uint64_t linear) { asm volatile("invlpg (%0)" : : "r"(linear) : "memory"); }

inline void cli() { asm volatile("cli" : : : "memory"); }
// Enables interrupts and halts until one arrives. STI's interrupt shadow
// (SDM vol. 3, 6.8.3) lasts until HLT has begun, so an interrupt pending at
// the STI wakes the HLT instead of being taken before it and lost.
inline void sti_hlt() { asm volatile("sti; hlt" : : : "memory"); }

// Stops this CPU for good: nothing can wake it with interrupts off except
// NMI/SMI, after which it halts again.
[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace rt
