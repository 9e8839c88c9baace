// VMX helpers for freestanding code that acts as a VMM (SDM vol. 3,
// chapters 23-30): vmx-selftest and l1-vmm. The VMX instructions with their
// outcome, the capability MSRs, a host TSS, the host-state fields, the
// VM-entry/VM-exit trampoline and an EPT builder. The architectural
// constants are arch/vmx (never redefined here).
//
//   rt::vmx::Capabilities caps = rt::vmx::read_capabilities();
//   rt::vmx::install_host_tss();
//   ... VMXON, VMCLEAR/VMPTRLD a VMCS, write the controls and guest state ...
//   rt::vmx::write_host_state(caps);
//   rt::vmx::GuestRegs regs{};
//   if (rt::vmx::enter(regs, false) == rt::vmx::EnterResult::VmExit) ...
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "runtime/asm.h"

namespace rt::vmx {

using arch::vmx::VmcsField;

// ---- VMX instructions -------------------------------------------------------
// How a VMX instruction ended (SDM 30.2): VMsucceed (CF = ZF = 0),
// VMfailInvalid (CF = 1: no current VMCS to hold an error number) or
// VMfailValid (ZF = 1: the error number is in VM_INSTRUCTION_ERROR).
enum class Status : uint8_t { Ok, FailInvalid, FailValid };
const char* status_name(Status s);
inline Status status_from(bool cf, bool zf) { return cf ? Status::FailInvalid : zf ? Status::FailValid : Status::Ok; }

// Each runs the instruction once, inline (on a VMM's exit path a VMREAD is
// one instruction and a branch, not a call). Outside VMX operation (or with
// CR4.VMXE = 0, CPL > 0, ...) they fault as the SDM says; catching that is
// the caller's.
inline Status vmxon(uint64_t region) {
  bool cf, zf;
  asm volatile("vmxon %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(region) : "memory");
  return status_from(cf, zf);
}

inline Status vmxoff() {
  bool cf, zf;
  asm volatile("vmxoff" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  return status_from(cf, zf);
}

inline Status vmclear(uint64_t vmcs) {
  bool cf, zf;
  asm volatile("vmclear %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(vmcs) : "memory");
  return status_from(cf, zf);
}

inline Status vmptrld(uint64_t vmcs) {
  bool cf, zf;
  asm volatile("vmptrld %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(vmcs) : "memory");
  return status_from(cf, zf);
}

inline Status vmptrst(uint64_t& vmcs) {
  bool cf, zf;
  asm volatile("vmptrst %[p]" : "=@ccc"(cf), "=@ccz"(zf), [p] "=m"(vmcs) : : "memory");
  return status_from(cf, zf);
}

// VMREAD and VMWRITE of a register (AT&T operand order: VMREAD encoding,
// destination; VMWRITE source, encoding). "Above" (CF = ZF = 0) comes out
// first: a caller that only asks for Status::Ok (a VMM on its exit path)
// gets the instruction and one branch. No "memory" clobber: they touch no
// memory the compiler knows of (software must not access an active VMCS
// region with ordinary accesses, SDM 24.11.1). After a VMREAD that fails,
// `value` is unspecified (read() gives 0 instead).
inline Status vmread(uint64_t encoding, uint64_t& value) {
  bool ok, cf;
  asm volatile("vmread %[enc], %[val]" : "=@cca"(ok), "=@ccc"(cf), [val] "=r"(value) : [enc] "r"(encoding));
  return ok ? Status::Ok : cf ? Status::FailInvalid : Status::FailValid;  // not above: CF = 1 or ZF = 1
}

inline Status vmwrite(uint64_t encoding, uint64_t value) {
  bool ok, cf;
  asm volatile("vmwrite %[val], %[enc]" : "=@cca"(ok), "=@ccc"(cf) : [val] "r"(value), [enc] "r"(encoding));
  return ok ? Status::Ok : cf ? Status::FailInvalid : Status::FailValid;  // not above: CF = 1 or ZF = 1
}

inline Status vmread(VmcsField f, uint64_t& value) { return vmread(uint64_t(f), value); }
inline Status vmwrite(VmcsField f, uint64_t value) { return vmwrite(uint64_t(f), value); }

// INVEPT with descriptor {eptp, 0}; INVVPID with descriptor {vpid, linear} (SDM 30.3).
inline Status invept(uint64_t type, uint64_t eptp) {
  const arch::vmx::InveptDescriptor d{eptp, 0};
  bool cf, zf;
  asm volatile("invept %[d], %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [d] "m"(d), [t] "r"(type) : "memory");
  return status_from(cf, zf);
}

inline Status invvpid(uint64_t type, uint64_t vpid, uint64_t linear) {
  const arch::vmx::InvvpidDescriptor d{vpid, linear};
  bool cf, zf;
  asm volatile("invvpid %[d], %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [d] "m"(d), [t] "r"(type) : "memory");
  return status_from(cf, zf);
}

// VMREAD of a field the current VMCS has; 0 when the VMREAD fails.
inline uint64_t read(VmcsField f) {
  uint64_t v;
  return vmread(f, v) == Status::Ok ? v : 0;
}
// VM_INSTRUCTION_ERROR of the current VMCS (SDM 30.4).
inline uint32_t instruction_error() { return uint32_t(read(VmcsField::VM_INSTRUCTION_ERROR)); }

// ---- Capability MSRs (SDM appendix A) ----------------------------------------
struct Capabilities {
  uint64_t basic;
  // The control capabilities software must follow: the IA32_VMX_TRUE_* MSRs
  // when IA32_VMX_BASIC bit 55 says they exist, the legacy ones otherwise
  // (SDM A.2). procbased2 is 0 when secondary controls cannot be activated,
  // ept_vpid_cap 0 when neither EPT nor VPID can be enabled, vmfunc 0
  // without VM functions: those MSRs do not exist then (A.3.3, A.10, A.11).
  uint64_t pinbased, procbased, procbased2, exit, entry;
  bool true_controls;
  uint64_t misc;
  uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
  uint64_t vmcs_enum;
  uint64_t ept_vpid_cap;
  uint64_t vmfunc;

  uint32_t revision() const { return uint32_t(arch::vmx::vmx_basic::REVISION_ID.get(basic)); }
};
// Reads the MSRs (only those that exist, per the rules above).
Capabilities read_capabilities();

// ---- Host state -------------------------------------------------------------
// The host's TR selector after install_host_tss(): VM exits load TR and the
// host-state checks require a nonzero selector (SDM 26.2.3).
inline constexpr uint16_t HOST_TR_SELECTOR = 0x18;
// Replaces the boot GDT with a copy that adds a 64-bit TSS at
// HOST_TR_SELECTOR and loads TR with it. Idempotent.
void install_host_tss();
uint64_t host_tss_base();

// Writes every host-state field of the current VMCS but HOST_RSP (enter()
// writes it) from the running CPU, as KVM's vmx_set_constant_host_state:
// CR0/CR3/CR4, the runtime's flat selectors, the TSS (install_host_tss()
// first, if not yet), GDTR/IDTR, FS/GS bases, the SYSENTER MSRs, HOST_RIP =
// where VM exits land in enter(), and IA32_EFER and IA32_PAT where those
// fields exist: where `caps` allow the "load IA32_EFER"/"load IA32_PAT"
// VM-exit controls (SDM 24.5). Stops at the first VMWRITE that fails and
// returns how it ended, with its field in `*failed`.
Status write_host_state(const Capabilities& caps, VmcsField* failed = nullptr);

// ---- VM entry and VM exit ---------------------------------------------------
// Register numbers as in exit qualifications and instruction information
// (SDM table 27-3 and following).
enum Gpr : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
// The guest's general-purpose registers, loaded before VM entry and stored
// at VM exit. gpr[RSP] is unused: the guest's RSP is GUEST_RSP.
struct GuestRegs {
  uint64_t gpr[16];
};

enum class EnterResult : uint32_t {
  VmExit,       // the guest ran and exited, or VM entry failed on guest state (exit reason bit 31)
  FailInvalid,  // VMLAUNCH/VMRESUME VMfailInvalid
  FailValid,    // VMLAUNCH/VMRESUME VMfailValid: see instruction_error()
  NoEntry,      // the instruction neither entered nor failed (not an architectural outcome)
};
const char* enter_result_name(EnterResult r);

extern "C" {
// The trampoline (runtime/vmx.cpp; KVM's __vmx_vcpu_run): returns an EnterResult.
uint32_t rt_vmx_enter(GuestRegs* regs, uint32_t resume);
// Where VM exits land (HOST_RIP, written by write_host_state()).
extern char rt_vmx_vmexit[];
// Where an entry that falls through VMLAUNCH/VMRESUME goes on: it returns
// the EnterResult the flags say (SDM 30.2).
extern char rt_vmx_vmfail[];
// The stack pointer last written to HOST_RSP; 0: none (write_host_state()).
extern uint64_t rt_vmx_host_rsp;
}

// VMLAUNCH (resume = false) or VMRESUME the current VMCS with the guest's
// GPRs from `regs`. The VM exit lands in a stub that stores the guest's
// GPRs into `regs` and returns VmExit from here with the host's
// callee-saved registers restored. HOST_RSP is written only when this
// entry's stack pointer is not the last one written (KVM's
// vmx_update_host_rsp), so a VMM that enters from one loop writes it once
// per VMCS: write_host_state() forgets the last one. A VMM that switches
// between VMCSs entered from different stack pointers clears
// rt_vmx_host_rsp when it switches.
inline EnterResult enter(GuestRegs& regs, bool resume) { return EnterResult(rt_vmx_enter(&regs, resume)); }

// How enter() starts, as text for an extended asm statement, for entry
// functions written by hand (vmx-selftest runs VMLAUNCH in an interrupt
// shadow): pushes the callee-saved registers and `regs` (RDI), and makes
// HOST_RSP this stack pointer (the asm statement needs the operand
// RT_VMX_HOST_RSP_OPERAND). The function then runs VMLAUNCH or VMRESUME and
// jumps to rt_vmx_vmfail right after it; a VM exit returns VmExit from it
// through rt_vmx_vmexit, a failure the EnterResult its flags say.
#define RT_VMX_ENTER_FRAME                   \
  RT_ASM_PUSH_CALLEE_SAVED                   \
  "pushq %%rdi\n\t"                          \
  "cmpq %%rsp, rt_vmx_host_rsp(%%rip)\n\t"   \
  "je 9f\n\t"                                \
  "movq %%rsp, rt_vmx_host_rsp(%%rip)\n\t"   \
  "movl %[host_rsp], %%eax\n\t"              \
  "vmwrite %%rsp, %%rax\n\t"                 \
  "jbe rt_vmx_vmfail\n"                      \
  "9:\n\t"
#define RT_VMX_HOST_RSP_OPERAND [host_rsp] "i"(uint32_t(::arch::vmx::VmcsField::HOST_RSP))

// ---- EPT (SDM 28.2) -----------------------------------------------------------
// Leaf permissions and memory type for Ept::map.
inline constexpr uint64_t EPT_R = arch::vmx::ept_entry::READ.mask;
inline constexpr uint64_t EPT_W = arch::vmx::ept_entry::WRITE.mask;
inline constexpr uint64_t EPT_X = arch::vmx::ept_entry::EXECUTE.mask;
inline constexpr uint64_t EPT_RWX = arch::vmx::ept_entry::RWX;
inline constexpr uint64_t EPT_WB =
    arch::vmx::ept_entry::MEMORY_TYPE.make(arch::vmx::ept_memory_type::WB);

// A 4-level EPT whose tables come from alloc_pages (never freed).
class Ept {
 public:
  // Allocates and clears the PML4 table; false when out of memory.
  bool init();
  // EPTP: 4-level walk, write-back paging structures, A/D flags off.
  uint64_t eptp() const;
  // Maps the page of `page_size` (4 KiB, 2 MiB or 1 GiB) at `gpa` to `hpa`,
  // with `leaf` as the leaf entry's low bits (permissions, memory type),
  // creating missing tables (RWX). False: out of memory, or a larger page
  // is in the way.
  bool map(uint64_t gpa, uint64_t hpa, uint64_t page_size, uint64_t leaf);
  // Identity-maps [0, end) with 2 MiB pages, RWX and write-back.
  bool identity_map(uint64_t end);
  // The leaf entry mapping `gpa`, or nullptr when there is none.
  uint64_t* leaf(uint64_t gpa) const;

 private:
  uint64_t pml4_ = 0;
};

}  // namespace rt::vmx
