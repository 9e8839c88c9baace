// Tests of APIC virtualization (SDM chapter 29 of the 2016-2022 editions,
// "APIC Virtualization and Virtual Interrupts"): the TPR shadow that MOV CR8
// reads and writes in VMX non-root operation, the TPR threshold and its VM
// exit, the APIC-access page with its exits and its virtualized VTPR,
// APIC-register and x2APIC virtualization, virtual-interrupt delivery
// (RVI/SVI, virtual EOI, self-IPIs), posted-interrupt processing, and the
// VM-entry checks of these controls (SDM 26.2.1.1).
#include "arch/x86/apic.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "runtime/apic.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;

namespace {

// VTPR: the 32 bits at offset 80H of the virtual-APIC page (SDM 29.1.1).
volatile uint32_t& vtpr() { return *reinterpret_cast<volatile uint32_t*>(pages.scratch[0] + arch::apic::TPR); }

// A guest at `rip` with "use TPR shadow", the virtual-APIC page in
// pages.scratch[0] holding `initial_vtpr`, and TPR threshold `threshold`.
// False (SKIP) where the platform does not offer the control.
bool setup_tpr_shadow(const char* rip, uint32_t initial_vtpr, uint32_t threshold) {
  if (!setup_guest(addr(rip))) return false;
  if (!set_proc(proc_ctl::USE_TPR_SHADOW)) return false;
  clear_page(pages.scratch[0]);
  vtpr() = initial_vtpr;
  vwrite(VmcsField::VIRTUAL_APIC_PAGE_ADDR, pages.scratch[0]);
  vwrite(VmcsField::TPR_THRESHOLD, threshold);
  return true;
}

uint32_t host_tpr() { return rt::apic::read(arch::apic::TPR); }

}  // namespace

void test_tpr_shadow() {
  // MOV to CR8 writes VTPR: bits 7:4 from the source's bits 3:0, the rest
  // cleared; MOV from CR8 reads VTPR[7:4] into bits 3:0, bits 63:4 cleared.
  // The APIC's own TPR is untouched (SDM 25.3, 29.3).
  const uint32_t tpr_before = host_tpr();
  REQUIRE(setup_tpr_shadow(guest_mov_to_cr8, 0xffffffff, 0));
  regs.gpr[vmx::RAX] = 0xfffffffffffffff5ull;  // bits 63:4 of the source are ignored
  CHECK_VMCALL_AT(run(), guest_mov_to_cr8, 4);
  CHECK_EQ(vtpr(), 0x50, "VTPR after MOV to CR8 of 5");
  CHECK_EQ(host_tpr(), tpr_before, "the APIC's TPR after the guest's MOV to CR8");

  vtpr() = 0x123456a7;
  restart_at(guest_mov_from_cr8);
  regs.gpr[vmx::RAX] = ~0ull;
  CHECK_VMCALL_AT(resume(), guest_mov_from_cr8, 4);
  CHECK_EQ(regs.gpr[vmx::RAX], 0xa, "MOV from CR8 with VTPR 0x123456a7");
  CHECK_EQ(vtpr(), 0x123456a7, "VTPR after MOV from CR8");

  // "CR8-store exiting" and "CR8-load exiting" win over the shadow: the
  // exits happen and VTPR is neither read nor written (SDM 25.1.3).
  vset_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::CR8_STORE_EXITING | proc_ctl::CR8_LOAD_EXITING);
  restart_at(guest_mov_from_cr8);
  CHECK_EXIT_AT(resume(), ExitReason::CR_ACCESS, guest_mov_from_cr8, 4);
  restart_at(guest_mov_to_cr8);
  regs.gpr[vmx::RAX] = 1;
  CHECK_EXIT_AT(resume(), ExitReason::CR_ACCESS, guest_mov_to_cr8, 4);
  CHECK_EQ(vtpr(), 0x123456a7, "VTPR after MOV to CR8 with CR8-load exiting");
}

void test_tpr_threshold() {
  // A MOV to CR8 that takes VTPR[7:4] below TPR threshold[3:0] completes,
  // then exits: "TPR below threshold", trap-like, RIP after the MOV, no
  // qualification (SDM 29.1.2, 27.2.1). Equal or above: no exit.
  REQUIRE(setup_tpr_shadow(guest_mov_to_cr8, 0x80, 5));
  regs.gpr[vmx::RAX] = 5;
  CHECK_VMCALL_AT(run(), guest_mov_to_cr8, 4);
  CHECK_EQ(vtpr(), 0x50, "VTPR after MOV to CR8 of 5 (threshold 5)");

  restart_at(guest_mov_to_cr8);
  regs.gpr[vmx::RAX] = 4;
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::TPR_BELOW_THRESHOLD, guest_mov_to_cr8 + 4, 0);
  CHECK_QUAL(e, 0);
  CHECK_EQ(vtpr(), 0x40, "VTPR after MOV to CR8 of 4 (threshold 5)");
  // The guest goes on after the MOV once the threshold is lowered.
  vwrite(VmcsField::TPR_THRESHOLD, 4);
  CHECK_VMCALL_AT(resume(), guest_mov_to_cr8, 4);

  // Raising VTPR never exits, whatever the threshold.
  restart_at(guest_mov_to_cr8);
  regs.gpr[vmx::RAX] = 0xf;
  CHECK_VMCALL_AT(resume(), guest_mov_to_cr8, 4);
  CHECK_EQ(vtpr(), 0xf0, "VTPR after MOV to CR8 of 15");
}

