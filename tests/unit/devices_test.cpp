// The shared device layer: bus, COM1, isa-debug-exit, fw_cfg, PIC (DESIGN.md §3).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "arch/platform.h"
#include "tests/support/memory_file.h"
#include "arch/x86/apic.h"
#include "l0/devices/platform_devices.h"
#include "l0/engine.h"

namespace nestbed {
namespace {

namespace pf = arch::platform;

// A console that captures what the guest prints.
using Console = nestbed::testing::MemoryFile;

class DevicesTest : public ::testing::Test {
 protected:
  Console console;
  PlatformDevices dev{PlatformConfig{64ull << 20, 3, console.file()}};
  DeviceBus& bus = dev.bus;

  void out8(uint16_t port, uint8_t v) { bus.io_write(port, 1, v); }
  uint8_t in8(uint16_t port) { return uint8_t(bus.io_read(port, 1)); }
  uint64_t fw_cfg_read(uint16_t key, unsigned bytes) {
    bus.io_write(pf::FW_CFG_SELECTOR, 2, key);
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v |= uint64_t(in8(pf::FW_CFG_DATA)) << (8 * i);
    return v;
  }
};

// ---- bus ----

TEST_F(DevicesTest, UnassignedPortsReadAllOnesOfTheAccessWidth) {
  EXPECT_EQ(bus.io_read(0x1234, 1), 0xffu);
  EXPECT_EQ(bus.io_read(0x1234, 2), 0xffffu);
  EXPECT_EQ(bus.io_read(0x1234, 4), 0xffffffffu);
  bus.io_write(0x1234, 4, 0);  // ignored
  EXPECT_EQ(bus.io_read(pf::POST_CODE, 1), 0xffu);
  EXPECT_EQ(bus.io_accesses, 5u);
}

TEST_F(DevicesTest, UnassignedMmioReadsAllOnes) {
  EXPECT_EQ(bus.mmio_read(0xfebff000, 4), 0xffffffffu);
  EXPECT_EQ(bus.mmio_read(0xfebff000, 8), ~0ull);
  EXPECT_EQ(bus.mmio_read(0xfebff000, 1), 0xffu);
  bus.mmio_write(0xfebff000, 4, 1);
  EXPECT_EQ(bus.mmio_accesses, 4u);
}

TEST_F(DevicesTest, ApicPageIsMappedAtTheDefaultBase) {
  uint64_t offset = 0;
  EXPECT_EQ(bus.find_mmio(arch::apic::DEFAULT_BASE + 0x30, &offset), &dev.apic);
  EXPECT_EQ(offset, 0x30u);
  EXPECT_EQ(bus.mmio_read(arch::apic::DEFAULT_BASE + arch::apic::VERSION, 4), arch::apic::VERSION_VALUE);
  EXPECT_EQ(bus.find_mmio(arch::apic::DEFAULT_BASE + 0x1000, nullptr), nullptr);
}

TEST(DeviceBusTest, OverlappingRangesAreAProgrammingError) {
  DeviceBus bus;
  DebugExit a, b;
  bus.map_ports(0xf4, 4, &a);
  EXPECT_THROW(bus.map_ports(0xf6, 1, &b), std::logic_error);
  EXPECT_THROW(bus.map_ports(0xffff, 2, &b), std::logic_error);
}

// ---- COM1 ----

TEST_F(DevicesTest, UartTransmitsThrWritesToTheConsole) {
  for (char c : std::string("hi\n")) out8(pf::COM1 + pf::UART_RBR_THR, uint8_t(c));
  EXPECT_EQ(console.text(), "hi\n");
  EXPECT_EQ(dev.com1.bytes_written(), 3u);
}

TEST_F(DevicesTest, UartDivisorLatchAccessDoesNotPrint) {
  out8(pf::COM1 + pf::UART_LCR, pf::UART_LCR_DLAB | 0x03);  // DLAB, 8N1
  out8(pf::COM1 + pf::UART_RBR_THR, 0x01);                  // divisor 115200 baud
  out8(pf::COM1 + pf::UART_IER, 0x00);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_RBR_THR), 0x01);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_IER), 0x00);
  out8(pf::COM1 + pf::UART_LCR, 0x03);  // DLAB off
  EXPECT_EQ(in8(pf::COM1 + pf::UART_LCR), 0x03);
  out8(pf::COM1 + pf::UART_IER, 0x05);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_IER), 0x05);
  out8(pf::COM1 + pf::UART_RBR_THR, 'A');
  EXPECT_EQ(console.text(), "A");
  out8(pf::COM1 + pf::UART_LCR, pf::UART_LCR_DLAB);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_IER), 0x00) << "DLM, not IER, under DLAB";
}

