// QEMU's fw_cfg, legacy I/O interface (QEMU docs/specs/fw_cfg.rst), the
// front end both of nestbed's device layers use: l0's (l0/devices, for
// every engine) and l1-vmm's for its guest (l1-vmm/devices). A 16-bit write
// to the selector port picks an item and rewinds it; each byte read from
// the data port returns the item's next byte (the items:
// arch::platform::fw_cfg_item_byte). Freestanding.
#pragma once
#include <stdint.h>

namespace nestbed::common::devices {

class FwCfg {
 public:
  constexpr FwCfg(uint64_t ram_size, uint16_t nb_cpus) : ram_size_(ram_size), nb_cpus_(nb_cpus) {}
  void set_ram_size(uint64_t bytes) { ram_size_ = bytes; }

  // The selector and the data port.
  static bool handles(uint16_t port);
  // `size` is 1, 2 or 4 bytes.
  uint32_t io_read(uint16_t port, unsigned size);
  void io_write(uint16_t port, unsigned size, uint32_t value);

 private:
  uint8_t data_byte();

  uint64_t ram_size_;
  uint16_t nb_cpus_;
  uint16_t selector_ = 0;
  uint32_t offset_ = 0;
};

}  // namespace nestbed::common::devices
