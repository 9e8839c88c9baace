// The Multiboot v1 loader and create_machine (DESIGN.md §3), on images built
// in the test itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "arch/multiboot.h"
#include "l0/loader/multiboot_loader.h"
#include "l0/machine/machine.h"
#include "tests/support/multiboot_image_builder.h"

namespace nestbed {
namespace {

namespace mb = arch::multiboot;
namespace fs = std::filesystem;
using testing::ElfSpec;
using testing::TestSegment;

constexpr uint64_t MiB = 1ull << 20;
constexpr uint32_t INFO_ADDRESS = 0x9000;

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nestbed-loader-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string file(const std::string& name, const std::vector<uint8_t>& contents) {
    std::string path = (dir_ / name).string();
    testing::write_file(path, contents);
    return path;
  }
  std::string image(const ElfSpec& spec) { return file("kernel.elf", testing::build_elf(spec)); }

  static ElfSpec simple_kernel(bool elf64) {
    ElfSpec spec;
    spec.elf64 = elf64;
    spec.machine = elf64 ? EM_X86_64 : EM_386;
    spec.entry = 0x100000;
    spec.segments = {{0x100000, 0, bytes("CODE"), 0x3000}};
    return spec;
  }

  std::string c_string(uint32_t address) {
    std::string s;
    for (char c; (c = char(memory.read_obj<uint8_t>(address))) != 0; ++address) s += c;
    return s;
  }
  mb::Info info() { return memory.read_obj<mb::Info>(INFO_ADDRESS); }

