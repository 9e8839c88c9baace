// Tests of NMIs under VMX (SDM 25.2, 25.3, 26.3.2.5, 27.3.4): with "NMI
// exiting" an NMI the guest sends itself through the local APIC is a VM
// exit of interruption type NMI, at the boundary after the instruction
// that sent it; blocking by NMI from the guest-state area holds it (and
// IRET in such a guest does not unblock), and the exit saves the
// blocking. Without "NMI exiting" the guest's own handler takes it.
#include "arch/x86/apic.h"
#include "arch/x86/exceptions.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;

namespace {
constexpr uint8_t NMI = uint8_t(arch::Vector::NMI);
const uint32_t kNmiInfo = make_intr_info(NMI, intr_info::TYPE_NMI, false);

// The guest stores EAX at RDI: an NMI to this APIC (physical destination
// ID, which the host puts in ICR[63:32] first).
void guest_sends_nmi() {
  const uint64_t icr = arch::apic::DEFAULT_BASE;
  const uint32_t id = *reinterpret_cast<volatile uint32_t*>(icr + arch::apic::ID);
  *reinterpret_cast<volatile uint32_t*>(icr + arch::apic::ICR_HIGH) = id & 0xff000000u;
  regs.gpr[vmx::RDI] = icr + arch::apic::ICR_LOW;
  regs.gpr[vmx::RAX] = arch::apic::DELIVERY_NMI << arch::apic::ICR_DELIVERY_MODE_SHIFT;
}
}  // namespace

void test_nmi_exiting() {
  REQUIRE(setup_guest(addr(guest_write32)));
  REQUIRE(set_pin(pin_ctl::NMI_EXITING));
  guest_sends_nmi();
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.intr_info, kNmiInfo, "VM-exit interruption information");
  CHECK_EQ(e.rip, addr(guest_write32) + 2, "guest RIP: after the store that sent the NMI");
  CHECK_EQ(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO) & interruptibility::BLOCKING_BY_NMI.mask, 0,
           "the guest had not blocked NMIs");
}

void test_nmi_blocking_entry() {
  // Entered with blocking by NMI (no "virtual NMIs"): the NMI the guest
  // sends waits; its VMCALL exits with the blocking saved. Entered again
  // without it, the waiting NMI exits before any instruction.
  REQUIRE(setup_guest(addr(guest_write32)));
  REQUIRE(set_pin(pin_ctl::NMI_EXITING));
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_NMI.mask);
  guest_sends_nmi();
  Exit e = run();
  CHECK_VMCALL_AT(e, guest_write32, 2);
  CHECK(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO) & interruptibility::BLOCKING_BY_NMI.mask,
        "blocking by NMI saved at the VMCALL exit");
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, 0);
  e = resume();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.intr_info, kNmiInfo, "VM-exit interruption information");
  CHECK_EQ(e.rip, addr(guest_write32) + 2, "guest RIP: the NMI came first");
}

void test_nmi_to_guest() {
  // Without "NMI exiting" the NMI goes through the guest's IDT, IF = 0
  // notwithstanding, right after the store; NMIs are then blocked, which
  // the VMCALL exit from the handler saves.
  REQUIRE(setup_guest(addr(guest_write32)));
  guest_sends_nmi();
  const Exit e = run();
  CHECK_GUEST_VECTOR(e, NMI);
  CHECK_EQ(reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX])[0], addr(guest_write32) + 2,
           "RIP in the guest's NMI frame");
  CHECK(vread(VmcsField::GUEST_INTERRUPTIBILITY_INFO) & interruptibility::BLOCKING_BY_NMI.mask,
        "blocking by NMI saved in the handler");
}

}  // namespace selftest
