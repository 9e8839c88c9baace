// `nestbed trace summary`: counts and costs per exit reason in a trace —
// the kvm engine's user-space and kernel exits, or the sim's hardware VM
// exits per level and reason and its logical exits per handler level.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "exit-tracer/attribution.h"
#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {

// One line of a summary table.
struct CostRow {
  std::string label;
  uint64_t count = 0;
  uint64_t timed = 0;         // how many of them have a cost (the last exit of a run has none)
  uint64_t total_cycles = 0;  // summed over the timed ones
  double mean_cycles() const { return timed ? double(total_cycles) / double(timed) : 0.0; }
};

struct TraceSummary {
  // Exits that reached user space, by KVM exit reason; cost = TSC from
  // KVM_RUN's return to the next KVM_RUN (the user-space handling).
  std::vector<CostRow> user_exits;
  // The same exits by what they accessed: "port 0x80 out", "mmio 0xfee000b0 write", "msr 0x1b read".
  std::vector<CostRow> user_accesses;
  // kvm:kvm_exit / kvm:kvm_nested_vmexit by the kernel's reason name; cost =
  // TSC to the vCPU's next kvm:kvm_entry (kernel handling, plus user space
  // when the exit went there).
  std::vector<CostRow> kernel_exits;
  std::vector<CostRow> nested_exits;
  // kvm:kvm_userspace_exit by KVM exit reason; cost = TSC from the
  // tracepoint to KVM_RUN's return in user space (the way out of the kernel).
  std::vector<CostRow> kernel_to_user;
  uint64_t kernel_entries = 0;
};

TraceSummary summarize(const ExitTrace& trace);

// ---- the sim engine (costs in modeled cycles) ----

struct LevelRows {
  uint32_t level = 0;
  std::vector<CostRow> rows;  // by exit reason, most frequent first
};

// Logical exits of one reason handled by one level.
struct LogicalRow {
  CostRow cost;                  // cost: the guest's hardware exit -> the entry that resumed a guest
  uint64_t hw_exits = 0;         // hardware exits they caused
  uint64_t hw_exit_cycles = 0;   // and those exits' summed costs
  uint64_t vmm_measured = 0;     // how many carry the VMM's own measurement (EXIT_COST)
  uint64_t vmm_cycles = 0;       // its sum
  double hw_exits_per_exit() const { return cost.count ? double(hw_exits) / double(cost.count) : 0.0; }
};

struct LogicalLevelRows {
  uint32_t handler_level = 0;
  std::vector<LogicalRow> rows;  // by the annotated basic exit reason, most frequent first
};

struct SimSummary {
  std::vector<CostRow> levels;                 // hardware exits per level ("level 2"), by level
  std::vector<LevelRows> reasons;              // hardware exits per level and reason, by level
  std::vector<LogicalLevelRows> logical;       // logical exits per handler level and reason, by level
  std::vector<LevelRows> io_ports;             // IO_INSTRUCTION exits per level and port ("port 0x80 out"), by level
  uint64_t hw_entries = 0;
  uint64_t annotations = 0;
};

SimSummary summarize_sim(const ExitTrace& trace, const Attribution& attribution);

// Prints the notes and the tables (the kvm engine's, or the sim's when the
// file holds sim records or says engine=sim); `origin` names the file.
void print_trace_summary(const ExitTrace& trace, const std::string& origin, std::FILE* out);

}  // namespace nestbed::trace
