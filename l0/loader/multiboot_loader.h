// Multiboot v1 loader (DESIGN.md §3): ELF32 (as `objcopy -O elf32-i386`
// makes from 64-bit code) and ELF64 images with the Multiboot header in
// their first 8 KiB, or the a.out kludge; modules; cmdline; memory map.
#pragma once
#include <string>
#include <vector>

#include "l0/engine.h"
#include "l0/machine/guest_memory.h"
#include "l0/machine/machine.h"

namespace nestbed {

// Loads `image_path` into `memory`, places the Multiboot info, cmdline
// ("<image name> <cmdline>") and modules, and returns the entry state.
// Throws InputError on a missing/unreadable file, a file without a valid
// Multiboot header, an ELF for another machine, a segment over the Multiboot
// information and memory map or over the EBDA/VGA/BIOS area below 1 MiB
// (common/boot/multiboot_info.h: segments may lie below 1 MiB otherwise),
// or contents that do not fit.
BootState load_multiboot(GuestMemory& memory, const std::string& image_path, const std::string& cmdline,
                         const std::vector<ModuleSpec>& modules);

}  // namespace nestbed
