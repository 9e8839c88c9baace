#include "l0/sim/level_accounting.h"

#include <algorithm>

#include "arch/vmx/exit_reasons.h"
#include "l0/sim/cost_model.h"

namespace nestbed::sim {

LevelAccounting::LevelAccounting(const CostModel& costs, CpuTraceSink* next)
    : vm_exit_cost_(costs[CostClass::vm_exit]), next_(next) {}

LevelStats& LevelAccounting::at(uint8_t level) {
  while (per_level_.size() < level) {
    per_level_.emplace_back();
    per_level_.back().level = unsigned(per_level_.size());
  }
  return per_level_[level - 1];
}

void LevelAccounting::close_stretch(uint8_t level, uint64_t instructions, uint64_t cycles) {
  LevelStats& s = at(level);
  s.instructions += instructions - last_instructions_;
  s.cycles += cycles - last_cycles_;
  last_instructions_ = instructions;
  last_cycles_ = cycles;
}

// The exit's event comes after the VM-exit cost is charged (trace_hooks.h),
// so the guest's stretch ends that many cycles before it. A VM-entry failure
// (SDM 26.8) follows no entry: level 1's VMLAUNCH/VMRESUME took it, but it
// is counted, like the trace counts it, at the level of its VMCS.
void LevelAccounting::hw_exit(const HwExitEvent& e) {
  const uint8_t level = levels_.level_of(e.vmcs);
  if (in_guest_) {
    const uint64_t guest_end = std::max(last_cycles_, e.cycles - std::min(e.cycles, vm_exit_cost_));
    close_stretch(level, e.instructions, guest_end);
  }
  close_stretch(VmcsLevels::ROOT_LEVEL, e.instructions, e.cycles);
  in_guest_ = false;
  LevelStats& s = at(level);
  ++s.hw_exits;
  ++s.exits[arch::vmx::exit_reason_basic(e.exit_reason)];
  if (next_) next_->hw_exit(e);
}

// The entry's event comes when the guest starts: its cost counts at level 1.
void LevelAccounting::hw_entry(const HwEntryEvent& e) {
  close_stretch(VmcsLevels::ROOT_LEVEL, e.instructions, e.cycles);
  in_guest_ = true;
  guest_vmcs_ = e.vmcs;
  if (next_) next_->hw_entry(e);
}

void LevelAccounting::annotation(const AnnotationEvent& e) {
  levels_.note(e);
  if (next_) next_->annotation(e);
}

std::vector<LevelStats> LevelAccounting::finish(uint64_t instructions, uint64_t cycles) {
  close_stretch(in_guest_ ? levels_.level_of(guest_vmcs_) : VmcsLevels::ROOT_LEVEL, instructions, cycles);
  return per_level_;
}

}  // namespace nestbed::sim
