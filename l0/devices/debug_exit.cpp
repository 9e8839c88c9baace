// isa-debug-exit, as QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=4`:
// a write of c (of any width, anywhere in the 4 ports) ends the run with
// process status (c << 1) | 1. The engine stops once `code` is set.
#include "l0/devices/platform_devices.h"

namespace nestbed {

uint32_t DebugExit::io_read(uint16_t port, unsigned size) { return size >= 4 ? ~0u : (1u << (8 * size)) - 1; }

void DebugExit::io_write(uint16_t port, unsigned size, uint32_t value) {
  code = size >= 4 ? value : value & ((1u << (8 * size)) - 1);
}

}  // namespace nestbed
