// Puts a KVM vCPU in the Multiboot entry state (DESIGN.md §3, Multiboot
// spec 3.2), the state the sim's Cpu::reset_to_multiboot produces.
#pragma once
#include "l0/kvm/kvm_api.h"
#include "l0/machine/machine.h"

namespace nestbed::kvm {

void enter_multiboot_state(KvmVcpu& vcpu, const BootState& boot);

}  // namespace nestbed::kvm
