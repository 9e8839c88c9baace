// Writes the inputs of the CLI tests (tests/cli.cmake) into a directory:
//   hello.elf   ELF32 x86 Multiboot kernel: prints "ok" on COM1, exits with code 0x10
//   high.elf    like hello.elf but loaded at 8 MiB: needs --memory 9 or more
//   low.elf     like hello.elf but loaded at 0x20000, below 1 MiB (as QEMU boots it)
//   over-info.elf   loaded at 0x8800: over the Multiboot information at 0x9000
//   over-bios.elf   loaded at 0x9f800: over the EBDA at 0x9fc00, which is not RAM
//   spin.elf    prints "ok" on COM1, then loops forever (runs killed by a signal)
//   rep-stos-apic.elf   one REP STOSD of 2^32 - 1 dwords over the local APIC's page (issue 14 item 7)
//   arm64.elf   an AArch64 ELF64 carrying a valid Multiboot header
//   big.bin     a 3 MiB module
//   empty.bin   an empty file (an empty module is allowed)
//   notes.txt   a text file
//   fifo        a FIFO nobody writes to (opening it for reading would block)
//   fifo-out    a FIFO nobody reads: the tests that write to a FIFO use it, since
//               the tests that read `fifo` briefly open it for reading, and a
//               writer opening it then would find a reader (a flake in -j runs)
//   dup.cost, empty.cost, unknown.cost   bad cost models: a class given twice, none, an unknown one
//   my dir/spin.elf   spin.elf in a directory whose name has a space
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/support/multiboot_image_builder.h"

namespace t = nestbed::testing;

namespace {

t::ElfSpec kernel_at(uint64_t address) {
  t::ElfSpec spec;
  spec.entry = address;
  spec.segments = {{address, 0, t::print_and_exit_code("ok\n", 0x10), 0x1000}};
  return spec;
}

// Prints "ok\n", then `1: jmp 1b` forever.
t::ElfSpec spinning_kernel() {
  t::ElfSpec spec = kernel_at(0x100000);
  std::vector<uint8_t> code = {0x66, 0xba, 0xf8, 0x03};  // mov dx, 0x3f8
  for (char ch : std::string("ok\n")) code.insert(code.end(), {0xb0, uint8_t(ch), 0xee});  // mov al, ch; out dx, al
  code.insert(code.end(), {0xeb, 0xfe});  // jmp $
  spec.segments = {{0x100000, 0, code, 0x1000}};
  return spec;
}

// mov edi, 0xfee00400; mov ecx, 0xffffffff; xor eax, eax; cld; rep stosd; jmp $
// (32-bit protected mode, paging off: the APIC's registers from 0x400 on are
// written one MMIO access per element).
t::ElfSpec rep_stos_apic_kernel() {
  t::ElfSpec spec = kernel_at(0x100000);
  const std::vector<uint8_t> code = {0xbf, 0x00, 0x04, 0xe0, 0xfe, 0xb9, 0xff, 0xff, 0xff, 0xff,
                                     0x31, 0xc0, 0xfc, 0xf3, 0xab, 0xeb, 0xfe};
  spec.segments = {{0x100000, 0, code, 0x1000}};
  return spec;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 64;
  }
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  t::write_file(dir / "hello.elf", t::build_elf(kernel_at(0x100000)));
  t::write_file(dir / "high.elf", t::build_elf(kernel_at(8 << 20)));
  t::write_file(dir / "low.elf", t::build_elf(kernel_at(0x20000)));
  t::write_file(dir / "over-info.elf", t::build_elf(kernel_at(0x8800)));
  t::write_file(dir / "over-bios.elf", t::build_elf(kernel_at(0x9f800)));
  t::write_file(dir / "spin.elf", t::build_elf(spinning_kernel()));
  t::write_file(dir / "rep-stos-apic.elf", t::build_elf(rep_stos_apic_kernel()));

  t::ElfSpec arm = kernel_at(0x100000);
  arm.elf64 = true;
  arm.machine = EM_AARCH64;
  t::write_file(dir / "arm64.elf", t::build_elf(arm));

  t::write_file(dir / "big.bin", std::vector<uint8_t>(3 << 20, 0x5a));
  t::write_file(dir / "empty.bin", {});
  std::string text = "This is not a kernel.\n";
  t::write_file(dir / "notes.txt", std::vector<uint8_t>(text.begin(), text.end()));

  for (const char* name : {"fifo", "fifo-out"}) {
    std::filesystem::remove(dir / name);
    if (::mkfifo((dir / name).c_str(), 0600) != 0) {
      std::perror("mkfifo");
      return 1;
    }
  }
  auto write_text = [&](const char* name, const std::string& content) {
    t::write_file(dir / name, std::vector<uint8_t>(content.begin(), content.end()));
  };
  write_text("dup.cost", "cpuid 100\nvm_exit 10\ncpuid 200\n");
  write_text("empty.cost", "# only a comment\n");
  write_text("unknown.cost", "vmexit 10\n");
  std::filesystem::create_directories(dir / "my dir");
  t::write_file(dir / "my dir" / "spin.elf", t::build_elf(spinning_kernel()));
  return 0;
}
