// Entering level k+2 (KVM's nested_vmx_run, prepare_vmcs02): the checks
// VMLAUNCH/VMRESUME make of vmcs12, then vmcs02 built from vmcs12 and
// l1-vmm's own needs, then the switch to vmcs02. Also the small helpers
// nested/ shares: the guest's CR views and CPL, the VMsucceed/VMfail
// outcomes, the capability setup.
#include "arch/trace_annotations.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "common/vmx/entry_checks.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/nested/ept02_rules.h"
#include "l1-vmm/nested/merge.h"
#include "l1-vmm/nested/nested_ept.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/nested/shadow_vmcs.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/ept.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "l1-vmm/vmx/vcpu.h"
#include "l1-vmm/vmx/vmcs01.h"
#include "runtime/console.h"

namespace l1::nested {
namespace {

using namespace arch::vmx;
using F = VmcsField;
using E = VmInstructionError;
namespace msr = arch::msr;
namespace rflags = arch::rflags;

// vpid02s: the VPIDs level k+2 runs with (l1-vmm's own guest has VPID 1):
// VPID02_BASE + i for the i-th vpid12 l1-vmm tracks, VPID02_NONE for
// vmcs12s without VPID (flushed at every entry, SDM 28.3.3.3).
constexpr uint16_t VPID02_NONE = 2;
constexpr uint16_t VPID02_BASE = 3;

// RFLAGS arithmetic flags a VMX instruction sets or clears (SDM 30.2).
constexpr uint64_t VMX_FLAGS = rflags::STATUS;

void set_flags_and_skip(Vcpu& v, uint64_t set) {
  vmcs_write(F::GUEST_RFLAGS, (vmcs_read(F::GUEST_RFLAGS) & ~VMX_FLAGS) | set);
  skip_emulated_instruction(v);
}

}  // namespace

namespace {

// ---- the checks of VMLAUNCH/VMRESUME on vmcs12 (SDM 26.2-26.3) ----------
// The platform's own rules (common/vmx/entry_checks, the code the sim
// runs), against the capabilities offered to level k+1.

uint64_t read_l1_phys(void*, uint64_t pa, unsigned size) { return guest_memory.read_or_ones(pa, size); }

// The VM-entry checks of vmcs12, those whose fields did not change since
// they passed skipped (common/vmx/entry_check_cache.h; KVM's vmcs12 dirty
// tracking spares its checks the same way).
nestbed::common::vmx::EntryCheckResult check_vmcs12(NestedVmx& n, uint64_t efer01) {
  namespace cv = nestbed::common::vmx;
  cv::EntryCheckContext ctx{n.entry_caps, read_l1_phys, nullptr};
  ctx.vmxon_pointer = n.vmxon_ptr;
  ctx.current_vmcs_pointer = n.current_vmptr();
  ctx.cpu_in_ia32e_mode = efer01 & arch::efer::LMA;  // level k+1's
  // IA32_DEBUGCTL: the bits the platform implements (arch/x86/msr.h: the
  // sim's); the platform's own check of vmcs02 stands behind this one.
  ctx.debugctl_supported = arch::msr::DEBUGCTL_IMPLEMENTED;
  VmcsSlot& slot = *n.cur;
  return slot.entry_checks.check(cv::VmcsView{slot.vmcs12.fields()}, ctx, slot.vmcs12.versions());
}

// ---- vmcs02 --------------------------------------------------------------

// vmcs02's constant part, once: l1-vmm's host state (every exit of level
// k+2 comes to l1-vmm), no MSR lists, no link pointer.
void init_vmcs02(Vcpu& v, NestedVmx& n) {
  n.cur->vmcs02 = mm::alloc_page_or_die("vmcs02");
  *reinterpret_cast<uint32_t*>(n.cur->vmcs02) = v.config.revision();
  if (rt::vmx::vmclear(n.cur->vmcs02) != rt::vmx::Status::Ok) fatal(L1_PANIC, "VMCLEAR of vmcs02 failed");
  vmptrld_or_die(n.cur->vmcs02, "vmcs02");
  // Every VMCS is entered from the same stack pointer (vcpu_run's loop),
  // which enter() writes to HOST_RSP only when it changes: give vmcs02 that
  // value now, since vmcs02 may not be the next VMCS entered (an entry
  // failure returns to level k+1 first). (Found by vmx-fuzz, seed 2.)
  const uint64_t host_rsp = rt::vmx::rt_vmx_host_rsp;
  VmcsField failed{};
  if (rt::vmx::write_host_state(v.config.caps, &failed) != rt::vmx::Status::Ok)
    vmx_ops_error("VMWRITE", uint64_t(failed));
  if (host_rsp) {
    vmcs_write(F::HOST_RSP, host_rsp);
    rt::vmx::rt_vmx_host_rsp = host_rsp;
  }
  vmcs_write(F::VM_EXIT_MSR_STORE_COUNT, 0);
  vmcs_write(F::VM_EXIT_MSR_LOAD_COUNT, 0);
  vmcs_write(F::VM_ENTRY_MSR_LOAD_COUNT, 0);
  vmcs_write(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
  n.cur->linked_shadow = 0;
  n.cur->vmcs02_launched = false;
  // The trace attributes the hardware exits of this VMCS to level k+2.
  nestbed_annotate(arch::trace::AnnotationKind::VMCS_LEVEL, n.cur->vmcs02, v.level + 2, 0, 0);
}

// The platform-physical address of vmcs12's virtual-APIC page, or 0 if it
// is not in level k+1's RAM (l1-vmm maps its own memory 1:1).
uint64_t virtual_apic02(const Vmcs12& c) {
  return reinterpret_cast<uint64_t>(guest_memory.hva(c.get(F::VIRTUAL_APIC_PAGE_ADDR), arch::pte::PAGE_SIZE));
}

// The platform-physical address of vmcs12's posted-interrupt descriptor,
// or 0 if it is not in level k+1's RAM.
uint64_t posted_interrupt_desc02(const Vmcs12& c) {
  return reinterpret_cast<uint64_t>(
      guest_memory.hva(c.get(F::POSTED_INTR_DESC_ADDR), posted_interrupt_desc::SIZE));
}

// The platform-physical page EPT01 maps vmcs12's APIC-access address to,
// or 0 if it maps nothing there.
uint64_t apic_access02(const Vmcs12& c) {
  uint64_t hpa, bits01;
  return ept01_translate(guest_memory, c.get(F::APIC_ACCESS_ADDR), hpa, bits01) ? hpa : 0;
}

// The controls of vmcs02: what vmcs12 asks for, plus what l1-vmm itself
// needs (KVM's prepare_vmcs02_early). I/O and MSR accesses all exit to
// l1-vmm, which consults vmcs12's bitmaps (l1_wants_exit) — KVM's choice
// for I/O, here for MSRs too: no bitmap merging on every entry.
void prepare_vmcs02_controls(Vcpu& v, NestedVmx& n, uint32_t& proc02) {
  const Vmcs12& c = n.cur->vmcs12;
  const VmcsConfig& cfg = v.config;
  const OwnNeeds own{cfg.pin,         cfg.proc,         cfg.exit,       cfg.entry,         cfg.caps.exit,
                     cfg.caps.entry,  v.options.exit_exc, v.options.preempt, cfg.vpid(), v.pending.any()};
  Vmcs02Controls m = merge_controls(c, own);
  // "Use TPR shadow": vmcs02 names the very page vmcs12 does, so VTPR is
  // shared and never copied. A page outside level k+1's RAM is used by no
  // instruction when both CR8 controls exit (KVM drops the control then
  // too); nested_vmx_run_checks refused every other such vmcs12.
  if (m.proc & proc_ctl::USE_TPR_SHADOW) {
    if (const uint64_t page = virtual_apic02(c)) {
      vmcs_write(F::VIRTUAL_APIC_PAGE_ADDR, page);
      vmcs_write(F::TPR_THRESHOLD, c.get(F::TPR_THRESHOLD));
    } else {
      m.proc &= ~proc_ctl::USE_TPR_SHADOW;
    }
  }
  // "Virtualize APIC accesses": the platform compares the final (host)
  // physical address of each access with vmcs02's APIC-access address, so
  // that is the page EPT01 puts behind vmcs12's (its RAM or the local
  // APIC's page); nested_vmx_run_checks refused a vmcs12 whose page has none.
  if (m.proc2 & proc_ctl2::VIRTUALIZE_APIC_ACCESSES) vmcs_write(F::APIC_ACCESS_ADDR, apic_access02(c));
  // "Virtual-interrupt delivery": the platform's, on vmcs12's page, with
  // vmcs12's EOI-exit bitmap (l1-vmm wants no EOI exit of its own) and
  // RVI/SVI, which go back to vmcs12 at every nested exit. Only with the
  // control: a platform without it has no such fields.
  if (m.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY) {
    constexpr F fields[] = {F::EOI_EXIT_BITMAP0, F::EOI_EXIT_BITMAP1, F::EOI_EXIT_BITMAP2, F::EOI_EXIT_BITMAP3,
                            F::GUEST_INTR_STATUS};
    for (F f : fields) vmcs_write(f, c.get(f));
  }
  // "Process posted interrupts": the platform's, with vmcs12's notification
  // vector and descriptor (level k+1's RAM, mapped 1:1). Level k+1 posts and
  // sends the vector through the local APIC, which EPT01 passes through, so
  // it reaches the platform while vmcs02 runs (exit_intr=1 would take it
  // first: the control is not offered then, capabilities.cpp).
  if (m.pin & pin_ctl::POSTED_INTERRUPTS) {
    vmcs_write(F::POSTED_INTR_NV, c.get(F::POSTED_INTR_NV));
    vmcs_write(F::POSTED_INTR_DESC_ADDR, posted_interrupt_desc02(c));
  }
  proc02 = m.proc;
  vmcs_write(F::PIN_BASED_VM_EXEC_CONTROL, m.pin);
  vmcs_write(F::CPU_BASED_VM_EXEC_CONTROL, m.proc);
  // VMCS shadowing stays as shadow_vmcs_on_nested_entry left it.
  vmcs_write(F::SECONDARY_VM_EXEC_CONTROL, m.proc2 | (n.cur->linked_shadow ? proc_ctl2::VMCS_SHADOWING : 0));
  vmcs_write(F::VM_EXIT_CONTROLS, m.exit);
  vmcs_write(F::VM_ENTRY_CONTROLS, m.entry);
  vmcs_write(F::EXCEPTION_BITMAP, m.exception_bitmap);
  vmcs_write(F::PAGE_FAULT_ERROR_CODE_MASK, m.pf_error_code_mask);
  vmcs_write(F::PAGE_FAULT_ERROR_CODE_MATCH, m.pf_error_code_match);
  if (m.timer) vmcs_write(F::VMX_PREEMPTION_TIMER_VALUE, m.timer_value);

  // CR3 targets, TSC offset (l1-vmm's own offset is 0).
  vmcs_write(F::CR3_TARGET_COUNT, c.get(F::CR3_TARGET_COUNT));
  constexpr F targets[] = {F::CR3_TARGET_VALUE0, F::CR3_TARGET_VALUE1, F::CR3_TARGET_VALUE2, F::CR3_TARGET_VALUE3};
  for (unsigned i = 0; i < c.get(F::CR3_TARGET_COUNT) && i < 4; i++) vmcs_write(targets[i], c.get(targets[i]));
  if (c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_TSC_OFFSETTING)) vmcs_write(F::TSC_OFFSET, c.get(F::TSC_OFFSET));

  // EPT: EPT02 when level k+1 uses EPT, else level k+2 shares level k+1's
  // guest-physical space and EPT01 maps it.
  n.cur->eptp02 = m.ept12 ? nested_ept_eptp02(v, c.get(F::EPT_POINTER)) : ept01.eptp();
  vmcs_write(F::EPT_POINTER, n.cur->eptp02);
  if (cfg.vpid()) n.cur->vpid02 = 0;  // written by nested_vpid_on_entry
}

// EPT02's root for vmcs12's EPTP may have moved since vmcs02 was prepared
// (another vmcs12 started EPT02 over): at every nested entry.
void nested_ept_on_entry(Vcpu& v, NestedVmx& n) {
  const Vmcs12& c = n.cur->vmcs12;
  const bool ept12 = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                     c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::ENABLE_EPT);
  if (!ept12) return;
  const uint64_t eptp = nested_ept_eptp02(v, c.get(F::EPT_POINTER));
  if (eptp != n.cur->eptp02) {
    vmcs_write(F::EPT_POINTER, eptp);
    n.cur->eptp02 = eptp;
  }
}

// VPID: each vpid12 gets a vpid02 of its own while l1-vmm tracks it (the
// least recently entered gives its vpid02 up, flushed), so switching
// between vmcs12s flushes nothing; a vmcs12 without VPID runs on
// VPID02_NONE, flushed at every entry (SDM 28.3.3.3). At every nested entry.
uint16_t vpid02_for(NestedVmx& n, uint16_t vpid12) {
  if (vpid12 == 0) {
    rt::vmx::invvpid(invvpid_type::SINGLE_CONTEXT, VPID02_NONE, 0);
    return VPID02_NONE;
  }
  unsigned i = 0;
  for (unsigned k = 0; k < NestedVmx::kVpid02s; k++) {
    if (n.vpid12_of[k] == vpid12) {
      i = k;
      break;
    }
    if (n.vpid12_of[k] == 0 || (n.vpid12_of[i] != 0 && n.vpid02_used[k] < n.vpid02_used[i])) i = k;
  }
  const uint16_t vpid02 = uint16_t(VPID02_BASE + i);
  if (n.vpid12_of[i] != vpid12) {  // a new vpid12 on a vpid02 that held another's translations
    rt::vmx::invvpid(invvpid_type::SINGLE_CONTEXT, vpid02, 0);
    n.vpid12_of[i] = vpid12;
  }
  n.vpid02_used[i] = ++n.clock;
  return vpid02;
}

void nested_vpid_on_entry(Vcpu& v, NestedVmx& n) {
  if (!v.config.vpid()) return;
  const Vmcs12& c = n.cur->vmcs12;
  const bool vpid12_on = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                         c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::ENABLE_VPID);
  const uint16_t vpid02 = vpid02_for(n, vpid12_on ? uint16_t(c.get(F::VIRTUAL_PROCESSOR_ID)) : 0);
  if (vpid02 != n.cur->vpid02) {
    vmcs_write(F::VIRTUAL_PROCESSOR_ID, vpid02);
    n.cur->vpid02 = vpid02;
  }
}

