#include "l0/cli/sweep_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "l0/cli/sweep_results.h"
#include "l0/cli/sweep_runner.h"
#include "l0/cli/sweep_slurm.h"
#include "l0/cli/sweep_spec.h"
#include "l0/engine.h"

namespace nestbed::cli {
namespace {

namespace fs = std::filesystem;

const char* const DESCRIPTION =
    "Run a sweep: every combination of the axes a TOML SPEC names (workload, depth, engine, l1-vmm options, "
    "cost model, memory) as `nestbed run ... --stats`, into DIR/runs/<id>/, and write DIR/results.csv, "
    "DIR/levels.csv and DIR/exits.csv (experiments/README.md).";

// This binary, so that every run uses the nestbed that runs the sweep.
std::string self_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw InputError("cannot find the nestbed binary (/proc/self/exe): " + ec.message());
  return p.string();
}

// The images built beside nestbed: build/bin/nestbed -> build/images.
std::string default_images(const std::string& nestbed) {
  return (fs::path(nestbed).parent_path().parent_path() / "images").string();
}

}  // namespace

SweepCommand::SweepCommand(CLI::App& app) {
  command_ = app.add_subcommand("sweep", DESCRIPTION);
  command_->add_option("SPEC", spec_path_, "Sweep definition (TOML; experiments/sweeps/*.toml)");
  command_->add_option("--out", out_dir_, "Folder for the runs and the CSV files (created)")->type_name("DIR");
  command_->add_option("-j,--jobs", jobs_, "Runs at a time")->check(CLI::Range(1u, 256u))->capture_default_str();
  command_->add_flag("--resume", resume_, "Skip runs whose successful results exist in DIR for the same parameters");
  command_->add_option("--images", images_, "Folder of the workload and l1-vmm images (default: the SPEC's "
                                            "images, else build/images beside nestbed)")
      ->type_name("DIR");
  command_->add_flag("--list", list_, "Print the runs (id and nestbed run arguments) without running them");
  command_->add_option("--shard", shard_, "Run only shard i of N (runs k with k mod N = i - 1), without writing "
                                          "the CSV files: `nestbed sweep merge DIR` does, once every shard is done")
      ->type_name("i/N");
  command_->add_option("--slurm", slurm_dir_, "Write a Slurm job-array script (SCRIPT_DIR/sweep.sbatch) that runs the "
                                              "sweep's shards on a cluster, instead of running")
      ->type_name("SCRIPT_DIR");
  command_->add_option("--tasks", tasks_, "Array tasks of --slurm (default: one per run, at most 1000)")
      ->check(CLI::Range(1u, 100000u))
      ->type_name("N");
  merge_ = command_->add_subcommand("merge", "Write the CSV files of a sweep folder from its runs' folders (after "
                                             "the shards of --slurm or --shard)");
  merge_->add_option("DIR", merge_dir_, "The sweep's --out folder")->required();
}

int SweepCommand::merge() const {
  const std::string spec_path = sweep::recorded_spec(merge_dir_);
  const sweep::Spec spec = sweep::read_spec(spec_path);
  std::vector<const sweep::Run*> runs;
  for (const sweep::Run& r : spec.runs) runs.push_back(&r);
  const sweep::ResultSummary summary = sweep::write_results(runs, merge_dir_);
  std::fprintf(stderr, "sweep %s: merged %zu runs, %zu ok, %zu failed, %zu not run; CSV files in %s/\n",
               spec.name.c_str(), summary.runs, summary.ok, summary.failed, summary.missing, merge_dir_.c_str());
  if (summary.missing) throw InputError("sweep merge: " + std::to_string(summary.missing) + " runs of " + spec_path +
                                        " have no result in " + merge_dir_ + " (a shard did not finish?)");
  return 0;
}

int SweepCommand::write_slurm(const std::string& nestbed, const std::string& images) const {
  const sweep::Spec spec = sweep::read_spec(spec_path_);
  const unsigned tasks = tasks_ ? tasks_ : unsigned(std::min<size_t>(spec.runs.size(), 1000));
  const std::string script = sweep::write_slurm_script(spec, slurm_dir_, tasks, nestbed, out_dir_, images);
  std::printf("%s\n", script.c_str());
  std::fprintf(stderr, "sweep %s: %zu runs in %u array tasks; submit with `sbatch %s`, then `nestbed sweep merge %s`\n",
               spec.name.c_str(), spec.runs.size(), tasks, script.c_str(), out_dir_.c_str());
  return 0;
}

int SweepCommand::execute() {
  if (merge_->parsed()) return merge();
  if (spec_path_.empty()) throw InputError("nestbed sweep: a SPEC is required (nestbed sweep SPEC --out DIR)");
  const sweep::Spec spec = sweep::read_spec(spec_path_);
  const std::string nestbed = self_path();
  const std::string images = !images_.empty() ? images_ : !spec.images.empty() ? spec.images : default_images(nestbed);
  std::vector<const sweep::Run*> runs;
  for (const sweep::Run& r : spec.runs) runs.push_back(&r);
  if (!shard_.empty()) runs = sweep::shard_runs(spec, sweep::parse_shard(shard_));

  if (list_) {
    for (const sweep::Run* r : runs) {
      std::printf("%s:", r->id.c_str());
      for (const std::string& a : sweep::run_arguments(spec, *r, images, "DIR/runs/" + r->id))
        std::printf(" %s", a.c_str());
      std::printf("\n");
    }
    return 0;
  }
  if (out_dir_.empty()) throw InputError("nestbed sweep: --out DIR is required (where the runs and CSV files go)");
  std::error_code ec;
  fs::create_directories(fs::path(out_dir_) / "runs", ec);
  if (ec) throw InputError("cannot create '" + out_dir_ + "/runs': " + ec.message());
  fs::copy_file(spec_path_, fs::path(out_dir_) / "spec.toml", fs::copy_options::overwrite_existing, ec);
  sweep::record_sweep(out_dir_, spec_path_);
  if (!slurm_dir_.empty()) return write_slurm(nestbed, images);

  sweep::RunnerOptions opts{out_dir_, nestbed, images, jobs_, resume_};
  const sweep::SweepTally tally = sweep::run_sweep(spec, runs, opts);
  if (!shard_.empty()) {
    // Other shards may be writing the same folder: the CSV files are merge's.
    std::fprintf(stderr, "sweep %s: shard %s: %zu runs, %zu failed (%zu resumed); `nestbed sweep merge %s` when every "
                         "shard is done\n",
                 spec.name.c_str(), shard_.c_str(), runs.size(), tally.failed, tally.skipped, out_dir_.c_str());
    return 0;
  }
  const sweep::ResultSummary summary = sweep::write_results(runs, out_dir_);
  std::fprintf(stderr, "sweep %s: %zu runs, %zu ok, %zu failed (%zu resumed); CSV files in %s/ "
                       "(results.csv, levels.csv, exits.csv)\n",
               spec.name.c_str(), summary.runs, summary.ok, summary.failed, tally.skipped, out_dir_.c_str());
  return 0;
}

}  // namespace nestbed::cli
