#include "common/boot/kernel_image.h"

// The ELF structures are the system's <elf.h>: it only declares types and
// constants, so freestanding code may include it too.
#include <elf.h>

namespace nestbed::common::boot {
namespace {

namespace mb = arch::multiboot;

// Header flags 0-15 are requirements (mb::HF_REQUIRED_MASK). Page-aligned
// modules and memory information are always given; the video-mode request
// is accepted without video information, as QEMU does. Any other required
// bit is one the loader cannot meet, and spec 3.1.2 says to fail.
constexpr uint32_t HF_UNDERSTOOD = mb::HF_PAGE_ALIGN | mb::HF_MEMORY_INFO | mb::HF_VIDEO_MODE;

// No exceptions: every check returns its ImageResult up the call chain.
constexpr ImageResult OK{ImageError::NONE, 0};
constexpr ImageResult fail(ImageError error, uint64_t value = 0) { return {error, value}; }

class Parser {
 public:
  Parser(const uint8_t* file, uint64_t size, SegmentSink sink) : file_(file), size_(size), sink_(sink) {}
  ImageResult parse(KernelLayout& k) const;

 private:
  template <typename T>
  T read(uint64_t offset) const {
    T value;
    __builtin_memcpy(&value, file_ + offset, sizeof value);  // the caller checked the bounds
    return value;
  }
  bool is_elf() const { return size_ >= SELFMAG && __builtin_memcmp(file_, ELFMAG, SELFMAG) == 0; }
  ImageResult check_elf_identity() const;
  ImageResult find_header(KernelLayout& k) const;
  ImageResult add_segment(KernelLayout& k, const LoadSegment& s) const;
  template <typename Ehdr, typename Phdr>
  ImageResult parse_elf(KernelLayout& k) const;
  ImageResult parse_aout_kludge(KernelLayout& k) const;

  const uint8_t* file_;
  uint64_t size_;
  SegmentSink sink_;
};

// Checked before the Multiboot header, so an ARM kernel is reported as one.
// ELF32 may carry x86-64 code (`objcopy -O elf32-i386` keeps EM_386; x32
// linkers write EM_X86_64); ELF64 must be EM_X86_64.
ImageResult Parser::check_elf_identity() const {
  if (size_ < sizeof(Elf32_Ehdr)) return fail(ImageError::TRUNCATED_ELF_HEADER);
  const uint8_t elf_class = file_[EI_CLASS];
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64) return fail(ImageError::UNKNOWN_ELF_CLASS, elf_class);
  if (file_[EI_DATA] != ELFDATA2LSB) return fail(ImageError::BIG_ENDIAN_ELF);
  const uint16_t machine = read<uint16_t>(__builtin_offsetof(Elf32_Ehdr, e_machine));  // same offset in ELF64
  if (machine == EM_X86_64 || (machine == EM_386 && elf_class == ELFCLASS32)) return OK;
  return fail(ImageError::FOREIGN_MACHINE, machine);
}

// Spec 3.1.1: the header lies, 32-bit aligned, completely within the first 8192 bytes.
ImageResult Parser::find_header(KernelLayout& k) const {
  const uint64_t limit = size_ < mb::HEADER_SEARCH_LIMIT ? size_ : mb::HEADER_SEARCH_LIMIT;
  bool have_bad_checksum = false;
  uint64_t bad_checksum = 0;
  for (uint64_t off = 0; off + mb::HEADER_BASE_SIZE <= limit; off += mb::HEADER_ALIGN) {
    if (read<uint32_t>(off) != mb::HEADER_MAGIC) continue;
    const uint32_t flags = read<uint32_t>(off + 4), checksum = read<uint32_t>(off + 8);
    if (uint32_t(mb::HEADER_MAGIC + flags + checksum) != 0) {
      if (!have_bad_checksum) bad_checksum = off;
      have_bad_checksum = true;
      continue;
    }
    k.header_offset = off;
    k.header = mb::Header{mb::HEADER_MAGIC, flags, checksum, 0, 0, 0, 0, 0};
    if (flags & mb::HF_AOUT_KLUDGE) {
      if (off + mb::HEADER_KLUDGE_SIZE > limit) return fail(ImageError::HEADER_CUT_OFF, off);
      __builtin_memcpy(&k.header, file_ + off, sizeof k.header);
    }
    return OK;
  }
  if (have_bad_checksum) return fail(ImageError::BAD_CHECKSUM, bad_checksum);
  return fail(ImageError::NO_HEADER);
}

ImageResult Parser::add_segment(KernelLayout& k, const LoadSegment& s) const {
  if (!sink_.add(sink_.context, s)) return fail(ImageError::TOO_MANY_SEGMENTS, k.segment_count);
  k.segment_count++;
  return OK;
}

// PT_LOAD segments go to their physical addresses; e_entry is translated
// through the segment whose virtual range holds it, as GRUB 2 does (for
// images linked at their load address, as QEMU needs, vaddr == paddr).
template <typename Ehdr, typename Phdr>
ImageResult Parser::parse_elf(KernelLayout& k) const {
  if (size_ < sizeof(Ehdr)) return fail(ImageError::TRUNCATED_ELF_HEADER);
  const Ehdr eh = read<Ehdr>(0);
  if (eh.e_type != ET_EXEC) return fail(ImageError::NOT_EXECUTABLE, eh.e_type);
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) return fail(ImageError::NO_PROGRAM_HEADERS);
  if (eh.e_phentsize < sizeof(Phdr)) return fail(ImageError::PROGRAM_HEADERS_TOO_SMALL);
  const uint64_t table_size = uint64_t(eh.e_phnum) * eh.e_phentsize;
  if (eh.e_phoff > size_ || table_size > size_ - eh.e_phoff) return fail(ImageError::PROGRAM_HEADERS_OUTSIDE);

