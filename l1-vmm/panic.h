// How l1-vmm stops: every way out prints one clear line on COM1 (prefixed
// "l1-vmm:") and ends the run through isa-debug-exit with a code that says
// whose fault it was. The codes are disjoint from the workloads' (0-3,
// 0x7d-0x7f, runtime/runtime.h), so a status tells a guest's own
// exit from l1-vmm's. README.md lists them.
#pragma once
#include <stdint.h>

namespace l1 {

enum ExitCode : uint32_t {
  L1_PANIC = 0x60,           // l1-vmm itself faulted or hit an impossible state (a bug)
  L1_USAGE = 0x61,           // bad l1-vmm cmdline option
  L1_NO_VMX = 0x62,          // the processor's VMX lacks what l1-vmm needs, or VMXON failed
  L1_BAD_GUEST_IMAGE = 0x63, // no guest module, or it is not a loadable Multiboot kernel
  L1_GUEST_FAILED = 0x64,    // the guest did what l1-vmm cannot run (unhandled exit, access outside its RAM)
  L1_NO_MEMORY = 0x65,       // the guest's memory (guest_mem) or l1-vmm's structures do not fit
};

// Prints "l1-vmm: <message>", then the exit statistics when `stats` was
// asked for, and ends the run with `code`.
[[noreturn]] void fatal(ExitCode code, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Every vector of the IDT reports as an l1-vmm panic (L1_PANIC), with the
// faulting RIP and CR2, instead of the runtime's workload-style report.
void install_panic_handlers();
// What a panic prints after its own line (the guest exit being handled).
void set_panic_context(void (*print)());

// RDMSR/WRMSR that return false instead of faulting when the processor
// raises #GP for the MSR (the fault handler resumes at a fixup label, as
// Linux's rdmsr_safe does). For forwarding a guest's MSR access.
bool rdmsr_safe(uint32_t msr, uint64_t& value);
bool wrmsr_safe(uint32_t msr, uint64_t value);

// Ends the run the way a triple fault ends a machine: l1-vmm shuts itself
// down (an IDT of limit 0, then INT3: #GP, #DF, shutdown). Used to pass a
// guest's triple fault on, so the platform reports it as it would natively.
[[noreturn]] void shutdown_machine();

// Halts with interrupts off, as a guest that executed CLI; HLT: the
// platform reports the halt as it would natively.
[[noreturn]] void halt_machine();

}  // namespace l1