// CR0/CR4 of vmcs02 (KVM's prepare_vmcs02: nested_read_cr0): a bit either
// level owns exits; level k+2 reads vmcs12's read shadow for the bits
// level k+1 owns and its own value for the rest. The register itself is
// vmcs12's guest CR0/CR4 (their fixed bits are the ones offered, the
// platform's, so the platform's checks hold).
void prepare_vmcs02_crs(Vcpu& v, const Vmcs12& c) {
  const MergedCr cr0 = merge_cr(c.get(F::GUEST_CR0), c.get(F::CR0_GUEST_HOST_MASK), c.get(F::CR0_READ_SHADOW),
                                cr0_guest_host_mask(v.config));
  const MergedCr cr4 = merge_cr(c.get(F::GUEST_CR4), c.get(F::CR4_GUEST_HOST_MASK), c.get(F::CR4_READ_SHADOW),
                                cr4_guest_host_mask(v.config));
  vmcs_write(F::CR0_GUEST_HOST_MASK, cr0.mask);
  vmcs_write(F::CR4_GUEST_HOST_MASK, cr4.mask);
  vmcs_write(F::CR0_READ_SHADOW, cr0.shadow);
  vmcs_write(F::CR4_READ_SHADOW, cr4.shadow);
  vmcs_write(F::GUEST_CR0, cr0.value);
  vmcs_write(F::GUEST_CR4, cr4.value);
}

