// Tests of VMLAUNCH/VMRESUME and the VM-entry checks (SDM 26.1-26.3, 26.8,
// 30.3 VMLAUNCH/VMRESUME).
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace msr = arch::msr;

namespace {

// VMCLEAR and VMPTRLD the test VMCS again: launch state clear, fields kept.
bool reload_vmcs() {
  return expect_status("VMCLEAR", vmx::vmclear(pages.vmcs), Status::Ok) &&
         expect_status("VMPTRLD", vmx::vmptrld(pages.vmcs), Status::Ok);
}

}  // namespace

void test_vmlaunch_nonclear() {
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::VMLAUNCH_NONCLEAR_VMCS);
}

void test_vmresume_nonlaunched() {
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::VMRESUME_NONLAUNCHED_VMCS);
  // The VMCS itself is fine: launch, then resume at the same VMCALL.
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  CHECK_VMCALL_AT(resume(), guest_vmcall, 0);
}

void test_vmclear_relaunch() {
  // VMCLEAR makes the launch state clear again and keeps the fields (SDM 24.1).
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  REQUIRE(reload_vmcs());
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::VMRESUME_NONLAUNCHED_VMCS);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

namespace {

// selftest_launch_in_shadow(regs, sti): rt::vmx::enter()'s VMLAUNCH (with
// its frame, RT_VMX_ENTER_FRAME), but right after MOV SS (sti = 0) or STI
// (sti = 1), so VMLAUNCH runs in that instruction's shadow; the guest
// starts with the host's GPRs. Returns an EnterResult.
extern "C" uint32_t selftest_launch_in_shadow(vmx::GuestRegs* regs, uint32_t sti);

[[gnu::used]] void define_launch_in_shadow() {
  asm volatile(RT_ASM_FUNC_START(selftest_launch_in_shadow) RT_VMX_ENTER_FRAME R"(
    testl %%esi, %%esi
    jnz 1f
    movl %%ss, %%eax
    movl %%eax, %%ss
    vmlaunch
    jmp rt_vmx_vmfail
1:  sti
    vmlaunch
    jmp rt_vmx_vmfail)" RT_ASM_FUNC_END(selftest_launch_in_shadow)
               :
               : RT_VMX_HOST_RSP_OPERAND);
}

}  // namespace

void test_vmlaunch_mov_ss() {
  // VMLAUNCH with events blocked by MOV SS is VMfailValid(26); blocking by
  // STI does not stop it (SDM 30.3 VMLAUNCH/VMRESUME).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  const auto mov_ss = vmx::EnterResult(selftest_launch_in_shadow(&regs, 0));
  CHECK(mov_ss == vmx::EnterResult::FailValid, "VMLAUNCH after MOV SS: expected VMfailValid, got %s",
        vmx::enter_result_name(mov_ss));
  CHECK_EQ(vmx::instruction_error(), VmInstructionError::ENTRY_EVENTS_BLOCKED_BY_MOV_SS,
           "VM-instruction error of VMLAUNCH after MOV SS");
  const auto sti = vmx::EnterResult(selftest_launch_in_shadow(&regs, 1));
  rt::cli();  // STI set IF for the host; a VM exit clears it, a failure would not
  if (sti != vmx::EnterResult::VmExit)
    return fail("VMLAUNCH after STI: expected a VM entry, got %s (error %u)", vmx::enter_result_name(sti),
                sti == vmx::EnterResult::FailValid ? vmx::instruction_error() : 0);
  CHECK_EQ(vread(VmcsField::VM_EXIT_REASON), ExitReason::VMCALL, "exit reason after VMLAUNCH after STI");
}

