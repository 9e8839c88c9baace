// Tests of timing and ordering around VM transitions: the TSC the guest
// reads, the TSC the VM-exit MSR-store list records and the host's TSC
// after the exit come in that order; an MTF exit pending after an
// injection outranks a VMX-preemption timer that expires at the same
// boundary (SDM 25.5.1-25.5.2, 26.6.4, 27.4).
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace rflags = arch::rflags;

void test_exit_tsc_order() {
  // The guest's RDTSC (the TSC plus the offset, SDM 25.3) happens before
  // the VMCALL's exit, which stores IA32_TSC — the processor's, without the
  // guest's offset — in the MSR-store list (SDM 27.4); the host reads the
  // TSC after the exit. No exit appears to happen before the instruction
  // that caused it, and no time runs backwards across it.
  constexpr uint64_t OFFSET = 1ull << 40;
  REQUIRE(setup_guest(addr(guest_rdtsc)));
  REQUIRE(set_proc(proc_ctl::USE_TSC_OFFSETTING));
  vwrite(VmcsField::TSC_OFFSET, OFFSET);
  clear_page(pages.scratch[0]);
  auto* store = reinterpret_cast<volatile MsrEntry*>(pages.scratch[0]);
  store[0].index = arch::msr::IA32_TIME_STAMP_COUNTER;
  vwrite(VmcsField::VM_EXIT_MSR_STORE_ADDR, pages.scratch[0]);
  vwrite(VmcsField::VM_EXIT_MSR_STORE_COUNT, 1);
  const uint64_t before = rt::rdtsc();
  const Exit e = run();
  const uint64_t after = rt::rdtsc();
  CHECK_VMCALL_AT(e, guest_rdtsc, 2);
  const uint64_t guest = ((regs.gpr[vmx::RDX] << 32) | uint32_t(regs.gpr[vmx::RAX])) - OFFSET;
  const uint64_t stored = store[0].value;
  CHECK(before < guest, "the guest's TSC 0x%lx (offset removed) is not after the host's before the entry 0x%lx",
        guest, before);
  CHECK(guest < stored, "the TSC stored at the exit 0x%lx is not after the guest's RDTSC 0x%lx", stored, guest);
  CHECK(stored <= after, "the TSC stored at the exit 0x%lx is after the host's RDTSC that follows it 0x%lx", stored,
        after);
}

void test_mtf_before_preemption_timer() {
  // An injection with "monitor trap flag" leaves an MTF exit pending before
  // the handler's first instruction (SDM 25.5.2); a VMX-preemption timer of
  // 0 expires at that same boundary (26.6.4). MTF exits take priority over
  // timer exits (SDM 25.5.2, 6.9): the MTF exit comes first, at the
  // handler, and the timer's after it, still before any instruction.
  REQUIRE(setup_guest(addr(guest_vmcall)));
  REQUIRE(set_proc(proc_ctl::MONITOR_TRAP_FLAG));
  REQUIRE(set_pin(pin_ctl::PREEMPTION_TIMER));
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 0);
  vwrite(VmcsField::GUEST_RFLAGS, rflags::FIXED1 | rflags::IF);
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(TIMER_VECTOR, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
  const uint64_t handler = addr(guest_isr_stubs) + TIMER_VECTOR * GUEST_ISR_STUB_SIZE;
  Exit e = run();
  CHECK_EXIT(e, ExitReason::MONITOR_TRAP_FLAG);
  CHECK_EQ(e.rip, handler, "guest RIP of the MTF exit after the injection");
  vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::MONITOR_TRAP_FLAG);
  vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 0);
  e = resume();
  CHECK_EXIT(e, ExitReason::PREEMPTION_TIMER);
  CHECK_EQ(e.rip, handler, "guest RIP of the timer exit: the handler has not run");
}

}  // namespace selftest
