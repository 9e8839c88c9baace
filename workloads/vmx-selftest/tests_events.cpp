// Tests of event-related VMX: external-interrupt exiting with and without
// acknowledge-on-exit, interrupt-window exiting, the VMX-preemption timer,
// the monitor trap flag and event injection (SDM 24.6.1, 25.2, 25.5, 26.6,
// 27.2.2).
#include "arch/x86/apic.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "runtime/apic.h"
#include "runtime/boot_layout.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace rflags = arch::rflags;

namespace {

// Iterations of guest_spin: far longer than the timer's count, so the
// guest is still spinning when the interrupt or the timer ends it.
constexpr uint64_t SPIN = 20000000;
// APIC timer ticks (divide by 1) before the interrupt.
constexpr uint32_t TIMER_COUNT = 2000;

bool rip_in_spin(uint64_t rip) { return rip >= addr(guest_spin) && rip <= addr(guest_spin_vmcall); }

const uint64_t* guest_frame() { return reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX]); }

}  // namespace

void test_external_interrupt_ack() {
  // The APIC timer fires while the guest spins with IF = 0: external-
  // interrupt exiting ignores RFLAGS.IF (SDM 24.6.1); with "acknowledge
  // interrupt on exit" the vector is in the exit interruption information
  // and moved from IRR to ISR (SDM 27.2.2).
  REQUIRE(setup_guest(addr(guest_spin)));
  REQUIRE(set_pin(pin_ctl::EXTERNAL_INTERRUPT_EXITING));
  REQUIRE(set_exit(exit_ctl::ACK_INTERRUPT_ON_EXIT));
  regs.gpr[vmx::RCX] = SPIN;
  apic_timer_oneshot(TIMER_COUNT);
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::EXTERNAL_INTERRUPT);
  CHECK(rip_in_spin(e.rip), "exit at guest RIP 0x%lx, outside the spin loop", e.rip);
  CHECK_EQ(e.intr_info, make_intr_info(TIMER_VECTOR, intr_info::TYPE_EXTERNAL_INTERRUPT, false),
           "VM-exit interruption information");
  CHECK_EQ(e.qualification, 0, "exit qualification");
  CHECK(apic_isr_bit(TIMER_VECTOR), "vector 0x%x not in service after the acknowledging exit", TIMER_VECTOR);
  CHECK(!apic_irr_bit(TIMER_VECTOR), "vector 0x%x still requested after the acknowledging exit", TIMER_VECTOR);
  rt::apic::eoi();
  CHECK(!apic_isr_bit(TIMER_VECTOR), "vector 0x%x in service after EOI", TIMER_VECTOR);
  const uint64_t before = host_timer_interrupts;
  asm volatile("sti; nop; cli" : : : "memory");
  CHECK_EQ(host_timer_interrupts - before, 0, "interrupts the host took after the acknowledged one");
}

void test_external_interrupt_no_ack() {
  // Without acknowledge-on-exit the interrupt stays requested in the APIC,
  // the interruption information is not valid (SDM 27.2.2), and the host
  // takes it through its own IDT once it sets IF.
  REQUIRE(setup_guest(addr(guest_spin)));
  REQUIRE(set_pin(pin_ctl::EXTERNAL_INTERRUPT_EXITING));
  if (ctls_allowed0(caps.exit) & exit_ctl::ACK_INTERRUPT_ON_EXIT)
    return skip("\"acknowledge interrupt on exit\" cannot be 0");
  vclear_bits(VmcsField::VM_EXIT_CONTROLS, exit_ctl::ACK_INTERRUPT_ON_EXIT);
  regs.gpr[vmx::RCX] = SPIN;
  apic_timer_oneshot(TIMER_COUNT);
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::EXTERNAL_INTERRUPT);
  CHECK(rip_in_spin(e.rip), "exit at guest RIP 0x%lx, outside the spin loop", e.rip);
  CHECK(!intr_info::VALID.test(e.intr_info), "VM-exit interruption information valid (0x%x) without acknowledge",
        e.intr_info);
  CHECK(apic_irr_bit(TIMER_VECTOR), "vector 0x%x not requested in the APIC after the exit", TIMER_VECTOR);
  CHECK(!apic_isr_bit(TIMER_VECTOR), "vector 0x%x in service although nothing acknowledged it", TIMER_VECTOR);
  const uint64_t before = host_timer_interrupts;
  asm volatile("sti; nop; cli" : : : "memory");
  CHECK_EQ(host_timer_interrupts - before, 1, "interrupts the host took after STI");
}

