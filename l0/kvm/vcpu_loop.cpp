#include "l0/kvm/vcpu_loop.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "l0/kvm/host_tsc.h"
#include "l0/kvm/kvm_exit_reasons.h"
#include "l0/machine/stop_signal.h"

namespace nestbed::kvm {
namespace {

using trace::Access;
using trace::UserExit;

// Most runs exit a few hundred times; a pio-loop of a million, a million times.
constexpr size_t INITIAL_EXIT_CAPACITY = 4096;

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%" PRIx64, value);
  return text;
}

std::string exit_reason_text(uint32_t reason) {
  const char* name = kvm_exit_reason_name(reason);
  return name ? name : "KVM exit reason " + std::to_string(reason);
}

}  // namespace

VcpuLoop::VcpuLoop(KvmVcpu& vcpu, PlatformDevices& devices, trace::ExitTrace& trace, bool keep_exits, uint64_t tsc_hz)
    : vcpu_(vcpu), shared_(vcpu.shared()), devices_(devices), trace_(trace), alarm_(tsc_hz), keep_exits_(keep_exits) {
  trace_.user_exits.reserve(keep_exits ? INITIAL_EXIT_CAPACITY : 1);
}

LoopStop VcpuLoop::run() {
  vcpu_.set_signal_mask(alarm_.kvm_run_mask());
  // A stop signal sets immediate_exit, so even one that lands between the
  // check below and KVM_RUN makes KVM_RUN return at once (EINTR).
  set_stop_signal_byte(&shared_.immediate_exit);
  struct Unregister {
    ~Unregister() { set_stop_signal_byte(nullptr); }
  } unregister;
  start_tsc_ = read_tsc();
  for (;;) {
    if (stop_signal()) {
      end_tsc_ = read_tsc();
      return LoopStop{StopReason::Signal, signal_stop_message(stop_signal())};
    }
    prepare_entry();
    if (!trace_.user_exits.empty()) trace_.user_exits.back().tsc_resume = read_tsc();
    const bool exited = vcpu_.run();
    const uint64_t exit_tsc = read_tsc();
    if (!exited) alarm_.consume();
    UserExit& exit = record_exit(exit_tsc);
    // The guest may have written CR8 (= TPR[7:4], SDM 11.8.6.1); KVM reports it in kvm_run.
    if (shared_.cr8 != devices_.apic.cr8()) devices_.apic.set_cr8(shared_.cr8);
    if (std::optional<LoopStop> stop = handle_exit(exit)) {
      end_tsc_ = exit_tsc;
      return *stop;
    }
  }
}

// Before each KVM_RUN: the APIC's state goes to KVM (TPR as CR8, a pending
// interrupt), and the alarm is set for the timer's next expiry.
void VcpuLoop::prepare_entry() {
  shared_.cr8 = devices_.apic.cr8();
  devices_.apic.update();
  inject_pending_interrupt();
  alarm_.arm(devices_.apic.next_event());
}

// KVM_INTERRUPT only when KVM says the guest can take one now (IF=1, no
// interrupt shadow, none queued); otherwise ask for an exit when it can
// (request_interrupt_window), as QEMU does without an in-kernel irqchip.
void VcpuLoop::inject_pending_interrupt() {
  // An NMI goes to KVM at once: KVM_NMI queues it, and KVM delivers it when
  // the guest's NMI blocking allows (it tracks that blocking itself).
  if (devices_.apic.nmi_pending()) {
    vcpu_.inject_nmi();
    devices_.apic.take_nmi();
    ++interrupts_;
  }
  int vector = devices_.apic.pending_vector();
  if (vector >= 0 && shared_.ready_for_interrupt_injection && shared_.if_flag) {
    vcpu_.inject_interrupt(uint8_t(vector));
    devices_.apic.acknowledge(vector);
    ++interrupts_;
    shared_.ready_for_interrupt_injection = 0;  // until KVM says so again
    vector = devices_.apic.pending_vector();
  }
  shared_.request_interrupt_window = vector >= 0;
}

UserExit& VcpuLoop::record_exit(uint64_t tsc) {
  if (!keep_exits_) trace_.user_exits.clear();  // keeps its capacity: no allocation
  UserExit exit{};
  exit.seq = exits_++;
  exit.tsc_exit = tsc;
  exit.reason = shared_.exit_reason;
  trace_.user_exits.push_back(exit);
  return trace_.user_exits.back();
}

