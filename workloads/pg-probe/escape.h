// Resource-control probes: the guest tries to reach memory beyond its RAM,
// the platform's devices behind its VMM's, and MSRs a VMM keeps for itself,
// and prints what it tried and what answered (README.md beside this file).
#pragma once
#include "runtime/boot_info.h"

namespace pg {

// Reads every address of the memory list, tries the ports and MSRs, then
// writes to the memory list's `write_index`-th address (last: a VMM may stop
// the guest there).
void run_escape_probes(const rt::BootInfo& boot, uint64_t write_index);

}  // namespace pg
