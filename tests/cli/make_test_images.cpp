// Writes the inputs of the CLI tests (tests/cli.cmake) into a directory:
//   hello.elf   ELF32 x86 Multiboot kernel: prints "ok" on COM1, exits with code 0x10
//   high.elf    like hello.elf but loaded at 8 MiB: needs --memory 9 or more
//   arm64.elf   an AArch64 ELF64 carrying a valid Multiboot header
//   big.bin     a 3 MiB module
//   empty.bin   an empty file (an empty module is allowed)
//   notes.txt   a text file
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

  t::ElfSpec arm = kernel_at(0x100000);
  arm.elf64 = true;
  arm.machine = EM_AARCH64;
  t::write_file(dir / "arm64.elf", t::build_elf(arm));

  t::write_file(dir / "big.bin", std::vector<uint8_t>(3 << 20, 0x5a));
  t::write_file(dir / "empty.bin", {});
  std::string text = "This is not a kernel.\n";
  t::write_file(dir / "notes.txt", std::vector<uint8_t>(text.begin(), text.end()));
  return 0;
}
