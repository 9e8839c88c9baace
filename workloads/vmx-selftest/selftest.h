// vmx-selftest: the harness every test uses. A test is a function that sets
// up VMX from scratch (the harness leaves VMX operation and restores CR0/CR4
// after each one), runs a few guest instructions and checks the exits,
// qualifications and errors against the SDM. Its first failed check prints
// "FAIL <test>: <what>" and ends it; a test that returns without a failure
// prints "PASS <test>"; a feature the capability MSRs do not offer prints
// "SKIP <test>: <why>" and counts neither way.
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "runtime/runtime.h"
#include "runtime/vmx.h"

namespace selftest {

namespace vmx = rt::vmx;
using arch::vmx::ExitReason;
using arch::vmx::VmcsField;
using arch::vmx::VmInstructionError;
using vmx::Status;

// ---- Reporting --------------------------------------------------------------
// The first call in a test prints its FAIL line; later calls print nothing.
void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));
// Ends the test as not applicable here (feature not advertised).
void skip(const char* format, ...) __attribute__((format(printf, 1, 2)));
bool test_failed();

#define CHECK(cond, ...)           \
  do {                             \
    if (!(cond)) {                 \
      ::selftest::fail(__VA_ARGS__); \
      return;                      \
    }                              \
  } while (0)

#define CHECK_EQ(actual, expected, what)                                           \
  do {                                                                             \
    const uint64_t actual_ = uint64_t(actual), expected_ = uint64_t(expected);     \
    if (actual_ != expected_) {                                                    \
      ::selftest::fail("%s: expected 0x%lx, got 0x%lx", what, expected_, actual_); \
      return;                                                                      \
    }                                                                              \
  } while (0)

// For helpers that report their own failure (or skip) and return false.
#define REQUIRE(expr) \
  do {                \
    if (!(expr)) return; \
  } while (0)

// A VMX instruction's outcome: `want`, and for VMfailValid the error number.
bool expect_status(const char* what, Status got, Status want,
                   VmInstructionError error = VmInstructionError(0));
#define CHECK_STATUS(what, got, ...) REQUIRE(::selftest::expect_status(what, got, __VA_ARGS__))
#define CHECK_OK(what, got) CHECK_STATUS(what, got, ::selftest::Status::Ok)

// ---- Host exceptions -----------------------------------------------------------
// What running a guarded piece of host code raised: vector -1 for nothing.
struct Fault {
  int64_t vector;
  uint64_t error_code;
};
Fault guarded_call(void (*fn)(void*), void* arg);
// Runs f(); an exception inside it unwinds back here (the CPU state f
// changed stays changed) and is returned instead of ending the run.
template <class F>
Fault guarded(F f) {
  return guarded_call([](void* p) { (*static_cast<F*>(p))(); }, &f);
}
const char* vector_name(int64_t vector);
bool expect_fault(const char* what, const Fault& f, int64_t vector);
#define CHECK_FAULT(what, fault, vector) REQUIRE(::selftest::expect_fault(what, fault, vector))

// ---- The machine the tests share ------------------------------------------------
// Pages allocated once; each test that uses one sets it up itself.
struct Pages {
  uint64_t vmxon, vmcs, vmcs2, shadow;
  uint64_t io_bitmap_a, io_bitmap_b, msr_bitmap, vmread_bitmap, vmwrite_bitmap;
  uint64_t guest_idt, guest_stack;  // guest_stack: GUEST_STACK_PAGES pages
  uint64_t scratch[4];
};
inline constexpr uint64_t PAGE = 4096;
inline constexpr uint64_t GUEST_STACK_PAGES = 2;
extern Pages pages;
extern vmx::Capabilities caps;
// The guest's GPRs: loaded at each VM entry, stored at each VM exit.
extern vmx::GuestRegs regs;
// CR0 and CR4 outside VMX operation, restored after every test.
extern uint64_t baseline_cr0, baseline_cr4;

uint64_t guest_stack_top();
void clear_page(uint64_t page);
void write_revision(uint64_t page, uint32_t revision);

