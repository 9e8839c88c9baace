// vmx-selftest's harness (see selftest.h): everything the tests share, and
// the start-up and reset between tests. main.cpp runs the test table;
// vmx-fuzz links this file and guest.cpp too.
#include <stdarg.h>

#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/asm.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace msr = arch::msr;

namespace {

constexpr uint8_t SPURIOUS_VECTOR = 0xff;

const char* current_test = "";
// IA32_EFER and IA32_PAT at start, restored after each test (some tests
// let the guest's values through).
uint64_t baseline_efer, baseline_pat;
bool failed_flag = false;
bool skipped_flag = false;

void report(const char* kind, const char* format, va_list args) {
  rt::printf("%s %s: ", kind, current_test);
  rt::vprintf(format, args);
  rt::printf("\n");
}

}  // namespace

Pages pages;
vmx::Capabilities caps;
vmx::GuestRegs regs;
uint64_t baseline_cr0, baseline_cr4;
volatile uint64_t host_timer_interrupts = 0;

// ---- Reporting --------------------------------------------------------------

void fail(const char* format, ...) {
  if (failed_flag || skipped_flag) return;
  failed_flag = true;
  va_list args;
  va_start(args, format);
  report("FAIL", format, args);
  va_end(args);
}

void skip(const char* format, ...) {
  if (failed_flag || skipped_flag) return;
  skipped_flag = true;
  va_list args;
  va_start(args, format);
  report("SKIP", format, args);
  va_end(args);
}

bool test_failed() { return failed_flag || skipped_flag; }

bool expect_status(const char* what, Status got, Status want, VmInstructionError error) {
  if (got != want) {
    if (got == Status::FailValid)
      fail("%s: expected %s, got VMfailValid error %u (%s)", what, vmx::status_name(want), vmx::instruction_error(),
           arch::vmx::vm_instruction_error_text(vmx::instruction_error()));
    else
      fail("%s: expected %s, got %s", what, vmx::status_name(want), vmx::status_name(got));
    return false;
  }
  if (want == Status::FailValid && vmx::instruction_error() != uint32_t(error)) {
    fail("%s: expected VM-instruction error %u (%s), got %u", what, uint32_t(error),
         arch::vmx::vm_instruction_error_text(error), vmx::instruction_error());
    return false;
  }
  return true;
}

// ---- Host exceptions -----------------------------------------------------------

extern "C" {
int64_t selftest_guarded_call(void (*fn)(void*), void* arg);
extern char selftest_guard_landing[];
uint64_t selftest_guard_rsp;
uint8_t selftest_guard_armed;
}

namespace {
uint64_t guard_error_code;

// selftest_guarded_call(fn, arg): saves the callee-saved registers and RSP,
// calls fn(arg) and returns -1. An exception while armed makes the handler
// below resume at selftest_guard_landing with that RSP and RAX = vector, so
// the call returns the vector instead.
[[gnu::used]] void define_guarded_call() {
  asm volatile(RT_ASM_FUNC_START(selftest_guarded_call) RT_ASM_PUSH_CALLEE_SAVED R"(
    subq $8, %%rsp  # 16-byte alignment at the call
    movq %%rsp, selftest_guard_rsp(%%rip)
    movq %%rdi, %%rax
    movq %%rsi, %%rdi
    movb $1, selftest_guard_armed(%%rip)
    call *%%rax
    movb $0, selftest_guard_armed(%%rip)
    movq $-1, %%rax
    .global selftest_guard_landing
selftest_guard_landing:
    addq $8, %%rsp
    )" RT_ASM_POP_CALLEE_SAVED R"(
    ret)" RT_ASM_FUNC_END(selftest_guarded_call)
               :
               :
               : "memory");
}

