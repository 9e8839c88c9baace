// Linear-to-physical translation: the software TLB and the page walks of
// 32-bit, PAE and 4-level paging (SDM vol. 3, chapter 4), with accessed and
// dirty flags, WP, NX and reserved-bit checks.
#include <cinttypes>

#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "arch/vmx/ept.h"
#include "arch/vmx/vmx.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch;

// SDM 3.3.7.1 and vol. 2's exception lists: a non-canonical address is
// #GP(0), or #SS(0) when it references the SS segment: here the running
// instruction's memory operand (RSP or RBP as its base, or an SS
// override); implicit stack accesses check for themselves
// (check_stack_canonical).
[[noreturn]] void Cpu::raise_noncanonical() const {
  const DecodedInsn* i = fast_entry_ ? fast_entry_ : step_insn_;
  if (i && i->mem_seg_arch == seg::SS) raise_fault(uint8_t(arch::Vector::SS), 0);
  raise_gp(0);
}

uint64_t Cpu::translate(uint64_t la, Access a, bool supervisor_override, unsigned size) {
  const bool user = s_.cpl == 3 && !supervisor_override;
  if (!supervisor_override) {
    const TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
    const uint64_t page = la & ~0xfffull;
    const uint64_t tag = a == Access::Read ? e.tag_r : a == Access::Write ? e.tag_w : e.tag_x;
    if (tag == page || (a == Access::Write && e.tag_wc == page)) return e.pa_page | (la & 0xfff);
  }
  if (!(s_.cr0 & cr0::PG)) {
    uint64_t pa = uint32_t(la);
    // Paging off in non-root operation (unrestricted guest): the linear
    // address is guest-physical (SDM 28.2.1).
    bool writable = true;
    if (ept_active_) pa = ept_translate(pa, a, la, true, false, &writable);
    if (NB_UNLIKELY((pa & ~0xfffull) == apic_access_page_)) return apic_access_page_access(pa, a, size);
    if (!supervisor_override) fill_tlb(la, pa, a, user, false, writable);
    return pa;
  }
  if ((s_.efer & efer::LMA) && !arch::is_canonical(la)) raise_noncanonical();  // SDM 3.3.7.1
  bool global = false, writable = false, large = false;
  uint64_t pa = walk(la, a, user, &global, &writable, &large);
  // A write may reuse the translation only if both the guest's paging and
  // EPT let it (and neither has a dirty flag left to set).
  bool ept_writable = true;
  if (ept_active_) pa = ept_translate(pa, a, la, true, false, &ept_writable);
  writable = writable && ept_writable;
  if (NB_UNLIKELY((pa & ~0xfffull) == apic_access_page_)) return apic_access_page_access(pa, a, size);
  if (large) tlb_has_large_ = true;
  if (!(supervisor_override && s_.cpl == 3)) fill_tlb(la, pa, a, user, global, writable);
  return pa;
}

// Caches a completed walk. Read and execute permissions were checked by the
// walk for `a` only, so an entry is filled for the access just made plus any
// access the walk proved allowed; writes get a fast-path tag only once the
// dirty flag is set, so the first write still walks and sets D.
void Cpu::fill_tlb(uint64_t la, uint64_t pa, Access a, bool user, bool global, bool writable) {
  const unsigned index = unsigned(la >> 12) & TLB_MASK;
  TlbEntry& e = tlb_[index];
  tlb_context_->note_fill(index);
  const uint64_t page = la & ~0xfffull, pa_page = pa & ~0xfffull;
  if (e.tag_r != page && e.tag_w != page && e.tag_x != page && e.tag_wc != page) e = TlbEntry{};
  e.pa_page = pa_page;
  e.global = global;
  const bool ram = mem_.contains(pa_page, 0x1000);
  e.addend = ram ? intptr_t(mem_.ptr(pa_page)) - intptr_t(page) : 0;
  // The fast path serves reads and writes of RAM only; MMIO always walks.
  if (a == Access::Read && ram) e.tag_r = page;
  if (a == Access::Write && ram) e.tag_r = page;
  if (a != Access::Exec && ram && writable) {
    if (code_page_[pa_page >> 12]) {
      e.tag_wc = page;
    } else {
      e.tag_w = page;
      tlb_writable_[pa_page >> 12] = 1;
    }
  }
  if (a == Access::Exec) e.tag_x = page;
  // A page a data breakpoint watches: reads and writes take the slow path,
  // which checks them (debug.cpp).
  if (NB_UNLIKELY(data_breakpoints_) && data_breakpoint_on_page(page)) e.tag_r = e.tag_w = e.tag_wc = TAG_INVALID;
  if (NB_UNLIKELY(alignment_check_)) e.tag_r = e.tag_w = e.tag_wc = TAG_INVALID;  // every access checked
  (void)user;
}

