#include "l1-vmm/vmx/vmcs_config.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/cpuid.h"
#include "l1-vmm/panic.h"
#include "runtime/runtime.h"

namespace l1 {
namespace {

using namespace arch::vmx;

// Which option asked for a control, for the message when it is missing.
struct Want {
  uint32_t required;  // l1-vmm cannot run without them
  uint32_t optional;  // used when offered
  const char* reason;  // why the required ones are required
};

[[noreturn]] void missing_control(ControlWord word, uint32_t missing, const char* reason) {
  const ControlWordInfo& w = control_word_info(word);
  for (unsigned bit = 0; bit < 32; bit++) {
    if (!(missing >> bit & 1)) continue;
    const char* name = control_name(word, bit);
    rt::printf("l1-vmm: the processor cannot set %s.%s (bit %u of %s) (%s)\n", w.name, name ? name : "?", bit,
               w.title, reason);
  }
  fatal(L1_NO_VMX, "the processor's VMX lacks a control l1-vmm needs");
}

// KVM's adjust_vmx_controls: the wanted bits the processor allows, plus the
// ones it forces to 1 (allowed-0 settings, SDM A.3-A.5).
uint32_t adjust_controls(ControlWord word, const Want& want, uint64_t cap) {
  const uint32_t chosen = ctls_adjust(cap, want.required | want.optional);
  if ((chosen & want.required) != want.required) missing_control(word, want.required & ~chosen, want.reason);
  return chosen;
}

void require_vmx_cpuid() {
  const rt::CpuidResult r = rt::cpuid(1);
  if (!(r.ecx & arch::cpuid::L1_ECX_VMX))
    fatal(L1_NO_VMX, "the processor does not report VMX (CPUID.1:ECX.VMX[bit 5] = 0): l1-vmm needs it");
}

// EPT01 is a 4-level, write-back (else uncacheable) structure (SDM 24.6.11).
void require_ept_capabilities(const VmcsConfig& c) {
  if (!vmx_ept_vpid_cap::PAGE_WALK_4.test(c.caps.ept_vpid_cap))
    fatal(L1_NO_VMX, "the processor's EPT has no 4-level page walk (IA32_VMX_EPT_VPID_CAP bit 6)");
  if (!vmx_ept_vpid_cap::MEMTYPE_WB.test(c.caps.ept_vpid_cap) && !vmx_ept_vpid_cap::MEMTYPE_UC.test(c.caps.ept_vpid_cap))
    fatal(L1_NO_VMX, "the processor's EPT allows neither a write-back nor an uncacheable EPTP");
}

void choose_controls(VmcsConfig& c, const Options& opt) {
  // Pin-based: nothing is needed; the options add exits.
  Want pin{0, 0, "an option asks for it"};
  if (opt.exit_intr) pin.required |= pin_ctl::EXTERNAL_INTERRUPT_EXITING;
  if (opt.preempt) pin.required |= pin_ctl::PREEMPTION_TIMER;
  c.pin = adjust_controls(ControlWord::pin_ctl, pin, c.caps.pinbased);

  // Primary: bitmaps decide which I/O ports and MSRs exit (README.md); the
  // secondary controls carry EPT and unrestricted guest.
  Want proc{proc_ctl::USE_IO_BITMAPS | proc_ctl::USE_MSR_BITMAPS | proc_ctl::ACTIVATE_SECONDARY_CONTROLS, 0,
            "l1-vmm's I/O and MSR policies and EPT need it (or an option asks for it)"};
  if (opt.exit_hlt) proc.required |= proc_ctl::HLT_EXITING;
  c.proc = adjust_controls(ControlWord::proc_ctl, proc, c.caps.procbased);

  // Secondary: the guest starts in 32-bit protected mode without paging,
  // which VMX runs only as an unrestricted guest, which needs EPT (SDM
  // 26.2.1.1). RDTSCP and INVPCID: without their controls they would be
  // #UD in the guest although CPUID reports them (SDM 25.3). VPID keeps the
  // guest's TLB across exits.
  Want proc2{proc_ctl2::ENABLE_EPT | proc_ctl2::UNRESTRICTED_GUEST,
             proc_ctl2::ENABLE_RDTSCP | proc_ctl2::ENABLE_INVPCID,
             "the guest starts in 32-bit mode without paging: unrestricted guest with EPT"};
  const bool invvpid_single = vmx_ept_vpid_cap::INVVPID.test(c.caps.ept_vpid_cap) &&
                              vmx_ept_vpid_cap::INVVPID_SINGLE_CONTEXT.test(c.caps.ept_vpid_cap);
  if (opt.vpid && invvpid_single) proc2.optional |= proc_ctl2::ENABLE_VPID;  // KVM, too, wants INVVPID with VPID
  c.proc2 = adjust_controls(ControlWord::proc_ctl2, proc2, c.caps.procbased2);

  // VM exit: 64-bit host; EFER switched both ways (the guest enters long
  // mode on its own); PAT and debug controls kept apart when offered.
  Want exit{exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER,
            exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT | exit_ctl::SAVE_DEBUG_CONTROLS,
            "l1-vmm is a 64-bit host and switches IA32_EFER (or an option asks for it)"};
  if (opt.exit_intr) exit.required |= exit_ctl::ACK_INTERRUPT_ON_EXIT;  // the exit tells the vector
  c.exit = adjust_controls(ControlWord::exit_ctl, exit, c.caps.exit);

  Want entry{entry_ctl::LOAD_EFER, entry_ctl::LOAD_PAT | entry_ctl::LOAD_DEBUG_CONTROLS,
             "the guest's IA32_EFER is loaded at each entry"};
  c.entry = adjust_controls(ControlWord::entry_ctl, entry, c.caps.entry);
  // The guest starts outside IA-32e mode; VM exits keep this bit current.
  c.entry &= ~entry_ctl::IA32E_MODE_GUEST;
  if (opt.exit_intr && !c.can_set_proc(proc_ctl::INTERRUPT_WINDOW_EXITING))
    missing_control(ControlWord::proc_ctl, proc_ctl::INTERRUPT_WINDOW_EXITING,
                    "exit_intr injects an interrupt when the guest's window opens");
}

}  // namespace

uint32_t VmcsConfig::revision() const { return caps.revision(); }
uint32_t VmcsConfig::vmcs_size() const { return uint32_t(vmx_basic::VMCS_SIZE.get(caps.basic)); }
bool VmcsConfig::can_set_proc(uint32_t bit) const { return ctls_allowed1(caps.procbased) & bit; }
bool VmcsConfig::ept_2mb_pages() const { return vmx_ept_vpid_cap::PDE_2MB.test(caps.ept_vpid_cap); }
bool VmcsConfig::vpid() const { return proc2 & proc_ctl2::ENABLE_VPID; }
bool VmcsConfig::ept_write_back() const { return vmx_ept_vpid_cap::MEMTYPE_WB.test(caps.ept_vpid_cap); }
bool VmcsConfig::store_efer_lma() const { return vmx_misc::STORE_EFER_LMA.test(caps.misc); }

VmcsConfig setup_vmcs_config(const Options& opt) {
  require_vmx_cpuid();
  VmcsConfig c{};
  c.caps = rt::vmx::read_capabilities();
  choose_controls(c, opt);
  require_ept_capabilities(c);
  if (opt.exit_hlt && !vmx_misc::ACTIVITY_HLT.test(c.caps.misc))
    fatal(L1_NO_VMX, "exit_hlt needs the HLT activity state (IA32_VMX_MISC bit 6), which the processor lacks");
  return c;
}

void print_vmcs_config(const VmcsConfig& c) {
  rt::printf("l1-vmm: VMX: VMCS revision 0x%x, %s controls; pin 0x%08x proc 0x%08x proc2 0x%08x exit 0x%08x "
             "entry 0x%08x\n", c.revision(), c.caps.true_controls ? "true" : "legacy", c.pin, c.proc, c.proc2, c.exit,
             c.entry);
}

}  // namespace l1
