// TEST ONLY: a deliberately mis-configured EPT01 (option test_leak_page=1).
//
// `nestbed pg` checks resource control with escape probes: the guest reads
// and writes guest-physical memory outside its RAM and must reach nothing.
// A probe that never finds anything proves little, so this option opens a
// hole on purpose, and tests/pg.cmake checks that the probes find it. Never
// use it for anything else.
#pragma once

namespace l1 {

// Maps the first 4 KiB page of l1-vmm's own image (its Multiboot header
// and boot code: memory the guest must never see) at the guest-physical
// address right after the guest's RAM, read/write.
void map_test_leak_page();

}  // namespace l1
