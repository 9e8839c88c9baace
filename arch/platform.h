// The nestbed platform's device map (DESIGN.md §3). Shared by l0's device
// layer, the workloads' runtime and l1-vmm, and identical to what QEMU's
// pc machine offers with `-device isa-debug-exit,iobase=0xf4,iosize=4`.
#pragma once
#include <stdint.h>

namespace arch::platform {
// COM1, a 16550 UART.
inline constexpr uint16_t COM1 = 0x3f8;
inline constexpr uint16_t UART_RBR_THR = 0;  // DLAB=0: receive / transmit; DLAB=1: divisor low
inline constexpr uint16_t UART_IER = 1;      // DLAB=1: divisor high
inline constexpr uint16_t UART_IIR_FCR = 2;
inline constexpr uint16_t UART_LCR = 3;
inline constexpr uint16_t UART_MCR = 4;
inline constexpr uint16_t UART_LSR = 5;
inline constexpr uint16_t UART_MSR = 6;
inline constexpr uint16_t UART_SCR = 7;
inline constexpr uint8_t UART_LCR_DLAB = 0x80;
inline constexpr uint8_t UART_LSR_DR = 0x01;    // data ready
inline constexpr uint8_t UART_LSR_THRE = 0x20;  // transmit holding register empty
inline constexpr uint8_t UART_LSR_TEMT = 0x40;  // transmitter empty

// isa-debug-exit: a write of c ends the run with status (c << 1) | 1.
inline constexpr uint16_t DEBUG_EXIT = 0xf4;

// QEMU fw_cfg, legacy I/O interface (selector 16-bit at 0x510, data 8-bit at 0x511).
inline constexpr uint16_t FW_CFG_SELECTOR = 0x510;
inline constexpr uint16_t FW_CFG_DATA = 0x511;
inline constexpr uint16_t FW_CFG_SIGNATURE = 0x00;  // "QEMU"
inline constexpr uint16_t FW_CFG_ID = 0x01;
inline constexpr uint16_t FW_CFG_RAM_SIZE = 0x03;  // 64-bit little-endian bytes
inline constexpr uint16_t FW_CFG_NB_CPUS = 0x05;   // 16-bit little-endian
inline constexpr uint32_t FW_CFG_ID_TRADITIONAL = 1;  // FW_CFG_ID bit 0: the I/O interface; no DMA

// Byte `offset` of item `selector` on a machine with `ram_size` bytes of RAM
// and `nb_cpus` CPUs (QEMU docs/specs/fw_cfg.rst): the items above; past an
// item's end, and for any other item, 0, as in QEMU.
constexpr uint8_t fw_cfg_item_byte(uint16_t selector, uint32_t offset, uint64_t ram_size, uint16_t nb_cpus) {
  const auto le = [offset](uint64_t value, uint32_t width) {
    return offset < width ? uint8_t(value >> (8 * offset)) : uint8_t(0);
  };
  switch (selector) {
    case FW_CFG_SIGNATURE: return offset < 4 ? uint8_t("QEMU"[offset]) : uint8_t(0);
    case FW_CFG_ID: return le(FW_CFG_ID_TRADITIONAL, 4);
    case FW_CFG_RAM_SIZE: return le(ram_size, 8);
    case FW_CFG_NB_CPUS: return le(nb_cpus, 2);
    default: return 0;
  }
}

// 8259A PICs (master IRQ 0-7, slave IRQ 8-15 cascaded on the master's IR2).
inline constexpr uint16_t PIC1_COMMAND = 0x20;
inline constexpr uint16_t PIC1_DATA = 0x21;
inline constexpr uint16_t PIC2_COMMAND = 0xa0;
inline constexpr uint16_t PIC2_DATA = 0xa1;
inline constexpr unsigned PIC_CASCADE_IRQ = 2;
// The x87 error (FERR#) interrupt and the port whose writes clear it and
// assert IGNNE# (SDM vol. 1, 8.7.2 and appendix D).
inline constexpr unsigned IRQ_X87_ERROR = 13;
inline constexpr uint16_t X87_ERROR_CLEAR_PORT = 0xf0;

// POST-code port, used by pio-loop: writes are ignored.
inline constexpr uint16_t POST_CODE = 0x80;
}  // namespace arch::platform
