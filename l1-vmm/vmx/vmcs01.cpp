#include "l1-vmm/vmx/vmcs01.h"

#include "arch/trace_annotations.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "l1-vmm/devices/io_ports.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/ept.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/vmx.h"
#include "runtime/x86.h"

namespace l1 {
namespace {

using namespace arch::vmx;
using F = VmcsField;
namespace ar = arch::seg::ar;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;

constexpr uint64_t UNRESTRICTED_CR0_BITS = cr0::PE | cr0::PG;  // not fixed for an unrestricted guest
constexpr uint16_t GUEST_VPID = 1;  // VPID 0 is the host's (SDM 28.1)
// IA32_PAT's power-on value (SDM 11.12.4): WB, WT, UC-, UC twice.
constexpr uint64_t PAT_POWER_ON = 0x0007040600070406ull;
constexpr uint64_t DR7_INIT = 0x400;

void enable_feature_control() {
  namespace msr = arch::msr;
  const uint64_t fc = rt::rdmsr(msr::IA32_FEATURE_CONTROL);
  if (!(fc & msr::FEATURE_CONTROL_LOCK)) {
    rt::wrmsr(msr::IA32_FEATURE_CONTROL, fc | msr::FEATURE_CONTROL_LOCK | msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX);
  } else if (!(fc & msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
    fatal(L1_NO_VMX, "IA32_FEATURE_CONTROL is locked with VMX outside SMX disabled (0x%lx)", fc);
  }
}

// The guest's segment registers as Multiboot leaves them (and as l0 sets
// them: l0/sim/cpu/cpu.cpp reset_to_multiboot): flat 4 GiB 32-bit code at
// 0x08, data at 0x10; a present LDT and busy TSS of limit 0xffff.
struct SegmentInit {
  uint16_t sel;
  uint32_t lim;
  uint32_t rights;
};
constexpr uint32_t CODE32 = ar::P | ar::S | ar::DB | ar::G | ar::TYPE_CODE | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED;
constexpr uint32_t DATA32 = ar::P | ar::S | ar::DB | ar::G | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED;
// In the order of arch::vmx::kGuestSegmentFields: ES, CS, SS, DS, FS, GS, LDTR, TR.
constexpr SegmentInit GUEST_SEGMENTS[8] = {
    {0x10, 0xffffffff, DATA32}, {0x08, 0xffffffff, CODE32}, {0x10, 0xffffffff, DATA32},
    {0x10, 0xffffffff, DATA32}, {0x10, 0xffffffff, DATA32}, {0x10, 0xffffffff, DATA32},
    {0, 0xffff, ar::P | arch::seg::sys_type::LDT},          {0, 0xffff, ar::P | arch::seg::sys_type::TSS_BUSY},
};

void write_controls(const Vcpu& v, const IoBitmaps& io, uint64_t msr_bitmap) {
  const VmcsConfig& c = v.config;
  vmcs_write(F::PIN_BASED_VM_EXEC_CONTROL, c.pin);
  vmcs_write(F::CPU_BASED_VM_EXEC_CONTROL, c.proc);
  vmcs_write(F::SECONDARY_VM_EXEC_CONTROL, c.proc2);
  vmcs_write(F::VM_EXIT_CONTROLS, c.exit);
  vmcs_write(F::VM_ENTRY_CONTROLS, c.entry);
  // Exceptions exit only as exit_exc asks; with mask = match = 0 bit 14
  // alone decides for #PF (SDM 25.2).
  vmcs_write(F::EXCEPTION_BITMAP, v.options.exit_exc);
  vmcs_write(F::PAGE_FAULT_ERROR_CODE_MASK, 0);
  vmcs_write(F::PAGE_FAULT_ERROR_CODE_MATCH, 0);
  vmcs_write(F::CR3_TARGET_COUNT, 0);
  vmcs_write(F::IO_BITMAP_A, io.a);
  vmcs_write(F::IO_BITMAP_B, io.b);
  vmcs_write(F::MSR_BITMAP, msr_bitmap);
  vmcs_write(F::EPT_POINTER, ept01.eptp());
  if (c.vpid()) vmcs_write(F::VIRTUAL_PROCESSOR_ID, GUEST_VPID);
  vmcs_write(F::CR0_GUEST_HOST_MASK, cr0_guest_host_mask(c));
  vmcs_write(F::CR4_GUEST_HOST_MASK, cr4_guest_host_mask(c));
  if (c.pin & pin_ctl::PREEMPTION_TIMER) vmcs_write(F::VMX_PREEMPTION_TIMER_VALUE, v.options.preempt);
  vmcs_write(F::VM_EXIT_MSR_STORE_COUNT, 0);
  vmcs_write(F::VM_EXIT_MSR_LOAD_COUNT, 0);
  vmcs_write(F::VM_ENTRY_MSR_LOAD_COUNT, 0);
  vmcs_write(F::VM_ENTRY_INTR_INFO_FIELD, 0);
  vmcs_write(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
}

void write_guest_state(const Vcpu& v, const GuestBoot& boot) {
  const VmcsConfig& c = v.config;
  const uint64_t guest_cr0 = cr0::PE | cr0::ET;  // protected mode, paging off, caches on
  vmcs_write(F::GUEST_CR0, cr0_for_guest(c, guest_cr0));
  vmcs_write(F::CR0_READ_SHADOW, guest_cr0);
  vmcs_write(F::GUEST_CR3, 0);
  vmcs_write(F::GUEST_CR4, cr4_for_guest(c, 0));
  vmcs_write(F::CR4_READ_SHADOW, 0);
  vmcs_write(F::GUEST_DR7, DR7_INIT);
  for (unsigned i = 0; i < 8; i++) {
    const GuestSegmentFields& f = kGuestSegmentFields[i];
    vmcs_write(f.selector, GUEST_SEGMENTS[i].sel);
    vmcs_write(f.base, 0);
    vmcs_write(f.limit, GUEST_SEGMENTS[i].lim);
    vmcs_write(f.access_rights, GUEST_SEGMENTS[i].rights);
  }
  vmcs_write(F::GUEST_GDTR_BASE, 0);
  vmcs_write(F::GUEST_GDTR_LIMIT, 0);
  vmcs_write(F::GUEST_IDTR_BASE, 0);
  vmcs_write(F::GUEST_IDTR_LIMIT, 0);
  vmcs_write(F::GUEST_RIP, boot.entry);
  vmcs_write(F::GUEST_RSP, 0);
  vmcs_write(F::GUEST_RFLAGS, arch::rflags::FIXED1);  // interrupts off
  vmcs_write(F::GUEST_IA32_DEBUGCTL, 0);
  if ((c.entry & entry_ctl::LOAD_PAT) || (c.exit & exit_ctl::SAVE_PAT)) vmcs_write(F::GUEST_IA32_PAT, PAT_POWER_ON);
  vmcs_write(F::GUEST_IA32_EFER, 0);
  vmcs_write(F::GUEST_SYSENTER_CS, 0);
  vmcs_write(F::GUEST_SYSENTER_ESP, 0);
  vmcs_write(F::GUEST_SYSENTER_EIP, 0);
  vmcs_write(F::GUEST_INTERRUPTIBILITY_INFO, 0);
  vmcs_write(F::GUEST_ACTIVITY_STATE, activity_state::ACTIVE);
  vmcs_write(F::GUEST_PENDING_DBG_EXCEPTIONS, 0);
  for (F pdptr : kGuestPdpteFields) vmcs_write(pdptr, 0);
}

// The host side of every VM exit (SDM 27.5; KVM's
// vmx_set_constant_host_state) is the runtime's: l1-vmm's CR0/CR3/CR4, the
// runtime's GDT with its TSS (main.cpp installs it), HOST_RIP = the
// runtime's VM-exit landing point. A field l1-vmm cannot write is its own
// bug, as with any VMWRITE of its own.
void vmx_set_constant_host_state(const VmcsConfig& c) {
  VmcsField failed{};
  const rt::vmx::Status s = rt::vmx::write_host_state(c.caps, &failed);
  if (s != rt::vmx::Status::Ok) vmx_ops_error("VMWRITE", uint64_t(failed));
}

}  // namespace

uint64_t cr0_guest_host_mask(const VmcsConfig& c) { return (c.caps.cr0_fixed0 | ~c.caps.cr0_fixed1) & ~UNRESTRICTED_CR0_BITS; }
uint64_t cr4_guest_host_mask(const VmcsConfig& c) { return c.caps.cr4_fixed0 | ~c.caps.cr4_fixed1; }
uint64_t cr0_for_guest(const VmcsConfig& c, uint64_t value) {
  return (value | (c.caps.cr0_fixed0 & ~UNRESTRICTED_CR0_BITS)) & (c.caps.cr0_fixed1 | UNRESTRICTED_CR0_BITS);
}
uint64_t cr4_for_guest(const VmcsConfig& c, uint64_t value) { return cr_fixed_adjust(value, c.caps.cr4_fixed0, c.caps.cr4_fixed1); }

void hardware_enable(const VmcsConfig& c) {
  enable_feature_control();
  rt::write_cr0(cr_fixed_adjust(rt::read_cr0(), c.caps.cr0_fixed0, c.caps.cr0_fixed1));
  // CR4.OSXSAVE where XSAVE exists, so that l1-vmm can execute its
  // guests' XSETBV (exit_xsetbv.cpp); HOST_CR4 keeps it.
  const uint64_t osxsave = (rt::cpuid(1).ecx & arch::cpuid::L1_ECX_XSAVE) ? cr4::OSXSAVE : 0;
  rt::write_cr4(cr_fixed_adjust(rt::read_cr4() | cr4::VMXE | osxsave, c.caps.cr4_fixed0, c.caps.cr4_fixed1));
  const uint64_t region = mm::alloc_page_or_die("the VMXON region");
  *reinterpret_cast<uint32_t*>(region) = c.revision();
  const rt::vmx::Status s = rt::vmx::vmxon(region);
  if (s != rt::vmx::Status::Ok) fatal(L1_NO_VMX, "VMXON failed: %s", rt::vmx::status_name(s));
}

void init_vmcs01(Vcpu& v, const GuestBoot& boot) {
  v.vmcs01 = mm::alloc_page_or_die("vmcs01");
  *reinterpret_cast<uint32_t*>(v.vmcs01) = v.config.revision();  // SDM 24.2: revision first
  rt::vmx::Status s = rt::vmx::vmclear(v.vmcs01);
  if (s == rt::vmx::Status::Ok) s = rt::vmx::vmptrld(v.vmcs01);
  if (s != rt::vmx::Status::Ok) fatal(L1_NO_VMX, "VMCLEAR/VMPTRLD of vmcs01 failed: %s", rt::vmx::status_name(s));
  const IoBitmaps io = setup_io_bitmaps(v.options);
  write_controls(v, io, setup_msr_bitmap());
  vmx_set_constant_host_state(v.config);
  write_guest_state(v, boot);
  v.regs = GuestRegs{};
  v.regs.gpr[RAX] = boot.eax;
  v.regs.gpr[RBX] = boot.ebx;
  v.proc_ctl = v.config.proc;
  v.sync_ia32e_mode = !v.config.store_efer_lma();
  v.pending = PendingInterrupts{};
  v.launched = false;
  // The trace attributes the hardware exits of this VMCS to our guest's level.
  nestbed_annotate(arch::trace::AnnotationKind::VMCS_LEVEL, v.vmcs01, v.level + 1, 0, 0);
}

}  // namespace l1