void test_entry_tpr_shadow() {
  // With "use TPR shadow" (SDM 26.2.1.1): a 4-KiB aligned virtual-APIC
  // address within the physical-address width; TPR threshold bits 31:4
  // zero (without virtual-interrupt delivery); TPR threshold[3:0] not above
  // VTPR[7:4] (without APIC-access virtualization). VMfailValid(7) each.
  REQUIRE(setup_tpr_shadow(guest_vmcall, 0x50, 5));
  struct Case {
    const char* what;
    VmcsField field;
    uint64_t value;
  } cases[] = {
      {"a virtual-APIC address with bits 11:0 set", VmcsField::VIRTUAL_APIC_PAGE_ADDR, pages.scratch[0] + 0x80},
      {"a virtual-APIC address beyond the physical-address width", VmcsField::VIRTUAL_APIC_PAGE_ADDR,
       pages.scratch[0] | (1ull << 52)},
      {"TPR threshold bit 4 set", VmcsField::TPR_THRESHOLD, 0x10},
      {"TPR threshold bit 31 set", VmcsField::TPR_THRESHOLD, 0x80000000},
      {"TPR threshold 6 above VTPR[7:4] = 5", VmcsField::TPR_THRESHOLD, 6},
  };
  for (const Case& c : cases) {
    const uint64_t good = vread(c.field);
    vwrite(c.field, c.value);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD, c.what);
    vwrite(c.field, good);
  }
  // VTPR is read from memory at each entry, whether or not a VMWRITE came
  // between: lowering it under the threshold fails VMLAUNCH, and VMRESUME
  // after an entry that passed.
  vtpr() = 0x40;
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "VTPR[7:4] = 4 below TPR threshold 5");
  vtpr() = 0x5f;  // VTPR[3:0] does not count
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  vtpr() = 0x40;
  restart_at(guest_vmcall);
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "VMRESUME with VTPR[7:4] = 4 below TPR threshold 5");
  // A control check: it comes before the guest-state checks (SDM 26.2).
  const uint64_t rflags = vread(VmcsField::GUEST_RFLAGS);
  vwrite(VmcsField::GUEST_RFLAGS, 0);  // bit 1 must be 1 (SDM 26.3.1.4)
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "VMRESUME with VTPR below the threshold and an invalid RFLAGS");
  vwrite(VmcsField::GUEST_RFLAGS, rflags);
  vtpr() = 0x50;
  CHECK_VMCALL_AT(resume(), guest_vmcall, 0);
}

namespace {

namespace q = qual_apic_access;
uint64_t apic_access_qual(unsigned offset, uint64_t type) { return q::OFFSET.make(offset) | q::ACCESS_TYPE.make(type); }

// "Virtualize APIC accesses" with the APIC-access page at pages.scratch[2]
// (which the guest reaches through the identity map), filled with 0xAA.
bool set_apic_access_page() {
  if (!allowed1(caps.procbased2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES))
    return skip("the APIC-access page is not offered"), false;
  if (!set_proc2(proc_ctl2::VIRTUALIZE_APIC_ACCESSES)) return false;
  memset(reinterpret_cast<void*>(pages.scratch[2]), 0xaa, PAGE);
  vwrite(VmcsField::APIC_ACCESS_ADDR, pages.scratch[2]);
  return true;
}
uint64_t apic_page(unsigned offset) { return pages.scratch[2] + offset; }

}  // namespace

void test_apic_access() {
  // Without the TPR shadow every linear access to the APIC-access page is
  // an APIC-access VM exit, fault-like (RIP of the access, nothing
  // written), with the page offset and the access type in the
  // qualification (SDM 29.4, 27.2.1 table 27-6). The address must be 4-KiB
  // aligned (SDM 26.2.1.1).
  REQUIRE(setup_guest(addr(guest_read)));
  REQUIRE(set_apic_access_page());
  vwrite(VmcsField::APIC_ACCESS_ADDR, apic_page(0x80));
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "an APIC-access address with bits 11:0 set");
  vwrite(VmcsField::APIC_ACCESS_ADDR, apic_page(0));
  regs.gpr[vmx::RDI] = apic_page(0x30);
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_read, 0);
  CHECK_QUAL(e, apic_access_qual(0x30, q::LINEAR_READ));

  restart_at(guest_write);
  regs.gpr[vmx::RDI] = apic_page(0x300);
  regs.gpr[vmx::RAX] = 0;
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_write, 0);
  CHECK_QUAL(e, apic_access_qual(0x300, q::LINEAR_WRITE));
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(apic_page(0x300)), 0xaaaaaaaaaaaaaaaaull,
           "the APIC-access page after the refused write");

  restart_at(guest_read32);
  regs.gpr[vmx::RDI] = apic_page(0x80);  // VTPR without a TPR shadow: an exit like any other
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_read32, 0);
  CHECK_QUAL(e, apic_access_qual(0x80, q::LINEAR_READ));

  restart_at(guest_jmp);
  regs.gpr[vmx::RDI] = apic_page(0x10);
  e = resume();
  CHECK_EXIT(e, ExitReason::APIC_ACCESS);
  CHECK_EQ(e.rip, apic_page(0x10), "guest RIP of the fetch's APIC-access exit");
  CHECK_QUAL(e, apic_access_qual(0x10, q::LINEAR_FETCH));
}

