// QEMU's fw_cfg, legacy I/O interface (QEMU docs/specs/fw_cfg.rst): a 16-bit
// write to the selector port picks an item and rewinds it; each byte read from
// the data port returns the item's next byte. Reads past an item's end, and
// every byte of an unknown item, are 0, as in QEMU.
#include "arch/platform.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace pf = arch::platform;

constexpr uint32_t FW_CFG_ID_TRADITIONAL = 1;  // bit 0: the I/O interface; no DMA

uint8_t le_byte(uint64_t value, uint32_t offset, uint32_t width) {
  return offset < width ? uint8_t(value >> (8 * offset)) : 0;
}

}  // namespace

uint8_t FwCfg::data_byte() {
  uint32_t at = offset_++;
  switch (selector_) {
    case pf::FW_CFG_SIGNATURE: return at < 4 ? uint8_t("QEMU"[at]) : 0;
    case pf::FW_CFG_ID: return le_byte(FW_CFG_ID_TRADITIONAL, at, 4);
    case pf::FW_CFG_RAM_SIZE: return le_byte(ram_size_, at, 8);
    case pf::FW_CFG_NB_CPUS: return le_byte(nb_cpus_, at, 2);
    default: return 0;
  }
}

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
