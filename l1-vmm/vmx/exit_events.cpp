// Events and the guest's activity: exceptions that exit_exc intercepts
// (reflected), external interrupts with exit_intr (injected back), the
// interrupt window, triple fault, HLT with exit_hlt, the VMX-preemption
// timer.
#include "arch/vmx/vmx.h"
#include "arch/x86/debug.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/console.h"

namespace l1 {
namespace {

using namespace arch::vmx;
using F = VmcsField;

// SDM 6.15, table 6-5: a second exception while delivering the first
// becomes #DF when both are contributory, or the first is #PF and the
// second contributory or #PF.
bool makes_double_fault(uint8_t first, uint8_t second) {
  const bool second_contributory = arch::exception_is_contributory(second);
  if (arch::exception_is_contributory(first) && second_contributory) return true;
  return first == uint8_t(arch::Vector::PF) && (second_contributory || second == uint8_t(arch::Vector::PF));
}

void set_interrupt_window_exiting(Vcpu& v, bool on) {
  on = on || nested::nested_wants_interrupt_window(v);  // vmcs02 keeps what vmcs12 asked for
  const uint32_t want = on ? (v.proc_ctl | proc_ctl::INTERRUPT_WINDOW_EXITING)
                           : (v.proc_ctl & ~proc_ctl::INTERRUPT_WINDOW_EXITING);
  if (want == v.proc_ctl) return;
  v.proc_ctl = want;
  vmcs_write(F::CPU_BASED_VM_EXEC_CONTROL, want);
}

// The event an exception exit interrupted: a second exception may make a
// double fault (or a triple one); an external interrupt is owed again.
// Returns false when the guest is shutting down.
bool combine_with_interrupted_event(Vcpu& v, uint8_t vector, uint8_t& inject_vector, uint32_t& error) {
  const uint32_t idt = v.exit.idt_vectoring;
  if (!intr_info::VALID.test(idt)) return true;
  const uint8_t first = uint8_t(intr_info::VECTOR.get(idt));
  switch (intr_info::TYPE.get(idt)) {
    case intr_info::TYPE_HARDWARE_EXCEPTION:
      if (first == uint8_t(arch::Vector::DF)) return false;
      if (makes_double_fault(first, vector)) inject_vector = uint8_t(arch::Vector::DF), error = 0;
      return true;
    case intr_info::TYPE_EXTERNAL_INTERRUPT: v.pending.set(first); return true;
    default: return true;  // INT n / INT3 / NMI: the instruction runs again after the handler
  }
}

// A #DB exit leaves DR6 alone and reports its bits in the exit
// qualification (SDM 27.1, 27.2.1): before reflecting it, DR6 gets them as
// delivery would have set them (B0-B3 replaced, BD/BS/BT added; SDM
// 18.2.3) and DR7.GD is cleared (18.2.4) — KVM's
// kvm_deliver_exception_payload. l1-vmm does not switch DR6: the guest's
// is the register itself. A #DB re-injected with TF set over STI or MOV SS
// blocking needs BS pending, or VM entry refuses the state (SDM 26.3.1.5).
void deliver_debug_payload(uint64_t qualification) {
  constexpr uint64_t kPayload = arch::debug::DR6_B0_B3 | arch::debug::DR6_BD | arch::debug::DR6_BS;
  uint64_t dr6;
  asm volatile("mov %%dr6, %0" : "=r"(dr6));
  dr6 = (dr6 & ~arch::debug::DR6_B0_B3) | (qualification & kPayload);
  asm volatile("mov %0, %%dr6" : : "r"(dr6));
  vmcs_write(F::GUEST_DR7, vmcs_read(F::GUEST_DR7) & ~arch::debug::DR7_GD);
  const uint64_t blocking = interruptibility::BLOCKING_BY_STI.mask | interruptibility::BLOCKING_BY_MOV_SS.mask;
  if ((vmcs_read(F::GUEST_RFLAGS) & arch::rflags::TF) && (vmcs_read(F::GUEST_INTERRUPTIBILITY_INFO) & blocking))
    vmcs_write(F::GUEST_PENDING_DBG_EXCEPTIONS, vmcs_read(F::GUEST_PENDING_DBG_EXCEPTIONS) | pending_dbg::BS.mask);
}

}  // namespace

void handle_exception_nmi(Vcpu& v) {
  const uint32_t info = vmcs_read32(F::VM_EXIT_INTR_INFO);
  const uint8_t vector = uint8_t(intr_info::VECTOR.get(info));
  const uint64_t type = intr_info::TYPE.get(info);
  if (type == intr_info::TYPE_NMI) {  // not ours (no NMI exiting): the guest's
    vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, type, false));
    return;
  }
  uint32_t error = intr_info::ERROR_CODE_VALID.test(info) ? vmcs_read32(F::VM_EXIT_INTR_ERROR_CODE) : 0;
  // A #PF exit has not loaded CR2 (SDM 27.1), and VMX does not switch CR2:
  // the guest's CR2 is the register itself, which l1-vmm leaves alone.
  if (vector == uint8_t(arch::Vector::PF)) asm volatile("mov %0, %%cr2" : : "r"(v.exit.qualification));
  uint8_t inject_vector = vector;
  if (!combine_with_interrupted_event(v, vector, inject_vector, error)) return handle_triple_fault(v);
  if (type == intr_info::TYPE_SOFTWARE_EXCEPTION || type == intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION) {
    // INT3/INTO/INT1: delivered again as the instruction, after it (SDM 26.6.1.1).
    vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, type, false));
    vmcs_write(F::VM_ENTRY_INSTRUCTION_LEN, vmcs_read(F::VM_EXIT_INSTRUCTION_LEN));
    return;
  }
  if (inject_vector == uint8_t(arch::Vector::DB)) deliver_debug_payload(v.exit.qualification);
  inject_exception(v, inject_vector, error);
}

