// The I/O APIC's registers (Intel 82093AA data sheet, section 3; QEMU's
// hw/intc/ioapic.c is the same machine's other implementation). No
// interrupt is delivered (platform_devices.h says why).
#include "arch/x86/io_apic.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace io = arch::io_apic;

// Address bits 7:0 select the register, as QEMU decodes its page (the
// 82093AA decodes base + 0x00 and + 0x10 only); so a guest sees the same
// page here as on QEMU.
constexpr uint64_t DECODED_OFFSET_MASK = 0xff;

}  // namespace

IoApic::IoApic() {
  for (uint64_t& entry : redirection_) entry = io::REDIR_RESET;
}

// The registers are 32 bits wide; an 8-byte access is two 4-byte ones at
// offset and offset + 4, as QEMU's memory core splits it for this device.
uint64_t IoApic::mmio_read(uint64_t offset, unsigned size) {
  if (size == 8) return read32(offset, 4) | uint64_t(read32(offset + 4, 4)) << 32;
  return read32(offset, size);
}

void IoApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (size == 8) {
    write32(offset, 4, uint32_t(value));
    write32(offset + 4, 4, uint32_t(value >> 32));
    return;
  }
  write32(offset, size, uint32_t(value));
}

// IOREGSEL reads back at any width (bits 31:8 are reserved: 0). IOWIN
// takes 32-bit accesses only (data sheet 3.0: "must be accessed as
// dwords"); other widths read 0 and are ignored, as in QEMU. Offsets that
// decode to nothing read 0.
uint32_t IoApic::read32(uint64_t offset, unsigned size) const {
  switch (offset & DECODED_OFFSET_MASK) {
    case io::IOREGSEL: return size >= 4 ? ioregsel_ : size == 2 ? uint16_t(ioregsel_) : uint8_t(ioregsel_);
    case io::IOWIN: return size == 4 ? read_register(ioregsel_) : 0;
    default: return 0;  // EOI is write-only
  }
}

void IoApic::write32(uint64_t offset, unsigned size, uint32_t value) {
  switch (offset & DECODED_OFFSET_MASK) {
    case io::IOREGSEL: ioregsel_ = uint8_t(value & io::IOREGSEL_MASK); break;
    case io::IOWIN:
      if (size == 4) write_register(ioregsel_, value);
      break;
    // EOI (version 0x20): clears Remote IRR of the level-triggered entries
    // with this vector; none is ever set here, so there is nothing to do.
    case io::EOI: break;
    default: break;
  }
}

uint32_t IoApic::read_register(uint32_t reg) const {
  switch (reg) {
    // The arbitration ID is loaded from the ID when ID is written (3.2.3).
    case io::REG_ID:
    case io::REG_ARBITRATION: return id_;
    case io::REG_VERSION: return io::VERSION_VALUE;
    default: break;
  }
  const uint32_t index = (reg - io::REG_REDIRECTION_BASE) / 2;
  if (reg < io::REG_REDIRECTION_BASE || index >= io::REDIRECTION_ENTRIES) return 0;  // unassigned: 0, as QEMU
  const uint64_t entry = redirection_[index];
  return (reg & 1) ? uint32_t(entry >> 32) : uint32_t(entry);
}

void IoApic::write_register(uint32_t reg, uint32_t value) {
  if (reg == io::REG_ID) {
    id_ = value & io::ID_MASK;
    return;
  }
  const uint32_t index = (reg - io::REG_REDIRECTION_BASE) / 2;
  if (reg < io::REG_REDIRECTION_BASE || index >= io::REDIRECTION_ENTRIES) return;  // VER, ARB: read-only
  uint64_t& entry = redirection_[index];
  const uint64_t merged = (reg & 1) ? (entry & 0xffffffffull) | uint64_t(value) << 32
                                    : (entry & ~0xffffffffull) | value;
  // Reserved bits stay 0; Delivery Status and Remote IRR keep what the
  // device set (always 0 here: nothing is delivered).
  const uint64_t read_only = io::REDIR_DELIVERY_STATUS | io::REDIR_REMOTE_IRR;
  entry = (merged & io::REDIR_WRITABLE) | (entry & read_only);
}

}  // namespace nestbed
