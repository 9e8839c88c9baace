// Boots the guest as a Multiboot loader would (DESIGN.md §3): Multiboot
// module 0 is the guest's kernel and its string ("<path> <args>") the
// guest's cmdline; modules 1.. become the guest's modules 0... The image
// parsing, the guest-physical layout and the boot information are l0's
// (common/boot/, shared with l0/loader/multiboot_loader.cpp), so a guest
// finds everything where it would natively.
//
// Errors (no module, a malformed image, a guest that does not fit) end the
// run with L1_BAD_GUEST_IMAGE or L1_NO_MEMORY and say which.
#pragma once
#include <stdint.h>

#include "runtime/boot_info.h"

namespace l1 {

// The Multiboot entry state (spec 3.2): EIP, EAX = the boot-loader magic,
// EBX = the guest-physical address of the Multiboot info.
struct GuestBoot {
  uint32_t entry, eax, ebx;
  const char* name;  // the guest image's path (module 0's first word)
};

// Loads into guest_memory (which must be allocated).
GuestBoot load_multiboot_guest(const rt::BootInfo& boot);

}  // namespace l1