  bool have_entry = false;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    const Phdr ph = read<Phdr>(eh.e_phoff + uint64_t(i) * eh.e_phentsize);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz) return fail(ImageError::SEGMENT_FILESZ_OVER_MEMSZ, i);
    if (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) return fail(ImageError::SEGMENT_OUTSIDE_FILE, i);
    if (ImageResult r = add_segment(k, {ph.p_paddr, ph.p_memsz, ph.p_filesz, ph.p_offset}); !r.ok()) return r;
    if (!have_entry && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
      k.entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
      have_entry = true;
    }
  }
  if (k.segment_count == 0) return fail(ImageError::NO_LOADABLE_SEGMENTS);
  if (!have_entry) return fail(ImageError::ENTRY_OUTSIDE_SEGMENTS, eh.e_entry);
  return OK;
}

// Header flag 16 (spec 3.1.3): the header's address fields say where the
// file goes, whatever its format. The file is loaded from the byte that
// ends up at load_addr, i.e. header_addr - load_addr bytes before the header.
ImageResult Parser::parse_aout_kludge(KernelLayout& k) const {
  const mb::Header& h = k.header;
  if (h.header_addr < h.load_addr) return fail(ImageError::KLUDGE_HEADER_BELOW_LOAD);
  const uint64_t lead = h.header_addr - h.load_addr;
  if (lead > k.header_offset) return fail(ImageError::KLUDGE_LOAD_BEFORE_FILE);
  const uint64_t file_start = k.header_offset - lead;
  const uint64_t in_file = size_ - file_start;
  uint64_t load_size = in_file;  // load_end_addr 0: the rest of the file
  if (h.load_end_addr != 0) {
    if (h.load_end_addr < h.load_addr) return fail(ImageError::KLUDGE_LOAD_END_BELOW_LOAD);
    load_size = h.load_end_addr - h.load_addr;
    if (load_size > in_file) return fail(ImageError::KLUDGE_LOAD_END_BEYOND_FILE);
  }
  uint64_t mem_size = load_size;  // bss_end_addr 0: no bss
  if (h.bss_end_addr != 0) {
    if (h.bss_end_addr < h.load_addr + load_size) return fail(ImageError::KLUDGE_BSS_END_BELOW_LOAD_END);
    mem_size = h.bss_end_addr - h.load_addr;
  }
  if (mem_size == 0) return fail(ImageError::KLUDGE_NOTHING_TO_LOAD);
  if (h.entry_addr < h.load_addr || h.entry_addr - h.load_addr >= mem_size)
    return fail(ImageError::KLUDGE_ENTRY_OUTSIDE, h.entry_addr);
  if (ImageResult r = add_segment(k, {h.load_addr, mem_size, load_size, file_start}); !r.ok()) return r;
  k.entry = h.entry_addr;
  return OK;
}

