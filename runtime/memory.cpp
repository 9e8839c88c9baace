#include "runtime/memory.h"

#include "arch/x86/paging.h"

namespace rt {
namespace {
uint64_t next_free = 0;
uint64_t limit = 0;
}  // namespace

void memory_init(const BootInfo& boot) {
  next_free = boot.free_start;
  limit = boot.ram_end;
}

uint64_t alloc_pages(uint64_t count) {
  // Compare page counts rather than byte sums so a huge count cannot overflow.
  if (count == 0 || count > free_memory() / arch::pte::PAGE_SIZE) return 0;
  uint64_t address = next_free;
  next_free += count * arch::pte::PAGE_SIZE;
  return address;
}

uint64_t free_memory() { return limit - next_free; }

}  // namespace rt
