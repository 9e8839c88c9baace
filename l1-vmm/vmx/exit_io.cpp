// I/O instructions on ports that exit (devices/io_ports.h has the policy):
// fw_cfg is emulated; every other port is forwarded, i.e. l1-vmm performs
// the same IN or OUT on the platform, so the guest sees the platform's
// device (or the all-ones of an unassigned port) exactly as natively.
#include "arch/platform.h"
#include "arch/vmx/vmx.h"
#include "l1-vmm/devices/fw_cfg.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {
namespace {

namespace q = arch::vmx::qual_io;

uint32_t port_in(uint16_t port, unsigned size) {
  if (size == 1) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
  }
  if (size == 2) {
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
  }
  uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

void port_out(uint16_t port, unsigned size, uint32_t value) {
  if (size == 1) asm volatile("outb %b0, %1" : : "a"(value), "Nd"(port));
  else if (size == 2) asm volatile("outw %w0, %1" : : "a"(value), "Nd"(port));
  else asm volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

// IN writes AL, AX or EAX; a 32-bit write clears RAX bits 63:32 (SDM vol. 1, 3.4.1.1).
uint64_t merge_in(uint64_t rax, unsigned size, uint32_t value) {
  if (size == 4) return value;
  const uint64_t mask = size == 1 ? 0xff : 0xffff;
  return (rax & ~mask) | (value & mask);
}

uint32_t out_value(uint64_t rax, unsigned size) {
  return size == 4 ? uint32_t(rax) : uint32_t(rax) & (size == 1 ? 0xffu : 0xffffu);
}

}  // namespace

void handle_io(Vcpu& v) {
  const uint64_t qual = v.exit.qualification;
  // SIZE is 0, 1 or 3 for 1, 2 or 4 bytes (SDM table 27-5).
  const unsigned size = unsigned(q::SIZE.get(qual)) + 1;
  const bool in = q::DIRECTION.get(qual) == q::IN;
  const uint16_t port = uint16_t(q::PORT.get(qual));
  if (q::STRING.test(qual)) guest_failed(v, "string I/O (INS/OUTS) on an intercepted port is not emulated");

  uint64_t& rax = v.regs.gpr[RAX];
  if (in) {
    rax = merge_in(rax, size, fw_cfg.handles(port) ? fw_cfg.io_read(port, size) : port_in(port, size));
  } else if (fw_cfg.handles(port)) {
    fw_cfg.io_write(port, size, out_value(rax, size));
  } else {
    // The guest's isa-debug-exit write ends the run inside port_out: the
    // statistics go first (this last exit is not in them).
    if (port == arch::platform::DEBUG_EXIT) stats_print_at_end();
    port_out(port, size, out_value(rax, size));
  }
  stats_record_port(port);
  skip_emulated_instruction(v);
}

}  // namespace l1
