// The shared device layer's bus: port I/O and MMIO dispatch. Every engine
// (sim, kvm) routes its guest's IN/OUT and MMIO through one DeviceBus, so
// the device models exist once (DESIGN.md §3).
#pragma once
#include <cstdint>
#include <vector>

namespace nestbed {

class PortDevice {
 public:
  virtual ~PortDevice() = default;
  // size is 1, 2 or 4 bytes; `port` is the absolute port number.
  virtual uint32_t io_read(uint16_t port, unsigned size) = 0;
  virtual void io_write(uint16_t port, unsigned size, uint32_t value) = 0;
};

class MmioDevice {
 public:
  virtual ~MmioDevice() = default;
  // `offset` is relative to the mapped base; size is 1, 2, 4 or 8 bytes.
  virtual uint64_t mmio_read(uint64_t offset, unsigned size) = 0;
  virtual void mmio_write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

class DeviceBus {
 public:
  void map_ports(uint16_t first, uint16_t count, PortDevice* dev);
  void map_mmio(uint64_t base, uint64_t size, MmioDevice* dev);
  // Moves `dev`'s MMIO range to `new_base` (the local APIC is relocatable through
  // IA32_APIC_BASE, SDM 11.4.4). False if `dev` is not mapped or would overlap another range.
  bool move_mmio(MmioDevice* dev, uint64_t new_base);

  // Unassigned ports read as all-ones and ignore writes (DESIGN.md §3).
  uint32_t io_read(uint16_t port, unsigned size);
  void io_write(uint16_t port, unsigned size, uint32_t value);

  // The MMIO device covering `pa`, or nullptr; *offset (if given) is pa - base.
  MmioDevice* find_mmio(uint64_t pa, uint64_t* offset);
  // Unassigned MMIO reads as all-ones and ignores writes.
  uint64_t mmio_read(uint64_t pa, unsigned size);
  void mmio_write(uint64_t pa, unsigned size, uint64_t value);

  // Counters, for --stats.
  uint64_t io_accesses = 0;
  uint64_t mmio_accesses = 0;

 private:
  struct PortRange {
    uint16_t first, count;
    PortDevice* dev;
  };
  struct MmioRange {
    uint64_t base, size;
    MmioDevice* dev;
  };
  PortDevice* find_port(uint16_t port);
  std::vector<PortRange> ports_;
  std::vector<MmioRange> mmio_;
};

}  // namespace nestbed
