#include "l1-vmm/mm/phys_alloc.h"

#include "arch/x86/paging.h"
#include "l1-vmm/panic.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"

extern "C" char __image_start[], __image_end[];  // l1-vmm/linker.ld

namespace l1::mm {
namespace {

namespace mb = arch::multiboot;

constexpr uint64_t PAGE = arch::pte::PAGE_SIZE;
constexpr uint64_t LOW_MEMORY_END = 1ull << 20;  // below 1 MiB: BIOS, the loader's info area; never handed out
constexpr unsigned MAX_RANGES = 64;

struct Range {
  uint64_t start, end;  // [start, end)
};

Range free_ranges[MAX_RANGES];
unsigned range_count;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

void add_free(uint64_t start, uint64_t end) {
  start = align_up(start, PAGE);
  end = align_down(end, PAGE);
  if (start >= end) return;
  if (range_count == MAX_RANGES) return;  // more holes than slots: the rest stays unused
  free_ranges[range_count++] = {start, end};
}

// Removes [start, end) from every free range (splitting one in two if the
// hole lies inside it).
void reserve(uint64_t start, uint64_t end) {
  start = align_down(start, PAGE);
  end = align_up(end, PAGE);
  for (unsigned i = 0; i < range_count; i++) {
    Range r = free_ranges[i];
    if (end <= r.start || start >= r.end) continue;
    free_ranges[i] = {r.start, start > r.start ? start : r.start};  // the part below (maybe empty)
    if (end < r.end) add_free(end, r.end);                            // the part above
  }
}

void reserve_string(uint32_t address) {
  if (address) reserve(address, address + strlen(reinterpret_cast<const char*>(uintptr_t(address))) + 1);
}

// Everything the Multiboot loader handed over stays where it is.
void reserve_boot_info(const rt::BootInfo& boot) {
  const mb::Info& info = *boot.info;
  reserve(uintptr_t(&info), uintptr_t(&info) + sizeof info);
  if (info.flags & mb::INFO_CMDLINE) reserve_string(info.cmdline);
  if (info.flags & mb::INFO_MEM_MAP) reserve(info.mmap_addr, uint64_t(info.mmap_addr) + info.mmap_length);
  if (info.flags & mb::INFO_BOOT_LOADER_NAME) reserve_string(info.boot_loader_name);
  if (info.flags & mb::INFO_MODS) {
    reserve(info.mods_addr, info.mods_addr + uint64_t(info.mods_count) * sizeof(mb::Module));
    for (uint32_t i = 0; i < boot.module_count; i++) {
      reserve(boot.modules[i].mod_start, boot.modules[i].mod_end);
      reserve_string(boot.modules[i].string);
    }
  }
}

void add_available_ram(const rt::BootInfo& boot) {
  const uint64_t limit = rt::IDENTITY_MAP_END;  // l1-vmm reaches memory through the boot identity map
  bool from_mmap = false;
  rt::for_each_mmap_entry(*boot.info, [&](const mb::MmapEntry& e) {
    from_mmap = true;
    if (e.type != mb::MMAP_AVAILABLE) return;
    uint64_t start = e.addr < LOW_MEMORY_END ? LOW_MEMORY_END : e.addr;
    uint64_t end = e.addr + e.len > limit ? limit : e.addr + e.len;
    if (start < end) add_free(start, end);
  });
  if (!from_mmap && (boot.info->flags & mb::INFO_MEMORY))
    add_free(LOW_MEMORY_END, LOW_MEMORY_END + uint64_t(boot.info->mem_upper) * 1024);
}

// The range alloc() takes `bytes` from: the smallest that holds them aligned.
int best_fit(uint64_t bytes, uint64_t align) {
  int best = -1;
  uint64_t best_size = ~0ull;
  for (unsigned i = 0; i < range_count; i++) {
    const Range& r = free_ranges[i];
    uint64_t start = align_up(r.start, align);
    if (start >= r.end || r.end - start < bytes) continue;
    if (r.end - r.start < best_size) best = int(i), best_size = r.end - r.start;
  }
  return best;
}

}  // namespace

void init(const rt::BootInfo& boot) {
  range_count = 0;
  add_available_ram(boot);
  reserve(uintptr_t(__image_start), uintptr_t(__image_end));
  reserve_boot_info(boot);
}

uint64_t alloc(uint64_t bytes, uint64_t align) {
  bytes = align_up(bytes ? bytes : 1, PAGE);
  if (align < PAGE) align = PAGE;
  int i = best_fit(bytes, align);
  if (i < 0) return 0;
  Range& r = free_ranges[i];
  uint64_t start = align_up(r.start, align);
  uint64_t below = r.start;
  r.start = start + bytes;
  if (start > below) add_free(below, start);  // the alignment gap stays free
  return start;
}

uint64_t alloc_page_or_die(const char* what) {
  uint64_t page = alloc(PAGE, PAGE);
  if (!page) fatal(L1_NO_MEMORY, "no free page left for %s", what);
  memset(reinterpret_cast<void*>(page), 0, PAGE);
  return page;
}

uint64_t largest_free(uint64_t align) {
  uint64_t best = 0;
  for (unsigned i = 0; i < range_count; i++) {
    uint64_t start = align_up(free_ranges[i].start, align);
    if (start < free_ranges[i].end && free_ranges[i].end - start > best) best = free_ranges[i].end - start;
  }
  return best;
}

uint64_t free_bytes() {
  uint64_t total = 0;
  for (unsigned i = 0; i < range_count; i++) total += free_ranges[i].end - free_ranges[i].start;
  return total;
}

}  // namespace l1::mm
