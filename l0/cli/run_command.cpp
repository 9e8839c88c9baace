#include "l0/cli/run_command.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>

#include "l0/cli/exit_status_help.h"
#include "l0/cli/stats_json.h"
#include "l0/machine/machine.h"

namespace nestbed::cli {
namespace {

const char* const RUN_DESCRIPTION =
    "Boot a Multiboot v1 IMAGE on the platform and run it until it stops. The guest's COM1 output goes to "
    "stdout; how the run ended goes to stderr (one line) unless the guest ended it through isa-debug-exit.";

// "PATH[ ARGS]": the module's file, then its command line after the first space.
ModuleSpec parse_module(const std::string& arg) {
  size_t space = arg.find(' ');
  if (space == std::string::npos) return {arg, ""};
  return {arg.substr(0, space), arg.substr(space + 1)};
}

std::string default_stop_message(StopReason reason) {
  switch (reason) {
    case StopReason::DebugExit: return "guest wrote to isa-debug-exit";
    case StopReason::Halted: return "guest halted with interrupts disabled and nothing pending";
    case StopReason::TripleFault: return "guest triple-faulted";
    case StopReason::InstructionLimit: return "instruction limit reached";
    case StopReason::Unsupported: return "the engine cannot run this image here";
    case StopReason::InternalError: return "internal error";
  }
  return "internal error";
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using StatsFile = std::unique_ptr<std::FILE, FileCloser>;

// Opened before the run, so a bad path fails before the guest runs.
StatsFile open_stats(const std::string& path) {
  if (path.empty() || path == "-") return nullptr;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw InputError("cannot write stats file '" + path + "': " + std::strerror(errno));
  return StatsFile(f);
}

void write_stats(std::FILE* out, const nlohmann::ordered_json& stats) {
  std::string text = stats.dump(2) + "\n";
  std::fputs(text.c_str(), out);
  std::fflush(out);
}

}  // namespace

RunCommand::RunCommand(CLI::App& app) {
  command_ = app.add_subcommand("run", RUN_DESCRIPTION);
  command_->footer(exit_status_help());
  command_->add_option("--engine", config_.engine, "Engine to run on: sim (software x86-64 with VMX) or kvm")
      ->check(CLI::IsMember({"sim", "kvm"}))
      ->capture_default_str();
  command_->add_option("--memory", config_.memory_mib, "Guest RAM in MiB (2..3584)")->capture_default_str();
  command_->add_option("--cmdline", config_.cmdline,
                       "Kernel command line; the guest sees \"IMAGE CMDLINE\", as with QEMU -kernel/-append");
  command_->add_option("--module", module_args_,
                       "Multiboot module \"PATH[ ARGS]\" (repeatable, loaded in order); its string is \"PATH ARGS\"")
      ->allow_extra_args(false)  // one value per --module, so IMAGE may follow it
      ->type_name("\"PATH[ ARGS]\"");
  command_->add_option("--max-instructions", config_.max_instructions,
                       "Stop after N instructions (0: no limit), with status " +
                           std::to_string(exit_status::INSTRUCTION_LIMIT) + "; sim only")
      ->type_name("N");
  command_->add_option("--stats", config_.stats_path, "Write run statistics as JSON to FILE (- for stdout, after the guest's output)")
      ->type_name("FILE|-");
  command_->add_option("--trace", config_.trace_path, "Record every VM exit and entry to FILE")->type_name("FILE");
  command_->add_option("--cost-model", config_.cost_model_path, "Cycle cost table to use instead of the default")
      ->type_name("FILE");
  command_->add_option("IMAGE", config_.image_path, "Multiboot v1 kernel (ELF32, ELF64 or a.out kludge)")->required();
}

int RunCommand::execute() {
  config_.modules.clear();
  for (const std::string& arg : module_args_) config_.modules.push_back(parse_module(arg));

  StatsFile stats_file = open_stats(config_.stats_path);
  std::unique_ptr<Machine> machine = create_machine(config_, stdout);
  std::unique_ptr<Engine> engine = make_engine(config_.engine);

  auto start = std::chrono::steady_clock::now();
  RunResult result = engine->run(*machine, config_);
  if (result.stats.wall_seconds == 0)
    result.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fflush(stdout);

  if (result.reason != StopReason::DebugExit) {
    std::string message = result.message.empty() ? default_stop_message(result.reason) : result.message;
    std::fprintf(stderr, "nestbed: %s\n", message.c_str());
  }
  if (!config_.stats_path.empty()) {
    nlohmann::ordered_json stats = stats_json(*engine, config_, result, *machine);
    write_stats(stats_file ? stats_file.get() : stdout, stats);
  }
  return result.process_status();
}

}  // namespace nestbed::cli
