// The guest's VMX instructions and cache flushes. VMX instructions exit
// unconditionally in VMX non-root operation (SDM 25.1.2). l1-vmm does not
// offer VMX to its guest yet (CPUID.1:ECX.VMX = 0, CR4.VMXE refused), so
// they are #UD, as on a processor without VMX; nested/ will emulate them
// (handle_vmon, handle_vmlaunch, ... in KVM's nested.c) and replace these
// entries of the exit table.
#include "arch/x86/exceptions.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {

void handle_vmx_instruction(Vcpu& v) { inject_exception(v, uint8_t(arch::Vector::UD)); }

// INVD (unconditional) and WBINVD (with "WBINVD exiting"): l1-vmm keeps no
// cache state of the guest's, so there is nothing to do but finish them.
void handle_invd_wbinvd(Vcpu& v) { skip_emulated_instruction(v); }

}  // namespace l1