void test_entry_invalid_control() {
  // Controls outside what the capability MSRs allow: VMfailValid(7) (SDM 26.2.1.1).
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  const uint32_t pin = uint32_t(vread(VmcsField::PIN_BASED_VM_EXEC_CONTROL));
  const uint32_t forbidden = ~ctls_allowed1(caps.pinbased);
  if (forbidden) {
    const uint32_t bit = forbidden & (0 - forbidden);
    vwrite(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin | bit);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                     "a pin-based control whose allowed-1 bit is 0");
    vwrite(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin);
  }
  const uint32_t proc = uint32_t(vread(VmcsField::CPU_BASED_VM_EXEC_CONTROL));
  const uint32_t required = ctls_allowed0(caps.procbased);
  if (required) {
    const uint32_t bit = required & (0 - required);
    vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc & ~bit);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                     "a processor-based control whose allowed-0 bit is 1, cleared");
    vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc);
  }
  // I/O-bitmap addresses must be 4-KiB aligned (SDM 26.2.1.1).
  if (allowed1(caps.procbased, proc_ctl::USE_IO_BITMAPS)) {
    vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc | proc_ctl::USE_IO_BITMAPS);
    vwrite(VmcsField::IO_BITMAP_A, pages.io_bitmap_a + 0x10);
    vwrite(VmcsField::IO_BITMAP_B, pages.io_bitmap_b);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                     "an unaligned I/O bitmap A");
    vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc);
  }
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_entry_invalid_host_state() {
  // Host state that VM exits could not load: VMfailValid(8) (SDM 26.2.2-26.2.4).
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  struct Case {
    const char* what;
    VmcsField field;
    uint64_t value;
  } cases[] = {
      {"HOST_CR4 without VMXE", VmcsField::HOST_CR4, rt::read_cr4() & ~arch::cr4::VMXE},
      {"HOST_CR0 without PG", VmcsField::HOST_CR0, rt::read_cr0() & ~arch::cr0::PG},
      {"HOST_CS_SELECTOR 0", VmcsField::HOST_CS_SELECTOR, 0},
      {"HOST_TR_SELECTOR 0", VmcsField::HOST_TR_SELECTOR, 0},
      {"HOST_SS_SELECTOR with RPL 3", VmcsField::HOST_SS_SELECTOR, vread(VmcsField::HOST_SS_SELECTOR) | 3},
      {"non-canonical HOST_GDTR_BASE", VmcsField::HOST_GDTR_BASE, 0x8000000000000000ull},
  };
  for (const Case& c : cases) {
    const uint64_t good = vread(c.field);
    vwrite(c.field, c.value);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_HOST_STATE_FIELD, c.what);
    vwrite(c.field, good);
  }
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_entry_invalid_guest_state() {
  // Guest state checks fail the entry after it started: exit reason 33 with
  // bit 31 set, qualification 0, host state loaded (SDM 26.3.1, 26.8).
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  vwrite(VmcsField::GUEST_RFLAGS, 0);  // bit 1 must be 1 (SDM 26.3.1.4)
  CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_DEFAULT);
  CHECK_EQ(vread(VmcsField::GUEST_RIP), reinterpret_cast<uint64_t>(guest_vmcall), "GUEST_RIP after the failed entry");
  CHECK(!intr_info::VALID.test(vread(VmcsField::VM_EXIT_INTR_INFO)), "VM-exit interruption information valid");

  REQUIRE(reload_vmcs());
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1);
  if (caps.cr0_fixed0 & arch::cr0::NE) {
    vclear_bits(VmcsField::GUEST_CR0, arch::cr0::NE);  // CR0 fixed bits (SDM 26.3.1.1)
    CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_DEFAULT);
    REQUIRE(reload_vmcs());
    vset_bits(VmcsField::GUEST_CR0, arch::cr0::NE);
  }
  // IA-32e mode guest requires CR4.PAE (SDM 26.3.1.1).
  vclear_bits(VmcsField::GUEST_CR4, arch::cr4::PAE);
  CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_DEFAULT);
  REQUIRE(reload_vmcs());
  vset_bits(VmcsField::GUEST_CR4, arch::cr4::PAE);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_entry_bad_link_pointer() {
  // A VMCS link pointer other than all-ones must be aligned and point to a
  // VMCS of the right revision: otherwise qualification 4 (SDM 26.3.1.5, 26.8).
  REQUIRE(setup_guest(reinterpret_cast<uint64_t>(guest_vmcall)));
  clear_page(pages.vmcs2);
  write_revision(pages.vmcs2, caps.revision() ^ 1);
  vwrite(VmcsField::VMCS_LINK_POINTER, pages.vmcs2);
  CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_VMCS_LINK_POINTER);
  REQUIRE(reload_vmcs());
  write_revision(pages.vmcs2, caps.revision());
  vwrite(VmcsField::VMCS_LINK_POINTER, pages.vmcs2 + 0x800);
  CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_VMCS_LINK_POINTER);
  REQUIRE(reload_vmcs());
  vwrite(VmcsField::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_entry_invalid_injection() {
  // The VM-entry interruption-information field is a control: a malformed
  // one fails VMLAUNCH with VMfailValid(7) (SDM 26.2.1.3).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  namespace ii = intr_info;
  const bool zero_length = vmx_misc::ZERO_LENGTH_INJECTION.test(caps.misc);
  struct Case {
    const char* what;
    uint32_t info;
    uint32_t length;
  } cases[] = {
      {"interruption type 1 (reserved)", uint32_t(ii::VALID.mask | ii::TYPE.make(1) | 0x20), 0},
      {"NMI with vector 3", uint32_t(ii::VALID.mask | ii::TYPE.make(ii::TYPE_NMI) | 3), 0},
      {"hardware exception with vector 32", make_intr_info(32, ii::TYPE_HARDWARE_EXCEPTION, false), 0},
      {"#UD with an error code", make_intr_info(6, ii::TYPE_HARDWARE_EXCEPTION, true), 0},
      {"#GP without an error code", make_intr_info(13, ii::TYPE_HARDWARE_EXCEPTION, false), 0},
      {"reserved bit 12", uint32_t(make_intr_info(6, ii::TYPE_HARDWARE_EXCEPTION, false) | (1u << 12)), 0},
      {"software interrupt with instruction length 16", make_intr_info(0x41, ii::TYPE_SOFTWARE_INTERRUPT, false), 16},
      {"software interrupt with instruction length 0", zero_length ? 0 : make_intr_info(0x41, ii::TYPE_SOFTWARE_INTERRUPT, false),
       0},
  };
  for (const Case& c : cases) {
    if (!c.info) continue;
    vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, c.info);
    vwrite(VmcsField::VM_ENTRY_INSTRUCTION_LEN, c.length);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD, c.what);
  }
  vwrite(VmcsField::VM_ENTRY_INTR_INFO_FIELD, 0);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_entry_invalid_guest_fields() {
  // Guest-state fields each of which fails VM entry with exit reason 33
  // (SDM 26.3.1.2 segments, 26.3.1.4 RIP, 26.3.1.5 non-register state).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  namespace ar = arch::seg::ar;
  namespace is = interruptibility;
  const uint64_t data = ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G;
  struct Case {
    const char* what;
    VmcsField field;
    uint64_t value;
    bool interrupts_on;  // RFLAGS.IF = 1 for the case
  } cases[] = {
      {"activity state 4", VmcsField::GUEST_ACTIVITY_STATE, 4, false},
      {"an activity state IA32_VMX_MISC does not offer",
       VmcsField::GUEST_ACTIVITY_STATE,
       vmx_misc::ACTIVITY_SHUTDOWN.test(caps.misc) ? 4 : activity_state::SHUTDOWN, false},
      {"blocking by STI and by MOV SS", VmcsField::GUEST_INTERRUPTIBILITY_INFO,
       is::BLOCKING_BY_STI.mask | is::BLOCKING_BY_MOV_SS.mask, true},
      {"blocking by STI with RFLAGS.IF = 0", VmcsField::GUEST_INTERRUPTIBILITY_INFO, is::BLOCKING_BY_STI.mask, false},
      {"interruptibility reserved bit 5", VmcsField::GUEST_INTERRUPTIBILITY_INFO, 1u << 5, false},
      {"pending debug exceptions reserved bit 4", VmcsField::GUEST_PENDING_DBG_EXCEPTIONS, 1u << 4, false},
      {"non-canonical RIP in 64-bit mode", VmcsField::GUEST_RIP, 0x0000800000000000ull, false},
      {"unusable TR", VmcsField::GUEST_TR_AR_BYTES, ar::UNUSABLE, false},
      {"a data segment in CS", VmcsField::GUEST_CS_AR_BYTES, data, false},
      {"SS with a code type", VmcsField::GUEST_SS_AR_BYTES, data | ar::TYPE_CODE, false},
  };
  for (const Case& c : cases) {
    const uint64_t good = vread(c.field);
    vwrite(c.field, c.value);
    vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1 | (c.interrupts_on ? arch::rflags::IF : 0));
    CHECK_ENTRY_FAILURE(run(), ExitReason::INVALID_GUEST_STATE, qual_entry_failure::ENTRY_FAIL_DEFAULT, c.what);
    REQUIRE(reload_vmcs());
    vwrite(c.field, good);
  }
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
}