void test_interrupt_window() {
  // Interrupt-window exiting: an exit before any instruction at which
  // RFLAGS.IF = 1 and nothing blocks interrupts (SDM 25.2), so after the
  // instruction in STI's shadow.
  REQUIRE(setup_guest(addr(guest_sti)));
  REQUIRE(set_proc(proc_ctl::INTERRUPT_WINDOW_EXITING));
  Exit e = run();
  CHECK_EXIT(e, ExitReason::INTERRUPT_WINDOW);
  CHECK_EQ(e.rip, addr(guest_sti_window), "guest RIP of the interrupt-window exit after STI");
  CHECK(vread(VmcsField::GUEST_RFLAGS) & rflags::IF, "guest RFLAGS.IF clear at the interrupt-window exit");
  CHECK_EQ(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO), 0, "guest interruptibility at the exit");

  // IF = 1 at entry and no blocking: exit before the first instruction.
  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::IF);
  e = resume();
  CHECK_EXIT(e, ExitReason::INTERRUPT_WINDOW);
  CHECK_EQ(e.rip, addr(guest_nops), "guest RIP of the exit with IF = 1 at entry");

  // Blocking by STI at entry: one instruction runs first.
  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_STI.mask);
  e = resume();
  CHECK_EXIT(e, ExitReason::INTERRUPT_WINDOW);
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP of the exit with blocking by STI at entry");

  // An open window comes before a pending external interrupt (SDM 25.2):
  // a self-IPI the host left requested exits only once the window closes.
  constexpr uint8_t vector = SELF_IPI_VECTOR + 1;
  REQUIRE(set_pin(pin_ctl::EXTERNAL_INTERRUPT_EXITING));
  REQUIRE(set_exit(exit_ctl::ACK_INTERRUPT_ON_EXIT));
  rt::apic::write(arch::apic::ICR_LOW, (arch::apic::SHORTHAND_SELF << arch::apic::ICR_SHORTHAND_SHIFT) | vector);
  restart_at(guest_nops);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::INTERRUPT_WINDOW, guest_nops, 0);
  CHECK(apic_irr_bit(vector), "the external interrupt still requested at the window exit");
  vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::INTERRUPT_WINDOW_EXITING);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::EXTERNAL_INTERRUPT, guest_nops, 0);
  CHECK_EQ(e.intr_info, make_intr_info(vector, intr_info::TYPE_EXTERNAL_INTERRUPT, false), "VM-exit interruption information");
  rt::apic::eoi();
}

void test_preemption_timer() {
  // The VMX-preemption timer counts down at the TSC rate >> IA32_VMX_MISC[4:0]
  // and exits with reason 52 at 0; a 0 at entry exits before any
  // instruction (SDM 25.5.1).
  REQUIRE(setup_guest(addr(guest_spin)));
  REQUIRE(set_pin(pin_ctl::PREEMPTION_TIMER));
  const bool save = allowed1(caps.exit, exit_ctl::SAVE_PREEMPTION_TIMER);
  if (save) vset_bits(VmcsField::VM_EXIT_CONTROLS, exit_ctl::SAVE_PREEMPTION_TIMER);
  regs.gpr[vmx::RCX] = SPIN;
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 0);
  Exit e = run();
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK_EQ(e.rip, addr(guest_spin), "guest RIP of the exit for a timer value of 0");
  CHECK_EQ(regs.gpr[vmx::RCX], SPIN, "guest RCX: no instruction should have run");

  constexpr uint64_t VALUE = 1000;
  const unsigned rate = unsigned(vmx_misc::PREEMPTION_TIMER_RATE.get(caps.misc));
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, VALUE);
  regs.gpr[vmx::RCX] = SPIN;
  const uint64_t before = rt::rdtsc();
  e = resume();
  const uint64_t elapsed = rt::rdtsc() - before;
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK(rip_in_spin(e.rip), "exit at guest RIP 0x%lx, outside the spin loop", e.rip);
  CHECK(regs.gpr[vmx::RCX] < SPIN && regs.gpr[vmx::RCX] > 0, "guest RCX %lu: the spin should have run, not ended",
        regs.gpr[vmx::RCX]);
  CHECK(elapsed >= (VALUE - 1) << rate, "the timer expired after %lu TSC cycles, less than %lu", elapsed,
        (VALUE - 1) << rate);
  if (save) CHECK_EQ(vread(VmcsField::VMX_PREEMPTION_TIMER_VALUE), 0, "saved VMX-preemption timer value");
}

