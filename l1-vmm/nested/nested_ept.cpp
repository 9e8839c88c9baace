#include "l1-vmm/nested/nested_ept.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"
#include "common/vmx/ept_walk.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/nested/ept02_rules.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/ept.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {
namespace {

using namespace arch::vmx;
using F = VmcsField;

constexpr uint64_t PAGE_4K = arch::pte::PAGE_SIZE;
constexpr uint64_t PAGE_2M = arch::pte::LARGE_PAGE_SIZE;
// EPT02's tables: 1 MiB of l1-vmm's memory, enough for the PML4, a few
// PDPTs and PDs and the page tables of 500 MiB of 4 KiB mappings; with
// 2 MiB leaves (the common case: EPT12 and EPT01 both map 2 MiB pages)
// a handful of pages suffice.
constexpr unsigned POOL_PAGES = 256;

// One EPT02 per EPTP12 that level k+1 uses (a nested l1-vmm alternates
// between two: its EPT01 for its guest and its EPT02 for the guest's
// guest), sharing the pool.
constexpr unsigned ROOTS = 4;
struct Ept02Root {
  uint64_t eptp12 = ~0ull;   // the EPTP12 this EPT02 translates for; ~0: unused
  uint64_t pml4 = 0;         // its PML4 page, from the pool
};

struct Ept02 {
  uint64_t pool = 0;         // physical address of POOL_PAGES pages
  unsigned used = 0;         // pages handed out
  Ept02Root roots[ROOTS];
  unsigned current = 0;      // the root EPT02 violations fill
  bool large_pages = false;  // the platform's EPT maps 2 MiB pages
  uint64_t eptp_bits = 0;    // memory type and walk length of every EPTP02
  bool invept_all = false;   // the platform has all-context INVEPT
  NestedEptStats stats{};
};
Ept02 ept02;

uint64_t* table(uint64_t pa) { return reinterpret_cast<uint64_t*>(pa & ept_entry::ADDRESS_MASK); }

// A cleared page of the pool; 0 when it is exhausted.
uint64_t alloc_table() {
  if (ept02.used == POOL_PAGES) return 0;
  const uint64_t pa = ept02.pool + uint64_t(ept02.used++) * PAGE_4K;
  __builtin_memset(reinterpret_cast<void*>(pa), 0, PAGE_4K);
  return pa;
}

uint64_t eptp02_of(const Ept02Root& r) { return r.pml4 | ept02.eptp_bits; }
uint64_t eptp02() { return eptp02_of(ept02.roots[ept02.current]); }

void init_pool(const Vcpu& v) {
  if (ept02.pool) return;
  ept02.pool = mm::alloc(POOL_PAGES * PAGE_4K, PAGE_4K);
  if (!ept02.pool) fatal(L1_NO_MEMORY, "no memory for EPT02's tables (%u KiB)", POOL_PAGES * 4);
  ept02.large_pages = v.config.ept_2mb_pages();
  // Write-back paging structures when the platform allows them, 4 levels,
  // no A/D flags: nothing reads EPT02's (EPT12's are what level k+1 sees).
  const uint64_t type = v.config.ept_write_back() ? ept_memory_type::WB : ept_memory_type::UC;
  ept02.eptp_bits = eptp::MEMORY_TYPE.make(type) | eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS);
  ept02.invept_all = vmx_ept_vpid_cap::INVEPT_ALL_CONTEXT.test(v.config.caps.ept_vpid_cap);
  ept02.used = 0;
}

