// `nestbed pg`: the Popek–Goldberg checker. Boots pg-probe natively and
// under 1..D levels of l1-vmm, classifies the catalogued instructions
// (l0/pg/classify.h), and measures equivalence, resource control and
// efficiency per depth (l0/pg/properties.h).
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "l0/pg/report.h"

namespace nestbed::cli {

class PgCommand {
 public:
  explicit PgCommand(CLI::App& app);
  bool selected() const { return command_->parsed(); }
  // Returns 0 when every run went through (whatever it found), else a
  // status of l0/engine.h. Throws InputError for missing images or
  // unwritable output files.
  int execute();

 private:
  int classify_captured();
  int write_report(const pg::Report& report) const;

  unsigned depth_ = 1;
  std::string json_path_, markdown_path_, latex_path_, images_dir_, vmm_cmdline_, probe_output_;
  CLI::App* command_;
};

}  // namespace nestbed::cli
