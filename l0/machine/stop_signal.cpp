#include "l0/machine/stop_signal.h"

#include <signal.h>

#include <csignal>
#include <ctime>

namespace nestbed {
namespace {

volatile std::sig_atomic_t g_signal = 0;
volatile uint8_t* volatile g_byte = nullptr;
// When the first signal came (CLOCK_MONOTONIC seconds).
volatile std::sig_atomic_t g_first_second = 0;

// A second signal within this many seconds of the first is the same
// request delivered twice: GNU `timeout` sends its signal to the command
// and then to its whole process group, which the command is in. Taking
// the second as "kill at once" ended runs half-way through writing their
// trace whenever the handler ran between the two.
constexpr long kDuplicateSeconds = 2;

long monotonic_seconds() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe (POSIX)
  return long(now.tv_sec);
}

extern "C" void on_stop_signal(int signal) {
  if (g_signal == 0) {
    g_signal = signal;
    g_first_second = std::sig_atomic_t(monotonic_seconds());
  } else if (monotonic_seconds() - long(g_first_second) > kDuplicateSeconds) {
    // A later signal: the user means it. The default action, at once.
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, nullptr);
    raise(signal);
    return;
  }
  if (volatile uint8_t* byte = g_byte) *byte = 1;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking call (KVM_RUN, a sleep) returns EINTR so the
  // engine notices. A second signal more than kDuplicateSeconds after the
  // first has the default action (on_stop_signal).
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_signal; }

void set_stop_signal_byte(volatile uint8_t* byte) {
  g_byte = byte;
  if (byte && g_signal) *byte = 1;
}

std::string signal_stop_message(int signal) {
  const char* name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "a signal";
  return std::string("stopped by ") + name + "; output, trace and statistics written up to this point";
}

void reraise_stop_signal() {
  const int signal = g_signal;
  if (signal == 0) return;
  std::signal(signal, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signal);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  std::raise(signal);
}

}  // namespace nestbed
