#include "l0/cli/run_command.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "l0/cli/exit_status_help.h"
#include "l0/cli/option_checks.h"
#include "l0/cli/stats_json.h"
#include "l0/machine/machine.h"
#include "l0/machine/stop_signal.h"

namespace nestbed::cli {
namespace {

const char* const RUN_DESCRIPTION =
    "Boot a Multiboot v1 IMAGE on the platform and run it until it stops. The guest's COM1 output goes to "
    "stdout; how the run ended goes to stderr (one line) unless the guest ended it through isa-debug-exit. "
    "SIGINT/SIGTERM end the run cleanly: output, --trace and --stats are written, then nestbed ends by that "
    "signal.";

// "PATH[ ARGS]": the module's file, then its command line after the first
// space; a path with spaces is written in double quotes: "\"my dir/m\" ARGS".
ModuleSpec parse_module(const std::string& arg) {
  if (!arg.empty() && arg[0] == '"') {
    const size_t close = arg.find('"', 1);
    if (close == std::string::npos) throw InputError("--module '" + arg + "': the quoted path has no closing '\"'");
    const std::string path = arg.substr(1, close - 1);
    if (close + 1 == arg.size()) return {path, ""};
    if (arg[close + 1] != ' ')
      throw InputError("--module '" + arg + "': a space must follow the quoted path before the module's arguments");
    return {path, arg.substr(close + 2)};
  }
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
    case StopReason::Signal: return "stopped by a signal";
  }
  return "internal error";
}

// The guest's output is stdout: a failed write (a full disk, /dev/full, a
// closed pipe) means the output is incomplete, which the status must say.
// "" when all of it was written, else why not.
std::string flush_guest_output() {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return "";
  return errno ? std::strerror(errno) : "write error";
}

}  // namespace

RunCommand::RunCommand(CLI::App& app) {
  command_ = app.add_subcommand("run", RUN_DESCRIPTION);
  command_->footer(exit_status_help());
  command_->add_option("--engine", config_.engine, "Engine to run on: sim (software x86-64 with VMX) or kvm")
      ->check(CLI::IsMember({"sim", "kvm"}))
      ->capture_default_str();
  command_->add_option("--memory", config_.memory_mib, "Guest RAM in MiB (2..3584)")
      ->check(unsigned_number())
      ->capture_default_str();
  command_->add_option("--cmdline", config_.cmdline,
                       "Kernel command line; the guest sees \"IMAGE CMDLINE\", as with QEMU -kernel/-append");
  command_->add_option("--module", module_args_,
                       "Multiboot module \"PATH[ ARGS]\" (repeatable, loaded in order); its string is \"PATH ARGS\"; "
                       "a PATH with spaces goes in double quotes: '\"my dir/mod\" ARGS'")
      ->allow_extra_args(false)  // one value per --module, so IMAGE may follow it
      ->type_name("\"PATH[ ARGS]\"");
  command_->add_option("--max-instructions", config_.max_instructions,
                       "Stop after N instructions (0: no limit), with status " +
                           std::to_string(exit_status::INSTRUCTION_LIMIT) + "; sim only")
      ->check(unsigned_number())
      ->type_name("N");
  command_->add_option("--stats", config_.stats_path, "Write run statistics as JSON to FILE (- for stdout, after the guest's output)")
      ->type_name("FILE|-");
  command_->add_option("--trace", config_.trace_path, "Record every VM exit and entry to FILE")->type_name("FILE");
  command_->add_option("--cost-model", config_.cost_model_path,
                       "Cycle cost table overriding the default classes it names (nestbed cost-model prints them)")
      ->type_name("FILE");
  command_->add_option("--translate", translate_,
                       "on: hot 64-bit code runs as translated host code; off: everything is interpreted (the same "
                       "results, cycles and counts either way); sim only")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str()
      ->type_name("on|off");
  command_->add_option("IMAGE", config_.image_path, "Multiboot v1 kernel (ELF32, ELF64 or a.out kludge)")->required();
}

int RunCommand::execute() {
  config_.translate = translate_ == "on";
  config_.modules.clear();
  for (const std::string& arg : module_args_) config_.modules.push_back(parse_module(arg));
  install_stop_signal_handlers();

  // Opened before the run, so a bad path fails before the guest runs; and
  // removed again if the run fails before it starts.
  std::optional<OutputFile> stats_file;
  if (!config_.stats_path.empty()) stats_file.emplace(config_.stats_path, "stats");
  std::unique_ptr<Machine> machine;
  std::unique_ptr<Engine> engine;
  RunResult result;
  try {
    machine = create_machine(config_, stdout);
    engine = make_engine(config_.engine);
    auto start = std::chrono::steady_clock::now();
    result = engine->run(*machine, config_);
    if (result.stats.wall_seconds == 0)
      result.stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } catch (...) {
    std::fflush(stdout);  // what the guest printed is kept
    if (stats_file) stats_file->discard();
    throw;
  }
  const std::string output_error = flush_guest_output();

  if (result.reason != StopReason::DebugExit) {
    std::string message = result.message.empty() ? default_stop_message(result.reason) : result.message;
    std::fprintf(stderr, "nestbed: %s\n", message.c_str());
  }
  if (stats_file) {
    const std::string text = stats_json(*engine, config_, result, *machine).dump(2) + "\n";
    std::fputs(text.c_str(), stats_file->stream());
    stats_file->close();
  }
  // Reported after --stats is written: the run happened, its output is incomplete.
  if (!output_error.empty()) throw InputError("cannot write the guest's output to stdout: " + output_error);
  if (result.reason == StopReason::Signal) reraise_stop_signal();
  return result.process_status();
}

}  // namespace nestbed::cli
