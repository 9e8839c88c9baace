// The freestanding code l0 and l1-vmm share (common/boot, common/devices),
// called directly: what only l1-vmm's fixed storage reaches (a full segment
// array), every parse error's message, and the boot information writer's
// bounds. LoaderTest covers the rest through l0's loader.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "arch/multiboot.h"
#include "arch/platform.h"
#include "common/boot/kernel_image.h"
#include "common/boot/multiboot_info.h"
#include "common/devices/fw_cfg.h"
#include "tests/support/multiboot_image_builder.h"

namespace nestbed {
namespace {

namespace cb = ::nestbed::common::boot;
namespace mb = arch::multiboot;
using cb::ImageError;
using cb::LoadSegment;

std::vector<uint8_t> two_segment_kernel() {
  testing::ElfSpec spec;
  spec.entry = 0x100000;
  spec.segments = {{0x100000, 0, {1, 2, 3, 4}, 0}, {0x200000, 0, {5, 6, 7, 8}, 0x1000}};
  return testing::build_elf(spec);
}

TEST(CommonBoot, SegmentsGoToTheSinkInProgramHeaderOrder) {
  const std::vector<uint8_t> file = two_segment_kernel();
  cb::LoadSegment storage[4];
  cb::SegmentArray segments{storage, 4, 0};
  cb::KernelLayout k;
  ASSERT_TRUE(cb::parse_kernel_image(file.data(), file.size(), k, segments.sink()).ok());
  ASSERT_EQ(segments.count, 2u);
  EXPECT_EQ(k.segment_count, 2u);
  EXPECT_EQ(storage[0].paddr, 0x100000u);
  EXPECT_EQ(storage[1].paddr, 0x200000u);
  EXPECT_EQ(storage[1].memsz, 0x1000u);
  EXPECT_EQ(storage[1].filesz, 4u);
  EXPECT_EQ(k.entry, 0x100000u);
}

TEST(CommonBoot, AFullSegmentArrayFailsTheParse) {
  const std::vector<uint8_t> file = two_segment_kernel();
  cb::LoadSegment storage[1];
  cb::SegmentArray segments{storage, 1, 0};
  cb::KernelLayout k;
  const cb::ImageResult r = cb::parse_kernel_image(file.data(), file.size(), k, segments.sink());
  EXPECT_EQ(r.error, ImageError::TOO_MANY_SEGMENTS);
  char message[cb::IMAGE_ERROR_MAX];
  EXPECT_STREQ(cb::format_image_error(r, "l1-vmm", message, sizeof message), "more than 1 loadable ELF segments");
}

TEST(CommonBoot, EveryErrorHasItsOwnOneLineMessageThatFits) {
  std::vector<std::string> seen;
  for (unsigned e = unsigned(ImageError::TRUNCATED_ELF_HEADER); e <= unsigned(ImageError::NOT_ELF_NOR_KLUDGE); ++e) {
    char message[cb::IMAGE_ERROR_MAX];
    const std::string text = cb::format_image_error({ImageError(e), ~0ull}, "l1-vmm", message, sizeof message);
    EXPECT_FALSE(text.empty()) << e;
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    EXPECT_LT(text.size() + 1, sizeof message) << "cut off: " << text;
    for (const std::string& other : seen) EXPECT_NE(text, other);
    seen.push_back(text);
  }
}

TEST(CommonBoot, MessagesNameTheirNumbersAsL0AlwaysPrintedThem) {
  char m[cb::IMAGE_ERROR_MAX];
  EXPECT_STREQ(cb::format_image_error({ImageError::FOREIGN_MACHINE, EM_AARCH64}, "nestbed", m, sizeof m),
               "an ELF for AArch64 (e_machine 183), not an x86 image");
  EXPECT_STREQ(cb::format_image_error({ImageError::FOREIGN_MACHINE, 4242}, "nestbed", m, sizeof m),
               "an ELF for another machine (e_machine 4242), not an x86 image");
  EXPECT_STREQ(cb::format_image_error({ImageError::BAD_CHECKSUM, 0x1f0}, "nestbed", m, sizeof m),
               "the Multiboot header at offset 0x1f0 has a bad checksum");
  EXPECT_STREQ(cb::format_image_error({ImageError::UNSUPPORTED_FLAGS, 0x8}, "l1-vmm", m, sizeof m),
               "the Multiboot header requires features l1-vmm does not provide (flags 0x8)");
  EXPECT_STREQ(cb::format_image_error({ImageError::ENTRY_OUTSIDE_SEGMENTS, 0}, "nestbed", m, sizeof m),
               "the entry point 0x0 is not inside any loadable segment");
}

TEST(CommonBoot, ASmallBufferGetsAShortenedTerminatedMessage) {
  char m[8];
  std::memset(m, 'x', sizeof m);
  EXPECT_STREQ(cb::format_image_error({ImageError::NO_HEADER, 0}, "nestbed", m, sizeof m), "no Mult");
}

constexpr uint64_t MiB = 1ull << 20;

// A plan for the boot information of a kernel at 1 MiB with `tail_size`
// bytes of module list and strings.
cb::BootInfoPlan plan_for(uint64_t tail_size) {
  const LoadSegment kernel{MiB, 0x3000, 0, 0};
  return cb::plan_boot_info(&kernel, 1, MiB + 0x3000, tail_size);
}

uint64_t tail_of(const char* module_string, const char* cmdline, const char* loader) {
  return cb::tail_size(1, cb::string_size(module_string) + cb::string_size(cmdline) + cb::string_size(loader));
}

TEST(CommonBoot, InfoWriterZeroesPaddingAndLaysOutAsSpecified) {
  const cb::BootInfoPlan plan = plan_for(tail_of("mod args", "kernel 5", "nestbed"));
  EXPECT_EQ(plan.tail, cb::LOW_TAIL_BASE);
  std::vector<uint8_t> dirty(2 * MiB, 0xaa), clean(2 * MiB, 0);
  for (std::vector<uint8_t>* ram : {&dirty, &clean}) {
    cb::MultibootInfoWriter w(ram->data(), 64 * MiB, 1, plan);
    w.set_module(0, 0x200000, 0x201000, "mod args");
    EXPECT_EQ(w.finish("kernel 5", "nestbed"), cb::INFO_AREA_BASE);
    EXPECT_TRUE(w.fits());
  }
  EXPECT_TRUE(std::equal(clean.begin() + cb::INFO_AREA_BASE, clean.begin() + long(plan.tail_end),
                         dirty.begin() + cb::INFO_AREA_BASE))
      << "the same bytes whatever RAM held";
  EXPECT_EQ(dirty[plan.tail_end], 0xaa) << "nothing past the plan";
  EXPECT_EQ(dirty[cb::INFO_AREA_BASE - 1], 0xaa);

  mb::Info info;
  std::memcpy(&info, clean.data() + cb::INFO_AREA_BASE, sizeof info);
  EXPECT_EQ(info.mem_lower, 639u);
  EXPECT_EQ(info.mem_upper, (64u << 10) - 1024u);
  EXPECT_EQ(info.mmap_addr, cb::INFO_AREA_BASE + sizeof info);
  EXPECT_EQ(info.mmap_length, 4 * sizeof(mb::MmapEntry));
  EXPECT_EQ(info.mods_count, 1u);
  EXPECT_EQ(info.mods_addr, cb::LOW_TAIL_BASE);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(clean.data() + info.cmdline)), "kernel 5");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(clean.data() + info.boot_loader_name)), "nestbed");
  EXPECT_EQ(info.boot_loader_name + sizeof "nestbed", plan.tail_end) << "the plan is exact";
}