void test_host_state_loaded() {
  // A VM exit loads the host's selectors and FS/GS bases from the host-state
  // fields, sets the GDTR and IDTR limits to FFFFH and DR7 to 400H, and
  // loads TR (SDM 27.5.1, 27.5.2).
  REQUIRE(setup_guest(addr(guest_vmcall)));
  const uint64_t host_fs_base = vread(VmcsField::HOST_FS_BASE);
  asm volatile("movl %0, %%fs" : : "r"(0u));
  rt::wrmsr(msr::IA32_FS_BASE, host_fs_base + 0x5000);
  asm volatile("movq %0, %%dr7" : : "r"(0x600ull) : "memory");  // GE: enables no breakpoint
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  uint16_t fs, tr;
  uint64_t dr7;
  asm volatile("movw %%fs, %0" : "=r"(fs));
  asm volatile("str %0" : "=r"(tr));
  asm volatile("movq %%dr7, %0" : "=r"(dr7));
  CHECK_EQ(fs, rt::KERNEL_DS, "FS selector after the VM exit");
  CHECK_EQ(rt::rdmsr(msr::IA32_FS_BASE), host_fs_base, "FS base after the VM exit");
  CHECK_EQ(tr, vmx::HOST_TR_SELECTOR, "TR after the VM exit");
  CHECK_EQ(rt::sgdt().limit, 0xffff, "GDTR limit after the VM exit");
  CHECK_EQ(rt::sidt().limit, 0xffff, "IDTR limit after the VM exit");
  CHECK_EQ(dr7, 0x400, "DR7 after the VM exit");
}

