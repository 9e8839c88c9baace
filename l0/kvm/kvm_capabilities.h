// What the kvm engine can do on this host: whether /dev/kvm is usable, the
// KVM API version, whether KVM offers VMX to its guests (and so which
// depths the engine can run), and whether tracefs can record the kernel's
// exits. `nestbed engines` prints it; the engine checks depth with it.
#pragma once
#include <optional>
#include <string>

#include "l0/engine.h"
#include "l0/kvm/guest_cpuid.h"

namespace nestbed::kvm {

struct KvmCapabilities {
  bool device_present = false;  // /dev/kvm exists
  bool usable = false;          // opened, API version 12, a VM can be created
  std::string problem;          // why not usable
  int api_version = 0;
  std::string module;           // the vendor module loaded: kvm_intel, kvm_amd, kvm_pvm, or ""
  bool vmx_offered = false;     // CPUID.1:ECX.VMX[bit 5] in KVM_GET_SUPPORTED_CPUID
  // /sys/module/kvm_intel/parameters/nested as the file says it ("Y", "N",
  // "1", "0"); empty when the file is absent (kvm_intel not loaded).
  std::string nested_parameter;
  std::string tracefs;          // where tracefs is mounted, or "" (a run with --trace tries to mount it)
  bool tracefs_has_kvm_events = false;

  // Depth ≥ 1 (l1-vmm under the workload) needs VMX in the guest.
  bool runs_depth_1_and_up() const { return usable && vmx_offered; }
  // One line saying why depth ≥ 1 cannot run here ("" if it can).
  std::string why_no_nesting() const;
};

// Probes without side effects (a VM is created and closed, nothing is mounted).
KvmCapabilities probe_kvm_capabilities();

// The same, from an already-read supported CPUID (the engine has one).
void describe_vmx(KvmCapabilities& caps, const CpuidEntries& supported);

// Whether a run asks for depth ≥ 1 (DESIGN.md §1): its image is l1-vmm, or
// it has modules, which only l1-vmm boots as its guests.
bool run_needs_vmx(const RunConfig& config);

// The text `nestbed engines` prints for kvm, several indented lines.
std::string format_kvm_report(const KvmCapabilities& caps);

}  // namespace nestbed::kvm