// Installs the leaf for `gpa2` at `level` (1: 4 KiB, 2: 2 MiB); false:
// the pool ran out.
bool install(uint64_t gpa2, uint64_t hpa, unsigned level, uint64_t leaf_bits) {
  uint64_t* t = table(ept02.roots[ept02.current].pml4);
  for (unsigned l = 4; l > level; l--) {
    uint64_t& e = t[ept_index(gpa2, l)];
    if (!ept_entry_present(e) || ept_entry::LARGE_PAGE.test(e)) {
      const uint64_t next = alloc_table();
      if (!next) return false;
      e = next | ept_entry::RWX;
    }
    t = table(e);
  }
  const uint64_t page = level == 2 ? PAGE_2M : PAGE_4K;
  uint64_t& leaf = t[ept_index(gpa2, level)];
  const bool upgrade = ept_entry_present(leaf);
  leaf = (hpa & ~(page - 1) & ept_entry::ADDRESS_MASK) | leaf_bits | (level == 2 ? ept_entry::LARGE_PAGE.mask : 0);
  // A present entry that gained rights: what the processor cached of the
  // old one must go (SDM 28.3.3.4).
  if (upgrade) rt::vmx::invept(invept_type::SINGLE_CONTEXT, eptp02());
  return true;
}

// EPT12's tables in level k+1's memory; outside its RAM an entry reads as
// all-ones, as memory that is not there reads on the platform (the walk
// then finds a misconfiguration, SDM 28.2.3.1).
bool read_l1_entry(void*, uint64_t pa, uint64_t& value) {
  value = guest_memory.read_or_ones(pa, 8);
  return true;
}
void write_l1_entry(void*, uint64_t pa, uint64_t value) {
  if (auto* p = static_cast<uint64_t*>(guest_memory.hva(pa, 8))) *p = value;
}

// vmcs12's page-modification log (SDM 28.2.5), emulated where the walk of
// EPT12 sets a dirty flag: EPT02 is writable only once EPT12's leaf is
// dirty (ept02_rules.h), so every 0-to-1 transition of a dirty flag in
// EPT12 passes through here — KVM's nested PML. The log is level k+1's
// memory (a PML address outside its RAM takes the entry nowhere, as a
// processor's write there would).
bool log_dirty_in_vmcs12(void* ctx, uint64_t gpa) {
  Vmcs12& c = *static_cast<Vmcs12*>(ctx);
  const uint64_t index = c.get(F::GUEST_PML_INDEX);
  if (index >= pml::ENTRIES) return false;
  if (auto* p = static_cast<uint64_t*>(guest_memory.hva(c.get(F::PML_ADDRESS) + pml::ENTRY_BYTES * index, 8)))
    *p = gpa & pml::GPA_MASK;
  c.set(F::GUEST_PML_INDEX, index - 1);
  return true;
}

}  // namespace

uint64_t nested_ept_eptp02(const Vcpu& v, uint64_t eptp12) {
  init_pool(v);
  for (unsigned i = 0; i < ROOTS; i++)
    if (ept02.roots[i].eptp12 == eptp12) return eptp02_of(ept02.roots[ept02.current = i]);
  // A new EPTP12: a free root, or start over when there is none (or no page).
  unsigned i = 0;
  while (i < ROOTS && ept02.roots[i].eptp12 != ~0ull) i++;
  if (i == ROOTS || ept02.used == POOL_PAGES) {
    nested_ept_drop();
    i = 0;
  }
  ept02.roots[i] = Ept02Root{eptp12, alloc_table()};
  ept02.current = i;
  return eptp02();
}

void nested_ept_drop() {
  if (!ept02.pool) return;
  for (Ept02Root& r : ept02.roots) {
    if (r.eptp12 != ~0ull && !ept02.invept_all) rt::vmx::invept(invept_type::SINGLE_CONTEXT, eptp02_of(r));
    r = Ept02Root{};
  }
  if (ept02.invept_all) rt::vmx::invept(invept_type::ALL_CONTEXT, 0);
  ept02.used = 0;
  ept02.stats.drops++;
}

NestedEptStats nested_ept_stats() {
  NestedEptStats s = ept02.stats;
  s.pages_used = ept02.used;
  s.pages_total = POOL_PAGES;
  return s;
}

