// VM entry and VM exit (KVM's vmenter.S, __vmx_vcpu_run): the one place
// that moves the guest's general-purpose registers in and out of the CPU.
#pragma once
#include <stdint.h>

namespace l1 {

// Register numbers as in exit qualifications and instruction information
// (SDM table 27-3 and following): x86 order.
enum Gpr : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

// The guest's general-purpose registers while l1-vmm runs. gpr[RSP] is
// unused: the guest's RSP lives in the VMCS (GUEST_RSP).
struct GuestRegs {
  uint64_t gpr[16];
};

// What l1_vmx_vcpu_run returns.
enum VmEnterResult : uint32_t {
  VMENTER_EXITED = 0,        // the guest ran and exited, or VM entry failed on guest state (exit reason bit 31)
  VMENTER_FAIL_INVALID = 1,  // VMLAUNCH/VMRESUME VMfailInvalid
  VMENTER_FAIL_VALID = 2,    // VMfailValid: VM_INSTRUCTION_ERROR says why
  VMENTER_NO_ENTRY = 3,      // neither (not an architectural outcome)
};

extern "C" {
// VMLAUNCH (launched = 0) or VMRESUME the current VMCS with `regs` loaded;
// returns at the next VM exit with `regs` holding the guest's registers.
// HOST_RSP is written only when the stack pointer differs from the last
// entry's (never, in l1-vmm's loop), as KVM's vmx_update_host_rsp does.
uint32_t l1_vmx_vcpu_run(GuestRegs* regs, uint32_t launched);
// Where VM exits land (HOST_RIP).
extern char l1_vmx_vmexit[];
}

}  // namespace l1
