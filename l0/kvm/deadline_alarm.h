// Wakes the vCPU thread at an APIC timer deadline. The local APIC lives in
// user space (see vcpu_loop.h), so while the guest runs inside KVM_RUN
// nobody would notice its timer expiring: a POSIX timer sends this thread a
// signal at the deadline, and KVM_RUN returns with EINTR.
//
// The signal is blocked whenever the thread is in user space and unblocked
// only inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it can never interrupt the
// engine itself and can never be lost: one that arrives between arming and
// KVM_RUN stays pending and makes KVM_RUN return at once, and the engine
// consumes it with sigtimedwait, as QEMU does.
#pragma once
#include <signal.h>
#include <time.h>

#include <cstdint>

namespace nestbed::kvm {

class DeadlineAlarm {
 public:
  static constexpr uint64_t NEVER = ~0ull;

  // tsc_hz converts TSC deadlines to CLOCK_MONOTONIC delays. Blocks the signal
  // in the calling thread (which must be the one that calls KVM_RUN) until destruction.
  explicit DeadlineAlarm(uint64_t tsc_hz);
  ~DeadlineAlarm();
  DeadlineAlarm(const DeadlineAlarm&) = delete;
  DeadlineAlarm& operator=(const DeadlineAlarm&) = delete;

  // Fires at host TSC `deadline` (NEVER: disarms). Re-arming the same deadline is free.
  void arm(uint64_t deadline);
  // Sleeps until the alarm fires (for a halted vCPU) or a stop signal
  // arrives (l0/machine/stop_signal.h); returns at once if it already has.
  void wait();
  // Consumes a delivered alarm signal, if any, after KVM_RUN returned EINTR.
  void consume();
  // The signal mask for KVM_RUN: this thread's mask with the alarm signal unblocked.
  const sigset_t& kvm_run_mask() const { return run_mask_; }

 private:
  uint64_t tsc_hz_;
  int signal_;
  timer_t timer_{};
  uint64_t armed_ = NEVER;
  sigset_t alarm_set_{}, run_mask_{}, saved_mask_{};
  struct sigaction saved_action_ {};
};

}  // namespace nestbed::kvm
