// The Multiboot v1 boot information and the guest-physical layout both of
// nestbed's loaders give a kernel (DESIGN.md §3): l0's
// (l0/loader/multiboot_loader.cpp) and l1-vmm's for its guest
// (l1-vmm/boot/multiboot_guest.cpp). Freestanding, no heap.
//
//   [0x9000, 0x9fc00)   boot information: the Info structure, the memory map,
//                       the module list and every string (QEMU puts its info
//                       at 0x9000 too); kernel segments may not overlap it,
//                       nor the legacy BIOS area above it up to 1 MiB
//   kernel segments     where the ELF program headers (or the a.out kludge) say
//   modules             page-aligned, from the first page after the kernel
//                       (and at least 1 MiB), in order
#pragma once
#include <stdint.h>

#include "arch/multiboot.h"
#include "common/boot/kernel_image.h"

namespace nestbed::common::boot {

inline constexpr uint64_t INFO_AREA_BASE = 0x9000;
inline constexpr uint64_t LOW_MEMORY_END = 0x9fc00;  // 639 KiB: the EBDA starts here
inline constexpr uint64_t INFO_AREA_END = LOW_MEMORY_END;
inline constexpr uint64_t INFO_AREA_SIZE = INFO_AREA_END - INFO_AREA_BASE;
inline constexpr uint64_t VGA_HOLE = 0xa0000;        // the VGA and option-ROM hole, absent from the map
inline constexpr uint64_t BIOS_AREA_BASE = 0xf0000;  // system BIOS ROM, reserved
inline constexpr uint64_t HIGH_MEMORY = 0x100000;
inline constexpr uint64_t MODULE_ALIGN = 4096;

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// A kernel segment may not overlap the boot information and the BIOS area,
// [INFO_AREA_BASE, HIGH_MEMORY).
constexpr bool overlaps_boot_area(const LoadSegment& s) {
  return s.paddr < HIGH_MEMORY && s.paddr + s.memsz > INFO_AREA_BASE;
}

// Where the first module goes: the first page after the kernel, at least 1 MiB.
constexpr uint64_t first_module_address(uint64_t kernel_end) {
  return align_up(kernel_end, MODULE_ALIGN) > HIGH_MEMORY ? align_up(kernel_end, MODULE_ALIGN) : HIGH_MEMORY;
}

// Writes the boot information into `area`, INFO_AREA_SIZE bytes that become
// guest-physical [INFO_AREA_BASE, INFO_AREA_END): the Info structure, the
// memory map and the module list, then each module's string as it is set,
// then the command line and the boot loader's name. What does not fit is not
// written; fits() says whether all did, bytes_needed() how much it takes.
class MultibootInfoWriter {
 public:
  // `ram_size` bytes of RAM from 0 (more than 1 MiB), `module_count` modules.
  MultibootInfoWriter(uint8_t* area, uint64_t ram_size, uint32_t module_count);

  // Module `index` (set in order, 0 first) lies at guest-physical
  // [start, end); `string` is its command line.
  void set_module(uint32_t index, uint32_t start, uint32_t end, const char* string);
  // Writes the Info structure; returns its guest-physical address (EBX at entry).
  uint32_t finish(const char* cmdline, const char* boot_loader_name);

  bool fits() const { return next_ <= INFO_AREA_END; }
  uint64_t bytes_needed() const { return next_ - INFO_AREA_BASE; }

 private:
  uint32_t reserve(uint64_t size, uint64_t align);
  void put(uint64_t address, const void* bytes, uint64_t size);
  uint32_t add_string(const char* s);

  uint8_t* area_;
  uint64_t next_ = INFO_AREA_BASE;
  arch::multiboot::Info info_{};
  uint32_t info_address_;
};

}  // namespace nestbed::common::boot
