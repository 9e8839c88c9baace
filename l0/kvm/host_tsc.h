// The host's time-stamp counter: the kvm engine's unit of time (exit costs,
// RunStats::cycles, the APIC timer's input clock).
#pragma once
#include <x86intrin.h>

#include <cstdint>

#include "l0/devices/platform_devices.h"

namespace nestbed::kvm {

// RDTSC after LFENCE, so the read is not hoisted above the ioctl it times
// (SDM vol. 2B, RDTSC: "it does not wait until all previous instructions have executed").
inline uint64_t read_tsc() {
  _mm_lfence();
  return __rdtsc();
}

// The LocalApic's clock under kvm: one tick per host TSC cycle, so an
// initial count n with divide-by-d expires n*d TSC cycles after it is written.
class HostTscClock final : public Clock {
 public:
  uint64_t now() const override { return read_tsc(); }
};

}  // namespace nestbed::kvm
