// INVPCID under VMX (SDM 25.1.3, 25.3, 27.2.1, 27.2.4): #UD in a guest
// without "enable INVPCID"; with it, it runs, or exits (reason 58) when
// "INVLPG exiting" is 1, with the displacement in the exit qualification
// and the type register in the instruction information.
#include "arch/x86/exceptions.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;

namespace {
struct InvpcidDescriptor {
  uint64_t pcid, address;
};
}  // namespace

void test_invpcid_controls() {
  const InvpcidDescriptor d{0, 0};
  REQUIRE(setup_guest(addr(guest_invpcid)));
  regs.gpr[vmx::RAX] = reinterpret_cast<uint64_t>(&d);
  regs.gpr[vmx::RCX] = 3;  // all contexts but global translations
  CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::UD));

  REQUIRE(set_proc2(proc_ctl2::ENABLE_INVPCID));
  restart_at(guest_invpcid);
  regs.gpr[vmx::RAX] = reinterpret_cast<uint64_t>(&d);
  regs.gpr[vmx::RCX] = 3;
  CHECK_VMCALL_AT(resume(), guest_invpcid, 5);

  REQUIRE(set_proc(proc_ctl::INVLPG_EXITING));
  restart_at(guest_invpcid);
  regs.gpr[vmx::RAX] = reinterpret_cast<uint64_t>(&d);
  regs.gpr[vmx::RCX] = 3;
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::INVPCID, guest_invpcid, 5);
  CHECK_EQ(e.qualification, 0, "exit qualification: the displacement");
  CHECK_EQ(insn_info_inv::REG2.get(e.insn_info), vmx::RCX, "type register in the instruction information");
  CHECK_EQ(insn_info_inv::BASE_REG.get(e.insn_info), vmx::RAX, "base register in the instruction information");
}

}  // namespace selftest
