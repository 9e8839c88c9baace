// The runtime's GDT layout (boot.cpp builds it): flat 64-bit code and data.
#pragma once
#include <stdint.h>

namespace rt {
inline constexpr uint16_t KERNEL_CS = 0x08;
inline constexpr uint16_t KERNEL_DS = 0x10;
}  // namespace rt
