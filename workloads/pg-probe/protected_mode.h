// The probe's 32-bit protected-mode world: legacy mode with paging off, its
// own IDT of 32-bit gates and two 32-bit TSSs (SS0:ESP0 for a fault at
// CPL 3), entered by leaving IA-32e mode for one run and left by entering
// it again when the run ends (SDM vol. 3, 10.8.5).
#pragma once
#include <stdint.h>

#include "workloads/pg-probe/world.h"

namespace pg {

// A run in that world: the snippet's entry state. The configuration's
// resources the 64-bit world cannot carry over (IDTR: 32-bit gates; TR: a
// 32-bit TSS) are this world's own alternates; the others (GDTR, LDTR,
// CR0.TS, CR3, CR4, RFLAGS) are the ones apply_config set.
struct ProtectedLaunch {
  uint32_t eip, cs, eflags, esp, ss;
  uint32_t regs[6];  // eax, ecx, edx, ebx, esi, edi
  uint16_t data_selector;  // DS, ES, FS, GS at the launch
  Config config;
};

// How it ended: the exception (the snippet's UD2 or a fault before it),
// its frame, the registers, and the privileged state before and after.
struct ProtectedExit {
  uint32_t vector, error_code, eip, eflags;
  uint32_t regs[6];  // eax, ecx, edx, ebx, esi, edi
  Snapshot before, after;
};

// Builds the IDT (once, after world_init).
void protected_mode_init();

// The address of a 6-byte pseudo-descriptor of a copy of this world's IDT
// (LIDT's operand in protected mode).
uint64_t protected_mode_alt_idtr();

// Runs one launch in 32-bit protected mode and comes back to 64-bit mode
// (the base state is the caller's to restore).
ProtectedExit run_in_protected_mode(const ProtectedLaunch& launch);

}  // namespace pg
