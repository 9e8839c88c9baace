// The checks of VM entry (SDM 26.2 and 26.3.1), as pure functions of a VMCS,
// the VMX capability MSRs and a little processor state. One implementation
// for every level (DESIGN.md §2): the sim runs it on the VMCS of the program
// it runs, l1-vmm on the vmcs12 of its guest VMM, so a VMCS is refused at
// every depth exactly when the platform would refuse it.
//
// VMLAUNCH/VMRESUME run them in SDM order: controls and host state fail the
// instruction with VMfailValid (errors 7 and 8); guest state fails the entry
// with exit reason 33 (invalid guest state) and its qualification (SDM 26.8).
//
// Freestanding (common/README.md): no C++ library, no allocation, no
// exceptions; the caller supplies the VMCS as an array of field values and
// physical memory as a function.
#pragma once
#include <stdint.h>

#include "arch/vmx/vmcs_fields.h"
#include "common/vmx/capabilities.h"

namespace nestbed::common::vmx {

enum class EntryFailure : uint8_t {
  None,
  Control,     // VMfailValid(VM-instruction error 7), SDM 26.2.1
  HostState,   // VMfailValid(8), SDM 26.2.2-26.2.4
  GuestState,  // VM-entry failure, exit reason 33, SDM 26.3.1
};

struct EntryCheckResult {
  EntryFailure failure = EntryFailure::None;
  uint64_t qualification = 0;  // for GuestState: 0, 2 (PDPTE) or 4 (VMCS link pointer), SDM 26.8
  // Which check failed, citing its SDM section, for messages and tests: a
  // string with static storage, "" when every check passed.
  const char* check = "";
  constexpr bool ok() const { return failure == EntryFailure::None; }
};

// The VMCS being entered: each field's value, zero-extended to 64 bits (as
// VMWRITE leaves it), at the field's dense slot arch::vmx::vmcs_field_slot()
// — the order of arch::vmx::kVmcsFields. The sim's Vmcs stores its fields
// so (Vmcs::fields()); a VMM keeps its cached vmcs12 so. An array rather
// than a read callback: the slot of a named field is a compile-time
// constant, so each read is one load.
struct VmcsView {
  const uint64_t* fields;  // arch::vmx::kVmcsFieldCount values

