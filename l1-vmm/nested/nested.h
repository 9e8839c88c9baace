// Nested VMX: l1-vmm (level k) emulates VMX for its guest hypervisor
// (level k+1), which runs its own guest (level k+2) — KVM's nested.c, in
// its vocabulary (README.md, "Nested VMX"):
//
//   vmcs01  the VMCS l1-vmm runs level k+1 on
//   vmcs12  the VMCS level k+1 builds for level k+2 (vmcs12.h, in its memory)
//   vmcs02  the VMCS l1-vmm really runs level k+2 on: vmcs12's guest state
//           and controls merged with l1-vmm's needs (prepare_vmcs02)
//   EPT02   = EPT12 o EPT01, built lazily on EPT02 violations (nested_ept.h)
//
// Level k+1's VMX instructions exit to l1-vmm and are emulated
// (vmx_instructions.cpp). VMLAUNCH/VMRESUME switch to vmcs02
// (nested_vmx_run); an exit of level k+2 is first offered to l1-vmm's own
// needs (l0_wants_exit), then to vmcs12's controls (l1_wants_exit), and a
// reflected exit is nested_vmx_vmexit: vmcs02's guest state and exit
// information into vmcs12, vmcs12's host state into vmcs01, and level k+1
// runs again (nested_exit.cpp).
#pragma once
#include <stdint.h>

#include "common/vmx/host_state.h"
#include "l1-vmm/nested/capabilities.h"
#include "l1-vmm/nested/vmcs12.h"
#include "runtime/vmx.h"

namespace l1 {
struct Vcpu;
}

namespace l1::nested {

// One vmcs12 l1-vmm holds: its cached fields, and the platform VMCSs that
// go with it — its vmcs02 and its shadow VMCS. KVM keeps one vmcs02 and
// rebuilds it whenever the guest hypervisor switches vmcs12; a guest
// hypervisor that is itself nested switches between its vmcs01 and vmcs02
// at every nested round trip, so l1-vmm keeps a few (kVmcsSlots), each
// vmcs12 with its own vmcs02 and shadow VMCS, coherent while it is parked.
struct VmcsSlot {
  uint64_t vmptr = arch::vmx::VMCS_POINTER_NONE;  // the vmcs12 (guest-physical); NONE: free
  bool is_shadow = false;      // its region has the shadow-VMCS indicator (SDM 24.10)
  Vmcs12 vmcs12;               // its fields, and the dirty ones since vmcs02 was prepared
  uint64_t vmcs02 = 0;         // physical address, allocated at the slot's first VMLAUNCH
  bool vmcs02_launched = false;  // the platform's launch state of vmcs02
  bool vmcs02_prepared = false;  // vmcs02 holds this vmcs12 (VMRESUME rewrites only the dirty fields)
  uint32_t proc02 = 0;         // vmcs02's primary controls
  uint64_t eptp02 = 0;         // vmcs02's EPT pointer (EPT02's roots can move: nested_ept.cpp)
  uint16_t vpid02 = 0;         // vmcs02's VPID (nested_vpid_on_entry)
  uint64_t shadow_vmcs = 0;    // the platform shadow VMCS mirroring it (shadow_vmcs.cpp)
  uint64_t mirror[arch::vmx::kShadowFieldCount] = {};  // what that shadow VMCS holds
  bool mirror_valid = false;
  // Its shadow VMCS may hold read-write fields newer than vmcs12: it was
  // linked from vmcs01 while level k+1 ran, or from a vmcs02 while level
  // k+2 ran (shadow_vmcs_on_nested_entry), since they were last read back.
  bool shadow_ahead = false;
  // The platform shadow VMCS this slot's vmcs02 links (another slot's), or 0.
  uint64_t linked_shadow = 0;
  // The VM-entry checks of vmcs12, with what passed remembered.
  nestbed::common::vmx::EntryCheckCache entry_checks;
  // vmcs12's host state as the last nested exit loaded it (SDM 27.5).
  nestbed::common::vmx::HostStateLoadCache host_load;
  uint64_t last_used = 0;
};
inline constexpr unsigned kVmcsSlots = 4;

struct NestedVmx {
  bool enabled = false;        // option nested=1 and the platform can run it
  NestedCapabilities caps{};   // what level k+1 reads from the capability MSRs
  nestbed::common::vmx::VmxCapabilities entry_caps{};  // the same, for the VM-entry checks
  bool vmxon = false;          // level k+1 is in VMX operation
  uint64_t vmxon_ptr = 0;
  VmcsSlot slots[kVmcsSlots];
  VmcsSlot* cur = nullptr;     // the current vmcs12 (VMPTRLD), or none
  uint64_t clock = 0;          // for the least recently used slot
  // Level k+2 runs (cur's vmcs02 is current); KVM's is_guest_mode().
  bool guest_mode = false;
  uint32_t proc_ctl01 = 0;     // vmcs01's primary controls while vmcs02 runs
  // vpid02s (KVM has one; a nested l1-vmm alternates between two vmcs12s
  // with different vpid12s at every round trip, and one vpid02 would be
  // flushed at each switch): vpid02[i] = VPID02_BASE + i runs vpid12[i].
  static constexpr unsigned kVpid02s = 4;
  uint16_t vpid12_of[kVpid02s] = {};  // 0: free
  uint64_t vpid02_used[kVpid02s] = {};  // clock of its last entry, for replacement
  uint64_t l1_cr3 = 0;         // level k+1's CR3 at VMLAUNCH/VMRESUME