TEST(CommonBoot, InfoWriterNeverWritesPastItsPlan) {
  const std::string huge(0x1000, 'c');
  const cb::BootInfoPlan plan = plan_for(tail_of("m", "short", "nestbed"));
  std::vector<uint8_t> ram(2 * MiB, 0x55);
  cb::MultibootInfoWriter w(ram.data(), 64 * MiB, 1, plan);
  w.set_module(0, 0x200000, 0x201000, "m");
  w.finish(huge.c_str(), "nestbed");
  EXPECT_FALSE(w.fits());
  for (size_t i = plan.tail_end; i < plan.tail_end + huge.size() + 16; ++i) ASSERT_EQ(ram[i], 0x55) << i;
}

TEST(CommonBoot, TheInfoStructureAndMemoryMapLieWhereQemuPutsItsBootInformation) {
  EXPECT_EQ(cb::INFO_FIXED_END, 0x90b8u) << "88 bytes of Info, four 24-byte map entries";
  EXPECT_EQ(cb::LOW_TAIL_BASE, 0x90c0u);
}

// The rule: any RAM the memory map reports available, except the Info
// structure and memory map, and never the EBDA, VGA and BIOS area.
TEST(CommonBoot, SegmentsClashOnlyWithTheInfoAndMapOrTheLegacyArea) {
  auto clash = [](uint64_t paddr, uint64_t memsz) { return cb::boot_area_clash({paddr, memsz, 0, 0}); };
  EXPECT_EQ(clash(0x1000, 0x8000).what, nullptr) << "[0x1000, 0x9000) ends where the Info starts";
  EXPECT_EQ(clash(0x8000, 0x1001).range.begin, 0x9000u);
  EXPECT_EQ(clash(0x8000, 0x1001).range.end, cb::INFO_FIXED_END);
  EXPECT_STREQ(clash(0x90b7, 1).what, "the Multiboot information and memory map");
  EXPECT_EQ(clash(0x9000, 0).what, nullptr) << "an empty segment occupies nothing";
  EXPECT_EQ(clash(cb::INFO_FIXED_END, cb::LOW_MEMORY_END - cb::INFO_FIXED_END).what, nullptr)
      << "everything else of conventional memory";
  EXPECT_EQ(clash(0x10000, 0x1000).what, nullptr);
  EXPECT_EQ(clash(0x80000, 0x1fc00).what, nullptr) << "ends at 0x9fc00";
  EXPECT_EQ(clash(0x80000, 0x1fc01).range.begin, cb::LOW_MEMORY_END);
  EXPECT_EQ(clash(0x80000, 0x1fc01).range.end, MiB);
  EXPECT_NE(clash(0xb8000, 0x1000).what, nullptr) << "VGA memory";
  EXPECT_NE(clash(0xfffff, 1).what, nullptr) << "the BIOS ROM";
  EXPECT_NE(clash(0x8000, 0x100000).what, nullptr) << "across the whole area";
  EXPECT_EQ(clash(MiB, 1).what, nullptr);
}