void test_apic_access_vtpr() {
  // With the TPR shadow, a read or write of at most 32 bits at offset 80H
  // of the APIC-access page goes to VTPR on the virtual-APIC page (SDM
  // 29.4.2, 29.4.3.1); a write is followed by APIC-write emulation, which
  // clears VTPR bytes 3:1, and TPR virtualization (29.4.3.2, 29.1.2).
  // Offset 81H or 8 bytes at 80H are APIC-access exits. A TPR threshold
  // above VTPR at entry is no entry failure here: a VM exit follows the
  // entry (SDM 26.2.1.1, 26.6.7).
  REQUIRE(setup_tpr_shadow(guest_read32, 0x12345670, 0));
  REQUIRE(set_apic_access_page());
  regs.gpr[vmx::RDI] = apic_page(0x80);
  CHECK_VMCALL_AT(run(), guest_read32, 2);
  CHECK_EQ(regs.gpr[vmx::RAX], 0x12345670, "a 32-bit read of offset 80H: VTPR");

  restart_at(guest_read32);
  regs.gpr[vmx::RDI] = apic_page(0x81);
  Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_read32, 0);
  CHECK_QUAL(e, apic_access_qual(0x81, q::LINEAR_READ));
  restart_at(guest_read);
  regs.gpr[vmx::RDI] = apic_page(0x80);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_read, 0);
  CHECK_QUAL(e, apic_access_qual(0x80, q::LINEAR_READ));

  vwrite(VmcsField::TPR_THRESHOLD, 2);
  restart_at(guest_write32);
  regs.gpr[vmx::RDI] = apic_page(0x80);
  regs.gpr[vmx::RAX] = 0xabcdef30;
  CHECK_VMCALL_AT(resume(), guest_write32, 2);
  CHECK_EQ(vtpr(), 0x30, "VTPR after writing 0xabcdef30 to offset 80H (bytes 3:1 cleared)");
  CHECK_EQ(*reinterpret_cast<volatile uint32_t*>(apic_page(0x80)), 0xaaaaaaaa, "the APIC-access page at 80H");

  restart_at(guest_write32);
  regs.gpr[vmx::RAX] = 0x10;
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::TPR_BELOW_THRESHOLD, guest_write32 + 2, 0);
  CHECK_EQ(vtpr(), 0x10, "VTPR after writing 0x10 to offset 80H");

  // VTPR[7:4] = 1, threshold 5: the entry succeeds and exits at once.
  vwrite(VmcsField::TPR_THRESHOLD, 5);
  restart_at(guest_vmcall);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::TPR_BELOW_THRESHOLD, guest_vmcall, 0);
}

void test_x2apic_virtualization() {
  // "Virtualize x2APIC mode" without APIC-register virtualization (SDM
  // 29.5): RDMSR/WRMSR of 808H (the x2APIC TPR) that the MSR bitmap lets
  // through read and write bytes 87H:80H of the virtual-APIC page, x2APIC
  // mode or not; a WRMSR with bits 63:8 set is #GP; a write is followed by
  // TPR virtualization. The bitmap still decides which ones exit. It needs
  // "use TPR shadow" and excludes "virtualize APIC accesses" (26.2.1.1).
  REQUIRE(setup_tpr_shadow(guest_rdmsr, 0x50, 0));
  if (!allowed1(caps.procbased2, proc_ctl2::VIRTUALIZE_X2APIC_MODE))
    return skip("x2APIC virtualization is not offered");
  REQUIRE(set_proc2(proc_ctl2::VIRTUALIZE_X2APIC_MODE));
  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);
  auto* vapic = reinterpret_cast<volatile uint32_t*>(pages.scratch[0] + arch::apic::TPR);
  vapic[1] = 0x11223344;  // bytes 87H:84H
  regs.gpr[vmx::RCX] = arch::msr::IA32_X2APIC_TPR;
  CHECK_VMCALL_AT(run(), guest_rdmsr, 2);
  CHECK_EQ(regs.gpr[vmx::RAX], 0x50, "EAX of RDMSR 808H: bytes 83H:80H");
  CHECK_EQ(regs.gpr[vmx::RDX], 0x11223344, "EDX of RDMSR 808H: bytes 87H:84H");

  restart_at(guest_wrmsr);
  regs.gpr[vmx::RAX] = 0x30;
  regs.gpr[vmx::RDX] = 0;
  CHECK_VMCALL_AT(resume(), guest_wrmsr, 2);
  CHECK_EQ(vapic[0], 0x30, "VTPR after WRMSR 808H of 0x30");
  CHECK_EQ(vapic[1], 0, "bytes 87H:84H after WRMSR 808H");

  struct Bad {
    uint64_t eax, edx;
  } bad[] = {{0x130, 0}, {0x30, 1}};
  for (const Bad& b : bad) {
    restart_at(guest_wrmsr);
    regs.gpr[vmx::RCX] = arch::msr::IA32_X2APIC_TPR;  // the guest's #GP stub clobbers RCX
    regs.gpr[vmx::RAX] = b.eax;
    regs.gpr[vmx::RDX] = b.edx;
    CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::GP));
    CHECK_EQ(vapic[0], 0x30, "VTPR after a WRMSR 808H that faulted");
  }

  vwrite(VmcsField::TPR_THRESHOLD, 3);  // VTPR[7:4] is 3: the entry passes
  restart_at(guest_wrmsr);
  regs.gpr[vmx::RCX] = arch::msr::IA32_X2APIC_TPR;
  regs.gpr[vmx::RAX] = 0x20;
  regs.gpr[vmx::RDX] = 0;
  CHECK_EXIT_AT(resume(), ExitReason::TPR_BELOW_THRESHOLD, guest_wrmsr + 2, 0);
  CHECK_EQ(vapic[0], 0x20, "VTPR after WRMSR 808H of 0x20");

  // The MSR bitmap first: a read of 808H it intercepts exits.
  reinterpret_cast<volatile uint8_t*>(pages.msr_bitmap)[arch::msr::IA32_X2APIC_TPR / 8] = 1u << (arch::msr::IA32_X2APIC_TPR % 8);
  vwrite(VmcsField::TPR_THRESHOLD, 0);
  restart_at(guest_rdmsr);
  CHECK_EXIT_AT(resume(), ExitReason::MSR_READ, guest_rdmsr, 2);

  const uint32_t proc = uint32_t(vread(VmcsField::CPU_BASED_VM_EXEC_CONTROL));
  vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc & ~proc_ctl::USE_TPR_SHADOW);
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "virtualize x2APIC mode without use TPR shadow");
  vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc);
  if (allowed1(caps.procbased2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES)) {
    vset_bits(VmcsField::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VIRTUALIZE_APIC_ACCESSES);
    vwrite(VmcsField::APIC_ACCESS_ADDR, pages.scratch[2]);
    CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                     "virtualize x2APIC mode and virtualize APIC accesses");
  }
}

