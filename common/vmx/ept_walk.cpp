#include "common/vmx/ept_walk.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"

namespace nestbed::common::vmx {

using namespace arch::vmx;

namespace {

// Reserved bits of an EPT entry at `level` (4 = PML4E .. 1 = PTE) that
// cause a misconfiguration (SDM 28.2.3.1).
uint64_t ept_reserved_bits(unsigned level, bool leaf) {
  uint64_t rsvd = arch::pte::RSVD_HIGH;
  if (level == 4) rsvd |= ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask | ept_entry::LARGE_PAGE.mask;
  if (!leaf && level < 4) rsvd |= ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask;
  if (leaf && level > 1) rsvd |= ((1ull << ept_level_shift(level)) - 1) & ~0xfffull;  // large-page address bits
  return rsvd;
}

bool misconfigured(uint64_t e, unsigned level, bool leaf, bool execute_only) {
  if (ept_rwx_misconfigured(e, execute_only)) return true;
  if (e & ept_reserved_bits(level, leaf)) return true;
  return leaf && !ept_memory_type_valid(ept_entry::MEMORY_TYPE.get(e));
}

}  // namespace

EptWalkResult ept_walk(uint64_t eptp_value, uint64_t gpa, EptAccess a, const EptMemory& mem,
                       const EptWalkOptions& opt) {
  namespace q = qual_ept_violation;
  const bool ad = eptp::ENABLE_AD.test(eptp_value);
  const bool write = a == EptAccess::Write;
  EptWalkResult r;
  r.readable = r.writable = r.executable = true;
  auto violation = [&]() {
    // With EPT A/D on, a guest paging-structure access is a read treated as
    // a write: both bits are reported (SDM 28.2.3.2, table 27-7).
    const bool read = a == EptAccess::Read || (opt.paging_structure && ad);
    r.status = EptWalkStatus::Violation;
    r.qualification = q::READ.make(read) | q::WRITE.make(write) | q::FETCH.make(a == EptAccess::Exec) |
                      q::READABLE.make(r.readable) | q::WRITABLE.make(r.writable) |
                      q::EXECUTABLE.make(r.executable);
    return r;
  };

  uint64_t table = eptp_value & arch::pte::ADDR_MASK;
  for (unsigned level = 4;; --level) {
    const uint64_t epa = table + uint64_t(ept_index(gpa, level)) * 8;
    uint64_t e;
    if (!mem.read(mem.ctx, epa, e)) {
      r.status = EptWalkStatus::NoMemory;
      r.address = epa;
      return r;
    }
    if ((e & ept_entry::RWX) == 0) {
      r.readable = r.writable = r.executable = false;
      return violation();
    }
    const bool leaf = level == 1 || ((level == 2 || level == 3) && ept_entry::LARGE_PAGE.test(e));
    if (misconfigured(e, level, leaf, opt.execute_only)) {
      r.status = EptWalkStatus::Misconfig;
      return r;
    }
    r.readable &= ept_entry::READ.test(e);
    r.writable &= ept_entry::WRITE.test(e);
    r.executable &= ept_entry::EXECUTE.test(e);
    if (leaf) {
      const bool allowed = a == EptAccess::Read ? r.readable : write ? r.writable : r.executable;
      if (!allowed) return violation();
    }
    if (ad && leaf && write && !ept_entry::DIRTY.test(e) && mem.log_dirty && !mem.log_dirty(mem.ctx, gpa)) {
      r.status = EptWalkStatus::LogFull;
      return r;
    }
    if (ad) {
      uint64_t ne = e | ept_entry::ACCESSED.mask;
      if (leaf && write) ne |= ept_entry::DIRTY.mask;
      if (ne != e) mem.write(mem.ctx, epa, ne);
      e = ne;
    }
    if (leaf) {
      const uint64_t page_mask = (1ull << ept_level_shift(level)) - 1;
      r.address = (e & arch::pte::ADDR_MASK & ~page_mask) | (gpa & page_mask);
      r.leaf = e;
      r.leaf_level = level;
      return r;
    }
    table = e & arch::pte::ADDR_MASK;
  }
}

}  // namespace nestbed::common::vmx
