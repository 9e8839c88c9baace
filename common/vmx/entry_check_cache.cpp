#include "common/vmx/entry_check_cache.h"

#include "arch/x86/rflags.h"

namespace nestbed::common::vmx {

EntryCheckResult EntryCheckCache::check(VmcsView vmcs, const EntryCheckContext& ctx,
                                        const EntryCheckVersions& versions) {
  const uint64_t controls = versions.controls_and_host();
  if (controls_version_ != controls || controls_ia32e_ != ctx.cpu_in_ia32e_mode) {
    controls_version_ = 0;
    EntryCheckResult r = check_vm_execution_controls(vmcs, ctx);
    if (r.ok()) r = check_vm_exit_controls(vmcs, ctx);
    if (r.ok()) r = check_vm_entry_controls(vmcs, ctx);
    if (r.ok()) r = check_host_state(vmcs, ctx);
    if (!r.ok()) return r;
    controls_version_ = controls;
    controls_ia32e_ = ctx.cpu_in_ia32e_mode;
  } else {
    // VTPR is in memory, which changes without a VMCS write; the entry
    // controls' event-injection checks read guest CR0 (SDM 26.2.1.3).
    EntryCheckResult r = check_tpr_threshold_vtpr(vmcs, ctx);
    if (r.ok()) r = check_vm_entry_controls(vmcs, ctx);
    if (!r.ok()) return r;
  }
  // The guest's registers read the controls too, and RFLAGS.VM.
  const bool vm86 = vmcs.read<arch::vmx::VmcsField::GUEST_RFLAGS>() & arch::rflags::VM;
  const uint64_t registers = versions.guest_registers();
  if (registers_version_ != registers || registers_controls_version_ != controls || registers_vm86_ != vm86) {
    registers_version_ = 0;
    const EntryCheckResult r = check_guest_registers(vmcs, ctx);
    if (!r.ok()) return r;
    registers_version_ = registers;
    registers_controls_version_ = controls;
    registers_vm86_ = vm86;
  }
  return check_guest_non_register_state(vmcs, ctx);
}

}  // namespace nestbed::common::vmx
