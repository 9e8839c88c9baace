// I/O APIC registers (Intel 82093AA I/O Advanced Programmable Interrupt
// Controller data sheet, 290566-001, section 3), as QEMU's pc machine has it
// at 0xFEC00000: two memory-mapped registers, IOREGSEL and IOWIN, through
// which the indirect registers below are read and written, 32 bits at a time.
#pragma once
#include <stdint.h>

namespace arch::io_apic {
inline constexpr uint64_t DEFAULT_BASE = 0xfec00000;
inline constexpr uint64_t MMIO_SIZE = 0x1000;  // the page QEMU maps (only 0x00..0x40 decode)

// Memory-mapped registers, offsets from the base (data sheet 3.1, table 1).
inline constexpr uint32_t IOREGSEL = 0x00;  // bits 7:0 select the indirect register; 31:8 reserved
inline constexpr uint32_t IOWIN = 0x10;     // the selected register, 32-bit accesses only
// Version 0x20 I/O APICs (Intel ICH and later; QEMU's default) add a
// directed-EOI register; it only clears Remote IRR of level-triggered entries.
inline constexpr uint32_t EOI = 0x40;
inline constexpr uint32_t IOREGSEL_MASK = 0xff;

// Indirect registers (data sheet 3.2, table 2).
inline constexpr uint32_t REG_ID = 0x00;
inline constexpr uint32_t REG_VERSION = 0x01;
inline constexpr uint32_t REG_ARBITRATION = 0x02;
inline constexpr uint32_t REG_REDIRECTION_BASE = 0x10;  // entry i: low dword 0x10 + 2i, high dword 0x11 + 2i

// ID and arbitration ID: bits 27:24, the rest reserved (3.2.1, 3.2.3). The
// arbitration register is read-only and loaded from ID when ID is written.
inline constexpr unsigned ID_SHIFT = 24;
inline constexpr uint32_t ID_MASK = 0xfu << ID_SHIFT;

// Version register (3.2.2): version in bits 7:0, the highest redirection
// entry's index in bits 23:16. 24 entries (pins 0..23), version 0x20 as QEMU
// reports it under TCG (the 82093AA itself says 0x11, as KVM's in-kernel one).
inline constexpr unsigned REDIRECTION_ENTRIES = 24;
inline constexpr uint32_t VERSION = 0x20;
inline constexpr unsigned VERSION_MAX_ENTRY_SHIFT = 16;
inline constexpr uint32_t VERSION_MAX_ENTRY_MASK = 0xffu << VERSION_MAX_ENTRY_SHIFT;
inline constexpr uint32_t VERSION_VALUE = VERSION | ((REDIRECTION_ENTRIES - 1) << VERSION_MAX_ENTRY_SHIFT);

// Redirection table entry (3.2.4), 64 bits.
inline constexpr uint64_t REDIR_VECTOR_MASK = 0xff;
inline constexpr uint64_t REDIR_DELIVERY_MODE_MASK = 7ull << 8;
inline constexpr uint64_t REDIR_DEST_LOGICAL = 1ull << 11;
inline constexpr uint64_t REDIR_DELIVERY_STATUS = 1ull << 12;  // read-only
inline constexpr uint64_t REDIR_POLARITY_LOW = 1ull << 13;
inline constexpr uint64_t REDIR_REMOTE_IRR = 1ull << 14;       // read-only
inline constexpr uint64_t REDIR_TRIGGER_LEVEL = 1ull << 15;
inline constexpr uint64_t REDIR_MASKED = 1ull << 16;
inline constexpr unsigned REDIR_DESTINATION_SHIFT = 56;
inline constexpr uint64_t REDIR_DESTINATION_MASK = 0xffull << REDIR_DESTINATION_SHIFT;
// What software can write: bits 55:17 are reserved, 12 and 14 read-only.
inline constexpr uint64_t REDIR_WRITABLE = REDIR_VECTOR_MASK | REDIR_DELIVERY_MODE_MASK | REDIR_DEST_LOGICAL |
                                           REDIR_POLARITY_LOW | REDIR_TRIGGER_LEVEL | REDIR_MASKED |
                                           REDIR_DESTINATION_MASK;
// At reset every entry is masked (3.2.4: "the mask bit is set"); QEMU
// clears the rest, which the data sheet leaves undefined.
inline constexpr uint64_t REDIR_RESET = REDIR_MASKED;

constexpr uint32_t redirection_low(unsigned entry) { return REG_REDIRECTION_BASE + 2 * entry; }
constexpr uint32_t redirection_high(unsigned entry) { return REG_REDIRECTION_BASE + 2 * entry + 1; }
}  // namespace arch::io_apic
