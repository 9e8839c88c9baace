// Nested EPT (KVM's nested_ept_* and the shadow MMU): level k+2 runs on
// EPT02 = EPT12 o EPT01. EPT02 starts empty and is filled lazily: an EPT02
// violation walks EPT12 (common/vmx/ept_walk, the walk the sim does in
// hardware) for the guest-physical address of level k+2; a fault there is
// reflected to level k+1 as its EPT violation or misconfiguration with the
// exact qualification, a translation is composed with EPT01 and installed.
// EPT02's tables come from a fixed pool; when it runs out, EPT02 is dropped
// and rebuilt (never a panic). INVEPT, VMXOFF and a new EPTP12 drop it.
#pragma once
#include <stdint.h>

namespace l1 {
struct Vcpu;
}

namespace l1::nested {

// The EPTP of the EPT02 for vmcs12's EPTP (one per EPTP12 in use, up to
// four; a new one when EPTP12 is new).
uint64_t nested_ept_eptp02(const Vcpu& v, uint64_t eptp12);

// Forgets every EPT02 translation (and invalidates what the processor cached).
void nested_ept_drop();

// An EPT violation of level k+2 (vmcs02 current): fills EPT02 or reflects
// the EPT12 fault.
void nested_ept_violation(Vcpu& v);

// EPT02 statistics: violations fixed, pages in use, rebuilds.
struct NestedEptStats {
  uint64_t faults_fixed, reflected, rebuilds, drops;
  unsigned pages_used, pages_total;
};
NestedEptStats nested_ept_stats();

}  // namespace l1::nested
