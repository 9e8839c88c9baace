// Tests of debug exceptions under VMX (SDM 25.5.2, 26.6.3, 27.2.1, 27.3.4):
// a single-step #DB exits through the exception bitmap with its DR6 bits in
// the exit qualification; MTF exits outrank the single-step trap, which
// they leave in the pending-debug-exceptions field; VM entry delivers what
// that field holds before the guest's first instruction, ahead of a
// VMX-preemption timer that expires at the same boundary, and holds it
// over one instruction with blocking by MOV SS; ICEBP exits as a
// privileged software exception. IA32_DEBUGCTL.LBR is loaded by VM entry
// and cleared by VM exit, so the last-branch records hold the guest's
// branches and none of the host's.
#include "arch/x86/debug.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace rflags = arch::rflags;

namespace {
constexpr uint8_t DB = uint8_t(arch::Vector::DB);
constexpr uint64_t BS = arch::debug::DR6_BS;
const uint32_t kDbInfo = make_intr_info(DB, intr_info::TYPE_HARDWARE_EXCEPTION, false);

uint64_t read_dr6() {
  uint64_t v;
  asm volatile("mov %%dr6, %0" : "=r"(v));
  return v;
}
void write_dr6(uint64_t v) { asm volatile("mov %0, %%dr6" ::"r"(v)); }
}  // namespace

void test_single_step_exit() {
  // TF set in the guest: the trap after its first instruction exits
  // through the exception bitmap (#DB, a hardware exception) with BS in
  // the qualification (SDM 27.2.1); the exit does not write DR6 (27.1).
  REQUIRE(setup_guest(addr(guest_nops)));
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::TF);
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << DB);
  write_dr6(arch::debug::DR6_INIT);
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.intr_info, kDbInfo, "VM-exit interruption information");
  CHECK_EQ(e.qualification, BS, "exit qualification: DR6-format BS");
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP: after the first NOP (a trap)");
  CHECK_EQ(read_dr6(), arch::debug::DR6_INIT, "DR6 after the #DB VM exit");
  CHECK(vread(VmcsField::GUEST_RFLAGS) & rflags::TF, "TF still set in the saved guest RFLAGS");
  CHECK_EQ(vread(VmcsField::GUEST_PENDING_DBG_EXCEPTIONS), 0, "pending debug exceptions after a #DB exit");
}

void test_single_step_guest_handler() {
  // Not intercepted: the guest's own #DB handler runs, with the trap's
  // frame (RIP after the first NOP, TF set in the pushed RFLAGS).
  REQUIRE(setup_guest(addr(guest_nops)));
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::TF);
  const Exit e = run();
  CHECK_GUEST_VECTOR(e, DB);
  const uint64_t* frame = reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX]);
  CHECK_EQ(frame[0], addr(guest_nops) + 1, "RIP in the guest's #DB frame");
  CHECK(frame[2] & rflags::TF, "TF in the guest's #DB frame");
}

void test_mtf_before_single_step() {
  // MTF exits take priority over debug traps (SDM 25.5.2): after the first
  // instruction the MTF exit comes first and saves the single-step trap in
  // the pending-debug-exceptions field (27.3.4). Re-entered without MTF,
  // the trap is delivered before any guest instruction (26.6.3).
  REQUIRE(setup_guest(addr(guest_nops)));
  REQUIRE(set_proc(proc_ctl::MONITOR_TRAP_FLAG));
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::TF);
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << DB);
  Exit e = run();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP of the MTF exit");
  CHECK_EQ(vread(VmcsField::GUEST_PENDING_DBG_EXCEPTIONS), BS, "pending debug exceptions saved by the MTF exit");
  vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::MONITOR_TRAP_FLAG);
  e = resume();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.intr_info, kDbInfo, "the pending trap after VM entry");
  CHECK_EQ(e.qualification, BS, "its exit qualification");
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "no guest instruction ran before it");
}

void test_pending_dbg_entry() {
  // BS in the pending-debug-exceptions field: a #DB right after VM entry,
  // before the first guest instruction (SDM 26.6.3). With blocking by MOV
  // SS (and TF, as the entry checks then require, 26.3.1.5) it waits for
  // the first instruction and merges with that instruction's own trap.
  REQUIRE(setup_guest(addr(guest_nops)));
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << DB);
  vwrite(VmcsField::GUEST_PENDING_DBG_EXCEPTIONS, BS);
  Exit e = run();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.qualification, BS, "exit qualification of the pending #DB");
  CHECK_EQ(e.rip, addr(guest_nops), "guest RIP: no instruction ran");
  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::TF);
  vwrite(VmcsField::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_MOV_SS.mask);
  vwrite(VmcsField::GUEST_PENDING_DBG_EXCEPTIONS, BS);
  e = resume();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.qualification, BS, "exit qualification after the blocked instruction");
  CHECK_EQ(e.rip, addr(guest_nops) + 1, "guest RIP: the first instruction ran under MOV SS blocking");
}

void test_pending_dbg_before_preemption_timer() {
  // A pending debug exception delivered after VM entry has the priority of
  // a trap on the previous instruction, above a VMX-preemption timer that
  // expires at the same boundary (SDM 26.6.3, 26.6.4): the guest's #DB is
  // delivered, then the timer exits before the handler's first instruction.
  REQUIRE(setup_guest(addr(guest_nops)));
  REQUIRE(set_pin(pin_ctl::PREEMPTION_TIMER));
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 0);
  vwrite(VmcsField::GUEST_PENDING_DBG_EXCEPTIONS, BS);
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK_EQ(e.rip, addr(guest_isr_stubs) + DB * GUEST_ISR_STUB_SIZE, "guest RIP: the #DB handler, not yet run");
}

