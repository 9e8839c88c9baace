// A sweep beyond one machine, on Slurm (DESIGN.md §7: Slurm is the engine
// beyond one machine; nestbed writes no scheduler of its own):
//   nestbed sweep SPEC --out DIR --slurm SCRIPT_DIR [--tasks N]
// writes a job-array script in which array task i runs
//   nestbed sweep SPEC --out DIR --shard i/N --resume
// on a cluster node (DIR on a shared file system), and
//   nestbed sweep merge DIR
// writes the CSV files from every run's folder, as a local sweep does.
#pragma once
#include <string>
#include <vector>

#include "l0/cli/sweep_spec.h"

namespace nestbed::cli::sweep {

struct Shard {
  unsigned index = 1, count = 1;  // this is shard `index` of `count` (1-based)
};

// Parses "i/N" (1 <= i <= N). Throws InputError naming the text.
Shard parse_shard(const std::string& text);

// The runs of one shard: run k belongs to shard (k mod N) + 1, so every
// shard gets a share of each part of the cross product.
std::vector<const Run*> shard_runs(const Spec& spec, const Shard& shard);

// Writes SCRIPT_DIR/sweep.sbatch (SCRIPT_DIR/logs/ for the tasks' output);
// returns the script's path.
std::string write_slurm_script(const Spec& spec, const std::string& script_dir, unsigned tasks,
                               const std::string& nestbed, const std::string& out_dir, const std::string& images);

// DIR/sweep.json: the SPEC (absolute path) a sweep folder belongs to, for merge.
void record_sweep(const std::string& out_dir, const std::string& spec_path);
std::string recorded_spec(const std::string& out_dir);

}  // namespace nestbed::cli::sweep
