// The host side of every VM exit (SDM 27.5): l1-vmm's own GDT with a TSS
// (VM exits load TR, and the host-state checks want a nonzero TR selector,
// SDM 26.2.3) and the VMCS host-state fields (KVM's
// vmx_set_constant_host_state).
#pragma once
#include <stdint.h>

namespace l1 {

struct VmcsConfig;

// The runtime's flat code and data descriptors plus a 64-bit TSS; loads
// GDTR and TR. Once, before the first VMCS is set up.
void install_host_gdt();

// Every host-state field but HOST_RSP, which the entry path writes when it
// changes (vmenter.cpp): CR0/CR3/CR4 as they are now, the flat selectors,
// TR, GDTR/IDTR bases, FS/GS bases, SYSENTER, EFER and (when the exit
// controls load it) PAT, and HOST_RIP = the VM-exit landing point.
void vmx_set_constant_host_state(const VmcsConfig& config);

}  // namespace l1
