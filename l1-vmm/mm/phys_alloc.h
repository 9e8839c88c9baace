// l1-vmm's physical-memory allocator: the RAM the Multiboot memory map
// reports as available, above 1 MiB and below the runtime's 4 GiB identity
// map, minus everything the loader handed over (l1-vmm's image, the
// Multiboot info, the memory map, module list, module contents and every
// string). A handful of free ranges, best fit: small allocations (EPT
// tables, the VMCS, bitmaps) land in the smallest hole that holds them, so
// the largest run stays whole for the guest's memory. Nothing is freed:
// l1-vmm allocates once, at boot.
#pragma once
#include <stdint.h>

#include "runtime/boot_info.h"

namespace l1::mm {

void init(const rt::BootInfo& boot);

// `bytes` (rounded up to 4 KiB) at an `align`-aligned physical address
// (identity-mapped, so also the pointer), or 0 if no free range holds them.
// Not cleared.
uint64_t alloc(uint64_t bytes, uint64_t align);

// A cleared 4 KiB page; ends the run (L1_NO_MEMORY) if there is none.
uint64_t alloc_page_or_die(const char* what);

// The largest allocation alloc(n, align) can still satisfy.
uint64_t largest_free(uint64_t align);
uint64_t free_bytes();

}  // namespace l1::mm
