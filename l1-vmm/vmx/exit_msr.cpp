// RDMSR and WRMSR. The MSR bitmap passes every MSR through except the ones
// that tell whether VMX exists: IA32_FEATURE_CONTROL reads as locked with
// VMX outside SMX enabled, and the VMX capability MSRs report what nested/
// offers (nested/capabilities.h); with nested=0, FEATURE_CONTROL reads as
// locked with VMX off and the capability MSRs raise #GP, as on a processor
// without VMX. MSRs outside the bitmap's two ranges always exit (SDM
// 24.6.9): those are forwarded, l1-vmm doing the access and passing a #GP
// on to the guest.
#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {
namespace {

namespace msr = arch::msr;
namespace bitmap = arch::vmx::msr_bitmap;

bool is_vmx_capability_msr(uint32_t index) { return index >= msr::IA32_VMX_BASIC && index <= msr::IA32_VMX_VMFUNC; }

void intercept(uint8_t* page, uint32_t index, bool write) {
  const int byte = bitmap::byte_offset(index, write);
  if (byte >= 0) page[byte] |= uint8_t(1u << bitmap::bit_in_byte(index));
}

// Both RDMSR and WRMSR of `index` exit.
void intercept(uint8_t* page, uint32_t index) {
  intercept(page, index, false);
  intercept(page, index, true);
}

uint64_t edx_eax(const Vcpu& v) { return (v.regs.gpr[RDX] << 32) | uint32_t(v.regs.gpr[RAX]); }

void gp(Vcpu& v) { inject_exception(v, uint8_t(arch::Vector::GP), 0); }

}  // namespace

uint64_t setup_msr_bitmap() {
  const uint64_t page = mm::alloc_page_or_die("the MSR bitmap");  // cleared: everything passes through
  auto* bits = reinterpret_cast<uint8_t*>(page);
  intercept(bits, msr::IA32_FEATURE_CONTROL);
  for (uint32_t i = msr::IA32_VMX_BASIC; i <= msr::IA32_VMX_VMFUNC; i++) intercept(bits, i);
  return page;
}

void handle_rdmsr(Vcpu& v) {
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  uint64_t value;
  if (index == msr::IA32_FEATURE_CONTROL) {
    value = nested::nested_feature_control(v);
  } else if (is_vmx_capability_msr(index)) {
    if (!v.nested.enabled || !v.nested.caps.read(index, value)) return gp(v);
  } else if (!rdmsr_safe(index, value)) {
    return gp(v);  // a fault: RIP stays at the RDMSR
  }
  v.regs.gpr[RAX] = uint32_t(value);
  v.regs.gpr[RDX] = value >> 32;
  skip_emulated_instruction(v);
}

void handle_wrmsr(Vcpu& v) {
  const uint32_t index = uint32_t(v.regs.gpr[RCX]);
  // IA32_FEATURE_CONTROL is locked (SDM 23.7); the capability MSRs are read-only.
  if (index == msr::IA32_FEATURE_CONTROL || is_vmx_capability_msr(index) || !wrmsr_safe(index, edx_eax(v)))
    return gp(v);
  skip_emulated_instruction(v);
}

}  // namespace l1