void handle_external_interrupt(Vcpu& v) {
  // "Acknowledge interrupt on exit" is on with exit_intr: the APIC handed
  // the vector to this exit, and the guest, which owns the APIC, gets it.
  const uint32_t info = vmcs_read32(F::VM_EXIT_INTR_INFO);
  if (!intr_info::VALID.test(info)) guest_failed(v, "an external-interrupt exit without the vector");
  v.pending.set(uint8_t(intr_info::VECTOR.get(info)));
}

void handle_interrupt_window(Vcpu& v) {
  if (!v.pending.any()) set_interrupt_window_exiting(v, false);
}

// Delivers the highest owed interrupt if the guest can take one now (SDM
// 26.3.1.4-5: RFLAGS.IF set, no STI or MOV-SS blocking, no other event
// injected), and keeps asking for the interrupt window while more are owed.
void inject_pending_event(Vcpu& v) {
  // Level + 2 runs and level + 1 intercepts external interrupts: they go to
  // level + 1 as exits (nested_deliver_pending_interrupt), not to level + 2.
  if (v.nested.guest_mode &&
      v.nested.cur->vmcs12.test(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::EXTERNAL_INTERRUPT_EXITING))
    return;
  const bool event_queued = intr_info::VALID.test(vmcs_read(F::VM_ENTRY_INTR_INFO_FIELD));
  const bool interruptible =
      (vmcs_read(F::GUEST_RFLAGS) & arch::rflags::IF) &&
      !(vmcs_read(F::GUEST_INTERRUPTIBILITY_INFO) &
        (interruptibility::BLOCKING_BY_STI.mask | interruptibility::BLOCKING_BY_MOV_SS.mask));
  if (!event_queued && interruptible) {
    const uint8_t vector = v.pending.take_highest();
    vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
  }
  set_interrupt_window_exiting(v, v.pending.any());
}

void handle_triple_fault(Vcpu& v) {
  rt::printf("l1-vmm: the guest triple-faulted (shutdown) at rip 0x%lx; shutting the machine down, as the guest "
             "did\n", vmcs_read(F::GUEST_RIP));
  (void)v;
  stats_print_at_end();
  shutdown_machine();
}

// The guest halts in the HLT activity state (SDM 24.4.2): the processor
// wakes it with its next interrupt, as it would have natively.
void handle_halt(Vcpu& v) {
  skip_emulated_instruction(v);
  vmcs_write(F::GUEST_ACTIVITY_STATE, activity_state::HLT);
}

// The timer is re-armed by every VM entry (its value is not saved on exit),
// so this only counts. A guest halted with interrupts off never wakes:
// natively the platform stops it, so l1-vmm halts the same way.
void handle_preemption_timer(Vcpu& v) {
  (void)v;
  const bool halted = vmcs_read(F::GUEST_ACTIVITY_STATE) == activity_state::HLT;
  if (halted && !(vmcs_read(F::GUEST_RFLAGS) & arch::rflags::IF)) {
    stats_print_at_end();
    halt_machine();
  }
}

}  // namespace l1