  uint64_t current_vmptr() const { return cur ? cur->vmptr : arch::vmx::VMCS_POINTER_NONE; }
};

// Boot: whether nested VMX can be offered, and the capability MSRs.
void nested_vmx_setup(Vcpu& v);

// The capability MSRs offered, one line each (for `verbose`).
void print_nested_capabilities(const Vcpu& v);

// The virtual IA32_FEATURE_CONTROL level k+1 reads.
uint64_t nested_feature_control(const Vcpu& v);

// A VMX instruction of level k+1 (VMXON ... INVVPID; VMFUNC is #UD).
void handle_vmx_instruction(Vcpu& v);

// An exit while level k+2 runs: true if it was dealt with here (reflected
// to level k+1, or an EPT02 fault fixed); false: l1-vmm's own handler in
// the exit table handles it on vmcs02 (an exit only l1-vmm wanted).
bool nested_vmx_handle_exit(Vcpu& v);

// After l1-vmm's own handler ran on vmcs02: keep the CR0/CR4 bits level
// k+1 owns as they were (KVM's nested_vmx_* CR bookkeeping).
void nested_after_own_handler(Vcpu& v, uint64_t cr0_before, uint64_t cr4_before);

// VMLAUNCH/VMRESUME of vmcs02 itself failed (VMfailValid: vmcs12 had
// something the checks did not catch): tell level k+1 as the instruction's
// VMfailValid.
void nested_vmx_entry_failed(Vcpu& v, rt::vmx::EnterResult result);

// Before entering level k+2: external interrupts l1-vmm holds that level
// k+1 intercepts become an EXTERNAL_INTERRUPT exit to level k+1 (KVM's
// check_nested_events). True if that happened.
bool nested_deliver_pending_interrupt(Vcpu& v);

// A MOV to CR0/CR4 of level k+2 that level k+1 does not intercept: in VMX
// non-root operation the register keeps VMX's fixed bits (but PE and PG
// with unrestricted guest) or the MOV is #GP (SDM 25.3).
bool nested_l2_cr0_allowed(const Vcpu& v, uint64_t cr0);
bool nested_l2_cr4_allowed(const Vcpu& v, uint64_t cr4);

// VMCALL of the guest hypervisor in VMX root operation.
void nested_vmcall_in_root(Vcpu& v);

// Does vmcs12 ask for interrupt-window exiting (so vmcs02 keeps it on)?
bool nested_wants_interrupt_window(const Vcpu& v);

// CR0/CR4 values level k+1 may hold in VMX operation (its fixed bits).
bool nested_cr0_valid_in_vmx(const Vcpu& v, uint64_t cr0);
bool nested_cr4_valid_in_vmx(const Vcpu& v, uint64_t cr4);

}  // namespace l1::nested
