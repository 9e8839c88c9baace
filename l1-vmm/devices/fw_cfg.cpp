#include "l1-vmm/devices/fw_cfg.h"

#include "arch/platform.h"

namespace l1 {

FwCfg fw_cfg;

namespace {

namespace pf = arch::platform;

constexpr uint32_t FW_CFG_ID_TRADITIONAL = 1;  // bit 0: the I/O interface; no DMA
constexpr uint16_t NB_CPUS = 1;                // l1-vmm runs one vCPU

uint8_t le_byte(uint64_t value, uint32_t offset, uint32_t width) {
  return offset < width ? uint8_t(value >> (8 * offset)) : 0;
}

}  // namespace

bool FwCfg::handles(uint16_t port) const { return port == pf::FW_CFG_SELECTOR || port == pf::FW_CFG_DATA; }

uint8_t FwCfg::data_byte() {
  const uint32_t at = offset_++;
  switch (selector_) {
    case pf::FW_CFG_SIGNATURE: return at < 4 ? uint8_t("QEMU"[at]) : 0;
    case pf::FW_CFG_ID: return le_byte(FW_CFG_ID_TRADITIONAL, at, 4);
    case pf::FW_CFG_RAM_SIZE: return le_byte(ram_size_, at, 8);
    case pf::FW_CFG_NB_CPUS: return le_byte(NB_CPUS, at, 2);
    default: return 0;
  }
}

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