// "Virtualize APIC accesses" (SDM 29.4). A read or write the controls
// virtualize is done on the virtual-APIC page (29.4.2, 29.4.3.1) — with the
// TPR shadow, one of at most 32 bits at offset 80H (with virtual-interrupt
// delivery, a write at B0H or 300H too); with APIC-register virtualization, one
// entirely within the first 4 bytes of a register apic::apicv_*_register
// lists — a write followed by APIC-write emulation (29.4.3.2, after the
// instruction). Any other linear access is an APIC-access VM exit,
// fault-like, below page faults and EPT violations in priority (29.4.1),
// with the offset and the access type in its qualification (27.2.1).
uint64_t Cpu::apic_access_page_access(uint64_t pa, Access a, unsigned size) {
  namespace pc = arch::vmx::proc_ctl;
  namespace pc2 = arch::vmx::proc_ctl2;
  const vmx::GuestControls& ctl = vmx_->controls();
  const unsigned offset = unsigned(pa & 0xfff), reg = offset & ~0xfu;
  const bool in_register = size != 0 && (offset & 0xf) + size <= 4;
  bool virtualized = false;
  if (a != Access::Exec && (ctl.proc & pc::USE_TPR_SHADOW) && in_register) {
    if (ctl.proc2 & pc2::APIC_REGISTER_VIRTUALIZATION)
      virtualized = a == Access::Read ? apic::apicv_read_register(reg) : apic::apicv_write_register(reg);
    else if (a == Access::Write && (ctl.proc2 & pc2::VIRTUAL_INTERRUPT_DELIVERY))
      virtualized = offset == apic::TPR || offset == apic::EOI || offset == apic::ICR_LOW;  // SDM 29.4.3.1
    else
      virtualized = offset == apic::TPR && size <= 4;
  }
  if (virtualized) {
    if (a == Access::Write) apic_write_virtualized(offset);
    return ctl.virtual_apic + offset;
  }
  namespace q = arch::vmx::qual_apic_access;
  vmx::VmExitRequest r{uint32_t(arch::vmx::ExitReason::APIC_ACCESS)};
  const uint64_t type = a == Access::Read ? q::LINEAR_READ : a == Access::Write ? q::LINEAR_WRITE : q::LINEAR_FETCH;
  r.qualification = q::OFFSET.make(offset) | q::ACCESS_TYPE.make(type);
  throw r;
}

void Cpu::set_apic_access_page(uint64_t page) {
  apic_access_page_ = page;
  if (page == kNoApicAccessPage) return;
  tlb_context_->for_each_used([page](TlbEntry& e) {
    if (e.pa_page == page) e = TlbEntry{};
  });
  new_fetch_generation();
}

void Cpu::flush_tlb(bool include_global) {
  tlb_context_->clear(include_global);
  // A global translation may be cached under any PCID (each PCID has its
  // own array here): a flush that includes them empties all of them.
  if (include_global && pcids_used_) flush_pcid_contexts(true);
  // Only when no other context can still hold large-page entries.
  if (include_global && tlb_contexts_.size() == 1) tlb_has_large_ = false;
  new_fetch_generation();
}

void Cpu::flush_pcid_contexts(bool include_global) {
  const uint64_t base = tlb_base_key_;
  flush_tlb_contexts([base](uint64_t key) { return tlb_vmx_key(key) == base; }, include_global);
}