// Each reports its own failure and returns false.
bool vmx_on();                    // CR4.VMXE (and the fixed bits) on, VMXON pages.vmxon
bool load_vmcs(uint64_t page);    // clear the page, its revision, VMCLEAR, VMPTRLD
void init_guest_vmcs(uint64_t rip);  // controls, host state, a 64-bit guest at rip
bool setup_guest(uint64_t rip);   // vmx_on + load_vmcs(pages.vmcs) + init_guest_vmcs

// VMREAD/VMWRITE of the current VMCS; a failing VMWRITE fails the test.
uint64_t vread(VmcsField f);
void vwrite(VmcsField f, uint64_t value);
void vset_bits(VmcsField f, uint64_t bits);
void vclear_bits(VmcsField f, uint64_t bits);

// Turn controls on in the current VMCS. False (and SKIP) when the
// capability MSRs do not allow them; set_proc2 activates the secondary
// controls too.
bool set_pin(uint32_t bits);
bool set_proc(uint32_t bits);
bool set_proc2(uint32_t bits);
bool set_exit(uint32_t bits);
bool set_entry(uint32_t bits);
// The capability allows these bits to be 1 (true controls where they exist).
bool allowed1(uint64_t capability, uint32_t bits);
// EPT and VPID capability bits (IA32_VMX_EPT_VPID_CAP); SKIP when absent.
bool require_ept_cap(uint64_t mask, const char* what);

// ---- Running the guest ------------------------------------------------------------
struct Exit {
  vmx::EnterResult result;
  uint32_t error;  // VM_INSTRUCTION_ERROR after VMfailValid
  uint32_t reason;
  uint64_t qualification;
  uint64_t rip;
  uint32_t length;
  uint32_t intr_info, intr_error, idt_vectoring, insn_info;
  uint64_t gpa, gla;
};
Exit run(bool resume = false);
inline Exit resume() { return run(true); }
// The next VMRESUME continues after the exiting instruction.
void skip_instruction(const Exit& e);
// The next VMRESUME starts over at `rip` on an empty guest stack.
void restart_at(const char* rip);
inline uint64_t addr(const char* label) { return reinterpret_cast<uint64_t>(label); }

bool expect_exit(const Exit& e, ExitReason reason);
#define CHECK_EXIT(e, reason) REQUIRE(::selftest::expect_exit(e, reason))
// The exit is `reason` at `rip`, with instruction length `length` (0: not checked).
bool expect_exit_at(const Exit& e, ExitReason reason, const char* rip, uint32_t length);
#define CHECK_EXIT_AT(e, reason, rip, length) REQUIRE(::selftest::expect_exit_at(e, reason, rip, length))
// The exit is the VMCALL `offset` bytes after `snippet` (and 3 bytes long).
bool expect_vmcall_at(const Exit& e, const char* snippet, uint64_t offset);
#define CHECK_VMCALL_AT(e, snippet, offset) REQUIRE(::selftest::expect_vmcall_at(e, snippet, offset))
bool expect_qualification(const Exit& e, uint64_t expected);
#define CHECK_QUAL(e, expected) REQUIRE(::selftest::expect_qualification(e, expected))
// VMLAUNCH/VMRESUME failed with `want` (and error); `what` describes the case.
bool expect_entry_fail(const Exit& e, Status want, VmInstructionError error = VmInstructionError(0),
                       const char* what = nullptr);
#define CHECK_ENTRY_FAIL(e, ...) REQUIRE(::selftest::expect_entry_fail(e, __VA_ARGS__))
// VM entry failed after loading guest state: exit reason `reason` with bit
// 31 set and `qualification` (SDM 26.8).
bool expect_entry_failure(const Exit& e, ExitReason reason, uint64_t qualification, const char* what = nullptr);
#define CHECK_ENTRY_FAILURE(e, ...) REQUIRE(::selftest::expect_entry_failure(e, __VA_ARGS__))

// The exit is VMCALL from the guest's IDT stub: the guest took `vector`.
bool expect_guest_vector(const Exit& e, uint8_t vector);
#define CHECK_GUEST_VECTOR(e, vector) REQUIRE(::selftest::expect_guest_vector(e, vector))