void test_apic_register_virtualization() {
  // With APIC-register virtualization (and no virtual-interrupt delivery):
  // reads entirely within the first 4 bytes of ID, version, TPR, EOI, LDR,
  // DFR, SVR, ISR/TMR/IRR, ESR, ICR, the LVTs, initial count or divide
  // configuration come from the virtual-APIC page (SDM 29.4.2); writes to
  // TPR, EOI, LDR, DFR, SVR, ESR, ICR, the LVTs, initial count and divide
  // configuration go there (29.4.3.1) and are followed by APIC-write
  // emulation: an APIC-write VM exit, trap-like, with the offset (29.4.3.3)
  // — except TPR (TPR virtualization) and ICR high (bytes 2:0 cleared,
  // nothing else, 29.4.3.2). Anything else is an APIC-access VM exit. With
  // "virtualize x2APIC mode" too, RDMSR of 800H-8FFH reads 8 bytes at
  // (ECX & FFH) << 4 (29.5).
  REQUIRE(setup_tpr_shadow(guest_read32, 0x50, 0));
  if (!allowed1(caps.procbased2, proc_ctl2::APIC_REGISTER_VIRTUALIZATION))
    return skip("APIC-register virtualization is not offered");
  REQUIRE(set_apic_access_page());
  REQUIRE(set_proc2(proc_ctl2::APIC_REGISTER_VIRTUALIZATION));
  auto vapic = [](unsigned offset) -> volatile uint32_t& {
    return *reinterpret_cast<volatile uint32_t*>(pages.scratch[0] + offset);
  };
  vapic(0x20) = 0x01000000;
  vapic(0x320) = 0x10030;
  vapic(0x324) = 0x5a5a5a5a;
  vapic(0x390) = 0x1234;
  regs.gpr[vmx::RDI] = apic_page(0x20);
  CHECK_VMCALL_AT(run(), guest_read32, 2);
  CHECK_EQ(regs.gpr[vmx::RAX], 0x01000000, "a read of the APIC ID: the virtual-APIC page's");
  restart_at(guest_read32);
  regs.gpr[vmx::RDI] = apic_page(0x320);
  CHECK_VMCALL_AT(resume(), guest_read32, 2);
  CHECK_EQ(regs.gpr[vmx::RAX], 0x10030, "a read of the LVT timer register");

  struct Refused {
    const char* snippet;
    unsigned offset;
    uint64_t type;
  } refused[] = {
      {guest_read32, 0x390, q::LINEAR_READ},    // current count: not virtualized
      {guest_read32, 0x322, q::LINEAR_READ},    // past the register's first 4 bytes
      {guest_write32, 0x390, q::LINEAR_WRITE},  // current count is read-only
      {guest_write32, 0x20, q::LINEAR_WRITE},   // the ID is not written
  };
  for (const Refused& r : refused) {
    restart_at(r.snippet);
    regs.gpr[vmx::RDI] = apic_page(r.offset);
    const Exit e = resume();
    CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, r.snippet, 0);
    CHECK_QUAL(e, apic_access_qual(r.offset, r.type));
  }

  restart_at(guest_write32);
  regs.gpr[vmx::RDI] = apic_page(0x320);
  regs.gpr[vmx::RAX] = 0x10040;
  Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_WRITE, guest_write32 + 2, 0);
  CHECK_QUAL(e, 0x320);
  CHECK_EQ(vapic(0x320), 0x10040, "the LVT timer register on the virtual-APIC page after the write");
  CHECK_EQ(*reinterpret_cast<volatile uint32_t*>(apic_page(0x320)), 0xaaaaaaaa, "the APIC-access page");

  restart_at(guest_write32);
  regs.gpr[vmx::RDI] = apic_page(0x310);
  regs.gpr[vmx::RAX] = 0xffffffff;
  CHECK_VMCALL_AT(resume(), guest_write32, 2);
  CHECK_EQ(vapic(0x310), 0xff000000, "ICR high after writing all-ones (bytes 2:0 cleared)");

  // x2APIC: with both controls, RDMSR 832H (the LVT timer) reads 8 bytes at 320H.
  const uint32_t proc2 = uint32_t(vread(VmcsField::SECONDARY_VM_EXEC_CONTROL));
  vwrite(VmcsField::SECONDARY_VM_EXEC_CONTROL,
         (proc2 & ~proc_ctl2::VIRTUALIZE_APIC_ACCESSES) | proc_ctl2::VIRTUALIZE_X2APIC_MODE);
  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);
  restart_at(guest_rdmsr);
  regs.gpr[vmx::RCX] = arch::msr::X2APIC_FIRST + (0x320 >> 4);
  CHECK_VMCALL_AT(resume(), guest_rdmsr, 2);
  CHECK_EQ(regs.gpr[vmx::RAX], 0x10040, "EAX of RDMSR 832H");
  CHECK_EQ(regs.gpr[vmx::RDX], 0x5a5a5a5a, "EDX of RDMSR 832H: bytes 327H:324H");

  const uint32_t proc = uint32_t(vread(VmcsField::CPU_BASED_VM_EXEC_CONTROL));
  vwrite(VmcsField::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::APIC_REGISTER_VIRTUALIZATION);
  vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc & ~proc_ctl::USE_TPR_SHADOW);
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "APIC-register virtualization without use TPR shadow");
}

}  // namespace selftest

