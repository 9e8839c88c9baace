// Runs one snippet at a given CPL and mode under a configuration and prints
// the observation line (README.md beside this file gives the format).
#pragma once
#include "workloads/pg-probe/probe.h"
#include "workloads/pg-probe/world.h"

namespace pg {

// 64-bit mode, compatibility mode (IA-32e mode's 32-bit protected mode),
// and legacy 32-bit protected mode (protected_mode.h).
enum class Mode { BITS64, COMPAT, PROTECTED };

// The entry's snippet for `mode`; `start` is null when it has none.
const Variant& variant(const Entry& entry, Mode mode);

// The APIC timer that wakes HLT, and the APIC's spurious vector (both
// worlds' IDTs have gates for them).
inline constexpr uint8_t TIMER_VECTOR = 0x40, SPURIOUS_VECTOR = 0xff;

// Installs the handlers that end a run (every exception vector) and the
// APIC timer's (HLT's wake-up).
void runner_init();

// Runs `entry` and prints "obs ..." for it.
void run_and_print(const Entry& entry, Mode mode, unsigned cpl, Config config);

}  // namespace pg

namespace pg {

// RDMSR/WRMSR of `index` at CPL 0 through a run, so that a #GP is an
// answer rather than the end of the probe. Returns the vector of the fault
// (0xff for none); `value` is what was read or is what is written.
uint8_t try_rdmsr(uint32_t index, uint64_t& value);
uint8_t try_wrmsr(uint32_t index, uint64_t value);
inline constexpr uint8_t NO_FAULT = 0xff;

}  // namespace pg
