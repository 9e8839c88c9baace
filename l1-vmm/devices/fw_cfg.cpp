#include "l1-vmm/devices/fw_cfg.h"

#include "arch/platform.h"

namespace l1 {

FwCfg fw_cfg;

namespace {

namespace pf = arch::platform;

constexpr uint16_t NB_CPUS = 1;  // l1-vmm runs one vCPU

}  // namespace

bool FwCfg::handles(uint16_t port) const { return port == pf::FW_CFG_SELECTOR || port == pf::FW_CFG_DATA; }

uint8_t FwCfg::data_byte() { return pf::fw_cfg_item_byte(selector_, offset_++, ram_size_, NB_CPUS); }

// A wider read of the data port returns that many successive data bytes,
// little-endian, as l0's does. The selector is write-only: reads return
// all-ones like an unassigned port.
uint32_t FwCfg::io_read(uint16_t port, unsigned size) {
  if (port != pf::FW_CFG_DATA) return size >= 4 ? ~0u : (1u << (8 * size)) - 1;
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) value |= uint32_t(data_byte()) << (8 * i);
  return value;
}

void FwCfg::io_write(uint16_t port, unsigned, uint32_t value) {
  if (port != pf::FW_CFG_SELECTOR) return;  // every item is read-only
  selector_ = uint16_t(value);
  offset_ = 0;
}

}  // namespace l1
