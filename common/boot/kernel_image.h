// Where a Multiboot kernel wants its bytes (Multiboot spec 0.6.96, 3.1): the
// header search and the ELF32, ELF64 and a.out-kludge formats. One
// implementation for l0's loader (l0/loader/multiboot_loader.cpp, host C++)
// and l1-vmm's (l1-vmm/boot/multiboot_guest.cpp, freestanding): no heap, no
// exceptions, no C++ library. Pure parsing: nothing here touches guest
// memory but load_segments().
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "arch/multiboot.h"

namespace nestbed::common::boot {

// p_filesz bytes from the file at `offset` go to (guest-)physical `paddr`;
// the rest of p_memsz is zeroed (bss).
struct LoadSegment {
  uint64_t paddr, memsz, filesz, offset;
};

struct KernelLayout {
  arch::multiboot::Header header;
  uint64_t header_offset;
  uint64_t entry;          // physical
  uint32_t segment_count;  // segments handed to the SegmentSink
};

// Receives the loadable segments in program-header order; `add` returns
// false when it has no room (the parse then fails with TOO_MANY_SEGMENTS).
struct SegmentSink {
  bool (*add)(void* context, const LoadSegment& segment);
  void* context;
};

// A SegmentSink over a caller's fixed array.
struct SegmentArray {
  LoadSegment* items;
  uint32_t capacity;
  uint32_t count;
  SegmentSink sink();
};

// Why an image is not a loadable Multiboot v1 kernel for x86. `value` in
// ImageResult is the number its message names (format_image_error).
enum class ImageError : uint8_t {
  NONE,
  TRUNCATED_ELF_HEADER,
  UNKNOWN_ELF_CLASS,           // value: EI_CLASS
  BIG_ENDIAN_ELF,
  FOREIGN_MACHINE,             // value: e_machine
  HEADER_CUT_OFF,              // value: the header's offset
  BAD_CHECKSUM,                // value: the first such header's offset
  NO_HEADER,
  UNSUPPORTED_FLAGS,           // value: the required flags not understood
  NOT_EXECUTABLE,              // value: e_type
  NO_PROGRAM_HEADERS,
  PROGRAM_HEADERS_TOO_SMALL,
  PROGRAM_HEADERS_OUTSIDE,
  SEGMENT_FILESZ_OVER_MEMSZ,   // value: the program header's index
  SEGMENT_OUTSIDE_FILE,        // value: the program header's index
  TOO_MANY_SEGMENTS,           // value: how many the sink took
  NO_LOADABLE_SEGMENTS,
  ENTRY_OUTSIDE_SEGMENTS,      // value: e_entry
  KLUDGE_HEADER_BELOW_LOAD,
  KLUDGE_LOAD_BEFORE_FILE,
  KLUDGE_LOAD_END_BELOW_LOAD,
  KLUDGE_LOAD_END_BEYOND_FILE,
  KLUDGE_BSS_END_BELOW_LOAD_END,
  KLUDGE_NOTHING_TO_LOAD,
  KLUDGE_ENTRY_OUTSIDE,        // value: entry_addr
  NOT_ELF_NOR_KLUDGE,
};

struct ImageResult {
  ImageError error;
  uint64_t value;
  bool ok() const { return error == ImageError::NONE; }
};

// Parses `size` bytes of `file` into `layout`, handing each loadable
// segment to `sink`. Checks, in this order: an ELF's identity (so an ARM
// kernel is reported as one), the Multiboot header and its flags, then the
// ELF program headers or the a.out kludge's address fields.
ImageResult parse_kernel_image(const uint8_t* file, uint64_t size, KernelLayout& layout, SegmentSink sink);

// The message for a failed parse, without the image's name: e.g. "an ELF
// for AArch64 (e_machine 183), not an x86 image". `loader` is who cannot
// meet a header's requirements ("nestbed", "l1-vmm"). Writes at most `size`
// bytes, NUL included, and returns `buffer`.
const char* format_image_error(ImageResult result, const char* loader, char* buffer, size_t size);
inline constexpr size_t IMAGE_ERROR_MAX = 160;  // a buffer this large holds every message

// Copies each segment's file bytes into RAM and zeroes the rest (bss);
// `ram` is (guest-)physical 0 and every segment lies inside it. Returns the
// end of the highest segment.
uint64_t load_segments(uint8_t* ram, const uint8_t* file, const LoadSegment* segments, uint32_t count);

}  // namespace nestbed::common::boot