TEST(CommonBoot, TheModuleListAndStringsStayLowUnlessAKernelSegmentOrTheEbdaIsInTheWay) {
  const uint64_t small = 0x100;
  // A kernel at 1 MiB: low, the modules from the first page after the kernel.
  cb::BootInfoPlan p = plan_for(small);
  EXPECT_EQ(p.tail, cb::LOW_TAIL_BASE);
  EXPECT_EQ(p.tail_end, cb::LOW_TAIL_BASE + small);
  EXPECT_EQ(p.first_module, MiB + 0x3000);
  // A kernel at 0x10000: still low; the modules from 1 MiB.
  LoadSegment low{0x10000, 0x2345, 0, 0};
  p = cb::plan_boot_info(&low, 1, 0x12345, small);
  EXPECT_EQ(p.tail, cb::LOW_TAIL_BASE);
  EXPECT_EQ(p.first_module, MiB);
  // A kernel right after the map: in the way, so after the kernel (and at
  // least 1 MiB), the modules after that.
  LoadSegment in_the_way{0x9100, 0x1000, 0, 0};
  p = cb::plan_boot_info(&in_the_way, 1, 0xa100, small);
  EXPECT_EQ(p.tail, MiB);
  EXPECT_EQ(p.tail_end, MiB + small);
  EXPECT_EQ(p.first_module, MiB + 0x1000);
  // The same for a second segment in the way, the first one not.
  const LoadSegment two[] = {{0x1000, 0x1000, 0, 0}, {0x9800, 0x100, 0, 0}};
  EXPECT_EQ(cb::plan_boot_info(two, 2, 0x9900, 0x800).tail, MiB);
  EXPECT_EQ(cb::plan_boot_info(two, 2, 0x9900, 0x740).tail, cb::LOW_TAIL_BASE) << "ends where the segment starts";
  // Too much for conventional memory: after a kernel at 1 MiB, as QEMU.
  const uint64_t fits = cb::LOW_MEMORY_END - cb::LOW_TAIL_BASE;
  EXPECT_EQ(plan_for(fits).tail, cb::LOW_TAIL_BASE);
  p = plan_for(fits + 1);
  EXPECT_EQ(p.tail, MiB + 0x3000);
  EXPECT_EQ(p.first_module, cb::align_up(MiB + 0x3000 + fits + 1, 4096));
}

TEST(CommonBoot, ModulePlacement) {
  EXPECT_EQ(cb::first_module_address(0x8000), cb::HIGH_MEMORY);
  EXPECT_EQ(cb::first_module_address(0x100001), 0x101000u);
}

TEST(CommonDevices, FwCfgFrontEnd) {
  namespace pf = arch::platform;
  ::nestbed::common::devices::FwCfg fw(32ull << 20, 1);
  EXPECT_TRUE(fw.handles(pf::FW_CFG_SELECTOR));
  EXPECT_TRUE(fw.handles(pf::FW_CFG_DATA));
  EXPECT_FALSE(fw.handles(pf::FW_CFG_DATA + 1));
  fw.io_write(pf::FW_CFG_SELECTOR, 2, pf::FW_CFG_RAM_SIZE);
  EXPECT_EQ(fw.io_read(pf::FW_CFG_DATA, 4), 32u << 20);
  EXPECT_EQ(fw.io_read(pf::FW_CFG_DATA, 4), 0u);
  fw.set_ram_size(16ull << 20);
  fw.io_write(pf::FW_CFG_SELECTOR, 2, pf::FW_CFG_RAM_SIZE);
  EXPECT_EQ(fw.io_read(pf::FW_CFG_DATA, 2), 0u);
  EXPECT_EQ(fw.io_read(pf::FW_CFG_DATA, 2), 0x0100u) << "16 MiB = 0x01000000: bytes 2-3, rewound by the selector";
  EXPECT_EQ(fw.io_read(pf::FW_CFG_SELECTOR, 2), 0xffffu) << "the selector is write-only";
}

}  // namespace
}  // namespace nestbed
