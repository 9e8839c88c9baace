#include "common/boot/multiboot_info.h"

namespace nestbed::common::boot {

namespace mb = arch::multiboot;

MultibootInfoWriter::MultibootInfoWriter(uint8_t* area, uint64_t ram_size, uint32_t module_count) : area_(area) {
  info_address_ = reserve(sizeof(mb::Info), 8);

  // The PC memory map (spec 3.3, mmap_*): conventional memory up to the
  // EBDA, the EBDA and the BIOS ROM reserved, the VGA/option-ROM hole
  // absent, and all RAM above 1 MiB available.
  constexpr uint32_t entry_size = sizeof(mb::MmapEntry) - sizeof(uint32_t);  // `size` excludes itself
  const mb::MmapEntry map[] = {
      {entry_size, 0, LOW_MEMORY_END, mb::MMAP_AVAILABLE},
      {entry_size, LOW_MEMORY_END, VGA_HOLE - LOW_MEMORY_END, mb::MMAP_RESERVED},
      {entry_size, BIOS_AREA_BASE, HIGH_MEMORY - BIOS_AREA_BASE, mb::MMAP_RESERVED},
      {entry_size, HIGH_MEMORY, ram_size - HIGH_MEMORY, mb::MMAP_AVAILABLE},
  };
  info_.mmap_length = sizeof map;
  info_.mmap_addr = reserve(sizeof map, 8);
  put(info_.mmap_addr, map, sizeof map);

  info_.mods_count = module_count;
  info_.mods_addr = reserve(uint64_t(module_count) * sizeof(mb::Module), 16);

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
  put(info_address_, &info_, sizeof info_);
  return info_address_;
}

// Zeroes what it reserves (alignment padding included), so the area holds
// the same bytes whatever was there before.
uint32_t MultibootInfoWriter::reserve(uint64_t size, uint64_t align) {
  const uint64_t from = next_, at = align_up(next_, align);
  next_ = at + size;
  if (from < INFO_AREA_END)
    __builtin_memset(area_ + (from - INFO_AREA_BASE), 0, (next_ < INFO_AREA_END ? next_ : INFO_AREA_END) - from);
  return uint32_t(at);
}

void MultibootInfoWriter::put(uint64_t address, const void* bytes, uint64_t size) {
  if (address + size <= INFO_AREA_END) __builtin_memcpy(area_ + (address - INFO_AREA_BASE), bytes, size);
}

uint32_t MultibootInfoWriter::add_string(const char* s) {
  const uint64_t size = __builtin_strlen(s) + 1;
  const uint32_t at = reserve(size, 1);
  put(at, s, size);
  return at;
}

}  // namespace nestbed::common::boot
