// The CSV files of a sweep (experiments/README.md "The CSV files"), written
// from the runs' folders so that a resumed or merged sweep gives the same
// files as one that ran at once:
//   DIR/results.csv  one row per run: its axes, how it ended, every scalar
//                    field of its --stats JSON, and the workload level's share
//   DIR/levels.csv   one row per run x level: instructions, cycles, hw_exits
//   DIR/exits.csv    one row per run x level x exit reason: hardware exits
// Rows are in the sweep's run order; only the wall-time columns
// (run_seconds, wall_seconds, mips) differ between two sweeps of a SPEC.
#pragma once
#include <string>
#include <vector>

#include "l0/cli/sweep_spec.h"

namespace nestbed::cli::sweep {

struct ResultSummary {
  size_t runs = 0, ok = 0, failed = 0, missing = 0;  // missing: no result.json (not run yet)
};

ResultSummary write_results(const std::vector<const Run*>& runs, const std::string& out_dir);

}  // namespace nestbed::cli::sweep
