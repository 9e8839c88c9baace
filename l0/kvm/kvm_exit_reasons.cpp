#include "l0/kvm/kvm_exit_reasons.h"

#include <linux/kvm.h>

namespace nestbed::kvm {

const char* kvm_exit_reason_name(uint32_t reason) {
  switch (reason) {
#define X(name)          \
  case KVM_EXIT_##name: \
    return "KVM_EXIT_" #name;
#include "l0/kvm/kvm_exit_reasons.def"
#undef X
    default:
      return nullptr;
  }
}

}  // namespace nestbed::kvm
