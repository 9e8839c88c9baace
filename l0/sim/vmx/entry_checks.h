// The checks of VM entry (SDM 26.2 and 26.3.1), as pure functions of a VMCS
// and the capabilities the CPU reports. VMLAUNCH/VMRESUME run them in SDM
// order: controls and host state fail the instruction with VMfailValid
// (errors 7 and 8); guest state fails the entry with exit reason 33
// (invalid guest state) and its qualification (SDM 26.8).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "l0/sim/vmx/capabilities.h"
#include "l0/sim/vmx/vmcs.h"

namespace nestbed::sim::vmx {

enum class EntryFailure : uint8_t {
  None,
  Control,     // VMfailValid(VM-instruction error 7), SDM 26.2.1
  HostState,   // VMfailValid(8), SDM 26.2.2-26.2.4
  GuestState,  // VM-entry failure, exit reason 33, SDM 26.3.1
};

struct EntryCheckResult {
  EntryFailure failure = EntryFailure::None;
  uint64_t qualification = 0;  // for GuestState: 0, 2 (PDPTE) or 4 (VMCS link pointer), SDM 26.8
  std::string check;           // which check failed, citing the SDM section, for messages and tests
  bool ok() const { return failure == EntryFailure::None; }
};

struct EntryCheckContext {
  const VmxCapabilities& caps;
  // Reads guest/host-physical memory (the VMCS link pointer's revision
  // identifier, PAE PDPTEs). Returns all-ones outside RAM.
  std::function<uint64_t(uint64_t pa, unsigned size)> read_phys;
  // Only VM entries that return from SMM compare pointers with the VMXON
  // pointer (SDM 34.15.4); the sim has no SMM, so no check reads it.
  uint64_t vmxon_pointer = ~0ull;
  uint64_t current_vmcs_pointer = ~0ull;  // the VMCS link pointer may not equal it (SDM 26.3.1.5)
  // IA32_EFER.LMA of the CPU executing VMLAUNCH/VMRESUME: the host
  // address-space size must match it (SDM 26.2.4).
  bool cpu_in_ia32e_mode = true;
};

EntryCheckResult check_vm_execution_controls(const Vmcs& vmcs, const EntryCheckContext& ctx);  // 26.2.1.1
EntryCheckResult check_vm_exit_controls(const Vmcs& vmcs, const EntryCheckContext& ctx);       // 26.2.1.2
EntryCheckResult check_vm_entry_controls(const Vmcs& vmcs, const EntryCheckContext& ctx);      // 26.2.1.3
EntryCheckResult check_host_state(const Vmcs& vmcs, const EntryCheckContext& ctx);             // 26.2.2-26.2.4
EntryCheckResult check_guest_state(const Vmcs& vmcs, const EntryCheckContext& ctx);            // 26.3.1

// The EPTP's own checks (part of 26.2.1.1), shared with INVEPT (SDM 30.3).
EntryCheckResult check_eptp(uint64_t eptp, const VmxCapabilities& caps);

// All of the above in SDM order; the first failure wins.
EntryCheckResult check_vm_entry(const Vmcs& vmcs, const EntryCheckContext& ctx);

}  // namespace nestbed::sim::vmx
