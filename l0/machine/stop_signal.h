// SIGINT and SIGTERM (Ctrl-C, `timeout`, `kill`) as a request to end the
// run cleanly: the handler only records the signal; the engines poll
// stop_signal() between slices of guest execution (the sim) or when KVM_RUN
// returns (kvm), stop with StopReason::Signal, and the CLI then flushes the
// guest's output, finishes the trace and writes --stats before ending the
// process by the same signal (reraise_stop_signal), so the caller sees
// what it asked for (status 128 + N in a shell, 124 under `timeout`).
// A second signal while the first is being handled kills at once.
#pragma once
#include <cstdint>
#include <string>

namespace nestbed {

// Installs the handlers (the CLI, once, before a run).
void install_stop_signal_handlers();
// 0, or the number of the first SIGINT/SIGTERM received.
int stop_signal();
// A byte the handler sets to 1 when the signal arrives (nullptr: none):
// the kvm engine passes kvm_run's `immediate_exit`, so a signal that lands
// just before KVM_RUN still makes it return at once (as QEMU does).
void set_stop_signal_byte(volatile uint8_t* byte);
// "stopped by SIGTERM", for the stop line on stderr.
std::string signal_stop_message(int signal);
// Restores the default action and raises the received signal; returns
// only if there was none.
void reraise_stop_signal();

}  // namespace nestbed
