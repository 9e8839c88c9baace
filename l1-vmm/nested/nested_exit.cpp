// Exits of level k+2 (vmcs02 current): who handles them, and the nested VM
// exit that hands one to level k+1 (KVM's nested_vmx_reflect_vmexit,
// nested_vmx_vmexit, sync_vmcs02_to_vmcs12, load_vmcs12_host_state).
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "common/vmx/host_state.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/nested/merge.h"
#include "l1-vmm/nested/nested_ept.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/nested/reflect.h"
#include "l1-vmm/nested/shadow_vmcs.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "l1-vmm/vmx/vcpu.h"
#include "l1-vmm/vmx/vmcs01.h"
#include "runtime/console.h"

namespace l1::nested {
namespace {

using namespace arch::vmx;
using F = VmcsField;

// The exit-information fields (SDM 24.9) level k+1 reads after a
// reflected exit, as the platform wrote them into vmcs02. Not I/O RCX,
// RSI, RDI and RIP: they are used only for SMM VM exits due to an SMI
// right after an I/O instruction (SDM 24.9.4) and undefined after any
// other exit (27.2.4); the platform has no SMM and leaves them as they
// were, so vmcs12 keeps what level k+1 VMWRITE'd there too.
constexpr F EXIT_INFO_COPIED[] = {
    F::GUEST_LINEAR_ADDRESS, F::GUEST_PHYSICAL_ADDRESS, F::VM_EXIT_INTR_INFO,    F::VM_EXIT_INTR_ERROR_CODE,
    F::IDT_VECTORING_INFO_FIELD, F::IDT_VECTORING_ERROR_CODE, F::VM_EXIT_INSTRUCTION_LEN, F::VMX_INSTRUCTION_INFO,
};

bool read_guest_byte(void*, uint64_t gpa, uint8_t& byte) {
  byte = uint8_t(guest_memory.read_or_ones(gpa, 1));  // outside RAM: all-ones, the bit reads as 1
  return true;
}
constexpr GuestBytes kGuestBytes{nullptr, read_guest_byte};

bool uses_ept12(const Vmcs12& c) {
  return c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
         c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::ENABLE_EPT);
}


// The fields copied at every nested exit, with their vmcs12 slots worked
// out at compile time: the copy is a VMREAD and a store per field.
struct SlotCopy {
  VmcsField field[kGuestStateCopiedCount + sizeof(EXIT_INFO_COPIED) / sizeof(EXIT_INFO_COPIED[0])];
  uint16_t slot[sizeof(field) / sizeof(field[0])];
};
constexpr SlotCopy make_slot_copy() {
  SlotCopy t{};
  unsigned n = 0;
  for (F f : kGuestStateCopied) t.field[n++] = f;
  for (F f : EXIT_INFO_COPIED) t.field[n++] = f;
  for (unsigned i = 0; i < n; i++) t.slot[i] = uint16_t(vmcs_field_slot(t.field[i]));
  return t;
}
constexpr SlotCopy kSlotCopy = make_slot_copy();
constexpr unsigned kExitInfoFirst = kGuestStateCopiedCount;
constexpr unsigned kSlotCopyCount = sizeof(kSlotCopy.field) / sizeof(kSlotCopy.field[0]);

// VMREAD returns a field zero-extended from its width, as vmcs12 keeps it.
// Unrolled at compile time: each field is a VMREAD, a compare and a branch
// (the nested exit's largest cost, run by the platform's interpreter).
template <unsigned I, unsigned End>
[[gnu::always_inline]] inline void copy_from_vmcs02(Vmcs12& c) {
  if constexpr (I < End) {
    c.set_slot(kSlotCopy.slot[I], vmcs_read(kSlotCopy.field[I]));
    copy_from_vmcs02<I + 1, End>(c);
  }
}

// SDM 27.3: level k+2's state, saved into vmcs12 (KVM's sync_vmcs02_to_vmcs12).
void sync_vmcs02_to_vmcs12(Vcpu& v, Vmcs12& c) {
  copy_from_vmcs02<0, kExitInfoFirst>(c);
  c.set(F::GUEST_CR0, vmcs12_guest_cr(vmcs_read(F::GUEST_CR0), vmcs_read(F::CR0_READ_SHADOW),
                                      vmcs_read(F::CR0_GUEST_HOST_MASK), c.get(F::GUEST_CR0),
                                      c.get(F::CR0_GUEST_HOST_MASK)));
  c.set(F::GUEST_CR4, vmcs12_guest_cr(vmcs_read(F::GUEST_CR4), vmcs_read(F::CR4_READ_SHADOW),
                                      vmcs_read(F::CR4_GUEST_HOST_MASK), c.get(F::GUEST_CR4),
                                      c.get(F::CR4_GUEST_HOST_MASK)));
  const uint32_t exit12 = c.get32(F::VM_EXIT_CONTROLS);
  const uint64_t efer = vmcs_read(F::GUEST_IA32_EFER);
  if (exit12 & exit_ctl::SAVE_EFER) c.set(F::GUEST_IA32_EFER, efer);
  if ((exit12 & exit_ctl::SAVE_PAT) && (v.config.exit & exit_ctl::SAVE_PAT))
    c.set(F::GUEST_IA32_PAT, vmcs_read(F::GUEST_IA32_PAT));
  if (exit12 & exit_ctl::SAVE_DEBUG_CONTROLS) {
    c.set(F::GUEST_DR7, vmcs_read(F::GUEST_DR7));
    c.set(F::GUEST_IA32_DEBUGCTL, vmcs_read(F::GUEST_IA32_DEBUGCTL));
  }
  if (exit12 & exit_ctl::SAVE_PREEMPTION_TIMER)
    c.set(F::VMX_PREEMPTION_TIMER_VALUE, vmcs_read(F::VMX_PREEMPTION_TIMER_VALUE));
  // RVI and SVI, which the platform's virtual-interrupt delivery kept in
  // vmcs02 (SDM 27.3.4).
  if (c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
      c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY))
    c.set(F::GUEST_INTR_STATUS, vmcs_read(F::GUEST_INTR_STATUS));
  // IA32_VMX_MISC bit 5 is offered: "IA-32e mode guest" follows EFER.LMA (SDM 27.3.2 and A.6).
  const uint64_t entry12 = c.get(F::VM_ENTRY_CONTROLS);
  c.set(F::VM_ENTRY_CONTROLS, (efer & arch::efer::LMA) ? (entry12 | entry_ctl::IA32E_MODE_GUEST)
                                                       : (entry12 & ~uint64_t(entry_ctl::IA32E_MODE_GUEST)));
}