void test_guest_state_saved() {
  // A VM exit saves the guest's registers: RSP, RFLAGS, a segment loaded
  // with a null selector (unusable, SDM 27.3.2), and IA32_EFER.LMA in the
  // "IA-32e mode guest" entry control (SDM 27.2, IA32_VMX_MISC bit 5).
  REQUIRE(setup_guest(addr(guest_state)));
  const uint64_t top = guest_stack_top();
  CHECK_VMCALL_AT(run(), guest_state_vmcall, 0);
  CHECK_EQ(vread(VmcsField::GUEST_RSP), top - 8, "GUEST_RSP after one push");
  CHECK_EQ(*reinterpret_cast<const uint64_t*>(top - 8), 0x1234, "the value the guest pushed");
  CHECK(vread(VmcsField::GUEST_RFLAGS) & arch::rflags::CF, "GUEST_RFLAGS.CF clear after STC: 0x%lx",
        vread(VmcsField::GUEST_RFLAGS));
  CHECK_EQ(vread(VmcsField::GUEST_ES_SELECTOR), 0, "GUEST_ES_SELECTOR after loading a null selector");
  CHECK(vread(VmcsField::GUEST_ES_AR_BYTES) & arch::seg::ar::UNUSABLE,
        "GUEST_ES_AR_BYTES 0x%lx: a null ES must be unusable", vread(VmcsField::GUEST_ES_AR_BYTES));
  if (vmx_misc::STORE_EFER_LMA.test(caps.misc))
    CHECK(vread(VmcsField::VM_ENTRY_CONTROLS) & entry_ctl::IA32E_MODE_GUEST,
          "\"IA-32e mode guest\" cleared at the exit of a 64-bit guest");
}

