#include "l1-vmm/nested/capabilities.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/msr.h"
#include "l1-vmm/nested/vmcs12.h"

namespace l1::nested {

using namespace arch::vmx;
namespace msr = arch::msr;

namespace supported {

// Pin-based: l1-vmm reflects each of these exits, and the timer counts on
// the platform's clock at the platform's rate (MISC bits 4:0 passed on).
// Posted interrupts are the platform's on vmcs02, whose notification
// vector comes from the passed-through local APIC — unless l1-vmm takes
// every external interrupt itself (exit_intr): not offered then.
uint32_t pin(bool offer_posted_interrupts) {
  return pin_ctl::DEFAULT1 | pin_ctl::EXTERNAL_INTERRUPT_EXITING | pin_ctl::NMI_EXITING | pin_ctl::VIRTUAL_NMIS |
         pin_ctl::PREEMPTION_TIMER | (offer_posted_interrupts ? pin_ctl::POSTED_INTERRUPTS : 0);
}

// Primary: every exit control is merged into vmcs02 and its exits are
// reflected by vmcs12's setting; the TPR shadow is vmcs12's page itself.
// Left out: MONITOR/MWAIT exiting (no such instructions), tertiary controls.
uint32_t proc() {
  return proc_ctl::DEFAULT1 | proc_ctl::INTERRUPT_WINDOW_EXITING | proc_ctl::USE_TSC_OFFSETTING |
         proc_ctl::HLT_EXITING | proc_ctl::INVLPG_EXITING | proc_ctl::RDPMC_EXITING | proc_ctl::RDTSC_EXITING |
         proc_ctl::CR3_LOAD_EXITING | proc_ctl::CR3_STORE_EXITING | proc_ctl::CR8_LOAD_EXITING |
         proc_ctl::CR8_STORE_EXITING | proc_ctl::NMI_WINDOW_EXITING | proc_ctl::MOV_DR_EXITING |
         proc_ctl::UNCONDITIONAL_IO_EXITING | proc_ctl::USE_IO_BITMAPS | proc_ctl::MONITOR_TRAP_FLAG |
         proc_ctl::USE_MSR_BITMAPS | proc_ctl::PAUSE_EXITING | proc_ctl::USE_TPR_SHADOW |
         proc_ctl::ACTIVATE_SECONDARY_CONTROLS;
}

// Secondary: EPT (nested EPT, EPT02 = EPT12 o EPT01), unrestricted guest,
// VPID (a vpid02), RDTSCP, INVPCID (its exits follow "INVLPG exiting"),
// WBINVD and descriptor-table exiting, VMCS
// shadowing (shadow_vmcs=1: the level that sees the guest's VMREAD/VMWRITE
// carries it out), PML (logged as the walk of EPT12 sets dirty flags,
// nested_ept.cpp), the APIC-access page (vmcs02 names the platform page
// behind vmcs12's), APIC-register virtualization and virtual-interrupt
// delivery (the platform's, on vmcs12's pages; RVI/SVI through vmcs02) and
// x2APIC virtualization (apic_virt.cpp). Not: posted interrupts.
uint32_t proc2(bool shadowing) {
  return proc_ctl2::ENABLE_EPT | proc_ctl2::DESCRIPTOR_TABLE_EXITING | proc_ctl2::ENABLE_RDTSCP |
         proc_ctl2::ENABLE_VPID | proc_ctl2::WBINVD_EXITING | proc_ctl2::UNRESTRICTED_GUEST |
         proc_ctl2::ENABLE_PML | proc_ctl2::VIRTUALIZE_APIC_ACCESSES | proc_ctl2::VIRTUALIZE_X2APIC_MODE |
         proc_ctl2::APIC_REGISTER_VIRTUALIZATION | proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY | proc_ctl2::ENABLE_INVPCID |
         (shadowing ? proc_ctl2::VMCS_SHADOWING : 0);
}

uint32_t exit() {
  return exit_ctl::DEFAULT1 | exit_ctl::SAVE_DEBUG_CONTROLS | exit_ctl::HOST_ADDRESS_SPACE_SIZE |
         exit_ctl::ACK_INTERRUPT_ON_EXIT | exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT | exit_ctl::SAVE_EFER |
         exit_ctl::LOAD_EFER | exit_ctl::SAVE_PREEMPTION_TIMER;
}

uint32_t entry() {
  return entry_ctl::DEFAULT1 | entry_ctl::LOAD_DEBUG_CONTROLS | entry_ctl::IA32E_MODE_GUEST | entry_ctl::LOAD_PAT |
         entry_ctl::LOAD_EFER;
}

// EPT12 is walked with the sim's own walk (common/vmx/ept_walk.cpp), which implements all of these.
uint64_t ept_vpid_cap() {
  namespace c = vmx_ept_vpid_cap;
  return c::EXECUTE_ONLY.mask | c::PAGE_WALK_4.mask | c::MEMTYPE_UC.mask | c::MEMTYPE_WB.mask | c::PDE_2MB.mask |
         c::PDPTE_1GB.mask | c::INVEPT.mask | c::ACCESSED_DIRTY.mask | c::INVEPT_SINGLE_CONTEXT.mask |
         c::INVEPT_ALL_CONTEXT.mask | c::INVVPID.mask | c::INVVPID_INDIVIDUAL_ADDRESS.mask |
         c::INVVPID_SINGLE_CONTEXT.mask | c::INVVPID_ALL_CONTEXT.mask |
         c::INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS.mask;
}

// MISC: the timer rate, EFER.LMA stored on exit, the HLT activity state,
// CR3 targets, the MSR-list size and VMWRITE to exit-information fields.
uint64_t misc_mask() {
  return vmx_misc::PREEMPTION_TIMER_RATE.mask | vmx_misc::STORE_EFER_LMA.mask | vmx_misc::ACTIVITY_HLT.mask |
         vmx_misc::CR3_TARGETS.mask | vmx_misc::MAX_MSR_LIST.mask | vmx_misc::VMWRITE_ANY_FIELD.mask;
}

}  // namespace supported

namespace {

constexpr unsigned idx(uint32_t m) { return m - msr::IA32_VMX_BASIC; }

// allowed-0 as the platform's, allowed-1 cut to what is implemented.
uint64_t restrict_ctls(uint64_t platform, uint32_t implemented) {
  return ctls_make(ctls_allowed0(platform), ctls_allowed1(platform) & implemented);
}

}  // namespace

NestedCapabilities make_nested_capabilities(const rt::vmx::Capabilities& p, bool offer_shadowing,
                                            bool offer_posted_interrupts) {
  NestedCapabilities n{};
  auto set = [&n](uint32_t m, uint64_t v) {
    n.value[idx(m)] = v;
    n.present[idx(m)] = true;
  };
  // BASIC: l1-vmm's revision and 4 KiB regions, write-back, the platform's
  // INS/OUTS information, true controls (SDM A.1).
  set(msr::IA32_VMX_BASIC, vmx_basic::REVISION_ID.make(kVmcs12Revision) | vmx_basic::VMCS_SIZE.make(4096) |
                               vmx_basic::MEMORY_TYPE.make(vmx_basic::MEMORY_TYPE_WB) |
                               (p.basic & vmx_basic::INS_OUTS_INFO.mask) | vmx_basic::TRUE_CTLS.make(1));
  const uint64_t pin = restrict_ctls(p.pinbased, supported::pin(offer_posted_interrupts));
  const uint64_t proc = restrict_ctls(p.procbased, supported::proc());
  const uint64_t exit = restrict_ctls(p.exit, supported::exit());
  const uint64_t entry = restrict_ctls(p.entry, supported::entry());
  set(msr::IA32_VMX_TRUE_PINBASED_CTLS, pin);
  set(msr::IA32_VMX_TRUE_PROCBASED_CTLS, proc);
  set(msr::IA32_VMX_TRUE_EXIT_CTLS, exit);
  set(msr::IA32_VMX_TRUE_ENTRY_CTLS, entry);
  // The legacy MSRs report every default1 bit as allowed-0 (SDM A.2).
  set(msr::IA32_VMX_PINBASED_CTLS, pin | pin_ctl::DEFAULT1);
  set(msr::IA32_VMX_PROCBASED_CTLS, proc | proc_ctl::DEFAULT1);
  set(msr::IA32_VMX_EXIT_CTLS, exit | exit_ctl::DEFAULT1);
  set(msr::IA32_VMX_ENTRY_CTLS, entry | entry_ctl::DEFAULT1);
  set(msr::IA32_VMX_MISC, p.misc & supported::misc_mask());
  set(msr::IA32_VMX_CR0_FIXED0, p.cr0_fixed0);
  set(msr::IA32_VMX_CR0_FIXED1, p.cr0_fixed1);
  set(msr::IA32_VMX_CR4_FIXED0, p.cr4_fixed0);
  set(msr::IA32_VMX_CR4_FIXED1, p.cr4_fixed1);
  set(msr::IA32_VMX_VMCS_ENUM, p.vmcs_enum);
  if (ctls_allowed1(proc) & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) {
    const uint32_t proc2 = ctls_allowed1(p.procbased2) & supported::proc2(offer_shadowing);
    set(msr::IA32_VMX_PROCBASED_CTLS2, ctls_make(0, proc2));
    // The EPT/VPID MSR exists when either can be enabled (SDM A.10).
    if (proc2 & (proc_ctl2::ENABLE_EPT | proc_ctl2::ENABLE_VPID))
      set(msr::IA32_VMX_EPT_VPID_CAP, p.ept_vpid_cap & supported::ept_vpid_cap());
  }
  return n;
}

bool NestedCapabilities::read(uint32_t index, uint64_t& v) const {
  if (index < msr::IA32_VMX_BASIC || index > msr::IA32_VMX_VMFUNC || !present[idx(index)]) return false;
  v = value[idx(index)];
  return true;
}

nestbed::common::vmx::VmxCapabilities NestedCapabilities::for_entry_checks() const {
  nestbed::common::vmx::VmxCapabilities c{};
  c.basic = value[idx(msr::IA32_VMX_BASIC)];
  c.pinbased = pinbased();
  c.procbased = procbased();
  c.procbased2 = procbased2();
  c.exit = exit();
  c.entry = entry();
  c.misc = misc();
  c.cr0_fixed0 = cr0_fixed0();
  c.cr0_fixed1 = cr0_fixed1();
  c.cr4_fixed0 = cr4_fixed0();
  c.cr4_fixed1 = cr4_fixed1();
  c.vmcs_enum = value[idx(msr::IA32_VMX_VMCS_ENUM)];
  c.ept_vpid_cap = ept_vpid_cap();
  c.vmfunc = 0;
  c.pinbased_legacy = value[idx(msr::IA32_VMX_PINBASED_CTLS)];
  c.procbased_legacy = value[idx(msr::IA32_VMX_PROCBASED_CTLS)];
  c.exit_legacy = value[idx(msr::IA32_VMX_EXIT_CTLS)];
  c.entry_legacy = value[idx(msr::IA32_VMX_ENTRY_CTLS)];
  return c;
}

uint64_t NestedCapabilities::pinbased() const { return value[idx(msr::IA32_VMX_TRUE_PINBASED_CTLS)]; }
uint64_t NestedCapabilities::procbased() const { return value[idx(msr::IA32_VMX_TRUE_PROCBASED_CTLS)]; }
uint64_t NestedCapabilities::procbased2() const { return value[idx(msr::IA32_VMX_PROCBASED_CTLS2)]; }
uint64_t NestedCapabilities::exit() const { return value[idx(msr::IA32_VMX_TRUE_EXIT_CTLS)]; }
uint64_t NestedCapabilities::entry() const { return value[idx(msr::IA32_VMX_TRUE_ENTRY_CTLS)]; }
uint64_t NestedCapabilities::misc() const { return value[idx(msr::IA32_VMX_MISC)]; }
uint64_t NestedCapabilities::ept_vpid_cap() const { return value[idx(msr::IA32_VMX_EPT_VPID_CAP)]; }
uint64_t NestedCapabilities::cr0_fixed0() const { return value[idx(msr::IA32_VMX_CR0_FIXED0)]; }
uint64_t NestedCapabilities::cr0_fixed1() const { return value[idx(msr::IA32_VMX_CR0_FIXED1)]; }
uint64_t NestedCapabilities::cr4_fixed0() const { return value[idx(msr::IA32_VMX_CR4_FIXED0)]; }
uint64_t NestedCapabilities::cr4_fixed1() const { return value[idx(msr::IA32_VMX_CR4_FIXED1)]; }

}  // namespace l1::nested
