// The three properties of a VMM (Popek & Goldberg 1974), measured per
// depth: equivalence (a workload's output at depth d is its output at depth
// 0), resource control (pg-probe's escape probes reach nothing outside what
// the VMM gives the guest) and efficiency (the share of all instructions
// that the innermost guest executes itself).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nestbed::pg {

// One workload run at one depth, as the command saw it.
struct WorkloadRun {
  std::string output;  // the guest's console output
  int status = 0;      // nestbed's process status
};

struct Equivalence {
  bool equal = false;
  std::string why;  // the first line that differs, or the statuses
};
Equivalence compare_runs(const WorkloadRun& native, const WorkloadRun& nested);

// What one escape probe tried and whether it reached anything.
struct EscapeTry {
  std::string what;   // "mem-read 0x8000000", "msr IA32_FEATURE_CONTROL 0x3a", ...
  std::string answer; // "value=0xffffffffffffffff", "read=ok write=fault13", "stopped by the VMM: ..."
  bool reachable = false;
};
// The escape lines of one `pg-probe escape K` run (workloads/pg-probe/README.md).
// A memory write whose "tried" line has no result line was stopped by what
// ran below the guest: `stop_message` says how (nestbed's stderr line or
// the VMM's last output line).
std::vector<EscapeTry> parse_escape_output(const std::string& output, int status, const std::string& stop_message);

// Efficiency from the --stats JSON's per-level accounting:
//   "levels": [{"level": 1, "instructions": N, "cycles": N, "hw_exits": N, "exits": {...}}, ...]
// the innermost (highest) level's instructions over all levels'. Empty when
// the stats have no "levels" (a build without per-level accounting).
struct Efficiency {
  unsigned innermost_level = 0;
  uint64_t innermost_instructions = 0;
  uint64_t all_instructions = 0;
  double share() const { return all_instructions ? double(innermost_instructions) / double(all_instructions) : 0; }
};
std::optional<Efficiency> efficiency_from_stats(const nlohmann::ordered_json& stats);

}  // namespace nestbed::pg
