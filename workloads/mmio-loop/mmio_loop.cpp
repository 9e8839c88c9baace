// mmio-loop N: N round trips to a memory-mapped device register, each an
// MMIO exit under every VMM level that emulates the device. The device is
// the I/O APIC (82093AA) at 0xFEC00000, which QEMU's pc machine has too.
// Round trip i selects a redirection-table register (IOREGSEL), writes it
// (IOWIN) and reads it back (IOWIN): three 32-bit MOVs to the device, so
// a run makes 3N + 2 MMIO accesses (the 2: the version check first).
//
// Every entry stays masked, so nothing is ever delivered. The values use
// only the bits every implementation stores alike (QEMU keeps the data
// sheet's reserved bits writable, nestbed reads them as 0): vector,
// delivery and destination mode, polarity, mask, destination. Some also set
// the read-only Delivery Status and Remote IRR bits, which must read back
// 0. The checksum (FNV-1a over what was read) is therefore the same on
// every platform and at every depth.
#include "arch/x86/io_apic.h"
#include "runtime/runtime.h"

namespace {

namespace io = arch::io_apic;

constexpr uint64_t DEFAULT_COUNT = 1000;
constexpr uint64_t IOREGSEL = io::DEFAULT_BASE + io::IOREGSEL;
constexpr uint64_t IOWIN = io::DEFAULT_BASE + io::IOWIN;

// One 32-bit MOV each, in inline assembly so that the compiler neither
// merges, splits nor folds them into other instructions: every access must
// reach the device (and, under a VMM, exit).
uint32_t mmio_read32(uint64_t pa) {
  uint32_t v;
  asm volatile("movl (%1), %0" : "=r"(v) : "r"(pa) : "memory");
  return v;
}
void mmio_write32(uint64_t pa, uint32_t v) { asm volatile("movl %0, (%1)" : : "r"(v), "r"(pa) : "memory"); }

// What round trip i writes to its register, derived from i alone.
uint32_t value_written(uint64_t i, bool high) {
  if (high) return uint32_t((i * 37) & 0xff) << (io::REDIR_DESTINATION_SHIFT - 32);
  uint64_t v = io::REDIR_MASKED | (0x10 + (i * 7) % 0xef);  // vectors 0x10..0xfe
  if (i & 4) v |= io::REDIR_DEST_LOGICAL;
  if (i & 8) v |= io::REDIR_POLARITY_LOW;
  if (i & 16) v |= 1ull << 8;  // delivery mode 001, lowest priority
  if (i & 32) v |= io::REDIR_DELIVERY_STATUS;
  if (i & 64) v |= io::REDIR_REMOTE_IRR;
  return uint32_t(v);
}

// What it must read back: the read-only bits stay 0 (nothing is delivered).
uint32_t value_expected(uint64_t i, bool high) {
  return value_written(i, high) & ~uint32_t(io::REDIR_DELIVERY_STATUS | io::REDIR_REMOTE_IRR);
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  const uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  // The version register's highest entry says an I/O APIC with 24 entries
  // is there (its version byte differs: QEMU TCG 0x20, KVM's 0x11).
  mmio_write32(IOREGSEL, io::REG_VERSION);
  const uint32_t version = mmio_read32(IOWIN);
  if ((version & io::VERSION_MAX_ENTRY_MASK) >> io::VERSION_MAX_ENTRY_SHIFT != io::REDIRECTION_ENTRIES - 1) {
    rt::printf("mmio-loop: error: no I/O APIC with %u entries at 0x%lx (version register 0x%x)\n",
               io::REDIRECTION_ENTRIES, io::DEFAULT_BASE, version);
    return rt::EXIT_FAILURE;
  }
  uint64_t checksum = 0xcbf29ce484222325ull;  // FNV-1a, 64-bit
  for (uint64_t i = 0; i < count; i++) {
    const bool high = i & 1;
    const uint32_t reg = io::redirection_low(unsigned((i / 2) % io::REDIRECTION_ENTRIES)) + (high ? 1 : 0);
    mmio_write32(IOREGSEL, reg);
    mmio_write32(IOWIN, value_written(i, high));
    const uint32_t value = mmio_read32(IOWIN);
    if (value != value_expected(i, high)) {
      rt::printf("mmio-loop: error: round trip %lu: register 0x%x wrote 0x%x, read 0x%x, expected 0x%x\n", i, reg,
                 value_written(i, high), value, value_expected(i, high));
      return rt::EXIT_FAILURE;
    }
    checksum = (checksum ^ value) * 0x100000001b3ull;
  }
  rt::printf("mmio-loop: %lu mmio round trips done, checksum 0x%lx\n", count, checksum);
  return rt::EXIT_OK;
}
