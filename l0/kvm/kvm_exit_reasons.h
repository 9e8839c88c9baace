// Names of KVM's exit reasons (KVM_EXIT_*), from kvm_exit_reasons.def.
#pragma once
#include <cstdint>

namespace nestbed::kvm {

// "KVM_EXIT_IO" for KVM_EXIT_IO, ...; nullptr for a reason the table lacks.
const char* kvm_exit_reason_name(uint32_t reason);

}  // namespace nestbed::kvm
