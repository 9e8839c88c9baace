// VMX basic exit reasons (SDM appendix C), generated from exit_reasons.def.
// The exit-reason field's flag bits (SDM 24.9.1) are the layout
// arch::vmx::exit_reason_field in exit_qualification.def.
#pragma once
#include <stdint.h>

#include "arch/vmx/exit_qualification.h"

namespace arch::vmx {

enum class ExitReason : uint16_t {
#define X(name, number, qual, text) name = number,
#include "arch/vmx/exit_reasons.def"
#undef X
};

// Every qualification column names a layout of exit_qualification.def.
#define X(name, number, qual, text) \
  static_assert(qual::WIDTH == 64, #name ": exit qualifications are 64-bit layouts");
#include "arch/vmx/exit_reasons.def"
#undef X

inline constexpr uint16_t kExitReasons[] = {
#define X(name, number, qual, text) number,
#include "arch/vmx/exit_reasons.def"
#undef X
};
inline constexpr unsigned kExitReasonCount = sizeof(kExitReasons) / sizeof(kExitReasons[0]);

namespace detail {
constexpr unsigned exit_reason_max() {
  unsigned m = 0;
  for (uint16_t r : kExitReasons) m = r > m ? r : m;
  return m;
}
constexpr bool exit_reasons_unique_and_sorted() {
  for (unsigned i = 1; i < kExitReasonCount; i++)
    if (kExitReasons[i] <= kExitReasons[i - 1]) return false;
  return true;
}
}  // namespace detail
static_assert(detail::exit_reasons_unique_and_sorted(), "exit_reasons.def: numbers must ascend");

// The highest basic exit reason the table knows: a table indexed by basic
// exit reason (DESIGN.md §2) has kExitReasonMax + 1 slots.
inline constexpr unsigned kExitReasonMax = detail::exit_reason_max();

// The basic exit reason of an exit-reason field value.
constexpr uint16_t exit_reason_basic(uint32_t exit_reason) {
  return uint16_t(exit_reason_field::BASIC.get(exit_reason));
}
constexpr bool exit_reason_is_entry_failure(uint32_t exit_reason) {
  return exit_reason_field::ENTRY_FAILURE.test(exit_reason);
}
constexpr uint32_t entry_failure_reason(ExitReason basic) {
  return uint32_t(basic) | uint32_t(exit_reason_field::ENTRY_FAILURE.mask);
}

// "EPT_VIOLATION"; nullptr for an unused number. Takes a whole exit-reason
// field value too (its flag bits are ignored).
constexpr const char* exit_reason_name(uint32_t exit_reason) {
  switch (exit_reason_basic(exit_reason)) {
#define X(name, number, qual, text) \
  case number:                      \
    return #name;
#include "arch/vmx/exit_reasons.def"
#undef X
    default:
      return nullptr;
  }
}
constexpr const char* exit_reason_name(ExitReason r) { return exit_reason_name(uint32_t(r)); }

// The SDM's description ("EPT violation"); nullptr for an unused number.
constexpr const char* exit_reason_description(uint32_t exit_reason) {
  switch (exit_reason_basic(exit_reason)) {
#define X(name, number, qual, text) \
  case number:                      \
    return text;
#include "arch/vmx/exit_reasons.def"
#undef X
    default:
      return nullptr;
  }
}

// The exit_qualification.def layout that decodes this reason's exit
// qualification ("qual_cr_access"); nullptr for an unused number.
constexpr const char* exit_reason_qualification(uint32_t exit_reason) {
  switch (exit_reason_basic(exit_reason)) {
#define X(name, number, qual, text) \
  case number:                      \
    return #qual;
#include "arch/vmx/exit_reasons.def"
#undef X
    default:
      return nullptr;
  }
}

}  // namespace arch::vmx