// The VM-exit MSR-store list (SDM 27.4), and the VM-exit MSR-load list
// (27.6): false if an entry cannot be processed (a VMX abort).
// Level k+2's MSRs: the platform's, but those vmcs02 switches, which are
// in vmcs02's guest state (vmcs02 is current).
bool store_exit_msrs(const Vcpu& v, const Vmcs12& c) {
  const uint64_t count = c.get(F::VM_EXIT_MSR_STORE_COUNT), base = c.get(F::VM_EXIT_MSR_STORE_ADDR);
  for (uint64_t i = 0; i < count; i++) {
    auto* e = static_cast<uint32_t*>(guest_memory.hva(base + i * 16, 16));
    uint64_t value;
    VmcsField field;
    if (!e || e[1] != 0) return false;
    if (vmcs_switched_msr(v, e[0], field)) value = vmcs_read(field);
    else if (!rdmsr_safe(e[0], value)) return false;
    e[2] = uint32_t(value);
    e[3] = uint32_t(value >> 32);
  }
  return true;
}
// Level k+1's MSRs: those vmcs01 switches go into vmcs01's guest state
// (vmcs01 is current), the rest to the platform.
bool load_exit_msrs(const Vcpu& v, const Vmcs12& c) {
  const uint64_t count = c.get(F::VM_EXIT_MSR_LOAD_COUNT), base = c.get(F::VM_EXIT_MSR_LOAD_ADDR);
  for (uint64_t i = 0; i < count; i++) {
    const auto* e = static_cast<const uint32_t*>(guest_memory.hva(base + i * 16, 16));
    if (!e || e[1] != 0) return false;
    const uint64_t value = uint64_t(e[2]) | uint64_t(e[3]) << 32;
    VmcsField field;
    const bool ok = vmcs_switched_msr(v, e[0], field) ? write_switched_msr(e[0], field, value) : wrmsr_safe(e[0], value);
    if (!ok) return false;
  }
  return true;
}

