#include "l0/cli/sweep_slurm.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "l0/cli/sweep_runner.h"
#include "l0/engine.h"

namespace nestbed::cli::sweep {
namespace {

namespace fs = std::filesystem;

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

}  // namespace

Shard parse_shard(const std::string& text) {
  Shard s;
  char slash = 0, extra = 0;
  std::istringstream in(text);
  if (!(in >> s.index >> slash >> s.count) || slash != '/' || (in >> extra) || s.index < 1 || s.index > s.count)
    throw InputError("--shard '" + text + "': expected i/N with 1 <= i <= N (e.g. 2/8)");
  return s;
}

std::vector<const Run*> shard_runs(const Spec& spec, const Shard& shard) {
  std::vector<const Run*> runs;
  for (const Run& r : spec.runs)
    if (r.index % shard.count == shard.index - 1) runs.push_back(&r);
  return runs;
}

std::string write_slurm_script(const Spec& spec, const std::string& script_dir, unsigned tasks,
                               const std::string& nestbed, const std::string& out_dir, const std::string& images) {
  std::error_code ec;
  fs::create_directories(fs::path(script_dir) / "logs", ec);
  if (ec) throw InputError("cannot create '" + script_dir + "/logs': " + ec.message());
  const fs::path path = fs::path(script_dir) / "sweep.sbatch";
  std::ofstream out(path, std::ios::trunc);
  out << "#!/bin/bash\n"
      << "# nestbed sweep '" << spec.name << "' as a Slurm job array: task i of " << tasks << " runs shard i/" << tasks
      << " of the " << spec.runs.size() << " runs.\n"
      << "# Written by: nestbed sweep " << absolute(spec.path) << " --out " << absolute(out_dir) << " --slurm "
      << absolute(script_dir) << "\n"
      << "# Submit:     sbatch " << absolute(path.string()) << "\n"
      << "# Then:       nestbed sweep merge " << absolute(out_dir) << "   (the CSV files, as a local sweep writes them)\n"
      << "# The paths must be the same on every node (a shared file system). Runs are deterministic:\n"
      << "# the merged CSV files equal a local sweep's but for the wall-time columns.\n"
      << "#SBATCH --job-name=nestbed-" << spec.name << "\n"
      << "#SBATCH --array=1-" << tasks << "\n"
      << "#SBATCH --ntasks=1\n"
      << "#SBATCH --cpus-per-task=1\n"
      << "#SBATCH --output=" << absolute((fs::path(script_dir) / "logs" / "%A_%a.out").string()) << "\n"
      << "set -euo pipefail\n"
      << "exec " << shell_word(absolute(nestbed)) << " sweep " << shell_word(absolute(spec.path)) << " --out "
      << shell_word(absolute(out_dir)) << " --images " << shell_word(absolute(images)) << " --shard \"${SLURM_ARRAY_TASK_ID}/"
      << tasks << "\" --resume\n";
  out.close();
  if (!out) throw InputError("cannot write '" + path.string() + "': " + std::strerror(errno));
  ::chmod(path.c_str(), 0755);
  return path.string();
}

void record_sweep(const std::string& out_dir, const std::string& spec_path) {
  std::ofstream out(fs::path(out_dir) / "sweep.json", std::ios::trunc);
  out << nlohmann::json{{"spec", absolute(spec_path)}}.dump(2) << "\n";
  if (!out) throw InputError("cannot write '" + out_dir + "/sweep.json': " + std::strerror(errno));
}

std::string recorded_spec(const std::string& out_dir) {
  const fs::path path = fs::path(out_dir) / "sweep.json";
  std::ifstream in(path);
  if (!in) throw InputError("'" + out_dir + "' is not a sweep folder (no sweep.json: run `nestbed sweep SPEC --out DIR` or --slurm first)");
  try {
    return nlohmann::json::parse(in).at("spec").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError("'" + path.string() + "': " + e.what());
  }
}

}  // namespace nestbed::cli::sweep