// The guest state of vmcs02 (KVM's prepare_vmcs02_rare and prepare_vmcs02).
// EFER, PAT and the debug registers are switched by vmcs02 in any case:
// loaded from vmcs12 when its entry controls say so, else level k+1's
// values carry over to level k+2, as on hardware (SDM 26.3.2.1).
struct Level1Msrs {
  uint64_t efer, pat, dr7, debugctl;
};

void prepare_vmcs02_msrs(Vcpu& v, const Vmcs12& c, const Level1Msrs& l1) {
  const uint64_t efer01 = l1.efer, pat01 = l1.pat, dr7_01 = l1.dr7, debugctl01 = l1.debugctl;
  const uint32_t entry12 = c.get32(F::VM_ENTRY_CONTROLS);
  uint64_t efer = efer01;
  if (entry12 & entry_ctl::LOAD_EFER) {
    efer = c.get(F::GUEST_IA32_EFER);
  } else {
    // Without "load IA32_EFER", LMA (and LME with paging) follow "IA-32e mode guest".
    const bool ia32e = entry12 & entry_ctl::IA32E_MODE_GUEST;
    efer &= ~(arch::efer::LMA | arch::efer::LME);
    if (ia32e) efer |= arch::efer::LMA | ((c.get(F::GUEST_CR0) & arch::cr0::PG) ? arch::efer::LME : 0);
  }
  vmcs_write(F::GUEST_IA32_EFER, efer);
  if (v.config.entry & entry_ctl::LOAD_PAT)
    vmcs_write(F::GUEST_IA32_PAT, (entry12 & entry_ctl::LOAD_PAT) ? c.get(F::GUEST_IA32_PAT) : pat01);
  const bool load_debug = entry12 & entry_ctl::LOAD_DEBUG_CONTROLS;
  vmcs_write(F::GUEST_DR7, load_debug ? c.get(F::GUEST_DR7) : dr7_01);
  vmcs_write(F::GUEST_IA32_DEBUGCTL, load_debug ? c.get(F::GUEST_IA32_DEBUGCTL) : debugctl01);
}