// Inline: the nested exit calls it for every host-state field.
[[gnu::always_inline]] inline void write_if_changed(F f, uint64_t value) {
  if (vmcs_read(f) != value) vmcs_write(f, value);
}

// SDM 27.5 (common/vmx/host_state): level k+1 resumes in the state its
// vmcs12 host-state area says, written into vmcs01 as its guest state.
// What the processor held at the exit and a VM exit may keep (SDM 27.5.1):
// EFER without "load IA32_EFER" (but LMA/LME), PAT without "load
// IA32_PAT", CR0's CD/NW/ET and reserved bits. Level k+2's after a real
// exit; level k+1's own after an entry that failed.
struct StateAtExit {
  uint64_t efer, pat, cr0;
};

// What vmcs12's host state loads depends only on its exit controls and
// host-state fields and on the processor's EFER and CR0: worked out again
// only when one of those changed.
const nestbed::common::vmx::HostStateLoad& vmcs12_host_state(VmcsSlot& slot, const StateAtExit& now) {
  const Vmcs12& c = slot.vmcs12;
  const nestbed::common::vmx::VmcsReader reader{const_cast<Vmcs12*>(&c), [](void* ctx, uint32_t enc) {
                                         uint64_t value = 0;
                                         static_cast<const Vmcs12*>(ctx)->vmread(enc, value);
                                         return value;
                                       }};
  return slot.host_load.get(reader, c.controls_and_host_version(), now.efer, now.cr0);
}