std::optional<LoopStop> VcpuLoop::handle_exit(UserExit& exit) {
  switch (shared_.exit_reason) {
    case KVM_EXIT_IO: return handle_io(exit);
    case KVM_EXIT_MMIO: handle_mmio(exit); return std::nullopt;
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR: handle_msr(exit); return std::nullopt;
    case KVM_EXIT_HLT: return handle_hlt();
    case KVM_EXIT_IRQ_WINDOW_OPEN:  // prepare_entry injects what is pending
    case KVM_EXIT_INTR:             // the alarm: prepare_entry brings the APIC timer up to date
    case KVM_EXIT_SET_TPR:          // CR8 lowered: run() took the new TPR, prepare_entry re-checks
      return std::nullopt;
    case KVM_EXIT_SHUTDOWN: return stop_at_rip(StopReason::TripleFault, "triple fault (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_INTERNAL_ERROR: return internal_error_stop();
    case KVM_EXIT_FAIL_ENTRY:
      return LoopStop{StopReason::InternalError,
                      "kvm: VM entry failed, hardware reason " + hex(shared_.fail_entry.hardware_entry_failure_reason)};
    default:
      return LoopStop{StopReason::InternalError, "kvm: unexpected exit " + exit_reason_text(shared_.exit_reason)};
  }
}

// Port I/O, one access or a string of them (INS/OUTS with REP: `count`
// elements of `size` bytes in the kvm_run page at data_offset).
std::optional<LoopStop> VcpuLoop::handle_io(UserExit& exit) {
  const auto& io = shared_.io;
  const bool out = io.direction == KVM_EXIT_IO_OUT;
  uint8_t* element = reinterpret_cast<uint8_t*>(&shared_) + io.data_offset;
  exit.access = uint8_t(out ? Access::Write : Access::Read);
  exit.size = io.size;
  exit.count = uint16_t(std::min<uint32_t>(io.count, UINT16_MAX));
  exit.address = io.port;
  for (uint32_t i = 0; i < io.count; ++i, element += io.size) {
    uint32_t value = 0;
    if (out) {
      std::memcpy(&value, element, io.size);
      devices_.bus.io_write(io.port, io.size, value);
    } else {
      value = devices_.bus.io_read(io.port, io.size);
      std::memcpy(element, &value, io.size);
    }
    if (i == 0) exit.data = value;
    if (devices_.debug_exit.code) return LoopStop{StopReason::DebugExit, ""};
  }
  return std::nullopt;
}

void VcpuLoop::handle_mmio(UserExit& exit) {
  auto& mmio = shared_.mmio;
  const unsigned size = std::min<unsigned>(mmio.len, sizeof mmio.data);
  uint64_t value = 0;
  if (mmio.is_write) {
    std::memcpy(&value, mmio.data, size);
    devices_.bus.mmio_write(mmio.phys_addr, size, value);
  } else {
    value = devices_.bus.mmio_read(mmio.phys_addr, size);
    std::memcpy(mmio.data, &value, size);
  }
  exit.access = uint8_t(mmio.is_write ? Access::Write : Access::Read);
  exit.size = uint8_t(size);
  exit.count = 1;
  exit.address = mmio.phys_addr;
  exit.data = value;
}

// The MSRs KVM hands to user space: IA32_APIC_BASE and the x2APIC MSRs,
// which belong to the LocalApic, and any other access KVM refused, which the
// LocalApic refuses too. A refusal is a #GP that KVM raises (msr.error = 1).
void VcpuLoop::handle_msr(UserExit& exit) {
  auto& msr = shared_.msr;
  const bool write = shared_.exit_reason == KVM_EXIT_X86_WRMSR;
  bool ok;
  if (write) {
    ok = devices_.apic.wrmsr(msr.index, msr.data);
  } else {
    uint64_t value = 0;
    ok = devices_.apic.rdmsr(msr.index, value);
    msr.data = value;
  }
  msr.error = ok ? 0 : 1;
  exit.access = uint8_t(write ? Access::Write : Access::Read);
  exit.size = 8;
  exit.count = 1;
  exit.address = msr.index;
  exit.data = msr.data;
}

// HLT (RIP is already past it). With IF=0 nothing can wake the CPU: the
// run ends, as on the sim. With IF=1 the vCPU sleeps until the APIC has an
// interrupt for it, which prepare_entry then injects.
std::optional<LoopStop> VcpuLoop::handle_hlt() {
  if (!shared_.if_flag) return stop_at_rip(StopReason::Halted, "HLT with interrupts disabled and nothing pending");
  for (;;) {
    devices_.apic.update();
    if (devices_.apic.pending_vector() >= 0) return std::nullopt;
    const uint64_t wake = devices_.apic.next_event();
    if (wake == DeadlineAlarm::NEVER) return stop_at_rip(StopReason::Halted, "HLT with no interrupt source armed");
    alarm_.arm(wake);
    alarm_.wait();
    if (stop_signal()) return std::nullopt;  // run() stops before the next KVM_RUN
  }
}

// KVM could not go on. An instruction its emulator cannot handle (an MMIO
// access by an unusual instruction, code executed from MMIO) is something
// this engine cannot run, not a bug in nestbed.
LoopStop VcpuLoop::internal_error_stop() {
  const auto& failure = shared_.emulation_failure;
  if (failure.suberror != KVM_INTERNAL_ERROR_EMULATION)
    return stop_at_rip(StopReason::InternalError, "kvm: KVM internal error, suberror " + std::to_string(failure.suberror));
  std::string what = "kvm: KVM cannot emulate the guest's instruction";
  if (failure.ndata >= 3 && (failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
    what += " (bytes";
    for (unsigned i = 0; i < failure.insn_size && i < sizeof failure.insn_bytes; ++i) {
      char byte[4];
      std::snprintf(byte, sizeof byte, " %02x", failure.insn_bytes[i]);
      what += byte;
    }
    what += ")";
  }
  return stop_at_rip(StopReason::Unsupported, what);
}

LoopStop VcpuLoop::stop_at_rip(StopReason reason, const std::string& what) {
  return LoopStop{reason, what + " (rip " + hex(vcpu_.regs().rip) + ")"};
}

}  // namespace nestbed::kvm
