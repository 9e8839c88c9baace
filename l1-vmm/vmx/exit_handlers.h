// The exit handlers, one per family, in vmx.cpp's table indexed by basic
// exit reason (KVM's kvm_vmx_exit_handlers). Each runs with vmcs01 current
// and the exit's reason and qualification in v.exit; it either resumes the
// guest (returns) or ends the run.
#pragma once
#include "l1-vmm/vmx/vcpu.h"
#include "runtime/x86.h"

namespace l1 {

using ExitHandler = void (*)(Vcpu& v);

void handle_exception_nmi(Vcpu& v);      // exit_events.cpp: exceptions in exit_exc, reflected
void handle_external_interrupt(Vcpu& v); // exit_events.cpp: exit_intr, injected back
void handle_interrupt_window(Vcpu& v);   // exit_events.cpp
void handle_triple_fault(Vcpu& v);       // exit_events.cpp: the machine shuts down
void handle_halt(Vcpu& v);               // exit_events.cpp: exit_hlt
void handle_preemption_timer(Vcpu& v);   // exit_events.cpp: preempt
void handle_cpuid(Vcpu& v);              // exit_cpuid.cpp
void handle_io(Vcpu& v);                 // exit_io.cpp
void handle_rdmsr(Vcpu& v);              // exit_msr.cpp
void handle_wrmsr(Vcpu& v);              // exit_msr.cpp
void handle_cr(Vcpu& v);                 // exit_cr.cpp
void handle_vmcall(Vcpu& v);             // exit_vmcall.cpp: the hypercall ABI
void handle_ept_violation(Vcpu& v);      // exit_ept.cpp
void handle_ept_misconfig(Vcpu& v);      // exit_ept.cpp
void handle_vmx_instruction(Vcpu& v);    // exit_vmx_insn.cpp: nested/ emulates VMX
void handle_invd_wbinvd(Vcpu& v);        // exit_vmx_insn.cpp: nothing to write back
void handle_xsetbv(Vcpu& v);             // exit_xsetbv.cpp: checked, then executed

// Injects an external interrupt l1-vmm holds (v.pending_irq) as soon as
// the guest can take it, else asks for an interrupt-window exit.
void inject_pending_event(Vcpu& v);

// The MSR bitmap (exit_msr.cpp): the MSRs whose RDMSR/WRMSR exit.
uint64_t setup_msr_bitmap();

// Is `index` an MSR the current VMCS's guest-state area holds (EFER, PAT,
// SYSENTER_*, FS/GS base, DEBUGCTL), and which field; and a WRMSR of it,
// false for #GP.
bool vmcs_switched_msr(const Vcpu& v, uint32_t index, VmcsField& field);
bool write_switched_msr(uint32_t index, VmcsField field, uint64_t value);

// The processor's CPUID as l1-vmm sees it (exit_cpuid.cpp; cached where
// the answer cannot change).
rt::CpuidResult processor_cpuid(uint32_t leaf, uint32_t subleaf);

// l1-vmm's level from the CPUID hypervisor leaves (exit_cpuid.cpp): 1 on
// the platform, k + 1 under an l1-vmm at level k.
unsigned detect_vmm_level();

}  // namespace l1