void load_vmcs12_host_state(Vcpu& v, VmcsSlot& slot, const StateAtExit& now) {
  // Most of level k+1's host state is the same at every exit: VMREAD is
  // cheap (shadowed, for a nested l1-vmm), VMWRITE is not.
  const nestbed::common::vmx::HostStateLoad& h = vmcs12_host_state(slot, now);
  write_if_changed(F::GUEST_CR0, cr0_for_guest(v.config, h.cr0));
  write_if_changed(F::CR0_READ_SHADOW, h.cr0);
  write_if_changed(F::GUEST_CR4, cr4_for_guest(v.config, h.cr4));
  write_if_changed(F::CR4_READ_SHADOW, h.cr4);
  write_if_changed(F::GUEST_CR3, h.cr3);
  write_if_changed(F::GUEST_DR7, h.dr7);
  write_if_changed(F::GUEST_IA32_DEBUGCTL, h.debugctl);
  write_if_changed(F::GUEST_SYSENTER_CS, h.sysenter_cs);
  write_if_changed(F::GUEST_SYSENTER_ESP, h.sysenter_esp);
  write_if_changed(F::GUEST_SYSENTER_EIP, h.sysenter_eip);
  write_if_changed(F::GUEST_IA32_EFER, h.efer);
  if (v.config.entry & entry_ctl::LOAD_PAT) write_if_changed(F::GUEST_IA32_PAT, h.load_pat ? h.pat : now.pat);
  h.host64 ? vmcs_set_bits(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST)
           : vmcs_clear_bits(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
  auto write_seg = [](const GuestSegmentFields& f, const nestbed::common::vmx::LoadedSegment& s) {
    write_if_changed(f.selector, s.selector);
    write_if_changed(f.base, s.base);
    write_if_changed(f.limit, s.limit);
    write_if_changed(f.access_rights, s.access_rights);
  };
  for (unsigned i = 0; i < 6; i++) write_seg(kGuestSegmentFields[i], h.seg[i]);
  write_seg(kGuestSegmentFields[kGuestTrIndex], h.tr);
  write_seg(kGuestSegmentFields[kGuestLdtrIndex], h.ldtr);
  write_if_changed(F::GUEST_GDTR_BASE, h.gdtr_base);
  write_if_changed(F::GUEST_GDTR_LIMIT, nestbed::common::vmx::HOST_DESCRIPTOR_TABLE_LIMIT);
  write_if_changed(F::GUEST_IDTR_BASE, h.idtr_base);
  write_if_changed(F::GUEST_IDTR_LIMIT, nestbed::common::vmx::HOST_DESCRIPTOR_TABLE_LIMIT);
  write_if_changed(F::GUEST_RSP, h.rsp);
  write_if_changed(F::GUEST_RIP, h.rip);
  write_if_changed(F::GUEST_RFLAGS, h.rflags);
  // A VM exit leaves no interrupt shadow and an active processor. Blocking
  // by NMI is the processor's, which a VM exit keeps (it only saves it,
  // SDM 27.3.4): level k+2's, unless vmcs12 has "virtual NMIs" (then that
  // was virtual-NMI blocking and level k+1's own stayed as it was). An
  // exit caused by an NMI leaves NMIs blocked. (An entry that failed ran
  // nothing: level k+1's stays.)
  const Vmcs12& c = slot.vmcs12;
  const uint32_t reason = c.get32(F::VM_EXIT_REASON);
  const uint64_t nmi = interruptibility::BLOCKING_BY_NMI.mask;
  uint64_t nmi_blocked = vmcs_read(F::GUEST_INTERRUPTIBILITY_INFO) & nmi;
  if (!exit_reason_is_entry_failure(reason) && !c.test(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::VIRTUAL_NMIS))
    nmi_blocked = c.get(F::GUEST_INTERRUPTIBILITY_INFO) & nmi;
  if (uint16_t(reason) == uint16_t(ExitReason::EXCEPTION_NMI) &&
      intr_info::TYPE.get(c.get(F::VM_EXIT_INTR_INFO)) == intr_info::TYPE_NMI)
    nmi_blocked = nmi;
  write_if_changed(F::GUEST_INTERRUPTIBILITY_INFO, nmi_blocked);
  write_if_changed(F::GUEST_ACTIVITY_STATE, activity_state::ACTIVE);
  write_if_changed(F::GUEST_PENDING_DBG_EXCEPTIONS, 0);
  // Level k+1's TLB entries under VPID 1 were made with the CR3 it had at
  // VMLAUNCH/VMRESUME; a different host CR3 must not find them.
  if (h.cr3 != v.nested.l1_cr3 && v.config.vpid())
    rt::vmx::invvpid(invvpid_type::SINGLE_CONTEXT, vmcs_read(F::VIRTUAL_PROCESSOR_ID), 0);
}

// A VMX abort (SDM 27.7): the indicator into vmcs12's region, and level
// k+1's processor shuts down — as the platform does for its own.
[[noreturn]] void nested_vmx_abort(Vcpu& v, VmxAbort abort) {
  NestedVmx& n = v.nested;
  if (auto* region = static_cast<uint8_t*>(guest_memory.hva(n.current_vmptr(), vmcs12_layout::SIZE))) {
    const uint32_t indicator = uint32_t(abort);
    __builtin_memcpy(region + vmcs12_layout::ABORT, &indicator, sizeof(indicator));
  }
  const char* text = vmx_abort_text(uint32_t(abort));
  rt::printf("l1-vmm: VMX abort %u of level %u (%s): its processor shuts down\n", uint32_t(abort), v.level + 1,
             text ? text : "?");
  shutdown_machine();
}

}  // namespace

