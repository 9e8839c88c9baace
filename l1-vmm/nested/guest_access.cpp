#include "l1-vmm/nested/guest_access.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {
namespace {

using F = arch::vmx::VmcsField;
namespace info = arch::vmx::insn_info_vmx;
namespace pte = arch::pte;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;

constexpr F SEGMENT_BASES[] = {F::GUEST_ES_BASE, F::GUEST_CS_BASE, F::GUEST_SS_BASE,
                               F::GUEST_DS_BASE, F::GUEST_FS_BASE, F::GUEST_GS_BASE};

// #PF error-code bits for a supervisor data access (SDM 4.7).
constexpr uint32_t PF_PRESENT = arch::pf_error::P, PF_WRITE = arch::pf_error::W;

uint64_t* entry_at(uint64_t gpa) { return static_cast<uint64_t*>(guest_memory.hva(gpa, 8)); }

// One level of a walk: the entry, with A set (and D on a written leaf), or
// nullptr when the table is not RAM (treated as not present).
bool use_entry(uint64_t gpa, bool leaf, bool write, uint64_t& e) {
  uint64_t* p = entry_at(gpa);
  if (!p) return false;
  e = *p;
  if (!(e & pte::P)) return false;
  uint64_t ne = e | pte::A;
  if (leaf && write) ne |= pte::D;
  if (ne != e) *p = ne;
  return true;
}

// A supervisor data access (VMX instructions run at CPL 0): write
// protection applies with CR0.WP (SDM 4.6.1); U/S and NX do not matter.
// Reserved-bit checks are left out (a reserved bit makes the walk fault
// with bit 3 of the error code on hardware).
bool translate(uint64_t la, bool write, uint64_t& gpa, uint32_t& pf_error) {
  const uint64_t cr0_v = vmcs_read(F::GUEST_CR0), cr4_v = vmcs_read(F::GUEST_CR4);
  if (!(cr0_v & cr0::PG)) {
    gpa = uint32_t(la);
    return true;
  }
  const bool wp = cr0_v & cr0::WP;
  const bool lma = vmcs_read(F::GUEST_IA32_EFER) & arch::efer::LMA;
  pf_error = write ? PF_WRITE : 0;
  bool writable = true;
  auto fault_not_present = [&]() { return false; };
  uint64_t table = vmcs_read(F::GUEST_CR3), e = 0;
  int level;
  if (lma) {
    table &= pte::ADDR_MASK;
    level = 4;
  } else if (cr4_v & cr4::PAE) {
    // PAE: the PDPTEs are the VMCS's (loaded at MOV CR3, SDM 4.4.1).
    e = vmcs_read(arch::vmx::kGuestPdpteFields[(la >> 30) & 3]);
    if (!(e & pte::P)) return fault_not_present();
    table = e & pte::ADDR_MASK;
    level = 2;
  } else {
    // 32-bit paging: 4-byte entries, 4 MiB pages with CR4.PSE (SDM 4.3).
    auto* pde_p = static_cast<uint32_t*>(guest_memory.hva((table & 0xfffff000u) + ((la >> 22) & 0x3ff) * 4, 4));
    if (!pde_p || !(*pde_p & pte::P)) return fault_not_present();
    const uint32_t pde = *pde_p;
    writable = pde & pte::RW;
    if ((cr4_v & cr4::PSE) && (pde & pte::PS)) {
      if (write && wp && !writable) return (pf_error |= PF_PRESENT), false;
      *pde_p = pde | uint32_t(pte::A) | (write ? uint32_t(pte::D) : 0);
      gpa = (pde & 0xffc00000u) | (la & 0x3fffff);
      return true;
    }
    *pde_p = pde | uint32_t(pte::A);
    auto* pte_p = static_cast<uint32_t*>(guest_memory.hva((pde & 0xfffff000u) + ((la >> 12) & 0x3ff) * 4, 4));
    if (!pte_p || !(*pte_p & pte::P)) return fault_not_present();
    writable &= bool(*pte_p & pte::RW);
    if (write && wp && !writable) return (pf_error |= PF_PRESENT), false;
    *pte_p |= uint32_t(pte::A) | (write ? uint32_t(pte::D) : 0);
    gpa = (*pte_p & 0xfffff000u) | (la & 0xfff);
    return true;
  }
  for (;; level--) {
    const uint64_t entry_gpa = table + pte::index(la, level) * 8;
    uint64_t* p = entry_at(entry_gpa);
    if (!p || !(*p & pte::P)) return fault_not_present();
    e = *p;
    writable &= bool(e & pte::RW);
    const bool leaf = level == 1 || ((level == 2 || level == 3) && (e & pte::PS));
    if (leaf && write && wp && !writable) return (pf_error |= PF_PRESENT), false;
    if (!use_entry(entry_gpa, leaf, write, e)) return fault_not_present();
    if (leaf) {
      const uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
      gpa = (e & pte::ADDR_MASK & ~page_mask) | (la & page_mask);
      return true;
    }
    table = e & pte::ADDR_MASK;
  }
}

void inject_page_fault(Vcpu& v, uint64_t la, uint32_t error) {
  // VMX does not switch CR2: the guest's CR2 is the register (as exit_events.cpp).
  asm volatile("mov %0, %%cr2" : : "r"(la));
  inject_exception(v, uint8_t(arch::Vector::PF), error);
}

bool copy(Vcpu& v, uint64_t la, uint8_t* buf, unsigned len, bool write) {
  while (len) {
    const unsigned chunk = unsigned(pte::PAGE_SIZE - (la & (pte::PAGE_SIZE - 1))) < len
                               ? unsigned(pte::PAGE_SIZE - (la & (pte::PAGE_SIZE - 1)))
                               : len;
    uint64_t gpa = 0;
    uint32_t error = 0;
    if (!translate(la, write, gpa, error)) {
      inject_page_fault(v, la, error);
      return false;
    }
    auto* host = static_cast<uint8_t*>(guest_memory.hva(gpa, chunk));
    // An operand outside RAM (and the APIC page, which no VMX instruction
    // has a use for): as on the platform, reads return all-ones and writes
    // go nowhere.
    if (!host) {
      if (!write) __builtin_memset(buf, 0xff, chunk);
    } else {
      write ? __builtin_memcpy(host, buf, chunk) : __builtin_memcpy(buf, host, chunk);
    }
    la += chunk, buf += chunk, len -= chunk;
  }
  return true;
}

}  // namespace