// Which part of vmcs02 a vmcs12 field feeds, so that VMRESUME rewrites
// only what the guest hypervisor changed since the last entry (KVM keeps
// the same distinction with its "dirty" vmcs12 tracking): a guest-state
// field copied as it is, or a group recomputed as a whole.
enum Group : uint8_t { NONE = 0, DIRECT = 1, CONTROLS = 2, CRS = 4, MSRS = 8 };

struct GroupTable {
  uint8_t group[kVmcsFieldCount];
};

constexpr F ENTRY_EVENT_FIELDS[] = {F::VM_ENTRY_INTR_INFO_FIELD, F::VM_ENTRY_EXCEPTION_ERROR_CODE,
                                    F::VM_ENTRY_INSTRUCTION_LEN};
constexpr F CONTROL_FIELDS[] = {
    F::PIN_BASED_VM_EXEC_CONTROL, F::CPU_BASED_VM_EXEC_CONTROL, F::SECONDARY_VM_EXEC_CONTROL, F::VM_EXIT_CONTROLS,
    F::EXCEPTION_BITMAP, F::PAGE_FAULT_ERROR_CODE_MASK, F::PAGE_FAULT_ERROR_CODE_MATCH, F::CR3_TARGET_COUNT,
    F::CR3_TARGET_VALUE0, F::CR3_TARGET_VALUE1, F::CR3_TARGET_VALUE2, F::CR3_TARGET_VALUE3, F::TSC_OFFSET,
    F::VMX_PREEMPTION_TIMER_VALUE, F::EPT_POINTER, F::VIRTUAL_PROCESSOR_ID, F::VIRTUAL_APIC_PAGE_ADDR,
    F::TPR_THRESHOLD, F::APIC_ACCESS_ADDR, F::EOI_EXIT_BITMAP0, F::EOI_EXIT_BITMAP1, F::EOI_EXIT_BITMAP2,
    F::EOI_EXIT_BITMAP3, F::GUEST_INTR_STATUS, F::POSTED_INTR_NV, F::POSTED_INTR_DESC_ADDR};
constexpr F CR_FIELDS[] = {F::GUEST_CR0,           F::GUEST_CR4,       F::CR0_GUEST_HOST_MASK,
                           F::CR4_GUEST_HOST_MASK, F::CR0_READ_SHADOW, F::CR4_READ_SHADOW};
constexpr F MSR_FIELDS[] = {F::GUEST_IA32_EFER, F::GUEST_IA32_PAT, F::GUEST_DR7, F::GUEST_IA32_DEBUGCTL};

