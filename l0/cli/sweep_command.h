// `nestbed sweep SPEC --out DIR [-j N] [--resume]`: runs every run of a
// sweep SPEC (l0/cli/sweep_spec.h; format in experiments/README.md) as a
// subprocess `nestbed run ... --stats`, and writes DIR/results.csv,
// DIR/levels.csv and DIR/exits.csv (l0/cli/sweep_results.h).
// On Slurm (l0/cli/sweep_slurm.h): `--slurm SCRIPT_DIR [--tasks N]` writes a
// job-array script instead of running, `--shard i/N` runs one task's share,
// and `nestbed sweep merge DIR` writes the CSV files of the whole sweep.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

class SweepCommand {
 public:
  explicit SweepCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Throws InputError for a bad SPEC (naming its line), a missing image or
  // an output folder that cannot be written. Runs that fail are recorded,
  // not errors: the status is 0 once every run has been tried.
  int execute();

 private:
  int merge() const;
  int write_slurm(const std::string& nestbed, const std::string& images) const;

  std::string spec_path_;
  std::string out_dir_;
  std::string images_;
  unsigned jobs_ = 1;
  bool resume_ = false;
  bool list_ = false;
  std::string shard_;
  std::string slurm_dir_;
  unsigned tasks_ = 0;
  std::string merge_dir_;
  CLI::App* command_;
  CLI::App* merge_;
};

}  // namespace nestbed::cli