// INVLPG invalidates the address for the current PCID and its global
// translation, which may sit under any PCID: every PCID's entry for it
// goes (SDM 4.10.4.1; invalidating more is allowed).
void Cpu::invlpg(uint64_t la) {
  if (!pcids_used_) return invlpg_in_context(tlb_key_, la);  // one context: no list to build
  for (uint64_t key : tlb_context_keys())
    if (tlb_vmx_key(key) == tlb_base_key_) invlpg_in_context(key, la);
}

void Cpu::invpcid(uint64_t type, uint16_t pcid, uint64_t la) {
  const uint64_t key = tlb_base_key_ | (uint64_t(pcid) << TLB_KEY_PCID_SHIFT);
  switch (type) {
    case 0: invlpg_in_context(key, la); break;
    case 1: flush_tlb_contexts([key](uint64_t k) { return k == key; }, false); break;
    case 2: flush_pcid_contexts(true); break;
    default: flush_pcid_contexts(false); break;
  }
}

// INVLPG / INVVPID individual-address in one TLB context. A 2 MiB/1 GiB
// page is cached as many 4 KiB entries, so with any cached, the whole
// context goes (flushing more than asked is always allowed, SDM 4.10.4.3).
void Cpu::invlpg_in_context(uint64_t key, uint64_t la) {
  auto it = tlb_contexts_.find(key);
  if (it == tlb_contexts_.end()) return;
  if (tlb_has_large_) {
    it->second.clear(true);
  } else {
    TlbEntry& e = it->second.entries[(la >> 12) & TLB_MASK];
    const uint64_t page = la & ~0xfffull;
    if (e.tag_r == page || e.tag_w == page || e.tag_x == page || e.tag_wc == page) e = TlbEntry{};
  }
  if (key == tlb_key_)
    new_fetch_generation();
  else
    context_generation_[key] = ++generation_counter_;
}

