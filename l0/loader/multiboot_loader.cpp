// Multiboot v1 loader (Multiboot spec 0.6.96). Memory layout it produces:
//
//   [0x9000, 0x9fc00)   boot information: the Info structure, the memory map,
//                       the module list and every string (QEMU puts its info
//                       at 0x9000 too); kernel segments may not overlap it,
//                       nor the legacy BIOS area above it up to 1 MiB
//   kernel segments     where the ELF program headers (or the a.out kludge) say
//   modules             page-aligned, from the first page after the kernel
//                       (and at least 1 MiB), in command-line order
//
// Strings match what QEMU 7.2 passes for `-kernel IMG -append ARGS -initrd
// "MOD ARGS,..."`: the kernel's command line is "<IMG as given> <ARGS>" (with
// the space even when ARGS is empty), a module's string is "<MOD as given>"
// or "<MOD as given> <ARGS>".
#include "l0/loader/multiboot_loader.h"

#include <algorithm>
#include <cstring>

#include "arch/multiboot.h"
#include "l0/loader/input_file.h"
#include "l0/loader/kernel_image.h"

namespace nestbed {
namespace {

namespace mb = arch::multiboot;

constexpr uint64_t INFO_AREA_BASE = 0x9000;
constexpr uint64_t LOW_MEMORY_END = 0x9fc00;  // 639 KiB: the EBDA starts here
constexpr uint64_t INFO_AREA_END = LOW_MEMORY_END;
constexpr uint64_t BIOS_AREA_BASE = 0xf0000;  // system BIOS ROM, reserved
constexpr uint64_t HIGH_MEMORY = 0x100000;
constexpr uint64_t PAGE_SIZE = 4096;
constexpr uint64_t MAX_IMAGE_SIZE = 4ull << 30;  // a 32-bit boot protocol
constexpr const char* BOOT_LOADER_NAME = "nestbed";

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

std::string range(uint64_t begin, uint64_t end) {
  std::string s = "[";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "[" + std::string&&
  s += hex(begin);
  s += ", ";
  s += hex(end);
  return s + ")";
}

// What to tell a user whose image or modules reach `needed_end`.
std::string more_memory_hint(uint64_t needed_end) {
  if (needed_end > (MAX_MEMORY_MIB << 20))
    return "that is beyond the " + std::to_string(MAX_MEMORY_MIB) + " MiB a guest can have";
  return "it needs " + mib(needed_end) + " of RAM (use --memory)";
}

void check_segment(const GuestMemory& memory, const LoadSegment& s, const std::string& path) {
  uint64_t end = s.paddr + s.memsz;
  if (s.paddr >= memory.size() || s.memsz > memory.size() - s.paddr) {
    bool wraps = s.memsz > ~0ull - s.paddr;
    throw InputError(path + ": segment " + (wraps ? "at " + hex(s.paddr) : range(s.paddr, end)) + " lies outside the " +
                     mib(memory.size()) + " of RAM; " + more_memory_hint(wraps ? ~0ull : end));
  }
  if (s.paddr < HIGH_MEMORY && end > INFO_AREA_BASE)
    throw InputError(path + ": segment " + range(s.paddr, end) +
                     " overlaps the boot information and BIOS area " + range(INFO_AREA_BASE, HIGH_MEMORY));
}

// Returns the end of the highest segment.
uint64_t load_segments(GuestMemory& memory, const std::vector<uint8_t>& file, const KernelLayout& kernel) {
  uint64_t end = 0;
  for (const LoadSegment& s : kernel.segments) {
    memory.write(s.paddr, file.data() + s.offset, s.filesz);
    std::memset(memory.ptr(s.paddr + s.filesz), 0, s.memsz - s.filesz);  // bss
    end = std::max(end, s.paddr + s.memsz);
  }
  return end;
}

struct LoadedModule {
  uint64_t start = 0, end = 0;
  std::string string;
};

std::vector<LoadedModule> load_modules(GuestMemory& memory, const std::vector<ModuleSpec>& specs, uint64_t first_free) {
  std::vector<LoadedModule> loaded;
  uint64_t next = first_free;
  for (const ModuleSpec& spec : specs) {
    if (spec.path.empty()) throw InputError("a module has an empty path");
    InputFile file(spec.path, "module");
    uint64_t start = align_up(next, PAGE_SIZE), end = start + file.size();
    if (end > memory.size())
      throw InputError("module '" + spec.path + "' (" + std::to_string(file.size()) + " bytes) does not fit in " +
                       mib(memory.size()) + " of RAM after the kernel and earlier modules; " + more_memory_hint(end));
    std::vector<uint8_t> bytes = file.read_all();
    memory.write(start, bytes.data(), bytes.size());
    end = start + bytes.size();
    loaded.push_back({start, end, spec.args.empty() ? spec.path : spec.path + " " + spec.args});
    next = end;
  }
  return loaded;
}

// Builds the boot information area in a host buffer, then copies it in.
class InfoArea {
 public:
  uint32_t reserve(uint64_t size, uint64_t align) {
    bytes_.resize(align_up(bytes_.size(), align));
    uint64_t at = bytes_.size();
    bytes_.resize(at + size);
    return uint32_t(INFO_AREA_BASE + at);
  }
  template <typename T>
  void put(uint32_t address, const T& value) {
    std::memcpy(bytes_.data() + (address - INFO_AREA_BASE), &value, sizeof value);
  }
  uint32_t add_string(const std::string& s) {
    uint32_t at = reserve(s.size() + 1, 1);
    std::memcpy(bytes_.data() + (at - INFO_AREA_BASE), s.c_str(), s.size() + 1);
    return at;
  }
  void copy_to(GuestMemory& memory) const {
    if (INFO_AREA_BASE + bytes_.size() > INFO_AREA_END)
      throw InputError("the command line and module strings need " + std::to_string(bytes_.size()) +
                       " bytes of boot information; at most " + std::to_string(INFO_AREA_END - INFO_AREA_BASE) +
                       " fit below " + hex(INFO_AREA_END));
    memory.write(INFO_AREA_BASE, bytes_.data(), bytes_.size());
  }

