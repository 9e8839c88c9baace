#include "l0/cli/report_command.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "l0/engine.h"

extern char** environ;

namespace nestbed::cli {
namespace {

namespace fs = std::filesystem;

// Where analysis/ and the generated arch JSON are: the source and build
// trees this nestbed was built from (l0/CMakeLists.txt), unless the
// environment says otherwise.
std::string from_env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Debian's python3 has pandas and matplotlib (scripts/install-deps.sh); a
// python3 earlier on PATH (pyenv, a venv) may not.
std::string python() {
  if (const char* v = std::getenv("NESTBED_PYTHON"); v && *v) return v;
  return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

}  // namespace

ReportCommand::ReportCommand(CLI::App& app) {
  command_ = app.add_subcommand("report", "Write the figures (DIR/figures/, PNG and SVG) and tables (DIR/tables/, "
                                          "Markdown and LaTeX) of a sweep folder: runs analysis/report.py");
  command_->add_option("DIR", dir_, "A `nestbed sweep --out` folder")->required();
  command_->add_flag("--quiet", quiet_, "Do not print the summary table");
}

int ReportCommand::execute() {
  const std::string script = from_env("NESTBED_ANALYSIS_DIR", NESTBED_ANALYSIS_DIR) + "/report.py";
  const std::string arch_json = from_env("NESTBED_ARCH_JSON", NESTBED_ARCH_JSON_PATH);
  if (!fs::is_regular_file(script)) throw InputError("nestbed report: " + script + " not found (set NESTBED_ANALYSIS_DIR)");
  std::vector<std::string> args = {python(), script, dir_, "--arch-json", arch_json};
  if (quiet_) args.push_back("--quiet");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  pid_t pid;
  if (const int rc = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ))
    throw InputError("nestbed report: cannot run " + args[0] + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // report.py's statuses in nestbed's scheme (README "Exit status"): its
  // SystemExit messages (no results, a missing package, unknown exit
  // reasons) are bad input; argparse's usage errors are usage errors. Never
  // 1, which is a guest's "ok".
  if (!WIFEXITED(status)) return 128 + WTERMSIG(status);
  switch (WEXITSTATUS(status)) {
    case 0: return 0;
    case 1: return exit_status::BAD_INPUT;
    case 2: return exit_status::USAGE;
    default: return exit_status::INTERNAL_ERROR;
  }
}

}  // namespace nestbed::cli
