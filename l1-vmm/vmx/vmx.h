// Running the guest: the loop of VM entries and exits (vmx.cpp).
#pragma once
#include "l1-vmm/vmx/vcpu.h"

namespace l1 {

// Enters the guest on vmcs01 and handles its exits, for good: the run ends
// when the guest ends it (isa-debug-exit, a triple fault, a halt) or an
// exit stops it.
[[noreturn]] void vcpu_run(Vcpu& v);

}  // namespace l1
