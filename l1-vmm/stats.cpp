#include "l1-vmm/stats.h"

#include "arch/vmx/exit_reasons.h"
#include "runtime/console.h"

namespace l1 {
namespace {

using arch::vmx::kExitReasonMax;

struct PortCount {
  uint16_t port;
  uint64_t count;
};
constexpr unsigned PORT_SLOTS = 16;  // distinct ports listed; the rest are summed as "other"
struct MmioCount {
  uint64_t page;
  uint64_t count;
};
constexpr unsigned MMIO_SLOTS = 4;  // distinct device pages listed; the rest are summed as "other"

bool enabled = false;
unsigned vmm_level = 1;
uint64_t counts[kExitReasonMax + 1];
uint64_t cycles[kExitReasonMax + 1];
uint64_t other_reason_count, other_reason_cycles;  // basic reasons beyond the table (never expected)
PortCount ports[PORT_SLOTS];
unsigned port_slots_used;
uint64_t other_ports;
MmioCount mmio_pages[MMIO_SLOTS];
unsigned mmio_slots_used;
uint64_t other_mmio;

// The runtime's printf pads on the left only: names are padded here.
void print_name(const char* name, unsigned width) {
  unsigned n = 0;
  for (; name[n]; n++) rt::console_putc(name[n]);
  for (; n < width; n++) rt::console_putc(' ');
}

void print_ports() {
  for (unsigned i = 0; i < port_slots_used; i++)
    rt::printf("l1-vmm:     port 0x%04x %14lu\n", ports[i].port, ports[i].count);
  if (other_ports) rt::printf("l1-vmm:     other ports %11lu\n", other_ports);
}

void print_mmio() {
  for (unsigned i = 0; i < mmio_slots_used; i++)
    rt::printf("l1-vmm:     mmio 0x%08lx %12lu\n", mmio_pages[i].page, mmio_pages[i].count);
  if (other_mmio) rt::printf("l1-vmm:     other mmio %12lu\n", other_mmio);
}

void print_row(const char* name, unsigned reason, uint64_t n, uint64_t c) {
  rt::printf("l1-vmm:   ");
  print_name(name, 24);
  rt::printf(" %3u %12lu %16lu %12lu\n", reason, n, c, n ? c / n : 0);
}

}  // namespace

void stats_enable(bool on, unsigned level) {
  enabled = on;
  vmm_level = level;
}

bool stats_enabled() { return enabled; }

void stats_record(uint16_t basic_reason, uint64_t c) {
  if (basic_reason <= kExitReasonMax) {
    counts[basic_reason]++;
    cycles[basic_reason] += c;
  } else {
    other_reason_count++;
    other_reason_cycles += c;
  }
}

void stats_record_port(uint16_t port) {
  for (unsigned i = 0; i < port_slots_used; i++) {
    if (ports[i].port == port) {
      ports[i].count++;
      return;
    }
  }
  if (port_slots_used < PORT_SLOTS) {
    ports[port_slots_used++] = {port, 1};
    return;
  }
  other_ports++;
}

void stats_record_mmio(uint64_t gpa) {
  const uint64_t page = gpa & ~0xfffull;
  for (unsigned i = 0; i < mmio_slots_used; i++) {
    if (mmio_pages[i].page == page) {
      mmio_pages[i].count++;
      return;
    }
  }
  if (mmio_slots_used < MMIO_SLOTS) {
    mmio_pages[mmio_slots_used++] = {page, 1};
    return;
  }
  other_mmio++;
}

void stats_print_at_end() {
  static bool printed = false;
  if (printed) return;
  printed = true;
  stats_print_if_enabled();
}

void stats_print_if_enabled() {
  if (!enabled) return;
  rt::printf("l1-vmm: exits of level %u handled by level %u (cycles: l1-vmm's RDTSC around each handler)\n",
             vmm_level + 1, vmm_level);
  rt::printf("l1-vmm:   ");
  print_name("reason", 24);
  rt::printf(" %3s %12s %16s %12s\n", "nr", "count", "cycles", "cycles/exit");
  uint64_t total = 0, total_cycles = 0;
  for (unsigned r = 0; r <= kExitReasonMax; r++) {
    if (!counts[r]) continue;
    const char* name = arch::vmx::exit_reason_name(r);
    print_row(name ? name : "?", r, counts[r], cycles[r]);
    if (r == unsigned(arch::vmx::ExitReason::IO_INSTRUCTION)) print_ports();
    if (r == unsigned(arch::vmx::ExitReason::EPT_VIOLATION)) print_mmio();
    total += counts[r];
    total_cycles += cycles[r];
  }
  if (other_reason_count) print_row("(beyond the table)", 0, other_reason_count, other_reason_cycles);
  total += other_reason_count;
  total_cycles += other_reason_cycles;
  print_row("total", 0, total, total_cycles);
}

}  // namespace l1
