#include "l0/cli/pg_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "exit-tracer/exit_trace.h"
#include "l0/cli/exit_status_help.h"
#include "l0/cli/stats_json.h"
#include "l0/engine.h"
#include "l0/machine/machine.h"
#include "l0/pg/report.h"

namespace nestbed::cli {
namespace {

namespace fs = std::filesystem;

const char* const DESCRIPTION =
    "The Popek-Goldberg checker: boot the pg-probe guest natively (depth 0) and under 1..D levels of l1-vmm, "
    "classify each catalogued instruction by experiment (privileged, control-sensitive, behavior-sensitive, "
    "Theorem 1 violations on bare x86, which sensitive instructions exit under VT-x and with which reason), and "
    "measure equivalence, resource control and efficiency per depth (Theorem 2). Prints Markdown on stdout.";

constexpr unsigned MAX_DEPTH = 4;
// Each l1-vmm gives its guest half of its memory (l1-vmm/README.md): 128 MiB
// for the guest at every depth.
uint64_t memory_for(unsigned depth) { return 128ull << depth; }
// A guest that loops forever is stopped (status 118) instead of hanging the command.
constexpr uint64_t INSTRUCTION_LIMIT = 20'000'000'000ull;

// The workloads whose output must not depend on the depth, with counts small
// enough for depth 2 and beyond (workloads/README.md).
struct Workload {
  const char* name;
  const char* args;
};
const Workload WORKLOADS[] = {{"hello", ""},         {"cpuid-loop", "1000"}, {"pio-loop", "1000"},
                              {"memtouch", "1024"}, {"timer", "5"},         {"sieve", "200000"}};
constexpr unsigned ESCAPE_WRITES = 4;  // pg-probe's memory addresses (workloads/pg-probe/escape.cpp)

struct GuestRun {
  std::string output;
  RunResult result;
  nlohmann::ordered_json stats;
  std::unique_ptr<trace::ExitTrace> trace;
};

std::string read_all(std::FILE* f) {
  std::string text;
  std::rewind(f);
  char buf[65536];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  return text;
}

class Runner {
 public:
  Runner(std::string images, std::string vmm_cmdline) : images_(std::move(images)), vmm_cmdline_(std::move(vmm_cmdline)) {}

  std::string image(const std::string& name) const { return (fs::path(images_) / name).string(); }

