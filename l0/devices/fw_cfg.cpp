// QEMU's fw_cfg, legacy I/O interface (QEMU docs/specs/fw_cfg.rst): a 16-bit
// write to the selector port picks an item and rewinds it; each byte read from
// the data port returns the item's next byte. Reads past an item's end, and
// every byte of an unknown item, are 0, as in QEMU.
#include "arch/platform.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {

namespace pf = arch::platform;

uint8_t FwCfg::data_byte() { return pf::fw_cfg_item_byte(selector_, offset_++, ram_size_, nb_cpus_); }

// QEMU accepts only byte reads of the data port; a wider read here returns
// that many successive data bytes, little-endian. The selector is write-only.
uint32_t FwCfg::io_read(uint16_t port, unsigned size) {
  if (port != pf::FW_CFG_DATA) return size >= 4 ? ~0u : (1u << (8 * size)) - 1;
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint32_t(data_byte()) << (8 * i);
  return value;
}

// Writes to the data port are ignored: every item here is read-only.
void FwCfg::io_write(uint16_t port, unsigned size, uint32_t value) {
  if (port != pf::FW_CFG_SELECTOR) return;
  selector_ = uint16_t(value);
  offset_ = 0;
}

}  // namespace nestbed
