#include "exit-tracer/trace_summary.h"

#include <linux/kvm.h>

#include <algorithm>
#include <cinttypes>
#include <map>
#include <tuple>

#include "arch/vmx/exit_qualification.h"
#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/exit_decoder.h"

namespace nestbed::trace {
namespace {

// Rows keyed by whatever identifies them, in a map so each is found once.
template <typename Key>
class RowSet {
 public:
  CostRow& row(const Key& key, const std::string& label) {
    auto [it, added] = rows_.try_emplace(key);
    if (added) it->second.label = label;
    return it->second;
  }
  // Most frequent first; ties by label, so the output is stable.
  std::vector<CostRow> sorted() const {
    std::vector<CostRow> rows;
    for (const auto& [key, row] : rows_) rows.push_back(row);
    std::sort(rows.begin(), rows.end(), [](const CostRow& a, const CostRow& b) {
      return std::tie(b.count, a.label) < std::tie(a.count, b.label);
    });
    return rows;
  }
  // In key order (levels ascending).
  std::vector<CostRow> by_key() const {
    std::vector<CostRow> rows;
    for (const auto& [key, row] : rows_) rows.push_back(row);
    return rows;
  }

 private:
  std::map<Key, CostRow> rows_;
};

void add(CostRow& row, bool timed, uint64_t cycles) {
  ++row.count;
  if (!timed) return;
  ++row.timed;
  row.total_cycles += cycles;
}

// "port 0x80 out", "mmio 0xfee000b0 write", "msr 0x1b read"; "" for exits that access nothing.
std::string access_label(const UserExit& e) {
  const bool write = e.access == uint8_t(Access::Write);
  switch (e.reason) {
    case KVM_EXIT_IO: return "port " + hex(e.address) + (write ? " out" : " in");
    case KVM_EXIT_MMIO: return "mmio " + hex(e.address) + (write ? " write" : " read");
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR: return "msr " + hex(e.address) + (write ? " write" : " read");
    default: return "";
  }
}

void summarize_user_exits(const ExitTrace& trace, TraceSummary& s) {
  RowSet<uint32_t> by_reason;
  RowSet<std::tuple<uint32_t, uint64_t, uint8_t>> by_access;
  for (const UserExit& e : trace.user_exits) {
    const bool timed = e.tsc_resume != 0;
    const uint64_t cycles = timed ? e.tsc_resume - e.tsc_exit : 0;
    add(by_reason.row(e.reason, trace.name(NameSpace::KvmExitReason, e.reason)), timed, cycles);
    std::string label = access_label(e);
    if (!label.empty()) add(by_access.row({e.reason, e.address, e.access}, label), timed, cycles);
  }
  s.user_exits = by_reason.sorted();
  s.user_accesses = by_access.sorted();
}

// Each kernel exit is timed to the vCPU's next kvm_entry; one followed by
// another exit first (or by nothing) has no cost.
void summarize_kernel_exits(const ExitTrace& trace, TraceSummary& s) {
  RowSet<uint32_t> exits, nested;
  CostRow* open = nullptr;
  uint64_t open_tsc = 0;
  for (const KernelEvent& e : trace.kernel_events) {
    const auto kind = KernelEventKind(e.kind);
    if (kind == KernelEventKind::Entry) {
      ++s.kernel_entries;
      if (open) add(*open, true, e.tsc - open_tsc);
      open = nullptr;
    } else if (kind == KernelEventKind::Exit || kind == KernelEventKind::NestedExit) {
      if (open) add(*open, false, 0);
      RowSet<uint32_t>& rows = kind == KernelEventKind::Exit ? exits : nested;
      open = &rows.row(e.reason, trace.name(NameSpace::KernelExitReason, e.reason));
      open_tsc = e.tsc;
    }
  }
  if (open) add(*open, false, 0);
  s.kernel_exits = exits.sorted();
  s.nested_exits = nested.sorted();
}

// kvm_userspace_exit to the user exit it announced: the first whose
// KVM_RUN returned at or after the tracepoint.
void summarize_kernel_to_user(const ExitTrace& trace, TraceSummary& s) {
  RowSet<uint32_t> rows;
  auto user = trace.user_exits.begin();
  for (const KernelEvent& e : trace.kernel_events) {
    if (KernelEventKind(e.kind) != KernelEventKind::UserspaceExit) continue;
    while (user != trace.user_exits.end() && user->tsc_exit < e.tsc) ++user;
    const bool timed = user != trace.user_exits.end();
    add(rows.row(e.reason, trace.name(NameSpace::KvmExitReason, e.reason)), timed, timed ? user->tsc_exit - e.tsc : 0);
  }
  s.kernel_to_user = rows.sorted();
}

// ---- the sim ----

// "CPUID", or "CPUID (VM-entry failure)" for an entry-failure exit.
std::string hw_reason_label(const ExitTrace& trace, uint32_t exit_reason) {
  std::string label = trace.name(NameSpace::VmxExitReason, arch::vmx::exit_reason_basic(exit_reason));
  if (arch::vmx::exit_reason_is_entry_failure(exit_reason)) label += " (VM-entry failure)";
  return label;
}

// The key of a reason row: the basic reason and the entry-failure bit.
uint32_t hw_reason_key(uint32_t exit_reason) {
  return arch::vmx::exit_reason_basic(exit_reason) |
         (arch::vmx::exit_reason_is_entry_failure(exit_reason) ? 0x80000000u : 0u);
}

// "port 0x80 out" for an I/O-instruction exit (qualification: SDM 27.2.1,
// table 27-5), keyed by port and direction, as the kvm summary's accesses.
std::string io_port_label(uint64_t qualification) {
  namespace io = arch::vmx::qual_io;
  return "port " + hex(io::PORT.get(qualification)) + (io::DIRECTION.get(qualification) == io::IN ? " in" : " out");
}
uint32_t io_port_key(uint64_t qualification) {
  namespace io = arch::vmx::qual_io;
  return uint32_t(io::PORT.get(qualification) << 1 | io::DIRECTION.get(qualification));
}

void summarize_hw_exits(const ExitTrace& trace, const Attribution& a, SimSummary& s) {
  RowSet<uint32_t> levels;
  std::map<uint32_t, RowSet<uint32_t>> reasons, ports;
  for (size_t i = 0; i < trace.hw_exits.size(); ++i) {
    const HwExit& e = trace.hw_exits[i];
    const HwExitCost& c = a.exit_costs[i];
    add(levels.row(e.level, "level " + std::to_string(e.level)), c.timed, c.cycles);
    add(reasons[e.level].row(hw_reason_key(e.exit_reason), hw_reason_label(trace, e.exit_reason)), c.timed, c.cycles);
    if (e.exit_reason == uint32_t(arch::vmx::ExitReason::IO_INSTRUCTION))
      add(ports[e.level].row(io_port_key(e.qualification), io_port_label(e.qualification)), c.timed, c.cycles);
  }
  s.levels = levels.by_key();
  for (const auto& [level, rows] : reasons) s.reasons.push_back({level, rows.sorted()});
  for (const auto& [level, rows] : ports) s.io_ports.push_back({level, rows.sorted()});
}

void add(LogicalRow& row, const LogicalExit& le) {
  add(row.cost, le.timed, le.cycles());
  row.hw_exits += le.hw_exits.size();
  row.hw_exit_cycles += le.hw_exit_cycles;
  if (le.vmm_cycles) {
    ++row.vmm_measured;
    row.vmm_cycles += *le.vmm_cycles;
  }
}

std::vector<LogicalRow> most_frequent_first(const std::map<uint64_t, LogicalRow>& rows) {
  std::vector<LogicalRow> sorted;
  for (const auto& [key, row] : rows) sorted.push_back(row);
  std::sort(sorted.begin(), sorted.end(), [](const LogicalRow& a, const LogicalRow& b) {
    return std::tie(b.cost.count, a.cost.label) < std::tie(a.cost.count, b.cost.label);
  });
  return sorted;
}

// Rows are keyed by the guest level and reason, labeled "CPUID" (or
// "CPUID of level 3" when the handler saw exits of several levels).
void summarize_logical_exits(const ExitTrace& trace, const Attribution& a, SimSummary& s) {
  std::map<uint32_t, std::map<uint64_t, LogicalRow>> by_level;
  for (const LogicalExit& le : a.logical_exits) {
    const uint64_t key = uint64_t(le.guest_level) << 16 | le.basic_reason;
    LogicalRow& row = by_level[le.handler_level][key];
    if (row.cost.label.empty())
      row.cost.label = trace.name(NameSpace::VmxExitReason, le.basic_reason) +
                       (le.guest_level == le.handler_level + 1 ? "" : " of level " + std::to_string(le.guest_level));
    add(row, le);
  }
  for (const auto& [level, rows] : by_level) s.logical.push_back({level, most_frequent_first(rows)});
}

CostRow total_of(const std::vector<CostRow>& rows) {
  CostRow total;
  total.label = "all";
  for (const CostRow& r : rows) {
    total.count += r.count;
    total.timed += r.timed;
    total.total_cycles += r.total_cycles;
  }
  return total;
}

// Means are over the timed exits; a row with none (the run's last exit) shows "-".
void print_row(std::FILE* out, const CostRow& r, uint64_t tsc_hz) {
  std::fprintf(out, "  %-32s %10" PRIu64 " %16" PRIu64, r.label.c_str(), r.count, r.total_cycles);
  if (r.timed == 0) {
    std::fprintf(out, " %14s%s\n", "-", tsc_hz ? "            -" : "");
    return;
  }
  std::fprintf(out, " %14.1f", r.mean_cycles());
  if (tsc_hz) std::fprintf(out, " %12.1f", r.mean_cycles() * 1e9 / double(tsc_hz));
  std::fputc('\n', out);
}

void print_table(std::FILE* out, const char* title, const std::vector<CostRow>& rows, uint64_t tsc_hz,
                 bool with_total) {
  std::fprintf(out, "\n%s\n", title);
  if (rows.empty()) {
    std::fprintf(out, "  (none recorded)\n");
    return;
  }
  std::fprintf(out, "  %-32s %10s %16s %14s%s\n", "", "count", "total cycles", "mean cycles", tsc_hz ? "      mean ns" : "");
  for (const CostRow& r : rows) print_row(out, r, tsc_hz);
  if (with_total && rows.size() > 1) print_row(out, total_of(rows), tsc_hz);
}

// Logical exits: the kvm columns, then the hardware exits they caused (per
// logical exit: the exit multiplication) and what those cost, and the mean
// the VMM measured itself where it said (EXIT_COST).
void print_logical_table(std::FILE* out, const LogicalLevelRows& level) {
  std::fprintf(out,
               "\nlogical exits handled by level %u, by reason (cost: the guest's exit -> the entry that resumes a "
               "guest of level %u; hw: the hardware exits they caused)\n",
               level.handler_level, level.handler_level);
  std::fprintf(out, "  %-32s %10s %16s %14s %10s %12s %16s %14s\n", "", "count", "total cycles", "mean cycles",
               "hw exits", "hw per exit", "hw total cycles", "vmm mean");
  for (const LogicalRow& r : level.rows) {
    const CostRow& c = r.cost;
    std::fprintf(out, "  %-32s %10" PRIu64 " %16" PRIu64, c.label.c_str(), c.count, c.total_cycles);
    if (c.timed)
      std::fprintf(out, " %14.1f", c.mean_cycles());
    else
      std::fprintf(out, " %14s", "-");
    std::fprintf(out, " %10" PRIu64 " %12.2f %16" PRIu64, r.hw_exits, r.hw_exits_per_exit(), r.hw_exit_cycles);
    if (r.vmm_measured)
      std::fprintf(out, " %14.1f\n", double(r.vmm_cycles) / double(r.vmm_measured));
    else
      std::fprintf(out, " %14s\n", "-");
  }
}

// What the tables' words mean (README "Levels and depth", TRACE_FORMAT.md).
const char* const SIM_LEGEND =
    "\nlevel 1 is the program l0 boots (l1-vmm, in VMX root operation); level k + 1 is the guest of level k.\n"
    "A run at depth d has d VMM levels: its workload runs at level d + 1, and every hardware VM exit is an\n"
    "exit of some level >= 2 to level 1.\n"
    "cost of a hardware exit: modeled cycles from the VM exit to the next VM entry: the VM-exit transition\n"
    "(cost class vm_exit), everything level 1 ran meanwhile, and the VM-entry transition (vm_entry).\n"
    "cost of a logical exit: from the hardware exit that took its guest off the CPU to the VM entry that\n"
    "resumes a guest of its handler; vmm mean: the handler's own RDTSC measurement (EXIT_COST annotations).\n";

void print_sim_summary(const ExitTrace& trace, std::FILE* out) {
  const SimSummary s = summarize_sim(trace, attribute(trace));
  std::fprintf(out, "  records: %zu hardware exits, %zu VM entries, %zu annotations\n", trace.hw_exits.size(),
               trace.hw_entries.size(), trace.annotations.size());
  std::fputs(SIM_LEGEND, out);
  const uint64_t hz = trace.tsc_hz;
  print_table(out, "hardware VM exits by level (cost: exit -> next VM entry, in modeled cycles)", s.levels, hz, true);
  for (const LevelRows& level : s.reasons) {
    const std::string title = "hardware VM exits of level " + std::to_string(level.level) + " by reason";
    print_table(out, title.c_str(), level.rows, hz, true);
  }
  for (const LevelRows& level : s.io_ports) {
    const std::string title = "I/O-instruction exits of level " + std::to_string(level.level) + " by port";
    print_table(out, title.c_str(), level.rows, hz, false);
  }
  if (s.logical.empty())
    std::fprintf(out, "\nlogical exits: none annotated (LOGICAL_EXIT, arch/trace_annotations.h)\n");
  for (const LogicalLevelRows& level : s.logical) print_logical_table(out, level);
}

void print_kvm_summary(const ExitTrace& trace, std::FILE* out) {
  const TraceSummary s = summarize(trace);
  std::fprintf(out, "  records: %zu exits to user space, %zu kernel events", trace.user_exits.size(),
               trace.kernel_events.size());
  if (trace.kernel_events_lost) std::fprintf(out, ", %" PRIu64 " kernel events lost", trace.kernel_events_lost);
  std::fputc('\n', out);

  const uint64_t hz = trace.tsc_hz;
  print_table(out, "exits to user space by reason (cost: KVM_RUN returned -> next KVM_RUN)", s.user_exits, hz, true);
  print_table(out, "exits to user space by access", s.user_accesses, hz, false);
  print_table(out, "kernel kvm:kvm_exit by reason (cost: exit -> next kvm:kvm_entry)", s.kernel_exits, hz, true);
  if (!s.nested_exits.empty())
    print_table(out, "kernel kvm:kvm_nested_vmexit by reason (cost: exit -> next kvm:kvm_entry)", s.nested_exits, hz,
                true);
  print_table(out, "kernel kvm:kvm_userspace_exit (cost: tracepoint -> KVM_RUN returned in user space)",
              s.kernel_to_user, hz, true);
}

}  // namespace

TraceSummary summarize(const ExitTrace& trace) {
  TraceSummary s;
  summarize_user_exits(trace, s);
  summarize_kernel_exits(trace, s);
  summarize_kernel_to_user(trace, s);
  return s;
}

SimSummary summarize_sim(const ExitTrace& trace, const Attribution& attribution) {
  SimSummary s;
  summarize_hw_exits(trace, attribution, s);
  summarize_logical_exits(trace, attribution, s);
  s.hw_entries = trace.hw_entries.size();
  s.annotations = trace.annotations.size();
  return s;
}

void print_trace_summary(const ExitTrace& trace, const std::string& origin, std::FILE* out) {
  std::fprintf(out, "%s: nestbed trace %u.%u", origin.c_str(), unsigned(trace.version_major),
               unsigned(trace.version_minor));
  if (trace.tsc_hz) std::fprintf(out, ", TSC %.3f GHz", double(trace.tsc_hz) / 1e9);
  std::fputc('\n', out);
  for (const auto& [key, value] : trace.notes) std::fprintf(out, "  %s: %s\n", key.c_str(), value.c_str());
  if (trace.from_sim())
    print_sim_summary(trace, out);
  else
    print_kvm_summary(trace, out);
}

}  // namespace nestbed::trace