constexpr GroupTable make_group_table() {
  GroupTable t{};
  auto on = [&t](F f, uint8_t g) { t.group[vmcs_field_slot(f)] |= g; };
  for (F f : kGuestStateCopied) on(f, DIRECT);
  for (F f : ENTRY_EVENT_FIELDS) on(f, DIRECT);
  for (F f : CONTROL_FIELDS) on(f, CONTROLS);
  // The entry controls decide both the controls and what EFER/PAT/DR7 load.
  on(F::VM_ENTRY_CONTROLS, CONTROLS | MSRS);
  for (F f : CR_FIELDS) on(f, CRS);
  for (F f : MSR_FIELDS) on(f, MSRS);
  on(F::GUEST_CR0, MSRS);  // EFER.LME follows CR0.PG without "load IA32_EFER"
  return t;
}
constexpr GroupTable kGroups = make_group_table();

// vmcs02 from vmcs12 (KVM's prepare_vmcs02): everything after VMLAUNCH or
// a switch of vmcs12, else only the groups the guest hypervisor's VMWRITEs
// touched. vmcs02 is current.
void prepare_vmcs02(Vcpu& v, NestedVmx& n, bool full, const Level1Msrs& l1) {
  const Vmcs12& c = n.cur->vmcs12;
  uint8_t groups = full ? uint8_t(DIRECT | CONTROLS | CRS | MSRS) : uint8_t(NONE);
  if (full) {
    for (F f : kGuestStateCopied) vmcs_write(f, c.get(f));
    for (F f : ENTRY_EVENT_FIELDS) vmcs_write(f, c.get(f));
  } else {
    c.for_each_dirty([&](unsigned slot) {
      const uint8_t g = kGroups.group[slot];
      if (g & DIRECT) vmcs_write(VmcsField(kVmcsFieldEncodings[slot]), c.fields()[slot]);
      groups |= g;
    });
  }
  if (groups & CONTROLS) prepare_vmcs02_controls(v, n, n.cur->proc02);
  if (groups & CRS) prepare_vmcs02_crs(v, c);
  if (groups & MSRS) prepare_vmcs02_msrs(v, c, l1);
  n.cur->vmcs12.clear_dirty();
  // The trace: this vmcs02 runs what the guest hypervisor's vmcs12 runs
  // (its own VMCS_LEVEL says which level; a slot can change vmcs12).
  if (full) nestbed_annotate(arch::trace::AnnotationKind::VMCS_NESTED, n.cur->vmcs02, n.cur->vmptr, v.level, 0);
  n.cur->vmcs02_prepared = true;
}

// The VM-entry MSR-load list of vmcs12 (SDM 26.4), performed by l1-vmm
// after vmcs02's guest state is loaded (vmcs02 current): an MSR vmcs02
// switches goes into vmcs02's field, any other is level k+2's and the
// platform's (l1-vmm passes MSRs through). 0, or the 1-based index of the
// entry that failed (the exit qualification of an MSR-loading failure).
uint32_t load_entry_msrs(Vcpu& v, const Vmcs12& c) {
  const uint64_t count = c.get(F::VM_ENTRY_MSR_LOAD_COUNT), base = c.get(F::VM_ENTRY_MSR_LOAD_ADDR);
  for (uint64_t i = 0; i < count; i++) {
    const auto* e = static_cast<const uint32_t*>(guest_memory.hva(base + i * 16, 16));
    // The entry: index (bits 31:0), reserved (63:32), data (127:64). Not
    // every MSR may be loaded this way (SDM 26.4): FS/GS base, the x2APIC
    // range, SMM monitor control.
    if (!e || e[1] != 0) return uint32_t(i + 1);
    const uint32_t index = e[0];
    const uint64_t value = uint64_t(e[2]) | uint64_t(e[3]) << 32;
    if (index == msr::IA32_FS_BASE || index == msr::IA32_GS_BASE || (index >> 8) == 0x8) return uint32_t(i + 1);
    VmcsField field;
    const bool ok = vmcs_switched_msr(v, index, field) ? write_switched_msr(index, field, value)
                                                       : wrmsr_safe(index, value);
    if (!ok) return uint32_t(i + 1);
  }
  return 0;
}

}  // namespace

// ---- shared helpers -------------------------------------------------------

void vmptrld_or_die(uint64_t pa, const char* what) {
  const rt::vmx::Status s = rt::vmx::vmptrld(pa);
  if (s != rt::vmx::Status::Ok) fatal(L1_PANIC, "VMPTRLD of %s failed: %s", what, rt::vmx::status_name(s));
}

bool nested_l2_cr0_allowed(const Vcpu& v, uint64_t value) {
  const Vmcs12& c = v.nested.cur->vmcs12;
  const uint64_t mask = c.get(F::CR0_GUEST_HOST_MASK);
  const uint64_t real = (value & ~mask) | (vmcs_read(F::GUEST_CR0) & mask);
  uint64_t fixed0 = v.nested.caps.cr0_fixed0();
  const bool unrestricted = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                            c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::UNRESTRICTED_GUEST);
  if (unrestricted) fixed0 &= ~(arch::cr0::PE | arch::cr0::PG);
  return cr_fixed_valid(real, fixed0, v.nested.caps.cr0_fixed1());
}