namespace {
// The MSR the list tests move around: not part of the VMCS guest or host state.
constexpr uint32_t LIST_MSR = msr::IA32_KERNEL_GS_BASE;

MsrEntry* msr_list(unsigned offset) { return reinterpret_cast<MsrEntry*>(pages.scratch[0] + offset); }
}  // namespace

void test_msr_load_store() {
  // VM entry loads the MSRs of its MSR-load list; VM exit stores the guest's
  // into the MSR-store list and loads the host's from the MSR-load list
  // (SDM 26.4, 27.4, 27.6); a list address not 16-byte aligned is an
  // invalid control (SDM 26.2.1.2-3); an entry that cannot be loaded fails
  // the entry with reason 34 and the entry's number (SDM 26.8).
  constexpr uint64_t HOST_VALUE = 0x1000, GUEST_LOADED = 0x2000, GUEST_WRITTEN = 0x3000, HOST_LOADED = 0x4000;
  REQUIRE(setup_guest(addr(guest_rdmsr)));
  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);
  clear_page(pages.scratch[0]);
  MsrEntry* entry_load = msr_list(0);
  MsrEntry* exit_store = msr_list(0x100);
  MsrEntry* exit_load = msr_list(0x200);
  entry_load[0] = MsrEntry{LIST_MSR, 0, GUEST_LOADED};
  entry_load[1] = MsrEntry{msr::X2APIC_FIRST + 8, 0, 0};  // x2APIC MSRs cannot be loaded (SDM 26.4)
  exit_store[0] = MsrEntry{LIST_MSR, 0, 0};
  exit_load[0] = MsrEntry{LIST_MSR, 0, HOST_LOADED};
  rt::wrmsr(LIST_MSR, HOST_VALUE);

  vwrite(VmcsField::VM_ENTRY_MSR_LOAD_ADDR, uint64_t(entry_load) + 8);
  vwrite(VmcsField::VM_ENTRY_MSR_LOAD_COUNT, 1);
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD);
  vwrite(VmcsField::VM_ENTRY_MSR_LOAD_ADDR, uint64_t(entry_load));
  vwrite(VmcsField::VM_EXIT_MSR_STORE_ADDR, uint64_t(exit_store));
  vwrite(VmcsField::VM_EXIT_MSR_STORE_COUNT, 1);
  vwrite(VmcsField::VM_EXIT_MSR_LOAD_ADDR, uint64_t(exit_load));
  vwrite(VmcsField::VM_EXIT_MSR_LOAD_COUNT, 1);

  regs.gpr[vmx::RCX] = LIST_MSR;
  CHECK_VMCALL_AT(run(), guest_rdmsr, 2);
  CHECK_EQ((regs.gpr[vmx::RDX] << 32) | uint32_t(regs.gpr[vmx::RAX]), GUEST_LOADED,
           "the guest's RDMSR of the MSR its entry loaded");
  CHECK_EQ(exit_store[0].value, GUEST_LOADED, "the MSR-store list after the exit");
  CHECK_EQ(rt::rdmsr(LIST_MSR), HOST_LOADED, "the host's MSR after the exit");

  restart_at(guest_wrmsr);
  regs.gpr[vmx::RCX] = LIST_MSR;
  regs.gpr[vmx::RAX] = GUEST_WRITTEN;
  regs.gpr[vmx::RDX] = 0;
  CHECK_VMCALL_AT(resume(), guest_wrmsr, 2);
  CHECK_EQ(exit_store[0].value, GUEST_WRITTEN, "the MSR-store list after the guest's WRMSR");
  CHECK_EQ(rt::rdmsr(LIST_MSR), HOST_LOADED, "the host's MSR after the guest's WRMSR");

  restart_at(guest_rdmsr);
  vwrite(VmcsField::VM_ENTRY_MSR_LOAD_COUNT, 2);
  const Exit e = resume();
  rt::wrmsr(LIST_MSR, 0);
  // The qualification numbers the failing entry from 1 (SDM 26.8).
  CHECK_ENTRY_FAILURE(e, ExitReason::MSR_LOAD_FAIL, 2, "an x2APIC MSR in the entry's MSR-load list");
}

