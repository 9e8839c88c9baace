// `nestbed run`: boot one image on one engine and report how it stopped.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "l0/engine.h"

namespace nestbed::cli {

class RunCommand {
 public:
  // Registers the subcommand and its options on `app`.
  explicit RunCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Runs the guest; returns the process status (exit_status in l0/engine.h).
  // Throws InputError for bad input found after option parsing.
  int execute();

 private:
  RunConfig config_;
  std::vector<std::string> module_args_;
  std::string translate_ = "on";
  CLI::App* command_;
};

}  // namespace nestbed::cli