namespace selftest {

namespace {

volatile uint32_t& vapic_reg(unsigned offset) { return *reinterpret_cast<volatile uint32_t*>(pages.scratch[0] + offset); }
// VISR / VIRR bit of a vector on the virtual-APIC page (SDM 29.1.1).
bool vapic_bit(uint32_t base, uint8_t vector) {
  return vapic_reg(arch::apic::vector_word(base, vector)) & arch::apic::vector_bit(vector);
}
void set_vapic_bit(uint32_t base, uint8_t vector) {
  vapic_reg(arch::apic::vector_word(base, vector)) |= arch::apic::vector_bit(vector);
}
uint16_t intr_status(uint8_t rvi, uint8_t svi) {
  return uint16_t(guest_intr_status::RVI.make(rvi) | guest_intr_status::SVI.make(svi));
}
// The interrupted RIP in the frame the guest's IDT stub was given (RCX).
uint64_t frame_rip() { return *reinterpret_cast<volatile uint64_t*>(regs.gpr[vmx::RCX]); }

// A guest at `rip` with "use TPR shadow" (VTPR = `vtpr`, threshold 0),
// "virtual-interrupt delivery" and the "external-interrupt exiting" it
// needs, guest interrupt status `status`, EOI-exit bitmap clear, RFLAGS.IF
// = `interrupts`. False (SKIP) where the platform does not offer it.
// The same on the VMCS set up already, the guest restarted at `rip`.
void reset_vid(const char* rip, uint32_t vtpr_value, uint16_t status, bool interrupts) {
  restart_at(rip);
  clear_page(pages.scratch[0]);
  vtpr() = vtpr_value;
  vwrite(VmcsField::EOI_EXIT_BITMAP0, 0);
  vwrite(VmcsField::EOI_EXIT_BITMAP1, 0);
  vwrite(VmcsField::EOI_EXIT_BITMAP2, 0);
  vwrite(VmcsField::EOI_EXIT_BITMAP3, 0);
  vwrite(VmcsField::GUEST_INTR_STATUS, status);
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1 | (interrupts ? arch::rflags::IF : 0));
}
bool setup_vid(const char* rip, uint32_t vtpr_value, uint16_t status, bool interrupts) {
  if (!setup_tpr_shadow(rip, vtpr_value, 0)) return false;
  if (!allowed1(caps.procbased2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY))
    return skip("virtual-interrupt delivery is not offered"), false;
  if (!set_pin(pin_ctl::EXTERNAL_INTERRUPT_EXITING) || !set_proc2(proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY)) return false;
  reset_vid(rip, vtpr_value, status, interrupts);
  return true;
}

}  // namespace

void test_virtual_interrupt_delivery() {
  // VM entry loads RVI/SVI, virtualizes PPR and evaluates: RVI[7:4] above
  // VPPR[7:4] is a pending virtual interrupt, delivered through the guest's
  // IDT before the first instruction when RFLAGS.IF = 1 and nothing blocks
  // it: VISR[v] and SVI set, VPPR = v & F0H, VIRR[v] cleared, RVI the next
  // requested vector (SDM 26.3.2.5, 29.1.3, 29.2). A VM exit saves RVI/SVI.
  REQUIRE(setup_vid(guest_nops, 0, intr_status(0x51, 0), true));
  set_vapic_bit(arch::apic::IRR0, 0x51);
  set_vapic_bit(arch::apic::IRR0, 0x32);
  Exit e = run();
  CHECK_GUEST_VECTOR(e, 0x51);
  CHECK_EQ(frame_rip(), addr(guest_nops), "RIP the virtual interrupt interrupted");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x32, 0x51), "guest interrupt status after delivery");
  CHECK(vapic_bit(arch::apic::ISR0, 0x51), "VISR[51H] after delivery");
  CHECK(!vapic_bit(arch::apic::IRR0, 0x51), "VIRR[51H] after delivery");
  CHECK(vapic_bit(arch::apic::IRR0, 0x32), "VIRR[32H] after delivery");
  CHECK_EQ(vapic_reg(arch::apic::PPR), 0x50, "VPPR after delivery");

  // 32H is below VPPR 50H: not recognized, the guest runs.
  restart_at(guest_nops);
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1 | arch::rflags::IF);
  CHECK_VMCALL_AT(resume(), guest_nops, 3);

  // VTPR above RVI: entry's PPR virtualization makes VPPR = VTPR, nothing
  // is delivered; a MOV to CR8 that lowers VTPR is TPR virtualization,
  // which evaluates again: delivered right after the MOV (29.1.2).
  reset_vid(guest_mov_to_cr8, 0x60, intr_status(0x51, 0), true);
  set_vapic_bit(arch::apic::IRR0, 0x51);
  vwrite(VmcsField::TPR_THRESHOLD, 0x10);  // bits 31:4 are not checked with virtual-interrupt delivery
  regs.gpr[vmx::RAX] = 6;
  CHECK_VMCALL_AT(resume(), guest_mov_to_cr8, 4);
  CHECK_EQ(vapic_reg(arch::apic::PPR), 0x60, "VPPR after entry with VTPR 60H");
  restart_at(guest_mov_to_cr8);
  regs.gpr[vmx::RAX] = 4;
  e = resume();
  CHECK_GUEST_VECTOR(e, 0x51);
  CHECK_EQ(frame_rip(), addr(guest_mov_to_cr8) + 4, "RIP after the MOV to CR8 that let the interrupt through");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0, 0x51), "guest interrupt status");

  // RFLAGS.IF = 0: recognized, not delivered; the guest runs and the
  // interrupt stays requested.
  reset_vid(guest_nops, 0, intr_status(0x51, 0), false);
  set_vapic_bit(arch::apic::IRR0, 0x51);
  CHECK_VMCALL_AT(resume(), guest_nops, 3);
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x51, 0), "guest interrupt status with RFLAGS.IF = 0");
  // STI: delivered after the instruction in STI's shadow.
  restart_at(guest_sti);
  e = resume();
  CHECK_GUEST_VECTOR(e, 0x51);
  CHECK_EQ(frame_rip(), addr(guest_sti_window), "RIP of the delivery after STI");

  // "Interrupt-window exiting": no virtual interrupt is recognized, the
  // interrupt-window exit happens instead (29.2.1).
  reset_vid(guest_nops, 0, intr_status(0x51, 0), true);
  set_vapic_bit(arch::apic::IRR0, 0x51);
  REQUIRE(set_proc(proc_ctl::INTERRUPT_WINDOW_EXITING));
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::INTERRUPT_WINDOW, guest_nops, 0);
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x51, 0), "guest interrupt status at the window exit");

  // A virtual interrupt wakes the HLT activity state as an external
  // interrupt would (29.2.2): entered in HLT, delivered at once.
  if (!vmx_misc::ACTIVITY_HLT.test(caps.misc)) return;
  vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::INTERRUPT_WINDOW_EXITING);
  reset_vid(guest_vmcall, 0, intr_status(0x51, 0), true);
  set_vapic_bit(arch::apic::IRR0, 0x51);
  vwrite(VmcsField::GUEST_ACTIVITY_STATE, activity_state::HLT);
  e = resume();
  CHECK_GUEST_VECTOR(e, 0x51);
  CHECK_EQ(frame_rip(), addr(guest_vmcall), "RIP of the delivery that woke HLT");
  CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::ACTIVE, "guest activity state after the delivery");
}