void test_monitor_trap_flag() {
  // MTF: an exit (reason 37) after each instruction (SDM 25.5.2).
  REQUIRE(setup_guest(addr(guest_nops)));
  REQUIRE(set_proc(proc_ctl::MONITOR_TRAP_FLAG));
  Exit e = run();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP of the first MTF exit");
  e = resume();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, addr(guest_nops) + 2, "guest RIP of the second MTF exit");

  // An instruction that faults: the MTF exit comes after the exception's
  // delivery, before the handler's first instruction (SDM 25.5.2).
  const uint64_t ud_stub = addr(guest_isr_stubs) + uint8_t(arch::Vector::UD) * GUEST_ISR_STUB_SIZE;
  restart_at(guest_ud2);
  e = resume();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, ud_stub, "guest RIP of the MTF exit after UD2 (the #UD handler)");

  // An injected event: the MTF exit is pending before the handler's first
  // instruction (SDM 26.7.2).
  restart_at(guest_vmcall);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD,
         make_intr_info(uint8_t(arch::Vector::UD), intr_info::TYPE_HARDWARE_EXCEPTION, false));
  e = resume();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, ud_stub, "guest RIP of the MTF exit after injecting #UD (the #UD handler)");
}

void test_inject_exception() {
  // VM entry delivers the event in the VM-entry interruption information
  // through the guest's IDT, and every VM exit clears its valid bit (SDM
  // 26.6, 27.2.3 ... 24.8.3).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD,
         make_intr_info(uint8_t(arch::Vector::UD), intr_info::TYPE_HARDWARE_EXCEPTION, false));
  CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::UD));
  CHECK_EQ(guest_frame()[0], addr(guest_vmcall), "RIP in the guest's #UD frame");
  CHECK_EQ(guest_frame()[1], rt::KERNEL_CS, "CS in the guest's #UD frame");
  CHECK(!intr_info::VALID.test(vread(VmcsField::VM_ENTRY_INTR_INFO_FIELD)),
        "VM-entry interruption information still valid after the VM exit");

  // A hardware exception with an error code.
  restart_at(guest_vmcall);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD,
         make_intr_info(uint8_t(arch::Vector::GP), intr_info::TYPE_HARDWARE_EXCEPTION, true));
  vwrite(VmcsField::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1234);
  CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::GP));
  CHECK_EQ(guest_frame()[0], 0x1234, "error code in the guest's #GP frame");
  CHECK_EQ(guest_frame()[1], addr(guest_vmcall), "RIP in the guest's #GP frame");

  // A software exception (#BP): the pushed RIP is past the instruction
  // length given at entry.
  restart_at(guest_vmcall);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD,
         make_intr_info(uint8_t(arch::Vector::BP), intr_info::TYPE_SOFTWARE_EXCEPTION, false));
  vwrite(VmcsField::VM_ENTRY_INSTRUCTION_LEN, 1);
  CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::BP));
  CHECK_EQ(guest_frame()[0], addr(guest_vmcall) + 1, "RIP in the guest's #BP frame");
}

void test_inject_interrupt() {
  // An injected external interrupt runs the guest's handler for its vector
  // (SDM 26.6.2); injecting one with RFLAGS.IF = 0 is invalid guest state
  // (SDM 26.3.1.4).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::IF);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(TIMER_VECTOR, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
  CHECK_GUEST_VECTOR(run(), TIMER_VECTOR);
  CHECK_EQ(guest_frame()[0], addr(guest_vmcall), "RIP in the guest's interrupt frame");
  CHECK(guest_frame()[2] & rflags::IF, "RFLAGS in the guest's interrupt frame lacks IF: 0x%lx", guest_frame()[2]);

  // A software interrupt (INT n): the pushed RIP is past the instruction.
  restart_at(guest_vmcall);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(TIMER_VECTOR + 1, intr_info::TYPE_SOFTWARE_INTERRUPT, false));
  vwrite(VmcsField::VM_ENTRY_INSTRUCTION_LEN, 2);
  CHECK_GUEST_VECTOR(resume(), TIMER_VECTOR + 1);
  CHECK_EQ(guest_frame()[0], addr(guest_vmcall) + 2, "RIP in the guest's INT frame");

  restart_at(guest_vmcall);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(TIMER_VECTOR, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
  CHECK_ENTRY_FAILURE(resume(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_DEFAULT,
                      "injecting an external interrupt with RFLAGS.IF = 0");
}

void test_nmi_window() {
  // With virtual NMIs, NMI-window exiting exits before the first
  // instruction unless virtual-NMI blocking is set or MOV SS blocks events
  // (SDM 25.2), waking the HLT state; delivering an injected NMI sets
  // virtual-NMI blocking (SDM 26.6.1.2, 25.3).
  REQUIRE(setup_guest(addr(guest_nops)));
  REQUIRE(set_pin(pin_ctl::NMI_EXITING | pin_ctl::VIRTUAL_NMIS));
  REQUIRE(set_proc(proc_ctl::NMI_WINDOW_EXITING));
  Exit e = run();
  CHECK_EXIT(e, ExitReason::NMI_WINDOW);
  CHECK_EQ(e.rip, addr(guest_nops), "guest RIP of the NMI-window exit");

  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_NMI.mask);
  CHECK_VMCALL_AT(resume(), guest_nops, 3);
  CHECK(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO) & interruptibility::BLOCKING_BY_NMI.mask,
        "virtual-NMI blocking lost across the exit");

  // Blocking by MOV SS holds the exit back for one instruction (SDM 25.2).
  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_MOV_SS.mask);
  e = resume();
  CHECK_EXIT(e, ExitReason::NMI_WINDOW);
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP of the NMI-window exit with blocking by MOV SS at entry");
  // The HLT activity state: the exit wakes it, RIP where the guest halted.
  if (vmx_misc::ACTIVITY_HLT.test(caps.misc)) {
    restart_at(guest_vmcall);
    vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, 0);
    vwrite(VmcsField::GUEST_ACTIVITY_STATE, activity_state::HLT);
    e = resume();
    CHECK_EXIT(e, ExitReason::NMI_WINDOW);
    CHECK_EQ(e.rip, addr(guest_vmcall), "guest RIP of the NMI-window exit in HLT");
    CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::ACTIVE, "guest activity state after the exit");
  }

  vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::NMI_WINDOW_EXITING);
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, 0);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(uint8_t(arch::Vector::NMI), intr_info::TYPE_NMI, false));
  restart_at(guest_vmcall);
  CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::NMI));
  CHECK(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO) & interruptibility::BLOCKING_BY_NMI.mask,
        "no virtual-NMI blocking after delivering an injected NMI");
}