void nested_vmx_vmexit(Vcpu& v, uint32_t reason, uint64_t qualification, bool own_exit_info) {
  NestedVmx& n = v.nested;
  Vmcs12& c = n.cur->vmcs12;
  const bool entry_failure = exit_reason_is_entry_failure(reason);
  // An entry that failed leaves the guest state as it was (SDM 26.8).
  if (!entry_failure) sync_vmcs02_to_vmcs12(v, c);
  if (!own_exit_info && !entry_failure) copy_from_vmcs02<kExitInfoFirst, kSlotCopyCount>(c);
  if (!own_exit_info && entry_failure)
    for (F f : EXIT_INFO_COPIED) c.set(f, 0);
  c.set(F::VM_EXIT_REASON, reason);
  c.set(F::EXIT_QUALIFICATION, qualification);
  // SDM 27.2.5: a VM exit clears the valid bit of the entry-interruption field.
  c.set(F::VM_ENTRY_INTR_INFO_FIELD, c.get(F::VM_ENTRY_INTR_INFO_FIELD) & ~uint64_t(intr_info::VALID.mask));
  const bool stored = entry_failure || store_exit_msrs(v, c);
  const bool pat_switched = v.config.entry & entry_ctl::LOAD_PAT;
  StateAtExit now{};
  if (!entry_failure) {
    now.efer = vmcs_read(F::GUEST_IA32_EFER);  // vmcs02: level k+2's, as the processor had them
    now.pat = pat_switched ? vmcs_read(F::GUEST_IA32_PAT) : 0;
    now.cr0 = c.get(F::GUEST_CR0);
  }

  // vmcs12's changes into the shadow VMCS on the way from vmcs02 to
  // vmcs01 (each VMPTRLD is an exit when l1-vmm runs nested): what level
  // k+1 reads of the exit without exits. Nothing after this changes vmcs12.
  copy_vmcs12_to_shadow(v, v.vmcs01);
  if (entry_failure) {
    now.efer = vmcs_read(F::GUEST_IA32_EFER);  // vmcs01: level k+1's, the entry never happened
    now.pat = pat_switched ? vmcs_read(F::GUEST_IA32_PAT) : 0;
    now.cr0 = guest_cr0_view();
  }
  n.guest_mode = false;
  n.cur->proc02 = v.proc_ctl;  // what vmcs02 holds now (the interrupt window may have changed)
  v.proc_ctl = n.proc_ctl01;
  load_vmcs12_host_state(v, *n.cur, now);
  if (!stored) nested_vmx_abort(v, VmxAbort::SAVE_GUEST_MSR_FAIL);
  if (!load_exit_msrs(v, c)) nested_vmx_abort(v, VmxAbort::LOAD_HOST_MSR_FAIL);
}

bool nested_vmx_handle_exit(Vcpu& v) {
  NestedVmx& n = v.nested;
  Vmcs12& c = n.cur->vmcs12;
  const uint32_t reason = v.exit.reason;
  if (exit_reason_is_entry_failure(reason)) {
    nested_vmx_vmexit(v, reason, v.exit.qualification);
    return true;
  }
  c.launched = true;  // vmcs02 entered, so vmcs12's VMLAUNCH succeeded
  // l0_wants_exit: l1-vmm's own needs come first.
  switch (ExitReason(v.exit.basic)) {
    case ExitReason::EPT_VIOLATION:
      if (!uses_ept12(c)) return false;  // EPT01's: level k+1's memory ends there
      nested_ept_violation(v);
      return true;
    case ExitReason::EPT_MISCONFIG:
      if (uses_ept12(c)) fatal(L1_PANIC, "EPT02 misconfiguration at 0x%lx: l1-vmm built it wrong",
                               vmcs_read(F::GUEST_PHYSICAL_ADDRESS));
      return false;
    case ExitReason::TRIPLE_FAULT:
      nested_vmx_vmexit(v, reason, 0);
      return true;
    case ExitReason::VMREAD:
    case ExitReason::VMWRITE:
      // vmcs12's VMCS shadowing: carried out here, on its shadow VMCS.
      if (nested_shadowed_vmread_vmwrite(v)) return true;
      break;
    default:
      break;
  }
  ExitFacts facts;
  facts.basic = v.exit.basic;
  facts.qualification = v.exit.qualification;
  const auto basic = ExitReason(v.exit.basic);
  if (basic == ExitReason::EXCEPTION_NMI) {
    facts.intr_info = vmcs_read32(F::VM_EXIT_INTR_INFO);
    facts.intr_error_code = vmcs_read32(F::VM_EXIT_INTR_ERROR_CODE);
  } else if (basic == ExitReason::MSR_READ || basic == ExitReason::MSR_WRITE) {
    facts.msr_index = uint32_t(v.regs.gpr[RCX]);
  } else if (basic == ExitReason::CR_ACCESS) {
    const uint64_t src = v.gpr(unsigned(qual_cr_access::GPR.get(v.exit.qualification)));
    facts.cr_source = guest_64bit_code() ? src : uint32_t(src);
  }
  if (!l1_wants_exit(c, facts, kGuestBytes)) {
    if (basic == ExitReason::MSR_READ || basic == ExitReason::MSR_WRITE)
      return nested_x2apic_access(v, basic == ExitReason::MSR_WRITE);
    return false;
  }
  nested_vmx_vmexit(v, reason, v.exit.qualification);
  // An interrupt the platform acknowledged for l1-vmm (exit_intr) that
  // level k+1 wanted without acknowledging: it stays owed to level k+1.
  if (basic == ExitReason::EXTERNAL_INTERRUPT && !c.test(F::VM_EXIT_CONTROLS, exit_ctl::ACK_INTERRUPT_ON_EXIT)) {
    const uint32_t info = c.get32(F::VM_EXIT_INTR_INFO);
    if (intr_info::VALID.test(info)) v.pending.set(uint8_t(intr_info::VECTOR.get(info)));
    c.set(F::VM_EXIT_INTR_INFO, 0);
    copy_vmcs12_to_shadow(v);  // level k+1 reads the field through the shadow VMCS
  }
  return true;
}

