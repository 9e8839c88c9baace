// The freestanding runtime of every guest image (the workloads, vmx-selftest,
// l1-vmm). An image includes this header and defines kmain(); the runtime
// boots it from Multiboot into 64-bit mode with the first 4 GiB identity
// mapped, a console, an IDT and a page allocator.
#pragma once
#include <stdint.h>

#include "runtime/apic.h"
#include "runtime/boot_info.h"
#include "runtime/cmdline.h"
#include "runtime/console.h"
#include "runtime/interrupts.h"
#include "runtime/memory.h"
#include "runtime/paging.h"
#include "runtime/x86.h"

namespace rt {

// Exit codes written to isa-debug-exit; the platform ends the run with
// process status (code << 1) | 1, so EXIT_OK gives status 1.
enum ExitCode : uint32_t {
  EXIT_OK = 0,
  EXIT_FAILURE = 1,    // the workload's own check failed
  EXIT_USAGE = 2,      // malformed cmdline
  EXIT_NO_MEMORY = 3,  // the request does not fit the RAM the loader reported
  EXIT_BAD_BOOT = 0x7d,  // not entered by a Multiboot loader (wrong EAX magic)
  EXIT_EXCEPTION = 0x7e,  // an exception no workload handles
  EXIT_UNEXPECTED_INTERRUPT = 0x7f,  // an interrupt vector nobody registered
};

// Ends the run through isa-debug-exit. Without that device the write is
// ignored (reads and writes of unassigned ports are), so say why we stop.
[[noreturn]] void exit(uint32_t code);

}  // namespace rt

// Every workload defines kmain; its return value is the exit code.
int kmain(const rt::BootInfo& boot);
