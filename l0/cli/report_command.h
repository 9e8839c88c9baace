// `nestbed report DIR`: the figures and tables of a sweep folder, by running
// analysis/report.py (Python, Debian's pandas + matplotlib) on it.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

class ReportCommand {
 public:
  explicit ReportCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Returns report.py's status; throws InputError when Python cannot start.
  int execute();

 private:
  std::string dir_;
  bool quiet_ = false;
  CLI::App* command_;
};

}  // namespace nestbed::cli