void test_virtual_eoi() {
  // A write to VEOI (B0H of the APIC-access page) with virtual-interrupt
  // delivery is EOI virtualization: VISR[SVI] cleared, SVI the next vector
  // in service, PPR virtualization; then the EOI-induced VM exit (45,
  // trap-like, the vector as qualification) if the EOI-exit bitmap has the
  // vector, else evaluation (SDM 29.1.4, 29.4.3.2, 27.2.1).
  REQUIRE(setup_vid(guest_write32, 0, intr_status(0, 0x51), true));
  REQUIRE(set_apic_access_page());
  set_vapic_bit(arch::apic::ISR0, 0x51);
  set_vapic_bit(arch::apic::ISR0, 0x32);
  regs.gpr[vmx::RDI] = apic_page(arch::apic::EOI);
  regs.gpr[vmx::RAX] = 0;
  CHECK_VMCALL_AT(run(), guest_write32, 2);
  CHECK(!vapic_bit(arch::apic::ISR0, 0x51), "VISR[51H] after the EOI");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0, 0x32), "guest interrupt status after the EOI");
  CHECK_EQ(vapic_reg(arch::apic::PPR), 0x30, "VPPR after the EOI");

  vwrite(VmcsField::EOI_EXIT_BITMAP0, 1ull << 0x32);
  restart_at(guest_write32);
  Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::VIRTUALIZED_EOI, guest_write32 + 2, 0);
  CHECK_QUAL(e, 0x32);
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0, 0), "guest interrupt status after the exiting EOI");
  CHECK_EQ(vapic_reg(arch::apic::PPR), 0, "VPPR after the exiting EOI");

  // An EOI that lowers VPPR below RVI delivers the requested interrupt.
  vwrite(VmcsField::EOI_EXIT_BITMAP0, 0);
  set_vapic_bit(arch::apic::ISR0, 0x51);
  set_vapic_bit(arch::apic::IRR0, 0x41);
  vwrite(VmcsField::GUEST_INTR_STATUS, intr_status(0x41, 0x51));
  restart_at(guest_write32);
  e = resume();
  CHECK_GUEST_VECTOR(e, 0x41);
  CHECK_EQ(frame_rip(), addr(guest_write32) + 2, "RIP of the delivery after the EOI");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0, 0x41), "guest interrupt status");

  // Without virtual-interrupt delivery a write to B0H is an APIC-access exit.
  vclear_bits(VmcsField::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
  restart_at(guest_write32);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::APIC_ACCESS, guest_write32, 0);
  CHECK_QUAL(e, apic_access_qual(arch::apic::EOI, q::LINEAR_WRITE));
}

