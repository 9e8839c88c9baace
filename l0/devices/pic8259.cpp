// Intel 8259A programmable interrupt controller pair (8259A data sheet,
// "Programming the 8259A"): ICW1 on the command port starts initialization
// (clearing the mask, the requests and the in-service bits); ICW2..ICW4
// follow on the data port; after that a data-port write is OCW1, the
// interrupt mask, and a command-port write OCW2 (EOI) or OCW3 (read
// select). Requests are edge-triggered and served in fully nested mode
// with fixed priority: IR0 highest, and an interrupt in service holds back
// its own and every lower-priority request (a slave's requests wait while
// the master's IR2 is in service). The FERR# glue (X87ErrorLatch) is here
// too: it drives IRQ 13.
#include "arch/platform.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace pf = arch::platform;

constexpr uint8_t ICW1_INIT = 0x10;    // bit 4: this command is ICW1
constexpr uint8_t ICW1_IC4 = 0x01;     // ICW4 follows
constexpr uint8_t ICW1_SINGLE = 0x02;  // no cascade: no ICW3
constexpr uint8_t ICW2_VECTOR_BASE = 0xf8;  // 8086 mode: T7-T3
constexpr uint8_t ICW4_AEOI = 0x02;
constexpr uint8_t OCW3_SELECT = 0x08;  // bits 4:3 = 01: OCW3 (00: OCW2)
constexpr uint8_t OCW3_RR = 0x02;      // read register command: RIS selects
constexpr uint8_t OCW3_RIS = 0x01;     // ISR (1) or IRR (0)
constexpr uint8_t OCW2_EOI = 0x20;
constexpr uint8_t OCW2_SPECIFIC = 0x40;  // SL: the level in bits 2:0
constexpr unsigned SPURIOUS_IR = 7;

unsigned chip_of(uint16_t port) { return port >= pf::PIC2_COMMAND ? 1 : 0; }
bool is_data_port(uint16_t port) { return port == pf::PIC1_DATA || port == pf::PIC2_DATA; }

}  // namespace

// The highest-priority request of a chip that its mask and in-service bits
// let through, or -1.
int Pic8259::request(unsigned chip, uint8_t irr) const {
  const uint8_t isr = chip_[chip].isr;
  const uint8_t requested = irr & ~mask[chip];
  for (unsigned ir = 0; ir < 8; ++ir) {
    if (isr & (1u << ir)) return -1;
    if (requested & (1u << ir)) return int(ir);
  }
  return -1;
}

// The slave's INT is a level on the master's IR2 (cascade mode).
int Pic8259::master_request() const {
  uint8_t irr = chip_[0].irr;
  if (cascaded() && request(1, chip_[1].irr) >= 0) irr |= uint8_t(1u << pf::PIC_CASCADE_IRQ);
  return request(0, irr);
}

void Pic8259::set_irq(unsigned irq, bool level) {
  Chip& c = chip_[irq >> 3];
  const uint8_t bit = uint8_t(1u << (irq & 7));
  if (level && !(c.lines & bit)) c.irr |= bit;
  c.lines = level ? uint8_t(c.lines | bit) : uint8_t(c.lines & ~bit);
}

uint8_t Pic8259::acknowledge() {
  const int ir = master_request();
  if (ir < 0) return uint8_t(chip_[0].vector_base | SPURIOUS_IR);
  auto serve = [this](unsigned chip, unsigned line) {
    Chip& c = chip_[chip];
    c.irr &= uint8_t(~(1u << line));
    if (!c.auto_eoi) c.isr |= uint8_t(1u << line);
  };
  if (cascaded() && unsigned(ir) == pf::PIC_CASCADE_IRQ) {
    const int slave = request(1, chip_[1].irr);
    serve(0, pf::PIC_CASCADE_IRQ);
    serve(1, unsigned(slave));
    return uint8_t(chip_[1].vector_base | unsigned(slave));
  }
  serve(0, unsigned(ir));
  return uint8_t(chip_[0].vector_base | unsigned(ir));
}

// OCW2: a non-specific EOI ends the highest-priority interrupt in service,
// a specific one the level it names. The rotate variants end the same one
// (rotation is not modeled); set-priority and the AEOI rotate commands are
// ignored.
void Pic8259::end_of_interrupt(unsigned chip, uint8_t ocw2) {
  if (!(ocw2 & OCW2_EOI)) return;
  Chip& c = chip_[chip];
  if (ocw2 & OCW2_SPECIFIC) {
    c.isr &= uint8_t(~(1u << (ocw2 & 7)));
    return;
  }
  c.isr &= uint8_t(c.isr - 1);  // the lowest set bit: the highest priority
}

void Pic8259::write_command(unsigned chip, uint8_t value) {
  if (value & ICW1_INIT) {
    init_[chip] = {true, !(value & ICW1_SINGLE), bool(value & ICW1_IC4)};
    if (chip == 0) single_ = value & ICW1_SINGLE;
    mask[chip] = 0;
    Chip& c = chip_[chip];
    c.irr = c.isr = 0;  // and the edge-sense latch: a line already high needs a new edge
    c.auto_eoi = false;
    c.read_isr = false;
    return;
  }
  if (value & OCW3_SELECT) {
    if (value & OCW3_RR) chip_[chip].read_isr = value & OCW3_RIS;
    return;
  }
  end_of_interrupt(chip, value);
}

void Pic8259::write_data(unsigned chip, uint8_t value) {
  InitSequence& init = init_[chip];
  if (init.icw2) {
    init.icw2 = false;
    chip_[chip].vector_base = value & ICW2_VECTOR_BASE;
  } else if (init.icw3) {
    init.icw3 = false;  // cascade wiring: the PC's (slave on IR2) is the only one modeled
  } else if (init.icw4) {
    init.icw4 = false;  // 8086 mode assumed; buffering and special fully nested mode are not modeled
    chip_[chip].auto_eoi = value & ICW4_AEOI;
  } else {
    mask[chip] = value;  // OCW1
  }
}

uint32_t Pic8259::io_read(uint16_t port, unsigned size) {
  const unsigned chip = chip_of(port);
  if (is_data_port(port)) return mask[chip];
  return chip_[chip].read_isr ? chip_[chip].isr : chip_[chip].irr;
}

void Pic8259::io_write(uint16_t port, unsigned size, uint32_t value) {
  if (is_data_port(port)) write_data(chip_of(port), uint8_t(value));
  else write_command(chip_of(port), uint8_t(value));
}

// FERR# going active sets the IRQ 13 latch; F0H clears it (SDM vol. 1,
// D.2.1: "the write to port F0H ... clears the IRQ 13 request and asserts
// IGNNE#").
void X87ErrorLatch::set_ferr(bool asserted) {
  if (asserted && !ferr_) pic_.set_irq(pf::IRQ_X87_ERROR, true);
  if (!asserted) ignne_ = false;
  ferr_ = asserted;
}

uint32_t X87ErrorLatch::io_read(uint16_t, unsigned) { return ~0u; }  // write-only

void X87ErrorLatch::io_write(uint16_t, unsigned, uint32_t) {
  pic_.set_irq(pf::IRQ_X87_ERROR, false);
  if (ferr_) ignne_ = true;
}

}  // namespace nestbed
