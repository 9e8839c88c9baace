#include "runtime/paging.h"

#include "arch/x86/paging.h"
#include "runtime/libc.h"
#include "runtime/memory.h"
#include "runtime/x86.h"

namespace rt {
namespace {

namespace pte = arch::pte;

uint64_t* table_at(uint64_t physical) { return reinterpret_cast<uint64_t*>(physical & pte::ADDR_MASK); }

// The table `entry` points to, allocated and cleared first if not present.
MapStatus next_table(uint64_t& entry, uint64_t*& table) {
  if (!(entry & pte::P)) {
    uint64_t frame = alloc_pages(1);
    if (!frame) return MapStatus::NoMemory;
    memset(table_at(frame), 0, pte::PAGE_SIZE);
    entry = frame | pte::P | pte::RW;
  } else if (entry & pte::PS) {
    return MapStatus::LargePage;
  }
  table = table_at(entry);
  return MapStatus::Ok;
}

}  // namespace

MapStatus map_page(uint64_t linear, uint64_t physical, uint64_t flags) {
  uint64_t* table = table_at(read_cr3());
  for (int level = 4; level > 1; level--) {
    MapStatus status = next_table(table[pte::index(linear, level)], table);
    if (status != MapStatus::Ok) return status;
  }
  uint64_t& entry = table[pte::index(linear, 1)];
  bool replacing = entry & pte::P;
  entry = (physical & pte::ADDR_MASK) | flags | pte::P;
  // A not-present entry is never cached, so only a replaced mapping needs a
  // flush (SDM vol. 3, 4.10.4.3).
  if (replacing) invlpg(linear);
  return MapStatus::Ok;
}

const char* map_status_name(MapStatus status) {
  switch (status) {
    case MapStatus::Ok: return "ok";
    case MapStatus::NoMemory: return "out of memory for page tables";
    case MapStatus::LargePage: return "address inside a large page";
  }
  return "?";
}

}  // namespace rt