bool nested_l2_cr4_allowed(const Vcpu& v, uint64_t value) {
  const uint64_t mask = v.nested.cur->vmcs12.get(F::CR4_GUEST_HOST_MASK);
  const uint64_t real = (value & ~mask) | (vmcs_read(F::GUEST_CR4) & mask);
  return cr_fixed_valid(real, v.nested.caps.cr4_fixed0(), v.nested.caps.cr4_fixed1());
}

void nested_vmcall_in_root(Vcpu& v) {
  if (guest_cpl() > 0) return inject_exception(v, uint8_t(arch::Vector::GP), 0);
  nested_vmx_fail(v, E::VMCALL_IN_VMX_ROOT);
}

void nested_vmx_succeed(Vcpu& v) { set_flags_and_skip(v, 0); }
void nested_vmx_fail_invalid(Vcpu& v) { set_flags_and_skip(v, rflags::CF); }
void nested_vmx_fail(Vcpu& v, VmInstructionError error) {
  NestedVmx& n = v.nested;
  if (!n.cur) return nested_vmx_fail_invalid(v);
  n.cur->vmcs12.set(F::VM_INSTRUCTION_ERROR, uint32_t(error));
  set_flags_and_skip(v, rflags::ZF);
}

// A slot's vmcs12 back into the guest's memory; the slot is free after.
void write_back_slot(Vcpu& v, VmcsSlot& s) {
  if (s.vmptr == VMCS_POINTER_NONE) return;
  shadow_vmcs_sync_slot(v, s);
  if (auto* region = static_cast<uint8_t*>(guest_memory.hva(s.vmptr, vmcs12_layout::SIZE))) s.vmcs12.store(region);
  s.vmptr = VMCS_POINTER_NONE;
  s.vmcs02_prepared = false;
  s.mirror_valid = false;
}

void nested_release_vmcs12(Vcpu& v) {
  NestedVmx& n = v.nested;
  if (!n.cur) return;
  shadow_vmcs_deactivate(v);
  write_back_slot(v, *n.cur);
  n.cur = nullptr;
}

void nested_forget_vmcs12(Vcpu& v, uint64_t vmptr) {
  NestedVmx& n = v.nested;
  for (VmcsSlot& s : n.slots)
    if (s.vmptr == vmptr) {
      if (&s == n.cur) return nested_release_vmcs12(v);
      write_back_slot(v, s);
    }
}

void nested_release_all_vmcs12(Vcpu& v) {
  nested_release_vmcs12(v);
  for (VmcsSlot& s : v.nested.slots) write_back_slot(v, s);
}

bool nested_make_current(Vcpu& v, uint64_t vmptr, const uint8_t* region, bool is_shadow) {
  NestedVmx& n = v.nested;
  if (n.cur && n.cur->vmptr == vmptr) return false;
  if (n.cur) shadow_vmcs_deactivate(v);  // parked: its vmcs12, vmcs02 and shadow VMCS stay as they are
  VmcsSlot* slot = nullptr;
  for (VmcsSlot& s : n.slots)
    if (s.vmptr == vmptr) slot = &s;
  if (!slot) {
    // The least recently used slot (a free one first) takes the new vmcs12
    // from the guest's memory; what it held goes back there.
    slot = &n.slots[0];
    for (VmcsSlot& s : n.slots)
      if (s.vmptr == VMCS_POINTER_NONE || (slot->vmptr != VMCS_POINTER_NONE && s.last_used < slot->last_used))
        slot = &s;
    write_back_slot(v, *slot);
    slot->vmcs12.load(region);
    slot->vmptr = vmptr;
    slot->is_shadow = is_shadow;
  }
  slot->last_used = ++n.clock;
  n.cur = slot;
  shadow_vmcs_activate(v);
  return true;
}


void nested_flush_vpid02(Vcpu& v, uint16_t vpid12) {
  if (!v.config.vpid()) return;
  const NestedVmx& n = v.nested;
  for (unsigned i = 0; i < NestedVmx::kVpid02s; i++)
    if (n.vpid12_of[i] && (vpid12 == 0 || n.vpid12_of[i] == vpid12))
      rt::vmx::invvpid(invvpid_type::SINGLE_CONTEXT, uint16_t(VPID02_BASE + i), 0);
}

void nested_vmx_setup(Vcpu& v) {
  NestedVmx& n = v.nested;
  n = NestedVmx{};
  // Nested VMX runs level k+2 on EPT (EPT01 or EPT02) with the platform's
  // unrestricted guest when vmcs12 asks for it: both are l1-vmm's own
  // requirements already (vmcs_config.cpp).
  n.enabled = v.options.nested;
  if (!n.enabled) return;
  n.caps = make_nested_capabilities(v.config.caps, v.options.shadow_vmcs, !v.options.exit_intr);
  n.entry_caps = n.caps.for_entry_checks();
}

void print_nested_capabilities(const Vcpu& v) {
  if (!v.nested.enabled) {
    rt::printf("l1-vmm: nested VMX off (nested=0): VMX hidden from the guest\n");
    return;
  }
  for (uint32_t index = msr::IA32_VMX_BASIC; index <= msr::IA32_VMX_VMFUNC; index++) {
    uint64_t value;
    const char* name = msr::name(index);
    if (v.nested.caps.read(index, value)) rt::printf("l1-vmm: offered %s = 0x%016lx\n", name ? name : "?", value);
  }
}

