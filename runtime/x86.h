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

// XGETBV/XSETBV of extended control register `index` (XCR0 is 0); both
// need CR4.OSXSAVE (SDM vol. 2).
inline uint64_t xgetbv(uint32_t index) {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
  return (uint64_t(hi) << 32) | lo;
}
inline void xsetbv(uint32_t index, uint64_t value) {
  asm volatile("xsetbv" : : "c"(index), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)) : "memory");
}

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
}

// MOV from and to control register N (CR0, CR2, CR3, CR4).
template <unsigned N>
inline uint64_t read_cr() {
  uint64_t v;
  asm volatile("mov %%cr%c[n], %[v]" : [v] "=r"(v) : [n] "i"(N));
  return v;
}
template <unsigned N>
inline void write_cr(uint64_t v) {
  asm volatile("mov %[v], %%cr%c[n]" : : [v] "r"(v), [n] "i"(N) : "memory");
}
inline uint64_t read_cr0() { return read_cr<0>(); }
inline void write_cr0(uint64_t v) { write_cr<0>(v); }
inline uint64_t read_cr2() { return read_cr<2>(); }
inline uint64_t read_cr3() { return read_cr<3>(); }
inline uint64_t read_cr4() { return read_cr<4>(); }
inline void write_cr4(uint64_t v) { write_cr<4>(v); }
inline void invlpg(uint64_t linear) { asm volatile("invlpg (%0)" : : "r"(linear) : "memory"); }

// GDTR and IDTR as SGDT/SIDT store them in 64-bit mode (SDM vol. 3, 2.4.1).
struct [[gnu::packed]] DescriptorTableRegister {
  uint16_t limit;
  uint64_t base;
};
inline DescriptorTableRegister sgdt() {
  DescriptorTableRegister r;
  asm volatile("sgdt %0" : "=m"(r));
  return r;
}
inline DescriptorTableRegister sidt() {
  DescriptorTableRegister r;
  asm volatile("sidt %0" : "=m"(r));
  return r;
}

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
