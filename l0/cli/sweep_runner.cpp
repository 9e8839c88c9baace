#include "l0/cli/sweep_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "l0/engine.h"

extern char** environ;

namespace nestbed::cli::sweep {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int STATUS_OK = exit_status::debug_exit(0);  // the workloads' success: isa-debug-exit code 0
constexpr auto POLL_INTERVAL = std::chrono::milliseconds(20);
constexpr double PLAIN_PROGRESS_SECONDS = 10;  // a line this often when stderr is not a terminal
constexpr double LIVE_PROGRESS_SECONDS = 0.25;  // a redraw this often on a terminal

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw InputError("cannot write '" + path.string() + "': " + std::strerror(errno));
}

std::string clock_text(double seconds) {
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

// What a run's parameters are, for --resume: the same axes and command.
nlohmann::ordered_json params_of(const Run& run, const std::vector<std::string>& args) {
  nlohmann::ordered_json p;
  p["id"] = run.id;
  p["axes"] = run.axes();
  p["arguments"] = args;
  return p;
}

class Progress {
 public:
  Progress(size_t total, size_t skipped) : total_(total), done_(skipped), skipped_(skipped), tty_(isatty(2)) {}

  void finished(bool ok) {
    ++done_;
    if (!ok) ++failed_;
  }
  // Redraws the line on a terminal, else prints one every
  // PLAIN_PROGRESS_SECONDS (a log stays short whatever the number of runs).
  void tick(bool force = false) {
    const double now = elapsed();
    if (!force && now - last_line_ < (tty_ ? LIVE_PROGRESS_SECONDS : PLAIN_PROGRESS_SECONDS)) return;
    last_line_ = now;
    std::string line = "sweep: " + std::to_string(done_) + "/" + std::to_string(total_) + " runs done";
    if (skipped_) line += " (" + std::to_string(skipped_) + " resumed)";
    line += ", " + std::to_string(failed_) + " failed, " + clock_text(now) + " elapsed";
    const size_t ran = done_ - skipped_;
    if (ran > 0 && done_ < total_) line += ", ~" + clock_text(now / double(ran) * double(total_ - done_)) + " remaining";
    if (tty_)
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    else
      std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
  // A message on its own line (a failure), then the progress line again.
  void say(const std::string& message) {
    if (tty_) std::fputs("\r\033[K", stderr);
    std::fprintf(stderr, "%s\n", message.c_str());
    if (tty_) tick(true);
  }
  void end() {
    tick(true);
    if (tty_) std::fputc('\n', stderr);
  }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  size_t failed() const { return failed_; }

 private:
  size_t total_, done_, skipped_, failed_ = 0;
  bool tty_;
  Clock::time_point start_ = Clock::now();
  double last_line_ = -PLAIN_PROGRESS_SECONDS;
};

struct Running {
  const Run* run;
  fs::path dir;
  pid_t pid;
  Clock::time_point start;
  bool killed = false;
};

pid_t spawn(const std::string& nestbed, const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> argv_s = {nestbed, "run"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  const std::string out = (dir / "output.txt").string(), err = (dir / "stderr.txt").string();
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  const int rc = posix_spawn(&pid, nestbed.c_str(), &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw InputError("cannot start '" + nestbed + "': " + std::strerror(rc));
  return pid;
}

// Records how the run ended (DIR/runs/<id>/result.json); true when it succeeded.
bool record_result(const Running& r, int wait_status, double timeout) {
  nlohmann::ordered_json result;
  const double seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
  int status;
  if (WIFEXITED(wait_status)) {
    status = WEXITSTATUS(wait_status);
    result["signal"] = nullptr;
  } else {
    const int sig = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
    status = 128 + sig;  // as a shell reports it
    result["signal"] = sig;
  }
  const bool ok = status == STATUS_OK && !r.killed && fs::exists(r.dir / "stats.json");
  result["status"] = status;
  result["ok"] = ok;
  result["timed_out"] = r.killed;
  result["timeout_seconds"] = timeout;
  result["run_seconds"] = seconds;
  write_file(r.dir / "result.json", result.dump(2) + "\n");
  return ok;
}

bool already_done(const fs::path& dir, const nlohmann::ordered_json& params) {
  try {
    if (!fs::exists(dir / "result.json") || !fs::exists(dir / "params.json")) return false;
    const auto result = nlohmann::json::parse(read_file(dir / "result.json"));
    const auto saved = nlohmann::ordered_json::parse(read_file(dir / "params.json"));
    return result.value("ok", false) && saved == params && fs::exists(dir / "stats.json");
  } catch (const nlohmann::json::exception&) {
    return false;  // a half-written file: run it again
  }
}

void check_images(const Spec& spec, const std::vector<const Run*>& runs, const std::string& images) {
  for (const Run* r : runs) {
    for (const std::string& name : {r->workload, std::string(r->depth > 0 ? "l1-vmm" : "")}) {
      if (name.empty()) continue;
      const fs::path image = fs::path(images) / name;
      if (!fs::is_regular_file(image))
        throw InputError(spec.path + ": run " + r->id + ": image '" + image.string() +
                         "' not found (build the images: cmake --build build; or set images = \"DIR\" in [sweep])");
    }
  }
}

}  // namespace

std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+") ==
                        std::string::npos)
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<std::string> run_arguments(const Spec& spec, const Run& run, const std::string& images,
                                       const std::string& run_dir) {
  const fs::path dir(run_dir);
  std::vector<std::string> a = {"--engine", run.engine, "--memory", std::to_string(run.memory_mib)};
  if (!run.cost_model.empty()) a.insert(a.end(), {"--cost-model", run.cost_model});
  if (spec.max_instructions) a.insert(a.end(), {"--max-instructions", std::to_string(spec.max_instructions)});
  a.insert(a.end(), {"--stats", (dir / "stats.json").string()});
  if (spec.trace) a.insert(a.end(), {"--trace", (dir / "trace").string()});
  const std::string workload = (fs::path(images) / run.workload).string();
  if (run.depth == 0) {
    if (!run.args.empty()) a.insert(a.end(), {"--cmdline", run.args});
    a.push_back(workload);
    return a;
  }
  // l1-vmm boots module 0 as its guest and passes the rest down (DESIGN.md §6).
  const std::string l1_vmm = (fs::path(images) / "l1-vmm").string();
  if (!run.options_of_level(1).empty()) a.insert(a.end(), {"--cmdline", run.options_of_level(1)});
  for (unsigned level = 2; level <= run.depth; ++level) {
    const std::string options = run.options_of_level(level);
    a.insert(a.end(), {"--module", options.empty() ? l1_vmm : l1_vmm + " " + options});
  }
  a.insert(a.end(), {"--module", run.args.empty() ? workload : workload + " " + run.args});
  a.push_back(l1_vmm);
  return a;
}

SweepTally run_sweep(const Spec& spec, const std::vector<const Run*>& runs, const RunnerOptions& opts) {
  check_images(spec, runs, opts.images);
  std::vector<std::pair<const Run*, std::vector<std::string>>> pending;
  size_t skipped = 0;
  for (const Run* r : runs) {
    const fs::path dir = fs::path(opts.out_dir) / "runs" / r->id;
    std::vector<std::string> args = run_arguments(spec, *r, opts.images, dir.string());
    if (opts.resume && already_done(dir, params_of(*r, args))) {
      ++skipped;
      continue;
    }
    pending.emplace_back(r, std::move(args));
  }

  Progress progress(runs.size(), skipped);
  std::vector<Running> running;
  size_t next = 0;
  progress.tick(true);
  while (next < pending.size() || !running.empty()) {
    while (running.size() < opts.jobs && next < pending.size()) {
      const auto& [run, args] = pending[next++];
      const fs::path dir = fs::path(opts.out_dir) / "runs" / run->id;
      std::error_code ec;
      fs::create_directories(dir, ec);
      for (const char* stale : {"stats.json", "result.json", "trace"}) fs::remove(dir / stale, ec);
      write_file(dir / "params.json", params_of(*run, args).dump(2) + "\n");
      std::string command = shell_word(opts.nestbed) + " run";
      for (const auto& a : args) command += " " + shell_word(a);
      write_file(dir / "command.txt", command + "\n");
      running.push_back({run, dir, spawn(opts.nestbed, args, dir), Clock::now()});
    }
    bool reaped = false;
    for (size_t k = 0; k < running.size();) {
      Running& r = running[k];
      int wait_status = 0;
      const pid_t done = waitpid(r.pid, &wait_status, WNOHANG);
      if (done == 0) {
        if (!r.killed && std::chrono::duration<double>(Clock::now() - r.start).count() > spec.timeout_seconds) {
          kill(r.pid, SIGKILL);
          r.killed = true;
        }
        ++k;
        continue;
      }
      const bool ok = record_result(r, wait_status, spec.timeout_seconds);
      progress.finished(ok);
      if (!ok) {
        const auto result = nlohmann::json::parse(read_file(r.dir / "result.json"));
        progress.say("sweep: run " + r.run->id + " failed: " +
                     (r.killed ? "timed out after " + clock_text(spec.timeout_seconds)
                               : "status " + std::to_string(result["status"].get<int>())) +
                     " (" + (r.dir / "stderr.txt").string() + ")");
      }
      running.erase(running.begin() + long(k));
      reaped = true;
    }
    progress.tick(reaped && isatty(2));
    if (!reaped) std::this_thread::sleep_for(POLL_INTERVAL);
  }
  progress.end();
  return {pending.size(), skipped, progress.failed(), progress.elapsed()};
}

}  // namespace nestbed::cli::sweep
