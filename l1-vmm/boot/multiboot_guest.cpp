#include "l1-vmm/boot/multiboot_guest.h"

#include "arch/x86/paging.h"
#include "l1-vmm/boot/kernel_image.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/panic.h"
#include "runtime/libc.h"

namespace l1 {
namespace {

namespace mb = arch::multiboot;

// The layout of l0's loader (l0/loader/multiboot_loader.cpp).
constexpr uint64_t INFO_AREA_BASE = 0x9000;
constexpr uint64_t LOW_MEMORY_END = 0x9fc00;  // 639 KiB: the EBDA starts here
constexpr uint64_t INFO_AREA_END = LOW_MEMORY_END;
constexpr uint64_t VGA_HOLE = 0xa0000;
constexpr uint64_t BIOS_AREA_BASE = 0xf0000;  // system BIOS ROM, reserved
constexpr uint64_t HIGH_MEMORY = 0x100000;
constexpr uint64_t PAGE = arch::pte::PAGE_SIZE;
constexpr const char* BOOT_LOADER_NAME = "nestbed l1-vmm";
constexpr unsigned NAME_MAX = 128;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
uint64_t mib(uint64_t bytes) { return bytes >> 20; }

const char* string_at(uint32_t address) { return address ? reinterpret_cast<const char*>(uintptr_t(address)) : ""; }

// The module's path: its string up to the first space.
char guest_name[NAME_MAX];
const char* module_path(const mb::Module& m) {
  const char* s = string_at(m.string);
  size_t n = 0;
  while (s[n] && s[n] != ' ' && n + 1 < NAME_MAX) n++;
  memcpy(guest_name, s, n);
  guest_name[n] = '\0';
  return n ? guest_name : "(module 0)";
}

[[noreturn]] void no_guest() {
  fatal(L1_BAD_GUEST_IMAGE,
        "no guest: l1-vmm boots Multiboot module 0 as its guest, e.g. "
        "nestbed run --module \"build/images/hello\" build/images/l1-vmm");
}

void check_segment(const LoadSegment& s, const char* name) {
  const uint64_t size = guest_memory.size;
  if (!guest_memory.contains(s.paddr, s.memsz))
    fatal(L1_NO_MEMORY, "guest image '%s': segment at 0x%lx (0x%lx bytes) lies outside the guest's %lu MiB of RAM; "
          "give it more with guest_mem=MiB", name, s.paddr, s.memsz, mib(size));
  if (s.paddr < HIGH_MEMORY && s.paddr + s.memsz > INFO_AREA_BASE)
    fatal(L1_BAD_GUEST_IMAGE, "guest image '%s': segment [0x%lx, 0x%lx) overlaps the boot information and BIOS area "
          "[0x%lx, 0x%lx)", name, s.paddr, s.paddr + s.memsz, INFO_AREA_BASE, HIGH_MEMORY);
}

// Copies the segments into guest memory; returns the end of the highest.
uint64_t load_segments(const uint8_t* file, const KernelLayout& k) {
  uint64_t end = 0;
  for (unsigned i = 0; i < k.segment_count; i++) {
    const LoadSegment& s = k.segments[i];
    uint8_t* dst = static_cast<uint8_t*>(guest_memory.hva(s.paddr, s.memsz));
    memcpy(dst, file + s.offset, s.filesz);
    memset(dst + s.filesz, 0, s.memsz - s.filesz);  // bss
    if (s.paddr + s.memsz > end) end = s.paddr + s.memsz;
  }
  return end;
}

// Builds the boot information in guest memory from INFO_AREA_BASE up.
class InfoArea {
 public:
  uint32_t reserve(uint64_t size, uint64_t align) {
    const uint64_t at = align_up(next_, align);
    if (at + size > INFO_AREA_END)
      fatal(L1_BAD_GUEST_IMAGE, "the guest's cmdline and module strings do not fit in its boot information area "
            "[0x%lx, 0x%lx)", INFO_AREA_BASE, INFO_AREA_END);
    next_ = at + size;
    return uint32_t(at);
  }
  template <typename T>
  T* at(uint32_t gpa) {
    return static_cast<T*>(guest_memory.hva(gpa, sizeof(T)));
  }
  uint32_t add_string(const char* s) {
    const size_t n = strlen(s) + 1;
    const uint32_t gpa = reserve(n, 1);
    memcpy(guest_memory.hva(gpa, n), s, n);
    return gpa;
  }

