#include "l0/cli/trace_command.h"

#include <cstdio>
#include <functional>

#include "exit-tracer/exit_trace.h"
#include "exit-tracer/trace_dump.h"
#include "exit-tracer/trace_export.h"
#include "exit-tracer/trace_summary.h"
#include "l0/cli/exit_status_help.h"
#include "l0/cli/option_checks.h"
#include "l0/engine.h"

namespace nestbed::cli {
namespace {

const char* const FORMAT = "Trace file (format: exit-tracer/TRACE_FORMAT.md)";

// Writes an export to `path` ("-": stdout); the file is whole or reported.
void write_output(const std::string& path, const char* what, const std::function<void(std::FILE*)>& write) {
  OutputFile out(path, what);
  write(out.stream());
  out.close();
}

// A trace that cannot be read is bad input (status 66), like a bad image.
trace::ExitTrace read_trace(const std::string& path) {
  try {
    return trace::read_trace_file(path);
  } catch (const trace::TraceError& e) {
    throw InputError(e.what());
  }
}

}  // namespace

TraceCommand::TraceCommand(CLI::App& app) {
  command_ = app.add_subcommand("trace", "Read exit traces written by `nestbed run --trace FILE`");
  command_->require_subcommand(1);
  command_->footer(trace_exit_status_help());

  summary_ = command_->add_subcommand(
      "summary",
      "Print a trace's notes and the count, total and mean cycles per exit reason: kvm user-space and kernel exits, "
      "or the sim's hardware VM exits per level and reason and its logical exits per handler level");
  summary_->add_option("FILE", path_, FORMAT)->required();

  dump_ = command_->add_subcommand(
      "dump", "Print every record on one line, with the exiting instruction disassembled and the exit qualification "
              "decoded");
  dump_->add_option("TRACE", path_, FORMAT)->required();

  export_ = command_->add_subcommand(
      "export", "Write a trace as CSV (one row per exit; columns: exit-tracer/README.md), a CSV of logical exits, "
                "and/or Chrome/Perfetto JSON");
  export_->add_option("--csv", csv_path_,
                      "Write the CSV to FILE ('-': stdout): one row per hardware VM exit (sim), or per exit to user "
                      "space and kernel event (kvm)")
      ->type_name("FILE");
  export_->add_option("--logical-csv", logical_csv_path_,
                      "Write one row per logical exit to FILE ('-': stdout): handler and guest level, reason, the "
                      "hardware exits it caused, their cycles, the VMM's own measured cycles")
      ->type_name("FILE");
  export_->add_option("--perfetto", perfetto_path_,
                      "Write the Chrome/Perfetto trace-event JSON to FILE ('-': stdout); open it in ui.perfetto.dev")
      ->type_name("FILE");
  export_->add_option("--hz", nominal_hz_,
                      "Nominal cycles per second for the JSON's times (default: the file's TSC rate; for the sim's "
                      "modeled cycles, 1 cycle = 1 us)")
      ->check(positive_number())
      ->type_name("HZ");
  export_->add_option("TRACE", path_, FORMAT)->required();
  // At least one output: a usage error (status 64), found while parsing.
  export_->callback([this] {
    if (csv_path_.empty() && logical_csv_path_.empty() && perfetto_path_.empty())
      throw CLI::RequiredError("--csv FILE, --logical-csv FILE or --perfetto FILE");
  });
}

int TraceCommand::run_export() const {
  const trace::ExitTrace trace = read_trace(path_);
  if (!csv_path_.empty()) write_output(csv_path_, "CSV", [&](std::FILE* out) { trace::write_csv(trace, out); });
  if (!logical_csv_path_.empty())
    write_output(logical_csv_path_, "logical-exit CSV", [&](std::FILE* out) { trace::write_logical_csv(trace, out); });
  if (!perfetto_path_.empty())
    write_output(perfetto_path_, "Perfetto JSON",
                 [&](std::FILE* out) { trace::write_perfetto_json(trace, out, nominal_hz_); });
  return 0;
}

int TraceCommand::execute() {
  if (export_->parsed()) return run_export();
  const trace::ExitTrace trace = read_trace(path_);
  if (dump_->parsed())
    trace::print_trace_dump(trace, stdout);
  else
    trace::print_trace_summary(trace, path_, stdout);
  return 0;
}

}  // namespace nestbed::cli
