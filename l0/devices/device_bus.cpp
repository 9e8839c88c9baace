#include "l0/devices/device_bus.h"

#include <stdexcept>

namespace nestbed {
namespace {

// All-ones of the access width: what an ISA/PCI bus returns when nobody decodes the address.
uint64_t all_ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

bool overlaps(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) { return a < b + b_len && b < a + a_len; }

}  // namespace

void DeviceBus::map_ports(uint16_t first, uint16_t count, PortDevice* dev) {
  if (count == 0 || uint32_t(first) + count > 0x10000) throw std::logic_error("port range outside the I/O space");
  for (const PortRange& r : ports_)
    if (overlaps(first, count, r.first, r.count)) throw std::logic_error("overlapping port ranges");
  ports_.push_back({first, count, dev});
}

void DeviceBus::map_mmio(uint64_t base, uint64_t size, MmioDevice* dev) {
  if (size == 0 || base + size < base) throw std::logic_error("empty or wrapping MMIO range");
  for (const MmioRange& r : mmio_)
    if (overlaps(base, size, r.base, r.size)) throw std::logic_error("overlapping MMIO ranges");
  mmio_.push_back({base, size, dev});
}

bool DeviceBus::move_mmio(MmioDevice* dev, uint64_t new_base) {
  for (MmioRange& r : mmio_) {
    if (r.dev != dev) continue;
    if (new_base + r.size < new_base) return false;
    for (const MmioRange& other : mmio_)
      if (&other != &r && overlaps(new_base, r.size, other.base, other.size)) return false;
    r.base = new_base;
    return true;
  }
  return false;
}

PortDevice* DeviceBus::find_port(uint16_t port) {
  for (const PortRange& r : ports_)
    if (port >= r.first && port - r.first < r.count) return r.dev;
  return nullptr;
}

uint32_t DeviceBus::io_read(uint16_t port, unsigned size) {
  ++io_accesses;
  if (PortDevice* dev = find_port(port)) return dev->io_read(port, size);
  return uint32_t(all_ones(size));
}

void DeviceBus::io_write(uint16_t port, unsigned size, uint32_t value) {
  ++io_accesses;
  if (PortDevice* dev = find_port(port)) dev->io_write(port, size, value);
}

MmioDevice* DeviceBus::find_mmio(uint64_t pa, uint64_t* offset) {
  for (const MmioRange& r : mmio_) {
    if (pa >= r.base && pa - r.base < r.size) {
      if (offset) *offset = pa - r.base;
      return r.dev;
    }
  }
  return nullptr;
}

uint64_t DeviceBus::mmio_read(uint64_t pa, unsigned size) {
  ++mmio_accesses;
  uint64_t offset = 0;
  if (MmioDevice* dev = find_mmio(pa, &offset)) return dev->mmio_read(offset, size);
  return all_ones(size);
}

void DeviceBus::mmio_write(uint64_t pa, unsigned size, uint64_t value) {
  ++mmio_accesses;
  uint64_t offset = 0;
  if (MmioDevice* dev = find_mmio(pa, &offset)) dev->mmio_write(offset, size, value);
}

}  // namespace nestbed
