#include "l0/kvm/kernel_exit_events.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nestbed::kvm {
namespace {

using trace::KernelEvent;
using trace::KernelEventKind;

constexpr const char* TRACEFS = "/sys/kernel/tracing";
constexpr const char* TRACEFS_UNDER_DEBUGFS = "/sys/kernel/debug/tracing";
// The kernel's TSC, the same counter user space reads with RDTSC.
constexpr const char* TSC_CLOCK = "x86-tsc";
// Per-CPU ring buffer of the instance. The reader drains it continuously;
// this only has to absorb the bursts between two reads.
constexpr const char* BUFFER_KB = "4096";
constexpr int READER_POLL_MS = 20;

struct TracedEvent {
  const char* name;  // under events/kvm/
  KernelEventKind kind;
};
constexpr TracedEvent TRACED_EVENTS[] = {
    {"kvm_exit", KernelEventKind::Exit},
    {"kvm_nested_vmexit", KernelEventKind::NestedExit},
    {"kvm_entry", KernelEventKind::Entry},
    {"kvm_userspace_exit", KernelEventKind::UserspaceExit},
};

// kvm_userspace_exit's text when KVM_RUN fails instead of exiting: "restart"
// for -EINTR (user space sees KVM_EXIT_INTR), "error" otherwise.
constexpr uint32_t USERSPACE_EXIT_ERROR = 0xffffffff;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Writes `text` to a tracefs control file; false (errno set) on failure.
bool write_control(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size());
  int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

std::string read_control(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The tracefs mount point, mounting tracefs there if nobody has (as
// trace-cmd and perf do); "" with *why_not when there is none.
std::string find_tracefs(std::string* why_not, std::vector<std::string>* remarks) {
  for (const char* dir : {TRACEFS, TRACEFS_UNDER_DEBUGFS})
    if (exists(std::string(dir) + "/trace")) return dir;
  if (::mount("nodev", TRACEFS, "tracefs", 0, nullptr) == 0) {
    remarks->push_back(std::string("mounted tracefs at ") + TRACEFS);
    return TRACEFS;
  }
  *why_not = std::string("tracefs is not mounted at ") + TRACEFS + " and mounting it failed: " + std::strerror(errno);
  return "";
}

// Checks what the instance needs, before creating it.
bool tracefs_supports_us(const std::string& tracefs, std::string* why_not) {
  if (!exists(tracefs + "/events/kvm/kvm_exit")) {
    *why_not = "tracefs at " + tracefs + " has no kvm:kvm_exit event (kvm's tracepoints are not in this kernel)";
    return false;
  }
  if (read_control(tracefs + "/trace_clock").find(TSC_CLOCK) == std::string::npos) {
    *why_not = "tracefs at " + tracefs + " has no " + TSC_CLOCK + " clock, so its times cannot merge with RDTSC";
    return false;
  }
  return true;
}

uint64_t parse_hex(const std::string& token) { return std::strtoull(token.c_str(), nullptr, 16); }
uint64_t parse_decimal(const std::string& token) { return std::strtoull(token.c_str(), nullptr, 10); }

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// "CPU:1 [LOST 42 EVENTS]": trace_pipe's note that the ring buffer overflowed.
bool parse_lost_line(const std::string& line, uint64_t* lost) {
  size_t at = line.find("[LOST ");
  if (line.compare(0, 4, "CPU:") != 0 || at == std::string::npos) return false;
  *lost = parse_decimal(line.substr(at + 6));
  return true;
}

// The line's prefix "<task>-<pid> [<cpu>] <flags> <timestamp>" (the task
// name may hold spaces or dashes, so it is read from the right).
bool parse_line_prefix(const std::string& prefix, KernelEvent& e) {
  size_t ts_begin = prefix.find_last_of(' ');
  std::string timestamp = prefix.substr(ts_begin == std::string::npos ? 0 : ts_begin + 1);
  if (timestamp.empty() || timestamp.find_first_not_of("0123456789") != std::string::npos) return false;
  size_t open = prefix.rfind('[');
  size_t close = prefix.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  e.tsc = parse_decimal(timestamp);
  e.cpu = uint32_t(parse_decimal(prefix.substr(open + 1, close - open - 1)));
  return true;
}

// kvm_exit / kvm_nested_vmexit / kvm_entry bodies, old and new layouts:
//   "vcpu 0 reason IO_INSTRUCTION rip 0x1000 info1 0x0 info2 0x0 intr_info ..."
//   "reason EXIT_IO rip 0x1000 info 0 0"  (before Linux 5.10)
//   "vcpu 0, rip 0x1000"                  (kvm_entry)
// A reason may be several words ("DE excp", "EXTERNAL_INTERRUPT FAILED_VMENTRY").
void parse_exit_body(const std::string& body, KernelEvent& e, trace::ExitTrace& trace) {
  std::vector<std::string> w = split_words(body);
  std::string reason;
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (w[i] == "vcpu") {
      e.vcpu = uint32_t(parse_decimal(w[i + 1]));
    } else if (w[i] == "reason") {
      size_t j = i + 1;
      for (; j < w.size() && w[j] != "rip"; ++j) reason += (reason.empty() ? "" : " ") + w[j];
      i = j - 1;
    } else if (w[i] == "rip") {
      e.guest_rip = parse_hex(w[i + 1]);
    } else if (w[i] == "info1") {
      e.info1 = parse_hex(w[i + 1]);
    } else if (w[i] == "info2") {
      e.info2 = parse_hex(w[i + 1]);
    } else if (w[i] == "info" && i + 2 < w.size()) {
      e.info1 = parse_hex(w[i + 1]);
      e.info2 = parse_hex(w[i + 2]);
    }
  }
  if (e.kind != uint32_t(KernelEventKind::Entry)) e.reason = trace.kernel_reason_code(reason.empty() ? "?" : reason);
}

// kvm_userspace_exit: "reason KVM_EXIT_IO (2)", "reason restart (4)", "reason error (14)".
void parse_userspace_exit_body(const std::string& body, KernelEvent& e, trace::ExitTrace& trace) {
  size_t open = body.rfind('(');
  std::string name = body.substr(0, open);
  name = name.substr(name.find("reason ") == 0 ? 7 : 0);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  uint32_t number = open == std::string::npos ? 0 : uint32_t(parse_decimal(body.substr(open + 1)));
  if (name == "restart") {
    e.reason = KVM_EXIT_INTR;
  } else if (name == "error") {
    e.reason = USERSPACE_EXIT_ERROR;
    name = "KVM_RUN error";
  } else {
    e.reason = number;
  }
  if (!trace.has_name(trace::NameSpace::KvmExitReason, e.reason))
    trace.set_name(trace::NameSpace::KvmExitReason, e.reason, name == "restart" ? "KVM_EXIT_INTR" : name);
}

}  // namespace

bool parse_trace_pipe_line(const std::string& line, trace::ExitTrace& trace) {
  uint64_t lost = 0;
  if (parse_lost_line(line, &lost)) {
    trace.kernel_events_lost += lost;
    return false;
  }
  for (const TracedEvent& event : TRACED_EVENTS) {
    std::string marker = std::string(": ") + event.name + ": ";
    size_t at = line.find(marker);
    if (at == std::string::npos) continue;
    KernelEvent e{};
    e.kind = uint32_t(event.kind);
    if (!parse_line_prefix(line.substr(0, at), e)) return false;
    std::string body = line.substr(at + marker.size());
    if (event.kind == KernelEventKind::UserspaceExit)
      parse_userspace_exit_body(body, e, trace);
    else
      parse_exit_body(body, e, trace);
    trace.kernel_events.push_back(e);
    return true;
  }
  return false;
}

const char* KernelExitEvents::event_list() {
  return "kvm:kvm_exit kvm:kvm_nested_vmexit kvm:kvm_entry kvm:kvm_userspace_exit";
}

std::unique_ptr<KernelExitEvents> KernelExitEvents::start(pid_t tid, std::string* why_not,
                                                          std::vector<std::string>* remarks) {
  std::string tracefs = find_tracefs(why_not, remarks);
  if (tracefs.empty() || !tracefs_supports_us(tracefs, why_not)) return nullptr;

  static std::atomic<unsigned> instances{0};
  std::string dir = tracefs + "/instances/nestbed-" + std::to_string(::getpid()) + "-" + std::to_string(instances++);
  if (::mkdir(dir.c_str(), 0700) != 0) {
    *why_not = "cannot create the tracefs instance " + dir + ": " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<KernelExitEvents> events(new KernelExitEvents(dir));  // removes the instance if we fail below
  if (!write_control(dir + "/trace_clock", TSC_CLOCK) || !write_control(dir + "/buffer_size_kb", BUFFER_KB) ||
      !write_control(dir + "/set_event_pid", std::to_string(tid))) {
    *why_not = "cannot configure the tracefs instance " + dir + ": " + std::strerror(errno);
    return nullptr;
  }
  int fd = ::open((dir + "/trace_pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *why_not = "cannot open " + dir + "/trace_pipe: " + std::strerror(errno);
    return nullptr;
  }
  events->pipe_ = FileDescriptor(fd);
  events->enable_events(true);
  events->reader_ = std::thread(&KernelExitEvents::read_pipe, events.get());
  return events;
}

KernelExitEvents::KernelExitEvents(std::string instance_dir) : instance_dir_(std::move(instance_dir)) {}

KernelExitEvents::~KernelExitEvents() {
  enable_events(false);
  stop_ = true;
  if (reader_.joinable()) reader_.join();
  pipe_ = FileDescriptor();
  ::rmdir(instance_dir_.c_str());  // tracefs frees the instance's buffers
}

void KernelExitEvents::enable_events(bool on) {
  // An event this kernel lacks (kvm_userspace_exit before 3.x, say) is simply absent.
  for (const TracedEvent& event : TRACED_EVENTS)
    write_control(instance_dir_ + "/events/kvm/" + event.name + "/enable", on ? "1" : "0");
}

// The reader thread: drains trace_pipe until told to stop and the pipe is empty.
void KernelExitEvents::read_pipe() {
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(pipe_.get(), buffer, sizeof buffer);
    if (n > 0) {
      partial_line_.append(buffer, size_t(n));
      size_t begin = 0;
      for (size_t nl; (nl = partial_line_.find('\n', begin)) != std::string::npos; begin = nl + 1)
        parse_trace_pipe_line(partial_line_.substr(begin, nl - begin), collected_);
      partial_line_.erase(0, begin);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      read_error_ = errno;
      return;
    }
    if (stop_) return;
    pollfd p{pipe_.get(), POLLIN, 0};
    ::poll(&p, 1, READER_POLL_MS);
  }
}

void KernelExitEvents::finish(trace::ExitTrace& trace) {
  enable_events(false);
  stop_ = true;
  if (reader_.joinable()) reader_.join();
  if (read_error_)
    trace.add_note("tracefs", std::string("reading trace_pipe failed (") + std::strerror(read_error_) +
                                  "): kernel events after that are missing");
  trace.kernel_events = std::move(collected_.kernel_events);
  trace.kernel_events_lost += collected_.kernel_events_lost;
  for (const auto& [key, text] : collected_.names()) trace.set_name(key.first, key.second, text);
}

}  // namespace nestbed::kvm