void on_exception(rt::InterruptFrame& f) {
  if (selftest_guard_armed) {
    selftest_guard_armed = 0;
    guard_error_code = f.error_code;
    f.rax = f.vector;
    f.rip = reinterpret_cast<uint64_t>(selftest_guard_landing);
    f.rsp = selftest_guard_rsp;
    return;
  }
  rt::printf("fatal: exception %lu (%s), error code 0x%lx, rip 0x%lx, cr2 0x%lx, in test %s\n", f.vector,
             arch::exception_name(uint8_t(f.vector)), f.error_code, f.rip, rt::read_cr2(), current_test);
  rt::exit(rt::EXIT_EXCEPTION);
}

void on_timer(rt::InterruptFrame&) {
  host_timer_interrupts = host_timer_interrupts + 1;
  rt::apic::eoi();
}

}  // namespace

Fault guarded_call(void (*fn)(void*), void* arg) {
  guard_error_code = 0;
  const int64_t vector = selftest_guarded_call(fn, arg);
  return Fault{vector, vector >= 0 ? guard_error_code : 0};
}

const char* vector_name(int64_t vector) {
  return vector < 0 ? "no exception" : arch::exception_name(uint8_t(vector));
}

bool expect_fault(const char* what, const Fault& f, int64_t vector) {
  if (f.vector == vector) return true;
  fail("%s: expected %s, got %s", what, vector_name(vector), vector_name(f.vector));
  return false;
}

// ---- The machine -----------------------------------------------------------------

uint64_t guest_stack_top() { return pages.guest_stack + GUEST_STACK_PAGES * PAGE; }

void clear_page(uint64_t page) { memset(reinterpret_cast<void*>(page), 0, PAGE); }

void write_revision(uint64_t page, uint32_t revision) { *reinterpret_cast<volatile uint32_t*>(page) = revision; }

bool vmx_on() {
  rt::write_cr4(baseline_cr4 | caps.cr4_fixed0);
  clear_page(pages.vmxon);
  write_revision(pages.vmxon, caps.revision());
  Status s = Status::Ok;
  const Fault f = guarded([&] { s = vmx::vmxon(pages.vmxon); });
  if (f.vector >= 0) {
    fail("VMXON: %s", vector_name(f.vector));
    return false;
  }
  if (s != Status::Ok) {
    fail("VMXON: %s", vmx::status_name(s));
    return false;
  }
  return true;
}

bool load_vmcs(uint64_t page) {
  clear_page(page);
  write_revision(page, caps.revision());
  if (!expect_status("VMCLEAR", vmx::vmclear(page), Status::Ok)) return false;
  return expect_status("VMPTRLD", vmx::vmptrld(page), Status::Ok);
}

uint64_t vread(VmcsField f) {
  uint64_t v;
  const Status s = vmx::vmread(f, v);
  if (s == Status::Ok) return v;
  fail("VMREAD %s: %s", vmcs_field_name(f), vmx::status_name(s));
  return 0;
}

void vwrite(VmcsField f, uint64_t value) {
  const Status s = vmx::vmwrite(f, value);
  if (s == Status::FailValid)
    fail("VMWRITE %s = 0x%lx: VMfailValid error %u", vmcs_field_name(f), value, vmx::instruction_error());
  else if (s != Status::Ok)
    fail("VMWRITE %s = 0x%lx: %s", vmcs_field_name(f), value, vmx::status_name(s));
}

void vset_bits(VmcsField f, uint64_t bits) { vwrite(f, vread(f) | bits); }
void vclear_bits(VmcsField f, uint64_t bits) { vwrite(f, vread(f) & ~bits); }

bool allowed1(uint64_t capability, uint32_t bits) { return (ctls_allowed1(capability) & bits) == bits; }

namespace {
bool set_control(VmcsField field, uint64_t capability, uint32_t bits, const char* word) {
  if (!allowed1(capability, bits)) {
    skip("%s control bits 0x%x are not allowed by the capability MSR (allowed-1 0x%x)", word, bits,
         ctls_allowed1(capability));
    return false;
  }
  vset_bits(field, bits);
  return !test_failed();
}
}  // namespace

