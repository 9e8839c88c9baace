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

TEST(CommonBoot, InfoWriterZeroesPaddingAndLaysOutAsSpecified) {
  std::vector<uint8_t> dirty(cb::INFO_AREA_SIZE, 0xaa), clean(cb::INFO_AREA_SIZE, 0);
  for (std::vector<uint8_t>* area : {&dirty, &clean}) {
    cb::MultibootInfoWriter w(area->data(), 64ull << 20, 1);
    w.set_module(0, 0x200000, 0x201000, "mod args");
    EXPECT_EQ(w.finish("kernel 5", "nestbed"), cb::INFO_AREA_BASE);
    EXPECT_TRUE(w.fits());
  }
  cb::MultibootInfoWriter w(clean.data(), 64ull << 20, 1);
  w.set_module(0, 0x200000, 0x201000, "mod args");
  w.finish("kernel 5", "nestbed");
  EXPECT_TRUE(std::equal(clean.begin(), clean.begin() + long(w.bytes_needed()), dirty.begin()))
      << "the same bytes whatever the area held";

  mb::Info info;
  std::memcpy(&info, clean.data(), sizeof info);
  EXPECT_EQ(info.mem_lower, 639u);
  EXPECT_EQ(info.mem_upper, (64u << 10) - 1024u);
  EXPECT_EQ(info.mods_count, 1u);
  EXPECT_EQ(info.mmap_length, 4 * sizeof(mb::MmapEntry));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(clean.data() + (info.cmdline - cb::INFO_AREA_BASE))),
            "kernel 5");
}

TEST(CommonBoot, InfoWriterNeverWritesPastItsArea) {
  std::vector<uint8_t> area(cb::INFO_AREA_SIZE + 64, 0x55);
  const std::string huge(cb::INFO_AREA_SIZE, 'c');
  cb::MultibootInfoWriter w(area.data(), 64ull << 20, 0);
  w.finish(huge.c_str(), "nestbed");
  EXPECT_FALSE(w.fits());
  EXPECT_GT(w.bytes_needed(), cb::INFO_AREA_SIZE);
  for (size_t i = cb::INFO_AREA_SIZE; i < area.size(); ++i) ASSERT_EQ(area[i], 0x55) << i;
}

TEST(CommonBoot, SegmentsOverTheBootAreaAndModulePlacement) {
  EXPECT_TRUE(cb::overlaps_boot_area({0x8000, 0x1001, 0, 0}));
  EXPECT_FALSE(cb::overlaps_boot_area({0x8000, 0x1000, 0, 0}));
  EXPECT_TRUE(cb::overlaps_boot_area({0xfffff, 1, 0, 0}));
  EXPECT_FALSE(cb::overlaps_boot_area({0x100000, 1, 0, 0}));
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