void test_activity_hlt() {
  // The HLT activity state: entered by VM entry or by a guest HLT, kept
  // across a preemption-timer exit, left by an injected interrupt (SDM
  // 24.4.2, 26.6.3, 26.6.2).
  if (!vmx_misc::ACTIVITY_HLT.test(caps.misc)) return skip("activity state HLT is not supported");
  REQUIRE(setup_guest(addr(guest_vmcall)));
  REQUIRE(set_pin(pin_ctl::PREEMPTION_TIMER));
  vwrite(VmcsField::GUEST_ACTIVITY_STATE, activity_state::HLT);
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 100);
  Exit e = run();
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK_EQ(e.rip, addr(guest_vmcall), "guest RIP after waiting in the HLT state");
  CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::HLT, "guest activity state at the exit");

  restart_at(guest_hlt);
  vwrite(VmcsField::GUEST_ACTIVITY_STATE, activity_state::ACTIVE);
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 100);
  e = resume();
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK_EQ(e.rip, addr(guest_hlt) + 1, "guest RIP after its HLT");
  CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::HLT, "guest activity state after its HLT");

  restart_at(guest_vmcall);
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 1000000);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::IF);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(TIMER_VECTOR, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
  CHECK_GUEST_VECTOR(resume(), TIMER_VECTOR);
  CHECK_EQ(guest_frame()[0], addr(guest_vmcall), "RIP in the guest's interrupt frame");
  CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::ACTIVE, "guest activity state after the interrupt");
}

void test_triple_fault() {
  // A guest exception it cannot deliver (IDT limit 0) becomes #DF and then
  // a triple fault, which exits with reason 2 (SDM 25.2).
  REQUIRE(setup_guest(addr(guest_ud2)));
  vwrite(VmcsField::GUEST_IDTR_LIMIT, 0);
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::TRIPLE_FAULT);
  CHECK_EQ(e.qualification, 0, "exit qualification");
}

void test_interruptibility_saved() {
  // An instruction that exits inside an STI or MOV SS shadow leaves that
  // blocking in the saved interruptibility state (SDM 24.4.2, 27.3.4); a
  // VMM skipping the instruction must clear it, as KVM does.
  REQUIRE(setup_guest(addr(guest_sti_vmcall)));
  CHECK_VMCALL_AT(run(), guest_sti_vmcall, 1);
  CHECK_EQ(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO), interruptibility::BLOCKING_BY_STI.mask,
           "interruptibility state at a VMCALL after STI");
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, 0);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1);
  restart_at(guest_mov_ss_vmcall);
  CHECK_VMCALL_AT(resume(), guest_mov_ss_vmcall, 4);
  CHECK_EQ(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO), interruptibility::BLOCKING_BY_MOV_SS.mask,
           "interruptibility state at a VMCALL after MOV SS");
}

}  // namespace selftest