bool set_pin(uint32_t bits) { return set_control(VmcsField::PIN_BASED_VM_EXEC_CONTROL, caps.pinbased, bits, "pin-based"); }
bool set_proc(uint32_t bits) {
  return set_control(VmcsField::CPU_BASED_VM_EXEC_CONTROL, caps.procbased, bits, "primary processor-based");
}
bool set_proc2(uint32_t bits) {
  if (!set_proc(proc_ctl::ACTIVATE_SECONDARY_CONTROLS)) return false;
  return set_control(VmcsField::SECONDARY_VM_EXEC_CONTROL, caps.procbased2, bits, "secondary processor-based");
}
bool set_exit(uint32_t bits) { return set_control(VmcsField::VM_EXIT_CONTROLS, caps.exit, bits, "VM-exit"); }
bool set_entry(uint32_t bits) { return set_control(VmcsField::VM_ENTRY_CONTROLS, caps.entry, bits, "VM-entry"); }

bool require_ept_cap(uint64_t mask, const char* what) {
  if ((caps.ept_vpid_cap & mask) == mask) return true;
  skip("IA32_VMX_EPT_VPID_CAP does not offer %s", what);
  return false;
}

void init_guest_vmcs(uint64_t rip) {
  namespace ar = arch::seg::ar;
  using F = VmcsField;
  // Controls: only what the capability MSRs require, plus a 64-bit host and
  // guest (SDM 24.6-24.8, A.3-A.5).
  vwrite(F::PIN_BASED_VM_EXEC_CONTROL, ctls_adjust(caps.pinbased, 0));
  vwrite(F::CPU_BASED_VM_EXEC_CONTROL, ctls_adjust(caps.procbased, 0));
  if (caps.procbased2) vwrite(F::SECONDARY_VM_EXEC_CONTROL, 0);
  vwrite(F::VM_EXIT_CONTROLS, ctls_adjust(caps.exit, exit_ctl::HOST_ADDRESS_SPACE_SIZE));
  vwrite(F::VM_ENTRY_CONTROLS, ctls_adjust(caps.entry, entry_ctl::IA32E_MODE_GUEST));
  vwrite(F::EXCEPTION_BITMAP, 0);
  vwrite(F::PAGE_FAULT_ERROR_CODE_MASK, 0);
  vwrite(F::PAGE_FAULT_ERROR_CODE_MATCH, 0);
  vwrite(F::CR3_TARGET_COUNT, 0);
  vwrite(F::VM_EXIT_MSR_STORE_COUNT, 0);
  vwrite(F::VM_EXIT_MSR_LOAD_COUNT, 0);
  vwrite(F::VM_ENTRY_MSR_LOAD_COUNT, 0);
  vwrite(F::VM_ENTRY_INTR_INFO_FIELD, 0);
  vwrite(F::VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
  vwrite(F::VM_ENTRY_INSTRUCTION_LEN, 0);
  vwrite(F::TSC_OFFSET, 0);
  vwrite(F::CR0_GUEST_HOST_MASK, 0);
  vwrite(F::CR4_GUEST_HOST_MASK, 0);
  vwrite(F::CR0_READ_SHADOW, rt::read_cr0());
  vwrite(F::CR4_READ_SHADOW, rt::read_cr4());

  VmcsField failed_field{};
  const Status host = vmx::write_host_state(caps, &failed_field);
  if (host != Status::Ok) fail("host state: VMWRITE %s: %s", vmcs_field_name(failed_field), vmx::status_name(host));

  // The guest: the host's own 64-bit context (SDM 26.3.1), on its own stack
  // and IDT.
  vwrite(F::GUEST_CR0, rt::read_cr0());
  vwrite(F::GUEST_CR3, rt::read_cr3());
  vwrite(F::GUEST_CR4, rt::read_cr4());
  vwrite(F::GUEST_DR7, 0x400);  // its reset value: no breakpoint enabled
  vwrite(F::GUEST_RSP, guest_stack_top());
  vwrite(F::GUEST_RIP, rip);
  vwrite(F::GUEST_RFLAGS, arch::rflags::FIXED1);
  const uint32_t code64 = ar::TYPE_CODE | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::L | ar::G;
  const uint32_t data = ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G;
  vwrite(F::GUEST_CS_SELECTOR, rt::KERNEL_CS);
  vwrite(F::GUEST_CS_BASE, 0);
  vwrite(F::GUEST_CS_LIMIT, 0xffffffff);
  vwrite(F::GUEST_CS_AR_BYTES, code64);
  const VmcsField data_segments[][4] = {
      {F::GUEST_SS_SELECTOR, F::GUEST_SS_BASE, F::GUEST_SS_LIMIT, F::GUEST_SS_AR_BYTES},
      {F::GUEST_DS_SELECTOR, F::GUEST_DS_BASE, F::GUEST_DS_LIMIT, F::GUEST_DS_AR_BYTES},
      {F::GUEST_ES_SELECTOR, F::GUEST_ES_BASE, F::GUEST_ES_LIMIT, F::GUEST_ES_AR_BYTES},
      {F::GUEST_FS_SELECTOR, F::GUEST_FS_BASE, F::GUEST_FS_LIMIT, F::GUEST_FS_AR_BYTES},
      {F::GUEST_GS_SELECTOR, F::GUEST_GS_BASE, F::GUEST_GS_LIMIT, F::GUEST_GS_AR_BYTES},
  };
  for (const auto& s : data_segments) {
    vwrite(s[0], rt::KERNEL_DS);
    vwrite(s[1], 0);
    vwrite(s[2], 0xffffffff);
    vwrite(s[3], data);
  }
  vwrite(F::GUEST_LDTR_SELECTOR, 0);
  vwrite(F::GUEST_LDTR_BASE, 0);
  vwrite(F::GUEST_LDTR_LIMIT, 0);
  vwrite(F::GUEST_LDTR_AR_BYTES, ar::UNUSABLE);
  vwrite(F::GUEST_TR_SELECTOR, vmx::HOST_TR_SELECTOR);
  vwrite(F::GUEST_TR_BASE, vmx::host_tss_base());
  vwrite(F::GUEST_TR_LIMIT, 0x67);
  vwrite(F::GUEST_TR_AR_BYTES, arch::seg::sys_type::TSS_BUSY | ar::P);
  const rt::DescriptorTableRegister gdtr = rt::sgdt();
  vwrite(F::GUEST_GDTR_BASE, gdtr.base);
  vwrite(F::GUEST_GDTR_LIMIT, gdtr.limit);
  vwrite(F::GUEST_IDTR_BASE, pages.guest_idt);
  vwrite(F::GUEST_IDTR_LIMIT, GUEST_IDT_LIMIT);
  vwrite(F::GUEST_IA32_DEBUGCTL, 0);
  vwrite(F::GUEST_SYSENTER_CS, 0);
  vwrite(F::GUEST_SYSENTER_ESP, 0);
  vwrite(F::GUEST_SYSENTER_EIP, 0);
  if (allowed1(caps.entry, entry_ctl::LOAD_EFER)) vwrite(F::GUEST_IA32_EFER, rt::rdmsr(msr::IA32_EFER));
  if (allowed1(caps.entry, entry_ctl::LOAD_PAT)) vwrite(F::GUEST_IA32_PAT, rt::rdmsr(msr::IA32_PAT));
  vwrite(F::GUEST_INTERRUPTIBILITY_INFO, 0);
  vwrite(F::GUEST_ACTIVITY_STATE, activity_state::ACTIVE);
  vwrite(F::GUEST_PENDING_DBG_EXCEPTIONS, 0);
  vwrite(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
  if (allowed1(caps.pinbased, pin_ctl::PREEMPTION_TIMER)) vwrite(F::VMX_PREEMPTION_TIMER_VALUE, 0);
  memset(&regs, 0, sizeof regs);
}

bool setup_guest(uint64_t rip) {
  if (!vmx_on() || !load_vmcs(pages.vmcs)) return false;
  init_guest_vmcs(rip);
  return !test_failed();
}

// ---- Running the guest -------------------------------------------------------------

Exit run(bool resume) {
  using F = VmcsField;
  Exit e{};
  e.result = vmx::enter(regs, resume);
  if (e.result == vmx::EnterResult::FailValid) e.error = vmx::instruction_error();
  if (e.result != vmx::EnterResult::VmExit) return e;
  e.reason = uint32_t(vmx::read(F::VM_EXIT_REASON));
  e.qualification = vmx::read(F::EXIT_QUALIFICATION);
  e.rip = vmx::read(F::GUEST_RIP);
  e.length = uint32_t(vmx::read(F::VM_EXIT_INSTRUCTION_LEN));
  e.intr_info = uint32_t(vmx::read(F::VM_EXIT_INTR_INFO));
  e.intr_error = uint32_t(vmx::read(F::VM_EXIT_INTR_ERROR_CODE));
  e.idt_vectoring = uint32_t(vmx::read(F::IDT_VECTORING_INFO_FIELD));
  e.insn_info = uint32_t(vmx::read(F::VMX_INSTRUCTION_INFO));
  e.gpa = vmx::read(F::GUEST_PHYSICAL_ADDRESS);
  e.gla = vmx::read(F::GUEST_LINEAR_ADDRESS);
  return e;
}

void skip_instruction(const Exit& e) { vwrite(VmcsField::GUEST_RIP, e.rip + e.length); }

void restart_at(const char* rip) {
  vwrite(VmcsField::GUEST_RIP, addr(rip));
  vwrite(VmcsField::GUEST_RSP, guest_stack_top());
}

namespace {
const char* reason_name(uint32_t reason) {
  const char* n = exit_reason_name(reason);
  return n ? n : "?";
}

// The FAIL line for a run that did not end as expected: "[what: ]expected
// <expected>: <how it ended>".
void describe(const Exit& e, const char* what, const char* expected) {
  const char* sep = what ? ": " : "";
  if (!what) what = "";
  if (e.result == vmx::EnterResult::FailValid) {
    const char* text = vm_instruction_error_text(e.error);
    fail("%s%sexpected %s: VM entry failed with VMfailValid error %u (%s)", what, sep, expected, e.error,
         text ? text : "?");
  } else if (e.result != vmx::EnterResult::VmExit) {
    fail("%s%sexpected %s: VM entry failed with %s", what, sep, expected, vmx::enter_result_name(e.result));
  } else if (e.reason == uint32_t(ExitReason::VMCALL) && e.rip == reinterpret_cast<uint64_t>(guest_isr_vmcall)) {
    // The guest's IDT stub: RBX = vector, RCX = the frame (error code first if any).
    const uint64_t vector = regs.gpr[vmx::RBX];
    const bool has_error = vector < 32 && arch::exception_has_error_code(uint8_t(vector));
    const uint64_t* frame = reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX]);
    fail("%s%sexpected %s: the guest took vector %lu (%s), error code 0x%lx, at RIP 0x%lx", what, sep, expected,
         vector, arch::exception_name(uint8_t(vector)), has_error ? frame[0] : 0, frame[has_error ? 1 : 0]);
  } else {
    fail("%s%sexpected %s: got exit reason 0x%x (%s), qualification 0x%lx, guest RIP 0x%lx, interruption info 0x%x",
         what, sep, expected, e.reason, reason_name(e.reason), e.qualification, e.rip, e.intr_info);
  }
}
}  // namespace

