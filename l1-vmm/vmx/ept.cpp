#include "l1-vmm/vmx/ept.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/paging.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/vmx/vmcs_config.h"

namespace l1 {

Ept ept01;

namespace {

using namespace arch::vmx;

constexpr uint64_t PAGE_4K = arch::pte::PAGE_SIZE;
constexpr uint64_t PAGE_2M = arch::pte::LARGE_PAGE_SIZE;
constexpr unsigned ROOT_LEVEL = 4;

uint64_t* table_at(uint64_t entry) { return reinterpret_cast<uint64_t*>(entry & ept_entry::ADDRESS_MASK); }

constexpr uint64_t memory_type(uint64_t type) { return ept_entry::MEMORY_TYPE.make(type); }

}  // namespace

void Ept::init(const VmcsConfig& config) {
  root_ = mm::alloc_page_or_die("the EPT01 PML4");
  large_pages_ = config.ept_2mb_pages();
  // EPTP (SDM 24.6.11): the paging structures' memory type, a 4-level walk,
  // accessed/dirty flags off (nothing here reads them).
  const uint64_t type = config.ept_write_back() ? ept_memory_type::WB : ept_memory_type::UC;
  eptp_ = root_ | eptp::MEMORY_TYPE.make(type) | eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS);
}

// Non-leaf entries carry RWX and no memory type (SDM 28.2.2, tables 28-1..3):
// the leaf decides.
void Ept::map_page(uint64_t gpa, uint64_t hpa, unsigned level, uint64_t leaf_bits) {
  uint64_t* table = table_at(root_);
  for (unsigned l = ROOT_LEVEL; l > level; l--) {
    uint64_t& e = table[ept_index(gpa, l)];
    if (!ept_entry_present(e)) e = mm::alloc_page_or_die("an EPT01 table") | ept_entry::RWX;
    table = table_at(e);
  }
  const uint64_t large = level > 1 ? ept_entry::LARGE_PAGE.mask : 0;
  table[ept_index(gpa, level)] = (hpa & ept_entry::ADDRESS_MASK) | leaf_bits | large;
}

void Ept::map_range(uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t leaf_bits) {
  const uint64_t end = gpa + size;
  while (gpa < end) {
    const bool aligned = ((gpa | hpa) & (PAGE_2M - 1)) == 0;
    if (large_pages_ && aligned && end - gpa >= PAGE_2M) {
      map_page(gpa, hpa, 2, leaf_bits);
      gpa += PAGE_2M, hpa += PAGE_2M;
    } else {
      map_page(gpa, hpa, 1, leaf_bits);
      gpa += PAGE_4K, hpa += PAGE_4K;
    }
  }
}

uint64_t* Ept::leaf(uint64_t gpa, unsigned& level) const {
  uint64_t* table = table_at(root_);
  for (unsigned l = ROOT_LEVEL; l >= 1; l--) {
    uint64_t& e = table[ept_index(gpa, l)];
    if (!ept_entry_present(e)) return nullptr;
    if (l == 1 || ept_entry::LARGE_PAGE.test(e)) {
      level = l;
      return &e;
    }
    table = table_at(e);
  }
  return nullptr;
}

uint64_t no_ram_page() {
  static uint64_t page = 0;
  if (!page) {
    page = mm::alloc_page_or_die("the no-RAM page");
    __builtin_memset(reinterpret_cast<void*>(page), 0xff, PAGE_4K);
  }
  return page;
}

void build_ept01(const VmcsConfig& config) {
  ept01.init(config);
  // RAM: read, write, execute; write-back.
  ept01.map_range(0, guest_memory.base, guest_memory.size, ept_entry::RWX | memory_type(ept_memory_type::WB));
  // The local APIC: the guest owns the platform's APIC (its timer, EOI), so
  // its page maps to the real one, uncached as MMIO must be, not executable.
  ept01.map_range(arch::apic::DEFAULT_BASE, arch::apic::DEFAULT_BASE, arch::apic::MMIO_SIZE,
                  ept_entry::READ.mask | ept_entry::WRITE.mask | memory_type(ept_memory_type::UC));
  // The I/O APIC's page stays unmapped: every access to it is an EPT
  // violation that l1-vmm emulates by performing it itself (devices/mmio.h).
}

}  // namespace l1
