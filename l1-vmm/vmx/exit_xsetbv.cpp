// XSETBV (exits unconditionally in VMX non-root operation, SDM 25.1.2).
// The processor has already raised #UD for CR4.OSXSAVE = 0 and #GP for
// CPL > 0 in the guest (those come before the exit, SDM 25.1.1); what is
// left are the checks of ECX and the value, which l1-vmm makes as XSETBV
// does (SDM vol. 2, XSETBV), injecting #GP(0) for what the processor would
// refuse. An accepted value is then written by l1-vmm's own XSETBV: VM
// entries and exits do not switch XCR0, so the guest's XCR0 is the
// processor's (l1-vmm itself uses no XSAVE-managed state, so it needs no
// XCR0 of its own; KVM's handle_xsetbv and __kvm_set_xcr).
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/xsave.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/x86.h"

namespace l1 {

void handle_xsetbv(Vcpu& v) {
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  const uint64_t value = (uint64_t(uint32_t(v.regs.gpr[RDX])) << 32) | uint32_t(v.regs.gpr[RAX]);
  const rt::CpuidResult leaf = processor_cpuid(0xd, 0);
  const uint64_t supported = (uint64_t(leaf.edx) << 32) | leaf.eax;
  if (guest_cpl() != 0 || index != arch::xcr0::INDEX || !arch::xcr0::valid(value, supported))
    return inject_exception(v, uint8_t(arch::Vector::GP), 0);
  rt::xsetbv(index, value);
  skip_emulated_instruction(v);
}

}  // namespace l1
