// VM-instruction error numbers (SDM 30.4) and VMX-abort indicators (SDM
// 27.7), generated from vm_instruction_errors.def and vmx_aborts.def.
#pragma once
#include <stdint.h>

namespace arch::vmx {

enum class VmInstructionError : uint32_t {
#define X(name, number, text) name = number,
#include "arch/vmx/vm_instruction_errors.def"
#undef X
};

inline constexpr uint32_t kVmInstructionErrors[] = {
#define X(name, number, text) number,
#include "arch/vmx/vm_instruction_errors.def"
#undef X
};
inline constexpr unsigned kVmInstructionErrorCount = sizeof(kVmInstructionErrors) / sizeof(kVmInstructionErrors[0]);

// "ENTRY_INVALID_CONTROL_FIELD"; nullptr for an unused number.
constexpr const char* vm_instruction_error_name(uint32_t number) {
  switch (number) {
#define X(name, n, text) \
  case n:                \
    return #name;
#include "arch/vmx/vm_instruction_errors.def"
#undef X
    default:
      return nullptr;
  }
}
// The SDM's text ("VM entry with invalid control field(s)"); nullptr for an
// unused number.
constexpr const char* vm_instruction_error_text(uint32_t number) {
  switch (number) {
#define X(name, n, text) \
  case n:                \
    return text;
#include "arch/vmx/vm_instruction_errors.def"
#undef X
    default:
      return nullptr;
  }
}
constexpr const char* vm_instruction_error_text(VmInstructionError e) { return vm_instruction_error_text(uint32_t(e)); }

enum class VmxAbort : uint32_t {
#define X(name, number, text) name = number,
#include "arch/vmx/vmx_aborts.def"
#undef X
};

constexpr const char* vmx_abort_name(uint32_t number) {
  switch (number) {
#define X(name, n, text) \
  case n:                \
    return #name;
#include "arch/vmx/vmx_aborts.def"
#undef X
    default:
      return nullptr;
  }
}
constexpr const char* vmx_abort_text(uint32_t number) {
  switch (number) {
#define X(name, n, text) \
  case n:                \
    return text;
#include "arch/vmx/vmx_aborts.def"
#undef X
    default:
      return nullptr;
  }
}

}  // namespace arch::vmx
