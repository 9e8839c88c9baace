// 16550A UART (National Semiconductor PC16550D data sheet; QEMU hw/char/serial.c
// for the values software expects from an idle line).
#include "arch/platform.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace pf = arch::platform;

constexpr uint8_t IIR_NO_INTERRUPT = 0x01;
constexpr uint8_t IIR_FIFOS_ENABLED = 0xc0;
constexpr uint8_t FCR_FIFO_ENABLE = 0x01;
constexpr uint8_t FCR_CLEAR_RX = 0x02;
constexpr uint8_t MCR_LOOPBACK = 0x10;
constexpr uint8_t MCR_WRITABLE = 0x1f;
constexpr uint8_t IER_WRITABLE = 0x0f;
// MSR with nothing attached but a terminal that is ready: DCD, DSR, CTS (as QEMU).
constexpr uint8_t MSR_IDLE_LINE = 0xb0;

}  // namespace

bool Uart16550::dlab() const { return lcr_ & pf::UART_LCR_DLAB; }
bool Uart16550::loopback() const { return mcr_ & MCR_LOOPBACK; }

// In loopback the modem inputs are wired to the modem outputs (data sheet,
// "MCR bit 4"): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
uint8_t Uart16550::modem_status() const {
  if (!loopback()) return MSR_IDLE_LINE;
  uint8_t cts = (mcr_ >> 1) & 1, dsr = mcr_ & 1, ri = (mcr_ >> 2) & 1, dcd = (mcr_ >> 3) & 1;
  return uint8_t(cts << 4 | dsr << 5 | ri << 6 | dcd << 7);
}

uint8_t Uart16550::read_register(unsigned reg) {
  switch (reg) {
    case pf::UART_RBR_THR:
      if (dlab()) return dll_;
      data_ready_ = false;
      return rbr_;
    case pf::UART_IER: return dlab() ? dlm_ : ier_;
    case pf::UART_IIR_FCR: return IIR_NO_INTERRUPT | ((fcr_ & FCR_FIFO_ENABLE) ? IIR_FIFOS_ENABLED : 0);
    case pf::UART_LCR: return lcr_;
    case pf::UART_MCR: return mcr_;
    // The transmitter drains instantly, so THR and the shift register are always empty.
    case pf::UART_LSR: return pf::UART_LSR_THRE | pf::UART_LSR_TEMT | (data_ready_ ? pf::UART_LSR_DR : 0);
    case pf::UART_MSR: return modem_status();
    case pf::UART_SCR: return scr_;
  }
  return 0xff;
}

void Uart16550::write_register(unsigned reg, uint8_t value) {
  switch (reg) {
    case pf::UART_RBR_THR:
      if (dlab()) {
        dll_ = value;  // divisor latch: baud rate setting, never printed
      } else if (loopback()) {
        rbr_ = value;
        data_ready_ = true;
      } else {
        std::fputc(value, out_);
        ++bytes_written_;
      }
      return;
    case pf::UART_IER:
      if (dlab()) dlm_ = value;
      else ier_ = value & IER_WRITABLE;
      return;
    case pf::UART_IIR_FCR:
      fcr_ = value & FCR_FIFO_ENABLE;  // the reset bits (1, 2) self-clear
      if (value & FCR_CLEAR_RX) data_ready_ = false;
      return;
    case pf::UART_LCR: lcr_ = value; return;
    case pf::UART_MCR: mcr_ = value & MCR_WRITABLE; return;
    case pf::UART_SCR: scr_ = value; return;
    default: return;  // LSR and MSR are read-only
  }
}

// A 16- or 32-bit access reaches consecutive registers, as the ISA bus splits it.
uint32_t Uart16550::io_read(uint16_t port, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    unsigned reg = unsigned(port - pf::COM1) + i;
    value |= uint32_t(reg < 8 ? read_register(reg) : 0xff) << (8 * i);
  }
  return value;
}

void Uart16550::io_write(uint16_t port, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    unsigned reg = unsigned(port - pf::COM1) + i;
    if (reg < 8) write_register(reg, uint8_t(value >> (8 * i)));
  }
}

}  // namespace nestbed
