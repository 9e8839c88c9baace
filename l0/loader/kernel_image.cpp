#include "l0/loader/kernel_image.h"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>

#include "l0/engine.h"
#include "l0/loader/input_file.h"

namespace nestbed {
namespace {

namespace mb = arch::multiboot;

// Header flags this loader honours: page-aligned modules and memory
// information are always given; the video-mode request is accepted without
// video information, as QEMU does. Any other required bit (mb::HF_REQUIRED_MASK)
// is one we cannot meet, and spec 3.1.2 says to fail.
constexpr uint32_t HF_UNDERSTOOD = mb::HF_PAGE_ALIGN | mb::HF_MEMORY_INFO | mb::HF_VIDEO_MODE;

class Parser {
 public:
  Parser(const std::vector<uint8_t>& file, const std::string& path) : file_(file), path_(path) {}
  KernelLayout parse();

 private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError(path_ + ": " + what); }
  template <typename T>
  T read(uint64_t offset) const;
  bool is_elf() const;
  void check_elf_identity() const;
  void find_header(KernelLayout& k) const;
  void check_header_flags(const KernelLayout& k) const;
  template <typename Ehdr, typename Phdr>
  void parse_elf(KernelLayout& k) const;
  void parse_aout_kludge(KernelLayout& k) const;

  const std::vector<uint8_t>& file_;
  const std::string& path_;
};

template <typename T>
T Parser::read(uint64_t offset) const {
  T value;
  std::memcpy(&value, file_.data() + offset, sizeof value);  // the caller checked the bounds
  return value;
}

const char* machine_name(uint16_t machine) {
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

bool Parser::is_elf() const { return file_.size() >= SELFMAG && std::memcmp(file_.data(), ELFMAG, SELFMAG) == 0; }

// Checked before the Multiboot header, so an ARM kernel is reported as one.
// ELF32 may carry x86-64 code (`objcopy -O elf32-i386` keeps EM_386; x32
// linkers write EM_X86_64); ELF64 must be EM_X86_64.
void Parser::check_elf_identity() const {
  if (file_.size() < sizeof(Elf32_Ehdr)) fail("truncated ELF header");
  uint8_t elf_class = file_[EI_CLASS];
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64) fail("unknown ELF class " + std::to_string(elf_class));
  if (file_[EI_DATA] != ELFDATA2LSB) fail("a big-endian ELF, not an x86 image");
  uint16_t machine = read<uint16_t>(offsetof(Elf32_Ehdr, e_machine));  // same offset in ELF64
  if (machine == EM_X86_64 || (machine == EM_386 && elf_class == ELFCLASS32)) return;
  fail(std::string("an ELF for ") + machine_name(machine) + " (e_machine " + std::to_string(machine) +
       "), not an x86 image");
}

// Spec 3.1.1: the header lies, 32-bit aligned, completely within the first 8192 bytes.
void Parser::find_header(KernelLayout& k) const {
  uint64_t limit = std::min<uint64_t>(file_.size(), mb::HEADER_SEARCH_LIMIT);
  std::optional<uint64_t> bad_checksum;
  for (uint64_t off = 0; off + mb::HEADER_BASE_SIZE <= limit; off += mb::HEADER_ALIGN) {
    if (read<uint32_t>(off) != mb::HEADER_MAGIC) continue;
    uint32_t flags = read<uint32_t>(off + 4), checksum = read<uint32_t>(off + 8);
    if (uint32_t(mb::HEADER_MAGIC + flags + checksum) != 0) {
      if (!bad_checksum) bad_checksum = off;
      continue;
    }
    k.header_offset = off;
    k.header.magic = mb::HEADER_MAGIC;
    k.header.flags = flags;
    k.header.checksum = checksum;
    if (flags & mb::HF_AOUT_KLUDGE) {
      if (off + mb::HEADER_KLUDGE_SIZE > limit) fail("Multiboot header at " + hex(off) + " is cut off before its address fields");
      std::memcpy(&k.header, file_.data() + off, sizeof k.header);
    }
    return;
  }
  if (bad_checksum) fail("the Multiboot header at offset " + hex(*bad_checksum) + " has a bad checksum");
  fail("no Multiboot header (magic 0x1badb002) in the first 8 KiB: not a Multiboot v1 kernel");
}

void Parser::check_header_flags(const KernelLayout& k) const {
  uint32_t unknown = k.header.flags & mb::HF_REQUIRED_MASK & ~HF_UNDERSTOOD;
  if (unknown) fail("the Multiboot header requires features nestbed does not provide (flags " + hex(unknown) + ")");
}

// PT_LOAD segments go to their physical addresses; e_entry is translated
// through the segment whose virtual range holds it, as GRUB 2 does (for
// images linked at their load address, as QEMU needs, vaddr == paddr).
template <typename Ehdr, typename Phdr>
void Parser::parse_elf(KernelLayout& k) const {
  if (file_.size() < sizeof(Ehdr)) fail("truncated ELF header");
  const Ehdr eh = read<Ehdr>(0);
  if (eh.e_type != ET_EXEC) fail("not an executable ELF (e_type " + std::to_string(eh.e_type) + ")");
  if (eh.e_phnum == 0 || eh.e_phnum == PN_XNUM) fail("the ELF has no usable program headers");
  if (eh.e_phentsize < sizeof(Phdr)) fail("ELF program header entries are too small");
  uint64_t table_size = uint64_t(eh.e_phnum) * eh.e_phentsize;
  if (eh.e_phoff > file_.size() || table_size > file_.size() - eh.e_phoff) fail("ELF program headers lie outside the file");

  std::optional<uint64_t> entry;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    const Phdr ph = read<Phdr>(eh.e_phoff + uint64_t(i) * eh.e_phentsize);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    std::string name = "ELF segment " + std::to_string(i);
    if (ph.p_filesz > ph.p_memsz) fail(name + " has p_filesz > p_memsz");
    if (ph.p_offset > file_.size() || ph.p_filesz > file_.size() - ph.p_offset) fail(name + " lies outside the file");
    k.segments.push_back({ph.p_paddr, ph.p_memsz, ph.p_filesz, ph.p_offset});
    if (!entry && eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz)
      entry = eh.e_entry - ph.p_vaddr + ph.p_paddr;
  }
  if (k.segments.empty()) fail("the ELF has no loadable segments");
  if (!entry) fail("the entry point " + hex(eh.e_entry) + " is not inside any loadable segment");
  k.entry = *entry;
}

// Header flag 16 (spec 3.1.3): the header's address fields say where the
// file goes, whatever its format. The file is loaded from the byte that
// ends up at load_addr, i.e. header_addr - load_addr bytes before the header.
void Parser::parse_aout_kludge(KernelLayout& k) const {
  const mb::Header& h = k.header;
  if (h.header_addr < h.load_addr) fail("a.out kludge: header_addr is below load_addr");
  uint64_t lead = h.header_addr - h.load_addr;
  if (lead > k.header_offset) fail("a.out kludge: load_addr lies before the start of the file");
  uint64_t file_start = k.header_offset - lead;
  uint64_t in_file = file_.size() - file_start;
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
    fail("a.out kludge: entry_addr " + hex(h.entry_addr) + " is outside the loaded image");
  k.segments.push_back({h.load_addr, mem_size, load_size, file_start});
  k.entry = h.entry_addr;
}

KernelLayout Parser::parse() {
  KernelLayout k;
  bool elf = is_elf();
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

KernelLayout parse_kernel_image(const std::vector<uint8_t>& file, const std::string& path) {
  return Parser(file, path).parse();
}

}  // namespace nestbed
