// Causal attribution of a sim trace (DESIGN.md §7): what each hardware VM
// exit cost, and which logical exit — an exit as the VMM at level k saw it
// (LOGICAL_EXIT .. LOGICAL_EXIT_DONE annotations) — caused it.
//
// A logical exit of level g handled by level k
//   starts at the hardware exit that took level g out of the CPU: the last
//     HwExit of level g before its LOGICAL_EXIT annotation (else the last
//     HwExit of any level, else the annotation itself);
//   ends at the first HwEntry into a level deeper than k after k's
//     LOGICAL_EXIT_DONE: the moment a guest of k runs again;
//   caused every hardware exit from its start until its end. Under a single
//     VMM that is the one exit it handles; at depth 2 a level-2 logical exit
//     also owns the exits its handler's VMREADs, VMWRITEs and VMRESUME made
//     to level 1 (exit multiplication).
// A hardware exit inside several logical exits is *caused by* the one of
// the highest handler level (the furthest from the hardware).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {

// What a hardware exit cost: modeled cycles from the exit to the next
// VM entry (the root-mode handling). An exit followed by another exit, or
// by nothing, has none.
struct HwExitCost {
  bool timed = false;
  uint64_t cycles = 0;
  std::optional<uint32_t> entry;  // index into ExitTrace::hw_entries
};

struct LogicalExit {
  uint32_t handler_level = 0;   // k: the VMM that saw the exit
  uint32_t guest_level = 0;     // the level that exited
  uint16_t basic_reason = 0;    // as the annotation says
  uint64_t qualification = 0;
  uint32_t annotation = 0;      // index of its LOGICAL_EXIT in ExitTrace::annotations
  std::optional<uint32_t> start_exit;  // the hardware exit it started at (index into hw_exits)
  uint64_t start_cycles = 0;
  bool done = false;            // its LOGICAL_EXIT_DONE was seen
  bool timed = false;           // ... and the VM entry that ended it
  uint64_t end_cycles = 0;
  std::vector<uint32_t> hw_exits;  // the hardware exits it caused, in order
  uint64_t hw_exit_cycles = 0;     // their summed costs (the timed ones)
  std::optional<uint64_t> vmm_cycles;  // what the VMM measured itself (EXIT_COST)

  uint64_t cycles() const { return timed ? end_cycles - start_cycles : 0; }
};

struct Attribution {
  std::vector<HwExitCost> exit_costs;           // one per ExitTrace::hw_exits
  std::vector<LogicalExit> logical_exits;       // in the order of their LOGICAL_EXIT annotations
  std::vector<std::optional<uint32_t>> causes;  // per hardware exit: index into logical_exits
};

Attribution attribute(const ExitTrace& trace);

}  // namespace nestbed::trace
