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
