#include "l1-vmm/mm/guest_memory.h"

#include "arch/x86/paging.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/panic.h"

namespace l1 {

GuestMemory guest_memory;

namespace {

constexpr uint64_t MIB = 1ull << 20;
constexpr uint64_t LARGE_PAGE = arch::pte::LARGE_PAGE_SIZE;
// The default share: half of l1-vmm's free memory, and at least 64 MiB
// (enough for every workload at its default count). Half, so that a stack
// of l1-vmms halves its memory level by level: depth 5 runs in
// --memory 3584 (1.7 GiB, 0.9, 0.4, 0.2 GiB, and 100 MiB for the workload).
constexpr uint64_t DEFAULT_GUEST_MEM = 64 * MIB;
// What l1-vmm keeps for itself when the default has to shrink: EPT01's
// tables, vmcs01, the bitmaps, and for a guest hypervisor vmcs02, the
// shadow VMCS and EPT02's pool of 1 MiB (nested/nested_ept.cpp).
constexpr uint64_t L1_RESERVE = 4 * MIB;
constexpr uint64_t MIN_GUEST_MEM = 2 * MIB;

// max(64 MiB, half of what is free), or, where that does not fit, the
// largest 2 MiB-aligned run that still leaves L1_RESERVE for l1-vmm, in
// whole 2 MiB.
uint64_t default_size() {
  const uint64_t free = mm::free_bytes();
  uint64_t size = (free / 2) & ~(LARGE_PAGE - 1);
  if (size < DEFAULT_GUEST_MEM) size = DEFAULT_GUEST_MEM;
  const uint64_t run = mm::largest_free(LARGE_PAGE) & ~(LARGE_PAGE - 1);
  if (run < size) size = run;
  if (free < L1_RESERVE + size) size = free > L1_RESERVE ? (free - L1_RESERVE) & ~(LARGE_PAGE - 1) : 0;
  return size;
}

}  // namespace

void allocate_guest_memory(uint64_t requested_mib) {
  const uint64_t size = requested_mib ? requested_mib * MIB : default_size();
  if (size < MIN_GUEST_MEM)
    fatal(L1_NO_MEMORY, "only %lu KiB free: not enough for a guest (at least 2 MiB); give the platform more RAM",
          mm::free_bytes() / 1024);
  // 2 MiB alignment lets EPT01 map the RAM with 2 MiB pages.
  const uint64_t base = mm::alloc(size, LARGE_PAGE);
  if (!base)
    fatal(L1_NO_MEMORY, "guest_mem=%lu MiB does not fit: the largest free run is %lu MiB (%lu MiB free in all)",
          size / MIB, mm::largest_free(LARGE_PAGE) / MIB, mm::free_bytes() / MIB);
  guest_memory = GuestMemory{base, size};
}

}  // namespace l1
