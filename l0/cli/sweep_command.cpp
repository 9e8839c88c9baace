#include "l0/cli/sweep_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "l0/cli/sweep_results.h"
#include "l0/cli/sweep_runner.h"
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
  command_->add_option("SPEC", spec_path_, "Sweep definition (TOML; experiments/sweeps/*.toml)")->required();
  command_->add_option("--out", out_dir_, "Folder for the runs and the CSV files (created)")->type_name("DIR");
  command_->add_option("-j,--jobs", jobs_, "Runs at a time")->check(CLI::Range(1u, 256u))->capture_default_str();
  command_->add_flag("--resume", resume_, "Skip runs whose successful results exist in DIR for the same parameters");
  command_->add_option("--images", images_, "Folder of the workload and l1-vmm images (default: the SPEC's "
                                            "images, else build/images beside nestbed)")
      ->type_name("DIR");
  command_->add_flag("--list", list_, "Print the runs (id and nestbed run arguments) without running them");
}

int SweepCommand::execute() {
  const sweep::Spec spec = sweep::read_spec(spec_path_);
  const std::string nestbed = self_path();
  const std::string images = !images_.empty() ? images_ : !spec.images.empty() ? spec.images : default_images(nestbed);
  std::vector<const sweep::Run*> runs;
  for (const sweep::Run& r : spec.runs) runs.push_back(&r);

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

  sweep::RunnerOptions opts{out_dir_, nestbed, images, jobs_, resume_};
  const sweep::SweepTally tally = sweep::run_sweep(spec, runs, opts);
  const sweep::ResultSummary summary = sweep::write_results(runs, out_dir_);
  std::fprintf(stderr, "sweep %s: %zu runs, %zu ok, %zu failed (%zu resumed); CSV files in %s/ "
                       "(results.csv, levels.csv, exits.csv)\n",
               spec.name.c_str(), summary.runs, summary.ok, summary.failed, tally.skipped, out_dir_.c_str());
  return 0;
}

}  // namespace nestbed::cli
