// Multiboot v1 (Multiboot Specification 0.6.96), shared by l0's loader,
// the workloads' runtime and l1-vmm.
#pragma once
#include <stdint.h>

namespace arch::multiboot {
inline constexpr uint32_t HEADER_MAGIC = 0x1badb002;
inline constexpr uint32_t BOOTLOADER_MAGIC = 0x2badb002;  // in EAX at entry
inline constexpr uint32_t HEADER_SEARCH_LIMIT = 8192;     // header within the first 8 KiB
inline constexpr uint32_t HEADER_ALIGN = 4;

// Header flags.
inline constexpr uint32_t HF_PAGE_ALIGN = 1u << 0;  // modules page aligned
inline constexpr uint32_t HF_MEMORY_INFO = 1u << 1;  // mem_* and mmap wanted
inline constexpr uint32_t HF_VIDEO_MODE = 1u << 2;
inline constexpr uint32_t HF_AOUT_KLUDGE = 1u << 16;  // load addresses in the header
// Flags 0-15 are requirements: a loader that cannot meet one must not boot
// the image (spec 3.1.2); 16-31 are optional features.
inline constexpr uint32_t HF_REQUIRED_MASK = 0xffff;

struct Header {
  uint32_t magic;
  uint32_t flags;
  uint32_t checksum;  // magic + flags + checksum == 0
  // Valid with HF_AOUT_KLUDGE:
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
// The header's size without and with the a.out kludge address fields.
inline constexpr uint32_t HEADER_BASE_SIZE = 12;
inline constexpr uint32_t HEADER_KLUDGE_SIZE = sizeof(Header);

// Info flags.
inline constexpr uint32_t INFO_MEMORY = 1u << 0;
inline constexpr uint32_t INFO_BOOTDEV = 1u << 1;
inline constexpr uint32_t INFO_CMDLINE = 1u << 2;
inline constexpr uint32_t INFO_MODS = 1u << 3;
inline constexpr uint32_t INFO_MEM_MAP = 1u << 6;
inline constexpr uint32_t INFO_BOOT_LOADER_NAME = 1u << 9;

struct Info {
  uint32_t flags;
  uint32_t mem_lower;  // KiB below 1 MiB
  uint32_t mem_upper;  // KiB above 1 MiB
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
  uint32_t drives_length;
  uint32_t drives_addr;
  uint32_t config_table;
  uint32_t boot_loader_name;
  uint32_t apm_table;
  // VBE fields (Multiboot 3.3, offsets 72..87): two pointers and four 16-bit words.
  uint32_t vbe_control_info;
  uint32_t vbe_mode_info;
  uint16_t vbe_mode;
  uint16_t vbe_interface_seg;
  uint16_t vbe_interface_off;
  uint16_t vbe_interface_len;
};
static_assert(sizeof(Info) == 88);

struct Module {
  uint32_t mod_start;
  uint32_t mod_end;  // exclusive
  uint32_t string;   // the module's cmdline
  uint32_t reserved;
};

// An mmap entry; `size` does not count itself.
struct __attribute__((packed)) MmapEntry {
  uint32_t size;
  uint64_t addr;
  uint64_t len;
  uint32_t type;
};
inline constexpr uint32_t MMAP_AVAILABLE = 1;
inline constexpr uint32_t MMAP_RESERVED = 2;
}  // namespace arch::multiboot
