// The rules by which l1-vmm builds EPT02 = EPT12 o EPT01 (nested_ept.cpp):
// how EPT12 is walked for an EPT02 violation, what level k+1 is told when
// EPT12 forbids the access, what EPT01 maps, and the EPT02 leaf composed
// from both. Pure functions of the walk's result, the EPTP12 and level
// k+1's RAM, so the host unit tests check them case by case; nested_ept.cpp
// does the walk, the installing and the reflecting around them.
#pragma once
#include <stdint.h>

#include "common/vmx/ept_walk.h"
#include "l1-vmm/mm/guest_memory.h"

namespace l1::nested {

// How EPT12 is walked for an EPT02 violation with exit qualification
// `qual02`: the access that faulted, and whether it is a guest
// paging-structure access (GLA valid, "translated" 0). With EPT12's A/D
// flags on, such an access is a write for EPT (SDM 28.2.3.2), whatever
// EPT02 (which has no A/D flags) reported. `execute_only`: the
// IA32_VMX_EPT_VPID_CAP bit 0 offered to level k+1.
struct Ept12Request {
  nestbed::common::vmx::EptAccess access;
  nestbed::common::vmx::EptWalkOptions options;
};
Ept12Request ept12_request(uint64_t qual02, uint64_t eptp12, bool execute_only);

// The qualification of the EPT violation level k+1 gets when EPT12
// forbids the access: the walk's access and permission bits (5:0) and the
// platform's linear-address bits (7, 8) and NMI unblocking (12) (SDM
// 27.2.1, table 27-7).
uint64_t ept12_violation_qualification(uint64_t walk_qualification, uint64_t qual02);

// EPT01 for one guest-physical page of level k+1 (vmx/ept.cpp's
// build_ept01): its RAM (host-physical ram.base + gpa1), read/write/execute
// and write-back, or the local APIC's page, read/write and uncached.
// `bits01`: EPT01's leaf bits there (R/W/X and memory type). false: EPT01
// maps nothing there.
bool ept01_translate(const GuestMemory& ram, uint64_t gpa1, uint64_t& hpa, uint64_t& bits01);

// The EPT02 leaf for an access EPT12 allowed (`r12`, the walk's result),
// composed with EPT01's leaf bits `bits01` there:
//  - permissions: EPT12's (the AND over its walk) AND EPT01's;
//  - with EPT12's A/D flags (EPTP12 bit 6) a page is writable only once
//    EPT12's leaf is dirty, so that the first write sets the flag;
//  - memory type and ignore-PAT: EPT12's leaf's;
//  - a 2 MiB leaf when the platform's EPT maps 2 MiB pages, EPT12 maps at
//    least 2 MiB there and those 2 MiB of level k+1's memory are RAM,
//    contiguous and 2 MiB aligned in host-physical memory; else 4 KiB.
struct Ept02Leaf {
  bool allowed;    // the composed permissions allow `access`; false: EPT01 forbids what EPT12 allows
  uint64_t bits;   // R/W/X, memory type, ignore-PAT (the address and the large-page bit are the caller's)
  unsigned level;  // 1: 4 KiB, 2: 2 MiB
};
Ept02Leaf compose_ept02_leaf(const nestbed::common::vmx::EptWalkResult& r12, uint64_t eptp12,
                             nestbed::common::vmx::EptAccess access, uint64_t bits01, const GuestMemory& ram,
                             bool platform_2m_pages);

}  // namespace l1::nested
