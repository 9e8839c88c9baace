// XSETBV in VMX non-root operation (SDM 25.1.1, 25.1.2): with the guest's
// CR4.OSXSAVE set it exits unconditionally, whatever ECX and EDX:EAX hold
// (checking them is the VMM's business), with reason 55 and the
// instruction's length; with CR4.OSXSAVE clear it raises #UD in the guest
// instead, which has priority over the exit. And the other side, run by
// this image itself: CR4.OSXSAVE, its CPUID bit, XGETBV and XSETBV's rules,
// natively the processor's and under l1-vmm its XSETBV handler's (and
// CPUID policy's) at every level.
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

namespace {

// Puts CR4 and XCR0 back however the test ends.
struct RestoreXsaveState {
  uint64_t cr4 = rt::read_cr4(), xcr0 = 0;
  bool have_xcr0 = false;
  ~RestoreXsaveState() {
    if (have_xcr0) {
      rt::write_cr4(cr4 | arch::cr4::OSXSAVE);
      rt::xsetbv(arch::xcr0::INDEX, xcr0);
    }
    rt::write_cr4(cr4);
  }
};

}  // namespace

void test_xsetbv_xgetbv() {
  namespace xcr0 = arch::xcr0;
  constexpr int64_t UD = int64_t(arch::Vector::UD), GP = int64_t(arch::Vector::GP);
  if (!(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_XSAVE)) return skip("CPUID.1:ECX.XSAVE = 0");
  RestoreXsaveState restore;
  rt::write_cr4(restore.cr4 & ~arch::cr4::OSXSAVE);
  CHECK(!(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_OSXSAVE), "CPUID.1:ECX.OSXSAVE = 1 with CR4.OSXSAVE = 0");
  CHECK_FAULT("XGETBV with CR4.OSXSAVE = 0", guarded([] { rt::xgetbv(xcr0::INDEX); }), UD);
  CHECK_FAULT("XSETBV with CR4.OSXSAVE = 0", guarded([] { rt::xsetbv(xcr0::INDEX, xcr0::X87); }), UD);

  rt::write_cr4(restore.cr4 | arch::cr4::OSXSAVE);
  CHECK(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_OSXSAVE, "CPUID.1:ECX.OSXSAVE = 0 with CR4.OSXSAVE = 1");
  restore.xcr0 = rt::xgetbv(xcr0::INDEX);
  restore.have_xcr0 = true;
  const rt::CpuidResult leaf = rt::cpuid(0xd, 0);
  CHECK((leaf.eax & 3) == 3, "CPUID.(EAX=0DH,ECX=0):EAX = 0x%x: no x87 | SSE", leaf.eax);
  const uint64_t good[] = {xcr0::X87, xcr0::X87 | xcr0::SSE};
  for (uint64_t v : good) {
    rt::xsetbv(xcr0::INDEX, v);
    CHECK_EQ(rt::xgetbv(xcr0::INDEX), v, "XCR0 after XSETBV");
  }
  // What the processor refuses (SDM vol. 2, XSETBV): #GP(0), XCR0 unchanged.
  const uint64_t bad[][2] = {{xcr0::INDEX, 0},  {xcr0::INDEX, xcr0::SSE}, {xcr0::INDEX, xcr0::X87 | xcr0::AVX},
                             {1, xcr0::X87},    {xcr0::INDEX, (1ull << 63) | 3}};
  for (const auto& b : bad) {
    const uint32_t index = uint32_t(b[0]);
    const uint64_t value = b[1];
    const Fault f = guarded([index, value] { rt::xsetbv(index, value); });
    CHECK(f.vector == GP, "XSETBV ECX=%u value 0x%lx: %s, not #GP", index, value, vector_name(f.vector));
    CHECK_EQ(rt::xgetbv(xcr0::INDEX), xcr0::X87 | xcr0::SSE, "XCR0 after a refused XSETBV");
  }
}

}  // namespace selftest
