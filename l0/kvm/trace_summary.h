// `nestbed trace summary`: counts and costs per exit reason in a trace.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "l0/kvm/exit_trace.h"

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

// Prints the notes and the tables; `origin` names the file.
void print_trace_summary(const ExitTrace& trace, const std::string& origin, std::FILE* out);

}  // namespace nestbed::trace
