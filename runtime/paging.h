// 4 KiB page-table helpers on the live paging structures (CR3). Tables are
// reached through the boot identity map, so they must lie below 4 GiB, which
// alloc_pages guarantees.
#pragma once
#include <stdint.h>

namespace rt {

enum class MapStatus {
  Ok,
  NoMemory,   // a missing page table could not be allocated
  LargePage,  // `linear` lies in a 2 MiB / 1 GiB mapping; it is not split
};

// Maps the 4 KiB page at `linear` to the frame at `physical` with `flags`
// (arch::pte bits; P is added), creating missing tables (present, writable,
// supervisor: the leaf entry decides the access rights).
MapStatus map_page(uint64_t linear, uint64_t physical, uint64_t flags);

const char* map_status_name(MapStatus status);

}  // namespace rt