TEST_F(DevicesTest, UartLineStatusAlwaysReportsTransmitterEmpty) {
  uint8_t empty = pf::UART_LSR_THRE | pf::UART_LSR_TEMT;
  EXPECT_EQ(in8(pf::COM1 + pf::UART_LSR), empty);
  out8(pf::COM1 + pf::UART_RBR_THR, 'x');
  EXPECT_EQ(in8(pf::COM1 + pf::UART_LSR), empty);
  out8(pf::COM1 + pf::UART_LSR, 0);  // read-only
  EXPECT_EQ(in8(pf::COM1 + pf::UART_LSR), empty);
}

TEST_F(DevicesTest, UartRegistersReadBack) {
  EXPECT_EQ(in8(pf::COM1 + pf::UART_IIR_FCR), 0x01) << "no interrupt pending, no FIFO";
  out8(pf::COM1 + pf::UART_IIR_FCR, 0xc7);  // enable and clear FIFOs
  EXPECT_EQ(in8(pf::COM1 + pf::UART_IIR_FCR), 0xc1);
  out8(pf::COM1 + pf::UART_MCR, 0x0b);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_MCR), 0x0b);
  out8(pf::COM1 + pf::UART_SCR, 0x5a);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_SCR), 0x5a);
  EXPECT_EQ(console.text(), "");
}

// The probe many kernels run (e.g. the OSDev serial example): loopback, send 0xae, read it back.
TEST_F(DevicesTest, UartLoopbackEchoesWithoutPrinting) {
  out8(pf::COM1 + pf::UART_MCR, 0x1e);
  out8(pf::COM1 + pf::UART_RBR_THR, 0xae);
  EXPECT_TRUE(in8(pf::COM1 + pf::UART_LSR) & pf::UART_LSR_DR);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_RBR_THR), 0xae);
  EXPECT_FALSE(in8(pf::COM1 + pf::UART_LSR) & pf::UART_LSR_DR);
  EXPECT_EQ(in8(pf::COM1 + pf::UART_MSR), 0xd0) << "MCR 0x1e: RTS->CTS, OUT1->RI, OUT2->DCD; DTR off->DSR off";
  out8(pf::COM1 + pf::UART_MCR, 0x0f);
  out8(pf::COM1 + pf::UART_RBR_THR, 'z');
  EXPECT_EQ(console.text(), "z");
}

// ---- isa-debug-exit ----

TEST_F(DevicesTest, DebugExitRecordsTheCodeAndReadsAllOnes) {
  EXPECT_FALSE(dev.debug_exit.code.has_value());
  EXPECT_EQ(bus.io_read(pf::DEBUG_EXIT, 4), 0xffffffffu);
  EXPECT_EQ(bus.io_read(pf::DEBUG_EXIT, 1), 0xffu);
  bus.io_write(pf::DEBUG_EXIT, 4, 0x31);
  ASSERT_TRUE(dev.debug_exit.code.has_value());
  EXPECT_EQ(*dev.debug_exit.code, 0x31u);
  EXPECT_EQ(exit_status::debug_exit(*dev.debug_exit.code), 0x63);
  bus.io_write(pf::DEBUG_EXIT, 1, 0x1ff);
  EXPECT_EQ(*dev.debug_exit.code, 0xffu) << "a byte write carries one byte";
  EXPECT_EQ(exit_status::debug_exit(0), 1);
}

// ---- fw_cfg ----

TEST_F(DevicesTest, FwCfgSignatureAndId) {
  EXPECT_EQ(fw_cfg_read(pf::FW_CFG_SIGNATURE, 4), 0x554d4551u);  // "QEMU"
  EXPECT_EQ(fw_cfg_read(pf::FW_CFG_ID, 4), 1u);
}

TEST_F(DevicesTest, FwCfgRamSizeIsEightBytesLittleEndian) {
  EXPECT_EQ(fw_cfg_read(pf::FW_CFG_RAM_SIZE, 8), 64ull << 20);
}

TEST_F(DevicesTest, FwCfgNbCpusIsTwoBytesLittleEndian) {
  EXPECT_EQ(fw_cfg_read(pf::FW_CFG_NB_CPUS, 2), 3u);
  EXPECT_EQ(in8(pf::FW_CFG_DATA), 0) << "past the item's end";
}

TEST_F(DevicesTest, FwCfgSelectingRewindsAndUnknownKeysReadZero) {
  fw_cfg_read(pf::FW_CFG_SIGNATURE, 2);
  EXPECT_EQ(fw_cfg_read(pf::FW_CFG_SIGNATURE, 1), uint64_t('Q'));
  EXPECT_EQ(fw_cfg_read(0x1234, 8), 0u);
  EXPECT_EQ(bus.io_read(pf::FW_CFG_SELECTOR, 2), 0xffffu) << "the selector is write-only";
}

// ---- PIC ----

TEST_F(DevicesTest, PicMasksAreWritableAndReadable) {
  EXPECT_EQ(in8(pf::PIC1_DATA), 0xff);
  EXPECT_EQ(in8(pf::PIC2_DATA), 0xff);
  out8(pf::PIC1_DATA, 0xfb);
  out8(pf::PIC2_DATA, 0xff);
  EXPECT_EQ(in8(pf::PIC1_DATA), 0xfb);
  EXPECT_EQ(in8(pf::PIC2_DATA), 0xff);
}