void test_self_ipi_virtualization() {
  // A write to VICR_LO (300H) of a fixed, edge, self-shorthand IPI with a
  // vector of 10H or more is self-IPI virtualization: VIRR[v] set, RVI =
  // max(RVI, v), evaluation (SDM 29.1.5, 29.4.3.2); any other ICR value is
  // an APIC-write exit. In x2APIC mode WRMSR 83FH does the same, and WRMSR
  // 80BH of 0 is EOI virtualization (29.5); other values are #GP.
  REQUIRE(setup_vid(guest_write32, 0, intr_status(0, 0), false));
  REQUIRE(set_apic_access_page());
  const uint32_t self = arch::apic::SHORTHAND_SELF << arch::apic::ICR_SHORTHAND_SHIFT;
  regs.gpr[vmx::RDI] = apic_page(arch::apic::ICR_LOW);
  regs.gpr[vmx::RAX] = self | 0x61;
  CHECK_VMCALL_AT(run(), guest_write32, 2);
  CHECK(vapic_bit(arch::apic::IRR0, 0x61), "VIRR[61H] after the self-IPI");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x61, 0), "guest interrupt status after the self-IPI");
  CHECK_EQ(vapic_reg(arch::apic::ICR_LOW), self | 0x61, "VICR_LO");

  const uint32_t not_virtualized[] = {0x61, self | 0x0f, self | (1u << 15) | 0x61,
                                      self | (arch::apic::DELIVERY_NMI << arch::apic::ICR_DELIVERY_MODE_SHIFT) | 0x61};
  for (uint32_t icr : not_virtualized) {
    restart_at(guest_write32);
    regs.gpr[vmx::RDI] = apic_page(arch::apic::ICR_LOW);
    regs.gpr[vmx::RAX] = icr;
    const Exit e = resume();
    CHECK_EXIT_AT(e, ExitReason::APIC_WRITE, guest_write32 + 2, 0);
    CHECK_QUAL(e, arch::apic::ICR_LOW);
  }

  // RFLAGS.IF = 1, VTPR 70H (61H stays pending): a self-IPI of 82H is
  // delivered right after the write.
  vtpr() = 0x70;
  restart_at(guest_write32);
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1 | arch::rflags::IF);
  regs.gpr[vmx::RDI] = apic_page(arch::apic::ICR_LOW);
  regs.gpr[vmx::RAX] = self | 0x82;
  Exit e = resume();
  CHECK_GUEST_VECTOR(e, 0x82);
  CHECK_EQ(frame_rip(), addr(guest_write32) + 2, "RIP of the self-IPI's delivery");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x61, 0x82), "guest interrupt status");

  // x2APIC.
  if (!allowed1(caps.procbased2, proc_ctl2::VIRTUALIZE_X2APIC_MODE)) return;
  vwrite(VmcsField::SECONDARY_VM_EXEC_CONTROL,
         proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY | proc_ctl2::VIRTUALIZE_X2APIC_MODE);
  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);
  vwrite(VmcsField::EOI_EXIT_BITMAP2, 1ull << (0x82 - 128));
  restart_at(guest_wrmsr);
  regs.gpr[vmx::RCX] = arch::msr::IA32_X2APIC_EOI;
  regs.gpr[vmx::RAX] = 0;
  regs.gpr[vmx::RDX] = 0;
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::VIRTUALIZED_EOI, guest_wrmsr + 2, 0);
  CHECK_QUAL(e, 0x82);
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x61, 0), "guest interrupt status after WRMSR 80BH");

  CHECK_EQ(vapic_reg(arch::apic::PPR), 0x70, "VPPR after WRMSR 80BH");
  restart_at(guest_wrmsr);
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1 | arch::rflags::IF);
  regs.gpr[vmx::RCX] = arch::msr::IA32_X2APIC_SELF_IPI;
  regs.gpr[vmx::RAX] = 0x83;
  e = resume();
  CHECK_GUEST_VECTOR(e, 0x83);
  CHECK_EQ(frame_rip(), addr(guest_wrmsr) + 2, "RIP of the delivery after WRMSR 83FH");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x61, 0x83), "guest interrupt status after WRMSR 83FH");

  struct Bad {
    uint32_t msr;
    uint64_t eax, edx;
  } bad[] = {{arch::msr::IA32_X2APIC_EOI, 1, 0}, {arch::msr::IA32_X2APIC_SELF_IPI, 0x183, 0},
             {arch::msr::IA32_X2APIC_SELF_IPI, 0x83, 1}};
  for (const Bad& b : bad) {
    restart_at(guest_wrmsr);
    regs.gpr[vmx::RCX] = b.msr;
    regs.gpr[vmx::RAX] = b.eax;
    regs.gpr[vmx::RDX] = b.edx;
    CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::GP));
  }
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x61, 0x83), "guest interrupt status after the #GPs");
}

void test_entry_virtual_interrupt_delivery() {
  // "Virtual-interrupt delivery" needs "use TPR shadow" and "external-
  // interrupt exiting" (SDM 26.2.1.1): VMfailValid(7) without either. It
  // lifts the TPR-threshold checks (bits 31:4, and threshold above VTPR).
  REQUIRE(setup_vid(guest_vmcall, 0x20, intr_status(0, 0), false));
  vwrite(VmcsField::TPR_THRESHOLD, 0xff);
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);

  const uint32_t pin = uint32_t(vread(VmcsField::PIN_BASED_VM_EXEC_CONTROL));
  vwrite(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin & ~pin_ctl::EXTERNAL_INTERRUPT_EXITING);
  restart_at(guest_vmcall);
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "virtual-interrupt delivery without external-interrupt exiting");
  vwrite(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin);

  const uint32_t proc = uint32_t(vread(VmcsField::CPU_BASED_VM_EXEC_CONTROL));
  vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc & ~proc_ctl::USE_TPR_SHADOW);
  CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD,
                   "virtual-interrupt delivery without use TPR shadow");
  vwrite(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc);
  CHECK_VMCALL_AT(resume(), guest_vmcall, 0);
}

}  // namespace selftest