// The APIC timer vector the interrupt tests use.
inline constexpr uint8_t TIMER_VECTOR = 0x40;
// The vectors tests send to the host's own APIC with interrupts off, for
// the guest to meet: SELF_IPI_VECTOR and SELF_IPI_VECTOR + 1. One a failing
// test leaves requested or in service is taken and ended between tests.
inline constexpr uint8_t SELF_IPI_VECTOR = 0xe5;
// Interrupts the host took on TIMER_VECTOR.
extern volatile uint64_t host_timer_interrupts;
void apic_timer_oneshot(uint32_t initial_count);
bool apic_isr_bit(uint8_t vector);
bool apic_irr_bit(uint8_t vector);

// ---- Guest code (guest.cpp) --------------------------------------------------------
// Guest snippets in the image's own address space, each a few instructions
// ending in VMCALL. Labels inside a snippet mark instructions whose address
// the tests check.
extern "C" {
extern char guest_vmcall[], guest_cpuid[], guest_cpuid_vmcall[], guest_hlt[];
extern char guest_io[], guest_io_inw[], guest_io_outsb[], guest_io_inl[], guest_io_vmcall[];
extern char guest_io_bitmap[], guest_io_bitmap_80[], guest_io_bitmap_7fff[], guest_io_bitmap_vmcall[];
extern char guest_rdmsr[], guest_wrmsr[];
extern char guest_mov_to_cr0[], guest_mov_from_cr0[], guest_mov_to_cr4[], guest_mov_from_cr4[], guest_clts[], guest_smsw[];
extern char guest_mov_to_cr3[], guest_mov_from_cr3[];
extern char guest_ud2[], guest_read[], guest_write[], guest_jmp[], guest_rdtsc[], guest_invlpg[];
extern char guest_mov_dr[], guest_mov_dr_2[];
extern char guest_spin[], guest_spin_vmcall[];
extern char guest_sti[], guest_sti_window[], guest_nops[];
extern char guest_lgdt[], guest_sidt[];
extern char guest_invept[], guest_invpcid[], guest_invvpid[], guest_vmread[], guest_vmwrite[];
extern char guest_pm32[], guest_pm32_vmcall[];
extern char guest_real[], guest_real_int[], guest_real_vmcall[], guest_real_handler[], guest_real_end[];
extern char guest_state[], guest_state_vmcall[], guest_pause[], guest_rdpmc[], guest_wbinvd[], guest_mov_to_cr8[], guest_mov_from_cr8[];
extern char guest_rdtscp[], guest_int3[], guest_lmsw[], guest_icebp[];
extern char guest_lbr[], guest_lbr_jmp1[], guest_lbr_to1[], guest_lbr_jmp2[], guest_lbr_to2[], guest_lbr_vmcall[];
extern char guest_read32[], guest_write32[];
extern char guest_sti_vmcall[], guest_mov_ss_vmcall[];
extern char guest_vmxon[], guest_vmclear[], guest_vmptrld[], guest_vmptrst[], guest_vmlaunch[], guest_vmresume[],
    guest_vmxoff[], guest_vmx_insns_end[];
extern char guest_isr_stubs[];
extern char guest_isr_vmcall[];
}
// guest_isr_stubs + vector * GUEST_ISR_STUB_SIZE is the stub for the vector.
inline constexpr unsigned GUEST_ISR_STUB_SIZE = 16;
// The guest's IDT: every vector's gate leads to a stub that loads RBX =
// vector, RCX = the exception frame's address, RDX = CR2 and runs VMCALL
// at guest_isr_vmcall.
void init_guest_idt();
inline constexpr uint16_t GUEST_IDT_LIMIT = 256 * 16 - 1;

