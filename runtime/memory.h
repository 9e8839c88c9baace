// Physical page allocation from the free RAM the loader reported.
#pragma once
#include <stdint.h>

#include "runtime/boot_info.h"

namespace rt {

// Hands out [boot.free_start, boot.ram_end). Called once by the runtime.
void memory_init(const BootInfo& boot);

// Returns the physical (= identity-mapped virtual) address of `count`
// contiguous 4 KiB pages, or 0 when they do not fit. A bump allocator: the
// workloads never free. The pages are NOT cleared, so the caller's first
// write is the first touch (which is what memtouch measures).
uint64_t alloc_pages(uint64_t count);

// Bytes alloc_pages can still hand out.
uint64_t free_memory();

}  // namespace rt
