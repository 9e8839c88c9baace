// Per-level accounting of a run (DESIGN.md §1 "level k"): what code at each
// level executed and which hardware exits it took. Engines that measure it
// (sim: l0/sim/level_accounting.h) fill RunStats::levels; the --stats JSON
// reports it as "levels" (l0/cli/levels_json.h).
#pragma once
#include <cstdint>
#include <map>

namespace nestbed {

struct LevelStats {
  unsigned level = 0;         // 1: the program l0 boots; k+1: level k's guest
  uint64_t instructions = 0;  // instructions retired by code at this level
  uint64_t cycles = 0;        // modeled cycles while it ran (VM transitions count at level 1)
  uint64_t hw_exits = 0;      // hardware VM exits out of code at this level
  std::map<uint16_t, uint64_t> exits;  // the same by basic exit reason (SDM Appendix C)
};

}  // namespace nestbed
