// What boot.cpp sets up and the rest of the runtime relies on.
#pragma once
#include <stdint.h>

namespace rt {
// The GDT's flat 64-bit code and data segments.
inline constexpr uint16_t KERNEL_CS = 0x08;
inline constexpr uint16_t KERNEL_DS = 0x10;
// The boot page tables identity-map [0, IDENTITY_MAP_END) with 2 MiB pages.
inline constexpr unsigned IDENTITY_MAP_GIB = 4;
inline constexpr uint64_t IDENTITY_MAP_END = uint64_t(IDENTITY_MAP_GIB) << 30;
}  // namespace rt
