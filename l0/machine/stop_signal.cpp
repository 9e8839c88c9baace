#include "l0/machine/stop_signal.h"

#include <signal.h>

#include <csignal>

namespace nestbed {
namespace {

volatile std::sig_atomic_t g_signal = 0;
volatile uint8_t* volatile g_byte = nullptr;

extern "C" void on_stop_signal(int signal) {
  if (g_signal == 0) g_signal = signal;
  if (volatile uint8_t* byte = g_byte) *byte = 1;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking call (KVM_RUN, a sleep) returns EINTR so the
  // engine notices. SA_RESETHAND: the second signal has the default action.
  action.sa_flags = SA_RESETHAND;
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
