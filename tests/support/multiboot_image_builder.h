// Builds small Multiboot v1 images in memory for the loader and CLI tests:
// ELF32 or ELF64 with PT_LOAD segments and a Multiboot header in the first
// 8 KiB, or a flat binary using the a.out kludge.
#pragma once
#include <elf.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "arch/multiboot.h"

namespace nestbed::testing {

struct TestSegment {
  uint64_t paddr = 0;
  uint64_t vaddr = 0;  // 0: same as paddr
  std::vector<uint8_t> data;
  uint64_t memsz = 0;  // 0: data.size()
};

struct ElfSpec {
  bool elf64 = false;
  uint16_t machine = EM_386;
  uint64_t entry = 0;
  std::vector<TestSegment> segments;
  bool multiboot_header = true;
  uint32_t header_flags = arch::multiboot::HF_PAGE_ALIGN | arch::multiboot::HF_MEMORY_INFO;
  uint32_t header_offset = 0x200;  // where the header goes in the file
  bool corrupt_checksum = false;
};

inline constexpr uint64_t SEGMENT_FILE_ALIGN = 0x1000;

template <typename T>
void put(std::vector<uint8_t>& file, uint64_t offset, const T& value) {
  if (file.size() < offset + sizeof value) file.resize(offset + sizeof value);
  std::memcpy(file.data() + offset, &value, sizeof value);
}

inline void put_multiboot_header(std::vector<uint8_t>& file, uint64_t offset, uint32_t flags, bool corrupt = false) {
  arch::multiboot::Header h{};
  h.magic = arch::multiboot::HEADER_MAGIC;
  h.flags = flags;
  h.checksum = uint32_t(0u - h.magic - h.flags) + (corrupt ? 1 : 0);
  put(file, offset, h);
}

template <typename Ehdr, typename Phdr>
std::vector<uint8_t> build_elf_as(const ElfSpec& spec, unsigned char elf_class) {
  std::vector<uint8_t> file;
  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = elf_class;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = spec.machine;
  eh.e_version = EV_CURRENT;
  eh.e_entry = decltype(eh.e_entry)(spec.entry);
  eh.e_phoff = sizeof(Ehdr);
  eh.e_ehsize = sizeof(Ehdr);
  eh.e_phentsize = sizeof(Phdr);
  eh.e_phnum = uint16_t(spec.segments.size());
  put(file, 0, eh);
  uint64_t data_offset = SEGMENT_FILE_ALIGN;
  for (size_t i = 0; i < spec.segments.size(); ++i) {
    const TestSegment& s = spec.segments[i];
    Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = PF_R | PF_W | PF_X;
    ph.p_offset = data_offset;
    ph.p_paddr = decltype(ph.p_paddr)(s.paddr);
    ph.p_vaddr = decltype(ph.p_vaddr)(s.vaddr ? s.vaddr : s.paddr);
    ph.p_filesz = decltype(ph.p_filesz)(s.data.size());
    ph.p_memsz = decltype(ph.p_memsz)(s.memsz ? s.memsz : s.data.size());
    ph.p_align = SEGMENT_FILE_ALIGN;
    put(file, sizeof(Ehdr) + i * sizeof(Phdr), ph);
    file.resize(data_offset + s.data.size());
    std::memcpy(file.data() + data_offset, s.data.data(), s.data.size());
    uint64_t pages = (s.data.size() + SEGMENT_FILE_ALIGN - 1) / SEGMENT_FILE_ALIGN;
    data_offset += (pages ? pages : 1) * SEGMENT_FILE_ALIGN;
  }
  if (spec.multiboot_header) put_multiboot_header(file, spec.header_offset, spec.header_flags, spec.corrupt_checksum);
  return file;
}

inline std::vector<uint8_t> build_elf(const ElfSpec& spec) {
  return spec.elf64 ? build_elf_as<Elf64_Ehdr, Elf64_Phdr>(spec, ELFCLASS64)
                    : build_elf_as<Elf32_Ehdr, Elf32_Phdr>(spec, ELFCLASS32);
}

// A flat binary loaded at `load_addr` through the a.out kludge (header flag
// 16): the header sits at the start of `code`'s file image.
inline std::vector<uint8_t> build_aout_kludge(uint32_t load_addr, const std::vector<uint8_t>& code, uint32_t bss_size,
                                              uint32_t entry_offset) {
  namespace mb = arch::multiboot;
  std::vector<uint8_t> file(sizeof(mb::Header) + code.size());
  std::memcpy(file.data() + sizeof(mb::Header), code.data(), code.size());
  mb::Header h{};
  h.magic = mb::HEADER_MAGIC;
  h.flags = mb::HF_AOUT_KLUDGE;
  h.checksum = uint32_t(0u - h.magic - h.flags);
  h.header_addr = load_addr;
  h.load_addr = load_addr;
  h.load_end_addr = 0;  // the whole file
  h.bss_end_addr = uint32_t(load_addr + file.size() + bss_size);
  h.entry_addr = load_addr + uint32_t(sizeof(mb::Header)) + entry_offset;
  put(file, 0, h);
  return file;
}

// 32-bit protected-mode code that prints `text` on COM1 and writes `code` to
// isa-debug-exit: the smallest useful guest.
inline std::vector<uint8_t> print_and_exit_code(const std::string& text, uint32_t code) {
  std::vector<uint8_t> c = {0x66, 0xba, 0xf8, 0x03};  // mov dx, 0x3f8
  for (char ch : text) c.insert(c.end(), {0xb0, uint8_t(ch), 0xee});  // mov al, ch; out dx, al
  c.insert(c.end(), {0x66, 0xba, 0xf4, 0x00, 0xb8});  // mov dx, 0xf4; mov eax, code
  for (int i = 0; i < 4; ++i) c.push_back(uint8_t(code >> (8 * i)));
  c.insert(c.end(), {0xef, 0xf4, 0xeb, 0xfd});  // out dx, eax; 1: hlt; jmp 1b
  return c;
}

inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace nestbed::testing
