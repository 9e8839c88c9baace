// The run loop and exit dispatch: enter the guest, and at each VM exit read
// the reason once, look its handler up in one table indexed by basic exit
// reason, run it, account for it and enter again (KVM's vmx_vcpu_run,
// vmx_handle_exit and kvm_vmx_exit_handlers).
//
// Every exit handled here is a logical exit of the guest's level (level + 1,
// or level + 2 while the guest hypervisor's guest runs on vmcs02), so it is
// bracketed by the trace annotations of arch/trace_annotations.h:
// LOGICAL_EXIT (reason, qualification) when handling starts, EXIT_COST
// (l1-vmm's own RDTSC measure) and LOGICAL_EXIT_DONE before the guest is
// entered again. An exit of level + 2 goes to nested/ first
// (nested_vmx_handle_exit: reflected to level + 1, or an EPT02 fault);
// what only l1-vmm wanted runs through the same table on vmcs02.
#include "l1-vmm/vmx/vmx.h"

#include "arch/trace_annotations.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/console.h"
#include "runtime/vmx.h"
#include "runtime/x86.h"

namespace l1 {
namespace {

using namespace arch::vmx;
using F = VmcsField;
using arch::trace::AnnotationKind;

struct ExitHandlerTable {
  ExitHandler handlers[kExitReasonMax + 1];
};

constexpr ExitHandlerTable make_exit_handlers() {
  ExitHandlerTable t{};
  auto on = [&t](ExitReason r, ExitHandler h) { t.handlers[unsigned(r)] = h; };
  on(ExitReason::EXCEPTION_NMI, handle_exception_nmi);
  on(ExitReason::EXTERNAL_INTERRUPT, handle_external_interrupt);
  on(ExitReason::TRIPLE_FAULT, handle_triple_fault);
  on(ExitReason::INTERRUPT_WINDOW, handle_interrupt_window);
  on(ExitReason::CPUID, handle_cpuid);
  on(ExitReason::XSETBV, handle_xsetbv);
  on(ExitReason::HLT, handle_halt);
  on(ExitReason::INVD, handle_invd_wbinvd);
  on(ExitReason::VMCALL, handle_vmcall);
  // The guest's VMX instructions: #UD until nested/ emulates VMX for it.
  constexpr ExitReason vmx_instructions[] = {ExitReason::VMCLEAR,  ExitReason::VMLAUNCH, ExitReason::VMPTRLD,
                                             ExitReason::VMPTRST,  ExitReason::VMREAD,   ExitReason::VMRESUME,
                                             ExitReason::VMWRITE,  ExitReason::VMXOFF,   ExitReason::VMXON,
                                             ExitReason::INVEPT,   ExitReason::INVVPID,  ExitReason::VMFUNC};
  for (ExitReason r : vmx_instructions) on(r, handle_vmx_instruction);
  on(ExitReason::CR_ACCESS, handle_cr);
  on(ExitReason::IO_INSTRUCTION, handle_io);
  on(ExitReason::MSR_READ, handle_rdmsr);
  on(ExitReason::MSR_WRITE, handle_wrmsr);
  on(ExitReason::EPT_VIOLATION, handle_ept_violation);
  on(ExitReason::EPT_MISCONFIG, handle_ept_misconfig);
  on(ExitReason::PREEMPTION_TIMER, handle_preemption_timer);
  on(ExitReason::WBINVD, handle_invd_wbinvd);
  return t;
}

constexpr ExitHandlerTable kvm_vmx_exit_handlers = make_exit_handlers();

// Per basic reason, what vmx_handle_exit must read besides the reason. A
// VMREAD costs tens of cycles, and most exits need neither field:
//  - the exit qualification is cleared for reasons whose layout is
//    qual_none (SDM 27.2.1), so 0 is its value there;
//  - IDT-vectoring information is valid only for exits during event
//    delivery (SDM 27.2.4): an exception exiting by the bitmap, a triple
//    fault, a task switch through a gate, an EPT violation or
//    misconfiguration, an APIC access, a full page-modification log, an
//    SPP event. Instruction exits (CPUID, I/O, ...) never are.
struct ExitFieldTable {
  bool qualification[kExitReasonMax + 1];
  bool idt_vectoring[kExitReasonMax + 1];
};

constexpr bool same(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

constexpr ExitFieldTable make_exit_fields() {
  ExitFieldTable t{};
  for (uint16_t r : kExitReasons) t.qualification[r] = !same(exit_reason_qualification(r), "qual_none");
  constexpr ExitReason during_delivery[] = {ExitReason::EXCEPTION_NMI, ExitReason::TRIPLE_FAULT,
                                            ExitReason::TASK_SWITCH,   ExitReason::EPT_VIOLATION,
                                            ExitReason::EPT_MISCONFIG, ExitReason::APIC_ACCESS,
                                            ExitReason::PML_FULL,      ExitReason::SPP_EVENT};
  for (ExitReason r : during_delivery) t.idt_vectoring[unsigned(r)] = true;
  return t;
}

constexpr ExitFieldTable kExitFields = make_exit_fields();
static_assert(!kExitFields.qualification[unsigned(ExitReason::CPUID)] &&
              kExitFields.qualification[unsigned(ExitReason::IO_INSTRUCTION)]);

const Vcpu* current_vcpu = nullptr;  // for panic messages
bool in_exit_handler = false;

// A VMREAD that cannot fail loudly (0 if it fails), for messages printed while stopping.
uint64_t vmcs_peek(F f) { return rt::vmx::read(f); }

void print_exit_context() {
  if (!current_vcpu || !in_exit_handler) return;
  const ExitInfo& e = current_vcpu->exit;
  const char* name = exit_reason_name(e.basic);
  rt::printf("l1-vmm: while handling the guest's exit %s (%u), qualification 0x%lx, guest rip 0x%lx\n",
             name ? name : "?", e.basic, e.qualification, vmcs_peek(F::GUEST_RIP));
}

// VMLAUNCH/VMRESUME did not enter: l1-vmm built a VMCS the processor
// rejects (SDM 26.2), which is l1-vmm's bug, not the guest's.
[[noreturn]] void vm_entry_instruction_failed(rt::vmx::EnterResult result) {
  if (result == rt::vmx::EnterResult::FailValid) {
    const uint32_t error = uint32_t(vmcs_peek(F::VM_INSTRUCTION_ERROR));
    const char* text = vm_instruction_error_text(error);
    fatal(L1_PANIC, "VM entry failed: VMfailValid, VM-instruction error %u (%s)", error, text ? text : "?");
  }
  fatal(L1_PANIC, "VM entry failed: %s", rt::vmx::enter_result_name(result));
}

// A VM-entry failure on guest state or MSR loading (SDM 26.8): the entry
// "exits" with bit 31 set. The guest state is l1-vmm's making (or the
// guest's own, saved at the last exit), so say which check.
[[noreturn]] void handle_entry_failure(const Vcpu& v) {
  const char* name = exit_reason_name(v.exit.basic);
  fatal(L1_PANIC, "VM entry failed: %s (exit reason 0x%x), qualification 0x%lx, guest rip 0x%lx",
        name ? name : "?", v.exit.reason, v.exit.qualification, vmcs_peek(F::GUEST_RIP));
}

// An exit in the middle of delivering an event through the guest's IDT
// (SDM 27.2.4): the event did not happen, so it is injected again at the
// next entry (KVM's vmx_complete_interrupts). Exception exits decide for
// themselves (handle_exception_nmi).
void vmx_complete_interrupts(Vcpu& v) {
  v.exit.idt_vectoring = 0;
  if (v.exit.basic > kExitReasonMax || !kExitFields.idt_vectoring[v.exit.basic]) return;
  const uint32_t idt = vmcs_read32(F::IDT_VECTORING_INFO_FIELD);
  v.exit.idt_vectoring = idt;
  if (!intr_info::VALID.test(idt) || v.exit.basic == uint16_t(ExitReason::EXCEPTION_NMI)) return;
  requeue_event(idt);
}

// Without IA32_VMX_MISC bit 5 a VM exit leaves "IA-32e mode guest" alone:
// keep it equal to the guest's EFER.LMA for the next entry (SDM 24.8.1).
void sync_ia32e_mode_guest() {
  const bool lma = vmcs_read(F::GUEST_IA32_EFER) & arch::efer::LMA;
  const uint64_t entry = vmcs_read(F::VM_ENTRY_CONTROLS);
  const uint64_t want = lma ? (entry | entry_ctl::IA32E_MODE_GUEST) : (entry & ~uint64_t(entry_ctl::IA32E_MODE_GUEST));
  if (want != entry) vmcs_write(F::VM_ENTRY_CONTROLS, want);
}

// l1-vmm's own handler for the exit (the table), on the current VMCS.
void handle_exit_here(Vcpu& v, bool nested_guest) {
  if (!nested_guest && exit_reason_is_entry_failure(v.exit.reason)) handle_entry_failure(v);
  vmx_complete_interrupts(v);
  if (v.sync_ia32e_mode) sync_ia32e_mode_guest();
  const ExitHandler handler = v.exit.basic <= kExitReasonMax ? kvm_vmx_exit_handlers.handlers[v.exit.basic] : nullptr;
  if (!handler) guest_failed(v, "an exit l1-vmm does not handle");
  const bool cr_access = nested_guest && v.exit.basic == uint16_t(ExitReason::CR_ACCESS);
  const uint64_t cr0 = cr_access ? vmcs_read(F::GUEST_CR0) : 0, cr4 = cr_access ? vmcs_read(F::GUEST_CR4) : 0;
  handler(v);
  if (cr_access) nested::nested_after_own_handler(v, cr0, cr4);
}

void vmx_handle_exit(Vcpu& v) {
  const uint64_t start = rt::rdtsc();
  v.exit.reason = vmcs_read32(F::VM_EXIT_REASON);
  v.exit.basic = exit_reason_basic(v.exit.reason);
  const bool has_qualification = v.exit.basic > kExitReasonMax || kExitFields.qualification[v.exit.basic];
  v.exit.qualification = has_qualification ? vmcs_read(F::EXIT_QUALIFICATION) : 0;
  const bool nested_guest = v.nested.guest_mode;
  const unsigned guest_level = v.level + (nested_guest ? 2 : 1);
  // The VMCS that ran is launched once an entry succeeded (SDM 26: not
  // after an entry failure).
  if (!exit_reason_is_entry_failure(v.exit.reason)) (nested_guest ? v.nested.cur->vmcs02_launched : v.launched) = true;
  nestbed_annotate(AnnotationKind::LOGICAL_EXIT, v.level, guest_level, v.exit.basic, v.exit.qualification);
  in_exit_handler = true;
  if (!nested_guest || !nested::nested_vmx_handle_exit(v)) handle_exit_here(v, nested_guest);
  if (v.pending.any()) inject_pending_event(v);

  in_exit_handler = false;
  const uint64_t cycles = rt::rdtsc() - start;
  stats_record(v.exit.basic, cycles);
  nestbed_annotate(AnnotationKind::EXIT_COST, v.level, guest_level, v.exit.basic, cycles);
  nestbed_annotate(AnnotationKind::LOGICAL_EXIT_DONE, v.level, guest_level, v.exit.basic, 0);
}

}  // namespace

void vmx_ops_error(const char* instruction, uint64_t field) {
  const char* name = vmcs_field_name(field);
  const uint32_t error = uint32_t(vmcs_peek(F::VM_INSTRUCTION_ERROR));
  const char* text = vm_instruction_error_text(error);
  fatal(L1_PANIC, "%s of %s (0x%lx) failed: VM-instruction error %u (%s)", instruction, name ? name : "?", field, error,
        text ? text : "?");
}

void requeue_event(uint32_t idt_vectoring) {
  const uint64_t type = intr_info::TYPE.get(idt_vectoring);
  // The VM-entry form has no NMI-unblocking bit (SDM 24.8.3): bit 12 is reserved there.
  vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, idt_vectoring & ~uint32_t(intr_info::NMI_UNBLOCKING.mask));
  if (intr_info::ERROR_CODE_VALID.test(idt_vectoring))
    vmcs_write(F::VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(F::IDT_VECTORING_ERROR_CODE));
  const bool software = type == intr_info::TYPE_SOFTWARE_INTERRUPT || type == intr_info::TYPE_SOFTWARE_EXCEPTION ||
                        type == intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION;
  if (software) vmcs_write(F::VM_ENTRY_INSTRUCTION_LEN, vmcs_read(F::VM_EXIT_INSTRUCTION_LEN));
  // An NMI whose delivery was cut off leaves "blocking by NMI" set in the
  // saved state; injecting it again needs it clear (SDM 26.3.1.5; KVM's
  // vmx_complete_interrupts clears the NMI mask the same way).
  if (type == intr_info::TYPE_NMI) {
    const uint32_t intr = vmcs_read32(F::GUEST_INTERRUPTIBILITY_INFO);
    if (intr & interruptibility::BLOCKING_BY_NMI.mask)
      vmcs_write(F::GUEST_INTERRUPTIBILITY_INFO, intr & ~uint32_t(interruptibility::BLOCKING_BY_NMI.mask));
  }
}

void skip_emulated_instruction(Vcpu& v) {
  // The instruction's length as the exit saved it (SDM 27.2.5).
  skip_instruction(v, vmcs_read(F::VM_EXIT_INSTRUCTION_LEN));
}

void skip_instruction(Vcpu&, uint64_t length) {
  // Outside 64-bit code RIP would wrap at 4 GiB; no guest places code at
  // the top of its 32-bit space, so that read of CS is saved.
  vmcs_write(F::GUEST_RIP, vmcs_read(F::GUEST_RIP) + length);
  // STI or MOV SS blocked events for one instruction: this one (SDM 26.3.1.5
  // also forbids entering HLT with that blocking).
  const uint32_t intr = vmcs_read32(F::GUEST_INTERRUPTIBILITY_INFO);
  const uint32_t blocking = uint32_t(interruptibility::BLOCKING_BY_STI.mask | interruptibility::BLOCKING_BY_MOV_SS.mask);
  if (intr & blocking) vmcs_write(F::GUEST_INTERRUPTIBILITY_INFO, intr & ~blocking);
  // The instruction began with RFLAGS.TF set, so it ends in a single-step
  // trap (SDM 18.3.1.4), which the exit took away: BS in the pending debug
  // exceptions makes VM entry deliver it before the guest's next
  // instruction (SDM 26.6.3), as KVM's kvm_skip_emulated_instruction
  // queues the #DB. (With IA32_DEBUGCTL.BTF, single-step on branches, these
  // non-branching instructions do not trap.)
  if ((vmcs_read(F::GUEST_RFLAGS) & arch::rflags::TF) && !(vmcs_read(F::GUEST_IA32_DEBUGCTL) & arch::msr::DEBUGCTL_BTF))
    vmcs_write(F::GUEST_PENDING_DBG_EXCEPTIONS, vmcs_read(F::GUEST_PENDING_DBG_EXCEPTIONS) | pending_dbg::BS.mask);
}

void inject_exception(Vcpu&, uint8_t vector, uint32_t error_code) {
  const bool has_error = arch::exception_has_error_code(vector);
  vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(vector, intr_info::TYPE_HARDWARE_EXCEPTION, has_error));
  if (has_error) vmcs_write(F::VM_ENTRY_EXCEPTION_ERROR_CODE, error_code);
}

