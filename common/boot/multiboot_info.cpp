#include "common/boot/multiboot_info.h"

namespace nestbed::common::boot {

namespace mb = arch::multiboot;

BootInfoPlan plan_boot_info(const LoadSegment* segments, uint32_t count, uint64_t kernel_end, uint64_t tail_size) {
  const Range low{LOW_TAIL_BASE, LOW_TAIL_BASE + tail_size};
  bool free = low.end <= LOW_MEMORY_END;
  for (uint32_t i = 0; free && i < count; i++) free = !low.overlaps(segments[i].paddr, segments[i].paddr + segments[i].memsz);
  if (free) return {low.begin, low.end, first_module_address(kernel_end)};
  const uint64_t tail = first_module_address(kernel_end);
  return {tail, tail + tail_size, first_module_address(tail + tail_size)};
}

MultibootInfoWriter::MultibootInfoWriter(uint8_t* ram, uint64_t ram_size, uint32_t module_count,
                                         const BootInfoPlan& plan)
    : ram_(ram), next_(INFO_AREA_BASE), end_(INFO_FIXED_END) {
  reserve(sizeof(mb::Info), 8);  // the Info structure, written by finish()

  // The PC memory map (spec 3.3, mmap_*): conventional memory up to the
  // EBDA, the EBDA and the BIOS ROM reserved, the VGA/option-ROM hole
  // absent, and all RAM above 1 MiB available.
  constexpr uint32_t entry_size = sizeof(mb::MmapEntry) - sizeof(uint32_t);  // `size` excludes itself
  const mb::MmapEntry map[MMAP_ENTRY_COUNT] = {
      {entry_size, 0, LOW_MEMORY_END, mb::MMAP_AVAILABLE},
      {entry_size, LOW_MEMORY_END, VGA_HOLE - LOW_MEMORY_END, mb::MMAP_RESERVED},
      {entry_size, BIOS_AREA_BASE, HIGH_MEMORY - BIOS_AREA_BASE, mb::MMAP_RESERVED},
      {entry_size, HIGH_MEMORY, ram_size - HIGH_MEMORY, mb::MMAP_AVAILABLE},
  };
  info_.mmap_length = sizeof map;
  info_.mmap_addr = uint32_t(reserve(sizeof map, 1));
  put(info_.mmap_addr, map, sizeof map);

  // Right after the map (reserve() zeroes the padding up to LOW_TAIL_BASE),
  // or after the kernel.
  end_ = plan.tail_end;
  if (plan.tail != LOW_TAIL_BASE) next_ = plan.tail;
  info_.mods_count = module_count;
  info_.mods_addr = uint32_t(reserve(uint64_t(module_count) * sizeof(mb::Module), MODULE_LIST_ALIGN));

  info_.flags = mb::INFO_MEMORY | mb::INFO_CMDLINE | mb::INFO_MODS | mb::INFO_MEM_MAP | mb::INFO_BOOT_LOADER_NAME;
  info_.mem_lower = uint32_t(LOW_MEMORY_END / 1024);
  info_.mem_upper = uint32_t((ram_size - HIGH_MEMORY) / 1024);
}

void MultibootInfoWriter::set_module(uint32_t index, uint32_t start, uint32_t end, const char* string) {
  const mb::Module m{start, end, add_string(string), 0};
  put(info_.mods_addr + uint64_t(index) * sizeof(mb::Module), &m, sizeof m);
}

uint32_t MultibootInfoWriter::finish(const char* cmdline, const char* boot_loader_name) {
  info_.cmdline = add_string(cmdline);
  info_.boot_loader_name = add_string(boot_loader_name);
  __builtin_memcpy(ram_ + INFO_AREA_BASE, &info_, sizeof info_);  // reserved first, always in RAM
  return uint32_t(INFO_AREA_BASE);
}

// Zeroes what it reserves (alignment padding included) up to end_, so the
// boot information is the same bytes whatever RAM held before.
uint64_t MultibootInfoWriter::reserve(uint64_t size, uint64_t align) {
  const uint64_t from = next_, at = align_up(next_, align);
  next_ = at + size;
  if (from < end_) __builtin_memset(ram_ + from, 0, (next_ < end_ ? next_ : end_) - from);
  return at;
}

void MultibootInfoWriter::put(uint64_t address, const void* bytes, uint64_t size) {
  if (address + size <= end_) __builtin_memcpy(ram_ + address, bytes, size);
}

uint32_t MultibootInfoWriter::add_string(const char* s) {
  const uint64_t size = string_size(s);
  const uint64_t at = reserve(size, 1);
  put(at, s, size);
  return uint32_t(at);
}

}  // namespace nestbed::common::boot
