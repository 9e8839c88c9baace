// pio-loop N: N × OUT to the POST-code port, an I/O exit per iteration under
// a VMM that intercepts it. The port ignores writes on every platform.
#include "arch/platform.h"
#include "runtime/runtime.h"

namespace {
constexpr uint64_t DEFAULT_COUNT = 1000;
}

int kmain(const rt::BootInfo& boot) {
  uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  for (uint64_t i = 0; i < count; i++) rt::outb(arch::platform::POST_CODE, uint8_t(i));
  rt::printf("pio-loop: %lu out done\n", count);
  return rt::EXIT_OK;
}
