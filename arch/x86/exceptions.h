// Exception vectors (SDM vol. 3, 6.3.1), generated from exceptions.def.
#pragma once
#include <stdint.h>

namespace arch {

enum class Vector : uint8_t {
#define X(name, vec, err, text) name = vec,
#include "arch/x86/exceptions.def"
#undef X
};

// Does delivering this exception push an error code? (SDM 6.13)
constexpr bool exception_has_error_code(uint8_t vector) {
  switch (vector) {
#define X(name, vec, err, text) \
  case vec:                     \
    return err;
#include "arch/x86/exceptions.def"
#undef X
    default:
      return false;
  }
}

constexpr const char* exception_name(uint8_t vector) {
  switch (vector) {
#define X(name, vec, err, text) \
  case vec:                     \
    return text;
#include "arch/x86/exceptions.def"
#undef X
    default:
      return "reserved/external";
  }
}

// Exception classes for double-fault rules (SDM 6.15, table 6-4/6-5).
constexpr bool exception_is_contributory(uint8_t vector) {
  return vector == 0 || (vector >= 10 && vector <= 13);
}

// #PF error-code bits (SDM 4.7).
namespace pf_error {
inline constexpr uint32_t P = 1u << 0;     // 0: not present, 1: protection violation
inline constexpr uint32_t W = 1u << 1;     // write access
inline constexpr uint32_t U = 1u << 2;     // user-mode access
inline constexpr uint32_t RSVD = 1u << 3;  // reserved bit set in a paging entry
inline constexpr uint32_t I = 1u << 4;     // instruction fetch
inline constexpr uint32_t PK = 1u << 5;    // protection key
}  // namespace pf_error

// Selector error code (SDM 6.13): EXT, IDT, TI, index.
namespace selector_error {
inline constexpr uint32_t EXT = 1u << 0;
inline constexpr uint32_t IDT = 1u << 1;
inline constexpr uint32_t TI = 1u << 2;
}  // namespace selector_error

}  // namespace arch
