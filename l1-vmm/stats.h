// Exit accounting: for each basic exit reason, how many exits l1-vmm
// handled and the cycles its handling took (RDTSC at the start of
// vmx_handle_exit to its end: l1-vmm's own view, without the hardware's
// transition costs). Printed when the run ends if the cmdline has `stats`.
#pragma once
#include <stdint.h>

namespace l1 {

void stats_enable(bool on, unsigned level);
bool stats_enabled();

// One handled exit of `basic_reason` that took `cycles`.
void stats_record(uint16_t basic_reason, uint64_t cycles);
// An I/O exit on `port` (the table under IO_INSTRUCTION).
void stats_record_port(uint16_t port);
// An EPT violation l1-vmm emulated as an MMIO access to guest-physical
// `gpa` (the table under EPT_VIOLATION, per 4 KiB page).
void stats_record_mmio(uint64_t gpa);

// The table, each line prefixed "l1-vmm:", if `stats` is on.
void stats_print_if_enabled();
// The same when the run ends: at most once, however many ways to stop meet.
void stats_print_at_end();

}  // namespace l1
