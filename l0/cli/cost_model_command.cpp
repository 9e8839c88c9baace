#include "l0/cli/cost_model_command.h"

#include <cstdio>

#include "exit-tracer/host_file.h"
#include "l0/sim/cost_model.h"

namespace nestbed::cli {

CostModelCommand::CostModelCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "cost-model",
      "Print the sim's cycle cost table in the format --cost-model reads (\"<class> <cycles>\" per line, the "
      "source of each default as a comment): nestbed cost-model > my.cost, edit, nestbed run --cost-model my.cost");
  command_->add_option("FILE", path_, "A cost model to check and print merged over the defaults (default: none)");
}

int CostModelCommand::execute() {
  sim::CostModel costs;
  if (!path_.empty()) costs.load_file(path_);
  OutputFile out("-", "cost model");
  std::fputs(costs.to_text().c_str(), out.stream());
  out.close();
  return 0;
}

}  // namespace nestbed::cli
