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
#include <stdexcept>

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
  const cb::BootAreaClash clash = cb::boot_area_clash(s);
  if (clash.what)
    throw InputError(path + ": segment " + range(s.paddr, end) + " overlaps " +
                     range(clash.range.begin, clash.range.end) + ", " + clash.what);
}

// A module's string: its path as given, then its arguments if any.
std::string module_string(const ModuleSpec& spec) { return spec.args.empty() ? spec.path : spec.path + " " + spec.args; }

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
    loaded.push_back({start, end, module_string(spec)});
    next = end;
  }
  return loaded;
}

// The module list and strings: where they go (common/boot), in RAM.
cb::BootInfoPlan plan_boot_info(const GuestMemory& memory, const Kernel& kernel, uint64_t kernel_end,
                                const std::string& cmdline, const std::vector<ModuleSpec>& modules) {
  uint64_t string_bytes = cb::string_size(cmdline.c_str()) + cb::string_size(BOOT_LOADER_NAME);
  for (const ModuleSpec& m : modules) string_bytes += cb::string_size(module_string(m).c_str());
  const uint64_t tail_size = cb::tail_size(uint32_t(modules.size()), string_bytes);
  const cb::BootInfoPlan plan =
      cb::plan_boot_info(kernel.segments.data(), uint32_t(kernel.segments.size()), kernel_end, tail_size);
  if (plan.tail_end > memory.size())
    throw InputError("the module list, module strings and command line (" + std::to_string(tail_size) +
                     " bytes) do not fit in " + mib(memory.size()) + " of RAM after the kernel; " +
                     more_memory_hint(plan.tail_end));
  return plan;
}

uint32_t write_boot_info(GuestMemory& memory, const cb::BootInfoPlan& plan, const std::string& cmdline,
                         const std::vector<LoadedModule>& modules) {
  cb::MultibootInfoWriter writer(memory.data(), memory.size(), uint32_t(modules.size()), plan);
  for (size_t i = 0; i < modules.size(); ++i)
    writer.set_module(uint32_t(i), uint32_t(modules[i].start), uint32_t(modules[i].end), modules[i].string.c_str());
  const uint32_t info_addr = writer.finish(cmdline.c_str(), BOOT_LOADER_NAME);
  if (!writer.fits()) throw std::logic_error("multiboot loader: the boot information outgrew its plan");
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
  const std::string kernel_cmdline = image_path + " " + cmdline;
  const cb::BootInfoPlan plan = plan_boot_info(memory, kernel, kernel_end, kernel_cmdline, modules);
  std::vector<LoadedModule> loaded = load_modules(memory, modules, plan.first_module);
  uint32_t info = write_boot_info(memory, plan, kernel_cmdline, loaded);
  return BootState{uint32_t(kernel.layout.entry), mb::BOOTLOADER_MAGIC, info};
}

}  // namespace nestbed