// The page walk. Sets A in every entry used and D in the final one for
// writes (SDM 4.8), and raises #PF with the error code of SDM 4.7.
uint64_t Cpu::walk(uint64_t la, Access a, bool user, bool* global, bool* writable_now, bool* large) {
  const bool write = a == Access::Write, fetch = a == Access::Exec;
  const bool nxe = s_.efer & efer::NXE;
  const bool wp = s_.cr0 & cr0::WP;
  // SDM 4.7: the I flag is reported only where XD exists (PAE with NXE).
  const bool report_fetch = fetch && nxe && (s_.cr4 & cr4::PAE);
  const uint32_t err = (write ? pf_error::W : 0) | (user ? pf_error::U : 0) | (report_fetch ? pf_error::I : 0);
  auto fault = [&](uint32_t extra) {
    pf_linear_ = la;  // CR2 is loaded when the #PF is delivered (not on a VM exit)
    raise_fault(uint8_t(Vector::PF), err | extra);
  };

  // Accumulated permissions (SDM 4.6): writable only if every level is, user
  // only if every level is, executable unless some level sets XD.
  bool rw = true, us = true, xd = false;
  struct Touched {
    uint64_t pa;
    unsigned size;
    uint64_t entry;
  } touched[5];
  unsigned ntouched = 0;
  uint64_t pa = 0;
  uint64_t page_mask = 0xfff;
  const uint64_t rsvd_nx = nxe ? 0 : pte::NX;
  // In non-root operation with EPT the guest's paging structures live at
  // guest-physical addresses (SDM 28.2.1): reads need EPT read access.
  // With EPT accessed/dirty flags on, every access to a guest paging
  // structure counts as a write for EPT (SDM 28.2.3.2).
  const Access structure_access =
      ept_active_ && arch::vmx::eptp::ENABLE_AD.test(vmx_->controls().eptp) ? Access::Write : Access::Read;
  auto read_entry = [&](uint64_t gpa, unsigned size) {
    return phys_read(ept_active_ ? ept_translate(gpa, structure_access, la, true, true) : gpa, size);
  };

  if (s_.cr4 & cr4::PAE) {
    int level;
    uint64_t table;
    if (s_.efer & efer::LMA) {
      level = 4;
      table = s_.cr3 & pte::ADDR_MASK;
    } else {
      // PAE paging: the PDPTE registers loaded at MOV to CR3/CR0/CR4 or VM
      // entry (SDM 4.4.1); their reserved bits were checked then.
      const uint64_t pdpte = s_.pdpte[(la >> 30) & 3];
      if (!(pdpte & pte::P)) fault(0);
      level = 2;
      table = pdpte & pte::ADDR_MASK;
    }
    for (;; --level) {
      const uint64_t epa = table + pte::index(la, level) * 8;
      uint64_t e = read_entry(epa, 8);
      if (!(e & pte::P)) fault(0);
      uint64_t rsvd = pte::RSVD_HIGH | rsvd_nx;
      const bool leaf = level == 1 || ((level == 2 || level == 3) && (e & pte::PS));
      if (level == 4) rsvd |= pte::PS;  // PML4E.PS is reserved
      if (leaf && level > 1) rsvd |= ((1ull << (12 + 9 * (level - 1))) - 1) & ~0x1fffull;  // large-page address bits
      if (e & rsvd) fault(pf_error::P | pf_error::RSVD);
      rw &= bool(e & pte::RW);
      us &= bool(e & pte::US);
      xd |= nxe && (e & pte::NX);
      touched[ntouched++] = {epa, 8, e};
      if (leaf) {
        page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
        pa = (e & pte::ADDR_MASK & ~page_mask) | (la & page_mask);
        *global = e & pte::G;
        *large = level > 1;
        break;
      }
      table = e & pte::ADDR_MASK;
    }
  } else {
    // 32-bit paging (SDM 4.3), 4 MiB pages with CR4.PSE.
    const uint64_t pde_pa = (s_.cr3 & 0xfffff000) + ((la >> 22) & 0x3ff) * 4;
    const uint64_t pde = read_entry(pde_pa, 4);
    if (!(pde & pte::P)) fault(0);
    rw &= bool(pde & pte::RW);
    us &= bool(pde & pte::US);
    touched[ntouched++] = {pde_pa, 4, pde};
    if ((pde & pte::PS) && (s_.cr4 & cr4::PSE)) {
      if (pde & (1u << 21)) fault(pf_error::P | pf_error::RSVD);
      page_mask = 0x3fffff;
      pa = (pde & 0xffc00000) | ((pde >> 13) & 0xff) << 32 | (la & page_mask);
      *global = pde & pte::G;
      *large = true;
    } else {
      const uint64_t pte_pa = (pde & 0xfffff000) + ((la >> 12) & 0x3ff) * 4;
      const uint64_t e = read_entry(pte_pa, 4);
      if (!(e & pte::P)) fault(0);
      rw &= bool(e & pte::RW);
      us &= bool(e & pte::US);
      touched[ntouched++] = {pte_pa, 4, e};
      pa = (e & 0xfffff000) | (la & 0xfff);
      *global = e & pte::G;
    }
  }

  // Permission checks (SDM 4.6): user accesses need US at every level and
  // RW for writes; supervisor writes need RW when CR0.WP = 1.
  if (user && !us) fault(pf_error::P);
  if (write && !rw && (user || wp)) fault(pf_error::P);
  if (fetch && xd) fault(pf_error::P);
  if (!(s_.cr4 & cr4::PGE)) *global = false;

  // Accessed flags on every entry, dirty on the leaf for a write (SDM 4.8).
  for (unsigned k = 0; k < ntouched; ++k) {
    uint64_t e = touched[k].entry | pte::A;
    if (write && k == ntouched - 1) e |= pte::D;
    if (e == touched[k].entry) continue;
    // Setting A/D is a write to the paging structure (SDM 28.2.3.2).
    const uint64_t hpa = ept_active_ ? ept_translate(touched[k].pa, Access::Write, la, true, true) : touched[k].pa;
    phys_write(hpa, touched[k].size, e);
  }
  const bool dirty = write || (touched[ntouched - 1].entry & pte::D);
  *writable_now = dirty && (user ? rw : (rw || !wp));
  return pa;
}

}  // namespace nestbed::sim
