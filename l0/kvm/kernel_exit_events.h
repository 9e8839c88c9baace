// The exits user space never sees, from the kernel's own tracepoints:
// kvm:kvm_exit, kvm:kvm_nested_vmexit, kvm:kvm_entry and
// kvm:kvm_userspace_exit of the run's vCPU thread, recorded through tracefs
// with the x86-tsc clock so they merge with the engine's exits by TSC.
//
// Each run gets a private tracefs instance (instances/nestbed-<pid>-<n>):
// its own ring buffer, clock and event switches, so neither the global trace
// nor another nestbed run is disturbed, and the instance is removed after.
// A reader thread drains trace_pipe while the guest runs, so a long run
// loses nothing unless the kernel outpaces it (lost events are counted).
#pragma once
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "exit-tracer/exit_trace.h"
#include "l0/kvm/kvm_api.h"

namespace nestbed::kvm {

class KernelExitEvents {
 public:
  // Starts recording the events of thread `tid`. Returns nullptr, with the
  // reason in *why_not, where tracefs cannot be used (not mountable, no
  // permission, no kvm events, no x86-tsc clock). Remarks worth keeping
  // (e.g. "mounted tracefs at ...") are appended to *remarks.
  static std::unique_ptr<KernelExitEvents> start(pid_t tid, std::string* why_not, std::vector<std::string>* remarks);
  ~KernelExitEvents();
  KernelExitEvents(const KernelExitEvents&) = delete;
  KernelExitEvents& operator=(const KernelExitEvents&) = delete;

  // Stops recording and moves the events into `trace` (kernel_events,
  // kernel_events_lost, their names), which must hold no kernel events yet.
  // Call once, after the vCPU stopped.
  void finish(trace::ExitTrace& trace);

  // The events this recorder enables, as "kvm:kvm_exit ...", for notes.
  static const char* event_list();

 private:
  explicit KernelExitEvents(std::string instance_dir);
  void enable_events(bool on);
  void read_pipe();

  std::string instance_dir_;
  FileDescriptor pipe_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  int read_error_ = 0;          // reader thread: errno of a failed read, which ended it
  std::string partial_line_;    // reader thread: a line not yet complete
  trace::ExitTrace collected_;  // reader thread: the events parsed so far
};

// Parses one line of trace_pipe output; a line that is none of the four
// events (or a "[LOST n EVENTS]" line, counted in kernel_events_lost) is
// ignored. Returns whether the line added an event. Exposed for tests.
bool parse_trace_pipe_line(const std::string& line, trace::ExitTrace& trace);

}  // namespace nestbed::kvm
