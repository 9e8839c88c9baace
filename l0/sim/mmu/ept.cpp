// The EPT walk in VMX non-root operation (SDM vol. 3, 28.2): guest-physical
// to host-physical addresses. The walk itself — violations (28.2.3.2),
// misconfigurations (28.2.3.1), accessed/dirty flags (28.2.4) — is
// common/vmx/ept_walk, shared with l1-vmm's nested EPT; here it becomes the
// sim's VM exits.
#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"
#include "common/vmx/ept_walk.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch::vmx;

uint64_t Cpu::ept_translate(uint64_t gpa, Access a, uint64_t la, bool la_valid, bool paging_structure,
                            bool* writable_now) {
  static_assert(EptCache::kRead == 1u << unsigned(Access::Read) && EptCache::kWrite == 1u << unsigned(Access::Write) &&
                EptCache::kExec == 1u << unsigned(Access::Exec));
  const uint64_t eptp = vmx_->controls().eptp;
  const uint64_t hit = ept_cache_.find(eptp, gpa, 1u << unsigned(a));
  if (NB_LIKELY(hit != EptCache::kMiss)) {
    if (writable_now) *writable_now = hit & EptCache::kWrite;
    return (hit & ~0xfffull) | (gpa & 0xfff);
  }
  return ept_walk(gpa, a, la, la_valid, paging_structure, writable_now);
}

uint64_t Cpu::ept_walk(uint64_t gpa, Access a, uint64_t la, bool la_valid, bool paging_structure,
                       bool* writable_now) {
  const common::vmx::EptMemory mem{
      this,
      [](void* ctx, uint64_t pa, uint64_t& v) {
        v = static_cast<Cpu*>(ctx)->phys_read(pa, 8);
        return true;
      },
      [](void* ctx, uint64_t pa, uint64_t v) { static_cast<Cpu*>(ctx)->phys_write(pa, 8, v); },
      vmx_->controls().pml ? +[](void* ctx, uint64_t gpa) { return static_cast<Cpu*>(ctx)->vmx().pml_log(gpa); }
                           : nullptr};
  const common::vmx::EptAccess access = a == Access::Read    ? common::vmx::EptAccess::Read
                                        : a == Access::Write ? common::vmx::EptAccess::Write
                                                             : common::vmx::EptAccess::Exec;
  common::vmx::EptWalkOptions opt;
  opt.execute_only = true;  // IA32_VMX_EPT_VPID_CAP bit 0 is reported
  opt.paging_structure = paging_structure;
  const uint64_t eptp_value = vmx_->controls().eptp;
  const common::vmx::EptWalkResult r = common::vmx::ept_walk(eptp_value, gpa, access, mem, opt);
  if (r.status == common::vmx::EptWalkStatus::Ok) {
    const bool ad = eptp::ENABLE_AD.test(eptp_value);
    const bool write_now = r.writable && (!ad || ept_entry::DIRTY.test(r.leaf));
    if (writable_now) *writable_now = write_now;
    ept_cache_.fill(eptp_value, gpa, r.address,
                    (r.readable ? EptCache::kRead : 0) | (write_now ? EptCache::kWrite : 0) |
                        (r.executable ? EptCache::kExec : 0),
                    r.leaf_level);
    return r.address;
  }

  // A full page-modification log: a fault-like exit, the access not made
  // and no flag of the leaf set (SDM 28.2.5).
  if (r.status == common::vmx::EptWalkStatus::LogFull) throw vmx::VmExitRequest{uint32_t(ExitReason::PML_FULL)};
  vmx::VmExitRequest exit{uint32_t(r.status == common::vmx::EptWalkStatus::Violation ? ExitReason::EPT_VIOLATION
                                                                                      : ExitReason::EPT_MISCONFIG)};
  exit.qualification = 0;
  if (r.status == common::vmx::EptWalkStatus::Violation) {
    exit.qualification = r.qualification;
    if (la_valid)
      exit.qualification |= qual_ept_violation::GLA_VALID.mask | qual_ept_violation::GLA_TRANSLATED.make(!paging_structure);
  }
  exit.guest_physical = gpa;
  exit.guest_linear = la_valid ? la : 0;
  throw exit;
}

}  // namespace nestbed::sim