uint64_t nested_feature_control(const Vcpu& v) {
  // Locked, VMX outside SMX enabled (as firmware leaves a VMX machine), or
  // locked with VMX off when VMX is hidden (SDM 23.7).
  return msr::FEATURE_CONTROL_LOCK | (v.nested.enabled ? msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX : 0);
}

bool nested_cr0_valid_in_vmx(const Vcpu& v, uint64_t cr0) {
  return cr_fixed_valid(cr0, v.nested.caps.cr0_fixed0(), v.nested.caps.cr0_fixed1());
}
bool nested_cr4_valid_in_vmx(const Vcpu& v, uint64_t cr4) {
  return cr_fixed_valid(cr4, v.nested.caps.cr4_fixed0(), v.nested.caps.cr4_fixed1());
}

bool nested_wants_interrupt_window(const Vcpu& v) {
  return v.nested.guest_mode &&
         v.nested.cur->vmcs12.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::INTERRUPT_WINDOW_EXITING);
}

// ---- nested_vmx_run ---------------------------------------------------------

// A VM entry of vmcs12 that fails after the checks of 26.2 (SDM 26.8): a
// VM exit to level k+1 with the exit reason's bit 31 set, nothing of level
// k+2's state saved, level k+1's host state loaded.
void nested_vmx_entry_failure_exit(Vcpu& v, ExitReason reason, uint64_t qualification) {
  NestedVmx& n = v.nested;
  if (!n.guest_mode) {
    // Failed before vmcs02 was entered or prepared: make it current, as
    // nested_vmx_vmexit leaves guest mode from vmcs02.
    n.proc_ctl01 = v.proc_ctl;
    v.proc_ctl = n.cur->proc02;
    if (!n.cur->vmcs02) init_vmcs02(v, n);
    else vmptrld_or_die(n.cur->vmcs02, "vmcs02");
    n.guest_mode = true;
  }
  n.cur->vmcs02_prepared = false;  // vmcs02 is rebuilt at the next entry
  Vmcs12& c = n.cur->vmcs12;
  c.set(F::VM_EXIT_INTR_INFO, 0);
  c.set(F::IDT_VECTORING_INFO_FIELD, 0);
  nested_vmx_vmexit(v, entry_failure_reason(reason), qualification, true);
}

// Level k+1's state that VMLAUNCH/VMRESUME reads from vmcs01: the
// interrupt shadow, the state level k+2 may inherit, and CR3.
struct Level1State {
  uint32_t interruptibility;
  Level1Msrs msrs;
  uint64_t cr3;
};

Level1State read_level1_state(const Vcpu& v) {
  Level1State s{};
  s.interruptibility = vmcs_read32(F::GUEST_INTERRUPTIBILITY_INFO);
  s.msrs.efer = vmcs_read(F::GUEST_IA32_EFER);
  s.msrs.pat = (v.config.entry & entry_ctl::LOAD_PAT) ? vmcs_read(F::GUEST_IA32_PAT) : 0;
  s.msrs.dr7 = vmcs_read(F::GUEST_DR7);
  s.msrs.debugctl = vmcs_read(F::GUEST_IA32_DEBUGCTL);
  s.cr3 = vmcs_read(F::GUEST_CR3);
  return s;
}

// VMLAUNCH/VMRESUME's checks (SDM 30.3, 26.2-26.3) and their failures; the
// entry itself is nested_vmx_run's. vmcs01 is current unless `shadow` (the
// shadow VMCS is: the caller's VMWRITE copy left it so).
// vmcs12 uses the TPR shadow, an instruction may reach its page (MOV CR8,
// or any control of APIC virtualization), and the page is not in level
// k+1's RAM.
bool tpr_shadow_unbacked(const Vmcs12& c) {
  constexpr uint32_t both_cr8_exit = proc_ctl::CR8_LOAD_EXITING | proc_ctl::CR8_STORE_EXITING;
  constexpr uint32_t page_users = proc_ctl2::VIRTUALIZE_APIC_ACCESSES | proc_ctl2::VIRTUALIZE_X2APIC_MODE |
                                  proc_ctl2::APIC_REGISTER_VIRTUALIZATION | proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY;
  const uint32_t proc12 = c.get32(F::CPU_BASED_VM_EXEC_CONTROL);
  const bool used = (proc12 & both_cr8_exit) != both_cr8_exit ||
                    ((proc12 & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) && (c.get32(F::SECONDARY_VM_EXEC_CONTROL) & page_users));
  return (proc12 & proc_ctl::USE_TPR_SHADOW) && used && !virtual_apic02(c);
}

// vmcs12 processes posted interrupts with a descriptor outside level k+1's RAM.
bool posted_interrupt_desc_unbacked(const Vmcs12& c) {
  return c.test(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::POSTED_INTERRUPTS) && !posted_interrupt_desc02(c);
}

// vmcs12 virtualizes APIC accesses to a page EPT01 maps nothing to.
bool apic_access_unbacked(const Vmcs12& c) {
  return c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
         c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VIRTUALIZE_APIC_ACCESSES) && !apic_access02(c);
}

