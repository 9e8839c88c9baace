// The I/O APIC's registers (l0/devices/io_apic.cpp) through the device bus,
// against the 82093AA data sheet (section 3) and QEMU's behaviour where the
// data sheet leaves it open.
#include <gtest/gtest.h>

#include "arch/x86/io_apic.h"
#include "l0/devices/platform_devices.h"
#include "tests/support/memory_file.h"

namespace nestbed {
namespace {

namespace io = arch::io_apic;

class IoApicTest : public ::testing::Test {
 protected:
  nestbed::testing::MemoryFile console;
  PlatformDevices dev{PlatformConfig{64ull << 20, 1, console.file()}};

  uint32_t read(uint32_t reg) {
    dev.bus.mmio_write(io::DEFAULT_BASE + io::IOREGSEL, 4, reg);
    return uint32_t(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOWIN, 4));
  }
  void write(uint32_t reg, uint32_t value) {
    dev.bus.mmio_write(io::DEFAULT_BASE + io::IOREGSEL, 4, reg);
    dev.bus.mmio_write(io::DEFAULT_BASE + io::IOWIN, 4, value);
  }
};

TEST_F(IoApicTest, MappedAtItsBaseNextToTheLocalApic) {
  uint64_t offset = 0;
  EXPECT_EQ(dev.bus.find_mmio(io::DEFAULT_BASE + io::IOWIN, &offset), &dev.io_apic);
  EXPECT_EQ(offset, io::IOWIN);
  EXPECT_EQ(dev.bus.find_mmio(io::DEFAULT_BASE + io::MMIO_SIZE, nullptr), nullptr);
  EXPECT_EQ(dev.bus.find_mmio(io::DEFAULT_BASE - 1, nullptr), nullptr);
}

TEST_F(IoApicTest, VersionSaysTwentyFourEntriesAndIsReadOnly) {
  EXPECT_EQ(read(io::REG_VERSION), 0x00170020u);
  write(io::REG_VERSION, 0);
  EXPECT_EQ(read(io::REG_VERSION), 0x00170020u);
}

TEST_F(IoApicTest, IdKeepsBits27To24AndArbitrationFollowsIt) {
  EXPECT_EQ(read(io::REG_ID), 0u);
  write(io::REG_ID, 0xffffffff);
  EXPECT_EQ(read(io::REG_ID), 0x0f000000u);
  EXPECT_EQ(read(io::REG_ARBITRATION), 0x0f000000u);
  write(io::REG_ARBITRATION, 0);  // read-only
  EXPECT_EQ(read(io::REG_ARBITRATION), 0x0f000000u);
}

TEST_F(IoApicTest, RedirectionEntriesResetMasked) {
  for (unsigned e = 0; e < io::REDIRECTION_ENTRIES; e++) {
    EXPECT_EQ(read(io::redirection_low(e)), uint32_t(io::REDIR_MASKED)) << "entry " << e;
    EXPECT_EQ(read(io::redirection_high(e)), 0u) << "entry " << e;
  }
}

TEST_F(IoApicTest, RedirectionEntriesKeepTheirWritableBitsOnly) {
  // Everything written: reserved bits 55:17 and the read-only Delivery
  // Status (12) and Remote IRR (14) read 0.
  write(io::redirection_low(5), 0xffffffff);
  write(io::redirection_high(5), 0xffffffff);
  EXPECT_EQ(read(io::redirection_low(5)), 0x1afffu);
  EXPECT_EQ(read(io::redirection_high(5)), 0xff000000u);
  // Halves are independent; other entries untouched.
  write(io::redirection_low(5), 0x10031);
  EXPECT_EQ(read(io::redirection_low(5)), 0x10031u);
  EXPECT_EQ(read(io::redirection_high(5)), 0xff000000u);
  EXPECT_EQ(read(io::redirection_low(4)), uint32_t(io::REDIR_MASKED));
  write(io::redirection_low(23), 0x0000a9fe);
  EXPECT_EQ(read(io::redirection_low(23)), 0x0000a9feu & ~uint32_t(io::REDIR_DELIVERY_STATUS));
}

TEST_F(IoApicTest, UnassignedRegistersReadZero) {
  for (uint32_t reg : {0x03u, 0x0fu, 0x40u, 0xffu}) {
    write(reg, 0xffffffff);
    EXPECT_EQ(read(reg), 0u) << "register 0x" << std::hex << reg;
  }
}

TEST_F(IoApicTest, RegisterSelectKeepsEightBits) {
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOREGSEL, 4, 0x12345601);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOREGSEL, 4), 0x01u);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOWIN, 4), 0x00170020u);
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOREGSEL, 1, 0x10);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOREGSEL, 1), 0x10u);
}

TEST_F(IoApicTest, WindowTakesDwordAccessesOnly) {
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOREGSEL, 4, io::redirection_low(0));
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOWIN, 1, 0x55);  // ignored
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOWIN, 2, 0x55);  // ignored
  EXPECT_EQ(read(io::redirection_low(0)), uint32_t(io::REDIR_MASKED));
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOWIN, 2), 0u);
  // An 8-byte access is two dword accesses: IOWIN, then offset 0x14 (nothing).
  dev.bus.mmio_write(io::DEFAULT_BASE + io::IOWIN, 8, 0xffffffff00000042ull);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::IOWIN, 8), 0x42ull);
  EXPECT_EQ(read(io::redirection_high(0)), 0u);
}

TEST_F(IoApicTest, OffsetsDecodeLikeQemu) {
  // Address bits 7:0 select the register; other offsets read 0.
  dev.bus.mmio_write(io::DEFAULT_BASE + 0x100 + io::IOREGSEL, 4, io::REG_VERSION);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + 0x210, 4), 0x00170020u);
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + 0x20, 4), 0u);
  dev.bus.mmio_write(io::DEFAULT_BASE + io::EOI, 4, 0x31);  // EOI: nothing to clear
  EXPECT_EQ(dev.bus.mmio_read(io::DEFAULT_BASE + io::EOI, 4), 0u);
}

}  // namespace
}  // namespace nestbed
