// cpuid-loop N: N × CPUID leaf 0, which exits unconditionally under VMX
// (SDM vol. 3, 26.1.2). Only the count is printed: the values CPUID returns
// differ between platforms and depths, the result must not.
#include "runtime/runtime.h"

namespace {
constexpr uint64_t DEFAULT_COUNT = 1000;
}

int kmain(const rt::BootInfo& boot) {
  uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  for (uint64_t i = 0; i < count; i++) rt::cpuid(0);
  rt::printf("cpuid-loop: %lu cpuid done\n", count);
  return rt::EXIT_OK;
}
