#include "l0/kvm/kvm_engine.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include "arch/x86/msr.h"
#include "l0/kvm/guest_cpuid.h"
#include "l0/kvm/host_tsc.h"
#include "l0/kvm/kernel_exit_events.h"
#include "l0/kvm/kvm_api.h"
#include "l0/kvm/kvm_capabilities.h"
#include "l0/kvm/kvm_exit_reasons.h"
#include "l0/kvm/multiboot_entry.h"
#include "l0/kvm/vcpu_loop.h"
#include "l0/machine/machine.h"
#include "l0/machine/stop_signal.h"

namespace nestbed {
namespace {

using namespace kvm;

// Options only the sim can honour are refused rather than ignored, so a
// result never silently means something other than what was asked.
void reject_sim_only_options(const RunConfig& config) {
  if (config.max_instructions != 0)
    throw InputError(
        "--max-instructions is not supported by the kvm engine: KVM runs the guest natively and cannot stop it "
        "after an exact number of instructions; use --engine sim");
  if (!config.cost_model_path.empty())
    throw InputError("--cost-model is for the sim engine; the kvm engine measures real TSC cycles");
  if (!config.translate)
    throw InputError("--translate off is for the sim engine; the kvm engine runs the guest natively");
}

// The --trace file: opened before the guest runs, so a bad path fails
// first, and removed again if no trace gets written (a run refused as
// unsupported leaves no empty file behind).
class TraceOutput {
 public:
  explicit TraceOutput(const std::string& path) {
    if (!path.empty()) file_.emplace(path, "trace");
  }
  ~TraceOutput() {
    if (file_ && !written_) file_->discard();
  }
  TraceOutput(const TraceOutput&) = delete;
  TraceOutput& operator=(const TraceOutput&) = delete;

  bool wanted() const { return file_.has_value(); }

  void write(const trace::ExitTrace& trace) {
    try {
      trace::write_trace(trace, file_->stream());
    } catch (const std::runtime_error& e) {
      file_->fail(e.what());
    }
    file_->close();
    written_ = true;
  }

 private:
  std::optional<OutputFile> file_;
  bool written_ = false;
};

RunResult unsupported(const std::string& message) {
  RunResult r;
  r.reason = StopReason::Unsupported;
  r.message = message;
  return r;
}

std::optional<std::string> wrong_api_version(const KvmSystem& kvm) {
  const int version = kvm.api_version();
  if (version == KVM_API_VERSION) return std::nullopt;
  return "kvm engine: KVM API version " + std::to_string(version) + ", nestbed needs " + std::to_string(KVM_API_VERSION);
}

// Depth >= 1 runs l1-vmm, which needs VMX in its guest: refused before running where KVM does not offer it.
std::optional<std::string> missing_vmx(const CpuidEntries& supported, const RunConfig& config) {
  if (!run_needs_vmx(config)) return std::nullopt;
  KvmCapabilities caps;
  caps.usable = true;
  describe_vmx(caps, supported);
  if (caps.vmx_offered) return std::nullopt;
  return "kvm engine: this run is depth >= 1 (the image is l1-vmm, or modules are given), which needs VMX in the "
         "guest, and " + caps.why_no_nesting() + "; run it with --engine sim";
}

// The VM of one run: guest RAM (the Machine's memory, loaded by the Multiboot
// loader), IA32_APIC_BASE served by the LocalApic, one vCPU at the Multiboot entry.
struct KvmGuest {
  KvmVm vm;
  KvmVcpu vcpu;

