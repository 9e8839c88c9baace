// vmcs12's "virtualize x2APIC mode" (SDM 29.5), for level k+2's RDMSR and
// WRMSR of the x2APIC TPR (808H) that vmcs12's MSR bitmap lets through,
// and with "APIC-register virtualization" its RDMSR of any x2APIC MSR.
// vmcs02 has no MSR bitmap — every RDMSR/WRMSR of level k+2 exits to
// l1-vmm, which consults vmcs12's (reflect.h) — so l1-vmm does here what
// the processor would: bytes 87H:80H of vmcs12's virtual-APIC page (level
// k+1's memory), #GP for a WRMSR with bits 63:8 set, then TPR
// virtualization (SDM 29.1.2), whose "TPR below threshold" VM exit goes to
// level k+1. With virtual-interrupt delivery too, WRMSR of 80BH (EOI) and
// 83FH (SELF IPI) are EOI and self-IPI virtualization (29.1.4-29.1.5,
// common/vmx/virtual_interrupts) on vmcs12's page and on RVI/SVI in vmcs02,
// whose VM entry then virtualizes PPR and evaluates pending virtual
// interrupts, as the processor would right after the WRMSR; that entry is
// also TPR virtualization's evaluation. The TPR shadow of MOV CR8 and of
// the APIC-access page, and virtual-interrupt delivery itself, are the
// platform's own (vmcs02 names vmcs12's pages, nested_vmx.cpp).
#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "common/vmx/virtual_interrupts.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {

using namespace arch::vmx;
using F = VmcsField;

namespace {

namespace vi = nestbed::common::vmx;

// vmcs12's virtual-APIC page, in level k+1's memory.
vi::VirtualApicPage virtual_apic12(uint64_t* page_gpa) {
  return vi::VirtualApicPage{
      [](void* o, unsigned offset) {
        return uint32_t(guest_memory.read_or_ones(*static_cast<uint64_t*>(o) + offset, 4));
      },
      [](void* o, unsigned offset, uint32_t value) {
        if (auto* p = static_cast<uint32_t*>(guest_memory.hva(*static_cast<uint64_t*>(o) + offset, 4))) *p = value;
      },
      page_gpa};
}

// WRMSR 80BH / 83FH with "virtualize x2APIC mode" and "virtual-interrupt
// delivery" (SDM 29.5): a value with any bit set beyond what the register
// takes is #GP(0); else EOI virtualization, whose EOI-induced exit goes to
// level k+1 (trap-like: RIP past the WRMSR), or self-IPI virtualization.
void x2apic_vid_write(Vcpu& v, const Vmcs12& c, uint32_t index) {
  const uint64_t value = (v.regs.gpr[RDX] << 32) | uint32_t(v.regs.gpr[RAX]);
  const bool eoi = index == arch::msr::IA32_X2APIC_EOI;
  if (eoi ? value != 0 : (value >> 8) != 0) return inject_exception(v, uint8_t(arch::Vector::GP), 0);
  uint64_t page_gpa = c.get(F::VIRTUAL_APIC_PAGE_ADDR);
  const vi::VirtualApicPage page = virtual_apic12(&page_gpa);
  uint16_t status = uint16_t(vmcs_read(F::GUEST_INTR_STATUS));
  skip_emulated_instruction(v);
  if (!eoi) {
    vi::self_ipi_virtualization(page, status, uint8_t(value));
    vmcs_write(F::GUEST_INTR_STATUS, status);
    return;
  }
  const uint8_t vector = vi::eoi_virtualization(page, status);
  vmcs_write(F::GUEST_INTR_STATUS, status);
  const uint64_t bitmap[4] = {c.get(F::EOI_EXIT_BITMAP0), c.get(F::EOI_EXIT_BITMAP1), c.get(F::EOI_EXIT_BITMAP2),
                              c.get(F::EOI_EXIT_BITMAP3)};
  if (vi::eoi_exit_bitmap_bit(bitmap, vector))
    nested_vmx_vmexit(v, uint32_t(ExitReason::VIRTUALIZED_EOI), qual_eoi::VECTOR.make(vector));
}

}  // namespace

bool nested_x2apic_access(Vcpu& v, bool write) {
  const Vmcs12& c = v.nested.cur->vmcs12;
  const uint32_t proc2 = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS)
                             ? c.get32(F::SECONDARY_VM_EXEC_CONTROL)
                             : 0;
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  if (!(proc2 & proc_ctl2::VIRTUALIZE_X2APIC_MODE)) return false;
  const bool vid = proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY;
  if (write && vid && (index == arch::msr::IA32_X2APIC_EOI || index == arch::msr::IA32_X2APIC_SELF_IPI)) {
    x2apic_vid_write(v, c, index);
    return true;
  }
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
  // TPR virtualization: with virtual-interrupt delivery, vmcs02's entry
  // does it; without, a trap-like exit, RIP past the WRMSR.
  if (vid) return true;
  const uint64_t vtpr_now = guest_memory.read_or_ones(vtpr, 4);
  if (tpr_shadow::below_threshold(vtpr_now, c.get(F::TPR_THRESHOLD)))
    nested_vmx_vmexit(v, uint32_t(ExitReason::TPR_BELOW_THRESHOLD), 0);
  return true;
}

}  // namespace l1::nested
