// Where a Multiboot kernel wants its bytes: the header search and the ELF32,
// ELF64 and a.out-kludge formats (Multiboot spec 0.6.96, 3.1). Pure parsing:
// nothing here touches guest memory.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "arch/multiboot.h"

namespace nestbed {

// p_filesz bytes from the file at `offset` go to `paddr`; the rest of
// p_memsz is zeroed (bss).
struct LoadSegment {
  uint64_t paddr = 0, memsz = 0, filesz = 0, offset = 0;
};

struct KernelLayout {
  arch::multiboot::Header header{};
  uint64_t header_offset = 0;
  std::vector<LoadSegment> segments;
  uint64_t entry = 0;  // physical
};

// Throws InputError naming `path` when the bytes are not a loadable
// Multiboot v1 kernel for x86.
KernelLayout parse_kernel_image(const std::vector<uint8_t>& file, const std::string& path);

}  // namespace nestbed
