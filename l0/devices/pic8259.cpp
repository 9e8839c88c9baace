// Intel 8259A programmable interrupt controller pair (8259A data sheet,
// "Programming the 8259A"): ICW1 on the command port starts initialization and
// clears the mask; ICW2..ICW4 follow on the data port; after that a data-port
// write is OCW1, the interrupt mask.
#include "arch/platform.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace pf = arch::platform;

constexpr uint8_t ICW1_INIT = 0x10;   // bit 4: this command is ICW1
constexpr uint8_t ICW1_IC4 = 0x01;    // ICW4 follows
constexpr uint8_t ICW1_SINGLE = 0x02; // no cascade: no ICW3

unsigned chip_of(uint16_t port) { return port >= pf::PIC2_COMMAND ? 1 : 0; }
bool is_data_port(uint16_t port) { return port == pf::PIC1_DATA || port == pf::PIC2_DATA; }

}  // namespace

void Pic8259::write_command(unsigned chip, uint8_t value) {
  if (!(value & ICW1_INIT)) return;  // OCW2 (EOI, rotation) and OCW3 (read select): nothing to act on
  init_[chip] = {true, !(value & ICW1_SINGLE), bool(value & ICW1_IC4)};
  mask[chip] = 0;
}

void Pic8259::write_data(unsigned chip, uint8_t value) {
  InitSequence& init = init_[chip];
  if (init.icw2) init.icw2 = false;       // vector base: unused, nothing is delivered
  else if (init.icw3) init.icw3 = false;  // cascade wiring
  else if (init.icw4) init.icw4 = false;  // 8086 mode, AEOI, buffering
  else mask[chip] = value;                // OCW1
}

uint32_t Pic8259::io_read(uint16_t port, unsigned size) {
  return is_data_port(port) ? mask[chip_of(port)] : 0;
}

void Pic8259::io_write(uint16_t port, unsigned size, uint32_t value) {
  if (is_data_port(port)) write_data(chip_of(port), uint8_t(value));
  else write_command(chip_of(port), uint8_t(value));
}

}  // namespace nestbed
