// VMCALL (exits unconditionally, SDM 25.1.2): l1-vmm's hypercalls
// (hypercall_abi.h, README.md "Hypercalls"), KVM's kvm_emulate_hypercall.
#include "arch/platform.h"
#include "arch/x86/segment.h"
#include "l1-vmm/hypercall_abi.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/console.h"
#include "runtime/x86.h"

namespace l1 {
namespace {

namespace hc = hypercall;

uint64_t kvm_emulate_hypercall(Vcpu& v, uint64_t nr) {
  switch (nr) {
    case hc::NOP: return hc::OK;
    case hc::PUTCHAR: rt::console_putc(char(v.regs.gpr[RBX])); return hc::OK;
    case hc::EXIT:
      stats_print_at_end();
      rt::outl(arch::platform::DEBUG_EXIT, uint32_t(v.regs.gpr[RBX]));
      return hc::OK;  // only without an isa-debug-exit device
    case hc::PRINT_STATS: stats_print_if_enabled(); return hc::OK;
    default: return hc::E_NOSYS;
  }
}

}  // namespace

void handle_vmcall(Vcpu& v) {
  // A guest hypervisor in VMX root operation (after its VMXON) executes
  // VMCALL as the root: VMfail, there being no dual-monitor treatment
  // (SDM 30.3 VMCALL).
  if (v.nested.vmxon) return nested::nested_vmcall_in_root(v);
  const uint64_t nr = v.regs.gpr[RAX];
  v.regs.gpr[RAX] = guest_cpl() == 0 ? kvm_emulate_hypercall(v, nr) : hc::E_PERM;
  skip_emulated_instruction(v);
}

}  // namespace l1
