// The guest's RAM: one physically contiguous block of l1-vmm's memory,
// 2 MiB aligned, that EPT01 maps at guest-physical [0, size). l1-vmm reaches
// it through its identity map, so guest-physical gpa is the host pointer
// base + gpa.
#pragma once
#include <stdint.h>

namespace l1 {

struct GuestMemory {
  uint64_t base = 0;  // host-physical address of guest-physical 0
  uint64_t size = 0;  // bytes

  bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size && len <= size - gpa; }
  // The host pointer for [gpa, gpa + len), or nullptr if that is not all RAM.
  void* hva(uint64_t gpa, uint64_t len) const {
    return contains(gpa, len) ? reinterpret_cast<void*>(base + gpa) : nullptr;
  }
  // `bytes` (1..8) bytes at `gpa`, little-endian; all-ones where that is not
  // RAM, as the platform reads memory that is not there (EPT12 entries,
  // bitmaps, VMCS revision identifiers of the guest hypervisor).
  uint64_t read_or_ones(uint64_t gpa, unsigned bytes) const {
    const void* p = hva(gpa, bytes);
    if (!p) return ~0ull;
    uint64_t v = 0;
    __builtin_memcpy(&v, p, bytes);
    return v;
  }
};

// The guest's memory (set once at boot, read by the exit handlers).
extern GuestMemory guest_memory;

// Chooses the size (option guest_mem, or the default of README.md
// "Memory") and allocates it; ends the run with L1_NO_MEMORY if it does
// not fit.
void allocate_guest_memory(uint64_t requested_mib);

}  // namespace l1
