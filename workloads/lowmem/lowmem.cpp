// lowmem: an image linked below 1 MiB (workloads/lowmem/linker.ld: 0x20000),
// as small kernels and test suites are that QEMU's Multiboot loader boots
// (issue 14 item 5). It checks that the loader put it where its program
// headers say and that the boot information it was given is where a
// Multiboot kernel may use it: in RAM the memory map reports available, and
// outside the image. Its result line says only what holds on every correct
// loader, so it is the same on QEMU (whose map and layout differ in detail)
// and on nestbed at every depth.
#include "runtime/libc.h"
#include "runtime/runtime.h"

extern "C" char RT_IMAGE_BASE[], __image_end[];  // workloads/lowmem/linker.ld

namespace {

namespace mb = arch::multiboot;

struct Range {
  uint64_t begin, end;
};

constexpr uint64_t ONE_MIB = 1ull << 20;
const Range image{uint64_t(RT_IMAGE_BASE), uint64_t(__image_end)};

bool overlaps(Range a, Range b) { return a.begin < b.end && b.begin < a.end; }

// Whether the memory map reports all of `r` available and none of it
// anything else (entries may overlap; spec 3.3 says nothing against it).
bool available(const mb::Info& info, Range r) {
  bool covered = false, reserved = false;
  rt::for_each_mmap_entry(info, [&](const mb::MmapEntry& e) {
    const Range entry{e.addr, e.addr + e.len};
    if (e.type == mb::MMAP_AVAILABLE && entry.begin <= r.begin && r.end <= entry.end) covered = true;
    if (e.type != mb::MMAP_AVAILABLE && overlaps(entry, r)) reserved = true;
  });
  return covered && !reserved;
}

Range string_range(uint32_t address) {
  return {address, address + strlen(reinterpret_cast<const char*>(uintptr_t(address))) + 1};
}

// Each piece of the boot information, checked; names the first bad one.
const char* check_boot_info(const rt::BootInfo& boot) {
  const mb::Info& info = *boot.info;
  auto bad = [&](Range r) { return overlaps(r, image) || !available(info, r); };
  if (!(info.flags & mb::INFO_MEM_MAP)) return "no memory map";
  if (bad({uintptr_t(&info), uintptr_t(&info) + sizeof info})) return "the Info structure";
  if (bad({info.mmap_addr, uint64_t(info.mmap_addr) + info.mmap_length})) return "the memory map";
  if ((info.flags & mb::INFO_CMDLINE) && bad(string_range(info.cmdline))) return "the command line";
  if ((info.flags & mb::INFO_BOOT_LOADER_NAME) && bad(string_range(info.boot_loader_name))) return "the boot loader name";
  if (info.flags & mb::INFO_MODS) {
    if (bad({info.mods_addr, info.mods_addr + uint64_t(info.mods_count) * sizeof(mb::Module)})) return "the module list";
    for (uint32_t i = 0; i < info.mods_count; i++) {
      const mb::Module& m = boot.modules[i];
      if (bad({m.mod_start, m.mod_end}) || (m.string && bad(string_range(m.string)))) return "a module";
    }
  }
  return nullptr;
}

// Where this code runs, RIP-relative, against where it was linked.
uint64_t running_at() {
  uint64_t rip_relative, absolute;
  asm volatile("1: lea 1b(%%rip), %0\n\tmov $1b, %1" : "=r"(rip_relative), "=r"(absolute));
  return rip_relative - absolute + uint64_t(RT_IMAGE_BASE);
}

int fail(const char* what) {
  rt::printf("lowmem: FAIL: %s\n", what);
  return rt::EXIT_FAILURE;
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  if (running_at() != image.begin) return fail("not running at its link address");
  if (image.end > ONE_MIB) return fail("not linked below 1 MiB");
  if (!available(*boot.info, image)) return fail("the image is not in RAM the memory map reports available");
  if (const char* what = check_boot_info(boot)) {
    rt::printf("lowmem: FAIL: %s overlaps the image or lies outside available RAM\n", what);
    return rt::EXIT_FAILURE;
  }
  const uint64_t page = rt::alloc_pages(1);
  if (page < ONE_MIB) return fail("the runtime hands out RAM below 1 MiB");
  rt::printf("lowmem: running at its link address 0x%lx, below 1 MiB in available RAM; boot information outside "
             "it in available RAM; free pages from 1 MiB\n", image.begin);
  return rt::EXIT_OK;
}