  KvmGuest(const KvmSystem& kvm, Machine& machine, const CpuidEntries& supported) : vm(kvm), vcpu(kvm, vm, 0) {
    vm.map_memory(0, 0, machine.memory.data(), machine.memory.size());
    // IA32_APIC_BASE (relocation, enabling, x2APIC mode) and the x2APIC
    // MSRs belong to the LocalApic, which moves its page on the bus.
    vm.route_msrs_to_user_space({{arch::msr::IA32_APIC_BASE, 1}});
    vcpu.set_cpuid(guest_cpuid(supported));
    // As firmware does: VMXON allowed outside SMX and the MSR locked (SDM 23.7).
    if (offers_vmx(supported))
      vcpu.set_msr(arch::msr::IA32_FEATURE_CONTROL,
                   arch::msr::FEATURE_CONTROL_LOCK | arch::msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX);
    enter_multiboot_state(vcpu, machine.boot);
  }
};

// /dev/kvm and the VM of one run.
struct KvmSession {
  std::optional<KvmSystem> kvm;
  std::optional<KvmGuest> guest;
  uint64_t tsc_hz = 0;
};

// Opens KVM and builds the guest; returns why it cannot (the run is then
// Unsupported: the engine cannot run this here).
std::optional<std::string> open_session(KvmSession& session, Machine& machine, const RunConfig& config) {
  try {
    session.kvm.emplace();
    if (std::optional<std::string> why_not = wrong_api_version(*session.kvm)) return why_not;
    const CpuidEntries supported = session.kvm->supported_cpuid();
    if (std::optional<std::string> why_not = missing_vmx(supported, config)) return why_not;
    session.guest.emplace(*session.kvm, machine, supported);
    session.tsc_hz = uint64_t(session.guest->vcpu.tsc_khz()) * 1000;
    return std::nullopt;
  } catch (const KvmError& e) {
    return std::string("kvm engine: ") + e.what();
  }
}

void describe_run(trace::ExitTrace& trace, const RunConfig& config, uint64_t tsc_hz) {
  trace.tsc_hz = tsc_hz;
  trace.add_note("engine", "kvm");
  trace.add_note("image", config.image_path);
  trace.add_note("cmdline", config.cmdline);
  trace.add_note("user_exits",
                 "every return of KVM_RUN to user space; cost = host TSC from that return to the next KVM_RUN");
}

// Reports (once, on stderr and in the trace) what the trace will lack.
void say_once(trace::ExitTrace& trace, const std::string& key, const std::string& text) {
  trace.add_note(key, text);
  std::fflush(stdout);
  std::fprintf(stderr, "nestbed: kvm trace: %s\n", text.c_str());
}

std::unique_ptr<KernelExitEvents> start_kernel_events(trace::ExitTrace& trace) {
  std::string why_not;
  std::vector<std::string> remarks;
  auto events = KernelExitEvents::start(gettid(), &why_not, &remarks);
  for (const std::string& remark : remarks) trace.add_note("tracefs", remark);
  if (events)
    trace.add_note("tracefs", std::string("recording ") + KernelExitEvents::event_list() +
                                  " of the vCPU thread with the x86-tsc clock");
  else
    say_once(trace, "tracefs", "tracefs is unavailable (" + why_not + "); the trace holds user-space exits only");
  return events;
}

void finish_kernel_events(KernelExitEvents& events, trace::ExitTrace& trace) {
  events.finish(trace);
  uint64_t exits = 0;
  for (const trace::KernelEvent& e : trace.kernel_events)
    exits += e.kind == uint32_t(trace::KernelEventKind::Exit) || e.kind == uint32_t(trace::KernelEventKind::NestedExit);
  if (exits == 0 && !trace.user_exits.empty()) {
    std::string module = probe_kvm_capabilities().module;
    say_once(trace, "kernel_exits",
             "no kvm:kvm_exit events arrived although the guest exited: this host's KVM (module " +
                 (module.empty() ? std::string("unknown") : module) +
                 ") does not emit them, so exits the kernel handles itself (CPUID, ...) are not in this trace");
  }
  if (trace.kernel_events_lost)
    say_once(trace, "kernel_events_lost",
             std::to_string(trace.kernel_events_lost) + " kernel events were lost (tracefs ring buffer overflow)");
}

void name_kvm_exit_reasons(trace::ExitTrace& trace) {
  std::set<uint32_t> reasons;
  for (const trace::UserExit& e : trace.user_exits) reasons.insert(e.reason);
  for (uint32_t reason : reasons) {
    const char* name = kvm_exit_reason_name(reason);
    trace.set_name(trace::NameSpace::KvmExitReason, reason, name ? name : "KVM_EXIT_" + std::to_string(reason));
  }
}

RunResult result_of(const LoopStop& stop, const Machine& machine, const VcpuLoop& loop, double seconds) {
  RunResult r;
  r.reason = stop.reason;
  r.message = stop.message;
  if (stop.reason == StopReason::Signal) r.signal = stop_signal();
  if (stop.reason == StopReason::DebugExit) r.debug_exit_code = *machine.devices.debug_exit.code;
  r.stats.guest_events_counted = false;  // KVM does not count instructions, exceptions or VM exits
  r.stats.cycles = loop.tsc_cycles();
  r.stats.wall_seconds = seconds;
  r.stats.interrupts = loop.interrupts_injected();
  r.stats.io_exits = machine.devices.bus.io_accesses;
  r.stats.mmio_exits = machine.devices.bus.mmio_accesses;
  return r;
}

class KvmEngine final : public Engine {
 public:
  const char* name() const override { return "kvm"; }
  RunResult run(Machine& machine, const RunConfig& config) override;
};

RunResult KvmEngine::run(Machine& machine, const RunConfig& config) {
  reject_sim_only_options(config);
  TraceOutput trace_output(config.trace_path);
  KvmSession session;
  if (std::optional<std::string> why_not = open_session(session, machine, config)) return unsupported(*why_not);

  static const HostTscClock host_tsc;  // stateless; outlives the Machine's LocalApic
  machine.devices.apic.set_clock(&host_tsc);

  trace::ExitTrace trace;
  describe_run(trace, config, session.tsc_hz);
  std::unique_ptr<KernelExitEvents> kernel_events = trace_output.wanted() ? start_kernel_events(trace) : nullptr;

  VcpuLoop loop(session.guest->vcpu, machine.devices, trace, trace_output.wanted(), session.tsc_hz);
  const auto start = std::chrono::steady_clock::now();
  const LoopStop stop = loop.run();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (kernel_events) finish_kernel_events(*kernel_events, trace);
  if (trace_output.wanted()) {
    name_kvm_exit_reasons(trace);
    trace_output.write(trace);
  }
  return result_of(stop, machine, loop, seconds);
}

}  // namespace

std::unique_ptr<Engine> make_kvm_engine() { return std::make_unique<KvmEngine>(); }

}  // namespace nestbed