uint64_t guest_cr0_view() {
  const uint64_t mask = vmcs_read(F::CR0_GUEST_HOST_MASK);
  return (vmcs_read(F::GUEST_CR0) & ~mask) | (vmcs_read(F::CR0_READ_SHADOW) & mask);
}
uint64_t guest_cr4_view() {
  const uint64_t mask = vmcs_read(F::CR4_GUEST_HOST_MASK);
  return (vmcs_read(F::GUEST_CR4) & ~mask) | (vmcs_read(F::CR4_READ_SHADOW) & mask);
}

unsigned guest_cpl() {
  return unsigned((vmcs_read(F::GUEST_SS_AR_BYTES) & arch::seg::ar::DPL_MASK) >> arch::seg::ar::DPL_SHIFT);
}

bool guest_long_mode() { return vmcs_read(F::GUEST_IA32_EFER) & arch::efer::LMA; }
bool guest_64bit_code() { return guest_long_mode() && (vmcs_read(F::GUEST_CS_AR_BYTES) & arch::seg::ar::L); }

void guest_failed(const Vcpu& v, const char* what) {
  const char* name = exit_reason_name(v.exit.basic);
  in_exit_handler = false;  // the line below says it all
  fatal(L1_GUEST_FAILED, "guest stopped: %s: exit %s (%u), qualification 0x%lx, guest rip 0x%lx", what,
        name ? name : "?", v.exit.basic, v.exit.qualification, vmcs_peek(F::GUEST_RIP));
}

void vcpu_run(Vcpu& v) {
  current_vcpu = &v;
  set_panic_context(print_exit_context);
  for (;;) {
    if (v.nested.guest_mode && v.pending.any()) nested::nested_deliver_pending_interrupt(v);
    const bool nested_guest = v.nested.guest_mode;
    const bool resume = nested_guest ? v.nested.cur->vmcs02_launched : v.launched;
    const rt::vmx::EnterResult result = rt::vmx::enter(v.regs, resume);
    if (result != rt::vmx::EnterResult::VmExit) {
      if (!nested_guest) vm_entry_instruction_failed(result);
      nested::nested_vmx_entry_failed(v, result);
      continue;
    }
    vmx_handle_exit(v);
  }
}

}  // namespace l1
