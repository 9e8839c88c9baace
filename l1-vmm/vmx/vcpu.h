// The guest's one virtual CPU as l1-vmm keeps it between exits: its
// registers, the VMCS that runs it (vmcs01), what the current exit was, and
// the event l1-vmm owes it. KVM keeps the same in struct vcpu_vmx.
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "l1-vmm/nested/nested.h"
#include "l1-vmm/options.h"
#include "l1-vmm/vmx/vmcs_config.h"
#include "l1-vmm/vmx/vmx_ops.h"
#include "runtime/vmx.h"

namespace l1 {

// The guest's general-purpose registers while l1-vmm runs (the runtime's
// VM entry loads and stores them), indexed by the register numbers of exit
// qualifications and instruction information: RAX, RCX, ...
using rt::vmx::GuestRegs;
using enum rt::vmx::Gpr;

// The current exit, read once at the start of vmx_handle_exit.
struct ExitInfo {
  uint32_t reason;          // VM_EXIT_REASON, flag bits included
  uint16_t basic;           // its basic reason (the handler table's index)
  uint64_t qualification;   // EXIT_QUALIFICATION
  uint32_t idt_vectoring;   // IDT_VECTORING_INFO_FIELD: the event this exit interrupted, if valid
};

// External interrupts l1-vmm has taken from the APIC for the guest (with
// exit_intr, or one an exit cut off) and still owes it: a set of vectors
// like the APIC's IRR, injected highest first, as the APIC would deliver
// them (SDM 11.8.3).
struct PendingInterrupts {
  uint64_t bits[4];
  bool any() const { return (bits[0] | bits[1] | bits[2] | bits[3]) != 0; }
  void set(uint8_t vector) { bits[vector / 64] |= 1ull << (vector % 64); }
  // The highest pending vector, taken out of the set (any() must hold).
  uint8_t take_highest() {
    for (int w = 3;; w--) {
      if (!bits[w]) continue;
      const unsigned bit = 63u - unsigned(__builtin_clzll(bits[w]));
      bits[w] &= ~(1ull << bit);
      return uint8_t(w * 64 + int(bit));
    }
  }
};

struct Vcpu {
  GuestRegs regs;
  bool launched;            // vmcs01's launch state
  uint64_t vmcs01;          // physical address of the VMCS that runs the guest
  unsigned level;           // l1-vmm's level (DESIGN.md §1); the guest's is level + 1
  Options options;
  VmcsConfig config;
  ExitInfo exit;
  // Cached control words, so toggling an exit costs one VMWRITE.
  uint32_t proc_ctl;
  // VM exits leave "IA-32e mode guest" alone (no IA32_VMX_MISC bit 5):
  // l1-vmm keeps it equal to the guest's EFER.LMA itself.
  bool sync_ia32e_mode;
  PendingInterrupts pending;
  // VMX as l1-vmm emulates it for the guest (nested/nested.h): vmcs12,
  // vmcs02 and whether level + 2 is running.
  nested::NestedVmx nested;

  // The guest's general-purpose register `r` (RSP from the VMCS).
  uint64_t gpr(unsigned r) const { return r == RSP ? vmcs_read(VmcsField::GUEST_RSP) : regs.gpr[r]; }
  void set_gpr(unsigned r, uint64_t v) {
    if (r == RSP) vmcs_write(VmcsField::GUEST_RSP, v);
    else regs.gpr[r] = v;
  }
};

// ---- helpers the exit handlers share (vmx.cpp) ----

// Advances the guest's RIP past the exiting instruction and drops the
// interrupt shadow that instruction may have had (KVM's
// kvm_skip_emulated_instruction): the instruction is done.
void skip_emulated_instruction(Vcpu& v);
// The same for an instruction `length` bytes long, for exits that do not
// save the length (EPT violations: SDM 27.2.5), whose handler decodes it.
void skip_instruction(Vcpu& v, uint64_t length);

// Injects a hardware exception into the guest at the next VM entry (SDM
// 26.6), with an error code where the vector has one.
void inject_exception(Vcpu& v, uint8_t vector, uint32_t error_code = 0);

// Injects again at the next VM entry the event an exit interrupted (its
// IDT-vectoring information, SDM 27.2.4 and 26.6).
void requeue_event(uint32_t idt_vectoring);

// The guest's CPL: SS.DPL (SDM 24.4.1; KVM's vmx_get_cpl).
unsigned guest_cpl();

// The guest's view of CR0/CR4 on the current VMCS: its own bits from the
// register, the masked ones from the read shadow (SDM 25.3).
uint64_t guest_cr0_view();
uint64_t guest_cr4_view();

// Is the guest in IA-32e mode (so an instruction's register operand is 64
// bits), and is it in 64-bit code (CS.L)?
bool guest_long_mode();
bool guest_64bit_code();

// Ends the run for an exit l1-vmm cannot handle, printing `what` and the
// exit's reason, qualification and guest RIP (L1_GUEST_FAILED).
[[noreturn]] void guest_failed(const Vcpu& v, const char* what);

}  // namespace l1
