// The kvm engine's exit loop: KVM_RUN, then whatever the exit asks of user
// space, with the shared device models (l0/devices) behind every exit and
// every exit recorded with its user-space cost.
//
// The local APIC is the shared user-space LocalApic, not KVM's in-kernel
// irqchip. Why:
//  - one APIC model for both engines: the same registers, the same timer
//    arithmetic (on the host TSC here, modeled cycles in the sim), the same
//    bugs if any, so a difference between sim and kvm results is never an
//    APIC difference;
//  - APIC accesses are exits that user space sees and records, as the sim
//    sees them; with KVM_CREATE_IRQCHIP they would vanish into the kernel
//    (and KVM's in-kernel PIC and I/O APIC would replace the shared models:
//    its I/O APIC reports version 0x11, the shared one QEMU TCG's 0x20);
//  - HLT reaches user space, so "HLT with interrupts off" is an exact Halted
//    stop, not a vCPU blocked forever inside KVM_RUN.
// The cost: APIC register accesses are user-space exits (slower than
// in-kernel emulation), interrupts are injected with KVM_INTERRUPT and the
// interrupt window, and the timer wakes the vCPU with a host timer signal
// (DeadlineAlarm), so it is as precise as the host's timers, not the TSC.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "exit-tracer/exit_trace.h"
#include "l0/devices/platform_devices.h"
#include "l0/engine.h"
#include "l0/kvm/deadline_alarm.h"
#include "l0/kvm/kvm_api.h"

namespace nestbed::kvm {

struct LoopStop {
  StopReason reason;
  std::string message;  // for a stop other than a debug exit
};

class VcpuLoop {
 public:
  // Every exit is recorded in trace.user_exits (48 bytes each). With
  // keep_exits false only the latest is kept: the same work per exit, so
  // untraced and traced runs cost the same, in bounded memory.
  VcpuLoop(KvmVcpu& vcpu, PlatformDevices& devices, trace::ExitTrace& trace, bool keep_exits, uint64_t tsc_hz);

  // Runs the guest until it stops. Throws KvmError if KVM itself fails.
  LoopStop run();

  uint64_t tsc_cycles() const { return end_tsc_ - start_tsc_; }  // from the first KVM_RUN to the stop
  uint64_t interrupts_injected() const { return interrupts_; }

 private:
  void prepare_entry();
  void inject_pending_interrupt();
  trace::UserExit& record_exit(uint64_t tsc);
  std::optional<LoopStop> handle_exit(trace::UserExit& exit);
  std::optional<LoopStop> handle_io(trace::UserExit& exit);
  void handle_mmio(trace::UserExit& exit);
  void handle_msr(trace::UserExit& exit);
  std::optional<LoopStop> handle_hlt();
  LoopStop internal_error_stop();
  LoopStop stop_at_rip(StopReason reason, const std::string& what);

  KvmVcpu& vcpu_;
  kvm_run& shared_;
  PlatformDevices& devices_;
  trace::ExitTrace& trace_;
  DeadlineAlarm alarm_;
  bool keep_exits_;
  uint64_t exits_ = 0;
  uint64_t start_tsc_ = 0, end_tsc_ = 0;
  uint64_t interrupts_ = 0;
};

}  // namespace nestbed::kvm