bool nested_vmx_run_checks(Vcpu& v, bool launch, const Level1State& l1, bool shadow) {
  NestedVmx& n = v.nested;
  auto back_to_vmcs01 = [&] {
    if (shadow) vmptrld_or_die(v.vmcs01, "vmcs01");
  };
  // No current VMCS, or a shadow VMCS current: VMfailInvalid (SDM 30.3).
  if (!n.cur || n.cur->is_shadow) return back_to_vmcs01(), nested_vmx_fail_invalid(v), false;
  // SDM 30.3 VMLAUNCH/VMRESUME, in the pseudocode's order.
  if (l1.interruptibility & interruptibility::BLOCKING_BY_MOV_SS.mask)
    return back_to_vmcs01(), nested_vmx_fail(v, E::ENTRY_EVENTS_BLOCKED_BY_MOV_SS), false;
  if (launch && n.cur->vmcs12.launched) return back_to_vmcs01(), nested_vmx_fail(v, E::VMLAUNCH_NONCLEAR_VMCS), false;
  if (!launch && !n.cur->vmcs12.launched)
    return back_to_vmcs01(), nested_vmx_fail(v, E::VMRESUME_NONLAUNCHED_VMCS), false;
  using nestbed::common::vmx::EntryFailure;
  const nestbed::common::vmx::EntryCheckResult check = check_vmcs12(n, l1.msrs.efer);
  if (check.failure == EntryFailure::None && !tpr_shadow_unbacked(n.cur->vmcs12) &&
      !apic_access_unbacked(n.cur->vmcs12) && !posted_interrupt_desc_unbacked(n.cur->vmcs12))
    return true;
  // A TPR shadow outside level k+1's RAM that an instruction could use, an
  // APIC-access page EPT01 maps nothing to, or a posted-interrupt
  // descriptor outside RAM: l1-vmm cannot point vmcs02 at it and fails the
  // entry as KVM does (VMfailValid 7).
  if (check.failure == EntryFailure::None)
    return back_to_vmcs01(), nested_vmx_fail(v, E::ENTRY_INVALID_CONTROL_FIELD), false;
  back_to_vmcs01();
  if (check.failure == EntryFailure::Control) nested_vmx_fail(v, E::ENTRY_INVALID_CONTROL_FIELD);
  else if (check.failure == EntryFailure::HostState) nested_vmx_fail(v, E::ENTRY_INVALID_HOST_STATE_FIELD);
  // Guest state: the entry fails with exit reason 33 and the check's
  // qualification, level k+1's host state loaded (SDM 26.8).
  else nested_vmx_entry_failure_exit(v, ExitReason::INVALID_GUEST_STATE, check.qualification);
  return false;
}

void nested_vmx_run(Vcpu& v, bool launch) {
  NestedVmx& n = v.nested;
  // vmcs01 first, then the guest hypervisor's shadowed VMWRITEs into
  // vmcs12, then vmcs02: each VMPTRLD is an exit when l1-vmm runs nested.
  const Level1State l1 = read_level1_state(v);
  const bool shadow = copy_shadow_to_vmcs12(v, /*keep_shadow_current=*/true);
  if (!nested_vmx_run_checks(v, launch, l1, shadow)) return;

  const bool full = launch || !n.cur->vmcs02_prepared;
  n.l1_cr3 = l1.cr3;
  n.proc_ctl01 = v.proc_ctl;
  if (!n.cur->vmcs02) init_vmcs02(v, n);
  else vmptrld_or_die(n.cur->vmcs02, "vmcs02");
  prepare_vmcs02(v, n, full, l1.msrs);
  shadow_vmcs_on_nested_entry(v);
  nested_ept_on_entry(v, n);
  nested_vpid_on_entry(v, n);
  v.proc_ctl = n.cur->proc02;
  n.guest_mode = true;
  // The MSR-load list comes after the guest-state checks and the loading of
  // guest state (SDM 26.3, 26.4); a list that fails is the entry failure it
  // is (SDM 26.8): exit reason 34, level k+1's host state, nothing saved.
  if (const uint32_t failed = load_entry_msrs(v, n.cur->vmcs12))
    nested_vmx_entry_failure_exit(v, ExitReason::MSR_LOAD_FAIL, failed);
}

void nested_vmx_entry_failed(Vcpu& v, rt::vmx::EnterResult result) {
  NestedVmx& n = v.nested;
  const uint32_t error = result == rt::vmx::EnterResult::FailValid ? rt::vmx::instruction_error() : 0;
  n.cur->vmcs02_prepared = false;  // rebuild vmcs02 at the next entry
  vmptrld_or_die(v.vmcs01, "vmcs01");
  n.guest_mode = false;
  v.proc_ctl = n.proc_ctl01;
  // vmcs02 held what vmcs12 asked for: a control or host-state value the
  // checks above let through and the platform refused.
  if (result == rt::vmx::EnterResult::FailValid && (error == uint32_t(E::ENTRY_INVALID_CONTROL_FIELD) ||
                                                    error == uint32_t(E::ENTRY_INVALID_HOST_STATE_FIELD)))
    return nested_vmx_fail(v, VmInstructionError(error));
  fatal(L1_PANIC, "VM entry of vmcs02 failed: %s, VM-instruction error %u", rt::vmx::enter_result_name(result), error);
}

}  // namespace l1::nested