bool expect_exit(const Exit& e, ExitReason reason) {
  if (e.result == vmx::EnterResult::VmExit && e.reason == uint32_t(reason)) return true;
  describe(e, nullptr, reason_name(uint32_t(reason)));
  return false;
}

bool expect_exit_at(const Exit& e, ExitReason reason, const char* rip, uint32_t length) {
  if (!expect_exit(e, reason)) return false;
  if (e.rip != addr(rip)) {
    fail("exit %s at guest RIP 0x%lx, expected 0x%lx", reason_name(uint32_t(reason)), e.rip, addr(rip));
    return false;
  }
  if (length && e.length != length) {
    fail("exit %s: instruction length %u, expected %u", reason_name(uint32_t(reason)), e.length, length);
    return false;
  }
  return true;
}

bool expect_vmcall_at(const Exit& e, const char* snippet, uint64_t offset) {
  constexpr uint32_t VMCALL_LENGTH = 3;  // 0F 01 C1
  return expect_exit_at(e, ExitReason::VMCALL, snippet + offset, VMCALL_LENGTH);
}

bool expect_qualification(const Exit& e, uint64_t expected) {
  if (e.qualification == expected) return true;
  fail("exit %s at 0x%lx: qualification 0x%lx, expected 0x%lx", reason_name(e.reason), e.rip, e.qualification,
       expected);
  return false;
}