void test_icebp_exit() {
  // ICEBP (INT1) with #DB intercepted exits on the instruction itself:
  // interruption type 5, privileged software exception, with its length
  // and no DR6 bits in the qualification (SDM 27.2.1, 27.2.5).
  REQUIRE(setup_guest(addr(guest_icebp)));
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << DB);
  const Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::EXCEPTION_NMI, guest_icebp, 1);
  CHECK_EQ(e.intr_info, make_intr_info(DB, intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION, false),
           "VM-exit interruption information of ICEBP");
  CHECK_EQ(e.qualification, 0, "exit qualification of ICEBP");
  // Not intercepted: the guest's handler sees RIP past the ICEBP.
  vwrite(VmcsField::EXCEPTION_BITMAP, 0);
  restart_at(guest_icebp);
  CHECK_GUEST_VECTOR(resume(), DB);
  CHECK_EQ(reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX])[0], addr(guest_icebp) + 1,
           "RIP in the guest's #DB frame");
}

void test_lbr_debug_controls() {
  // "Load debug controls" loads the guest's IA32_DEBUGCTL with LBR = 1
  // (SDM 26.3.2.1): the guest's two JMPs are recorded. The VM exit saves it
  // ("save debug controls", 27.3.1) and clears IA32_DEBUGCTL (27.5.1), so
  // the host code that runs after the exit (and, below this workload, the
  // VMMs that reflect it) records nothing: the stack holds exactly the
  // guest's branches. The stack itself is not switched (SDM 17.4.8).
  namespace msr = arch::msr;
  if (!(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_PDCM)) return skip("CPUID.1:ECX.PDCM = 0: no LBR format to read");
  if ((rt::rdmsr(msr::IA32_PERF_CAPABILITIES) & msr::PERF_CAP_LBR_FMT) != msr::PERF_CAP_LBR_FMT_EIP_FLAGS_TSX_INFO)
    return skip("not the Skylake LBR format (000101B)");
  REQUIRE(setup_guest(addr(guest_lbr)));
  REQUIRE(set_entry(entry_ctl::LOAD_DEBUG_CONTROLS));
  REQUIRE(set_exit(exit_ctl::SAVE_DEBUG_CONTROLS));
  vwrite(VmcsField::GUEST_IA32_DEBUGCTL, msr::DEBUGCTL_LBR);
  rt::wrmsr(msr::MSR_LBR_SELECT, 0);
  CHECK_EQ(rt::rdmsr(msr::IA32_DEBUGCTL), 0, "host IA32_DEBUGCTL before VM entry");
  const uint64_t tos0 = rt::rdmsr(msr::MSR_LASTBRANCH_TOS);
  const Exit e = run();
  const uint64_t debugctl = rt::rdmsr(msr::IA32_DEBUGCTL);
  CHECK_VMCALL_AT(e, guest_lbr_vmcall, 0);
  CHECK_EQ(debugctl, 0, "IA32_DEBUGCTL after the VM exit");
  CHECK_EQ(vread(VmcsField::GUEST_IA32_DEBUGCTL), msr::DEBUGCTL_LBR, "guest IA32_DEBUGCTL saved by the VM exit");
  const uint64_t tos = rt::rdmsr(msr::MSR_LASTBRANCH_TOS);
  CHECK_EQ(tos, (tos0 + 2) & msr::LBR_TOS_MASK_SKYLAKE, "TOS: the guest's two JMPs and nothing else");
  const uint32_t prev = uint32_t((tos - 1) & msr::LBR_TOS_MASK_SKYLAKE);
  CHECK_EQ(rt::rdmsr(msr::MSR_LASTBRANCH_0_FROM_IP + uint32_t(tos)), addr(guest_lbr_jmp2), "last record's FROM_IP");
  CHECK_EQ(rt::rdmsr(msr::MSR_LASTBRANCH_0_TO_IP + uint32_t(tos)), addr(guest_lbr_to2), "last record's TO_IP");
  CHECK_EQ(rt::rdmsr(msr::MSR_LASTBRANCH_0_FROM_IP + prev), addr(guest_lbr_jmp1), "first record's FROM_IP");
  CHECK_EQ(rt::rdmsr(msr::MSR_LASTBRANCH_0_TO_IP + prev), addr(guest_lbr_to1), "first record's TO_IP");
  // Entered again without "load debug controls" (where the capability
  // allows it to be 0), the guest runs with the host's IA32_DEBUGCTL (0):
  // nothing more is recorded.
  if (uint32_t(caps.entry) & entry_ctl::LOAD_DEBUG_CONTROLS) return;
  vclear_bits(VmcsField::VM_ENTRY_CONTROLS, entry_ctl::LOAD_DEBUG_CONTROLS);
  restart_at(guest_lbr);
  const Exit e2 = resume();
  CHECK_VMCALL_AT(e2, guest_lbr_vmcall, 0);
  CHECK_EQ(rt::rdmsr(msr::MSR_LASTBRANCH_TOS), tos, "TOS after a guest run with IA32_DEBUGCTL = 0");
}

}  // namespace selftest
