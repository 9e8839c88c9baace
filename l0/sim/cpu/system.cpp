// System state: segment loads, control registers, MSRs, port I/O with the
// I/O permission bitmap, stack helpers outside 64-bit mode.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/decoder.h"
#include "l0/sim/vmx/capabilities.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch;

// ------------------------------------------------------- implicit accesses

uint64_t Cpu::read_system(uint64_t la, unsigned size) {
  uint64_t v = 0;
  for (unsigned k = 0; k < size;) {
    const uint64_t a = la + k;
    const unsigned chunk = std::min<unsigned>(size - k, unsigned(0x1000 - (a & 0xfff)));
    v |= phys_read(translate(a, Access::Read, true), chunk) << (8 * k);
    k += chunk;
  }
  return v;
}

void Cpu::write_system(uint64_t la, unsigned size, uint64_t value, bool supervisor) {
  // Translate every page first so a fault leaves memory untouched.
  const unsigned first = std::min<unsigned>(size, unsigned(0x1000 - (la & 0xfff)));
  const uint64_t pa0 = translate(la, Access::Write, supervisor);
  const uint64_t pa1 = first < size ? translate(la + first, Access::Write, supervisor) : 0;
  phys_write(pa0, first, value & (first == 8 ? ~0ull : ((1ull << (8 * first)) - 1)));
  if (first < size) phys_write(pa1, size - first, value >> (8 * first));
}

uint64_t Cpu::stack_pointer_mask() const {
  if (mode_ == CpuMode::Bits64) return ~0ull;
  return (s_.seg[seg::SS].ar & seg::ar::DB) ? 0xffffffffull : 0xffffull;
}

uint64_t Cpu::check_stack_canonical(uint64_t la, unsigned size) const {
  if (!arch::is_canonical(la) || !arch::is_canonical(la + size - 1)) raise_fault(uint8_t(Vector::SS), 0);
  return la;
}

uint64_t Cpu::read_stack(uint64_t sp, unsigned size) {
  if (mode_ == CpuMode::Bits64) return read_slow(check_stack_canonical(sp, size), size, Access::Read);
  const uint64_t mask = stack_pointer_mask();
  return read_slow(segment_linear(seg::SS, sp & mask, size, Access::Read), size, Access::Read);
}

void Cpu::push_legacy(uint64_t v, unsigned size) {
  const uint64_t mask = stack_pointer_mask();
  const uint64_t sp = (s_.r[RSP] - size) & mask;
  const uint64_t la = segment_linear(seg::SS, sp, size, Access::Write);
  write_slow(la, size, v);
  s_.r[RSP] = (s_.r[RSP] & ~mask) | sp;
}

uint64_t Cpu::pop_legacy(unsigned size) {
  const uint64_t mask = stack_pointer_mask();
  const uint64_t sp = s_.r[RSP] & mask;
  const uint64_t v = read_slow(segment_linear(seg::SS, sp, size, Access::Read), size, Access::Read);
  s_.r[RSP] = (s_.r[RSP] & ~mask) | ((sp + size) & mask);
  return v;
}

// Protected-mode segment checks for a data access (SDM 5.3, 5.4): the
// segment is usable, the access fits the limit (expand-up or expand-down)
// and the type permits it. Faults are #SS(0) for SS and #GP(0) otherwise.
// Real-address mode checks the cached limit only (SDM 20.1.1: type and
// privilege are not checked there; a write through CS works).
uint64_t Cpu::segment_linear(unsigned seg_index, uint64_t ea, unsigned size, Access a) {
  const Segment& sg = s_.seg[seg_index];
  if (mode_ == CpuMode::Bits64) return ea + sg.base;
  auto fail = [&]() {
    if (seg_index == seg::SS) raise_fault(uint8_t(Vector::SS), 0);
    raise_gp(0);
  };
  const bool real = real_mode();
  if ((sg.ar & seg::ar::UNUSABLE) && !real) fail();
  const uint64_t last = ea + size - 1;
  if ((sg.ar & seg::ar::TYPE_CODE) == 0 && (sg.ar & seg::ar::TYPE_CONFORMING)) {  // expand-down data
    const uint64_t upper = (sg.ar & seg::ar::DB) ? 0xffffffffull : 0xffffull;
    if (ea <= sg.limit || last > upper) fail();
  } else if (last > sg.limit) {
    fail();
  }
  if (real) return uint32_t(sg.base + ea);
  if (a == Access::Write && ((sg.ar & seg::ar::TYPE_CODE) || !(sg.ar & seg::ar::TYPE_WRITABLE))) fail();
  if (a == Access::Read && (sg.ar & seg::ar::TYPE_CODE) && !(sg.ar & seg::ar::TYPE_WRITABLE)) fail();
  return uint32_t(sg.base + ea);
}