bool expect_entry_fail(const Exit& e, Status want, VmInstructionError error, const char* what) {
  const vmx::EnterResult want_result =
      want == Status::FailInvalid ? vmx::EnterResult::FailInvalid : vmx::EnterResult::FailValid;
  if (e.result == want_result && (want != Status::FailValid || e.error == uint32_t(error))) return true;
  if (want == Status::FailInvalid) {
    describe(e, what, "VMfailInvalid");
  } else {
    const char* name = vm_instruction_error_name(uint32_t(error));
    describe(e, what, name ? name : "VMfailValid");
  }
  return false;
}

bool expect_entry_failure(const Exit& e, ExitReason reason, uint64_t qualification, const char* what) {
  if (e.result != vmx::EnterResult::VmExit || e.reason != entry_failure_reason(reason)) {
    if (e.result == vmx::EnterResult::VmExit && e.reason == uint32_t(reason))
      fail("%s%sexit reason %u without bit 31 (VM-entry failure) set", what ? what : "", what ? ": " : "",
           uint32_t(reason));
    else
      describe(e, what, reason_name(uint32_t(reason)));
    return false;
  }
  if (e.qualification != qualification) {
    fail("%s%sVM-entry failure qualification %lu, expected %lu", what ? what : "", what ? ": " : "", e.qualification,
         qualification);
    return false;
  }
  return true;
}

