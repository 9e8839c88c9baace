// QEMU's fw_cfg, legacy I/O interface (QEMU docs/specs/fw_cfg.rst), as the
// guest of l1-vmm sees it: the items l0 offers (l0/devices/fw_cfg.cpp), with
// the guest's RAM size and one CPU. A 16-bit write to the selector picks an
// item and rewinds it; each data byte read returns the item's next byte;
// reads past an item's end and every byte of an unknown item are 0.
#pragma once
#include <stdint.h>

namespace l1 {

class FwCfg {
 public:
  void set_ram_size(uint64_t bytes) { ram_size_ = bytes; }
  bool handles(uint16_t port) const;
  uint32_t io_read(uint16_t port, unsigned size);
  void io_write(uint16_t port, unsigned size, uint32_t value);

 private:
  uint8_t data_byte();
  uint16_t selector_ = 0;
  uint32_t offset_ = 0;
  uint64_t ram_size_ = 0;
};

extern FwCfg fw_cfg;

}  // namespace l1
