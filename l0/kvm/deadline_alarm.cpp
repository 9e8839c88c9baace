#include "l0/kvm/deadline_alarm.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "l0/kvm/host_tsc.h"
#include "l0/machine/stop_signal.h"
#include "l0/kvm/kvm_api.h"

namespace nestbed::kvm {
namespace {

constexpr uint64_t NS_PER_SECOND = 1000000000;

// The handler never runs in practice (the signal is only ever unblocked
// inside KVM_RUN, which returns EINTR instead), but a signal that somehow
// got through must not take the default action, which ends the process.
void ignore_alarm(int) {}

// TSC cycles to nanoseconds, rounded up so the alarm never fires before the deadline.
uint64_t cycles_to_ns(uint64_t cycles, uint64_t tsc_hz) {
  return uint64_t((static_cast<unsigned __int128>(cycles) * NS_PER_SECOND + tsc_hz - 1) / tsc_hz);
}

}  // namespace

DeadlineAlarm::DeadlineAlarm(uint64_t tsc_hz) : tsc_hz_(tsc_hz), signal_(SIGRTMIN) {
  sigemptyset(&alarm_set_);
  sigaddset(&alarm_set_, signal_);

  struct sigaction action {};
  action.sa_handler = ignore_alarm;
  sigemptyset(&action.sa_mask);
  if (sigaction(signal_, &action, &saved_action_) != 0) throw KvmError("sigaction", errno);
  if (int rc = pthread_sigmask(SIG_BLOCK, &alarm_set_, &saved_mask_)) throw KvmError("pthread_sigmask", rc);
  run_mask_ = saved_mask_;
  sigdelset(&run_mask_, signal_);

  sigevent event{};
  event.sigev_notify = SIGEV_THREAD_ID;
  event.sigev_signo = signal_;
  event._sigev_un._tid = gettid();  // glibc has no sigev_notify_thread_id name for it
  if (timer_create(CLOCK_MONOTONIC, &event, &timer_) != 0) throw KvmError("timer_create", errno);
}

DeadlineAlarm::~DeadlineAlarm() {
  timer_delete(timer_);
  consume();  // a signal still pending must not outlive the blocked mask
  pthread_sigmask(SIG_SETMASK, &saved_mask_, nullptr);
  sigaction(signal_, &saved_action_, nullptr);
}

void DeadlineAlarm::arm(uint64_t deadline) {
  if (deadline == armed_) return;
  itimerspec when{};  // all zero: disarm
  if (deadline != NEVER) {
    uint64_t now = read_tsc();
    uint64_t ns = deadline > now ? cycles_to_ns(deadline - now, tsc_hz_) : 1;  // 0 would mean "disarm"
    when.it_value.tv_sec = time_t(ns / NS_PER_SECOND);
    when.it_value.tv_nsec = long(ns % NS_PER_SECOND);
  }
  if (timer_settime(timer_, 0, &when, nullptr) != 0) throw KvmError("timer_settime", errno);
  armed_ = deadline;
}

void DeadlineAlarm::wait() {
  if (armed_ == NEVER) return;
  // Another handled signal interrupts the wait (EINTR): a stop signal ends
  // it (the caller looks at stop_signal()), anything else waits on.
  while (sigwaitinfo(&alarm_set_, nullptr) < 0 && errno == EINTR) {
    if (stop_signal()) return;
  }
  armed_ = NEVER;
}

void DeadlineAlarm::consume() {
  const timespec no_wait{0, 0};
  bool delivered = sigtimedwait(&alarm_set_, nullptr, &no_wait) >= 0;
  // However it was taken, an alarm whose deadline has passed is spent.
  if (delivered || (armed_ != NEVER && read_tsc() >= armed_)) armed_ = NEVER;
}

}  // namespace nestbed::kvm