ImageResult Parser::parse(KernelLayout& k) const {
  k = KernelLayout{};
  const bool elf = is_elf();
  if (elf) {
    if (ImageResult r = check_elf_identity(); !r.ok()) return r;
  }
  if (ImageResult r = find_header(k); !r.ok()) return r;
  if (uint32_t unknown = k.header.flags & mb::HF_REQUIRED_MASK & ~HF_UNDERSTOOD)
    return fail(ImageError::UNSUPPORTED_FLAGS, unknown);
  if (k.header.flags & mb::HF_AOUT_KLUDGE) return parse_aout_kludge(k);
  if (!elf) return fail(ImageError::NOT_ELF_NOR_KLUDGE);
  if (file_[EI_CLASS] == ELFCLASS32) return parse_elf<Elf32_Ehdr, Elf32_Phdr>(k);
  return parse_elf<Elf64_Ehdr, Elf64_Phdr>(k);
}

bool add_to_array(void* context, const LoadSegment& segment) {
  SegmentArray& a = *static_cast<SegmentArray*>(context);
  if (a.count == a.capacity) return false;
  a.items[a.count++] = segment;
  return true;
}

const char* machine_name(uint64_t machine) {
  switch (machine) {
    case EM_386: return "i386";
    case EM_X86_64: return "x86-64";
    case EM_ARM: return "ARM";
    case EM_AARCH64: return "AArch64";
    case EM_RISCV: return "RISC-V";
    case EM_PPC: return "PowerPC";
    case EM_PPC64: return "PowerPC64";
    case EM_MIPS: return "MIPS";
    case EM_S390: return "S/390";
    case EM_SPARCV9: return "SPARC V9";
    case EM_NONE: return "no machine";
    default: return "another machine";
  }
}

// Appends text and numbers to a fixed buffer, cutting what does not fit;
// the buffer always ends with a NUL.
class Text {
 public:
  Text(char* buffer, size_t size) : buffer_(buffer), size_(size) {
    if (size_) buffer_[0] = '\0';
  }
  Text& operator<<(const char* s) {
    while (*s) put(*s++);
    return *this;
  }
  Text& dec(uint64_t v) { return digits(v, 10); }
  Text& hex(uint64_t v) {
    *this << "0x";
    return digits(v, 16);
  }

 private:
  void put(char c) {
    if (length_ + 1 >= size_) return;
    buffer_[length_++] = c;
    buffer_[length_] = '\0';
  }
  Text& digits(uint64_t v, unsigned base) {
    char reversed[20];
    unsigned n = 0;
    do {
      reversed[n++] = "0123456789abcdef"[v % base];
      v /= base;
    } while (v);
    while (n) put(reversed[--n]);
    return *this;
  }

  char* buffer_;
  size_t size_;
  size_t length_ = 0;
};

}  // namespace

SegmentSink SegmentArray::sink() { return SegmentSink{add_to_array, this}; }

ImageResult parse_kernel_image(const uint8_t* file, uint64_t size, KernelLayout& layout, SegmentSink sink) {
  return Parser(file, size, sink).parse(layout);
}

