// Helpers shared by instruction handlers that can cause VM exits.
#pragma once
#include <cstdint>

#include "arch/vmx/vmx.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

// Is the primary processor-based control `bit` set for the running guest?
inline bool proc_exiting(Cpu& c, uint32_t bit) { return c.non_root() && (c.vmx().controls().proc & bit); }
inline bool proc2_exiting(Cpu& c, uint32_t bit) { return c.non_root() && (c.vmx().controls().proc2 & bit); }

// The memory-operand part of VM-exit instruction information (SDM 27.2.4,
// tables 27-9 .. 27-14 share it): scaling, address size, segment, index,
// base. Register operands: the caller sets MEM_REG and REG1.
inline uint32_t memory_operand_info(const DecodedInsn& i) {
  namespace f = arch::vmx::insn_info_vmx;
  const uint64_t addr = i.addrsize == 2 ? 0 : i.addrsize == 4 ? 1 : 2;
  uint64_t info = f::SCALING.make(i.mem_scale) | f::ADDRESS_SIZE.make(addr) | f::SEGMENT.make(i.mem_seg_arch);
  if (i.mem_index < 16)
    info |= f::INDEX_REG.make(i.mem_index);
  else
    info |= f::INDEX_INVALID.mask;
  if (i.mem_base < 16)
    info |= f::BASE_REG.make(i.mem_base);
  else
    info |= f::BASE_INVALID.mask;
  return uint32_t(info);
}

// Exit qualification of instructions with a memory operand: the displacement (SDM 27.2.1).
inline uint64_t displacement_qualification(const DecodedInsn& i) { return uint64_t(i.disp); }

}  // namespace nestbed::sim
