// The guest's VMX instructions and cache flushes. VMX instructions exit
// unconditionally in VMX non-root operation (SDM 25.1.2); nested/ emulates
// them (nested/vmx_instructions.cpp), or they are #UD with nested=0, as on a
// processor without VMX.
#include "arch/x86/exceptions.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {

void handle_vmx_instruction(Vcpu& v) { nested::handle_vmx_instruction(v); }

// INVD (unconditional) and WBINVD (with "WBINVD exiting"): l1-vmm keeps no
// cache state of the guest's, so there is nothing to do but finish them.
void handle_invd_wbinvd(Vcpu& v) { skip_emulated_instruction(v); }

}  // namespace l1
