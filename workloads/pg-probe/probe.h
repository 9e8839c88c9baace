// pg-probe: the Popek–Goldberg probe guest (README.md beside this file).
// Runs each catalogued instruction at CPL 0 and 3, in 64-bit mode,
// compatibility mode and legacy 32-bit protected mode, under configurations that differ from the base one in
// one resource, and prints what happened, one line per run.
#pragma once
#include <stdint.h>

#include "workloads/pg-probe/catalogue.h"

namespace pg {

// How the runner fills the snippet's input registers.
enum Input {
  IN_NONE,             // all zero
  IN_POPF,             // rax = IF set, IOPL 0: what POPF tries to load
  IN_NULL_SELECTOR,    // rcx = 0
  IN_KERNEL_SELECTOR,  // rcx = the DPL-0 data selector: LAR/LSL/VERR/VERW see it at CPL 0 only
  IN_ALT_GDTR,         // rsi -> a pseudo-descriptor of a copy of the GDT
  IN_ALT_IDTR,         // rsi -> a pseudo-descriptor of a copy of the IDT
  IN_ALT_LDT,          // rcx = the second LDT's selector
  IN_ALT_TSS,          // rcx = the second (available) TSS's selector
  IN_LMSW,             // rcx = CR0[15:0] with TS flipped
  IN_CR0_TOGGLE,       // rax = CR0 with TS flipped
  IN_ALT_CR3,          // rax = a copy of the PML4 (same mappings)
  IN_CR4_TOGGLE,       // rax = CR4 with PCE flipped
  IN_MSR,              // rcx = IA32_SYSENTER_ESP
  IN_MSR_WRITE,        // rcx = IA32_SYSENTER_ESP, rdx:rax = a new value
  IN_PORT_SCR,         // dx = COM1's scratch register
  IN_PORT_SCR_WRITE,   // dx = COM1's scratch register, al = a new value
};

enum : uint32_t {
  OUT_RAX = 1, OUT_RCX = 2, OUT_RDX = 4, OUT_RBX = 8, OUT_RSI = 16, OUT_RDI = 32, OUT_MEM = 64,
};
enum : uint32_t { F_TIME = 1, F_WAKE = 2 };

// One snippet: [start, insn) set-up, insn the probed instruction, then the
// read-out and a UD2 at `end` that hands control back to the runner.
struct Variant {
  const char* start;
  const char* insn;
  const char* end;
};

struct Entry {
  const char* id;
  const char* text;    // the probed instruction in 64-bit mode, as written
  const char* text32;  // and in 32-bit code (compatibility and legacy protected mode)
  Variant bits64;
  Variant bits32;  // compatibility mode; start == nullptr: no 32-bit variant
  Variant bitspm;  // legacy protected mode: the same 32-bit code, another copy
  Input input;
  uint32_t outputs;
  uint32_t flags;
};

extern const Entry CATALOGUE[];
extern const unsigned CATALOGUE_SIZE;

}  // namespace pg
