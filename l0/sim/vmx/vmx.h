// VMX operation of the sim CPU (SDM vol. 3, chapters 23-30): VMXON state,
// the current-VMCS pointer and the VMCS cache, VM entry and VM exit, and
// the state that non-root operation consults on every exit predicate.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "arch/vmx/vm_instruction_errors.h"
#include "l0/sim/cpu/decoded_insn.h"
#include "l0/sim/vmx/capabilities.h"
#include "l0/sim/vmx/vmcs.h"

namespace nestbed::sim {
class Cpu;
struct HwExitEvent;
}

namespace nestbed::sim::vmx {

// A VM exit requested while executing a guest instruction or delivering an
// event. Thrown like a fault (nothing is committed), caught by the run loop.
struct VmExitRequest {
  uint32_t reason;               // basic exit reason
  uint64_t qualification = 0;
  uint64_t guest_linear = 0;
  uint64_t guest_physical = 0;
  uint32_t intr_info = 0;        // VM-exit interruption information
  uint32_t intr_error = 0;
  uint32_t insn_len = 0;         // VM-exit instruction length (instruction-caused exits)
  uint32_t insn_info = 0;        // VM-exit instruction information
  bool rip_after = false;        // save RIP after the instruction (trap-like exits)
};

// Non-root controls, decoded at VM entry for cheap exit predicates.
struct GuestControls {
  uint32_t pin = 0, proc = 0, proc2 = 0, exit = 0, entry = 0;
  uint32_t exception_bitmap = 0, pf_mask = 0, pf_match = 0;
  uint64_t cr0_mask = 0, cr0_shadow = 0, cr4_mask = 0, cr4_shadow = 0;
  uint32_t cr3_target_count = 0;
  uint64_t cr3_targets[4] = {};
  uint64_t io_bitmap[2] = {}, msr_bitmap = 0;
  uint64_t tsc_offset = 0;
  uint64_t eptp = 0;
  uint16_t vpid = 0;
  uint64_t vmread_bitmap = 0, vmwrite_bitmap = 0, link_pointer = ~0ull;
  // "Use TPR shadow" (SDM 29.1): the virtual-APIC page and the TPR threshold.
  uint64_t virtual_apic = 0;
  uint32_t tpr_threshold = 0;
  // "Virtualize APIC accesses" (SDM 29.4) and the APIC-access page.
  bool apic_access = false;
  uint64_t apic_access_page = 0;
  // "Enable PML" (SDM 28.2.5) and the log's address.
  bool pml = false;
  uint64_t pml_address = 0;
  // "Virtual-interrupt delivery" (SDM 29.1-29.2) and the EOI-exit bitmap.
  bool vid = false;
  uint64_t eoi_exit_bitmap[4] = {};
  // "Process posted interrupts" (SDM 29.6): the notification vector and
  // the posted-interrupt descriptor.
  bool posted_interrupts = false;
  uint8_t notification_vector = 0;
  uint64_t posted_interrupt_desc = 0;
};

class Vmx {
 public:
  explicit Vmx(Cpu& cpu);

  bool in_vmx_operation() const { return vmxon_; }
  bool non_root() const { return non_root_; }
  const GuestControls& controls() const { return ctl_; }
  uint64_t current_vmcs_pointer() const { return current_pa_; }

  // ---- VMX instructions (SDM 30.3), operands already fetched ----
  void vmxon(uint64_t region);
  void vmxoff();
  void vmclear(uint64_t region);
  void vmptrld(uint64_t region);
  uint64_t vmptrst() const { return current_pa_; }
  // VMREAD/VMWRITE of the current VMCS (or, in non-root operation, of the
  // shadow VMCS when the bitmaps let the access through).
  bool vmread(uint64_t encoding, uint64_t& value);
  void vmwrite(uint64_t encoding, uint64_t value);
  void vmlaunch(bool resume);
  void invept(uint64_t type, uint64_t eptp);
  void invvpid(uint64_t type, uint16_t vpid, uint64_t linear);

  // VMfailInvalid / VMfailValid / VMsucceed (SDM 30.2).
  void vm_succeed();
  void vm_fail_invalid();
  void vm_fail_valid(uint32_t error);
  void vm_fail(uint32_t error);  // Valid if there is a current VMCS, else Invalid

