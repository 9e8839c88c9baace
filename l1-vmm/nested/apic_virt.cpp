// vmcs12's "virtualize x2APIC mode" (SDM 29.5), for level k+2's RDMSR and
// WRMSR of the x2APIC TPR (808H) that vmcs12's MSR bitmap lets through,
// and with "APIC-register virtualization" its RDMSR of any x2APIC MSR.
// vmcs02 has no MSR bitmap — every RDMSR/WRMSR of level k+2 exits to
// l1-vmm, which consults vmcs12's (reflect.h) — so l1-vmm does here what
// the processor would: bytes 87H:80H of vmcs12's virtual-APIC page (level
// k+1's memory), #GP for a WRMSR with bits 63:8 set, then TPR
// virtualization (SDM 29.1.2), whose "TPR below threshold" VM exit goes to
// level k+1. The TPR shadow of MOV CR8 and of the APIC-access page is the
// platform's own (vmcs02 names vmcs12's pages, nested_vmx.cpp).
#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {

using namespace arch::vmx;
using F = VmcsField;

bool nested_x2apic_tpr_access(Vcpu& v, bool write) {
  const Vmcs12& c = v.nested.cur->vmcs12;
  const uint32_t proc2 = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS)
                             ? c.get32(F::SECONDARY_VM_EXEC_CONTROL)
                             : 0;
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  if (!(proc2 & proc_ctl2::VIRTUALIZE_X2APIC_MODE)) return false;
  // With APIC-register virtualization, RDMSR of any x2APIC MSR reads the 8
  // bytes at (ECX & FFH) << 4; otherwise only the TPR is virtualized.
  const bool all_reads = (proc2 & proc_ctl2::APIC_REGISTER_VIRTUALIZATION) && index >= arch::msr::X2APIC_FIRST &&
                         index <= arch::msr::X2APIC_LAST;
  if (index != arch::msr::IA32_X2APIC_TPR && !(all_reads && !write)) return false;
  const uint64_t page = c.get(F::VIRTUAL_APIC_PAGE_ADDR);
  const uint64_t vtpr = page + arch::apic::TPR;
  if (!write) {
    const uint64_t value = guest_memory.read_or_ones(page + ((index & 0xff) << 4), 8);
    v.regs.gpr[RAX] = uint32_t(value);
    v.regs.gpr[RDX] = value >> 32;
    skip_emulated_instruction(v);
    return true;
  }
  const uint64_t value = (v.regs.gpr[RDX] << 32) | uint32_t(v.regs.gpr[RAX]);
  if (value >> 8) {
    inject_exception(v, uint8_t(arch::Vector::GP), 0);
    return true;
  }
  if (auto* p = static_cast<uint64_t*>(guest_memory.hva(vtpr, 8))) *p = value;
  skip_emulated_instruction(v);
  // TPR virtualization without virtual-interrupt delivery: a trap-like
  // exit, RIP past the WRMSR.
  const uint64_t vtpr_now = guest_memory.read_or_ones(vtpr, 4);
  if (tpr_shadow::below_threshold(vtpr_now, c.get(F::TPR_THRESHOLD)))
    nested_vmx_vmexit(v, uint32_t(ExitReason::TPR_BELOW_THRESHOLD), 0);
  return true;
}

}  // namespace l1::nested
