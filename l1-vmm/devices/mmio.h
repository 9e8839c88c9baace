// Memory-mapped devices l1-vmm emulates by exit (README.md, "Memory"): the
// platform's I/O APIC page, which EPT01 leaves unmapped, so every guest
// access to it is an EPT violation. l1-vmm decodes the instruction
// (mmio_decode.h), performs the same access itself on the platform's
// device (its own identity map reaches it, uncached) and completes the
// instruction for the guest: a load's register, RIP past the instruction.
//
// That forwarding is what makes every VMM level emulate the access: under
// l1-vmm under l1-vmm the inner level's EPT12 does not map the page either,
// so the guest's access is reflected to the inner l1-vmm, whose own access
// then exits to the outer one, which performs it on l0's device.
#pragma once
#include <stdint.h>

namespace l1 {

struct Vcpu;

// Is guest-physical `gpa` in a page l1-vmm forwards to the platform?
bool mmio_forwarded(uint64_t gpa);

// Completes the access behind the current EPT violation at `gpa` (a
// forwarded page): decodes the guest's instruction at CS:RIP, performs it
// on the platform and skips it. An instruction it cannot decode, or one
// whose access the exit does not describe, ends the run (L1_GUEST_FAILED)
// naming its bytes; a page fault fetching it is injected into the guest.
void emulate_mmio(Vcpu& v, uint64_t gpa);

}  // namespace l1