const char* format_image_error(ImageResult result, const char* loader, char* buffer, size_t size) {
  Text t(buffer, size);
  const uint64_t v = result.value;
  switch (result.error) {
    case ImageError::NONE: t << "no error"; break;
    case ImageError::TRUNCATED_ELF_HEADER: t << "truncated ELF header"; break;
    case ImageError::UNKNOWN_ELF_CLASS: t << "unknown ELF class "; t.dec(v); break;
    case ImageError::BIG_ENDIAN_ELF: t << "a big-endian ELF, not an x86 image"; break;
    case ImageError::FOREIGN_MACHINE:
      t << "an ELF for " << machine_name(v) << " (e_machine ";
      t.dec(v) << "), not an x86 image";
      break;
    case ImageError::HEADER_CUT_OFF:
      t << "Multiboot header at ";
      t.hex(v) << " is cut off before its address fields";
      break;
    case ImageError::BAD_CHECKSUM:
      t << "the Multiboot header at offset ";
      t.hex(v) << " has a bad checksum";
      break;
    case ImageError::NO_HEADER:
      t << "no Multiboot header (magic 0x1badb002) in the first 8 KiB: not a Multiboot v1 kernel";
      break;
    case ImageError::UNSUPPORTED_FLAGS:
      t << "the Multiboot header requires features " << loader << " does not provide (flags ";
      t.hex(v) << ")";
      break;
    case ImageError::NOT_EXECUTABLE: t << "not an executable ELF (e_type "; t.dec(v) << ")"; break;
    case ImageError::NO_PROGRAM_HEADERS: t << "the ELF has no usable program headers"; break;
    case ImageError::PROGRAM_HEADERS_TOO_SMALL: t << "ELF program header entries are too small"; break;
    case ImageError::PROGRAM_HEADERS_OUTSIDE: t << "ELF program headers lie outside the file"; break;
    case ImageError::SEGMENT_FILESZ_OVER_MEMSZ: t << "ELF segment "; t.dec(v) << " has p_filesz > p_memsz"; break;
    case ImageError::SEGMENT_OUTSIDE_FILE: t << "ELF segment "; t.dec(v) << " lies outside the file"; break;
    case ImageError::TOO_MANY_SEGMENTS: t << "more than "; t.dec(v) << " loadable ELF segments"; break;
    case ImageError::NO_LOADABLE_SEGMENTS: t << "the ELF has no loadable segments"; break;
    case ImageError::ENTRY_OUTSIDE_SEGMENTS:
      t << "the entry point ";
      t.hex(v) << " is not inside any loadable segment";
      break;
    case ImageError::KLUDGE_HEADER_BELOW_LOAD: t << "a.out kludge: header_addr is below load_addr"; break;
    case ImageError::KLUDGE_LOAD_BEFORE_FILE: t << "a.out kludge: load_addr lies before the start of the file"; break;
    case ImageError::KLUDGE_LOAD_END_BELOW_LOAD: t << "a.out kludge: load_end_addr is below load_addr"; break;
    case ImageError::KLUDGE_LOAD_END_BEYOND_FILE:
      t << "a.out kludge: load_end_addr lies beyond the end of the file";
      break;
    case ImageError::KLUDGE_BSS_END_BELOW_LOAD_END: t << "a.out kludge: bss_end_addr is below load_end_addr"; break;
    case ImageError::KLUDGE_NOTHING_TO_LOAD: t << "a.out kludge: nothing to load"; break;
    case ImageError::KLUDGE_ENTRY_OUTSIDE:
      t << "a.out kludge: entry_addr ";
      t.hex(v) << " is outside the loaded image";
      break;
    case ImageError::NOT_ELF_NOR_KLUDGE:
      t << "has a Multiboot header but is not an ELF and does not use the a.out kludge (header flag 16)";
      break;
  }
  return buffer;
}

uint64_t load_segments(uint8_t* ram, const uint8_t* file, const LoadSegment* segments, uint32_t count) {
  uint64_t end = 0;
  for (uint32_t i = 0; i < count; i++) {
    const LoadSegment& s = segments[i];
    __builtin_memcpy(ram + s.paddr, file + s.offset, s.filesz);
    __builtin_memset(ram + s.paddr + s.filesz, 0, s.memsz - s.filesz);  // bss
    if (s.paddr + s.memsz > end) end = s.paddr + s.memsz;
  }
  return end;
}

}  // namespace nestbed::common::boot