bool expect_guest_vector(const Exit& e, uint8_t vector) {
  if (e.result == vmx::EnterResult::VmExit && e.reason == uint32_t(ExitReason::VMCALL) &&
      e.rip == reinterpret_cast<uint64_t>(guest_isr_vmcall) && regs.gpr[vmx::RBX] == vector)
    return true;
  if (e.result == vmx::EnterResult::VmExit && e.reason == uint32_t(ExitReason::VMCALL) &&
      e.rip == reinterpret_cast<uint64_t>(guest_isr_vmcall)) {
    fail("expected the guest to take vector %u, it took %lu", vector, regs.gpr[vmx::RBX]);
    return false;
  }
  describe(e, nullptr, "the guest's IDT handler to run");
  return false;
}

// ---- APIC timer ----------------------------------------------------------------------

void apic_timer_oneshot(uint32_t initial_count) {
  namespace apic = arch::apic;
  rt::apic::write(apic::TIMER_DIVIDE_CONFIG, 0xb);  // divide by 1 (SDM figure 11-10)
  static_assert(arch::apic::timer_divisor(0xb) == 1);
  rt::apic::write(apic::LVT_TIMER, apic::LVT_TIMER_ONESHOT | TIMER_VECTOR);
  rt::apic::write(apic::TIMER_INITIAL_COUNT, initial_count);
}

