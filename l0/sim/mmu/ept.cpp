// The EPT walk (SDM vol. 3, 28.2): guest-physical to host-physical
// addresses for VMX non-root operation, with EPT violations (28.2.3.2),
// misconfigurations (28.2.3.1) and the accessed/dirty flags (28.2.4).
#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch::vmx;

namespace {

// Reserved bits of an EPT entry at `level` (4 = PML4E .. 1 = PTE) that
// cause a misconfiguration (SDM 28.2.3.1).
uint64_t ept_reserved_bits(int level, bool leaf) {
  uint64_t rsvd = arch::pte::RSVD_HIGH;
  if (level == 4) rsvd |= ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask | ept_entry::LARGE_PAGE.mask;
  if (!leaf && level < 4) rsvd |= ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask;
  if (leaf && level > 1) rsvd |= ((1ull << (12 + 9 * (level - 1))) - 1) & ~0xfffull;  // large-page address bits
  return rsvd;
}

bool misconfigured(uint64_t e, int level, bool leaf) {
  const uint64_t perm = e & 7;
  // Write without read is a misconfiguration; execute-only is allowed
  // (IA32_VMX_EPT_VPID_CAP bit 0 is reported).
  if ((perm & 2) && !(perm & 1)) return true;
  if (e & ept_reserved_bits(level, leaf)) return true;
  if (leaf) {
    const uint64_t type = ept_entry::MEMORY_TYPE.get(e);
    if (type == 2 || type == 3 || type == 7) return true;
  }
  return false;
}

}  // namespace

uint64_t Cpu::ept_translate(uint64_t gpa, Access a, uint64_t la, bool la_valid, bool paging_structure) {
  const uint64_t eptp = vmx_->controls().eptp;
  const bool ad = eptp::ENABLE_AD.test(eptp);
  const bool write = a == Access::Write;
  uint64_t table = eptp & arch::pte::ADDR_MASK;
  bool readable = true, writable = true, executable = true;

  auto exit_with = [&](uint32_t reason, uint64_t qualification) {
    vmx::VmExitRequest r{reason};
    r.qualification = qualification;
    r.guest_physical = gpa;
    r.guest_linear = la_valid ? la : 0;
    throw r;
  };
  auto violation = [&]() {
    // With EPT A/D on, a guest paging-structure access is a read treated as
    // a write: both bits are reported (SDM 28.2.3.2, table 27-7).
    const bool read = a == Access::Read || (paging_structure && ad);
    uint64_t q = qual_ept_violation::READ.make(read) | qual_ept_violation::WRITE.make(write) |
                 qual_ept_violation::FETCH.make(a == Access::Exec) | qual_ept_violation::READABLE.make(readable) |
                 qual_ept_violation::WRITABLE.make(writable) | qual_ept_violation::EXECUTABLE.make(executable);
    if (la_valid) q |= qual_ept_violation::GLA_VALID.mask | qual_ept_violation::GLA_TRANSLATED.make(!paging_structure);
    exit_with(uint32_t(ExitReason::EPT_VIOLATION), q);
  };

  for (int level = 4;; --level) {
    const uint64_t epa = table + arch::pte::index(gpa, level) * 8;
    uint64_t e = phys_read(epa, 8);
    if ((e & 7) == 0) {
      readable = writable = executable = false;
      violation();
    }
    const bool leaf = level == 1 || ((level == 2 || level == 3) && ept_entry::LARGE_PAGE.test(e));
    if (misconfigured(e, level, leaf)) exit_with(uint32_t(ExitReason::EPT_MISCONFIG), 0);
    readable &= bool(e & ept_entry::READ.mask);
    writable &= bool(e & ept_entry::WRITE.mask);
    executable &= bool(e & ept_entry::EXECUTE.mask);
    if (leaf) {
      const bool allowed = a == Access::Read ? readable : write ? writable : executable;
      if (!allowed) violation();
    }
    if (ad) {
      uint64_t ne = e | ept_entry::ACCESSED.mask;
      if (leaf && write) ne |= ept_entry::DIRTY.mask;
      if (ne != e) phys_write(epa, 8, ne);
      e = ne;
    }
    if (leaf) {
      const uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
      return (e & arch::pte::ADDR_MASK & ~page_mask) | (gpa & page_mask);
    }
    table = e & arch::pte::ADDR_MASK;
  }
}

}  // namespace nestbed::sim