// The usual remap: ICW1..ICW4 on both chips, then mask everything.
TEST_F(DevicesTest, PicInitializationSequenceIsAccepted) {
  out8(pf::PIC1_COMMAND, 0x11);
  out8(pf::PIC2_COMMAND, 0x11);
  EXPECT_EQ(in8(pf::PIC1_DATA), 0x00) << "ICW1 clears the mask";
  out8(pf::PIC1_DATA, 0x20);  // ICW2: vector base
  out8(pf::PIC2_DATA, 0x28);
  out8(pf::PIC1_DATA, 0x04);  // ICW3: slave on IR2
  out8(pf::PIC2_DATA, 0x02);
  out8(pf::PIC1_DATA, 0x01);  // ICW4: 8086 mode
  out8(pf::PIC2_DATA, 0x01);
  EXPECT_EQ(in8(pf::PIC1_DATA), 0x00) << "ICWs are not masks";
  out8(pf::PIC1_DATA, 0xff);  // OCW1
  out8(pf::PIC2_DATA, 0xfe);
  EXPECT_EQ(in8(pf::PIC1_DATA), 0xff);
  EXPECT_EQ(in8(pf::PIC2_DATA), 0xfe);
  out8(pf::PIC1_COMMAND, 0x20);  // OCW2: EOI
  EXPECT_EQ(in8(pf::PIC1_COMMAND), 0x00);
  EXPECT_EQ(dev.pic.mask[0], 0xff);
}

// IRQ 13 on the slave's IR5: the master's IR2 carries it; INTA gives the
// slave's vector and puts both in service; OCW3 selects ISR reads; a new
// edge waits until both chips had their EOI (fully nested mode).
TEST_F(DevicesTest, PicCascadedRequestInServiceUntilBothEois) {
  for (uint16_t c : {pf::PIC1_COMMAND, pf::PIC2_COMMAND}) out8(c, 0x11);
  out8(pf::PIC1_DATA, 0x20);
  out8(pf::PIC2_DATA, 0x28);
  out8(pf::PIC1_DATA, 0x04);
  out8(pf::PIC2_DATA, 0x02);
  out8(pf::PIC1_DATA, 0x01);
  out8(pf::PIC2_DATA, 0x01);
  out8(pf::PIC1_DATA, 0xfb);
  out8(pf::PIC2_DATA, 0xdf);
  dev.pic.set_irq(12, true);  // masked
  EXPECT_FALSE(dev.pic.intr());
  dev.pic.set_irq(13, true);
  EXPECT_TRUE(dev.pic.intr());
  EXPECT_EQ(in8(pf::PIC2_COMMAND), 0x30) << "IRR";
  EXPECT_EQ(dev.pic.acknowledge(), 0x2d);
  EXPECT_FALSE(dev.pic.intr());
  out8(pf::PIC2_COMMAND, 0x0b);  // OCW3: read ISR
  out8(pf::PIC1_COMMAND, 0x0b);
  EXPECT_EQ(in8(pf::PIC2_COMMAND), 0x20);
  EXPECT_EQ(in8(pf::PIC1_COMMAND), 0x04);
  dev.pic.set_irq(13, true);  // no edge: still high
  dev.pic.set_irq(13, false);
  dev.pic.set_irq(13, true);  // a new edge, held back by the one in service
  EXPECT_FALSE(dev.pic.intr());
  out8(pf::PIC2_COMMAND, 0x20);  // non-specific EOI to the slave
  EXPECT_FALSE(dev.pic.intr()) << "the master's IR2 is still in service";
  out8(pf::PIC1_COMMAND, 0x20);
  EXPECT_TRUE(dev.pic.intr());
  // Port F0H: clears the FERR# latch's IRQ 13 and asserts IGNNE# only
  // while FERR# is active.
  out8(pf::X87_ERROR_CLEAR_PORT, 0);
  EXPECT_FALSE(dev.x87_error.ignne());
  dev.x87_error.set_ferr(true);
  out8(pf::X87_ERROR_CLEAR_PORT, 0);
  EXPECT_TRUE(dev.x87_error.ignne());
  dev.x87_error.set_ferr(false);
  EXPECT_FALSE(dev.x87_error.ignne());
}

TEST_F(DevicesTest, PicSingleModeSkipsIcw3) {
  out8(pf::PIC1_COMMAND, 0x13);  // ICW1: single, ICW4 needed
  out8(pf::PIC1_DATA, 0x20);     // ICW2
  out8(pf::PIC1_DATA, 0x01);     // ICW4
  out8(pf::PIC1_DATA, 0xaa);     // OCW1
  EXPECT_EQ(in8(pf::PIC1_DATA), 0xaa);
}

}  // namespace
}  // namespace nestbed
