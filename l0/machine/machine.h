// A machine ready to run: guest RAM with the image and modules loaded by
// the Multiboot loader, the platform devices, and the Multiboot entry state.
#pragma once
#include <cstdint>
#include <memory>

#include "l0/devices/platform_devices.h"
#include "l0/engine.h"
#include "l0/machine/guest_memory.h"

namespace nestbed {

// CPU state at Multiboot entry (Multiboot spec 3.2): 32-bit protected mode,
// flat 4 GiB segments, paging and interrupts off, EAX = magic, EBX = info.
struct BootState {
  uint32_t entry = 0;
  uint32_t eax = 0;
  uint32_t ebx = 0;
};

class Machine {
 public:
  Machine(uint64_t memory_bytes, std::FILE* console);
  GuestMemory memory;
  PlatformDevices devices;
  BootState boot;
};

// RAM is one range from physical 0 (DESIGN.md §3). It must hold the Multiboot
// info below 1 MiB and something above it, and must end below the 32-bit MMIO
// hole where the local APIC lives (0xFEE00000): 3584 MiB is where QEMU's pc
// machine ends low memory, and Multiboot v1 addresses are 32-bit anyway.
inline constexpr uint64_t MIN_MEMORY_MIB = 2;
inline constexpr uint64_t MAX_MEMORY_MIB = 3584;

// Validates the configuration, creates the machine and loads the image and
// its modules. Throws InputError with a one-line message on bad input.
std::unique_ptr<Machine> create_machine(const RunConfig& config, std::FILE* console);

}  // namespace nestbed
