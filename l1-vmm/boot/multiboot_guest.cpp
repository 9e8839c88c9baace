#include "l1-vmm/boot/multiboot_guest.h"

#include "common/boot/kernel_image.h"
#include "common/boot/multiboot_info.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/panic.h"
#include "runtime/console.h"
#include "runtime/libc.h"

namespace l1 {
namespace {

namespace mb = arch::multiboot;
namespace cb = ::nestbed::common::boot;
using cb::LoadSegment;

constexpr const char* BOOT_LOADER_NAME = "nestbed l1-vmm";
constexpr unsigned NAME_MAX = 128;
constexpr unsigned MAX_SEGMENTS = 16;

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

// A malformed image ends the run (L1_BAD_GUEST_IMAGE) with the parser's
// message, the one l0 prints for the same file.
cb::KernelLayout parse_kernel(const uint8_t* file, uint64_t size, const char* name, cb::SegmentArray& out) {
  cb::KernelLayout k;
  const cb::ImageResult r = cb::parse_kernel_image(file, size, k, out.sink());
  if (!r.ok()) {
    char message[cb::IMAGE_ERROR_MAX];
    rt::printf("l1-vmm: guest image '%s': %s\n", name, cb::format_image_error(r, "l1-vmm", message, sizeof message));
    fatal(L1_BAD_GUEST_IMAGE, "cannot boot the guest (Multiboot module 0)");
  }
  return k;
}

void check_segment(const LoadSegment& s, const char* name) {
  const uint64_t size = guest_memory.size;
  if (!guest_memory.contains(s.paddr, s.memsz))
    fatal(L1_NO_MEMORY, "guest image '%s': segment at 0x%lx (0x%lx bytes) lies outside the guest's %lu MiB of RAM; "
          "give it more with guest_mem=MiB", name, s.paddr, s.memsz, mib(size));
  const cb::BootAreaClash clash = cb::boot_area_clash(s);
  if (clash.what)
    fatal(L1_BAD_GUEST_IMAGE, "guest image '%s': segment [0x%lx, 0x%lx) overlaps [0x%lx, 0x%lx), %s", name, s.paddr,
          s.paddr + s.memsz, clash.range.begin, clash.range.end, clash.what);
}

// The module list and strings of the guest's boot information: where they
// go (common/boot), inside the guest's RAM.
cb::BootInfoPlan plan_boot_info(const rt::BootInfo& boot, const LoadSegment* segments, uint32_t count,
                                uint64_t kernel_end) {
  uint64_t string_bytes = cb::string_size(string_at(boot.modules[0].string)) + cb::string_size(BOOT_LOADER_NAME);
  for (uint32_t i = 1; i < boot.module_count; i++) string_bytes += cb::string_size(string_at(boot.modules[i].string));
  const uint64_t tail_size = cb::tail_size(boot.module_count - 1, string_bytes);
  const cb::BootInfoPlan plan = cb::plan_boot_info(segments, count, kernel_end, tail_size);
  if (plan.tail_end > guest_memory.size)
    fatal(L1_NO_MEMORY, "the guest's module list, module strings and cmdline (%lu bytes) do not fit in its %lu MiB "
          "of RAM after its kernel; give it more with guest_mem=MiB", tail_size, mib(guest_memory.size));
  return plan;
}

// Modules 1.. of l1-vmm are the guest's modules, page-aligned from
// `first_free` on, with their strings as given.
void load_modules(cb::MultibootInfoWriter& info, const rt::BootInfo& boot, uint64_t first_free) {
  uint64_t next = first_free;
  for (uint32_t i = 0; i + 1 < boot.module_count; i++) {
    const mb::Module& m = boot.modules[i + 1];
    const uint64_t len = m.mod_end > m.mod_start ? m.mod_end - m.mod_start : 0;
    const uint64_t start = cb::align_up(next, cb::MODULE_ALIGN);
    if (!guest_memory.contains(start, len))
      fatal(L1_NO_MEMORY, "module %u ('%s', %lu bytes) does not fit in the guest's %lu MiB of RAM after its kernel; "
            "give it more with guest_mem=MiB", i + 1, string_at(m.string), len, mib(guest_memory.size));
    memcpy(guest_memory.hva(start, len), reinterpret_cast<const void*>(uintptr_t(m.mod_start)), len);
    info.set_module(i, uint32_t(start), uint32_t(start + len), string_at(m.string));
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
  LoadSegment segments[MAX_SEGMENTS];
  cb::SegmentArray kernel_segments{segments, MAX_SEGMENTS, 0};
  const cb::KernelLayout k = parse_kernel(file, kernel_module.mod_end - kernel_module.mod_start, name, kernel_segments);
  for (unsigned i = 0; i < kernel_segments.count; i++) check_segment(segments[i], name);
  auto* ram = static_cast<uint8_t*>(guest_memory.hva(0, guest_memory.size));
  const uint64_t kernel_end = cb::load_segments(ram, file, segments, kernel_segments.count);

  // The boot information goes straight into guest memory.
  const cb::BootInfoPlan plan = plan_boot_info(boot, segments, kernel_segments.count, kernel_end);
  cb::MultibootInfoWriter info(ram, guest_memory.size, boot.module_count - 1, plan);
  load_modules(info, boot, plan.first_module);
  // Module 0's string is "<path> <args>": what the guest's cmdline would be
  // natively ("<image> <cmdline>", as QEMU and l0 pass it).
  const uint32_t info_gpa = info.finish(string_at(kernel_module.string), BOOT_LOADER_NAME);
  if (!info.fits()) fatal(L1_PANIC, "the guest's boot information outgrew its plan");
  return GuestBoot{uint32_t(k.entry), mb::BOOTLOADER_MAGIC, info_gpa, name};
}

}  // namespace l1
