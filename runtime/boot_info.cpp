#include "runtime/boot_info.h"

#include "runtime/libc.h"

#include "arch/x86/paging.h"
#include "runtime/boot_layout.h"

extern "C" char __image_end[];  // from linker.ld

namespace rt {
namespace {

namespace mb = arch::multiboot;

constexpr uint64_t ONE_MIB = 1ull << 20;

uint64_t max(uint64_t a, uint64_t b) { return a > b ? a : b; }
uint64_t min(uint64_t a, uint64_t b) { return a < b ? a : b; }

const char* string_at(uint32_t address) { return reinterpret_cast<const char*>(uintptr_t(address)); }

// The end of the memory that [start, start + length) occupies, or of
// everything before it, whichever is higher.
uint64_t cover(uint64_t end, uint64_t start, uint64_t length) { return max(end, start + length); }
uint64_t cover_string(uint64_t end, uint32_t address) {
  return cover(end, address, strlen(string_at(address)) + 1);
}

// The end of the RAM that starts at 1 MiB: mem_upper KiB above 1 MiB (spec
// 3.3: "the address of the first upper memory hole minus 1 megabyte"),
// clamped by the available memory-map range holding 1 MiB when there is a map.
uint64_t upper_ram_end(const mb::Info& info) {
  uint64_t end = 0;
  bool known = false;
  if (info.flags & mb::INFO_MEMORY) {
    end = ONE_MIB + uint64_t(info.mem_upper) * 1024;
    known = true;
  }
  for_each_mmap_entry(info, [&](const mb::MmapEntry& e) {
    if (e.type != mb::MMAP_AVAILABLE || e.addr > ONE_MIB || e.addr + e.len <= ONE_MIB) return;
    end = known ? min(end, e.addr + e.len) : e.addr + e.len;
    known = true;
  });
  return min(end, IDENTITY_MAP_END);
}

}  // namespace

BootInfo parse_boot_info(uint32_t info_address) {
  const auto& info = *reinterpret_cast<const mb::Info*>(uintptr_t(info_address));
  BootInfo boot{};
  boot.info = &info;
  boot.cmdline = "";
  uint64_t used_end = cover(reinterpret_cast<uintptr_t>(__image_end), info_address, sizeof(info));

  if (info.flags & mb::INFO_CMDLINE) {
    boot.cmdline = string_at(info.cmdline);
    used_end = cover_string(used_end, info.cmdline);
  }
  if (info.flags & mb::INFO_MODS) {
    boot.modules = reinterpret_cast<const mb::Module*>(uintptr_t(info.mods_addr));
    boot.module_count = info.mods_count;
    used_end = cover(used_end, info.mods_addr, uint64_t(info.mods_count) * sizeof(mb::Module));
    for (uint32_t i = 0; i < info.mods_count; i++) {
      used_end = cover(used_end, boot.modules[i].mod_start, boot.modules[i].mod_end - boot.modules[i].mod_start);
      if (boot.modules[i].string) used_end = cover_string(used_end, boot.modules[i].string);
    }
  }
  if (info.flags & mb::INFO_MEM_MAP) used_end = cover(used_end, info.mmap_addr, info.mmap_length);
  if (info.flags & mb::INFO_BOOT_LOADER_NAME) used_end = cover_string(used_end, info.boot_loader_name);

  // Free RAM is RAM from 1 MiB on, even for an image loaded below 1 MiB
  // with everything the loader handed over (the EBDA, VGA and BIOS area
  // lies between).
  used_end = max(used_end, ONE_MIB);
  uint64_t page = arch::pte::PAGE_SIZE;
  boot.free_start = (used_end + page - 1) & ~(page - 1);
  boot.ram_end = upper_ram_end(info) & ~(page - 1);
  if (boot.ram_end < boot.free_start) boot.ram_end = boot.free_start;  // no free RAM at all
  return boot;
}

}  // namespace rt