  // `name args` at `depth`: natively, or as module 0 of the innermost of
  // `depth` l1-vmms.
  GuestRun run(unsigned depth, const std::string& name, const std::string& args, bool want_trace) const {
    RunConfig config;
    config.memory_mib = memory_for(depth);
    config.max_instructions = INSTRUCTION_LIMIT;
    if (depth == 0) {
      config.image_path = image(name);
      config.cmdline = args;
    } else {
      config.image_path = image("l1-vmm");
      config.cmdline = vmm_cmdline_;
      for (unsigned level = 2; level <= depth; level++) config.modules.push_back({image("l1-vmm"), vmm_cmdline_});
      config.modules.push_back({image(name), args});
    }
    std::string trace_path;
    if (want_trace) trace_path = config.trace_path = temp_path();
    struct Closer {
      void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Closer> console(std::tmpfile());
    if (!console) throw std::runtime_error(std::string("cannot create a temporary file: ") + std::strerror(errno));

    GuestRun g;
    std::unique_ptr<Machine> machine = create_machine(config, console.get());
    std::unique_ptr<Engine> engine = make_engine(config.engine);
    g.result = engine->run(*machine, config);
    std::fflush(console.get());
    g.output = read_all(console.get());
    g.stats = stats_json(*engine, config, g.result, *machine);
    if (want_trace) {
      g.trace = std::make_unique<trace::ExitTrace>(trace::read_trace_file(trace_path));
      fs::remove(trace_path);
    }
    return g;
  }

 private:
  static std::string temp_path() {
    std::string path = (fs::temp_directory_path() / "nestbed-pg-XXXXXX").string();
    int fd = mkstemp(path.data());
    if (fd < 0) throw std::runtime_error(std::string("cannot create a temporary file: ") + std::strerror(errno));
    close(fd);
    return path;
  }

  std::string images_;
  std::string vmm_cmdline_;
};

// The images directory beside the binary: build/bin/nestbed -> build/images.
std::string default_images_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "build/images";
  return (exe.parent_path().parent_path() / "images").string();
}

void check_image(const Runner& runner, const std::string& name) {
  if (!fs::is_regular_file(runner.image(name)))
    throw InputError("cannot find the image '" + runner.image(name) +
                     "' (build the workloads and l1-vmm, e.g. cmake --build build, or pass --images DIR)");
}

// Hardware exits of the probe's level (depth + 1), by guest RIP and reason.
pg::ExitsByRip exits_of_level(const trace::ExitTrace& t, unsigned level) {
  pg::ExitsByRip exits;
  for (const trace::HwExit& e : t.hw_exits)
    if (e.level == level) exits[e.guest_rip][t.name(trace::NameSpace::VmxExitReason, e.exit_reason & 0xffff)]++;
  return exits;
}

// "" for a run that ended with the guest's own "ok" (status 1), else how it ended.
std::string failure(const GuestRun& g) {
  if (g.result.reason == StopReason::DebugExit && g.result.debug_exit_code == 0) return "";
  return "status " + std::to_string(g.result.process_status()) + (g.result.message.empty() ? "" : ": ") +
         g.result.message;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of('\n');
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::vector<pg::EscapeTry> escape_probes(const Runner& runner, unsigned depth) {
  std::vector<pg::EscapeTry> tries;
  for (unsigned k = 0; k < ESCAPE_WRITES; k++) {
    GuestRun g = runner.run(depth, "pg-probe", "escape " + std::to_string(k), false);
    const bool ok = g.result.reason == StopReason::DebugExit && g.result.debug_exit_code == 0;
    const std::string stop = ok ? "" : (g.result.message.empty() ? last_line(g.output) : g.result.message);
    std::vector<pg::EscapeTry> run = pg::parse_escape_output(g.output, g.result.process_status(), stop);
    // The reads, ports and MSRs are the same in every run: keep the first
    // run's, and each run's own write.
    for (pg::EscapeTry& t : run)
      if (k == 0 || t.what.rfind("mem-write", 0) == 0) tries.push_back(std::move(t));
  }
  return tries;
}

pg::DepthResult measure_depth(const Runner& runner, unsigned depth, const pg::Report& report,
                              const pg::ProbeRun& native_probe, const std::vector<GuestRun>& native_workloads) {
  pg::DepthResult d;
  d.depth = depth;
  GuestRun probe = runner.run(depth, "pg-probe", "", depth > 0);
  pg::ProbeRun run = pg::parse_probe_output(probe.output);
  d.probe_failure = failure(probe);
  if (d.probe_failure.empty() && !run.complete) d.probe_failure = "its output is incomplete";
  if (!d.probe_failure.empty()) {
    d.probe_equivalence = {false, "pg-probe did not finish: " + d.probe_failure};
  } else if (depth > 0) {
    const pg::ExitsByRip exits = exits_of_level(*probe.trace, depth + 1);
    for (const pg::Classification& c : report.rows) d.vtx.push_back(pg::classify_vtx(c, native_probe, run, exits));
    d.probe_equivalence = {true, "every run gave the native fault, result and state change"};
    for (const pg::VtxVerdict& v : d.vtx)
      if (!v.difference.empty()) d.probe_equivalence = {false, v.difference};
  } else {
    d.probe_equivalence = {true, "depth 0"};
  }
  for (size_t i = 0; i < std::size(WORKLOADS); i++) {
    const Workload& w = WORKLOADS[i];
    GuestRun g = depth == 0 ? GuestRun{} : runner.run(depth, w.name, w.args, false);
    const GuestRun& mine = depth == 0 ? native_workloads[i] : g;
    pg::WorkloadResult r;
    r.name = w.name;
    r.args = w.args;
    r.status = mine.result.process_status();
    r.equivalence = pg::compare_runs({native_workloads[i].output, native_workloads[i].result.process_status()},
                                     {mine.output, r.status});
    r.efficiency = pg::efficiency_from_stats(mine.stats);
    d.workloads.push_back(r);
  }
  d.escapes = escape_probes(runner, depth);
  return d;
}

void write_file(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) throw InputError("cannot write '" + path + "': " + std::strerror(errno));
}

// Opened (and truncated) before the runs, so a bad path fails first.
void check_writable(const std::string& path) {
  if (path.empty()) return;
  std::ofstream out(path);
  if (!out) throw InputError("cannot write '" + path + "': " + std::strerror(errno));
}

}  // namespace

PgCommand::PgCommand(CLI::App& app) {
  command_ = app.add_subcommand("pg", DESCRIPTION);
  command_->footer(exit_status_help());
  CLI::Option* depth =
      command_->add_option("--depth", depth_, "Deepest level of l1-vmm to run under (0.." + std::to_string(MAX_DEPTH) + ")")
          ->check(CLI::Range(0u, MAX_DEPTH))
          ->capture_default_str();
  command_->add_option("--json", json_path_, "Write the whole report as JSON to FILE")->type_name("FILE");
  command_->add_option("--markdown", markdown_path_, "Write the tables as Markdown to FILE")->type_name("FILE");
  command_->add_option("--latex", latex_path_, "Write the tables as LaTeX to FILE")->type_name("FILE");
  command_->add_option("--images", images_dir_, "Directory of the images (default: ../images beside the binary)")
      ->type_name("DIR");
  command_->add_option("--vmm-cmdline", vmm_cmdline_,
                       "Options for every l1-vmm level (l1-vmm/README.md), e.g. a test-only mis-configuration")
      ->type_name("STR");
  command_->add_option("--probe-output", probe_output_,
                       "Classify pg-probe's output captured elsewhere (QEMU, hardware) instead of running it: the "
                       "depth-0 table only")
      ->type_name("FILE")
      ->excludes(depth);
}

int PgCommand::execute() {
  check_writable(json_path_);
  check_writable(markdown_path_);
  check_writable(latex_path_);
  if (!probe_output_.empty()) return classify_captured();
  Runner runner(images_dir_.empty() ? default_images_dir() : images_dir_, vmm_cmdline_);
  check_image(runner, "pg-probe");
  check_image(runner, "l1-vmm");
  for (const Workload& w : WORKLOADS) check_image(runner, w.name);

  // Natively pg-probe must run to its end: anything else is a bug of the
  // probe or of the platform.
  GuestRun native = runner.run(0, "pg-probe", "", false);
  const pg::ProbeRun native_probe = pg::parse_probe_output(native.output);
  if (!failure(native).empty() || !native_probe.complete)
    throw std::runtime_error("pg-probe did not finish natively (" + failure(native) + ")");
  pg::Report report;
  report.vmm_cmdline = vmm_cmdline_;
  report.configs = native_probe.configs;
  report.rows = pg::classify(native_probe);

  std::vector<GuestRun> native_workloads;
  for (const Workload& w : WORKLOADS) native_workloads.push_back(runner.run(0, w.name, w.args, false));
  for (unsigned depth = 0; depth <= depth_; depth++)
    report.depths.push_back(measure_depth(runner, depth, report, native_probe, native_workloads));

  return write_report(report);
}

int PgCommand::classify_captured() {
  std::ifstream in(probe_output_);
  if (!in) throw InputError("cannot read '" + probe_output_ + "': " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  pg::ProbeRun run;
  try {
    run = pg::parse_probe_output(text.str());
  } catch (const pg::ProbeOutputError& e) {
    throw InputError(probe_output_ + ": " + e.what());
  }
  if (!run.complete) throw InputError(probe_output_ + ": not a complete pg-probe catalogue run");
  pg::Report report;
  report.configs = run.configs;
  report.rows = pg::classify(run);
  return write_report(report);
}

int PgCommand::write_report(const pg::Report& report) const {
  const std::string markdown = pg::report_markdown(report);
  std::fputs(markdown.c_str(), stdout);
  write_file(json_path_, pg::report_json(report).dump(2) + "\n");
  write_file(markdown_path_, markdown);
  write_file(latex_path_, pg::report_latex(report));
  return 0;
}

}  // namespace nestbed::cli
