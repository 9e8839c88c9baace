#include "common/devices/fw_cfg.h"

#include "arch/platform.h"

namespace nestbed::common::devices {

namespace pf = arch::platform;

bool FwCfg::handles(uint16_t port) { return port == pf::FW_CFG_SELECTOR || port == pf::FW_CFG_DATA; }

// Reads past an item's end, and every byte of an unknown item, are 0, as in QEMU.
uint8_t FwCfg::data_byte() { return pf::fw_cfg_item_byte(selector_, offset_++, ram_size_, nb_cpus_); }

// QEMU accepts only byte reads of the data port; a wider read here returns
// that many successive data bytes, little-endian. The selector is
// write-only: reads return all-ones like an unassigned port.
uint32_t FwCfg::io_read(uint16_t port, unsigned size) {
  if (port != pf::FW_CFG_DATA) return size >= 4 ? ~0u : (1u << (8 * size)) - 1;
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint32_t(data_byte()) << (8 * i);
  return value;
}

// Writes to the data port are ignored: every item here is read-only.
void FwCfg::io_write(uint16_t port, unsigned, uint32_t value) {
  if (port != pf::FW_CFG_SELECTOR) return;
  selector_ = uint16_t(value);
  offset_ = 0;
}

}  // namespace nestbed::common::devices