namespace selftest {

namespace {

namespace pid = posted_interrupt_desc;
constexpr uint8_t NOTIFICATION_VECTOR = SELF_IPI_VECTOR;

// The posted-interrupt descriptor, in pages.scratch[1].
volatile uint32_t* pir() { return reinterpret_cast<volatile uint32_t*>(pages.scratch[1]); }
volatile uint8_t& on_byte() { return *reinterpret_cast<volatile uint8_t*>(pages.scratch[1] + pid::ON_BYTE); }
void post(uint8_t vector) { pir()[vector / 32] |= 1u << (vector % 32); }
bool pir_empty() {
  for (unsigned w = 0; w < pid::PIR_WORDS; ++w)
    if (pir()[w]) return false;
  return true;
}
// A fixed self-IPI from the host's local APIC; the host runs with IF = 0,
// so it stays requested until the guest runs.
void host_self_ipi(uint8_t vector) {
  rt::apic::write(arch::apic::ICR_LOW, (arch::apic::SHORTHAND_SELF << arch::apic::ICR_SHORTHAND_SHIFT) | vector);
}

// setup_vid plus "process posted interrupts" with the "acknowledge
// interrupt on exit" it needs, NOTIFICATION_VECTOR, and an empty
// descriptor. False (SKIP) where the platform does not offer it.
bool setup_posted_interrupts(const char* rip, bool interrupts) {
  if (!setup_vid(rip, 0, intr_status(0, 0), interrupts)) return false;
  if (!allowed1(caps.pinbased, pin_ctl::POSTED_INTERRUPTS)) return skip("posted interrupts are not offered"), false;
  if (!set_pin(pin_ctl::POSTED_INTERRUPTS) || !set_exit(exit_ctl::ACK_INTERRUPT_ON_EXIT)) return false;
  clear_page(pages.scratch[1]);
  vwrite(VmcsField::POSTED_INTR_NV, NOTIFICATION_VECTOR);
  vwrite(VmcsField::POSTED_INTR_DESC_ADDR, pages.scratch[1]);
  return true;
}

}  // namespace

void test_posted_interrupts() {
  // The notification vector, sent by the host to itself before VM entry,
  // reaches the CPU in VMX non-root operation: no VM exit but posted-
  // interrupt processing — the APIC acknowledged and EOIed, ON cleared, PIR
  // ORed into VIRR and cleared, RVI raised to the highest posted vector,
  // evaluation — and the virtual interrupt is delivered before the guest's
  // first instruction (SDM 29.6, 29.2). Any other vector exits.
  REQUIRE(setup_posted_interrupts(guest_nops, true));
  post(0x61);
  post(0x45);
  on_byte() = pid::ON;
  host_self_ipi(NOTIFICATION_VECTOR);
  Exit e = run();
  CHECK_GUEST_VECTOR(e, 0x61);
  CHECK_EQ(frame_rip(), addr(guest_nops), "RIP the posted interrupt interrupted");
  CHECK(pir_empty(), "PIR after posted-interrupt processing");
  CHECK_EQ(on_byte() & pid::ON, 0, "ON after posted-interrupt processing");
  CHECK(vapic_bit(arch::apic::IRR0, 0x45), "VIRR[45H] after processing");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x45, 0x61), "guest interrupt status");
  CHECK(!apic_irr_bit(NOTIFICATION_VECTOR) && !apic_isr_bit(NOTIFICATION_VECTOR),
        "the notification vector left in the host's APIC");

  // RFLAGS.IF = 0: processed all the same, the interrupt stays requested.
  reset_vid(guest_nops, 0, intr_status(0, 0), false);
  post(0x71);
  host_self_ipi(NOTIFICATION_VECTOR);
  CHECK_VMCALL_AT(resume(), guest_nops, 3);
  CHECK(pir_empty(), "PIR after processing with RFLAGS.IF = 0");
  CHECK(vapic_bit(arch::apic::IRR0, 0x71), "VIRR[71H] after processing with RFLAGS.IF = 0");
  CHECK_EQ(vread(VmcsField::GUEST_INTR_STATUS), intr_status(0x71, 0), "guest interrupt status with RFLAGS.IF = 0");

  // Another vector: an external-interrupt exit, acknowledged; PIR untouched.
  reset_vid(guest_nops, 0, intr_status(0, 0), true);
  post(0x52);
  host_self_ipi(NOTIFICATION_VECTOR + 1);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::EXTERNAL_INTERRUPT, guest_nops, 0);
  CHECK_EQ(e.intr_info, make_intr_info(NOTIFICATION_VECTOR + 1, intr_info::TYPE_EXTERNAL_INTERRUPT, false),
           "VM-exit interruption information");
  CHECK(apic_isr_bit(NOTIFICATION_VECTOR + 1), "the other vector in service after the acknowledging exit");
  rt::apic::eoi();
  CHECK(!pir_empty(), "PIR after the other vector's exit");
}

void test_entry_posted_interrupts() {
  // "Process posted interrupts" needs virtual-interrupt delivery and
  // "acknowledge interrupt on exit", a notification vector below 256 and
  // a 64-byte aligned descriptor within the physical-address width (SDM
  // 26.2.1.1): VMfailValid(7) otherwise.
  REQUIRE(setup_posted_interrupts(guest_vmcall, false));
  CHECK_VMCALL_AT(run(), guest_vmcall, 0);
  struct Case {
    const char* what;
    VmcsField field;
    uint64_t value;
  } cases[] = {
      {"a notification vector of 100H", VmcsField::POSTED_INTR_NV, 0x100},
      {"a descriptor address with bit 5 set", VmcsField::POSTED_INTR_DESC_ADDR, pages.scratch[1] + 0x20},
      {"a descriptor address beyond the physical-address width", VmcsField::POSTED_INTR_DESC_ADDR,
       pages.scratch[1] | (1ull << 52)},
      {"without virtual-interrupt delivery", VmcsField::SECONDARY_VM_EXEC_CONTROL,
       vread(VmcsField::SECONDARY_VM_EXEC_CONTROL) & ~proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY},
      {"without acknowledge interrupt on exit", VmcsField::VM_EXIT_CONTROLS,
       vread(VmcsField::VM_EXIT_CONTROLS) & ~exit_ctl::ACK_INTERRUPT_ON_EXIT},
  };
  for (const Case& c : cases) {
    const uint64_t good = vread(c.field);
    vwrite(c.field, c.value);
    restart_at(guest_vmcall);
    CHECK_ENTRY_FAIL(resume(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD, c.what);
    vwrite(c.field, good);
  }
  vwrite(VmcsField::POSTED_INTR_DESC_ADDR, pages.scratch[1] + 0x40);  // 64-byte aligned is enough
  restart_at(guest_vmcall);
  CHECK_VMCALL_AT(resume(), guest_vmcall, 0);
}

}  // namespace selftest