 private:
  uint64_t next_ = INFO_AREA_BASE;
};

// The PC memory map of l0's loader: conventional memory up to the EBDA, the
// EBDA and the BIOS ROM reserved, the VGA/option-ROM hole absent, all RAM
// above 1 MiB available.
void write_memory_map(InfoArea& area, mb::Info& info, uint64_t ram_size) {
  constexpr uint32_t entry_size = sizeof(mb::MmapEntry) - sizeof(uint32_t);  // `size` excludes itself
  const mb::MmapEntry map[] = {
      {entry_size, 0, LOW_MEMORY_END, mb::MMAP_AVAILABLE},
      {entry_size, LOW_MEMORY_END, VGA_HOLE - LOW_MEMORY_END, mb::MMAP_RESERVED},
      {entry_size, BIOS_AREA_BASE, HIGH_MEMORY - BIOS_AREA_BASE, mb::MMAP_RESERVED},
      {entry_size, HIGH_MEMORY, ram_size - HIGH_MEMORY, mb::MMAP_AVAILABLE},
  };
  info.mmap_length = sizeof map;
  info.mmap_addr = area.reserve(sizeof map, 8);
  memcpy(guest_memory.hva(info.mmap_addr, sizeof map), map, sizeof map);
}

// Modules 1.. of l1-vmm are the guest's modules, page-aligned from
// `first_free` on, with their strings as given.
void load_modules(InfoArea& area, mb::Info& info, const rt::BootInfo& boot, uint64_t first_free) {
  const uint32_t count = boot.module_count - 1;
  info.mods_count = count;
  info.mods_addr = area.reserve(uint64_t(count) * sizeof(mb::Module), 16);
  uint64_t next = first_free;
  for (uint32_t i = 0; i < count; i++) {
    const mb::Module& m = boot.modules[i + 1];
    const uint64_t len = m.mod_end > m.mod_start ? m.mod_end - m.mod_start : 0;
    const uint64_t start = align_up(next, PAGE);
    if (!guest_memory.contains(start, len))
      fatal(L1_NO_MEMORY, "module %u ('%s', %lu bytes) does not fit in the guest's %lu MiB of RAM after its kernel; "
            "give it more with guest_mem=MiB", i + 1, string_at(m.string), len, mib(guest_memory.size));
    memcpy(guest_memory.hva(start, len), reinterpret_cast<const void*>(uintptr_t(m.mod_start)), len);
    mb::Module* out = area.at<mb::Module>(uint32_t(info.mods_addr + i * sizeof(mb::Module)));
    *out = mb::Module{uint32_t(start), uint32_t(start + len), area.add_string(string_at(m.string)), 0};
    next = start + len;
  }
}

}  // namespace

GuestBoot load_multiboot_guest(const rt::BootInfo& boot) {
  if (boot.module_count == 0) no_guest();
  const mb::Module& kernel_module = boot.modules[0];
  const char* name = module_path(kernel_module);
  if (kernel_module.mod_end <= kernel_module.mod_start)
    fatal(L1_BAD_GUEST_IMAGE, "guest image '%s': the module is empty", name);
  const auto* file = reinterpret_cast<const uint8_t*>(uintptr_t(kernel_module.mod_start));
  const KernelLayout k = parse_kernel_image(file, kernel_module.mod_end - kernel_module.mod_start, name);
  for (unsigned i = 0; i < k.segment_count; i++) check_segment(k.segments[i], name);
  const uint64_t kernel_end = load_segments(file, k);

  InfoArea area;
  const uint32_t info_gpa = area.reserve(sizeof(mb::Info), 8);
  mb::Info info{};
  write_memory_map(area, info, guest_memory.size);
  const uint64_t first_free = align_up(kernel_end, PAGE) > HIGH_MEMORY ? align_up(kernel_end, PAGE) : HIGH_MEMORY;
  load_modules(area, info, boot, first_free);
  info.flags = mb::INFO_MEMORY | mb::INFO_CMDLINE | mb::INFO_MODS | mb::INFO_MEM_MAP | mb::INFO_BOOT_LOADER_NAME;
  info.mem_lower = uint32_t(LOW_MEMORY_END / 1024);
  info.mem_upper = uint32_t((guest_memory.size - HIGH_MEMORY) / 1024);
  // Module 0's string is "<path> <args>": what the guest's cmdline would be
  // natively ("<image> <cmdline>", as QEMU and l0 pass it).
  info.cmdline = area.add_string(string_at(kernel_module.string));
  info.boot_loader_name = area.add_string(BOOT_LOADER_NAME);
  *area.at<mb::Info>(info_gpa) = info;
  return GuestBoot{uint32_t(k.entry), mb::BOOTLOADER_MAGIC, info_gpa, name};
}

}  // namespace l1