  // ---- exits ----
  // Performs a VM exit: saves guest state, loads host state (SDM 27).
  void vm_exit(const VmExitRequest& r, uint64_t guest_rip);
  void read_exiting_instruction(uint64_t la, HwExitEvent& e);
  [[gnu::noinline]] void read_exiting_instruction_slowly(uint64_t la, HwExitEvent& e);
  // Does the VMREAD/VMWRITE in non-root operation go to the shadow VMCS
  // (SDM 25.1.3)? False: it exits.
  bool shadowed(uint64_t encoding, bool write);
  // MOV from/to CR8 with "use TPR shadow" (SDM 25.3): VTPR, the 32 bits at
  // offset 80H of the virtual-APIC page. A MOV to CR8 is a TPR-shadow
  // update (Cpu::tpr_shadow_updated).
  // Page-modification logging (SDM 28.2.5), before an EPT dirty flag goes
  // from 0 to 1: the guest-physical page into the log at the guest PML
  // index, which is decremented. False: the index is not in 0-511, a
  // "page-modification log full" exit instead.
  bool pml_log(uint64_t gpa);
  uint64_t read_cr8_shadow();
  void write_cr8_shadow(uint64_t value);
  // RDMSR/WRMSR of the x2APIC TPR with "virtualize x2APIC mode" (SDM
  // 29.5): bytes 87H:80H of the virtual-APIC page; a write is a TPR-shadow
  // update.
  uint64_t read_virtual_apic(unsigned offset, unsigned size);
  void write_x2apic_tpr_shadow(uint64_t value);
  // Is VTPR[7:4] below TPR threshold[3:0]?
  bool tpr_below_threshold();
  // After an instruction that updated the TPR shadow (MOV to CR8, WRMSR):
  // TPR virtualization (SDM 29.1.2) — with virtual-interrupt delivery PPR
  // virtualization and evaluation, else the TPR-threshold comparison.
  // True, with `exit` set, if a "TPR below threshold" VM exit follows.
  bool tpr_shadow_update(VmExitRequest& exit);
  // APIC-write emulation (SDM 29.4.3.2) after an instruction that wrote the
  // APIC-access page at page offset `offset`, virtualized: VTPR's bytes
  // 3:1 cleared and TPR virtualization (80H), VICR_HI's bytes 2:0 cleared
  // (310H); with virtual-interrupt delivery EOI virtualization (B0H) and
  // self-IPI virtualization (300H, a fixed edge self-IPI); else an
  // APIC-write VM exit (56, trap-like, the offset as its qualification,
  // 29.4.3.3). True, with `exit` set, if a VM exit follows.
  bool apic_write_emulation(unsigned offset, VmExitRequest& exit);
  // ---- Virtual-interrupt delivery (SDM 29.1-29.2; virtual_interrupts.cpp) ----
  // RVI and SVI live in the current VMCS's guest interrupt status while the
  // guest runs, so a VM exit leaves them there (SDM 27.3.4).
  // PPR virtualization, then evaluation of pending virtual interrupts: at
  // VM entry and in TPR virtualization (29.1.2).
  void virtualize_ppr_and_evaluate();
  // EOI virtualization (29.1.4). True, with `exit` set, for the EOI-induced
  // VM exit (trap-like, the vector as qualification).
  bool eoi_virtualization(VmExitRequest& exit);
  // Self-IPI virtualization (29.1.5) of `vector`.
  void self_ipi_virtualization(uint8_t vector);
  // Is a virtual interrupt recognized (29.2.1)? Delivered by the run loop
  // at an instruction boundary where it is not blocked (29.2.2).
  bool virtual_interrupt_recognized() const { return virtual_interrupt_recognized_; }
  // Virtual-interrupt delivery's updates (29.2.2); the vector to deliver.
  uint8_t deliver_virtual_interrupt();
  // Posted-interrupt processing (29.6) after the local APIC delivered the
  // notification vector, acknowledged and dismissed by the caller (steps
  // 1, 2, 4): ON cleared, PIR moved into VIRR, RVI raised, evaluation.
  void process_posted_interrupts();
  // Exit predicates used by instruction handlers (SDM 25.1.3).
  bool io_exits(uint16_t port, unsigned size);
  bool msr_exits(uint32_t index, bool write);
  bool exception_exits(uint8_t vector, bool has_error, uint32_t error);
  // VMX-preemption timer: the cycle count at which it expires (~0 = off).
  uint64_t preemption_deadline() const { return preemption_deadline_; }
  bool mtf_pending() const { return mtf_pending_; }
  // Virtual-NMI blocking (SDM 24.4.2, 25.3): set from the guest's
  // interruptibility state at entry, removed by IRET in the guest.
  bool virtual_nmi_blocked() const { return virtual_nmi_blocked_; }
  void guest_iret() { virtual_nmi_blocked_ = false; }
  void clear_mtf() { mtf_pending_ = false; }

  Vmcs* current() { return current_; }
  Vmcs* cached_vmcs(uint64_t region);  // the VMCS at `region`, loaded into the cache if needed
  // The VMCS that VMREAD and VMWRITE access: the current VMCS in root
  // operation; in non-root operation the one the VMCS link pointer names
  // (SDM 30.3), looked up once per VM entry. nullptr: VMfailInvalid.
  Vmcs* accessed_vmcs() {
    if (!non_root_) return current_;
    if (__builtin_expect(linked_ != nullptr, 1)) return linked_;
    return ctl_.link_pointer == ~0ull ? nullptr : (linked_ = cached_vmcs(ctl_.link_pointer));
  }

 private:
  void read_region(uint64_t region, Vmcs& v);
  void write_region(uint64_t region, const Vmcs& v);
  void load_guest_state(Vmcs& v);
  void save_guest_state(Vmcs& v, uint64_t guest_rip);
  void load_host_state(Vmcs& v);
  bool load_msr_list(uint64_t address, uint32_t count, uint32_t* failed_index);
  bool store_msr_list(uint64_t address, uint32_t count);
  // A VMX abort (SDM 27.7): the indicator goes to the VMCS region and the
  // logical processor shuts down.
  void vmx_abort(arch::vmx::VmxAbort indicator);
  void inject_event(Vmcs& v);
  void entry_failure(Vmcs& v, uint32_t reason, uint64_t qualification);
  void decode_controls(const Vmcs& v);
  bool valid_region_address(uint64_t pa) const;

  Cpu& cpu_;
  bool vmxon_ = false;
  bool non_root_ = false;
  uint64_t vmxon_region_ = ~0ull;
  uint64_t current_pa_ = ~0ull;
  Vmcs* current_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Vmcs>> cache_;
  GuestControls ctl_;
  // The cached VMCS ctl_.link_pointer names, once a non-root VMREAD or
  // VMWRITE has looked it up; reset at every VM entry. Nothing removes a
  // VMCS from the cache in non-root operation (VMCLEAR and VMXOFF exit).
  Vmcs* linked_ = nullptr;
  uint64_t preemption_deadline_ = ~0ull;
  bool mtf_pending_ = false;
  bool virtual_nmi_blocked_ = false;
  bool virtual_interrupt_recognized_ = false;
  void evaluate_pending_virtual_interrupts();
};

}  // namespace nestbed::sim::vmx
