#include "l0/sim/vmx/capabilities.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"

namespace nestbed::sim::vmx {

using namespace arch::vmx;

namespace {

VmxCapabilities make_capabilities() {
  VmxCapabilities c{};
  c.basic = vmx_basic::REVISION_ID.make(kVmcsRevision) | vmx_basic::VMCS_SIZE.make(4096) |
            vmx_basic::MEMORY_TYPE.make(vmx_basic::MEMORY_TYPE_WB) | vmx_basic::INS_OUTS_INFO.make(1) |
            vmx_basic::TRUE_CTLS.make(1);

  // Pin-based (SDM 24.6.1). There are no NMI sources on this platform, so
  // NMI exiting and virtual NMIs are modeled trivially exact. Posted
  // interrupts: the notification vector reaches the CPU from its own local
  // APIC (a self-IPI; there is one CPU).
  const uint32_t pin1 = pin_ctl::DEFAULT1 | pin_ctl::EXTERNAL_INTERRUPT_EXITING | pin_ctl::NMI_EXITING |
                        pin_ctl::VIRTUAL_NMIS | pin_ctl::PREEMPTION_TIMER | pin_ctl::POSTED_INTERRUPTS;
  // As on Intel hardware, the default1 pin-based bits stay 1 even in the true MSR.
  c.pinbased = ctls_make(pin_ctl::DEFAULT1, pin1);

  // MONITOR/MWAIT exiting are not offered: the CPU does not implement those
  // instructions (CPUID.1:ECX.MONITOR = 0), so they raise #UD, which has
  // priority over VM exits (SDM 25.1.1).
  const uint32_t proc1 =
      proc_ctl::DEFAULT1 | proc_ctl::INTERRUPT_WINDOW_EXITING | proc_ctl::USE_TSC_OFFSETTING | proc_ctl::HLT_EXITING |
      proc_ctl::INVLPG_EXITING | proc_ctl::RDPMC_EXITING | proc_ctl::RDTSC_EXITING |
      proc_ctl::CR3_LOAD_EXITING | proc_ctl::CR3_STORE_EXITING | proc_ctl::CR8_LOAD_EXITING |
      proc_ctl::CR8_STORE_EXITING | proc_ctl::NMI_WINDOW_EXITING | proc_ctl::MOV_DR_EXITING |
      proc_ctl::UNCONDITIONAL_IO_EXITING | proc_ctl::USE_IO_BITMAPS | proc_ctl::MONITOR_TRAP_FLAG |
      proc_ctl::USE_MSR_BITMAPS | proc_ctl::PAUSE_EXITING | proc_ctl::USE_TPR_SHADOW |
      proc_ctl::ACTIVATE_SECONDARY_CONTROLS;
  // True controls: CR3-load/store exiting may be 0 (SDM A.3.2).
  c.procbased = ctls_make(proc_ctl::DEFAULT1 & ~(proc_ctl::CR3_LOAD_EXITING | proc_ctl::CR3_STORE_EXITING), proc1);

  const uint32_t proc2 = proc_ctl2::ENABLE_EPT | proc_ctl2::DESCRIPTOR_TABLE_EXITING | proc_ctl2::ENABLE_RDTSCP |
                         proc_ctl2::ENABLE_VPID | proc_ctl2::WBINVD_EXITING | proc_ctl2::UNRESTRICTED_GUEST |
                         proc_ctl2::VMCS_SHADOWING | proc_ctl2::ENABLE_PML | proc_ctl2::VIRTUALIZE_APIC_ACCESSES |
                         proc_ctl2::VIRTUALIZE_X2APIC_MODE | proc_ctl2::APIC_REGISTER_VIRTUALIZATION |
                         proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY | proc_ctl2::ENABLE_INVPCID;
  c.procbased2 = ctls_make(0, proc2);

  const uint32_t exit1 = exit_ctl::DEFAULT1 | exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::ACK_INTERRUPT_ON_EXIT |
                         exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT | exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER |
                         exit_ctl::SAVE_PREEMPTION_TIMER;
  // True controls: "save debug controls" may be 0 (SDM A.4).
  c.exit = ctls_make(exit_ctl::DEFAULT1 & ~exit_ctl::SAVE_DEBUG_CONTROLS, exit1);

  const uint32_t entry1 = entry_ctl::DEFAULT1 | entry_ctl::IA32E_MODE_GUEST | entry_ctl::LOAD_PAT | entry_ctl::LOAD_EFER;
  c.entry = ctls_make(entry_ctl::DEFAULT1 & ~entry_ctl::LOAD_DEBUG_CONTROLS, entry1);

  c.pinbased_legacy = ctls_make(pin_ctl::DEFAULT1, pin1);
  c.procbased_legacy = ctls_make(proc_ctl::DEFAULT1, proc1);
  c.exit_legacy = ctls_make(exit_ctl::DEFAULT1, exit1);
  c.entry_legacy = ctls_make(entry_ctl::DEFAULT1, entry1);

  c.misc = vmx_misc::PREEMPTION_TIMER_RATE.make(kPreemptionTimerRate) | vmx_misc::STORE_EFER_LMA.make(1) |
           vmx_misc::ACTIVITY_HLT.make(1) | vmx_misc::CR3_TARGETS.make(kCr3TargetCount) |
           vmx_misc::MAX_MSR_LIST.make(0) | vmx_misc::VMWRITE_ANY_FIELD.make(1);

  // CR0: PE, NE and PG must be 1 in VMX operation (SDM A.7); with
  // unrestricted guest, a guest's PE and PG are exempt (SDM 26.3.1.1).
  using namespace arch;
  c.cr0_fixed0 = cr0::PE | cr0::NE | cr0::PG;
  c.cr0_fixed1 = cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::ET | cr0::NE | cr0::WP | cr0::AM | cr0::NW |
                 cr0::CD | cr0::PG;
  c.cr4_fixed0 = cr4::VMXE;
  c.cr4_fixed1 = cr4::DE | cr4::PSE | cr4::PAE | cr4::MCE | cr4::PGE | cr4::PCE | cr4::OSFXSR | cr4::OSXMMEXCPT |
                 cr4::TSD | cr4::VMXE | cr4::UMIP | cr4::PCIDE | cr4::OSXSAVE;
  c.vmcs_enum = vmx_vmcs_enum::MAX_INDEX.make(kVmcsMaxIndex);

  c.ept_vpid_cap = vmx_ept_vpid_cap::EXECUTE_ONLY.make(1) | vmx_ept_vpid_cap::PAGE_WALK_4.make(1) |
                   vmx_ept_vpid_cap::MEMTYPE_UC.make(1) | vmx_ept_vpid_cap::MEMTYPE_WB.make(1) |
                   vmx_ept_vpid_cap::PDE_2MB.make(1) | vmx_ept_vpid_cap::PDPTE_1GB.make(1) |
                   vmx_ept_vpid_cap::INVEPT.make(1) | vmx_ept_vpid_cap::ACCESSED_DIRTY.make(1) |
                   vmx_ept_vpid_cap::INVEPT_SINGLE_CONTEXT.make(1) | vmx_ept_vpid_cap::INVEPT_ALL_CONTEXT.make(1) |
                   vmx_ept_vpid_cap::INVVPID.make(1) | vmx_ept_vpid_cap::INVVPID_INDIVIDUAL_ADDRESS.make(1) |
                   vmx_ept_vpid_cap::INVVPID_SINGLE_CONTEXT.make(1) | vmx_ept_vpid_cap::INVVPID_ALL_CONTEXT.make(1) |
                   vmx_ept_vpid_cap::INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS.make(1);
  c.vmfunc = 0;
  return c;
}

}  // namespace

const VmxCapabilities& sim_vmx_capabilities() {
  static const VmxCapabilities caps = make_capabilities();
  return caps;
}

bool read_vmx_capability_msr(uint32_t index, uint64_t& v) {
  const VmxCapabilities& c = sim_vmx_capabilities();
  namespace msr = arch::msr;
  switch (index) {
    case msr::IA32_VMX_BASIC: v = c.basic; return true;
    case msr::IA32_VMX_PINBASED_CTLS: v = c.pinbased_legacy; return true;
    case msr::IA32_VMX_PROCBASED_CTLS: v = c.procbased_legacy; return true;
    case msr::IA32_VMX_EXIT_CTLS: v = c.exit_legacy; return true;
    case msr::IA32_VMX_ENTRY_CTLS: v = c.entry_legacy; return true;
    case msr::IA32_VMX_MISC: v = c.misc; return true;
    case msr::IA32_VMX_CR0_FIXED0: v = c.cr0_fixed0; return true;
    case msr::IA32_VMX_CR0_FIXED1: v = c.cr0_fixed1; return true;
    case msr::IA32_VMX_CR4_FIXED0: v = c.cr4_fixed0; return true;
    case msr::IA32_VMX_CR4_FIXED1: v = c.cr4_fixed1; return true;
    case msr::IA32_VMX_VMCS_ENUM: v = c.vmcs_enum; return true;
    case msr::IA32_VMX_PROCBASED_CTLS2: v = c.procbased2; return true;
    case msr::IA32_VMX_EPT_VPID_CAP: v = c.ept_vpid_cap; return true;
    case msr::IA32_VMX_TRUE_PINBASED_CTLS: v = c.pinbased; return true;
    case msr::IA32_VMX_TRUE_PROCBASED_CTLS: v = c.procbased; return true;
    case msr::IA32_VMX_TRUE_EXIT_CTLS: v = c.exit; return true;
    case msr::IA32_VMX_TRUE_ENTRY_CTLS: v = c.entry; return true;
    case msr::IA32_VMX_VMFUNC: return false;  // VM functions are not offered (procbased2 bit 13 is 0)
    default: return false;
  }
}

}  // namespace nestbed::sim::vmx
