// A host at CPL 0 in 64-bit mode, in VMX root operation, with a current
// VMCS whose host state is the CPU's and whose guest is a 64-bit CPL-0
// guest on the same page tables: the starting point of the sim's VMX tests.
#pragma once
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "l0/sim/vmx/vmx.h"
#include "tests/support/sim_harness.h"

namespace nestbed::testing {

namespace vmx_layout {
inline constexpr uint64_t VMXON_REGION = 0x500000;
inline constexpr uint64_t VMCS_REGION = 0x501000;
inline constexpr uint64_t GUEST_CODE = 0x300000;
inline constexpr uint64_t GUEST_STACK = 0x310000;
inline constexpr uint64_t HOST_EXIT = 0x180000;  // sim_layout::HANDLERS: the host's VM-exit entry: HLT
inline constexpr uint64_t EPT_ROOT = 0x600000;
}  // namespace vmx_layout

// CR4.VMXE, CR0.NE and IA32_FEATURE_CONTROL as VMXON needs them, the
// VMXON and VMCS regions' revision, and a host exit handler that halts.
inline void enable_vmx(SimMachine& m) {
  using namespace vmx_layout;
  m.setup_long_mode();
  m.s().cr4 |= arch::cr4::VMXE;
  m.s().cr0 |= arch::cr0::NE;
  m.s().feature_control = arch::msr::FEATURE_CONTROL_LOCK | arch::msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX;
  m.poke<uint32_t>(VMXON_REGION, sim::vmx::kVmcsRevision);
  m.poke<uint32_t>(VMCS_REGION, sim::vmx::kVmcsRevision);
  m.load_code(HOST_EXIT, {0xf4});  // the host handles each exit by halting
}

// VMXON + VMCLEAR + VMPTRLD, then a VMCS whose host is this CPU's state and
// whose guest is a 64-bit CPL-0 guest on the same page tables.
inline sim::vmx::Vmcs& prepare_vmcs(SimMachine& m) {
  using namespace vmx_layout;
  using F = arch::vmx::VmcsField;
  namespace ar = arch::seg::ar;
  sim::vmx::Vmx& vmx = m.cpu.vmx();
  vmx.vmxon(VMXON_REGION);
  vmx.vmclear(VMCS_REGION);
  vmx.vmptrld(VMCS_REGION);
  sim::vmx::Vmcs& v = *vmx.current();
  const sim::vmx::VmxCapabilities& caps = sim::vmx::sim_vmx_capabilities();
  v.write(F::PIN_BASED_VM_EXEC_CONTROL, arch::vmx::ctls_allowed0(caps.pinbased));
  v.write(F::CPU_BASED_VM_EXEC_CONTROL, arch::vmx::ctls_allowed0(caps.procbased));
  v.write(F::VM_EXIT_CONTROLS, arch::vmx::ctls_allowed0(caps.exit) | arch::vmx::exit_ctl::HOST_ADDRESS_SPACE_SIZE);
  v.write(F::VM_ENTRY_CONTROLS, arch::vmx::ctls_allowed0(caps.entry) | arch::vmx::entry_ctl::IA32E_MODE_GUEST);
  v.write(F::VMCS_LINK_POINTER, ~0ull);
  const sim::CpuState& s = m.cpu.state();
  v.write(F::HOST_CR0, s.cr0);
  v.write(F::HOST_CR3, s.cr3);
  v.write(F::HOST_CR4, s.cr4);
  v.write(F::HOST_CS_SELECTOR, sel::KCODE);
  v.write(F::HOST_SS_SELECTOR, sel::KDATA);
  v.write(F::HOST_DS_SELECTOR, sel::KDATA);
  v.write(F::HOST_ES_SELECTOR, sel::KDATA);
  v.write(F::HOST_FS_SELECTOR, 0);
  v.write(F::HOST_GS_SELECTOR, 0);
  v.write(F::HOST_TR_SELECTOR, sel::TSS);
  v.write(F::HOST_TR_BASE, sim_layout::TSS);
  v.write(F::HOST_GDTR_BASE, sim_layout::GDT);
  v.write(F::HOST_IDTR_BASE, sim_layout::IDT);
  v.write(F::HOST_RIP, HOST_EXIT);
  v.write(F::HOST_RSP, sim_layout::STACK_TOP);

  v.write(F::GUEST_CR0, s.cr0);
  v.write(F::GUEST_CR3, s.cr3);
  v.write(F::GUEST_CR4, s.cr4);
  const struct {
    F sel, base, limit, access;
    uint16_t selector;
    uint32_t ar;
  } segs[] = {
      {F::GUEST_CS_SELECTOR, F::GUEST_CS_BASE, F::GUEST_CS_LIMIT, F::GUEST_CS_AR_BYTES, sel::KCODE, ar::P | ar::S | ar::L | ar::G | 0xb},
      {F::GUEST_SS_SELECTOR, F::GUEST_SS_BASE, F::GUEST_SS_LIMIT, F::GUEST_SS_AR_BYTES, sel::KDATA, ar::P | ar::S | ar::DB | ar::G | 0x3},
      {F::GUEST_DS_SELECTOR, F::GUEST_DS_BASE, F::GUEST_DS_LIMIT, F::GUEST_DS_AR_BYTES, sel::KDATA, ar::P | ar::S | ar::DB | ar::G | 0x3},
      {F::GUEST_ES_SELECTOR, F::GUEST_ES_BASE, F::GUEST_ES_LIMIT, F::GUEST_ES_AR_BYTES, sel::KDATA, ar::P | ar::S | ar::DB | ar::G | 0x3},
      {F::GUEST_FS_SELECTOR, F::GUEST_FS_BASE, F::GUEST_FS_LIMIT, F::GUEST_FS_AR_BYTES, 0, ar::UNUSABLE},
      {F::GUEST_GS_SELECTOR, F::GUEST_GS_BASE, F::GUEST_GS_LIMIT, F::GUEST_GS_AR_BYTES, 0, ar::UNUSABLE},
      {F::GUEST_LDTR_SELECTOR, F::GUEST_LDTR_BASE, F::GUEST_LDTR_LIMIT, F::GUEST_LDTR_AR_BYTES, 0, ar::UNUSABLE},
      {F::GUEST_TR_SELECTOR, F::GUEST_TR_BASE, F::GUEST_TR_LIMIT, F::GUEST_TR_AR_BYTES, sel::TSS, ar::P | 0xb},
  };
  for (const auto& g : segs) {
    v.write(g.sel, g.selector);
    v.write(g.base, g.sel == F::GUEST_TR_SELECTOR ? sim_layout::TSS : 0);
    v.write(g.limit, g.sel == F::GUEST_TR_SELECTOR ? 0x67 : 0xffffffff);
    v.write(g.access, g.ar);
  }
  v.write(F::GUEST_GDTR_BASE, sim_layout::GDT);
  v.write(F::GUEST_GDTR_LIMIT, 63);
  v.write(F::GUEST_IDTR_BASE, sim_layout::IDT);
  v.write(F::GUEST_IDTR_LIMIT, 0xfff);
  v.write(F::GUEST_IA32_EFER, s.efer);
  v.write(F::GUEST_RIP, GUEST_CODE);
  v.write(F::GUEST_RSP, GUEST_STACK);
  v.write(F::GUEST_RFLAGS, 2);
  return v;
}

}  // namespace nestbed::testing
