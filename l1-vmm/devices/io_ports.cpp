#include "l1-vmm/devices/io_ports.h"

#include "arch/platform.h"
#include "arch/vmx/controls.h"
#include "arch/x86/paging.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "runtime/libc.h"

namespace l1 {
namespace {

namespace pf = arch::platform;
namespace io = arch::vmx::io_bitmap;

struct PortRange {
  uint16_t first, count;
};

constexpr PortRange COM1_PORTS{pf::COM1, 8};
constexpr PortRange PIC_PORTS[] = {{pf::PIC1_COMMAND, 2}, {pf::PIC2_COMMAND, 2}};
constexpr PortRange DEBUG_EXIT_PORTS{pf::DEBUG_EXIT, 4};  // a 32-bit write covers 0xf4-0xf7

void pass_through(uint8_t* bitmaps[2], PortRange r) {
  for (unsigned p = r.first; p < unsigned(r.first) + r.count; p++) {
    const uint16_t port = uint16_t(p);
    bitmaps[io::in_bitmap_b(port)][io::bit_index(port) / 8] &= uint8_t(~(1u << (io::bit_index(port) % 8)));
  }
}

}  // namespace

IoBitmaps setup_io_bitmaps(const Options& options) {
  const IoBitmaps b{mm::alloc_page_or_die("I/O bitmap A"), mm::alloc_page_or_die("I/O bitmap B")};
  uint8_t* bitmaps[2] = {reinterpret_cast<uint8_t*>(b.a), reinterpret_cast<uint8_t*>(b.b)};
  // A set bit makes the port exit (SDM 25.1.3): start with every port exiting.
  memset(bitmaps[0], 0xff, arch::pte::PAGE_SIZE);
  memset(bitmaps[1], 0xff, arch::pte::PAGE_SIZE);
  if (options.exit_pio) return b;
  pass_through(bitmaps, COM1_PORTS);
  for (PortRange r : PIC_PORTS) pass_through(bitmaps, r);
  if (!options.stats) pass_through(bitmaps, DEBUG_EXIT_PORTS);
  return b;
}

}  // namespace l1
