// The Multiboot v1 boot information and the guest-physical layout both of
// nestbed's loaders give a kernel (DESIGN.md §3): l0's
// (l0/loader/multiboot_loader.cpp) and l1-vmm's for its guest
// (l1-vmm/boot/multiboot_guest.cpp). Freestanding, no heap.
//
//   [0x9000, 0x90b8)    the Info structure, then the memory map: always here
//                       (QEMU writes its map at 0x9000 and its Info at 0x9500)
//   from 0x90c0         the module list, then every string (module strings,
//                       command line, boot loader name): here when they fit
//                       below 0x9fc00 without touching a kernel segment,
//                       otherwise from the first page after the kernel (and at
//                       least 1 MiB: QEMU puts them right after any kernel)
//   kernel segments     where the ELF program headers (or the a.out kludge)
//                       say: anywhere in the RAM the memory map reports
//                       available ([0, 0x9fc00) and from 1 MiB), but not over
//                       the Info structure and memory map, nor over the EBDA,
//                       VGA and BIOS area [0x9fc00, 1 MiB), which is not RAM
//   modules             page-aligned, from the first page after the kernel and
//                       the module list and strings (and at least 1 MiB), in
//                       order
#pragma once
#include <stdint.h>

#include "arch/multiboot.h"
#include "common/boot/kernel_image.h"

namespace nestbed::common::boot {

inline constexpr uint64_t INFO_AREA_BASE = 0x9000;
inline constexpr uint64_t LOW_MEMORY_END = 0x9fc00;  // 639 KiB: the EBDA starts here
inline constexpr uint64_t VGA_HOLE = 0xa0000;        // the VGA and option-ROM hole, absent from the map
inline constexpr uint64_t BIOS_AREA_BASE = 0xf0000;  // system BIOS ROM, reserved
inline constexpr uint64_t HIGH_MEMORY = 0x100000;
inline constexpr uint64_t MODULE_ALIGN = 4096;
inline constexpr uint32_t MMAP_ENTRY_COUNT = 4;  // MultibootInfoWriter's PC memory map
// The Info structure and the memory map: [INFO_AREA_BASE, INFO_FIXED_END).
inline constexpr uint64_t INFO_FIXED_END =
    INFO_AREA_BASE + sizeof(arch::multiboot::Info) + MMAP_ENTRY_COUNT * sizeof(arch::multiboot::MmapEntry);
inline constexpr uint64_t MODULE_LIST_ALIGN = 16;

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// Where the module list and strings go when they stay below 1 MiB.
inline constexpr uint64_t LOW_TAIL_BASE = align_up(INFO_FIXED_END, MODULE_LIST_ALIGN);

// A guest-physical range [begin, end).
struct Range {
  uint64_t begin, end;
  constexpr bool overlaps(uint64_t b, uint64_t e) const { return b < end && e > begin && b < e; }
};

// What a kernel segment may not overlap, and how the loaders name it.
struct BootAreaClash {
  const char* what;  // null: no clash
  Range range;
};

// A kernel segment may lie in any RAM the memory map reports available, but
// not over the Info structure and the memory map (which are always at
// INFO_AREA_BASE), nor over [LOW_MEMORY_END, HIGH_MEMORY), which is not RAM
// (EBDA, VGA memory, option and BIOS ROMs). The module list and strings
// never clash: plan_boot_info() puts them where no segment lies.
constexpr BootAreaClash boot_area_clash(const LoadSegment& s) {
  constexpr Range info{INFO_AREA_BASE, INFO_FIXED_END}, legacy{LOW_MEMORY_END, HIGH_MEMORY};
  if (info.overlaps(s.paddr, s.paddr + s.memsz)) return {"the Multiboot information and memory map", info};
  if (legacy.overlaps(s.paddr, s.paddr + s.memsz)) return {"the EBDA, VGA and BIOS area (not RAM)", legacy};
  return {nullptr, {0, 0}};
}

// Where the first module goes after `end`: the next page, at least 1 MiB.
constexpr uint64_t first_module_address(uint64_t end) {
  return align_up(end, MODULE_ALIGN) > HIGH_MEMORY ? align_up(end, MODULE_ALIGN) : HIGH_MEMORY;
}

// The bytes the module list and strings take: `string_bytes` is the sum of
// string_size() over the module strings, the command line and the boot
// loader name.
constexpr uint64_t string_size(const char* s) { return __builtin_strlen(s) + 1; }
constexpr uint64_t tail_size(uint32_t module_count, uint64_t string_bytes) {
  return uint64_t(module_count) * sizeof(arch::multiboot::Module) + string_bytes;
}

// Where the module list and strings (`tail`) and the modules go.
struct BootInfoPlan {
  uint64_t tail, tail_end;
  uint64_t first_module;
};

// The module list and strings go at LOW_TAIL_BASE when they end by
// LOW_MEMORY_END and overlap none of the `count` kernel segments; otherwise
// from first_module_address(kernel_end), as QEMU does for every kernel. The
// modules follow them. The caller checks that tail_end lies inside RAM.
BootInfoPlan plan_boot_info(const LoadSegment* segments, uint32_t count, uint64_t kernel_end, uint64_t tail_size);

// Writes the boot information into guest RAM (`ram` is guest-physical 0):
// the Info structure and the memory map at INFO_AREA_BASE, the module list
// and each module's string as it is set, then the command line and the boot
// loader name, from plan.tail. Nothing is written past plan.tail_end; fits()
// says whether everything was (it was when the strings are those
// plan.tail_end was computed from).
class MultibootInfoWriter {
 public:
  // `ram_size` bytes of RAM from 0 (more than 1 MiB), `module_count` modules.
  MultibootInfoWriter(uint8_t* ram, uint64_t ram_size, uint32_t module_count, const BootInfoPlan& plan);

  // Module `index` (set in order, 0 first) lies at guest-physical
  // [start, end); `string` is its command line.
  void set_module(uint32_t index, uint32_t start, uint32_t end, const char* string);
  // Writes the Info structure; returns its guest-physical address (EBX at entry).
  uint32_t finish(const char* cmdline, const char* boot_loader_name);

  bool fits() const { return next_ <= end_; }

 private:
  uint64_t reserve(uint64_t size, uint64_t align);
  void put(uint64_t address, const void* bytes, uint64_t size);
  uint32_t add_string(const char* s);

  uint8_t* ram_;
  uint64_t next_, end_;
  arch::multiboot::Info info_{};
};

}  // namespace nestbed::common::boot
