// Per-level accounting for --stats (l0/level_stats.h): the sim CPU's
// hardware VM entries and exits split its run into stretches of code at one
// level — level 1 (the program l0 boots) between an exit and the next entry,
// the level of the entered VMCS (VmcsLevels, the trace recorder's answer)
// between an entry and its exit — and each stretch's retired instructions
// and modeled cycles count at its level.
//
// The modeled cost of a VM entry and of a VM exit counts at level 1: the
// transition is what the VMM's use of VMX costs, not work of its guest.
// Sums over the levels equal the run's totals (instructions, cycles,
// vm_exits).
#pragma once
#include <cstdint>
#include <vector>

#include "l0/level_stats.h"
#include "l0/sim/trace_hooks.h"
#include "l0/sim/vmcs_levels.h"

namespace nestbed::sim {

class CostModel;

class LevelAccounting final : public CpuTraceSink {
 public:
  // Passes every event on to `next` (the trace recorder) when there is one.
  LevelAccounting(const CostModel& costs, CpuTraceSink* next);

  void hw_exit(const HwExitEvent& e) override;
  void hw_entry(const HwEntryEvent& e) override;
  void annotation(const AnnotationEvent& e) override;
  // Only the trace recorder behind it reads the exiting instruction's bytes.
  bool wants_instruction_bytes() const override { return next_ && next_->wants_instruction_bytes(); }

  // Closes the last stretch at the run's totals; levels 1..deepest seen.
  std::vector<LevelStats> finish(uint64_t instructions, uint64_t cycles);

 private:
  // Counts what ran since the last boundary at `level`, up to (instructions, cycles).
  void close_stretch(uint8_t level, uint64_t instructions, uint64_t cycles);
  LevelStats& at(uint8_t level);

  const uint64_t vm_exit_cost_;
  CpuTraceSink* next_;
  VmcsLevels levels_;
  bool in_guest_ = false;
  uint64_t guest_vmcs_ = 0;
  uint64_t last_instructions_ = 0, last_cycles_ = 0;  // the last boundary
  std::vector<LevelStats> per_level_;                  // [k - 1]: level k
};

}  // namespace nestbed::sim
