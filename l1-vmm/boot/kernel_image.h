// Where a Multiboot kernel wants its bytes (Multiboot spec 0.6.96, 3.1):
// the header search and the ELF32, ELF64 and a.out-kludge formats. The
// logic of l0's loader (l0/loader/kernel_image.cpp), ported to freestanding
// code: no exceptions, so a malformed image ends the run (L1_BAD_GUEST_IMAGE)
// with the same wording l0 uses. Pure parsing: nothing here touches guest
// memory.
#pragma once
#include <stdint.h>

#include "arch/multiboot.h"

namespace l1 {

// p_filesz bytes from the file at `offset` go to guest-physical `paddr`;
// the rest of p_memsz is zeroed (bss).
struct LoadSegment {
  uint64_t paddr, memsz, filesz, offset;
};

struct KernelLayout {
  static constexpr unsigned MAX_SEGMENTS = 16;
  arch::multiboot::Header header;
  uint64_t header_offset;
  LoadSegment segments[MAX_SEGMENTS];
  unsigned segment_count;
  uint64_t entry;  // guest-physical
};

// `name` is the module's path, for messages.
KernelLayout parse_kernel_image(const uint8_t* file, uint64_t size, const char* name);

}  // namespace l1