namespace {
bool apic_bit(uint32_t base, uint8_t vector) {
  return (rt::apic::read(base + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}
}  // namespace
bool apic_isr_bit(uint8_t vector) { return apic_bit(arch::apic::ISR0, vector); }
bool apic_irr_bit(uint8_t vector) { return apic_bit(arch::apic::IRR0, vector); }

// ---- Starting the image and between tests -----------------------------------------

namespace {

bool pages_init() {
  uint64_t* all[] = {&pages.vmxon,         &pages.vmcs,           &pages.vmcs2,          &pages.shadow,
                     &pages.io_bitmap_a,   &pages.io_bitmap_b,    &pages.msr_bitmap,     &pages.vmread_bitmap,
                     &pages.vmwrite_bitmap, &pages.guest_idt,     &pages.scratch[0],     &pages.scratch[1],
                     &pages.scratch[2],    &pages.scratch[3]};
  for (uint64_t* p : all)
    if (!(*p = rt::alloc_pages(1))) return false;
  pages.guest_stack = rt::alloc_pages(GUEST_STACK_PAGES);
  return pages.guest_stack != 0;
}

}  // namespace

int harness_start(const char* image) {
  if (!(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_VMX)) {
    rt::printf("%s: VMX unavailable (CPUID.1:ECX.VMX = 0)\n", image);
    return EXIT_VMX_UNAVAILABLE;
  }
  for (unsigned v = 0; v < 32; v++) rt::set_interrupt_handler(uint8_t(v), on_exception);
  rt::set_interrupt_handler(TIMER_VECTOR, on_timer);
  rt::set_interrupt_handler(SELF_IPI_VECTOR, [](rt::InterruptFrame&) { rt::apic::eoi(); });
  rt::set_interrupt_handler(SELF_IPI_VECTOR + 1, [](rt::InterruptFrame&) { rt::apic::eoi(); });
  rt::apic::enable(SPURIOUS_VECTOR);
  if (!pages_init()) {
    rt::printf("%s: not enough memory for the test pages\n", image);
    return rt::EXIT_NO_MEMORY;
  }
  caps = vmx::read_capabilities();
  // CR0 as VMX operation wants it (SDM 23.8: typically NE), CR4 without VMXE.
  baseline_cr0 = arch::vmx::cr_fixed_adjust(rt::read_cr0(), caps.cr0_fixed0, caps.cr0_fixed1);
  baseline_cr4 = rt::read_cr4() & ~arch::cr4::VMXE;
  rt::write_cr0(baseline_cr0);
  baseline_efer = rt::rdmsr(msr::IA32_EFER);
  baseline_pat = rt::rdmsr(msr::IA32_PAT);
  vmx::install_host_tss();
  init_guest_idt();
  return -1;
}

void begin_test(const char* name) {
  current_test = name;
  failed_flag = skipped_flag = false;
}

bool test_skipped() { return skipped_flag && !failed_flag; }

void reset_machine() {
  guarded([] { vmx::vmxoff(); });  // #UD outside VMX operation: fine
  rt::write_cr0(baseline_cr0);
  rt::write_cr4(baseline_cr4);
  rt::wrmsr(msr::IA32_EFER, baseline_efer);
  rt::wrmsr(msr::IA32_PAT, baseline_pat);
  rt::apic::timer_stop();
  // Take any interrupt a test left pending, and end any it acknowledged.
  asm volatile("sti; nop; cli" : : : "memory");
  if (apic_isr_bit(TIMER_VECTOR)) rt::apic::eoi();
  for (unsigned v = SELF_IPI_VECTOR; v <= SELF_IPI_VECTOR + 1u; ++v)
    if (apic_isr_bit(uint8_t(v))) rt::apic::eoi();
  memset(&regs, 0, sizeof regs);
}

bool vmx_usable() {
  const uint64_t fc = rt::rdmsr(msr::IA32_FEATURE_CONTROL);
  return (fc & msr::FEATURE_CONTROL_LOCK) && (fc & msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX);
}

}  // namespace selftest