 private:
  std::vector<uint8_t> bytes_;
};

// The PC memory map (spec 3.3, mmap_*): conventional memory up to the EBDA,
// the EBDA and the BIOS ROM reserved, the VGA/option-ROM hole absent, and
// all RAM above 1 MiB available (RAM ends below the APIC page, see machine.h).
std::vector<mb::MmapEntry> memory_map(uint64_t ram_size) {
  constexpr uint32_t size = sizeof(mb::MmapEntry) - sizeof(uint32_t);  // `size` excludes itself
  return {
      {size, 0, LOW_MEMORY_END, mb::MMAP_AVAILABLE},
      {size, LOW_MEMORY_END, 0xa0000 - LOW_MEMORY_END, mb::MMAP_RESERVED},
      {size, BIOS_AREA_BASE, HIGH_MEMORY - BIOS_AREA_BASE, mb::MMAP_RESERVED},
      {size, HIGH_MEMORY, ram_size - HIGH_MEMORY, mb::MMAP_AVAILABLE},
  };
}

uint32_t write_boot_info(GuestMemory& memory, const std::string& cmdline, const std::vector<LoadedModule>& modules) {
  InfoArea area;
  mb::Info info{};
  uint32_t info_addr = area.reserve(sizeof info, 8);
  std::vector<mb::MmapEntry> mmap = memory_map(memory.size());
  info.mmap_length = uint32_t(mmap.size() * sizeof(mb::MmapEntry));
  info.mmap_addr = area.reserve(info.mmap_length, 8);
  for (size_t i = 0; i < mmap.size(); ++i) area.put(uint32_t(info.mmap_addr + i * sizeof(mb::MmapEntry)), mmap[i]);
  info.mods_count = uint32_t(modules.size());
  info.mods_addr = area.reserve(modules.size() * sizeof(mb::Module), 16);
  for (size_t i = 0; i < modules.size(); ++i) {
    mb::Module m{uint32_t(modules[i].start), uint32_t(modules[i].end), area.add_string(modules[i].string), 0};
    area.put(uint32_t(info.mods_addr + i * sizeof(mb::Module)), m);
  }
  info.flags = mb::INFO_MEMORY | mb::INFO_CMDLINE | mb::INFO_MODS | mb::INFO_MEM_MAP | mb::INFO_BOOT_LOADER_NAME;
  info.mem_lower = uint32_t(LOW_MEMORY_END / 1024);
  info.mem_upper = uint32_t((memory.size() - HIGH_MEMORY) / 1024);
  info.cmdline = area.add_string(cmdline);
  info.boot_loader_name = area.add_string(BOOT_LOADER_NAME);
  area.put(info_addr, info);
  area.copy_to(memory);
  return info_addr;
}

}  // namespace

BootState load_multiboot(GuestMemory& memory, const std::string& image_path, const std::string& cmdline,
                         const std::vector<ModuleSpec>& modules) {
  if (memory.size() < 2 * HIGH_MEMORY) throw InputError("RAM must be at least 2 MiB");
  InputFile image(image_path, "image");
  if (image.size() > MAX_IMAGE_SIZE) throw InputError(image_path + ": larger than 4 GiB: not a Multiboot v1 kernel");
  std::vector<uint8_t> file = image.read_all();
  KernelLayout kernel = parse_kernel_image(file, image_path);
  for (const LoadSegment& s : kernel.segments) check_segment(memory, s, image_path);
  uint64_t kernel_end = load_segments(memory, file, kernel);
  std::vector<LoadedModule> loaded = load_modules(memory, modules, std::max(align_up(kernel_end, PAGE_SIZE), HIGH_MEMORY));
  uint32_t info = write_boot_info(memory, image_path + " " + cmdline, loaded);
  return BootState{uint32_t(kernel.entry), mb::BOOTLOADER_MAGIC, info};
}

}  // namespace nestbed
