// Which of the platform's I/O ports the guest reaches directly and which
// exit to l1-vmm (README.md, "Devices"). The I/O bitmaps (SDM 24.6.4)
// encode it:
//
//   COM1 0x3f8-0x3ff, PICs 0x20/0x21/0xa0/0xa1   passthrough: the guest owns them
//   isa-debug-exit 0xf4-0xf7                     passthrough, or exits with `stats`
//                                                (l1-vmm prints its table first)
//   fw_cfg 0x510/0x511                           exits: emulated (the guest's RAM size)
//   every other port                             exits: forwarded (l1-vmm performs
//                                                the same access on the platform)
//
// With exit_pio=1 every port exits (passthrough ports are then forwarded).
#pragma once
#include <stdint.h>

#include "l1-vmm/options.h"

namespace l1 {

struct IoBitmaps {
  uint64_t a, b;  // physical addresses of I/O bitmaps A (ports 0-7fff) and B
};

IoBitmaps setup_io_bitmaps(const Options& options);

}  // namespace l1
