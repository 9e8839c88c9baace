#include "l1-vmm/nested/reflect.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"

namespace l1::nested {

using namespace arch::vmx;
using F = VmcsField;

namespace {

bool proc(const Vmcs12& c, uint32_t bit) { return c.test(F::CPU_BASED_VM_EXEC_CONTROL, bit); }
bool pin(const Vmcs12& c, uint32_t bit) { return c.test(F::PIN_BASED_VM_EXEC_CONTROL, bit); }
bool proc2(const Vmcs12& c, uint32_t bit) {
  return proc(c, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) && c.test(F::SECONDARY_VM_EXEC_CONTROL, bit);
}

// A bit of a bitmap page at `base`; unreadable memory reads as 1.
bool bitmap_bit(const GuestBytes& m, uint64_t base, uint64_t bit) {
  uint8_t byte;
  if (!m.read(m.ctx, base + bit / 8, byte)) return true;
  return (byte >> (bit % 8)) & 1;
}

}  // namespace

// SDM 25.2: an exception exits if its bit in the exception bitmap is set;
// for #PF, the bit is compared with (error code & mask) == match. NMIs
// exit with "NMI exiting".
bool l1_wants_exception(const Vmcs12& c, uint32_t info, uint32_t error_code) {
  const uint8_t vector = uint8_t(intr_info::VECTOR.get(info));
  if (intr_info::TYPE.get(info) == intr_info::TYPE_NMI) return pin(c, pin_ctl::NMI_EXITING);
  const bool bit = (c.get32(F::EXCEPTION_BITMAP) >> vector) & 1;
  if (vector != uint8_t(arch::Vector::PF)) return bit;
  const bool match = (error_code & c.get32(F::PAGE_FAULT_ERROR_CODE_MASK)) == c.get32(F::PAGE_FAULT_ERROR_CODE_MATCH);
  return bit == match;
}

// SDM 25.1.3 (KVM's nested_vmx_exit_handled_cr).
bool l1_wants_cr_access(const Vmcs12& c, uint64_t qual, uint64_t source) {
  namespace q = qual_cr_access;
  const unsigned cr = unsigned(q::CR.get(qual));
  const uint64_t mask0 = c.get(F::CR0_GUEST_HOST_MASK), shadow0 = c.get(F::CR0_READ_SHADOW);
  switch (q::ACCESS_TYPE.get(qual)) {
    case q::MOV_TO_CR:
      if (cr == 0) return (mask0 & (source ^ shadow0)) != 0;
      if (cr == 4) return (c.get(F::CR4_GUEST_HOST_MASK) & (source ^ c.get(F::CR4_READ_SHADOW))) != 0;
      if (cr == 8) return proc(c, proc_ctl::CR8_LOAD_EXITING);
      if (cr == 3) {
        if (!proc(c, proc_ctl::CR3_LOAD_EXITING)) return false;
        // A value among the first CR3_TARGET_COUNT targets does not exit.
        constexpr F targets[] = {F::CR3_TARGET_VALUE0, F::CR3_TARGET_VALUE1, F::CR3_TARGET_VALUE2,
                                 F::CR3_TARGET_VALUE3};
        for (unsigned i = 0; i < c.get(F::CR3_TARGET_COUNT) && i < 4; i++)
          if (c.get(targets[i]) == source) return false;
        return true;
      }
      return true;
    case q::MOV_FROM_CR:
      if (cr == 3) return proc(c, proc_ctl::CR3_STORE_EXITING);
      if (cr == 8) return proc(c, proc_ctl::CR8_STORE_EXITING);
      return true;
    case q::CLTS:
      return (mask0 & arch::cr0::TS) && (shadow0 & arch::cr0::TS);
    case q::LMSW: {
      // LMSW writes CR0 bits 3:0 and never clears PE (SDM 25.1.3).
      const uint64_t src = q::LMSW_SOURCE.get(qual);
      constexpr uint64_t MP_EM_TS = arch::cr0::MP | arch::cr0::EM | arch::cr0::TS;
      if (mask0 & MP_EM_TS & (src ^ shadow0)) return true;
      return (mask0 & arch::cr0::PE) && !(shadow0 & arch::cr0::PE) && (src & arch::cr0::PE);
    }
  }
  return true;
}

// SDM 25.1.3: with I/O bitmaps, an access exits if the bit of any port it
// touches is set (a wrap past 0xffff exits); else unconditional I/O exiting.
bool l1_wants_io(const Vmcs12& c, uint64_t qual, const GuestBytes& m) {
  if (!proc(c, proc_ctl::USE_IO_BITMAPS)) return proc(c, proc_ctl::UNCONDITIONAL_IO_EXITING);
  const unsigned size = unsigned(qual_io::SIZE.get(qual)) + 1;
  const uint32_t port = uint32_t(qual_io::PORT.get(qual));
  for (uint32_t p = port; p < port + size; p++) {
    if (p > 0xffff) return true;
    const uint64_t base = io_bitmap::in_bitmap_b(uint16_t(p)) ? c.get(F::IO_BITMAP_B) : c.get(F::IO_BITMAP_A);
    if (bitmap_bit(m, base, io_bitmap::bit_index(uint16_t(p)))) return true;
  }
  return false;
}

// SDM 25.1.3: without MSR bitmaps every RDMSR/WRMSR exits; with them, an
// MSR outside both ranges exits, inside its bit decides.
bool l1_wants_msr(const Vmcs12& c, uint32_t index, bool write, const GuestBytes& m) {
  if (!proc(c, proc_ctl::USE_MSR_BITMAPS)) return true;
  const int byte = msr_bitmap::byte_offset(index, write);
  if (byte < 0) return true;
  return bitmap_bit(m, c.get(F::MSR_BITMAP), uint64_t(byte) * 8 + msr_bitmap::bit_in_byte(index));
}

bool l1_wants_exit(const Vmcs12& c, const ExitFacts& e, const GuestBytes& m) {
  switch (ExitReason(e.basic)) {
    case ExitReason::EXCEPTION_NMI: return l1_wants_exception(c, e.intr_info, e.intr_error_code);
    case ExitReason::EXTERNAL_INTERRUPT: return pin(c, pin_ctl::EXTERNAL_INTERRUPT_EXITING);
    case ExitReason::INTERRUPT_WINDOW: return proc(c, proc_ctl::INTERRUPT_WINDOW_EXITING);
    case ExitReason::NMI_WINDOW: return proc(c, proc_ctl::NMI_WINDOW_EXITING);
    case ExitReason::HLT: return proc(c, proc_ctl::HLT_EXITING);
    case ExitReason::INVLPG:
    case ExitReason::INVPCID: return proc(c, proc_ctl::INVLPG_EXITING);  // SDM 25.1.3
    case ExitReason::RDPMC: return proc(c, proc_ctl::RDPMC_EXITING);
    case ExitReason::RDTSC:
    case ExitReason::RDTSCP: return proc(c, proc_ctl::RDTSC_EXITING);
    case ExitReason::CR_ACCESS: return l1_wants_cr_access(c, e.qualification, e.cr_source);
    case ExitReason::DR_ACCESS: return proc(c, proc_ctl::MOV_DR_EXITING);
    case ExitReason::IO_INSTRUCTION: return l1_wants_io(c, e.qualification, m);
    case ExitReason::MSR_READ: return l1_wants_msr(c, e.msr_index, false, m);
    case ExitReason::MSR_WRITE: return l1_wants_msr(c, e.msr_index, true, m);
    case ExitReason::MWAIT: return proc(c, proc_ctl::MWAIT_EXITING);
    case ExitReason::MONITOR: return proc(c, proc_ctl::MONITOR_EXITING);
    case ExitReason::PAUSE: return proc(c, proc_ctl::PAUSE_EXITING);
    case ExitReason::TPR_BELOW_THRESHOLD: return proc(c, proc_ctl::USE_TPR_SHADOW);
    case ExitReason::MONITOR_TRAP_FLAG: return proc(c, proc_ctl::MONITOR_TRAP_FLAG);
    case ExitReason::PREEMPTION_TIMER: return pin(c, pin_ctl::PREEMPTION_TIMER);
    case ExitReason::WBINVD: return proc2(c, proc_ctl2::WBINVD_EXITING);
    case ExitReason::GDTR_IDTR:
    case ExitReason::LDTR_TR: return proc2(c, proc_ctl2::DESCRIPTOR_TABLE_EXITING);
    case ExitReason::RDRAND: return proc2(c, proc_ctl2::RDRAND_EXITING);
    case ExitReason::RDSEED: return proc2(c, proc_ctl2::RDSEED_EXITING);
    case ExitReason::PML_FULL: return proc2(c, proc_ctl2::ENABLE_PML);
    case ExitReason::APIC_ACCESS: return proc2(c, proc_ctl2::VIRTUALIZE_APIC_ACCESSES);
    // Without APIC-register virtualization, writes to EOI and ICR low that
    // virtual-interrupt delivery virtualizes may end in APIC-write exits.
    case ExitReason::APIC_WRITE:
      return proc2(c, proc_ctl2::APIC_REGISTER_VIRTUALIZATION) || proc2(c, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
    case ExitReason::VIRTUALIZED_EOI: return proc2(c, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
    case ExitReason::EPT_VIOLATION:
    case ExitReason::EPT_MISCONFIG: return proc2(c, proc_ctl2::ENABLE_EPT);
    // Unconditional exits (SDM 25.1.2): CPUID, GETSEC, INVD, XSETBV, the
    // VMX instructions, VMCALL, triple fault, task switch, ...
    default: return true;
  }
}

}  // namespace l1::nested
