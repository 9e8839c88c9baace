#include "l0/cli/trace_command.h"

#include <cstdio>

#include "l0/kvm/exit_trace.h"
#include "l0/kvm/trace_summary.h"

namespace nestbed::cli {

TraceCommand::TraceCommand(CLI::App& app) {
  command_ = app.add_subcommand("trace", "Read exit traces written by `nestbed run --trace FILE`");
  command_->require_subcommand(1);
  summary_ = command_->add_subcommand(
      "summary", "Print a trace's notes and, per exit reason, the count, total and mean cycles (and ns)");
  summary_->add_option("FILE", path_, "Trace file (format: l0/kvm/TRACE_FORMAT.md)")->required();
}

int TraceCommand::execute() {
  const trace::ExitTrace trace = trace::read_trace_file(path_);
  trace::print_trace_summary(trace, path_, stdout);
  return 0;
}

}  // namespace nestbed::cli
