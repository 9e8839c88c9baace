#include "l1-vmm/boot/kernel_image.h"

// The ELF structures are the system's <elf.h> (the same l0 uses); it only
// declares types and constants, so freestanding code may include it.
#include <elf.h>
#include <stdarg.h>

#include "l1-vmm/panic.h"
#include "runtime/console.h"
#include "runtime/libc.h"

namespace l1 {
namespace {

namespace mb = arch::multiboot;

// Header flags 0-15 are requirements (mb::HF_REQUIRED_MASK): page-aligned
// modules and memory information are always given, the video-mode request is
// accepted without video information (as QEMU and l0 do); any other bit is
// a requirement l1-vmm cannot meet, and spec 3.1.2 says to fail.
constexpr uint32_t HF_UNDERSTOOD = mb::HF_PAGE_ALIGN | mb::HF_MEMORY_INFO | mb::HF_VIDEO_MODE;

class Parser {
 public:
  Parser(const uint8_t* file, uint64_t size, const char* name) : file_(file), size_(size), name_(name) {}
  KernelLayout parse();

 private:
  [[noreturn]] void fail(const char* format, ...) const __attribute__((format(printf, 2, 3)));
  template <typename T>
  T read(uint64_t offset) const {
    T value;
    memcpy(&value, file_ + offset, sizeof value);  // the caller checked the bounds
    return value;
  }
  bool is_elf() const { return size_ >= SELFMAG && memcmp(file_, ELFMAG, SELFMAG) == 0; }
  void check_elf_identity() const;
  void find_header(KernelLayout& k) const;
  void check_header_flags(const KernelLayout& k) const;
  template <typename Ehdr, typename Phdr>
  void parse_elf(KernelLayout& k) const;
  void parse_aout_kludge(KernelLayout& k) const;

  const uint8_t* file_;
  uint64_t size_;
  const char* name_;
};

void Parser::fail(const char* format, ...) const {
  rt::printf("l1-vmm: guest image '%s': ", name_);
  va_list args;
  va_start(args, format);
  rt::vprintf(format, args);
  va_end(args);
  rt::console_putc('\n');
  fatal(L1_BAD_GUEST_IMAGE, "cannot boot the guest (Multiboot module 0)");
}

// Checked before the Multiboot header, so an ARM kernel is reported as one.
// ELF32 may carry x86-64 code (`objcopy -O elf32-i386` keeps EM_386); ELF64
// must be EM_X86_64.
void Parser::check_elf_identity() const {
  if (size_ < sizeof(Elf32_Ehdr)) fail("truncated ELF header");
  const uint8_t elf_class = file_[EI_CLASS];
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64) fail("unknown ELF class %u", unsigned(elf_class));
  if (file_[EI_DATA] != ELFDATA2LSB) fail("a big-endian ELF, not an x86 image");
  const uint16_t machine = read<uint16_t>(__builtin_offsetof(Elf32_Ehdr, e_machine));  // same offset in ELF64
  if (machine == EM_X86_64 || (machine == EM_386 && elf_class == ELFCLASS32)) return;
  fail("an ELF for another machine (e_machine %u), not an x86 image", unsigned(machine));
}

// Spec 3.1.1: the header lies, 32-bit aligned, completely within the first 8192 bytes.
void Parser::find_header(KernelLayout& k) const {
  const uint64_t limit = size_ < mb::HEADER_SEARCH_LIMIT ? size_ : mb::HEADER_SEARCH_LIMIT;
  int64_t bad_checksum = -1;
  for (uint64_t off = 0; off + mb::HEADER_BASE_SIZE <= limit; off += mb::HEADER_ALIGN) {
    if (read<uint32_t>(off) != mb::HEADER_MAGIC) continue;
    const uint32_t flags = read<uint32_t>(off + 4), checksum = read<uint32_t>(off + 8);
    if (uint32_t(mb::HEADER_MAGIC + flags + checksum) != 0) {
      if (bad_checksum < 0) bad_checksum = int64_t(off);
      continue;
    }
    k.header_offset = off;
    k.header = mb::Header{mb::HEADER_MAGIC, flags, checksum, 0, 0, 0, 0, 0};
    if (flags & mb::HF_AOUT_KLUDGE) {
      if (off + mb::HEADER_KLUDGE_SIZE > limit) fail("Multiboot header at 0x%lx is cut off before its address fields", off);
      memcpy(&k.header, file_ + off, sizeof k.header);
    }
    return;
  }
  if (bad_checksum >= 0) fail("the Multiboot header at offset 0x%lx has a bad checksum", uint64_t(bad_checksum));
  fail("no Multiboot header (magic 0x1badb002) in the first 8 KiB: not a Multiboot v1 kernel");
}

void Parser::check_header_flags(const KernelLayout& k) const {
  const uint32_t unknown = k.header.flags & mb::HF_REQUIRED_MASK & ~HF_UNDERSTOOD;
  if (unknown) fail("the Multiboot header requires features l1-vmm does not provide (flags 0x%x)", unknown);
}

// PT_LOAD segments go to their physical addresses; e_entry is translated
// through the segment whose virtual range holds it, as GRUB 2 does.
template <typename Ehdr, typename Phdr>
void Parser::parse_elf(KernelLayout& k) const {
  if (size_ < sizeof(Ehdr)) fail("truncated ELF header");
  const Ehdr eh = read<Ehdr>(0);
  if (eh.e_type != ET_EXEC) fail("not an executable ELF (e_type %u)", unsigned(eh.e_type));
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) fail("the ELF has no usable program headers");
  if (eh.e_phentsize < sizeof(Phdr)) fail("ELF program header entries are too small");
  const uint64_t table_size = uint64_t(eh.e_phnum) * eh.e_phentsize;
  if (eh.e_phoff > size_ || table_size > size_ - eh.e_phoff) fail("ELF program headers lie outside the file");