// ---- Starting an image on this harness (harness.cpp) -----------------------------
// Exit code when there is no VMX to test (CPUID.1:ECX.VMX = 0, or VMX
// disabled and locked in IA32_FEATURE_CONTROL): the platform is fine, it
// just is not one this workload applies to (QEMU TCG, KVM without nested).
inline constexpr uint32_t EXIT_VMX_UNAVAILABLE = 0x10;
// What kmain does first: host exception and timer handlers, the APIC, the
// pages, the capability MSRs, the baseline CR0/CR4/EFER/PAT, the host TSS
// and the guest's IDT. -1 when ready; otherwise the exit code to return
// (after a line "<image>: why").
int harness_start(const char* image);
// A new test (or case) named `name`: its FAIL/SKIP lines carry the name.
void begin_test(const char* name);
bool test_skipped();  // skip() was called since begin_test (and fail() was not)
// Leaves VMX operation and restores what a test may have changed, so the
// next one starts from the same machine.
void reset_machine();
// IA32_FEATURE_CONTROL is locked with VMX enabled outside SMX.
bool vmx_usable();

// ---- The tests ------------------------------------------------------------------------
#define SELFTEST_TESTS(X)                                      \
  X(cpuid_vmx, "cpuid-vmx")                                    \
  X(capability_msrs, "capability-msrs")                        \
  X(feature_control, "feature-control")                        \
  X(vmxon_cr4_vmxe, "vmxon-cr4-vmxe")                          \
  X(vmxon_cr0_fixed, "vmxon-cr0-fixed")                        \
  X(vmxon_bad_revision, "vmxon-bad-revision")                  \
  X(vmxon_twice, "vmxon-twice")                                \
  X(cr4_vmxe_locked, "cr4-vmxe-locked")                        \
  X(vmptrld_vmxon_pointer, "vmptrld-vmxon-pointer")            \
  X(vmptrld_bad_revision, "vmptrld-bad-revision")              \
  X(vmptrld_bad_address, "vmptrld-bad-address")                \
  X(vmclear_errors, "vmclear-errors")                          \
  X(vmptrst, "vmptrst")                                        \
  X(no_current_vmcs, "no-current-vmcs")                        \
  X(vmread_vmwrite_roundtrip, "vmread-vmwrite-roundtrip")      \
  X(vmread_unsupported, "vmread-unsupported")                  \
  X(vmwrite_read_only, "vmwrite-read-only")                    \
  X(io_exit_fields_kept, "io-exit-fields-kept")                \
  X(vmlaunch_nonclear, "vmlaunch-nonclear")                    \
  X(vmresume_nonlaunched, "vmresume-nonlaunched")              \
  X(vmclear_relaunch, "vmclear-relaunch")                      \
  X(vmlaunch_mov_ss, "vmlaunch-mov-ss")                        \
  X(entry_invalid_control, "entry-invalid-control")            \
  X(entry_invalid_host_state, "entry-invalid-host-state")      \
  X(entry_invalid_guest_state, "entry-invalid-guest-state")    \
  X(entry_bad_link_pointer, "entry-bad-link-pointer")          \
  X(entry_invalid_injection, "entry-invalid-injection")        \
  X(entry_invalid_guest_fields, "entry-invalid-guest-fields")  \
  X(host_state_loaded, "host-state-loaded")                    \
  X(guest_state_saved, "guest-state-saved")                    \
  X(msr_load_store, "msr-load-store")                          \
  X(efer_pat_controls, "efer-pat-controls")                    \
  X(cpuid_exit, "cpuid-exit")                                  \
  X(hlt_exit, "hlt-exit")                                      \
  X(vmcall_exit, "vmcall-exit")                                \
  X(io_unconditional, "io-unconditional")                      \
  X(io_bitmap, "io-bitmap")                                    \
  X(msr_bitmap, "msr-bitmap")                                  \
  X(cr0_guest_host_mask, "cr0-guest-host-mask")                \
  X(cr_read_shadow, "cr-read-shadow")                          \
  X(guest_cr_fixed_bits, "guest-cr-fixed-bits")                \
  X(cr3_exiting, "cr3-exiting")                                \
  X(exception_bitmap_ud, "exception-bitmap-ud")                \
  X(exception_bitmap_pf, "exception-bitmap-pf")                \
  X(exception_bitmap_bp, "exception-bitmap-bp")                \
  X(rdtsc_exiting, "rdtsc-exiting")                            \
  X(tsc_offsetting, "tsc-offsetting")                          \
  X(invlpg_exiting, "invlpg-exiting")                          \
  X(mov_dr_exiting, "mov-dr-exiting")                          \
  X(external_interrupt_ack, "external-interrupt-ack")          \
  X(external_interrupt_no_ack, "external-interrupt-no-ack")    \
  X(interrupt_window, "interrupt-window")                      \
  X(interruptibility_saved, "interruptibility-saved")          \
  X(preemption_timer, "preemption-timer")                      \
  X(monitor_trap_flag, "monitor-trap-flag")                    \
  X(nmi_window, "nmi-window")                                  \
  X(activity_hlt, "activity-hlt")                              \
  X(triple_fault, "triple-fault")                              \
  X(descriptor_table_exiting, "descriptor-table-exiting")      \
  X(instruction_exiting, "instruction-exiting")                \
  X(lmsw_exiting, "lmsw-exiting")                              \
  X(vmx_instruction_exits, "vmx-instruction-exits")            \
  X(inject_exception, "inject-exception")                      \
  X(inject_interrupt, "inject-interrupt")                      \
  X(unrestricted_guest_pm32, "unrestricted-guest-pm32")        \
  X(unrestricted_guest_real_mode, "unrestricted-guest-real-mode") \
  X(unrestricted_guest_v8086, "unrestricted-guest-v8086")      \
  X(ept_guest_memory, "ept-guest-memory")                      \
  X(ept_violation, "ept-violation")                            \
  X(ept_misconfig, "ept-misconfig")                            \
  X(ept_accessed_dirty, "ept-accessed-dirty")                  \
  X(ept_paging_structures, "ept-paging-structures")            \
  X(pml, "pml")                                                \
  X(pml_full, "pml-full")                                      \
  X(idt_vectoring_info, "idt-vectoring-info")                  \
  X(invept, "invept")                                          \
  X(vpid_invvpid, "vpid-invvpid")                              \
  X(vmcs_shadowing, "vmcs-shadowing")                          \
  X(vmlaunch_shadow_vmcs, "vmlaunch-shadow-vmcs")              \
  X(tpr_shadow, "tpr-shadow")                                  \
  X(tpr_threshold, "tpr-threshold")                            \
  X(entry_tpr_shadow, "entry-tpr-shadow")                      \
  X(apic_access, "apic-access")                                \
  X(apic_access_vtpr, "apic-access-vtpr")                      \
  X(x2apic_virtualization, "x2apic-virtualization")            \
  X(apic_register_virtualization, "apic-register-virtualization") \
  X(virtual_interrupt_delivery, "virtual-interrupt-delivery")  \
  X(virtual_eoi, "virtual-eoi")                                \
  X(self_ipi_virtualization, "self-ipi-virtualization")        \
  X(entry_virtual_interrupt_delivery, "entry-virtual-interrupt-delivery") \
  X(posted_interrupts, "posted-interrupts")                    \
  X(entry_posted_interrupts, "entry-posted-interrupts")        \
  X(exit_tsc_order, "exit-tsc-order")                          \
  X(mtf_before_preemption_timer, "mtf-before-preemption-timer") \
  X(single_step_exit, "single-step-exit")                      \
  X(single_step_guest_handler, "single-step-guest-handler")    \
  X(mtf_before_single_step, "mtf-before-single-step")          \
  X(pending_dbg_entry, "pending-dbg-entry")                    \
  X(pending_dbg_before_preemption_timer, "pending-dbg-before-preemption-timer") \
  X(icebp_exit, "icebp-exit")                                  \
  X(lbr_debug_controls, "lbr-debug-controls")                  \
  X(nmi_exiting, "nmi-exiting")                                \
  X(nmi_blocking_entry, "nmi-blocking-entry")                  \
  X(nmi_to_guest, "nmi-to-guest")                              \
  X(invpcid_controls, "invpcid-controls")                      \
  X(xsetbv_exit, "xsetbv-exit")                                \
  X(xsetbv_xgetbv, "xsetbv-xgetbv")                            \
  X(vmxoff, "vmxoff")

#define SELFTEST_DECLARE(fn, name) void test_##fn();
SELFTEST_TESTS(SELFTEST_DECLARE)
#undef SELFTEST_DECLARE

}  // namespace selftest
