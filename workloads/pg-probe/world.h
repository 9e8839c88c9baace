// The probe's world: its own GDT (with 32-bit and user segments, two
// 64-bit and two 32-bit TSSs, two LDTs), user-accessible page tables,
// stacks, and the configurations that each change one resource of the base
// one. The 32-bit protected-mode world's IDT is protected_mode.cpp's.
#pragma once
#include <stdint.h>

namespace pg {

// GDT selectors. 0x08/0x10 stay the runtime's (the IDT's gates use 0x08).
// TSS_A/B are 64-bit TSSs (16-byte descriptors); TSS32_A/B the 32-bit ones
// the protected-mode world loads (protected_mode.h). The LDT descriptors'
// first 8 bytes serve in both.
inline constexpr uint16_t KCODE64 = 0x08, KDATA = 0x10, KCODE32 = 0x18;
inline constexpr uint16_t UCODE32 = 0x20 | 3, UDATA = 0x28 | 3, UCODE64 = 0x30 | 3;
inline constexpr uint16_t TSS_A = 0x38, TSS_B = 0x48, LDT_A = 0x58, LDT_B = 0x68;
inline constexpr uint16_t TSS32_A = 0x78, TSS32_B = 0x80;

// Each configuration differs from BASE in the one resource its name says.
enum class Config : unsigned { BASE, GDTR, IDTR, LDTR, TR, CR0_TS, CR3, IOPL3, IF, UMIP, TSD, COUNT };
const char* config_name(Config c);
// UMIP and TSD need CPU support (CPUID); the others always run.
bool config_supported(Config c);

// The privileged state the experiment compares before and after a run.
struct Snapshot {
  uint64_t cr0, cr3, cr4, efer, dr7;
  uint64_t gdtr_base, idtr_base;
  uint16_t gdtr_limit, idtr_limit, ldtr, tr, ds, es, fs, gs;
  uint64_t rflags_sys;  // IF, IOPL, AC of RFLAGS
  uint64_t sysenter_esp, gs_base, kernel_gs_base;
  uint8_t uart_scr;     // COM1's scratch register: an I/O device's state
};
// Everything but rflags_sys (the caller's: the runner's launch value or the
// exception frame's).
Snapshot take_snapshot(uint64_t rflags);

// Prints "name:old:new" (hex) for each field that differs, comma
// separated, or "-" when none.
void print_diff(const Snapshot& before, const Snapshot& after);

// Builds the world (once, before any run).
void world_init();
// Applies `c` on top of the base state (CPL 0); returns the RFLAGS bits the
// launch must set (IOPL, IF).
uint64_t apply_config(Config c);
// Puts the base state back after a run, whatever the snippet changed.
void restore_base();
// Loads DS, ES, FS and GS with `sel` (the launch CPL's data segment).
void load_data_segments(uint16_t sel);
// Marks both 32-bit TSSs available in the GDT GDTR points at, so that the
// protected-mode world can LTR one.
void make_tss32_available();

// The addresses the inputs point at.
struct Alternates {
  uint64_t gdtr_pseudo;  // a 10-byte pseudo-descriptor of a GDT copy
  uint64_t idtr_pseudo;
  uint64_t pml4;         // a copy of the base PML4
};
const Alternates& alternates();
uint64_t base_cr0();
uint64_t base_cr4();

// Stacks: the CPL-0 snippets', the CPL-3 snippets' (user), and the TSS's RSP0.
uint64_t kernel_probe_stack_top();
uint64_t user_stack_top();
// The result buffer rdi points at (user-writable, 16 bytes used).
uint8_t* result_buffer();

}  // namespace pg