  bool have_entry = false;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    const Phdr ph = read<Phdr>(eh.e_phoff + uint64_t(i) * eh.e_phentsize);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (ph.p_filesz > ph.p_memsz) fail("ELF segment %u has p_filesz > p_memsz", i);
    if (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) fail("ELF segment %u lies outside the file", i);
    if (k.segment_count == KernelLayout::MAX_SEGMENTS)
      fail("more than %u loadable ELF segments", KernelLayout::MAX_SEGMENTS);
    k.segments[k.segment_count++] = {ph.p_paddr, ph.p_memsz, ph.p_filesz, ph.p_offset};
    if (!have_entry && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz) {
      k.entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
      have_entry = true;
    }
  }
  if (k.segment_count == 0) fail("the ELF has no loadable segments");
  if (!have_entry) fail("the entry point 0x%lx is not inside any loadable segment", uint64_t(eh.e_entry));
}

// Header flag 16 (spec 3.1.3): the header's address fields say where the
// file goes, whatever its format. The file is loaded from the byte that
// ends up at load_addr, i.e. header_addr - load_addr bytes before the header.
void Parser::parse_aout_kludge(KernelLayout& k) const {
  const mb::Header& h = k.header;
  if (h.header_addr < h.load_addr) fail("a.out kludge: header_addr is below load_addr");
  const uint64_t lead = h.header_addr - h.load_addr;
  if (lead > k.header_offset) fail("a.out kludge: load_addr lies before the start of the file");
  const uint64_t file_start = k.header_offset - lead;
  const uint64_t in_file = size_ - file_start;
  uint64_t load_size = in_file;  // load_end_addr 0: the rest of the file
  if (h.load_end_addr != 0) {
    if (h.load_end_addr < h.load_addr) fail("a.out kludge: load_end_addr is below load_addr");
    load_size = h.load_end_addr - h.load_addr;
    if (load_size > in_file) fail("a.out kludge: load_end_addr lies beyond the end of the file");
  }
  uint64_t mem_size = load_size;  // bss_end_addr 0: no bss
  if (h.bss_end_addr != 0) {
    if (h.bss_end_addr < h.load_addr + load_size) fail("a.out kludge: bss_end_addr is below load_end_addr");
    mem_size = h.bss_end_addr - h.load_addr;
  }
  if (mem_size == 0) fail("a.out kludge: nothing to load");
  if (h.entry_addr < h.load_addr || h.entry_addr - h.load_addr >= mem_size)
    fail("a.out kludge: entry_addr 0x%x is outside the loaded image", h.entry_addr);
  k.segments[k.segment_count++] = {h.load_addr, mem_size, load_size, file_start};
  k.entry = h.entry_addr;
}

KernelLayout Parser::parse() {
  KernelLayout k{};
  const bool elf = is_elf();
  if (elf) check_elf_identity();
  find_header(k);
  check_header_flags(k);
  if (k.header.flags & mb::HF_AOUT_KLUDGE) parse_aout_kludge(k);
  else if (!elf) fail("has a Multiboot header but is not an ELF and does not use the a.out kludge (header flag 16)");
  else if (file_[EI_CLASS] == ELFCLASS32) parse_elf<Elf32_Ehdr, Elf32_Phdr>(k);
  else parse_elf<Elf64_Ehdr, Elf64_Phdr>(k);
  return k;
}

}  // namespace

KernelLayout parse_kernel_image(const uint8_t* file, uint64_t size, const char* name) {
  return Parser(file, size, name).parse();
}

}  // namespace l1
