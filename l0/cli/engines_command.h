// `nestbed engines`: which engines can run here and at what depths.
#pragma once
#include <CLI/CLI.hpp>

namespace nestbed::cli {

class EnginesCommand {
 public:
  explicit EnginesCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Prints the report; returns 0 (a report is never an error, whatever it says).
  int execute();

 private:
  bool json_ = false;
  CLI::App* command_;
};

}  // namespace nestbed::cli
