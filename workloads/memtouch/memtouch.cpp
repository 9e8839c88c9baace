// memtouch N: maps N never-touched 4 KiB frames through new 4 KiB page
// tables, writes a pattern over every word of every page, reads it all back
// and prints a checksum. Under a VMM each first touch of a frame is an EPT
// violation (and each new table one more): the workload for paging exits.
//
// The pattern depends only on the page's index and the word's offset, never
// on an address, so the checksum is the same wherever the loader put the
// image and whatever frames the allocator handed out.
#include "arch/x86/paging.h"
#include "runtime/runtime.h"

namespace {

namespace pte = arch::pte;

constexpr uint64_t DEFAULT_PAGES = 4096;
// The window the pages are mapped at: PML4 slot 1 (512 GiB), which the boot
// identity map leaves empty, so every table on the way to the pages is new.
constexpr uint64_t WINDOW = 512ull << 30;
constexpr uint64_t WORDS_PER_PAGE = pte::PAGE_SIZE / sizeof(uint64_t);

// A distinct value per word: (page, word) spread by Fibonacci hashing.
uint64_t pattern(uint64_t page, uint64_t word) { return ((page << 32) | word) * 0x9e3779b97f4a7c15ull; }

// Volatile: every write and read must reach memory; the compiler could
// otherwise forward the pattern from the write pass to the read pass.
volatile uint64_t* page_at(uint64_t page) {
  return reinterpret_cast<volatile uint64_t*>(WINDOW + page * pte::PAGE_SIZE);
}

// Maps `pages` frames from `frames` at WINDOW, writable and not executable.
bool map_window(uint64_t frames, uint64_t pages) {
  for (uint64_t i = 0; i < pages; i++) {
    uint64_t offset = i * pte::PAGE_SIZE;
    rt::MapStatus status = rt::map_page(WINDOW + offset, frames + offset, pte::RW | pte::NX);
    if (status != rt::MapStatus::Ok) {
      rt::printf("memtouch: error: mapping page %lu: %s\n", i, rt::map_status_name(status));
      return false;
    }
  }
  return true;
}

void write_pattern(uint64_t pages) {
  for (uint64_t i = 0; i < pages; i++)
    for (uint64_t w = 0; w < WORDS_PER_PAGE; w++) page_at(i)[w] = pattern(i, w);
}

// Sums every word (mod 2^64); false if one differs from what was written.
bool read_back(uint64_t pages, uint64_t& checksum) {
  checksum = 0;
  for (uint64_t i = 0; i < pages; i++) {
    for (uint64_t w = 0; w < WORDS_PER_PAGE; w++) {
      uint64_t value = page_at(i)[w];
      if (value != pattern(i, w)) {
        rt::printf("memtouch: error: page %lu word %lu reads 0x%lx, wrote 0x%lx\n", i, w, value, pattern(i, w));
        return false;
      }
      checksum += value;
    }
  }
  return true;
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  uint64_t pages = rt::cmdline_count(boot.cmdline, DEFAULT_PAGES);
  uint64_t frames = pages ? rt::alloc_pages(pages) : 0;
  if (pages && !frames) {
    rt::printf("memtouch: error: %lu pages do not fit in the %lu KiB of free RAM\n", pages, rt::free_memory() / 1024);
    return rt::EXIT_NO_MEMORY;
  }
  if (!map_window(frames, pages)) return rt::EXIT_NO_MEMORY;
  write_pattern(pages);
  uint64_t checksum;
  if (!read_back(pages, checksum)) return rt::EXIT_FAILURE;
  rt::printf("memtouch: %lu pages, checksum 0x%016lx\n", pages, checksum);
  return rt::EXIT_OK;
}