  // A field named at compile time: one load.
  template <arch::vmx::VmcsField f>
  constexpr uint64_t read() const {
    constexpr int slot = arch::vmx::vmcs_field_slot(uint32_t(f));
    static_assert(slot >= 0, "a field of arch/vmx/vmcs_fields.def");
    return fields[slot];
  }
  // Any field: the slot is looked up at run time.
  constexpr uint64_t read(arch::vmx::VmcsField f) const { return fields[arch::vmx::vmcs_field_slot(uint32_t(f))]; }
};

// Reads `size` (4 or 8) bytes of physical memory at `pa` — guest-physical
// memory of the VMM whose VMCS this is — for the VMCS link pointer's
// revision identifier, a PAE guest's PDPTEs and VTPR (the TPR shadow). All-ones
// outside its RAM.
using ReadPhys = uint64_t (*)(void* opaque, uint64_t pa, unsigned size);

struct EntryCheckContext {
  const VmxCapabilities& caps;
  ReadPhys read_phys;
  void* read_phys_opaque;  // passed back to read_phys
  // Only VM entries that return from SMM compare pointers with the VMXON
  // pointer (SDM 34.15.4); neither the sim nor l1-vmm has SMM, so no check
  // reads it.
  uint64_t vmxon_pointer = ~0ull;
  uint64_t current_vmcs_pointer = ~0ull;  // the VMCS link pointer may not equal it (SDM 26.3.1.5)
  // IA32_EFER.LMA of the CPU executing VMLAUNCH/VMRESUME: the host
  // address-space size must match it (SDM 26.2.4).
  bool cpu_in_ia32e_mode = true;
  // The IA32_DEBUGCTL bits the processor implements (model-specific; no
  // capability MSR reports them): with "load debug controls" every other
  // bit of the guest IA32_DEBUGCTL field must be 0 (SDM 26.3.1.1).
  uint64_t debugctl_supported = 0;
};

EntryCheckResult check_vm_execution_controls(VmcsView vmcs, const EntryCheckContext& ctx);  // 26.2.1.1
EntryCheckResult check_vm_exit_controls(VmcsView vmcs, const EntryCheckContext& ctx);       // 26.2.1.2
EntryCheckResult check_vm_entry_controls(VmcsView vmcs, const EntryCheckContext& ctx);      // 26.2.1.3
EntryCheckResult check_host_state(VmcsView vmcs, const EntryCheckContext& ctx);             // 26.2.2-26.2.4
EntryCheckResult check_guest_state(VmcsView vmcs, const EntryCheckContext& ctx);            // 26.3.1
// check_guest_state in two parts, in this order: the registers (26.3.1.1
// control and debug registers and MSRs, 26.3.1.2 segment registers,
// 26.3.1.3 descriptor-table registers), and the rest (26.3.1.4 RIP and
// RFLAGS, 26.3.1.5 non-register state, 26.3.1.6 PDPTEs). The first reads
// only the control fields, the guest fields of kGuestRegisterFields and
// RFLAGS.VM, so a VMM that knows none of them changed since it passed may
// skip it (l1-vmm's nested entry does).
EntryCheckResult check_guest_registers(VmcsView vmcs, const EntryCheckContext& ctx);
EntryCheckResult check_guest_non_register_state(VmcsView vmcs, const EntryCheckContext& ctx);
namespace guest_register_fields {
using F = arch::vmx::VmcsField;
inline constexpr F kFields[] = {
    F::GUEST_CR0, F::GUEST_CR3, F::GUEST_CR4, F::GUEST_DR7, F::GUEST_IA32_DEBUGCTL, F::GUEST_SYSENTER_ESP,
    F::GUEST_SYSENTER_EIP, F::GUEST_IA32_PAT, F::GUEST_IA32_EFER,
    F::GUEST_ES_SELECTOR, F::GUEST_ES_BASE, F::GUEST_ES_LIMIT, F::GUEST_ES_AR_BYTES,
    F::GUEST_CS_SELECTOR, F::GUEST_CS_BASE, F::GUEST_CS_LIMIT, F::GUEST_CS_AR_BYTES,
    F::GUEST_SS_SELECTOR, F::GUEST_SS_BASE, F::GUEST_SS_LIMIT, F::GUEST_SS_AR_BYTES,
    F::GUEST_DS_SELECTOR, F::GUEST_DS_BASE, F::GUEST_DS_LIMIT, F::GUEST_DS_AR_BYTES,
    F::GUEST_FS_SELECTOR, F::GUEST_FS_BASE, F::GUEST_FS_LIMIT, F::GUEST_FS_AR_BYTES,
    F::GUEST_GS_SELECTOR, F::GUEST_GS_BASE, F::GUEST_GS_LIMIT, F::GUEST_GS_AR_BYTES,
    F::GUEST_LDTR_SELECTOR, F::GUEST_LDTR_BASE, F::GUEST_LDTR_LIMIT, F::GUEST_LDTR_AR_BYTES,
    F::GUEST_TR_SELECTOR, F::GUEST_TR_BASE, F::GUEST_TR_LIMIT, F::GUEST_TR_AR_BYTES,
    F::GUEST_GDTR_BASE, F::GUEST_GDTR_LIMIT, F::GUEST_IDTR_BASE, F::GUEST_IDTR_LIMIT,
};
}  // namespace guest_register_fields
inline constexpr const auto& kGuestRegisterFields = guest_register_fields::kFields;

// The check of "use TPR shadow" that reads memory (VTPR on the virtual-APIC
// page, part of 26.2.1.1): a VMM that skips the control checks while the
// control fields are unchanged must still run this one at every entry.
EntryCheckResult check_tpr_threshold_vtpr(VmcsView vmcs, const EntryCheckContext& ctx);

// The EPTP's own checks (part of 26.2.1.1), shared with INVEPT (SDM 30.3).
EntryCheckResult check_eptp(uint64_t eptp, const VmxCapabilities& caps);

// All of the above in SDM order; the first failure wins.
EntryCheckResult check_vm_entry(VmcsView vmcs, const EntryCheckContext& ctx);

}  // namespace nestbed::common::vmx
