// hello: the smallest workload, proving boot, console and exit.
#include "runtime/runtime.h"

int kmain(const rt::BootInfo&) {
  rt::printf("hello: Hello from nestbed\n");
  return rt::EXIT_OK;
}
