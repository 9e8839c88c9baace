// Multiboot v1 loader (Multiboot spec 0.6.96): the file reading and the
// messages of l0, around the parsing and the boot information both of
// nestbed's loaders share (common/boot/, which describes the memory layout).
//
// Strings match what QEMU 7.2 passes for `-kernel IMG -append ARGS -initrd
// "MOD ARGS,..."`: the kernel's command line is "<IMG as given> <ARGS>" (with
// the space even when ARGS is empty), a module's string is "<MOD as given>"
// or "<MOD as given> <ARGS>".
#include "l0/loader/multiboot_loader.h"

#include <algorithm>

#include "arch/multiboot.h"
#include "common/boot/kernel_image.h"
#include "common/boot/multiboot_info.h"
#include "l0/loader/input_file.h"

namespace nestbed {
namespace {

namespace mb = arch::multiboot;
namespace cb = ::nestbed::common::boot;
using cb::LoadSegment;

constexpr uint64_t MAX_IMAGE_SIZE = 4ull << 30;  // a 32-bit boot protocol
constexpr const char* BOOT_LOADER_NAME = "nestbed";

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

struct Kernel {
  cb::KernelLayout layout;
  std::vector<LoadSegment> segments;
};

// Throws InputError naming `path` when the bytes are not a loadable
// Multiboot v1 kernel for x86.
Kernel parse_kernel(const std::vector<uint8_t>& file, const std::string& path) {
  Kernel k;
  const cb::SegmentSink sink{[](void* segments, const LoadSegment& s) {
                               static_cast<std::vector<LoadSegment>*>(segments)->push_back(s);
                               return true;
                             },
                             &k.segments};
  const cb::ImageResult r = cb::parse_kernel_image(file.data(), file.size(), k.layout, sink);
  if (!r.ok()) {
    char message[cb::IMAGE_ERROR_MAX];
    throw InputError(path + ": " + cb::format_image_error(r, "nestbed", message, sizeof message));
  }
  return k;
}

void check_segment(const GuestMemory& memory, const LoadSegment& s, const std::string& path) {
  uint64_t end = s.paddr + s.memsz;
  if (s.paddr >= memory.size() || s.memsz > memory.size() - s.paddr) {
    bool wraps = s.memsz > ~0ull - s.paddr;
    throw InputError(path + ": segment " + (wraps ? "at " + hex(s.paddr) : range(s.paddr, end)) + " lies outside the " +
                     mib(memory.size()) + " of RAM; " + more_memory_hint(wraps ? ~0ull : end));
  }
  if (cb::overlaps_boot_area(s))
    throw InputError(path + ": segment " + range(s.paddr, end) + " overlaps the boot information and BIOS area " +
                     range(cb::INFO_AREA_BASE, cb::HIGH_MEMORY));
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
    uint64_t start = cb::align_up(next, cb::MODULE_ALIGN), end = start + file.size();
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
uint32_t write_boot_info(GuestMemory& memory, const std::string& cmdline, const std::vector<LoadedModule>& modules) {
  std::vector<uint8_t> area(cb::INFO_AREA_SIZE);
  cb::MultibootInfoWriter writer(area.data(), memory.size(), uint32_t(modules.size()));
  for (size_t i = 0; i < modules.size(); ++i)
    writer.set_module(uint32_t(i), uint32_t(modules[i].start), uint32_t(modules[i].end), modules[i].string.c_str());
  uint32_t info_addr = writer.finish(cmdline.c_str(), BOOT_LOADER_NAME);
  if (!writer.fits())
    throw InputError("the command line and module strings need " + std::to_string(writer.bytes_needed()) +
                     " bytes of boot information; at most " + std::to_string(cb::INFO_AREA_SIZE) + " fit below " +
                     hex(cb::INFO_AREA_END));
  memory.write(cb::INFO_AREA_BASE, area.data(), writer.bytes_needed());
  return info_addr;
}

}  // namespace

BootState load_multiboot(GuestMemory& memory, const std::string& image_path, const std::string& cmdline,
                         const std::vector<ModuleSpec>& modules) {
  if (memory.size() < 2 * cb::HIGH_MEMORY) throw InputError("RAM must be at least 2 MiB");
  InputFile image(image_path, "image");
  if (image.size() > MAX_IMAGE_SIZE) throw InputError(image_path + ": larger than 4 GiB: not a Multiboot v1 kernel");
  std::vector<uint8_t> file = image.read_all();
  Kernel kernel = parse_kernel(file, image_path);
  for (const LoadSegment& s : kernel.segments) check_segment(memory, s, image_path);
  uint64_t kernel_end = cb::load_segments(memory.data(), file.data(), kernel.segments.data(), uint32_t(kernel.segments.size()));
  std::vector<LoadedModule> loaded = load_modules(memory, modules, cb::first_module_address(kernel_end));
  uint32_t info = write_boot_info(memory, image_path + " " + cmdline, loaded);
  return BootState{uint32_t(kernel.layout.entry), mb::BOOTLOADER_MAGIC, info};
}

}  // namespace nestbed
