// `nestbed cost-model`: prints the sim's cycle cost table in the format
// `nestbed run --cost-model FILE` reads, each default's source as a
// comment, so `nestbed cost-model > my.cost`, edit, `--cost-model my.cost`.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

class CostModelCommand {
 public:
  explicit CostModelCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Prints the table (the defaults, or FILE's values over them); returns 0,
  // throws InputError for a bad FILE or an unwritable stdout.
  int execute();

 private:
  std::string path_;
  CLI::App* command_;
};

}  // namespace nestbed::cli