void test_efer_pat_controls() {
  // "Load IA32_EFER/PAT" entry controls give the guest the VMCS's values;
  // "save" exit controls store the guest's; "load" exit controls restore
  // the host's (SDM 26.3.2.1, 27.3.1, 27.5.1).
  REQUIRE(setup_guest(addr(guest_rdmsr)));
  REQUIRE(set_entry(entry_ctl::LOAD_EFER | entry_ctl::LOAD_PAT));
  REQUIRE(set_exit(exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER | exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT));
  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);
  const uint64_t host_efer = rt::rdmsr(msr::IA32_EFER), host_pat = rt::rdmsr(msr::IA32_PAT);
  const uint64_t guest_efer = host_efer | arch::efer::SCE;
  constexpr uint64_t GUEST_PAT = 0x0606060606060606ull, GUEST_PAT_WRITTEN = 0x0404040404040404ull;
  vwrite(VmcsField::GUEST_IA32_EFER, guest_efer);
  vwrite(VmcsField::GUEST_IA32_PAT, GUEST_PAT);
  vwrite(VmcsField::HOST_IA32_EFER, host_efer);
  vwrite(VmcsField::HOST_IA32_PAT, host_pat);
  auto value = [] { return (regs.gpr[vmx::RDX] << 32) | uint32_t(regs.gpr[vmx::RAX]); };

  regs.gpr[vmx::RCX] = msr::IA32_EFER;
  CHECK_VMCALL_AT(run(), guest_rdmsr, 2);
  CHECK_EQ(value(), guest_efer, "the guest's IA32_EFER");
  CHECK_EQ(rt::rdmsr(msr::IA32_EFER), host_efer, "the host's IA32_EFER after the exit");

  restart_at(guest_rdmsr);
  regs.gpr[vmx::RCX] = msr::IA32_PAT;
  CHECK_VMCALL_AT(resume(), guest_rdmsr, 2);
  CHECK_EQ(value(), GUEST_PAT, "the guest's IA32_PAT");

  restart_at(guest_wrmsr);
  regs.gpr[vmx::RCX] = msr::IA32_EFER;
  regs.gpr[vmx::RAX] = uint32_t(host_efer);
  regs.gpr[vmx::RDX] = host_efer >> 32;
  CHECK_VMCALL_AT(resume(), guest_wrmsr, 2);
  CHECK_EQ(vread(VmcsField::GUEST_IA32_EFER), host_efer, "GUEST_IA32_EFER saved after the guest cleared SCE");

  restart_at(guest_wrmsr);
  regs.gpr[vmx::RCX] = msr::IA32_PAT;
  regs.gpr[vmx::RAX] = uint32_t(GUEST_PAT_WRITTEN);
  regs.gpr[vmx::RDX] = GUEST_PAT_WRITTEN >> 32;
  CHECK_VMCALL_AT(resume(), guest_wrmsr, 2);
  CHECK_EQ(vread(VmcsField::GUEST_IA32_PAT), GUEST_PAT_WRITTEN, "GUEST_IA32_PAT saved after the guest's WRMSR");
  CHECK_EQ(rt::rdmsr(msr::IA32_PAT), host_pat, "the host's IA32_PAT after the exit");
}

}  // namespace selftest
