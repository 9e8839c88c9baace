// vmcall-loop N: N × VMCALL NOP through l1-vmm's hypercall ABI
// (l1-vmm/hypercall_abi.h), each an unconditional VM exit (SDM vol. 3,
// 26.1.2) that the VMM one level down answers. Where l1-vmm is not the
// hypervisor — natively, on QEMU — VMCALL has nobody to answer it (it is #UD
// outside VMX non-root operation), so the workload says so and still ends
// with status 1: the same image runs everywhere.
#include "l1-vmm/hypercall_abi.h"
#include "runtime/runtime.h"

namespace {
constexpr uint64_t DEFAULT_COUNT = 1000;
}

int kmain(const rt::BootInfo& boot) {
  const uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  if (!l1::hypercall::l1_vmm_present()) {
    rt::printf("vmcall-loop: no hypervisor answers VMCALL here (CPUID 0x40000000 is not l1-vmm's), 0 done\n");
    return rt::EXIT_OK;
  }
  for (uint64_t i = 0; i < count; i++) {
    const uint64_t r = l1::hypercall::vmcall(l1::hypercall::NOP);
    if (r != l1::hypercall::OK) {
      rt::printf("vmcall-loop: hypercall %lu returned 0x%lx, expected 0\n", i, r);
      return rt::EXIT_FAILURE;
    }
  }
  rt::printf("vmcall-loop: %lu vmcall done\n", count);
  return rt::EXIT_OK;
}
