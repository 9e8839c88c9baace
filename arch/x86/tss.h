// The 64-bit task-state segment (SDM vol. 3, 8.7, figure 8-11).
#pragma once
#include <stdint.h>

namespace arch {

struct [[gnu::packed]] Tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];  // the stack pointers for CPL 0-2, loaded when an interrupt raises the CPL
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t io_map_base;  // offset of the I/O permission bitmap; at or past the limit: none
};
static_assert(sizeof(Tss64) == 104);

}  // namespace arch

namespace arch {

// The 32-bit task-state segment (SDM vol. 3, 8.2.1, figure 8-2). A
// privilege change reads SS0:ESP0 from it; the rest is the state a hardware
// task switch saves and loads.
struct [[gnu::packed]] Tss32 {
  uint16_t previous_task, reserved0;
  uint32_t esp0;
  uint16_t ss0, reserved1;
  uint32_t esp1;
  uint16_t ss1, reserved2;
  uint32_t esp2;
  uint16_t ss2, reserved3;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint16_t es, reserved4, cs, reserved5, ss, reserved6, ds, reserved7, fs, reserved8, gs, reserved9;
  uint16_t ldt, reserved10;
  uint16_t trap;         // bit 0: T, a #DB on a switch to this task
  uint16_t io_map_base;  // as in Tss64
};
static_assert(sizeof(Tss32) == 104);

}  // namespace arch