// ------------------------------------------------------------ segmentation

bool Cpu::descriptor_address(uint16_t selector, uint64_t& la) const {
  const bool ldt = seg::selector_ti(selector);
  const uint64_t base = ldt ? s_.ldtr.base : s_.gdtr.base;
  const uint32_t limit = ldt ? s_.ldtr.limit : s_.gdtr.limit;
  if (ldt && (s_.ldtr.ar & seg::ar::UNUSABLE)) return false;
  const uint32_t offset = seg::selector_index(selector) * 8u;
  if (offset + 7 > limit) return false;
  la = base + offset;
  return true;
}

uint64_t Cpu::read_descriptor(uint16_t selector, uint32_t error_code) {
  uint64_t la;
  if (!descriptor_address(selector, la)) raise_gp(error_code);
  return read_system(la, 8);
}

void Cpu::set_cpl(uint8_t cpl) {
  // TLB entries carry permissions for user or supervisor accesses.
  if ((cpl == 3) != (s_.cpl == 3)) flush_tlb(true);
  s_.cpl = cpl;
  update_alignment_check();
}

void Cpu::update_alignment_check() {
  const bool on = (s_.cr0 & cr0::AM) && (s_.rflags & rflags::AC) && s_.cpl == 3;
  if (on && !alignment_check_) flush_tlb_contexts([](uint64_t) { return true; });  // fast-path tags skip the check
  alignment_check_ = on;
}

// Real-address mode (SDM 20.1.1, 9.9.2; vol. 2 MOV "IF in real-address
// mode"): a segment load sets the selector and the base (selector * 16)
// and nothing else. The limit and access rights keep what protected mode
// cached in them, as processors do, so a 4-GiB limit loaded before PE was
// cleared survives ("unreal" mode) and a CS left 32-bit keeps running
// 32-bit code. A register protected mode left unusable (a null selector)
// becomes a present 64-KiB read/write data segment, its state after reset.
// In virtual-8086 mode every load gives a 64-KiB DPL-3 read/write data
// segment (SDM 20.2.1).
void Cpu::load_segment_real(unsigned seg_index, uint16_t selector) {
  Segment& dst = s_.seg[seg_index];
  if (v8086()) {
    dst = Segment{selector, uint64_t(selector) << 4, 0xffff, seg::ar::V86};
    return;
  }
  if (dst.ar & seg::ar::UNUSABLE) {
    dst.limit = 0xffff;
    dst.ar = seg::ar::P | seg::ar::S | seg::ar::TYPE_WRITABLE | seg::ar::TYPE_ACCESSED;
  }
  dst.selector = selector;
  dst.base = uint64_t(selector) << 4;
}

