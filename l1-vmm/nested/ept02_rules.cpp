#include "l1-vmm/nested/ept02_rules.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/paging.h"

namespace l1::nested {

using namespace arch::vmx;
using nestbed::common::vmx::EptAccess;
namespace q = qual_ept_violation;

namespace {
constexpr uint64_t PAGE_4K = arch::pte::PAGE_SIZE;
constexpr uint64_t PAGE_2M = arch::pte::LARGE_PAGE_SIZE;

EptAccess access_of(uint64_t qual) {
  if (q::FETCH.test(qual)) return EptAccess::Exec;
  if (q::WRITE.test(qual)) return EptAccess::Write;
  return EptAccess::Read;
}
}  // namespace

Ept12Request ept12_request(uint64_t qual02, uint64_t eptp12, bool execute_only) {
  Ept12Request req{};
  req.options.execute_only = execute_only;
  req.options.paging_structure = q::GLA_VALID.test(qual02) && !q::GLA_TRANSLATED.test(qual02);
  req.access = req.options.paging_structure && eptp::ENABLE_AD.test(eptp12) ? EptAccess::Write : access_of(qual02);
  return req;
}

uint64_t ept12_violation_qualification(uint64_t walk_qualification, uint64_t qual02) {
  constexpr uint64_t FROM_HARDWARE = q::GLA_VALID.mask | q::GLA_TRANSLATED.mask | q::NMI_UNBLOCKING.mask;
  return walk_qualification | (qual02 & FROM_HARDWARE);
}

bool ept01_translate(const GuestMemory& ram, uint64_t gpa1, uint64_t& hpa, uint64_t& bits01) {
  if (ram.contains(gpa1 & ~(PAGE_4K - 1), PAGE_4K)) {
    hpa = ram.base + gpa1;
    bits01 = ept_entry::RWX | ept_entry::MEMORY_TYPE.make(ept_memory_type::WB);
    return true;
  }
  if ((gpa1 & ~(PAGE_4K - 1)) == arch::apic::DEFAULT_BASE) {
    hpa = gpa1;
    bits01 = ept_entry::READ.mask | ept_entry::WRITE.mask | ept_entry::MEMORY_TYPE.make(ept_memory_type::UC);
    return true;
  }
  return false;
}

Ept02Leaf compose_ept02_leaf(const nestbed::common::vmx::EptWalkResult& r, uint64_t eptp12, EptAccess access,
                             uint64_t bits01, const GuestMemory& ram, bool platform_2m_pages) {
  uint64_t perms = bits01 & ((r.readable ? ept_entry::READ.mask : 0) | (r.writable ? ept_entry::WRITE.mask : 0) |
                             (r.executable ? ept_entry::EXECUTE.mask : 0));
  // With EPT12 A/D, a page becomes writable in EPT02 only once EPT12's
  // dirty flag is set, so that the first write sets it (KVM does the same).
  if (eptp::ENABLE_AD.test(eptp12) && !ept_entry::DIRTY.test(r.leaf)) perms &= ~ept_entry::WRITE.mask;
  Ept02Leaf leaf{};
  leaf.allowed = access == EptAccess::Read    ? (perms & ept_entry::READ.mask)
                 : access == EptAccess::Write ? (perms & ept_entry::WRITE.mask)
                                              : (perms & ept_entry::EXECUTE.mask);
  // The memory type: EPT12's, except where EPT01 maps device memory
  // uncached (the APIC page): what level k+1 thinks of that page cannot
  // make MMIO cacheable (KVM takes its own view of the page, too).
  const bool uncached01 = ept_entry::MEMORY_TYPE.get(bits01) == ept_memory_type::UC;
  leaf.bits = perms | (uncached01 ? (bits01 & (ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask))
                                  : (r.leaf & (ept_entry::MEMORY_TYPE.mask | ept_entry::IGNORE_PAT.mask)));
  // A 2 MiB EPT02 leaf when EPT12 maps at least 2 MiB there and the whole
  // 2 MiB of level k+1's memory behind it is RAM (EPT01 maps RAM linearly).
  const uint64_t base12 = r.address & ~(PAGE_2M - 1);
  const bool large = platform_2m_pages && r.leaf_level >= 2 && ram.contains(base12, PAGE_2M) &&
                     ((ram.base + base12) & (PAGE_2M - 1)) == 0;
  leaf.level = large ? 2 : 1;
  return leaf;
}

}  // namespace l1::nested
