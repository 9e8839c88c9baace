// Runs a sweep's runs as subprocesses of this same nestbed binary
// (`nestbed run ... --stats`), each in DIR/runs/<id>/, up to `jobs` at a time,
// with progress on stderr. A run that fails (any status but the workload's
// success, 1) or outlives the SPEC's timeout is recorded with its status and
// the sweep goes on.
#pragma once
#include <string>
#include <vector>

#include "l0/cli/sweep_spec.h"

namespace nestbed::cli::sweep {

struct RunnerOptions {
  std::string out_dir;
  std::string nestbed;  // this binary
  std::string images;   // folder of the workload and l1-vmm images
  unsigned jobs = 1;
  bool resume = false;  // skip runs whose successful results exist for the same parameters
};

struct SweepTally {
  size_t ran = 0, skipped = 0, failed = 0;
  double seconds = 0;
};

// A word of a shell command, single-quoted when it needs it (command.txt,
// the Slurm script).
std::string shell_word(const std::string& word);

// The `nestbed run` arguments of a run (after "nestbed run"), its files in `run_dir`.
std::vector<std::string> run_arguments(const Spec& spec, const Run& run, const std::string& images,
                                       const std::string& run_dir);

// Runs `runs` (a subset of spec.runs: a shard, or all). Throws InputError
// when an image is missing or DIR cannot be written.
SweepTally run_sweep(const Spec& spec, const std::vector<const Run*>& runs, const RunnerOptions& opts);

}  // namespace nestbed::cli::sweep