bool vmx_operand_address(Vcpu& v, uint32_t insn, uint64_t qualification, uint64_t& la) {
  // KVM's get_vmx_mem_address: displacement + base + index << scaling, cut
  // to the address size, plus the segment base.
  const unsigned addr_size = unsigned(info::ADDRESS_SIZE.get(insn));  // 0: 16, 1: 32, 2: 64 bits
  uint64_t off = qualification;
  if (addr_size == 1) off = uint64_t(int64_t(int32_t(uint32_t(off))));
  else if (addr_size == 0) off = uint64_t(int64_t(int16_t(uint16_t(off))));
  if (!info::BASE_INVALID.test(insn)) off += v.gpr(unsigned(info::BASE_REG.get(insn)));
  if (!info::INDEX_INVALID.test(insn)) off += v.gpr(unsigned(info::INDEX_REG.get(insn))) << info::SCALING.get(insn);
  if (addr_size == 1) off = uint32_t(off);
  else if (addr_size == 0) off = uint16_t(off);
  const unsigned seg = unsigned(info::SEGMENT.get(insn));
  const bool long_mode = guest_64bit_code();
  // In 64-bit mode only FS and GS have bases (SDM 3.4.4).
  if (!long_mode || seg == arch::seg::FS || seg == arch::seg::GS) off += vmcs_read(SEGMENT_BASES[seg > 5 ? 3 : seg]);
  if (!long_mode) off = uint32_t(off);
  if (long_mode && !arch::is_canonical(off)) {
    inject_exception(v, uint8_t(seg == arch::seg::SS ? arch::Vector::SS : arch::Vector::GP), 0);
    return false;
  }
  la = off;
  return true;
}

bool read_guest_linear(Vcpu& v, uint64_t la, void* dst, unsigned len) {
  return copy(v, la, static_cast<uint8_t*>(dst), len, false);
}

bool write_guest_linear(Vcpu& v, uint64_t la, const void* src, unsigned len) {
  return copy(v, la, static_cast<uint8_t*>(const_cast<void*>(src)), len, true);
}

}  // namespace l1::nested
