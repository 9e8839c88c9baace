// `nestbed trace summary FILE`: counts and cycles per exit reason in a trace
// written by `nestbed run --trace FILE`.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

class TraceCommand {
 public:
  explicit TraceCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Prints the summary; throws InputError for an unreadable or malformed file.
  int execute();

 private:
  std::string path_;
  CLI::App* command_;
  CLI::App* summary_;
};

}  // namespace nestbed::cli
