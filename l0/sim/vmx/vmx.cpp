// VMX operation: the VMX instructions' core semantics (SDM 30.3), VM entry
// (SDM 26) and VM exit (SDM 27) for the sim CPU.
#include "l0/sim/vmx/vmx.h"

#include <cstring>
#include <utility>

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/debug.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "common/vmx/entry_checks.h"
#include "common/vmx/host_state.h"
#include "common/vmx/virtual_interrupts.h"
#include "l0/sim/cpu/cpu.h"

namespace nestbed::sim::vmx {

using namespace arch::vmx;
using F = VmcsField;
using common::vmx::check_eptp;
using common::vmx::check_vm_entry;
using common::vmx::EntryCheckContext;
using common::vmx::EntryCheckResult;
using common::vmx::EntryFailure;
using common::vmx::VmcsView;
namespace fl = arch::rflags;
namespace ar = arch::seg::ar;

Vmx::Vmx(Cpu& cpu) : cpu_(cpu) {}

// ------------------------------------------------------ VMsucceed/VMfail

// SDM 30.2: the six status flags report the outcome.
void Vmx::vm_succeed() { cpu_.state().rflags &= ~fl::STATUS; }

void Vmx::vm_fail_invalid() {
  uint64_t& f = cpu_.state().rflags;
  f = (f & ~fl::STATUS) | fl::CF;
}

void Vmx::vm_fail_valid(uint32_t error) {
  uint64_t& f = cpu_.state().rflags;
  f = (f & ~fl::STATUS) | fl::ZF;
  current_->write(F::VM_INSTRUCTION_ERROR, error);
}

void Vmx::vm_fail(uint32_t error) {
  if (current_)
    vm_fail_valid(error);
  else
    vm_fail_invalid();
}

// A VMXON/VMCS region address: 4 KiB aligned, within MAXPHYADDR (SDM 30.3).
bool Vmx::valid_region_address(uint64_t pa) const {
  return (pa & 0xfff) == 0 && (pa >> arch::pte::MAXPHYADDR) == 0;
}

// A VMCS region in physical memory <-> the cache (layout: Vmcs::serialize).
void Vmx::read_region(uint64_t region, Vmcs& v) {
  uint8_t buf[Vmcs::kRegionBytes];
  for (unsigned k = 0; k < Vmcs::kRegionBytes; k += 8) {
    const uint64_t q = cpu_.phys_read(region + k, 8);
    std::memcpy(buf + k, &q, 8);
  }
  v.deserialize(buf);
}

void Vmx::write_region(uint64_t region, const Vmcs& v) {
  uint8_t buf[Vmcs::kRegionBytes];
  v.serialize(buf);
  for (unsigned k = 0; k < Vmcs::kRegionBytes; k += 8) {
    uint64_t q;
    std::memcpy(&q, buf + k, 8);
    cpu_.phys_write(region + k, 8, q);
  }
}

Vmcs* Vmx::cached_vmcs(uint64_t region) {
  auto it = cache_.find(region);
  if (it != cache_.end()) return it->second.get();
  auto v = std::make_unique<Vmcs>();
  read_region(region, *v);
  Vmcs* raw = v.get();
  cache_[region] = std::move(v);
  return raw;
}

// ------------------------------------------------------------ instructions

// VMXON (SDM 30.3): the caller checked #UD/#GP conditions and CPL.
void Vmx::vmxon(uint64_t region) {
  if (vmxon_) {
    vm_fail(uint32_t(VmInstructionError::VMXON_IN_VMX_ROOT));
    return;
  }
  if (!valid_region_address(region) || (uint32_t(cpu_.phys_read(region, 4)) & 0x7fffffff) != kVmcsRevision ||
      (cpu_.phys_read(region, 4) & Vmcs::kShadowIndicator)) {
    vm_fail_invalid();
    return;
  }
  vmxon_ = true;
  vmxon_region_ = region;
  cpu_.flush_ept_cache();  // no guest-physical mapping from before VMXON survives it
  current_pa_ = ~0ull;
  current_ = nullptr;
  vm_succeed();
}

void Vmx::vmxoff() {
  // Write back every cached VMCS so software may VMPTRLD it again later.
  for (auto& [pa, v] : cache_) write_region(pa, *v);
  cache_.clear();
  cpu_.flush_ept_cache();
  vmxon_ = false;
  current_ = nullptr;
  current_pa_ = ~0ull;
  vm_succeed();
}

// VMCLEAR: write the VMCS back to its region and make its launch state
// clear (SDM 30.3 VMCLEAR).
void Vmx::vmclear(uint64_t region) {
  if (!valid_region_address(region)) return vm_fail(uint32_t(VmInstructionError::VMCLEAR_INVALID_ADDRESS));
  if (region == vmxon_region_) return vm_fail(uint32_t(VmInstructionError::VMCLEAR_VMXON_POINTER));
  auto it = cache_.find(region);
  if (it != cache_.end()) {
    Vmcs& v = *it->second;
    v.launched = false;
    write_region(region, v);
    if (current_ == &v) {
      current_ = nullptr;
      current_pa_ = ~0ull;
    }
    cache_.erase(it);
  } else {
    cpu_.phys_write(region + 8, 4, 0);  // launch state: clear
  }
  vm_succeed();
}

void Vmx::vmptrld(uint64_t region) {
  if (!valid_region_address(region)) return vm_fail(uint32_t(VmInstructionError::VMPTRLD_INVALID_ADDRESS));
  if (region == vmxon_region_) return vm_fail(uint32_t(VmInstructionError::VMPTRLD_VMXON_POINTER));
  const uint32_t first = uint32_t(cpu_.phys_read(region, 4));
  // A shadow VMCS may be made current only where VMCS shadowing is
  // supported, which it is here (SDM 30.3 VMPTRLD).
  if ((first & 0x7fffffff) != kVmcsRevision)
    return vm_fail(uint32_t(VmInstructionError::VMPTRLD_INCORRECT_REVISION_ID));
  current_ = cached_vmcs(region);
  current_pa_ = region;
  vm_succeed();
}

// VMREAD/VMWRITE reach the shadow VMCS in non-root operation (SDM 30.3).
bool Vmx::vmread(uint64_t encoding, uint64_t& value) {
  Vmcs* v = accessed_vmcs();
  if (!v) {
    vm_fail_invalid();
    return false;
  }
  if (!v->read_encoding(encoding, value)) {
    vm_fail(uint32_t(VmInstructionError::UNSUPPORTED_VMCS_COMPONENT));
    return false;
  }
  vm_succeed();
  return true;
}

void Vmx::vmwrite(uint64_t encoding, uint64_t value) {
  Vmcs* v = accessed_vmcs();
  if (!v) return vm_fail_invalid();
  // IA32_VMX_MISC bit 29 is reported: every supported field is writable,
  // the read-only exit-information fields included (SDM 30.3 VMWRITE).
  if (!v->write_encoding(encoding, value)) return vm_fail(uint32_t(VmInstructionError::UNSUPPORTED_VMCS_COMPONENT));
  vm_succeed();
}

bool Vmx::shadowed(uint64_t encoding, bool write) {
  if (!(ctl_.proc2 & proc_ctl2::VMCS_SHADOWING) || !(ctl_.proc & proc_ctl::ACTIVATE_SECONDARY_CONTROLS)) return false;
  // SDM 25.1.3: bits 63:15 of the encoding nonzero → exit; else the bit
  // numbered by bits 14:0 in the 4 KiB bitmap decides.
  if (encoding >> 15) return false;
  const uint64_t bitmap = write ? ctl_.vmwrite_bitmap : ctl_.vmread_bitmap;
  const uint64_t byte = cpu_.phys_read(bitmap + (encoding >> 3), 1);
  return ((byte >> (encoding & 7)) & 1) == 0;
}

bool Vmx::pml_log(uint64_t gpa) {
  // The index lives in the current VMCS (a guest-state field the processor
  // updates as it logs): VMREAD after the exit sees it.
  const uint64_t index = current_->get<F::GUEST_PML_INDEX>();
  if (index >= pml::ENTRIES) return false;
  cpu_.phys_write(ctl_.pml_address + pml::ENTRY_BYTES * index, pml::ENTRY_BYTES, gpa & pml::GPA_MASK);
  current_->set<F::GUEST_PML_INDEX>(index - 1);  // 0 wraps to FFFFH: full
  return true;
}

uint64_t Vmx::read_cr8_shadow() {
  // Bits 3:0 of the destination are VTPR[7:4], bits 63:4 are cleared.
  return (read_virtual_apic(arch::apic::TPR, 4) >> 4) & 0xf;
}

void Vmx::write_cr8_shadow(uint64_t value) {
  // VTPR[7:4] = source bits 3:0, VTPR[3:0] and VTPR[31:8] cleared (SDM 25.3).
  cpu_.phys_write(ctl_.virtual_apic + arch::apic::TPR, 4, uint32_t(value & 0xf) << 4);
  cpu_.tpr_shadow_updated();
}

uint64_t Vmx::read_virtual_apic(unsigned offset, unsigned size) { return cpu_.phys_read(ctl_.virtual_apic + offset, size); }

void Vmx::write_x2apic_tpr_shadow(uint64_t value) {
  cpu_.phys_write(ctl_.virtual_apic + arch::apic::TPR, 8, value);
  cpu_.tpr_shadow_updated();
}

bool Vmx::tpr_shadow_update(VmExitRequest& exit) {
  // With virtual-interrupt delivery, TPR virtualization is PPR
  // virtualization and evaluation; no TPR-threshold exit (SDM 29.1.2).
  if (ctl_.vid) {
    virtualize_ppr_and_evaluate();
    return false;
  }
  if (!tpr_below_threshold()) return false;
  exit = VmExitRequest{uint32_t(ExitReason::TPR_BELOW_THRESHOLD)};
  return true;
}

bool Vmx::apic_write_emulation(unsigned offset, VmExitRequest& exit) {
  const uint64_t page = ctl_.virtual_apic;
  switch (offset & ~0xfu) {
    case arch::apic::TPR:
      cpu_.phys_write(page + arch::apic::TPR, 4, cpu_.phys_read(page + arch::apic::TPR, 1));
      return tpr_shadow_update(exit);
    case arch::apic::ICR_HIGH:
      cpu_.phys_write(page + arch::apic::ICR_HIGH, 4, cpu_.phys_read(page + arch::apic::ICR_HIGH, 4) & 0xff000000u);
      return false;
    case arch::apic::EOI:
      // Also reached by WRMSR 80BH of 0 with "virtualize x2APIC mode" (SDM 29.5).
      if (ctl_.vid) return eoi_virtualization(exit);
      break;
    case arch::apic::ICR_LOW: {
      const uint32_t icr = uint32_t(cpu_.phys_read(page + arch::apic::ICR_LOW, 4));
      if (ctl_.vid && common::vmx::icr_is_virtualized_self_ipi(icr)) {
        self_ipi_virtualization(uint8_t(icr & arch::apic::ICR_VECTOR_MASK));
        return false;
      }
      break;
    }
    default:
      break;
  }
  exit = VmExitRequest{uint32_t(ExitReason::APIC_WRITE)};
  exit.qualification = qual_apic_write::OFFSET.make(offset);
  return true;
}

bool Vmx::tpr_below_threshold() {
  return tpr_shadow::below_threshold(read_virtual_apic(arch::apic::TPR, 4), ctl_.tpr_threshold);
}

// ---------------------------------------------------------- exit predicates

// SDM 25.1.3: unconditional I/O exiting, else the I/O bitmaps (a port
// range wrapping past 0xffff exits).
bool Vmx::io_exits(uint16_t port, unsigned size) {
  if (ctl_.proc & proc_ctl::USE_IO_BITMAPS) {
    for (unsigned k = 0; k < size; ++k) {
      const uint32_t p = uint32_t(port) + k;
      if (p > 0xffff) return true;
      const uint64_t bitmap = ctl_.io_bitmap[p >> 15];
      if ((cpu_.phys_read(bitmap + ((p & 0x7fff) >> 3), 1) >> (p & 7)) & 1) return true;
    }
    return false;
  }
  return ctl_.proc & proc_ctl::UNCONDITIONAL_IO_EXITING;
}

// SDM 25.1.3 and 24.6.9: MSRs outside the two bitmap ranges always exit.
bool Vmx::msr_exits(uint32_t index, bool write) {
  if (!(ctl_.proc & proc_ctl::USE_MSR_BITMAPS)) return true;
  unsigned base;
  if (index <= msr_bitmap::LOW_LAST)
    base = write ? msr_bitmap::WRITE_LOW : msr_bitmap::READ_LOW;
  else if (index >= msr_bitmap::HIGH_FIRST && index <= msr_bitmap::HIGH_LAST)
    base = write ? msr_bitmap::WRITE_HIGH : msr_bitmap::READ_HIGH;
  else
    return true;
  const uint32_t bit = index & 0x1fff;
  return (cpu_.phys_read(ctl_.msr_bitmap + base + (bit >> 3), 1) >> (bit & 7)) & 1;
}

// SDM 25.2: the exception bitmap, and for #PF the error-code mask/match.
bool Vmx::exception_exits(uint8_t vector, bool has_error, uint32_t error) {
  if (!((ctl_.exception_bitmap >> vector) & 1)) {
    if (vector != 14) return false;
    return (error & ctl_.pf_mask) != ctl_.pf_match;
  }
  if (vector == 14 && has_error) return (error & ctl_.pf_mask) == ctl_.pf_match;
  return true;
}

// --------------------------------------------------------------- VM entry

void Vmx::decode_controls(const Vmcs& v) {
  ctl_ = GuestControls{};
  ctl_.pin = uint32_t(v.read(F::PIN_BASED_VM_EXEC_CONTROL));
  ctl_.proc = uint32_t(v.read(F::CPU_BASED_VM_EXEC_CONTROL));
  ctl_.proc2 = (ctl_.proc & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) ? uint32_t(v.read(F::SECONDARY_VM_EXEC_CONTROL)) : 0;
  ctl_.exit = uint32_t(v.read(F::VM_EXIT_CONTROLS));
  ctl_.entry = uint32_t(v.read(F::VM_ENTRY_CONTROLS));
  ctl_.exception_bitmap = uint32_t(v.read(F::EXCEPTION_BITMAP));
  ctl_.pf_mask = uint32_t(v.read(F::PAGE_FAULT_ERROR_CODE_MASK));
  ctl_.pf_match = uint32_t(v.read(F::PAGE_FAULT_ERROR_CODE_MATCH));
  ctl_.cr0_mask = v.read(F::CR0_GUEST_HOST_MASK);
  ctl_.cr0_shadow = v.read(F::CR0_READ_SHADOW);
  ctl_.cr4_mask = v.read(F::CR4_GUEST_HOST_MASK);
  ctl_.cr4_shadow = v.read(F::CR4_READ_SHADOW);
  ctl_.cr3_target_count = uint32_t(v.read(F::CR3_TARGET_COUNT));
  ctl_.cr3_targets[0] = v.read(F::CR3_TARGET_VALUE0);
  ctl_.cr3_targets[1] = v.read(F::CR3_TARGET_VALUE1);
  ctl_.cr3_targets[2] = v.read(F::CR3_TARGET_VALUE2);
  ctl_.cr3_targets[3] = v.read(F::CR3_TARGET_VALUE3);
  ctl_.io_bitmap[0] = v.read(F::IO_BITMAP_A);
  ctl_.io_bitmap[1] = v.read(F::IO_BITMAP_B);
  ctl_.msr_bitmap = v.read(F::MSR_BITMAP);
  ctl_.tsc_offset = (ctl_.proc & proc_ctl::USE_TSC_OFFSETTING) ? v.read(F::TSC_OFFSET) : 0;
  ctl_.eptp = (ctl_.proc2 & proc_ctl2::ENABLE_EPT) ? v.read(F::EPT_POINTER) : 0;
  ctl_.vpid = (ctl_.proc2 & proc_ctl2::ENABLE_VPID) ? uint16_t(v.read(F::VIRTUAL_PROCESSOR_ID)) : 0;
  ctl_.vmread_bitmap = v.read(F::VMREAD_BITMAP);
  ctl_.vmwrite_bitmap = v.read(F::VMWRITE_BITMAP);
  ctl_.link_pointer = v.read(F::VMCS_LINK_POINTER);
  linked_ = nullptr;
  ctl_.apic_access = ctl_.proc2 & proc_ctl2::VIRTUALIZE_APIC_ACCESSES;
  if (ctl_.apic_access) ctl_.apic_access_page = v.read(F::APIC_ACCESS_ADDR);
  ctl_.pml = ctl_.proc2 & proc_ctl2::ENABLE_PML;
  if (ctl_.pml) ctl_.pml_address = v.read(F::PML_ADDRESS);
  if (ctl_.proc & proc_ctl::USE_TPR_SHADOW) {
    ctl_.virtual_apic = v.read(F::VIRTUAL_APIC_PAGE_ADDR);
    ctl_.tpr_threshold = uint32_t(v.read(F::TPR_THRESHOLD));
  }
  ctl_.vid = ctl_.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY;
  if (ctl_.vid) {
    ctl_.eoi_exit_bitmap[0] = v.read(F::EOI_EXIT_BITMAP0);
    ctl_.eoi_exit_bitmap[1] = v.read(F::EOI_EXIT_BITMAP1);
    ctl_.eoi_exit_bitmap[2] = v.read(F::EOI_EXIT_BITMAP2);
    ctl_.eoi_exit_bitmap[3] = v.read(F::EOI_EXIT_BITMAP3);
  }
  ctl_.posted_interrupts = ctl_.pin & pin_ctl::POSTED_INTERRUPTS;
  if (ctl_.posted_interrupts) {
    ctl_.notification_vector = uint8_t(v.read(F::POSTED_INTR_NV));
    ctl_.posted_interrupt_desc = v.read(F::POSTED_INTR_DESC_ADDR);
  }
}

namespace {

// Segment K of kGuestSegmentFields (ES..GS, LDTR, TR), its fields known at
// compile time so each access is one load or store.
template <size_t K>
Segment segment_from(const Vmcs& v) {
  constexpr GuestSegmentFields f = kGuestSegmentFields[K];
  return Segment{uint16_t(v.get<f.selector>()), v.get<f.base>(), uint32_t(v.get<f.limit>()),
                 uint32_t(v.get<f.access_rights>())};
}
template <size_t K>
void segment_to(Vmcs& v, const Segment& s) {
  constexpr GuestSegmentFields f = kGuestSegmentFields[K];
  v.set<f.selector>(s.selector);
  v.set<f.base>(s.base);
  v.set<f.limit>(s.limit);
  v.set<f.access_rights>((s.ar & ar::UNUSABLE) ? ar::UNUSABLE : s.ar);
}
// The CPU's segment registers in kGuestSegmentFields order.
inline Segment& guest_segment(CpuState& s, size_t k) {
  return k < 6 ? s.seg[k] : k == kGuestLdtrIndex ? s.ldtr : s.tr;
}
template <size_t... K>
void segments_from(const Vmcs& v, CpuState& s, std::index_sequence<K...>) {
  ((guest_segment(s, K) = segment_from<K>(v)), ...);
}
template <size_t... K>
void segments_to(Vmcs& v, CpuState& s, std::index_sequence<K...>) {
  (segment_to<K>(v, guest_segment(s, K)), ...);
}

constexpr const VmcsField* kGuestPdptes = kGuestPdpteFields;

}  // namespace

// SDM 26.3.2: loading guest state.
void Vmx::load_guest_state(Vmcs& v) {
  CpuState& s = cpu_.state();
  s.cr0 = v.read(F::GUEST_CR0);
  s.cr3 = v.read(F::GUEST_CR3);
  s.cr4 = v.read(F::GUEST_CR4);
  if (ctl_.entry & entry_ctl::LOAD_DEBUG_CONTROLS) {
    s.dr[7] = v.read(F::GUEST_DR7);
    s.debugctl = v.read(F::GUEST_IA32_DEBUGCTL);
    cpu_.debug_registers_changed();
  }
  s.sysenter_cs = v.read(F::GUEST_SYSENTER_CS);
  s.sysenter_esp = v.read(F::GUEST_SYSENTER_ESP);
  s.sysenter_eip = v.read(F::GUEST_SYSENTER_EIP);
  if (ctl_.entry & entry_ctl::LOAD_PAT) s.pat = v.read(F::GUEST_IA32_PAT);
  const bool ia32e = ctl_.entry & entry_ctl::IA32E_MODE_GUEST;
  if (ctl_.entry & entry_ctl::LOAD_EFER) {
    s.efer = v.read(F::GUEST_IA32_EFER);
  } else {
    // LMA takes the "IA-32e mode guest" control; LME too when CR0.PG is 1.
    s.efer = (s.efer & ~(arch::efer::LMA | arch::efer::LME)) | (ia32e ? arch::efer::LMA : 0) |
             ((ia32e && (s.cr0 & arch::cr0::PG)) ? arch::efer::LME : 0);
  }
  segments_from(v, s, std::make_index_sequence<8>());  // ES..GS, LDTR, TR
  s.gdtr = TableRegister{v.read(F::GUEST_GDTR_BASE), uint16_t(v.read(F::GUEST_GDTR_LIMIT))};
  s.idtr = TableRegister{v.read(F::GUEST_IDTR_BASE), uint16_t(v.read(F::GUEST_IDTR_LIMIT))};
  s.r[RSP] = v.read(F::GUEST_RSP);
  s.rip() = v.read(F::GUEST_RIP);
  s.rflags = v.read(F::GUEST_RFLAGS) | fl::FIXED1;
  cpu_.rflags_loaded();
  // CPL is SS.DPL after VM entry (SDM 26.3.2.2 / 27.3.1).
  cpu_.set_cpl(uint8_t((s.seg[arch::seg::SS].ar & ar::DPL_MASK) >> ar::DPL_SHIFT));  // and CR0.AM/RFLAGS.AC
  const uint64_t intr = v.read(F::GUEST_INTERRUPTIBILITY_INFO);
  cpu_.set_interrupt_shadow(interruptibility::BLOCKING_BY_STI.test(intr) ||
                                interruptibility::BLOCKING_BY_MOV_SS.test(intr),
                            interruptibility::BLOCKING_BY_MOV_SS.test(intr));
  cpu_.set_halted(v.read(F::GUEST_ACTIVITY_STATE) == activity_state::HLT);
  // Blocking by NMI is virtual-NMI blocking with "virtual NMIs", else the
  // processor's own (SDM 26.3.2.5).
  virtual_nmi_blocked_ = (ctl_.pin & pin_ctl::VIRTUAL_NMIS) && interruptibility::BLOCKING_BY_NMI.test(intr);
  cpu_.set_nmi_blocked(!(ctl_.pin & pin_ctl::VIRTUAL_NMIS) && interruptibility::BLOCKING_BY_NMI.test(intr));
  // Pending debug exceptions (SDM 26.6.3): B0-B3 and BS become debug traps
  // pending at the first boundary in the guest (held over its first
  // instruction by MOV SS blocking), unless VM entry injects an external
  // interrupt, NMI, hardware exception or privileged software exception,
  // after which there are none.
  const uint64_t info = v.read(F::VM_ENTRY_INTR_INFO_FIELD);
  const uint64_t type = intr_info::TYPE.get(info);
  const bool vectoring_clears = intr_info::VALID.test(info) && type != intr_info::TYPE_SOFTWARE_INTERRUPT &&
                                type != intr_info::TYPE_SOFTWARE_EXCEPTION && type != intr_info::TYPE_OTHER_EVENT;
  const uint64_t pending = v.read(F::GUEST_PENDING_DBG_EXCEPTIONS) &
                           (arch::debug::DR6_B0_B3 | pending_dbg::BS.mask);
  cpu_.set_pending_debug_exceptions(vectoring_clears ? 0 : pending);
  cpu_.recompute_mode();
}

// The longest MSR list the CPU processes: 512 * (N + 1), N from
// IA32_VMX_MISC bits 27:25 (SDM A.6). Past it, loading fails at entry
// max + 1 (as KVM's nested_vmx_load_msr does) and storing aborts.
static uint32_t max_msr_list() { return vmx_misc_max_msr_list(sim_vmx_capabilities().misc); }

bool Vmx::load_msr_list(uint64_t address, uint32_t count, uint32_t* failed_index) {
  if (count > max_msr_list()) {
    *failed_index = max_msr_list() + 1;
    return false;
  }
  for (uint32_t k = 0; k < count; ++k) {
    const uint64_t entry = address + 16ull * k;
    const uint32_t index = uint32_t(cpu_.phys_read(entry, 4));
    const uint64_t value = cpu_.phys_read(entry + 8, 8);
    // SDM 26.4: FS/GS base, the x2APIC range and SMM MSRs may not be loaded
    // this way; any MSR write that would #GP fails the load.
    const bool forbidden = index == arch::msr::IA32_FS_BASE || index == arch::msr::IA32_GS_BASE ||
                           (index >> 8) == (arch::msr::X2APIC_FIRST >> 8) || (cpu_.phys_read(entry + 4, 4) != 0);
    try {
      if (forbidden) throw GuestFault{13, true, 0};
      cpu_.write_msr(index, value);
    } catch (const GuestFault&) {
      *failed_index = k + 1;  // SDM 26.8: the qualification numbers entries from 1
      return false;
    }
  }
  return true;
}

bool Vmx::store_msr_list(uint64_t address, uint32_t count) {
  if (count > max_msr_list()) return false;
  for (uint32_t k = 0; k < count; ++k) {
    const uint64_t entry = address + 16ull * k;
    const uint32_t index = uint32_t(cpu_.phys_read(entry, 4));
    uint64_t value;
    try {
      // Stored as part of the VM exit, not by the guest: IA32_TSC is the
      // processor's, without the exiting guest's TSC offset (which only
      // its own RDTSC/RDMSR see, SDM 25.3); KVM reads its autostored TSC
      // so too.
      value = index == arch::msr::IA32_TIME_STAMP_COUNTER ? cpu_.read_tsc() : cpu_.read_msr(index);
    } catch (const GuestFault&) {
      return false;  // SDM 27.4: an MSR that cannot be read is a VMX abort
    }
    cpu_.phys_write(entry + 8, 8, value);
  }
  return true;
}

void Vmx::vmx_abort(arch::vmx::VmxAbort indicator) {
  cpu_.phys_write(current_pa_ + 4, 4, uint32_t(indicator));
  if (current_) current_->abort_indicator = uint32_t(indicator);
  cpu_.shutdown(std::string("VMX abort: ") + vmx_abort_name(uint32_t(indicator)));
}

// A VM-entry failure after the checks of 26.2 (SDM 26.8): host state is
// loaded as on a VM exit, with bit 31 of the exit reason set.
void Vmx::entry_failure(Vmcs& v, uint32_t reason, uint64_t qualification) {
  ++cpu_.counters().vm_exits;
  v.write(F::VM_EXIT_REASON, reason | exit_reason_field::ENTRY_FAILURE.mask);
  v.write(F::EXIT_QUALIFICATION, qualification);
  v.write(F::VM_ENTRY_INTR_INFO_FIELD, v.read(F::VM_ENTRY_INTR_INFO_FIELD) & ~intr_info::VALID.mask);
  load_host_state(v);
  uint32_t ignored;
  if (!load_msr_list(v.read(F::VM_EXIT_MSR_LOAD_ADDR), uint32_t(v.read(F::VM_EXIT_MSR_LOAD_COUNT)), &ignored))
    vmx_abort(VmxAbort::LOAD_HOST_MSR_FAIL);
  if (CpuTraceSink* t = cpu_.trace_sink()) {
    HwExitEvent e{};
    e.cycles = cpu_.cycles();
    e.instructions = cpu_.instructions();
    e.exit_reason = reason | uint32_t(exit_reason_field::ENTRY_FAILURE.mask);
    e.qualification = qualification;
    e.guest_rip = v.read(F::GUEST_RIP);
    e.vmcs = current_pa_;
    t->hw_exit(e);
  }
}

// VMLAUNCH/VMRESUME after the instruction's own checks (SDM 26.1): the
// caller established VMX root operation at CPL 0.
void Vmx::vmlaunch(bool resume) {
  if (!current_ || current_->shadow) return vm_fail_invalid();
  if (cpu_.shadow_by_mov_ss()) return vm_fail_valid(uint32_t(VmInstructionError::ENTRY_EVENTS_BLOCKED_BY_MOV_SS));
  if (!resume && current_->launched) return vm_fail_valid(uint32_t(VmInstructionError::VMLAUNCH_NONCLEAR_VMCS));
  if (resume && !current_->launched) return vm_fail_valid(uint32_t(VmInstructionError::VMRESUME_NONLAUNCHED_VMCS));

  Vmcs& v = *current_;
  const auto read_phys = [](void* cpu, uint64_t pa, unsigned size) {
    return static_cast<Cpu*>(cpu)->phys_read(pa, size);
  };
  EntryCheckContext ctx{sim_vmx_capabilities(), read_phys, &cpu_, vmxon_region_, current_pa_};
  ctx.cpu_in_ia32e_mode = cpu_.state().efer & arch::efer::LMA;
  // With "load debug controls" the IA32_DEBUGCTL bits the sim's WRMSR
  // refuses are reserved in the guest field too (SDM 26.3.1.1).
  ctx.debugctl_supported = arch::msr::DEBUGCTL_IMPLEMENTED;
  // Checks that passed with these fields pass again: only those whose
  // fields changed since, or that read memory, run (common/vmx/entry_check_cache.h).
  const EntryCheckResult check = v.entry_checks.check(VmcsView{v.fields()}, ctx, v.versions());
  if (check.failure == EntryFailure::Control)
    return vm_fail_valid(uint32_t(VmInstructionError::ENTRY_INVALID_CONTROL_FIELD));
  if (check.failure == EntryFailure::HostState)
    return vm_fail_valid(uint32_t(VmInstructionError::ENTRY_INVALID_HOST_STATE_FIELD));
  cpu_.charge(cpu_.costs()[CostClass::vm_entry]);
  if (check.failure == EntryFailure::GuestState)
    return entry_failure(v, uint32_t(ExitReason::INVALID_GUEST_STATE), check.qualification);

  decode_controls(v);
  load_guest_state(v);
  uint32_t failed;
  if (!load_msr_list(v.read(F::VM_ENTRY_MSR_LOAD_ADDR), uint32_t(v.read(F::VM_ENTRY_MSR_LOAD_COUNT)), &failed))
    return entry_failure(v, uint32_t(ExitReason::MSR_LOAD_FAIL), failed);

  v.launched = true;
  ++cpu_.counters().vm_entries;
  non_root_ = true;
  cpu_.set_non_root(true);
  cpu_.set_ept_active(ctl_.proc2 & proc_ctl2::ENABLE_EPT);
  // A PAE-paging guest gets its PDPTEs from the VMCS with EPT, else from
  // memory at guest CR3 (SDM 26.3.2.4); entry checks vetted both.
  if (cpu_.pae_paging()) {
    if (ctl_.proc2 & proc_ctl2::ENABLE_EPT) {
      for (unsigned k = 0; k < 4; ++k) cpu_.state().pdpte[k] = v.read(kGuestPdptes[k]);
    } else {
      cpu_.read_pdptes(cpu_.state().cr3, cpu_.state().pdpte);
    }
  }
  // TLB context (SDM 28.3.3): without VPID, entries and exits flush VPID 0.
  const uint64_t ept_tag = ctl_.eptp ? ((ctl_.eptp & arch::pte::ADDR_MASK) << 4) : 0;
  cpu_.switch_tlb_context(ctl_.vpid | ept_tag, ctl_.vpid == 0);
  // Accesses to the APIC-access page must reach Cpu::apic_access_page_access:
  // no translation to it may stay cached (the TLB never caches one while
  // the control is on).
  cpu_.set_apic_access_page(ctl_.apic_access ? ctl_.apic_access_page : Cpu::kNoApicAccessPage);

  if (CpuTraceSink* t = cpu_.trace_sink()) {
    HwEntryEvent e{};
    e.cycles = cpu_.cycles();
    e.instructions = cpu_.instructions();
    e.vmcs = current_pa_;
    e.guest_rip = cpu_.state().rip();
    e.launch = !resume;
    t->hw_entry(e);
  }
  preemption_deadline_ = ~0ull;
  if (ctl_.pin & pin_ctl::PREEMPTION_TIMER) {
    // The timer counts down each time TSC bit X changes (SDM 25.5.1).
    const uint64_t value = uint32_t(v.read(F::VMX_PREEMPTION_TIMER_VALUE));
    const uint64_t tsc = cpu_.read_tsc();
    preemption_deadline_ = cpu_.cycles() + ((((tsc >> kPreemptionTimerRate) + value) << kPreemptionTimerRate) - tsc);
  }
  mtf_pending_ = ctl_.proc & proc_ctl::MONITOR_TRAP_FLAG;
  // With virtual-interrupt delivery, VM entry loads RVI and SVI (they stay
  // in the VMCS), then PPR virtualization and evaluation (SDM 26.3.2.5).
  virtual_interrupt_recognized_ = false;
  if (ctl_.vid) virtualize_ppr_and_evaluate();
  cpu_.check_events_soon();
  cpu_.end_block();
  const bool injected = intr_info::VALID.test(v.read(F::VM_ENTRY_INTR_INFO_FIELD));
  inject_event(v);
  // After injecting an event, a pending MTF VM exit happens at once, before
  // the handler's first instruction (SDM 25.5.2).
  // SDM 26.6.7: with "use TPR shadow" and "virtualize APIC accesses" (and
  // no virtual-interrupt delivery), a VM exit right after entry — after any
  // injection, before a pending MTF exit — if TPR threshold[3:0] exceeds
  // VTPR[7:4] (the entry checks do not test it then).
  if (non_root_ && ctl_.apic_access && !ctl_.vid && (ctl_.proc & proc_ctl::USE_TPR_SHADOW) && tpr_below_threshold()) {
    mtf_pending_ = false;
    return vm_exit(VmExitRequest{uint32_t(ExitReason::TPR_BELOW_THRESHOLD)}, cpu_.state().rip());
  }
  if (injected && mtf_pending_ && non_root_) {
    mtf_pending_ = false;
    vm_exit(VmExitRequest{uint32_t(ExitReason::MONITOR_TRAP_FLAG)}, cpu_.state().rip());
  }
}

// SDM 26.6: event injection through the guest's IDT.
void Vmx::inject_event(Vmcs& v) {
  const uint64_t info = v.read(F::VM_ENTRY_INTR_INFO_FIELD);
  if (!intr_info::VALID.test(info)) return;
  v.write(F::VM_ENTRY_INTR_INFO_FIELD, info & ~intr_info::VALID.mask);
  const uint8_t vector = uint8_t(intr_info::VECTOR.get(info));
  const uint64_t type = intr_info::TYPE.get(info);
  const bool has_error = intr_info::ERROR_CODE_VALID.test(info);
  const uint32_t error = uint32_t(v.read(F::VM_ENTRY_EXCEPTION_ERROR_CODE));
  const bool software = type == intr_info::TYPE_SOFTWARE_INTERRUPT || type == intr_info::TYPE_SOFTWARE_EXCEPTION ||
                        type == intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION;
  // Injecting an NMI with virtual NMIs blocks further virtual NMIs (SDM 26.6.1.2).
  if (type == intr_info::TYPE_NMI && (ctl_.pin & pin_ctl::VIRTUAL_NMIS)) virtual_nmi_blocked_ = true;
  // Software events push RIP + the VM-entry instruction length.
  const uint64_t rip = cpu_.state().rip();
  const unsigned len = software ? unsigned(v.read(F::VM_ENTRY_INSTRUCTION_LEN)) : 0;
  cpu_.state().rip() = rip + len;
  cpu_.inject(vector, has_error, error, software, type == intr_info::TYPE_EXTERNAL_INTERRUPT, rip, len);
}

// ---------------------------------------------------------------- VM exit

// SDM 27.3: saving guest state.
void Vmx::save_guest_state(Vmcs& v, uint64_t guest_rip) {
  const CpuState& s = cpu_.state();
  v.write(F::GUEST_CR0, s.cr0);
  v.write(F::GUEST_CR3, s.cr3);
  v.write(F::GUEST_CR4, s.cr4);
  if (ctl_.exit & exit_ctl::SAVE_DEBUG_CONTROLS) {
    v.write(F::GUEST_DR7, s.dr[7]);
    v.write(F::GUEST_IA32_DEBUGCTL, s.debugctl);
  }
  v.write(F::GUEST_RSP, s.r[RSP]);
  v.write(F::GUEST_RIP, guest_rip);
  v.write(F::GUEST_RFLAGS, s.rflags);
  segments_to(v, cpu_.state(), std::make_index_sequence<8>());  // ES..GS, LDTR, TR
  v.write(F::GUEST_GDTR_BASE, s.gdtr.base);
  v.write(F::GUEST_GDTR_LIMIT, s.gdtr.limit);
  v.write(F::GUEST_IDTR_BASE, s.idtr.base);
  v.write(F::GUEST_IDTR_LIMIT, s.idtr.limit);
  v.write(F::GUEST_SYSENTER_CS, s.sysenter_cs);
  v.write(F::GUEST_SYSENTER_ESP, s.sysenter_esp);
  v.write(F::GUEST_SYSENTER_EIP, s.sysenter_eip);
  if (ctl_.exit & exit_ctl::SAVE_PAT) v.write(F::GUEST_IA32_PAT, s.pat);
  // With EPT, a PAE-paging guest's PDPTEs are saved (SDM 27.3.4).
  if ((ctl_.proc2 & proc_ctl2::ENABLE_EPT) && cpu_.pae_paging()) {
    for (unsigned k = 0; k < 4; ++k) v.write(kGuestPdptes[k], s.pdpte[k]);
  }
  if (ctl_.exit & exit_ctl::SAVE_EFER) v.write(F::GUEST_IA32_EFER, s.efer);
  const uint64_t shadow = !cpu_.in_interrupt_shadow() ? 0
                          : cpu_.shadow_by_mov_ss()   ? interruptibility::BLOCKING_BY_MOV_SS.mask
                                                      : interruptibility::BLOCKING_BY_STI.mask;
  const bool nmi_blocked = (ctl_.pin & pin_ctl::VIRTUAL_NMIS) ? virtual_nmi_blocked_ : cpu_.nmi_blocked();
  v.write(F::GUEST_INTERRUPTIBILITY_INFO, shadow | (nmi_blocked ? interruptibility::BLOCKING_BY_NMI.mask : 0));
  v.write(F::GUEST_ACTIVITY_STATE, cpu_.halted() ? activity_state::HLT : activity_state::ACTIVE);
  // Debug traps pending at the exit's boundary (held by MOV SS blocking, or
  // behind an MTF or trap-like exit that outranks them) are the VMM's now
  // (SDM 27.3.4).
  v.write(F::GUEST_PENDING_DBG_EXCEPTIONS, cpu_.take_pending_debug_exceptions());
  if (ctl_.exit & exit_ctl::SAVE_PREEMPTION_TIMER) {
    uint64_t left = 0;
    if (preemption_deadline_ != ~0ull && preemption_deadline_ > cpu_.cycles())
      left = (preemption_deadline_ - cpu_.cycles()) >> kPreemptionTimerRate;
    v.write(F::VMX_PREEMPTION_TIMER_VALUE, left);
  }
  // IA32_VMX_MISC bit 5: the "IA-32e mode guest" entry control gets EFER.LMA.
  const uint64_t entry = v.read(F::VM_ENTRY_CONTROLS);
  v.write(F::VM_ENTRY_CONTROLS,
          (s.efer & arch::efer::LMA) ? (entry | entry_ctl::IA32E_MODE_GUEST) : (entry & ~uint64_t(entry_ctl::IA32E_MODE_GUEST)));
}

// SDM 27.5: loading host state (the rules: common/vmx/host_state, shared
// with l1-vmm's nested VM exit).
void Vmx::load_host_state(Vmcs& v) {
  CpuState& s = cpu_.state();
  const common::vmx::VmcsReader reader{
      &v, [](void* ctx, uint32_t enc) { return static_cast<Vmcs*>(ctx)->read(VmcsField(enc)); }};
  const common::vmx::HostStateLoad& h = v.host_load.get(reader, v.versions().controls_and_host(), s.efer, s.cr0);
  s.cr0 = h.cr0;
  s.cr3 = h.cr3;
  s.cr4 = h.cr4;
  s.dr[7] = h.dr7;
  s.debugctl = h.debugctl;
  cpu_.debug_registers_changed();
  s.sysenter_cs = h.sysenter_cs;
  s.sysenter_esp = h.sysenter_esp;
  s.sysenter_eip = h.sysenter_eip;
  if (h.load_pat) s.pat = h.pat;
  s.efer = h.efer;
  auto segment = [](const common::vmx::LoadedSegment& l) { return Segment{l.selector, l.base, l.limit, l.access_rights}; };
  for (unsigned i = 0; i < 6; i++) s.seg[i] = segment(h.seg[i]);
  s.tr = segment(h.tr);
  s.ldtr = segment(h.ldtr);
  s.gdtr = TableRegister{h.gdtr_base, common::vmx::HOST_DESCRIPTOR_TABLE_LIMIT};
  s.idtr = TableRegister{h.idtr_base, common::vmx::HOST_DESCRIPTOR_TABLE_LIMIT};
  s.r[RSP] = h.rsp;
  s.rip() = h.rip;
  s.rflags = h.rflags;
  non_root_ = false;
  cpu_.set_non_root(false);
  cpu_.set_ept_active(false);
  cpu_.set_apic_access_page(Cpu::kNoApicAccessPage);
  cpu_.set_cpl(0);  // alignment checking off with it
  cpu_.set_halted(false);
  cpu_.set_interrupt_shadow(false);
  cpu_.switch_tlb_context(0, ctl_.vpid == 0);
  cpu_.recompute_mode();
  // A PAE-paging host reloads its PDPTEs from memory (SDM 27.5.4).
  if (cpu_.pae_paging()) cpu_.read_pdptes(s.cr3, s.pdpte);
  preemption_deadline_ = ~0ull;
  mtf_pending_ = false;
  virtual_interrupt_recognized_ = false;
}

// The exiting instruction's bytes for the trace. The fetch has just
// translated them, so the TLB usually holds their page (or pages): read
// through it, with no walk. Otherwise eight at a time while they stay on
// one page (a read is a page walk, and an EPT walk in a guest), then byte
// by byte; the bytes up to an unreadable one.
void Vmx::read_exiting_instruction(uint64_t la, HwExitEvent& e) {
  if (!e.insn_len) return;
  uint64_t pa;
  // Nearly always: one page of RAM that the TLB holds for the fetch just
  // made. Fifteen bytes are copied whatever the length (those past it are
  // not the instruction's; the trace keeps insn_len bytes).
  if ((la & 0xfff) + sizeof e.insn_bytes <= 0x1000 && cpu_.tlb_peek(la, &pa) &&
      cpu_.memory().contains(pa, sizeof e.insn_bytes)) {
    std::memcpy(e.insn_bytes, cpu_.memory().ptr(pa), sizeof e.insn_bytes);
    return;
  }
  read_exiting_instruction_slowly(la, e);
}

// Across a page, near the end of RAM, or not in the TLB.
void Vmx::read_exiting_instruction_slowly(uint64_t la, HwExitEvent& e) {
  uint64_t pa_first, pa_last;
  const uint64_t last = la + e.insn_len - 1;
  if (cpu_.tlb_peek(la, &pa_first) && cpu_.tlb_peek(last, &pa_last)) {
    const unsigned on_first = (la >> 12) == (last >> 12) ? e.insn_len : unsigned(0x1000 - (la & 0xfff));
    if (cpu_.memory().contains(pa_first, on_first) &&
        cpu_.memory().contains(pa_last & ~0xfffull, e.insn_len - on_first)) {
      __builtin_memcpy(e.insn_bytes, cpu_.memory().ptr(pa_first), on_first);
      if (on_first < e.insn_len) __builtin_memcpy(e.insn_bytes + on_first, cpu_.memory().ptr(pa_last & ~0xfffull), e.insn_len - on_first);
      return;
    }
  }
  unsigned k = 0;
  try {
    while (k < e.insn_len) {
      const uint64_t at = la + k;
      if (e.insn_len - k >= 8 && (at & 0xfff) <= 0x1000 - 8) {
        const uint64_t q = cpu_.read_system(at, 8);
        __builtin_memcpy(e.insn_bytes + k, &q, 8);
        k += 8;
      } else {
        e.insn_bytes[k] = uint8_t(cpu_.read_system(at, 1));
        k += 1;
      }
    }
  } catch (...) {
    for (unsigned i = k; i < e.insn_len; ++i) e.insn_bytes[i] = 0;
  }
}

void Vmx::vm_exit(const VmExitRequest& r, uint64_t guest_rip) {
  Vmcs& v = *current_;
  ++cpu_.counters().vm_exits;
  cpu_.charge(cpu_.costs()[CostClass::vm_exit]);
  // Exit-information fields (SDM 27.2).
  v.write(F::VM_EXIT_REASON, r.reason);
  v.write(F::EXIT_QUALIFICATION, r.qualification);
  v.write(F::GUEST_LINEAR_ADDRESS, r.guest_linear);
  v.write(F::GUEST_PHYSICAL_ADDRESS, r.guest_physical);
  v.write(F::VM_EXIT_INTR_INFO, r.intr_info);
  v.write(F::VM_EXIT_INTR_ERROR_CODE, r.intr_error);
  v.write(F::IDT_VECTORING_INFO_FIELD, cpu_.take_idt_vectoring_info());
  v.write(F::IDT_VECTORING_ERROR_CODE, cpu_.idt_vectoring_error());
  v.write(F::VM_EXIT_INSTRUCTION_LEN, r.insn_len);
  v.write(F::VMX_INSTRUCTION_INFO, r.insn_info);
  // SDM 27.2.5: VM exits clear the valid bit of the entry-interruption field.
  v.write(F::VM_ENTRY_INTR_INFO_FIELD, v.read(F::VM_ENTRY_INTR_INFO_FIELD) & ~intr_info::VALID.mask);

  if (CpuTraceSink* t = cpu_.trace_sink()) {
    HwExitEvent e{};
    e.cycles = cpu_.cycles();
    e.instructions = cpu_.instructions();
    e.exit_reason = r.reason;
    e.qualification = r.qualification;
    e.guest_rip = guest_rip;
    e.guest_linear_address = r.guest_linear;
    e.guest_physical_address = r.guest_physical;
    e.intr_info = r.intr_info;
    e.insn_len = uint8_t(r.insn_len > 15 ? 15 : r.insn_len);
    if (t->wants_instruction_bytes()) read_exiting_instruction(cpu_.state().seg[arch::seg::CS].base + guest_rip, e);
    e.vmcs = current_pa_;
    t->hw_exit(e);
  }

  save_guest_state(v, guest_rip);
  const bool stored = store_msr_list(v.read(F::VM_EXIT_MSR_STORE_ADDR), uint32_t(v.read(F::VM_EXIT_MSR_STORE_COUNT)));
  load_host_state(v);
  if (!stored) return vmx_abort(VmxAbort::SAVE_GUEST_MSR_FAIL);
  uint32_t ignored;
  if (!load_msr_list(v.read(F::VM_EXIT_MSR_LOAD_ADDR), uint32_t(v.read(F::VM_EXIT_MSR_LOAD_COUNT)), &ignored))
    return vmx_abort(VmxAbort::LOAD_HOST_MSR_FAIL);
  cpu_.check_events_soon();
  cpu_.end_block();
}

// ------------------------------------------------------- INVEPT / INVVPID

void Vmx::invept(uint64_t type, uint64_t eptp) {
  if (type == invept_type::SINGLE_CONTEXT) {
    // The EPTP must pass VM entry's EPTP checks (SDM 30.3 INVEPT, 26.2.1.1).
    if (!check_eptp(eptp, sim_vmx_capabilities()).ok())
      return vm_fail(uint32_t(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND));
    const uint64_t tag = (eptp & arch::pte::ADDR_MASK) << 4;
    cpu_.flush_ept_cache();  // every EP4TA's: more than asked, which 28.3.3 allows
    cpu_.flush_tlb_contexts([tag](uint64_t key) { return (Cpu::tlb_vmx_key(key) & ~0xffffull) == tag; });
  } else if (type == invept_type::ALL_CONTEXT) {
    cpu_.flush_ept_cache();
    cpu_.flush_tlb_contexts([](uint64_t key) { return (Cpu::tlb_vmx_key(key) & ~0xffffull) != 0; });
  } else {
    return vm_fail(uint32_t(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND));
  }
  vm_succeed();
}

void Vmx::invvpid(uint64_t type, uint16_t vpid, uint64_t linear) {
  switch (type) {
    case invvpid_type::INDIVIDUAL_ADDRESS:
      for (uint64_t key : cpu_.tlb_context_keys())
        if ((key & 0xffff) == vpid) cpu_.invlpg_in_context(key, linear);
      break;
    case invvpid_type::SINGLE_CONTEXT:
      cpu_.flush_tlb_contexts([vpid](uint64_t key) { return (key & 0xffff) == vpid; });
      break;
    case invvpid_type::ALL_CONTEXT:
      cpu_.flush_tlb_contexts([](uint64_t key) { return (key & 0xffff) != 0; });
      break;
    case invvpid_type::SINGLE_CONTEXT_RETAINING_GLOBALS:
      cpu_.flush_tlb_contexts([vpid](uint64_t key) { return (key & 0xffff) == vpid; }, false);
      break;
    default:
      return vm_fail(uint32_t(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND));
  }
  vm_succeed();
}

}  // namespace nestbed::sim::vmx