void nested_after_own_handler(Vcpu& v, uint64_t cr0_before, uint64_t cr4_before) {
  const Vmcs12& c = v.nested.cur->vmcs12;
  // l1-vmm's CR handler wrote level k+2's whole value; the bits level k+1
  // owns did not change (the write matched vmcs12's read shadow there, or
  // it would have been reflected) and keep their real value.
  const uint64_t mask0 = c.get(F::CR0_GUEST_HOST_MASK), mask4 = c.get(F::CR4_GUEST_HOST_MASK);
  const uint64_t cr0 = vmcs_read(F::GUEST_CR0), cr4 = vmcs_read(F::GUEST_CR4);
  if ((cr0 ^ cr0_before) & mask0) vmcs_write(F::GUEST_CR0, (cr0 & ~mask0) | (cr0_before & mask0));
  if ((cr4 ^ cr4_before) & mask4) vmcs_write(F::GUEST_CR4, (cr4 & ~mask4) | (cr4_before & mask4));
}

bool nested_deliver_pending_interrupt(Vcpu& v) {
  NestedVmx& n = v.nested;
  if (!n.guest_mode || !v.pending.any()) return false;
  const Vmcs12& c = n.cur->vmcs12;
  if (!c.test(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::EXTERNAL_INTERRUPT_EXITING)) return false;
  // Level k+1 intercepts external interrupts: the one l1-vmm holds is its
  // EXTERNAL_INTERRUPT exit, with the vector if it acknowledges on exit.
  const bool ack = c.test(F::VM_EXIT_CONTROLS, exit_ctl::ACK_INTERRUPT_ON_EXIT);
  uint32_t info = 0;
  if (ack) info = make_intr_info(v.pending.take_highest(), intr_info::TYPE_EXTERNAL_INTERRUPT, false);
  nested_vmx_vmexit(v, uint32_t(ExitReason::EXTERNAL_INTERRUPT), 0);
  n.cur->vmcs12.set(F::VM_EXIT_INTR_INFO, info);
  n.cur->vmcs12.set(F::VM_EXIT_INTR_ERROR_CODE, 0);
  n.cur->vmcs12.set(F::IDT_VECTORING_INFO_FIELD, 0);
  n.cur->vmcs12.set(F::VM_EXIT_INSTRUCTION_LEN, 0);
  copy_vmcs12_to_shadow(v);  // level k+1 reads these through the shadow VMCS
  return true;
}

}  // namespace l1::nested