// MOV/POP to DS, ES, FS, GS, SS (SDM vol. 2, MOV "Operation").
void Cpu::load_segment(unsigned seg_index, uint16_t selector) {
  if (real_mode() || v8086()) return load_segment_real(seg_index, selector);
  const uint32_t err = selector & 0xfffc;
  Segment& dst = s_.seg[seg_index];
  if ((selector & 0xfffc) == 0) {
    if (seg_index == seg::SS && !(mode_ == CpuMode::Bits64 && s_.cpl != 3 && (selector & 3) == s_.cpl))
      raise_gp(0);
    dst = Segment{selector, 0, 0, seg::ar::UNUSABLE};
    if (seg_index == seg::SS) dst.ar |= uint32_t(s_.cpl) << seg::ar::DPL_SHIFT;
    return;
  }
  uint64_t d = read_descriptor(selector, err);
  uint32_t ar = seg::descriptor_access_rights(d);
  const unsigned dpl = (ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
  const unsigned rpl = selector & 3;
  if (!(ar & seg::ar::S)) raise_gp(err);
  const bool code = ar & seg::ar::TYPE_CODE;
  if (seg_index == seg::SS) {
    if (code || !(ar & seg::ar::TYPE_WRITABLE) || rpl != s_.cpl || dpl != s_.cpl) raise_gp(err);
    if (!(ar & seg::ar::P)) raise_fault(uint8_t(Vector::SS), err);
  } else {
    if (code && !(ar & seg::ar::TYPE_WRITABLE)) raise_gp(err);  // execute-only code
    const bool conforming_code = code && (ar & seg::ar::TYPE_CONFORMING);
    if (!conforming_code && dpl < std::max<unsigned>(s_.cpl, rpl)) raise_gp(err);
    if (!(ar & seg::ar::P)) raise_fault(uint8_t(Vector::NP), err);
  }
  // Set the accessed bit in the descriptor, as the processor does.
  if (!(ar & seg::ar::TYPE_ACCESSED)) {
    const uint64_t base = seg::selector_ti(selector) ? s_.ldtr.base : s_.gdtr.base;
    write_system(base + seg::selector_index(selector) * 8u + 5, 1, ((d >> 40) & 0xff) | 1, true);
    ar |= seg::ar::TYPE_ACCESSED;
  }
  dst = Segment{selector, seg::descriptor_base(d), seg::descriptor_limit(d), ar};
}

// CS for a far JMP/CALL to a code segment (call gates are not modeled):
// non-conforming needs DPL = CPL and RPL <= CPL, conforming DPL <= CPL.
void Cpu::load_cs_for_far_transfer(uint16_t selector, bool is_call) {
  (void)is_call;
  if (real_mode() || v8086()) {
    load_segment_real(seg::CS, selector);
    recompute_mode();
    return;
  }
  const uint32_t err = selector & 0xfffc;
  if (err == 0) raise_gp(0);
  const uint64_t d = read_descriptor(selector, err);
  const uint32_t ar = seg::descriptor_access_rights(d);
  if (!(ar & seg::ar::S) || !(ar & seg::ar::TYPE_CODE)) raise_gp(err);  // gates and TSSs
  const unsigned dpl = (ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
  if (ar & seg::ar::TYPE_CONFORMING) {
    if (dpl > s_.cpl) raise_gp(err);
  } else if (dpl != s_.cpl || (selector & 3) > s_.cpl) {
    raise_gp(err);
  }
  if (!(ar & seg::ar::P)) raise_fault(uint8_t(Vector::NP), err);
  if ((s_.efer & efer::LMA) && (ar & seg::ar::L) && (ar & seg::ar::DB)) raise_gp(err);
  s_.seg[seg::CS] = Segment{uint16_t((selector & 0xfffc) | s_.cpl), seg::descriptor_base(d),
                            seg::descriptor_limit(d), ar};
  recompute_mode();
}

void Cpu::load_cs_checked(uint16_t selector, unsigned new_cpl) {
  const uint32_t err = selector & 0xfffc;
  if (err == 0) raise_gp(0);
  const uint64_t d = read_descriptor(selector, err);
  const uint32_t ar = seg::descriptor_access_rights(d);
  if (!(ar & seg::ar::S) || !(ar & seg::ar::TYPE_CODE)) raise_gp(err);
  const unsigned dpl = (ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
  if ((ar & seg::ar::TYPE_CONFORMING) ? dpl > new_cpl : dpl != new_cpl) raise_gp(err);
  if (!(ar & seg::ar::P)) raise_fault(uint8_t(Vector::NP), err);
  if ((s_.efer & efer::LMA) && (ar & seg::ar::L) && (ar & seg::ar::DB)) raise_gp(err);
  set_cpl(uint8_t(new_cpl));
  s_.seg[seg::CS] = Segment{selector, seg::descriptor_base(d), seg::descriptor_limit(d), ar};
  recompute_mode();
}

// ------------------------------------------------------ control registers

// MOV to CR0 (SDM vol. 2 MOV CR; vol. 3, 2.5 and 9.8.5 for IA-32e activation).
bool Cpu::pae_paging() const {
  return (s_.cr0 & cr0::PG) && (s_.cr4 & cr4::PAE) && !(s_.efer & efer::LMA);
}

bool Cpu::read_pdptes(uint64_t cr3, uint64_t out[4]) {
  for (unsigned k = 0; k < 4; ++k) {
    const uint64_t gpa = (cr3 & 0xffffffe0) + 8 * k;
    out[k] = phys_read(ept_active_ ? ept_translate(gpa, Access::Read, 0, false, true) : gpa, 8);
    if ((out[k] & pte::P) && (out[k] & pte::PAE_PDPTE_RSVD)) return false;
  }
  return true;
}

void Cpu::load_pdptes(uint64_t cr3) {
  uint64_t pdpte[4];
  if (!read_pdptes(cr3, pdpte)) raise_gp(0);
  std::copy(pdpte, pdpte + 4, s_.pdpte);
}

// CR0 bits the architecture defines; writes of the others are ignored, as
// KVM does (SDM 2.5: software should write reserved bits as previously read).
static constexpr uint64_t kCr0Defined = cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::ET | cr0::NE | cr0::WP |
                                        cr0::AM | cr0::NW | cr0::CD | cr0::PG;

void Cpu::write_cr0(uint64_t v) {
  if (v >> 32) raise_gp(0);
  v = (v & kCr0Defined) | cr0::ET;
  // In VMX root operation the bits fixed by IA32_VMX_CR0_FIXED0 stay 1 (SDM 23.8).
  if (vmx_->in_vmx_operation() && !non_root_ && (~v & vmx::sim_vmx_capabilities().cr0_fixed0)) raise_gp(0);
  if ((v & cr0::PG) && !(v & cr0::PE)) raise_gp(0);
  if ((v & cr0::NW) && !(v & cr0::CD)) raise_gp(0);
  const uint64_t old = s_.cr0;
  const bool enabling_paging = (v & cr0::PG) && !(old & cr0::PG);
  const bool disabling_paging = !(v & cr0::PG) && (old & cr0::PG);
  if (enabling_paging && (s_.efer & efer::LME)) {
    if (!(s_.cr4 & cr4::PAE)) raise_gp(0);
    if (s_.seg[seg::CS].ar & seg::ar::L) raise_gp(0);
    s_.efer |= efer::LMA;
  }
  if (disabling_paging && (s_.efer & efer::LMA)) {
    if (mode_ == CpuMode::Bits64) raise_gp(0);
    s_.efer &= ~efer::LMA;
  }
  // Enabling PAE paging (or changing CD/NW under it) loads the PDPTEs (SDM 4.4.1).
  if ((v & cr0::PG) && (s_.cr4 & cr4::PAE) && !(s_.efer & efer::LMA) &&
      ((old ^ v) & (cr0::PG | cr0::CD | cr0::NW))) {
    uint64_t pdpte[4];
    if (!read_pdptes(s_.cr3, pdpte)) {
      if (enabling_paging && (s_.efer & efer::LME)) s_.efer &= ~efer::LMA;
      raise_gp(0);
    }
    std::copy(pdpte, pdpte + 4, s_.pdpte);
  }
  s_.cr0 = v;
  if ((old ^ v) & cr0::AM) update_alignment_check();
  if ((old ^ v) & (cr0::PG | cr0::WP | cr0::PE)) flush_tlb(true);
  recompute_mode();
}

// With CR4.PCIDE, CR3[11:0] is the PCID and bit 63 of the source says
// whether to keep that PCID's cached translations (1) or drop its
// non-global ones (0); bit 63 is not stored (SDM 4.10.4.1).
void Cpu::write_cr3(uint64_t v) {
  const bool pcide = s_.cr4 & cr4::PCIDE;
  const bool keep = pcide && (v >> 63);
  if (pcide) v &= ~(1ull << 63);
  if ((s_.efer & efer::LMA) && (v & ~((1ull << pte::MAXPHYADDR) - 1))) raise_gp(0);
  if (pae_paging()) load_pdptes(v);
  s_.cr3 = v;
  if (pcide) select_tlb_context(tlb_base_key_ | ((v & 0xfff) << TLB_KEY_PCID_SHIFT), false);
  if (!keep) flush_tlb(false);  // SDM 4.10.4.1: MOV to CR3 keeps global translations
  else new_fetch_generation();  // translations stay; fetches cached under the old CR3 do not
  end_block();
}

// CR4 bits this CPU implements; setting any other raises #GP (SDM 2.5).
// OSXSAVE because CPUID.01H:ECX.XSAVE is reported (SDM 2.5, CR4.OSXSAVE).
static constexpr uint64_t kCr4Supported = cr4::DE | cr4::PSE | cr4::PAE | cr4::MCE | cr4::PGE | cr4::PCE |
                                          cr4::OSFXSR | cr4::OSXMMEXCPT | cr4::TSD | cr4::VMXE | cr4::UMIP |
                                          cr4::PCIDE | cr4::OSXSAVE;

void Cpu::write_cr4(uint64_t v) {
  if (v & ~kCr4Supported) raise_gp(0);
  // CR4.VMXE cannot be cleared in VMX operation (SDM 23.8).
  if (!(v & cr4::VMXE) && vmx_->in_vmx_operation() && !non_root_) raise_gp(0);
  if ((s_.efer & efer::LMA) && !(v & cr4::PAE)) raise_gp(0);
  const uint64_t old = s_.cr4;
  // Under PAE paging a change of PAE, PGE or PSE reloads the PDPTEs (SDM 4.4.1).
  if ((s_.cr0 & cr0::PG) && (v & cr4::PAE) && !(s_.efer & efer::LMA) && ((old ^ v) & (cr4::PGE | cr4::PAE | cr4::PSE)))
    load_pdptes(s_.cr3);
  // PCIDE may become 1 only in IA-32e mode with CR3[11:0] = 0 (SDM 2.5,
  // 4.10.1); clearing it invalidates every translation.
  const bool pcide_on = (v & cr4::PCIDE) && !(old & cr4::PCIDE);
  if (pcide_on && (!(s_.efer & efer::LMA) || (s_.cr3 & 0xfff))) raise_gp(0);
  s_.cr4 = v;
  if ((old ^ v) & (cr4::PGE | cr4::PAE | cr4::PSE)) flush_tlb(true);
  if ((old & cr4::PCIDE) && !(v & cr4::PCIDE)) {
    flush_pcid_contexts(true);
    select_tlb_context(tlb_base_key_, false);
  }
  end_block();
}

// CR8 is the APIC's TPR bits 7:4 (SDM 10.8.6.1).
void Cpu::write_cr8(uint64_t v) {
  if (v & ~0xfull) raise_gp(0);
  dev_.apic.mmio_write(apic::TPR, 4, v << 4);
  check_events_soon();
}

uint64_t Cpu::read_cr8() { return (dev_.apic.mmio_read(apic::TPR, 4) >> 4) & 0xf; }

// ------------------------------------------------------------------- MSRs

namespace {

// 8 variable ranges, the fixed ranges and write-combining; no SMRR (SDM 11.11.1).
constexpr uint64_t kMtrrCap = MTRR_VARIABLE_COUNT | msr::MTRRCAP_FIX | msr::MTRRCAP_WC;
constexpr uint64_t kAboveMaxPhyAddr = ~((1ull << pte::MAXPHYADDR) - 1);

// The read/write MTRR that `index` names, or nullptr (MTRRCAP is read-only).
uint64_t* mtrr_register(CpuState& s, uint32_t index) {
  if (index == msr::IA32_MTRR_DEF_TYPE) return &s.mtrr_def_type;
  if (const int k = msr::mtrr_fixed_index(index); k >= 0) return &s.mtrr_fixed[k];
  if (index >= msr::IA32_MTRR_PHYSBASE0 && index < msr::IA32_MTRR_PHYSBASE0 + 2 * MTRR_VARIABLE_COUNT)
    return &s.mtrr_var[index - msr::IA32_MTRR_PHYSBASE0];
  return nullptr;
}

// What WRMSR accepts (SDM 11.11.2): a valid memory type in every type field,
// zeros in reserved bits and at or above MAXPHYADDR; anything else is #GP.
bool mtrr_value_valid(uint32_t index, uint64_t v) {
  if (index == msr::IA32_MTRR_DEF_TYPE)
    return !(v & ~(msr::MTRR_DEF_TYPE_TYPE | msr::MTRR_DEF_TYPE_FE | msr::MTRR_DEF_TYPE_E)) &&
           msr::mtrr_memory_type_valid(v & msr::MTRR_DEF_TYPE_TYPE);
  if (msr::mtrr_fixed_index(index) >= 0) return msr::mtrr_fixed_valid(v);
  const bool physbase = (index - msr::IA32_MTRR_PHYSBASE0) % 2 == 0;
  if (physbase)
    return !(v & (kAboveMaxPhyAddr | msr::MTRR_PHYSBASE_RESERVED_LOW)) &&
           msr::mtrr_memory_type_valid(v & msr::MTRR_PHYSBASE_TYPE);
  return !(v & (kAboveMaxPhyAddr | msr::MTRR_PHYSMASK_RESERVED_LOW));
}

// IA32_MISC_ENABLE (SDM vol. 4, table 2-2): the architectural bits this CPU
// has. BTS/PEBS unavailable read 1 whatever is written; every other bit is
// reserved (MONITOR, EIST, xTPR and the rest belong to features CPUID does
// not report) and setting it is #GP.
constexpr uint64_t kMiscEnableWritable = msr::MISC_ENABLE_FAST_STRINGS | msr::MISC_ENABLE_AUTO_THERMAL_CONTROL |
                                         msr::MISC_ENABLE_LIMIT_CPUID | msr::MISC_ENABLE_XD_DISABLE;
constexpr uint64_t kMiscEnableReadOnly = msr::MISC_ENABLE_BTS_UNAVAILABLE | msr::MISC_ENABLE_PEBS_UNAVAILABLE;

// IA32_TIME_STAMP_COUNTER and IA32_TSC_ADJUST move together (SDM 17.17.3):
// a write to either adds the same delta to both.
void adjust_tsc(CpuState& s, uint64_t delta) {
  s.tsc_offset += delta;
  s.tsc_adjust += delta;
}

}  // namespace

uint64_t Cpu::read_msr(uint32_t index) {
  switch (index) {
    case msr::IA32_TIME_STAMP_COUNTER: return read_tsc() + (non_root_ ? vmx_->controls().tsc_offset : 0);
    case msr::IA32_PLATFORM_ID: return 0;
    case msr::IA32_APIC_BASE: return dev_.apic.apic_base();
    case msr::IA32_FEATURE_CONTROL: return s_.feature_control;
    case msr::IA32_BIOS_SIGN_ID: return 0;
    case msr::IA32_MTRRCAP: return kMtrrCap;
    case msr::IA32_TSC_ADJUST: return s_.tsc_adjust;
    case msr::IA32_SYSENTER_CS: return s_.sysenter_cs;
    case msr::IA32_SYSENTER_ESP: return s_.sysenter_esp;
    case msr::IA32_SYSENTER_EIP: return s_.sysenter_eip;
    case msr::IA32_MCG_CAP: return 0;
    case msr::IA32_MCG_STATUS: return 0;
    case msr::IA32_MISC_ENABLE: return s_.misc_enable;
    case msr::IA32_DEBUGCTL: return s_.debugctl;
    // Only LBR_FMT and FREEZE_WHILE_SMM (DEBUGCTL bit 14 is accepted): no
    // PEBS, no full-width counter writes, as there is no PMU.
    case msr::IA32_PERF_CAPABILITIES: return msr::PERF_CAP_LBR_FMT_EIP_FLAGS_TSX_INFO | msr::PERF_CAP_FREEZE_WHILE_SMM;
    case msr::IA32_PAT: return s_.pat;
    case msr::IA32_EFER: return s_.efer;
    case msr::IA32_STAR: return s_.star;
    case msr::IA32_LSTAR: return s_.lstar;
    case msr::IA32_CSTAR: return s_.cstar;
    case msr::IA32_FMASK: return s_.fmask;
    case msr::IA32_FS_BASE: return s_.seg[seg::FS].base;
    case msr::IA32_GS_BASE: return s_.seg[seg::GS].base;
    case msr::IA32_KERNEL_GS_BASE: return s_.kernel_gs_base;
    case msr::IA32_TSC_AUX: return s_.tsc_aux;
    default: break;
  }
  if (const uint64_t* mtrr = mtrr_register(s_, index)) return *mtrr;
  uint64_t lbr;
  if (read_lbr_msr(index, lbr)) return lbr;
  if (index >= msr::X2APIC_FIRST && index <= msr::X2APIC_LAST) {
    uint64_t v;
    if (dev_.apic.rdmsr(index, v)) return v;
  }
  uint64_t cap;
  if (vmx::read_vmx_capability_msr(index, cap)) return cap;
  raise_gp(0);
}

void Cpu::write_msr(uint32_t index, uint64_t v) {
  auto canonical = [&](uint64_t a) {
    if (!arch::is_canonical(a)) raise_gp(0);
    return a;
  };
  switch (index) {
    case msr::IA32_TIME_STAMP_COUNTER: adjust_tsc(s_, v - read_tsc()); return;
    case msr::IA32_TSC_ADJUST: adjust_tsc(s_, v - s_.tsc_adjust); return;
    case msr::IA32_APIC_BASE:
      if (!dev_.apic.set_apic_base(v)) raise_gp(0);
      flush_tlb(true);  // the APIC page may have moved
      check_events_soon();
      return;
    case msr::IA32_FEATURE_CONTROL:
      if (s_.feature_control & msr::FEATURE_CONTROL_LOCK) raise_gp(0);  // SDM 23.7
      if (v & ~(msr::FEATURE_CONTROL_LOCK | msr::FEATURE_CONTROL_VMX_IN_SMX | msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        raise_gp(0);
      s_.feature_control = v;
      return;
    case msr::IA32_BIOS_SIGN_ID: return;
    case msr::IA32_SYSENTER_CS: s_.sysenter_cs = v & 0xffff; return;
    case msr::IA32_SYSENTER_ESP: s_.sysenter_esp = canonical(v); return;
    case msr::IA32_SYSENTER_EIP: s_.sysenter_eip = canonical(v); return;
    case msr::IA32_MCG_STATUS:
      if (v) raise_gp(0);
      return;
    case msr::IA32_MISC_ENABLE:
      if (v & ~(kMiscEnableWritable | kMiscEnableReadOnly)) raise_gp(0);
      s_.misc_enable = (v & kMiscEnableWritable) | kMiscEnableReadOnly;
      return;
    case msr::IA32_DEBUGCTL:
      if (v & ~msr::DEBUGCTL_IMPLEMENTED) raise_gp(0);
      s_.debugctl = v;
      debugctl_changed();
      return;
    case msr::IA32_PAT:
      // Each byte must be a valid memory type (SDM 11.12.2).
      if (!msr::pat_valid(v)) raise_gp(0);
      s_.pat = v;
      return;
    case msr::IA32_EFER: {
      if (v & efer::RESERVED) raise_gp(0);
      // With XD disabled NXE is reserved (SDM vol. 4, table 2-2, MISC_ENABLE bit 34).
      if ((v & efer::NXE) && (s_.misc_enable & msr::MISC_ENABLE_XD_DISABLE)) raise_gp(0);
      if (((v ^ s_.efer) & efer::LME) && (s_.cr0 & cr0::PG)) raise_gp(0);  // SDM 9.8.5
      const uint64_t nv = (v & ~efer::LMA) | (s_.efer & efer::LMA);     // LMA is read-only
      if ((nv ^ s_.efer) & efer::NXE) flush_tlb(true);
      s_.efer = nv;
      return;
    }
    case msr::IA32_STAR: s_.star = v; return;
    case msr::IA32_LSTAR: s_.lstar = canonical(v); return;
    case msr::IA32_CSTAR: s_.cstar = canonical(v); return;
    case msr::IA32_FMASK: s_.fmask = v & 0xffffffff; return;
    case msr::IA32_FS_BASE: s_.seg[seg::FS].base = canonical(v); return;
    case msr::IA32_GS_BASE: s_.seg[seg::GS].base = canonical(v); return;
    case msr::IA32_KERNEL_GS_BASE: s_.kernel_gs_base = canonical(v); return;
    case msr::IA32_TSC_AUX: s_.tsc_aux = v & 0xffffffff; return;
    default: break;
  }
  if (uint64_t* mtrr = mtrr_register(s_, index)) {
    if (!mtrr_value_valid(index, v)) raise_gp(0);
    *mtrr = v;
    return;
  }
  if (write_lbr_msr(index, v)) return;
  if (index >= msr::X2APIC_FIRST && index <= msr::X2APIC_LAST && dev_.apic.wrmsr(index, v)) {
    check_events_soon();
    return;
  }
  raise_gp(0);
}

// -------------------------------------------------------------------- I/O

// SDM 19.5: at CPL > IOPL every byte of the access must be allowed by the
// TSS's I/O permission bitmap; in virtual-8086 mode always, whatever IOPL
// (SDM 20.2.8.1).
void Cpu::check_io_permission(uint16_t port, unsigned size) {
  const unsigned iopl = (s_.rflags & rflags::IOPL) >> rflags::IOPL_SHIFT;
  if (!(s_.cr0 & cr0::PE) || (s_.cpl <= iopl && !v8086())) return;
  const uint32_t tss_type = s_.tr.ar & seg::ar::TYPE_MASK;
  if ((s_.tr.ar & seg::ar::UNUSABLE) || (tss_type != seg::sys_type::TSS_AVAILABLE && tss_type != seg::sys_type::TSS_BUSY) ||
      s_.tr.limit < 0x67)
    raise_gp(0);
  const uint32_t bitmap = uint32_t(read_system(s_.tr.base + 0x66, 2));
  const uint32_t byte = bitmap + port / 8;
  if (byte + 1 > s_.tr.limit) raise_gp(0);
  const uint32_t bits = uint32_t(read_system(s_.tr.base + byte, 2));
  const uint32_t mask = ((1u << size) - 1) << (port & 7);
  if (bits & mask) raise_gp(0);
}

uint32_t Cpu::io_in(uint16_t port, unsigned size) {
  check_io_permission(port, size);
  watch_io(port, size);
  return dev_.bus.io_read(port, size);
}

void Cpu::io_out(uint16_t port, unsigned size, uint32_t value) {
  check_io_permission(port, size);
  watch_io(port, size);
  dev_.bus.io_write(port, size, value);
  if (NB_UNLIKELY(dev_.debug_exit.code.has_value())) {
    stop(CpuStop::DebugExit, "");
  }
}

// -------------------------------------------------------------- diagnostics

void Cpu::unimplemented(const DecodedInsn& i) {
  std::string text = decoder_->describe(*this, fault_rip(), i);
  std::fprintf(stderr, "nestbed: unimplemented instruction at rip 0x%" PRIx64 ": %s (raising #UD)\n", fault_rip(),
               text.c_str());
  raise_ud();
}

}  // namespace nestbed::sim
