// `nestbed trace summary|dump|export`: reading the exit traces written by
// `nestbed run --trace FILE` (format: exit-tracer/TRACE_FORMAT.md).
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

class TraceCommand {
 public:
  explicit TraceCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Runs the chosen subcommand; throws InputError for an unreadable or
  // malformed trace or an output file that cannot be written.
  int execute();

 private:
  int run_export() const;

  std::string path_;
  std::string csv_path_;
  std::string logical_csv_path_;
  std::string perfetto_path_;
  uint64_t nominal_hz_ = 0;
  CLI::App* command_;
  CLI::App* summary_;
  CLI::App* dump_;
  CLI::App* export_;
};

}  // namespace nestbed::cli
