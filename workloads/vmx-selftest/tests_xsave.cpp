// XSETBV in VMX non-root operation (SDM 25.1.1, 25.1.2): with the guest's
// CR4.OSXSAVE set it exits unconditionally, whatever ECX and EDX:EAX hold
// (checking them is the VMM's business), with reason 55 and the
// instruction's length; with CR4.OSXSAVE clear it raises #UD in the guest
// instead, which has priority over the exit.
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/xsave.h"
#include "workloads/vmx-selftest/selftest.h"

extern "C" char guest_xsetbv[], guest_xsetbv_vmcall[];

namespace selftest {

namespace {

[[gnu::used]] void define_xsetbv_guest() {
  asm volatile(R"(
    .pushsection .text.selftest_guest, "ax"
    .code64
    .balign 16
    .global guest_xsetbv, guest_xsetbv_vmcall
guest_xsetbv:
    xsetbv
guest_xsetbv_vmcall:
    vmcall
    ud2
    .popsection
  )");
}

}  // namespace

void test_xsetbv_exit() {
  if (!(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_XSAVE)) return skip("CPUID.1:ECX.XSAVE = 0");
  if (!(caps.cr4_fixed1 & arch::cr4::OSXSAVE)) return skip("IA32_VMX_CR4_FIXED1 does not allow CR4.OSXSAVE");
  REQUIRE(setup_guest(addr(guest_xsetbv)));
  vset_bits(VmcsField::GUEST_CR4, arch::cr4::OSXSAVE);
  regs.gpr[vmx::RCX] = arch::xcr0::INDEX;
  regs.gpr[vmx::RAX] = arch::xcr0::X87 | arch::xcr0::SSE;
  regs.gpr[vmx::RDX] = 0;
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::XSETBV, guest_xsetbv, 3);
  CHECK_QUAL(e, 0);
  skip_instruction(e);
  CHECK_VMCALL_AT(resume(), guest_xsetbv_vmcall, 0);

  // Operands the processor would refuse (ECX = 1, XCR0 without x87) still
  // exit: the #GP for them is the VMM's to inject.
  const uint64_t bad[][2] = {{1, arch::xcr0::X87}, {arch::xcr0::INDEX, arch::xcr0::SSE}};
  for (const auto& b : bad) {
    restart_at(guest_xsetbv);
    regs.gpr[vmx::RCX] = b[0];
    regs.gpr[vmx::RAX] = b[1];
    CHECK_EXIT_AT(resume(), ExitReason::XSETBV, guest_xsetbv, 3);
  }

  // CR4.OSXSAVE = 0 in the guest: #UD through the guest's IDT, no exit.
  vclear_bits(VmcsField::GUEST_CR4, arch::cr4::OSXSAVE);
  restart_at(guest_xsetbv);
  regs.gpr[vmx::RCX] = arch::xcr0::INDEX;
  regs.gpr[vmx::RAX] = arch::xcr0::X87;
  CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::UD));
}

}  // namespace selftest
