#include "l1-vmm/nested/merge.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"

namespace l1::nested {

using namespace arch::vmx;
using F = VmcsField;

Vmcs02Controls merge_controls(const Vmcs12& c, const OwnNeeds& own) {
  Vmcs02Controls m{};
  const uint32_t pin12 = c.get32(F::PIN_BASED_VM_EXEC_CONTROL);
  const uint32_t proc12 = c.get32(F::CPU_BASED_VM_EXEC_CONTROL);
  const uint32_t proc2_12 =
      (proc12 & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) ? c.get32(F::SECONDARY_VM_EXEC_CONTROL) : 0;
  const uint32_t exit12 = c.get32(F::VM_EXIT_CONTROLS), entry12 = c.get32(F::VM_ENTRY_CONTROLS);

  m.pin = pin12 | own.pin;
  m.proc = (proc12 & ~(proc_ctl::USE_IO_BITMAPS | proc_ctl::USE_MSR_BITMAPS)) | proc_ctl::UNCONDITIONAL_IO_EXITING |
           proc_ctl::ACTIVATE_SECONDARY_CONTROLS | (own.proc & proc_ctl::HLT_EXITING);
  // Interrupts l1-vmm owes level k+2 (exit_intr) wait for its window.
  if (own.interrupts_owed && !(pin12 & pin_ctl::EXTERNAL_INTERRUPT_EXITING))
    m.proc |= proc_ctl::INTERRUPT_WINDOW_EXITING;
  m.proc2 = (proc2_12 & (proc_ctl2::ENABLE_RDTSCP | proc_ctl2::WBINVD_EXITING | proc_ctl2::DESCRIPTOR_TABLE_EXITING |
                         proc_ctl2::UNRESTRICTED_GUEST | proc_ctl2::VIRTUALIZE_APIC_ACCESSES |
                         proc_ctl2::APIC_REGISTER_VIRTUALIZATION | proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY |
                         proc_ctl2::ENABLE_INVPCID)) |
            proc_ctl2::ENABLE_EPT | (own.vpid ? proc_ctl2::ENABLE_VPID : 0);
  m.exit = ctls_adjust(own.platform_exit_caps,
                       own.exit | (exit12 & (exit_ctl::ACK_INTERRUPT_ON_EXIT | exit_ctl::SAVE_PREEMPTION_TIMER |
                                             exit_ctl::SAVE_DEBUG_CONTROLS)));
  m.entry = ctls_adjust(own.platform_entry_caps,
                        own.entry | (entry12 & (entry_ctl::IA32E_MODE_GUEST | entry_ctl::LOAD_DEBUG_CONTROLS)));

  // Exceptions: vmcs12's, plus l1-vmm's exit_exc; if l1-vmm wants #PF, all
  // of them exit (mask = match = 0 with bit 14 set, SDM 25.2).
  m.exception_bitmap = c.get32(F::EXCEPTION_BITMAP) | own.exit_exc;
  const bool own_pf = own.exit_exc & (1u << uint8_t(arch::Vector::PF));
  m.pf_error_code_mask = own_pf ? 0 : c.get32(F::PAGE_FAULT_ERROR_CODE_MASK);
  m.pf_error_code_match = own_pf ? 0 : c.get32(F::PAGE_FAULT_ERROR_CODE_MATCH);

  // The timer: vmcs12's if it has one (level k+1's deadline decides the
  // exit), else l1-vmm's preempt option.
  m.timer = m.pin & pin_ctl::PREEMPTION_TIMER;
  m.timer_value = (pin12 & pin_ctl::PREEMPTION_TIMER) ? c.get(F::VMX_PREEMPTION_TIMER_VALUE) : own.preempt;
  m.ept12 = proc2_12 & proc_ctl2::ENABLE_EPT;
  return m;
}

MergedCr merge_cr(uint64_t guest12, uint64_t mask12, uint64_t shadow12, uint64_t own_mask) {
  return MergedCr{guest12, mask12 | own_mask, (guest12 & ~mask12) | (shadow12 & mask12)};
}

uint64_t vmcs12_guest_cr(uint64_t cr02, uint64_t shadow02, uint64_t mask02, uint64_t cr12, uint64_t mask12) {
  return (cr02 & ~mask02) | (cr12 & mask12) | (shadow02 & mask02 & ~mask12);
}

}  // namespace l1::nested
