// The `nestbed` command line. Exit statuses are those of l0/engine.h.
#include <cstdio>
#include <new>

#include <CLI/CLI.hpp>

#include "l0/cli/cost_model_command.h"
#include "l0/cli/engines_command.h"
#include "l0/cli/exit_status_help.h"
#include "l0/cli/report_command.h"
#include "l0/cli/provenance.h"
#include "l0/cli/pg_command.h"
#include "l0/cli/run_command.h"
#include "l0/cli/sweep_command.h"
#include "l0/cli/trace_command.h"
#include "l0/engine.h"

namespace {

const char* const DESCRIPTION =
    "nestbed: a nested-virtualization research testbed. Boots Multiboot v1 images on a software x86-64 "
    "machine with VMX (sim) or on KVM, records every VM exit, and measures what each level of nesting costs.";

int report(const char* prefix, const char* message, int status) {
  std::fflush(stdout);  // whatever the guest printed comes first
  std::fprintf(stderr, "nestbed: %s%s\n", prefix, message);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  namespace status = nestbed::exit_status;
  CLI::App app(DESCRIPTION, "nestbed");
  app.footer(nestbed::cli::exit_status_help());
  // At most one subcommand; "none" is reported below, so that an unknown
  // word is named as such by CLI11 instead of "a subcommand is required".
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("nestbed ") + nestbed::cli::nestbed_version());
  nestbed::cli::RunCommand run(app);
  nestbed::cli::EnginesCommand engines(app);
  nestbed::cli::TraceCommand trace(app);
  nestbed::cli::SweepCommand sweep(app);
  nestbed::cli::ReportCommand report_command(app);
  nestbed::cli::CostModelCommand cost_model(app);
  nestbed::cli::PgCommand pg(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : status::USAGE;  // --help and --version exit 0
  }

  try {
    if (run.selected()) return run.execute();
    if (engines.selected()) return engines.execute();
    if (trace.selected()) return trace.execute();
    if (sweep.selected()) return sweep.execute();
    if (report_command.selected()) return report_command.execute();
    if (cost_model.selected()) return cost_model.execute();
    if (pg.selected()) return pg.execute();
    std::fprintf(stderr, "nestbed: a subcommand is required (nestbed run ... IMAGE)\nRun with --help for more information.\n");
    return status::USAGE;
  } catch (const nestbed::InputError& e) {
    return report("", e.what(), status::BAD_INPUT);
  } catch (const std::bad_alloc&) {
    return report("", "out of host memory", status::INTERNAL_ERROR);
  } catch (const std::exception& e) {
    return report("internal error: ", e.what(), status::INTERNAL_ERROR);
  }
}