void nested_ept_violation(Vcpu& v) {
  Vmcs12& c = v.nested.cur->vmcs12;
  const uint64_t qual = v.exit.qualification;
  const uint64_t gpa2 = vmcs_read(F::GUEST_PHYSICAL_ADDRESS);
  const uint64_t eptp12 = c.get(F::EPT_POINTER);
  const bool pml12 = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                     c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::ENABLE_PML);
  const nestbed::common::vmx::EptMemory mem{&c, read_l1_entry, write_l1_entry, pml12 ? log_dirty_in_vmcs12 : nullptr};
  const bool execute_only = vmx_ept_vpid_cap::EXECUTE_ONLY.test(v.nested.caps.ept_vpid_cap());
  const Ept12Request req = ept12_request(qual, eptp12, execute_only);
  const nestbed::common::vmx::EptWalkResult r =
      nestbed::common::vmx::ept_walk(eptp12, gpa2, req.access, mem, req.options);

  switch (r.status) {
    case nestbed::common::vmx::EptWalkStatus::Violation:
      // EPT12 forbids it: level k+1's EPT violation.
      ept02.stats.reflected++;
      return nested_vmx_vmexit(v, uint32_t(ExitReason::EPT_VIOLATION),
                               ept12_violation_qualification(r.qualification, qual));
    case nestbed::common::vmx::EptWalkStatus::Misconfig:
      ept02.stats.reflected++;
      return nested_vmx_vmexit(v, uint32_t(ExitReason::EPT_MISCONFIG), 0);
    case nestbed::common::vmx::EptWalkStatus::LogFull:
      // vmcs12's log is full: level k+1's "page-modification log full" exit.
      ept02.stats.reflected++;
      return nested_vmx_vmexit(v, uint32_t(ExitReason::PML_FULL), qual & qual_ept_violation::NMI_UNBLOCKING.mask);
    case nestbed::common::vmx::EptWalkStatus::NoMemory:
      guest_failed(v, "EPT12 (the guest hypervisor's EPT) has a table outside its RAM");
    case nestbed::common::vmx::EptWalkStatus::Ok:
      break;
  }

  // EPT12 allows it: compose with EPT01 (ept02_rules.h).
  uint64_t hpa, bits01;
  if (!ept01_translate(guest_memory, r.address, hpa, bits01)) {
    // EPT12 maps level k+2 to guest-physical memory level k+1 does not
    // have: on the platform, reads there return all-ones (an instruction
    // fetch too). A read-only page of all-ones gives exactly that; a write
    // would have to be dropped, which needs the instruction emulated.
    if (req.access == nestbed::common::vmx::EptAccess::Write)
      guest_failed(v, "a write through EPT12 to guest-physical memory level k+1 does not have");
    hpa = no_ram_page() | (r.address & (PAGE_4K - 1));
    bits01 = ept_entry::READ.mask | ept_entry::EXECUTE.mask | ept_entry::MEMORY_TYPE.make(ept_memory_type::UC);
  }
  const Ept02Leaf leaf = compose_ept02_leaf(r, eptp12, req.access, bits01, guest_memory, ept02.large_pages);
  if (!leaf.allowed) guest_failed(v, "an access EPT12 allows but EPT01 does not (e.g. execution from the APIC page)");
  if (!install(gpa2, hpa, leaf.level, leaf.bits)) {
    // The pool ran out: start EPT02 over (it refills on demand), with its
    // new root in vmcs02 (other vmcs02s notice at their next entry).
    ept02.stats.rebuilds++;
    nested_ept_drop();
    const uint64_t eptp = nested_ept_eptp02(v, eptp12);
    vmcs_write(F::EPT_POINTER, eptp);
    v.nested.cur->eptp02 = eptp;
    if (!install(gpa2, hpa, leaf.level, leaf.bits)) fatal(L1_PANIC, "EPT02: one mapping does not fit the pool");
  }
  ept02.stats.faults_fixed++;
  // An event whose delivery hit the missing EPT02 entry (vmcs12's event
  // injection, or level k+2's own) did not happen: inject it again (SDM
  // 27.2.4; KVM's vmx_complete_interrupts).
  const uint32_t idt = vmcs_read32(F::IDT_VECTORING_INFO_FIELD);
  if (intr_info::VALID.test(idt)) requeue_event(idt);
}

}  // namespace l1::nested
