// A block: straight-line decoded instructions starting at one physical
// address, ending at a control transfer, a state-changing system
// instruction, a page boundary, or a size cap. Cached by (physical address,
// decode mode) and dropped when guest code writes to a page it came from.
#pragma once
#include <cstdint>
#include <vector>

#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/decoded_insn.h"

namespace nestbed::sim {

struct Block {
  uint64_t pa = 0;
  CpuMode mode = CpuMode::Bits64;
  uint64_t pages[2] = {~0ull, ~0ull};  // physical pages the block's bytes came from
  uint32_t bytes = 0;                  // its length in bytes, from pa (across pages[0] and pages[1])
  // The block's bytes on physical page `page`, as offsets [first, end).
  bool range_on(uint64_t page, unsigned* first, unsigned* end) const {
    const unsigned off = unsigned(pa & 0xfff);
    if (page == pages[0]) {
      *first = off;
      *end = off + bytes > 0x1000 ? 0x1000 : off + bytes;
      return true;
    }
    if (page == pages[1] && off + bytes > 0x1000) {
      *first = 0;
      *end = off + bytes - 0x1000;
      return true;
    }
    return false;
  }
  // Where its final branch, a relative JMP or Jcc, may go, as offsets from
  // pa: the target and, for a Jcc, the next instruction. Returns how many
  // (0 for any other last instruction). (cpu.cpp)
  int branch_targets(int64_t out[2]) const;
  bool dead = false;
  std::vector<DecodedInsn> insns;
  uint32_t count = 0;  // insns.size(), kept for the run loop
  // The fast path's entries: count, or count - 1 when the last two
  // instructions are one fused entry (DecodedInsn::fast).
  uint32_t fast_entries = 0;
  const DecodedInsn* fast_end = nullptr;  // insns.data() + fast_entries
  // The cycles and instructions of running the fast path's entries to the
  // end (side by side, as the CPU's counters: retiring is one 128-bit add).
  uint64_t total_cost = 0;
  uint64_t total_count = 0;
  // The blocks that followed this one last time, by linear RIP; valid while
  // the CPU's code generation is unchanged (no TLB flush, mode change or
  // code invalidation since).
  struct Successor {
    uint64_t la = ~0ull;
    uint64_t generation = 0;
    Block* block = nullptr;
  };
  Successor successors[2];
  unsigned next_successor = 0;
  // Its translation (l0/sim/jit/translator.h), valid while the code
  // buffer's epoch is jit_epoch; `runs` counts interpreted runs until the
  // block is hot enough to translate.
  const uint8_t* jit_code = nullptr;
  const uint8_t* jit_warm = nullptr;  // the entry from a chained translation
  uint64_t jit_epoch = 0;
  uint32_t runs = 0;
  // The other block of a loop of two whose translation runs both
  // (Cpu::loop_partner): the two are dropped together, since each one's
  // translation holds the other's code.
  Block* partner = nullptr;
};

}  // namespace nestbed::sim
