// What the Multiboot loader told us (Multiboot Specification 0.6.96, 3.3).
#pragma once
#include <stdint.h>

#include "arch/multiboot.h"

namespace rt {

struct BootInfo {
  const arch::multiboot::Info* info;  // the loader's structure, as given
  const char* cmdline;                // never null: "" when the loader gave none
  const arch::multiboot::Module* modules;
  uint32_t module_count;
  // Free RAM is [free_start, ram_end): from 1 MiB, above the image and
  // every structure the loader handed over (QEMU puts cmdlines and modules
  // right after the image), up to the end of the RAM that starts at 1 MiB as mem_upper and
  // the memory map report it, and never above 4 GiB (the identity map).
  uint64_t free_start;
  uint64_t ram_end;
};

BootInfo parse_boot_info(uint32_t info_address);

// Calls f(const arch::multiboot::MmapEntry&) for each memory-map entry.
template <class F>
void for_each_mmap_entry(const arch::multiboot::Info& info, F f) {
  if (!(info.flags & arch::multiboot::INFO_MEM_MAP)) return;
  uint64_t at = info.mmap_addr, end = uint64_t(info.mmap_addr) + info.mmap_length;
  while (at < end) {
    const auto& entry = *reinterpret_cast<const arch::multiboot::MmapEntry*>(at);
    f(entry);
    at += entry.size + sizeof(entry.size);  // `size` does not count itself
  }
}

}  // namespace rt