  // Expects load_multiboot to throw InputError mentioning `needle`.
  void expect_error(const std::string& path, const std::string& needle, const std::vector<ModuleSpec>& mods = {}) {
    try {
      load_multiboot(memory, path, "", mods);
      ADD_FAILURE() << "no error for " << path;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
  }

  fs::path dir_;
  GuestMemory memory{16 * MiB};
};

// ---- loading ----

TEST_F(LoaderTest, Elf32LoadsSegmentsByPhysicalAddressAndZeroesBss) {
  std::memset(memory.ptr(0x100000), 0xcc, 0x4000);  // bss must be zeroed, not assumed zero
  BootState boot = load_multiboot(memory, image(simple_kernel(false)), "", {});
  EXPECT_EQ(boot.entry, 0x100000u);
  EXPECT_EQ(boot.eax, mb::BOOTLOADER_MAGIC);
  EXPECT_EQ(boot.ebx, INFO_ADDRESS);
  EXPECT_EQ(memory.read_obj<uint32_t>(0x100000), 0x45444f43u);  // "CODE"
  for (uint64_t a = 0x100004; a < 0x103000; ++a) ASSERT_EQ(memory.read_obj<uint8_t>(a), 0) << std::hex << a;
  EXPECT_EQ(memory.read_obj<uint8_t>(0x103000), 0xcc) << "beyond p_memsz is untouched";
}

TEST_F(LoaderTest, Elf64LoadsAndTranslatesTheEntryThroughItsSegment) {
  ElfSpec spec = simple_kernel(true);
  spec.segments.push_back({0x200000, 0xffffffff80200000, bytes("HIGH"), 0});
  spec.entry = 0xffffffff80200002;
  BootState boot = load_multiboot(memory, image(spec), "", {});
  EXPECT_EQ(boot.entry, 0x200002u) << "e_entry mapped to its p_paddr, as GRUB 2 does";
  EXPECT_EQ(memory.read_obj<uint32_t>(0x200000), 0x48474948u);  // "HIGH"
}

TEST_F(LoaderTest, Elf32WrappingX86_64CodeIsAccepted) {
  ElfSpec spec = simple_kernel(false);
  spec.machine = EM_X86_64;  // elf32-x86-64
  EXPECT_EQ(load_multiboot(memory, image(spec), "", {}).entry, 0x100000u);
}

TEST_F(LoaderTest, AoutKludgeLoadsAFlatBinary) {
  std::vector<uint8_t> code = bytes("\x90\x90\xf4");
  std::string path = file("flat.bin", testing::build_aout_kludge(0x180000, code, 0x2000, 1));
  std::memset(memory.ptr(0x180000), 0xcc, 0x3000);
  BootState boot = load_multiboot(memory, path, "", {});
  EXPECT_EQ(boot.entry, 0x180000u + sizeof(mb::Header) + 1);
  EXPECT_EQ(memory.read_obj<uint32_t>(0x180000), mb::HEADER_MAGIC) << "the file is loaded from load_addr";
  EXPECT_EQ(memory.read_obj<uint8_t>(0x180000 + sizeof(mb::Header) + 2), 0xf4);
  EXPECT_EQ(memory.read_obj<uint8_t>(0x180000 + sizeof(mb::Header) + 3), 0) << "bss";
  EXPECT_EQ(memory.read_obj<uint8_t>(0x180000 + sizeof(mb::Header) + 3 + 0x1fff), 0) << "bss end";
}

TEST_F(LoaderTest, AKernelBelow1MiBLoadsWhereItsSegmentsSay) {
  ElfSpec spec = simple_kernel(false);
  spec.segments = {{0x20000, 0, bytes("LOW!"), 0x3000}};
  spec.entry = 0x20000;
  const std::string path = image(spec), m = file("mod", bytes("M"));
  std::memset(memory.ptr(0x20000), 0xcc, 0x4000);
  BootState boot = load_multiboot(memory, path, "a b", {{m, "c"}});
  EXPECT_EQ(boot.entry, 0x20000u);
  EXPECT_EQ(boot.ebx, INFO_ADDRESS);
  EXPECT_EQ(memory.read_obj<uint32_t>(0x20000), 0x21574f4cu);  // "LOW!"
  EXPECT_EQ(memory.read_obj<uint8_t>(0x22fff), 0) << "bss";
  EXPECT_EQ(memory.read_obj<uint8_t>(0x23000), 0xcc);
  mb::Info i = info();
  EXPECT_EQ(i.mods_addr, 0x90c0u) << "the module list and strings stay in conventional memory";
  EXPECT_EQ(c_string(i.cmdline), path + " a b");
  auto m0 = memory.read_obj<mb::Module>(i.mods_addr);
  EXPECT_EQ(m0.mod_start, MiB) << "modules never below 1 MiB";
  EXPECT_EQ(c_string(m0.string), m + " c");
}

TEST_F(LoaderTest, AnAoutKludgeKernelBelow1MiBLoadsAndOneOverTheEbdaIsRefused) {
  std::vector<uint8_t> code = bytes("\x90\xf4");
  BootState boot = load_multiboot(memory, file("low.bin", testing::build_aout_kludge(0x10000, code, 0x1000, 0)), "", {});
  EXPECT_EQ(boot.entry, 0x10000u + sizeof(mb::Header));
  EXPECT_EQ(memory.read_obj<uint32_t>(0x10000), mb::HEADER_MAGIC);
  // Its bss alone reaches past 0x9fc00.
  expect_error(file("ebda.bin", testing::build_aout_kludge(0x9f000, code, 0x1000, 0)),
               "overlaps [0x9fc00, 0x100000), the EBDA, VGA and BIOS area (not RAM)");
}

TEST_F(LoaderTest, AKernelRightAfterTheMapGetsItsStringsAfterIt) {
  ElfSpec spec = simple_kernel(false);
  spec.segments = {{0x90c0, 0, bytes("TIGHT"), 0x1000}};
  spec.entry = 0x90c0;
  const std::string path = image(spec), m = file("mod", bytes("M"));
  load_multiboot(memory, path, "", {{m, ""}});
  EXPECT_EQ(memory.read_obj<uint8_t>(0x90c0), 'T') << "the kernel is intact";
  mb::Info i = info();
  EXPECT_EQ(i.mods_addr, MiB) << "after the kernel, and at least 1 MiB";
  EXPECT_EQ(c_string(i.cmdline), path + " ");
  EXPECT_EQ(memory.read_obj<mb::Module>(i.mods_addr).mod_start, MiB + 0x1000);
}

// ---- boot information ----

TEST_F(LoaderTest, InfoDescribesMemoryAndLoader) {
  load_multiboot(memory, image(simple_kernel(false)), "", {});
  mb::Info i = info();
  EXPECT_EQ(i.flags, mb::INFO_MEMORY | mb::INFO_CMDLINE | mb::INFO_MODS | mb::INFO_MEM_MAP | mb::INFO_BOOT_LOADER_NAME);
  EXPECT_EQ(i.mem_lower, 639u);
  EXPECT_EQ(i.mem_upper, (16 * MiB - MiB) / 1024);
  EXPECT_EQ(c_string(i.boot_loader_name), "nestbed");
  EXPECT_EQ(i.mods_count, 0u);
}

TEST_F(LoaderTest, MemoryMapIsThePcLayout) {
  load_multiboot(memory, image(simple_kernel(false)), "", {});
  mb::Info i = info();
  struct Expected {
    uint64_t addr, len;
    uint32_t type;
  } expected[] = {{0, 0x9fc00, mb::MMAP_AVAILABLE},
                  {0x9fc00, 0x400, mb::MMAP_RESERVED},
                  {0xf0000, 0x10000, mb::MMAP_RESERVED},
                  {MiB, 15 * MiB, mb::MMAP_AVAILABLE}};
  ASSERT_EQ(i.mmap_length, 4 * sizeof(mb::MmapEntry));
  uint32_t at = i.mmap_addr;
  for (const Expected& e : expected) {
    auto entry = memory.read_obj<mb::MmapEntry>(at);
    EXPECT_EQ(entry.size, 20u);
    EXPECT_EQ(entry.addr, e.addr);
    EXPECT_EQ(entry.len, e.len);
    EXPECT_EQ(entry.type, e.type);
    at += entry.size + 4;  // `size` does not count itself (spec 3.3)
  }
}

TEST_F(LoaderTest, CmdlineIsTheImageAsGivenThenTheArguments) {
  std::string path = image(simple_kernel(false));
  load_multiboot(memory, path, "console=ttyS0 quiet", {});
  EXPECT_EQ(c_string(info().cmdline), path + " console=ttyS0 quiet");
}

TEST_F(LoaderTest, EmptyCmdlineKeepsTheSeparatorAsQemuDoes) {
  std::string path = image(simple_kernel(false));
  load_multiboot(memory, path, "", {});
  EXPECT_EQ(c_string(info().cmdline), path + " ");
}

TEST_F(LoaderTest, ModulesArePageAlignedAfterTheKernelWithTheirStrings) {
  std::string a = file("mod-a", bytes("module A")), b = file("mod-b", std::vector<uint8_t>(5000, 0xbb));
  load_multiboot(memory, image(simple_kernel(false)), "", {{a, "x=1 y"}, {b, ""}});
  mb::Info i = info();
  ASSERT_EQ(i.mods_count, 2u);
  auto m0 = memory.read_obj<mb::Module>(i.mods_addr);
  auto m1 = memory.read_obj<mb::Module>(i.mods_addr + sizeof(mb::Module));
  EXPECT_EQ(m0.mod_start, 0x103000u) << "first page after the kernel's bss";
  EXPECT_EQ(m0.mod_end, 0x103000u + 8) << "exclusive end";
  EXPECT_EQ(m1.mod_start, 0x104000u);
  EXPECT_EQ(m1.mod_end, 0x104000u + 5000);
  EXPECT_EQ(c_string(m0.string), a + " x=1 y");
  EXPECT_EQ(c_string(m1.string), b);
  EXPECT_EQ(memory.read_obj<uint64_t>(m0.mod_start), 0x4120656c75646f6dull);  // "module A"
  EXPECT_EQ(memory.read_obj<uint8_t>(m1.mod_end - 1), 0xbb);
}

// ---- bad input ----

TEST_F(LoaderTest, MissingFile) { expect_error((dir_ / "nope.elf").string(), "No such file or directory"); }

TEST_F(LoaderTest, DirectoryIsNotAnImage) { expect_error(dir_.string(), "is a directory"); }

TEST_F(LoaderTest, TextFileHasNoMultibootHeader) {
  expect_error(file("readme.txt", bytes("just some text\n")), "no Multiboot header");
}

TEST_F(LoaderTest, ElfWithoutMultibootHeader) {
  ElfSpec spec = simple_kernel(true);
  spec.multiboot_header = false;
  expect_error(image(spec), "no Multiboot header");
}

TEST_F(LoaderTest, HeaderBeyondTheFirst8KiBIsNotFound) {
  ElfSpec spec = simple_kernel(false);
  spec.segments[0].data.resize(0x3000);
  spec.header_offset = 0x2000;  // inside the segment data, 8 KiB into the file
  expect_error(image(spec), "no Multiboot header");
}

TEST_F(LoaderTest, BadChecksum) {
  ElfSpec spec = simple_kernel(false);
  spec.corrupt_checksum = true;
  expect_error(image(spec), "bad checksum");
}

TEST_F(LoaderTest, UnsupportedHeaderRequirement) {
  ElfSpec spec = simple_kernel(false);
  spec.header_flags |= 1u << 3;
  expect_error(image(spec), "requires features");
}

TEST_F(LoaderTest, ElfForAnotherMachine) {
  ElfSpec spec = simple_kernel(true);
  spec.machine = EM_AARCH64;
  expect_error(image(spec), "an ELF for AArch64");
  spec.machine = EM_RISCV;
  expect_error(image(spec), "an ELF for RISC-V");
}

TEST_F(LoaderTest, Elf64ForI386IsRejected) {
  ElfSpec spec = simple_kernel(true);
  spec.machine = EM_386;
  expect_error(image(spec), "not an x86 image");
}

TEST_F(LoaderTest, SegmentOutsideRam) {
  ElfSpec spec = simple_kernel(false);
  spec.segments = {{32 * MiB, 0, bytes("X"), 0}};
  spec.entry = 32 * MiB;
  expect_error(image(spec), "lies outside the 16 MiB of RAM; it needs 33 MiB");
}

TEST_F(LoaderTest, SegmentBeyondAnyRam) {
  ElfSpec spec = simple_kernel(true);
  spec.segments = {{0xf0000000, 0, bytes("X"), 0}, {0x100000, 0, bytes("Y"), 0}};
  spec.entry = 0x100000;
  expect_error(image(spec), "beyond the 3584 MiB a guest can have");
  spec.segments[0] = {~0ull - 0xfff, 0, bytes("Z"), 0x2000};  // wraps around
  expect_error(image(spec), "lies outside the 16 MiB of RAM");
}

TEST_F(LoaderTest, SegmentOverlappingTheInfoStructureOrMap) {
  ElfSpec spec = simple_kernel(false);
  spec.segments = {{0x8000, 0, bytes("X"), 0x2000}};
  spec.entry = 0x8000;
  expect_error(image(spec),
               "segment [0x8000, 0xa000) overlaps [0x9000, 0x90b8), the Multiboot information and memory map");
}

TEST_F(LoaderTest, SegmentOverTheEbdaVgaAndBiosArea) {
  ElfSpec spec = simple_kernel(false);
  spec.segments = {{0x9f000, 0, bytes("X"), 0x1000}};
  spec.entry = 0x9f000;
  expect_error(image(spec),
               "segment [0x9f000, 0xa0000) overlaps [0x9fc00, 0x100000), the EBDA, VGA and BIOS area (not RAM)");
  spec.segments = {{0x100000, 0, bytes("X"), 0x1000}, {0xc0000, 0, bytes("ROM"), 0}};  // the second one
  spec.entry = 0x100000;
  expect_error(image(spec), "segment [0xc0000, 0xc0003) overlaps [0x9fc00, 0x100000), the EBDA");
}

TEST_F(LoaderTest, EntryOutsideEverySegment) {
  ElfSpec spec = simple_kernel(false);
  spec.entry = 0x500000;
  expect_error(image(spec), "entry point 0x500000");
}

TEST_F(LoaderTest, TruncatedSegment) {
  std::vector<uint8_t> elf = testing::build_elf(simple_kernel(false));
  elf.resize(testing::SEGMENT_FILE_ALIGN + 2);
  expect_error(file("cut.elf", elf), "outside the file");
}

TEST_F(LoaderTest, ModuleThatDoesNotFit) {
  std::string big = file("big.bin", std::vector<uint8_t>(15 * MiB));
  expect_error(image(simple_kernel(false)), "does not fit", {{big, ""}});
}

TEST_F(LoaderTest, MissingModule) {
  expect_error(image(simple_kernel(false)), "cannot open module", {{(dir_ / "nope").string(), ""}});
}

TEST_F(LoaderTest, ACommandLineTooLongForConventionalMemoryGoesAfterTheKernelAsQemuPutsIt) {
  const std::string path = image(simple_kernel(false)), args(700 * 1024, 'x');
  const std::string m = file("mod", bytes("M"));
  load_multiboot(memory, path, args, {{m, ""}});
  mb::Info i = info();
  EXPECT_EQ(i.mods_addr, 0x103000u) << "the module list first, from the first page after the kernel";
  EXPECT_EQ(c_string(i.cmdline), path + " " + args);
  auto m0 = memory.read_obj<mb::Module>(i.mods_addr);
  EXPECT_EQ(c_string(m0.string), m);
  EXPECT_GE(m0.string, 0x103000u + sizeof(mb::Module));
  EXPECT_EQ(m0.mod_start, (i.boot_loader_name + sizeof "nestbed" + 0xfff) & ~0xfffu) << "then the module";
  EXPECT_EQ(c_string(i.boot_loader_name), "nestbed");
}

TEST_F(LoaderTest, ACommandLineThatFitsNowhere) {
  try {
    load_multiboot(memory, image(simple_kernel(false)), std::string(16 * MiB - 0x103000, 'x'), {});
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("do not fit in 16 MiB of RAM after the kernel; it needs 17 MiB"),
              std::string::npos) << e.what();
  }
}

// ---- create_machine ----

TEST_F(LoaderTest, CreateMachineLoadsAndWiresTheDevices) {
  RunConfig config;
  config.image_path = image(simple_kernel(false));
  config.memory_mib = 8;
  auto machine = create_machine(config, stdout);
  EXPECT_EQ(machine->memory.size(), 8 * MiB);
  EXPECT_EQ(machine->boot.entry, 0x100000u);
  EXPECT_EQ(machine->boot.ebx, INFO_ADDRESS);
  machine->devices.bus.io_write(0x510, 2, 0x03);  // fw_cfg RAM_SIZE
  EXPECT_EQ(machine->devices.bus.io_read(0x511, 1), 0u);
  EXPECT_EQ(machine->devices.bus.io_read(0x511, 1), 0u);
  EXPECT_EQ(machine->devices.bus.io_read(0x511, 1), 0x80u) << "8 MiB = 0x800000";
}

TEST_F(LoaderTest, CreateMachineRejectsMemoryOutOfRange) {
  RunConfig config;
  config.image_path = image(simple_kernel(false));
  for (uint64_t mib : {0ull, 1ull, 3585ull, 1ull << 40}) {
    config.memory_mib = mib;
    EXPECT_THROW(create_machine(config, stdout), InputError) << mib;
  }
}

}  // namespace
}  // namespace nestbed
