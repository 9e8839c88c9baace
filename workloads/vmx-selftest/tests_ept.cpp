// Tests of the secondary controls that change how the guest runs: the
// unrestricted guest, EPT (violations, misconfigurations, INVEPT), VPID
// and INVVPID, and VMCS shadowing (SDM 24.6.2, 24.10, 25.3, 28.2-28.3,
// 30.3).
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace cap = arch::vmx::vmx_ept_vpid_cap;

namespace {

uint64_t& qword(uint64_t page, unsigned offset) { return *reinterpret_cast<uint64_t*>(page + offset); }

// The guest-physical page the EPT tests remap: just above the 4 GiB the
// EPT identity-maps, where there is no RAM. The guest shares the host's
// page tables, which map it at the same linear address.
constexpr uint64_t TEST_GPA = rt::IDENTITY_MAP_END;

constexpr uint64_t MAGIC1 = 0x1122334455667788ull;
constexpr uint64_t MAGIC2 = 0x99aabbccddeeff00ull;

// Turns EPT on in the current VMCS: the first 4 GiB identity-mapped,
// TEST_GPA mapped to `hpa` with leaf bits `leaf`.
bool setup_ept(vmx::Ept& ept, uint64_t hpa, uint64_t leaf) {
  if (!require_ept_cap(cap::PAGE_WALK_4.mask | cap::MEMTYPE_WB.mask | cap::PDE_2MB.mask,
                       "4-level EPT with write-back tables and 2-MiB pages"))
    return false;
  if (!ept.init() || !ept.identity_map(rt::IDENTITY_MAP_END) || !ept.map(TEST_GPA, hpa, PAGE, leaf)) {
    fail("out of memory for the EPT tables");
    return false;
  }
  const rt::MapStatus m = rt::map_page(TEST_GPA, TEST_GPA, arch::pte::RW);
  if (m != rt::MapStatus::Ok) {
    fail("mapping the test page: %s", rt::map_status_name(m));
    return false;
  }
  if (!set_proc2(proc_ctl2::ENABLE_EPT)) return false;
  vwrite(VmcsField::EPT_POINTER, ept.eptp());
  return !test_failed();
}

// Sets TEST_GPA's leaf and invalidates what the CPU may cache of it (SDM 28.3.3).
bool set_leaf(const vmx::Ept& ept, uint64_t hpa, uint64_t leaf) {
  *ept.leaf(TEST_GPA) = (hpa & ept_entry::ADDRESS_MASK) | leaf;
  if (cap::INVEPT_SINGLE_CONTEXT.test(caps.ept_vpid_cap))
    return expect_status("INVEPT single-context", vmx::invept(invept_type::SINGLE_CONTEXT, ept.eptp()), Status::Ok);
  if (cap::INVEPT_ALL_CONTEXT.test(caps.ept_vpid_cap))
    return expect_status("INVEPT all-context", vmx::invept(invept_type::ALL_CONTEXT, 0), Status::Ok);
  return true;
}

// guest_read is MOV RAX, [RDI]: 3 bytes.
constexpr unsigned READ_LENGTH = 3;

}  // namespace

void test_unrestricted_guest_pm32() {
  // An unrestricted guest may run with paging off (SDM 26.3.1.1): 32-bit
  // protected mode, CR0.PG = 0, IA-32e mode guest 0. It needs EPT (SDM 26.2.1.1).
  REQUIRE(setup_guest(addr(guest_pm32)));
  REQUIRE(set_proc2(proc_ctl2::UNRESTRICTED_GUEST));
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD);

  vmx::Ept ept;
  REQUIRE(setup_ept(ept, pages.scratch[0], vmx::EPT_RWX | vmx::EPT_WB));
  namespace ar = arch::seg::ar;
  const uint64_t guest_cr0 = ((caps.cr0_fixed0 | arch::cr0::ET) & ~arch::cr0::PG) & caps.cr0_fixed1;
  vwrite(VmcsField::GUEST_CR0, guest_cr0);
  vwrite(VmcsField::GUEST_CR4, caps.cr4_fixed0);
  vwrite(VmcsField::CR0_READ_SHADOW, guest_cr0);
  vwrite(VmcsField::CR4_READ_SHADOW, caps.cr4_fixed0);
  vclear_bits(VmcsField::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
  vwrite(VmcsField::GUEST_CS_AR_BYTES, ar::TYPE_CODE | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G);
  const Exit e = run();
  CHECK_VMCALL_AT(e, guest_pm32, addr(guest_pm32_vmcall) - addr(guest_pm32));
  CHECK_EQ(uint32_t(regs.gpr[vmx::RAX]), 1, "EAX after XOR EAX, EAX; 40H (INC EAX in 32-bit code)");
  CHECK_EQ(uint32_t(regs.gpr[vmx::RBX]), guest_cr0, "CR0 as the guest read it");
  CHECK(!(vread(VmcsField::VM_ENTRY_CONTROLS) & entry_ctl::IA32E_MODE_GUEST),
        "\"IA-32e mode guest\" set at the exit of a 32-bit guest");
}

void test_ept_guest_memory() {
  // Guest-physical addresses go through EPT (SDM 28.2); an invalid EPTP is
  // an invalid control (SDM 26.2.1.1).
  const uint64_t h = pages.scratch[0];
  clear_page(h);
  qword(h, 0x10) = MAGIC1;
  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, h, vmx::EPT_RWX | vmx::EPT_WB));

  const uint64_t good = ept.eptp();
  struct Bad {
    const char* what;
    uint64_t eptp;
  } bad[] = {
      {"EPTP memory type 2", eptp::MEMORY_TYPE.set(good, 2)},
      {"EPTP reserved bit 11", good | (1ull << 11)},
      {"EPTP walk length 5 without the capability",
       cap::PAGE_WALK_5.test(caps.ept_vpid_cap) ? good | (1ull << 11)
                                                : eptp::PAGE_WALK_LENGTH.set(good, eptp::WALK_5_LEVELS)},
  };
  for (const Bad& b : bad) {
    vwrite(VmcsField::EPT_POINTER, b.eptp);
    CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD, b.what);
  }
  vwrite(VmcsField::EPT_POINTER, good);

  regs.gpr[vmx::RDI] = TEST_GPA + 0x10;
  CHECK_VMCALL_AT(run(), guest_read, READ_LENGTH);
  CHECK_EQ(regs.gpr[vmx::RAX], MAGIC1, "the guest's read of the remapped page");
  restart_at(guest_write);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x18;
  regs.gpr[vmx::RAX] = MAGIC2;
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  CHECK_EQ(qword(h, 0x18), MAGIC2, "the host page after the guest's write");
}

void test_ept_violation() {
  // An access the EPT entries do not permit: exit 48, the access and the
  // entries' permissions in the qualification, the guest-physical and
  // guest-linear addresses (SDM 28.2.3.2, 27.2.1 table 27-7).
  const uint64_t h = pages.scratch[0];
  clear_page(h);
  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, h, 0));
  namespace q = qual_ept_violation;
  const uint64_t linear = q::GLA_VALID.mask | q::GLA_TRANSLATED.mask;
  struct Case {
    const char* what;
    uint64_t perms;
    const char* rip;
    uint64_t gpa;
    uint64_t qualification;
    bool fetch;
  } cases[] = {
      {"read, not present", 0, guest_read, TEST_GPA + 0x10, q::READ.mask | linear, false},
      {"write, read-only", vmx::EPT_R, guest_write, TEST_GPA + 0x20, q::WRITE.mask | q::READABLE.mask | linear, false},
      {"fetch, not executable", vmx::EPT_R | vmx::EPT_W, guest_jmp, TEST_GPA,
       q::FETCH.mask | q::READABLE.mask | q::WRITABLE.mask | linear, true},
      {"read, execute-only", vmx::EPT_X, guest_read, TEST_GPA + 0x28, q::READ.mask | q::EXECUTABLE.mask | linear, false},
  };
  // Bits 11:9 hold advanced information only where the capability says so.
  const uint64_t compared = cap::ADVANCED_EXIT_INFO.test(caps.ept_vpid_cap)
                                ? ~(q::USER_MODE_LINEAR.mask | q::READ_WRITE_PAGE.mask | q::EXECUTE_DISABLE.mask)
                                : ~0ull;
  bool launched = false;
  for (const Case& c : cases) {
    if (c.perms == vmx::EPT_X && !cap::EXECUTE_ONLY.test(caps.ept_vpid_cap)) continue;
    REQUIRE(set_leaf(ept, h, c.perms | vmx::EPT_WB));
    restart_at(c.rip);
    regs.gpr[vmx::RDI] = c.gpa;
    regs.gpr[vmx::RAX] = MAGIC2;
    const Exit e = run(launched);
    launched = true;
    CHECK_EXIT(e, ExitReason::EPT_VIOLATION);
    const uint64_t rip = c.fetch ? c.gpa : addr(c.rip);
    CHECK(e.rip == rip, "%s: exit at guest RIP 0x%lx, expected 0x%lx", c.what, e.rip, rip);
    CHECK((e.qualification & compared) == c.qualification, "%s: qualification 0x%lx, expected 0x%lx", c.what,
          e.qualification, c.qualification);
    CHECK(e.gpa == c.gpa, "%s: guest-physical address 0x%lx, expected 0x%lx", c.what, e.gpa, c.gpa);
    CHECK(e.gla == c.gpa, "%s: guest-linear address 0x%lx, expected 0x%lx", c.what, e.gla, c.gpa);
  }
  CHECK_EQ(qword(h, 0x20), 0, "the read-only page after the refused write");
}

void test_ept_misconfig() {
  // Entries that cannot be used at all: write without read, a reserved
  // memory type, execute-only without the capability: exit 49 with the
  // guest-physical address (SDM 28.2.3.1).
  const uint64_t h = pages.scratch[0];
  clear_page(h);
  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, h, vmx::EPT_RWX | vmx::EPT_WB));
  struct Case {
    const char* what;
    uint64_t leaf;
  } cases[] = {
      {"write without read", vmx::EPT_W | vmx::EPT_WB},
      {"memory type 2", vmx::EPT_R | ept_entry::MEMORY_TYPE.make(2)},
      {"execute-only without the capability", vmx::EPT_X | vmx::EPT_WB},
  };
  bool launched = false;
  for (const Case& c : cases) {
    if (c.leaf == (vmx::EPT_X | vmx::EPT_WB) && cap::EXECUTE_ONLY.test(caps.ept_vpid_cap)) continue;
    REQUIRE(set_leaf(ept, h, c.leaf));
    restart_at(guest_read);
    regs.gpr[vmx::RDI] = TEST_GPA + 0x30;
    const Exit e = run(launched);
    launched = true;
    CHECK_EXIT(e, ExitReason::EPT_MISCONFIG);
    CHECK(e.rip == addr(guest_read), "%s: exit at guest RIP 0x%lx, expected 0x%lx", c.what, e.rip, addr(guest_read));
    CHECK(e.gpa == TEST_GPA + 0x30, "%s: guest-physical address 0x%lx, expected 0x%lx", c.what, e.gpa,
          TEST_GPA + 0x30);
    CHECK(e.qualification == 0, "%s: qualification 0x%lx, expected 0", c.what, e.qualification);
  }
}

void test_invept() {
  // After changing an EPT entry and INVEPT, the guest sees the new mapping;
  // unsupported types and invalid EPTPs are VMfail(28); INVEPT in the
  // guest exits (SDM 30.3 INVEPT, 25.1.2).
  const uint64_t h1 = pages.scratch[0], h2 = pages.scratch[1];
  clear_page(h1);
  clear_page(h2);
  qword(h1, 0x10) = MAGIC1;
  qword(h2, 0x10) = MAGIC2;
  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, h1, vmx::EPT_RWX | vmx::EPT_WB));
  if (!cap::INVEPT.test(caps.ept_vpid_cap)) return skip("INVEPT is not supported");
  regs.gpr[vmx::RDI] = TEST_GPA + 0x10;
  CHECK_VMCALL_AT(run(), guest_read, READ_LENGTH);
  CHECK_EQ(regs.gpr[vmx::RAX], MAGIC1, "the guest's read through the first mapping");

  struct Step {
    uint64_t type;
    bool supported;
    uint64_t page, magic;
  } steps[] = {
      {invept_type::SINGLE_CONTEXT, cap::INVEPT_SINGLE_CONTEXT.test(caps.ept_vpid_cap), h2, MAGIC2},
      {invept_type::ALL_CONTEXT, cap::INVEPT_ALL_CONTEXT.test(caps.ept_vpid_cap), h1, MAGIC1},
  };
  for (const Step& s : steps) {
    *ept.leaf(TEST_GPA) = s.page | vmx::EPT_RWX | vmx::EPT_WB;
    if (!s.supported) {
      CHECK_STATUS("INVEPT of an unsupported type", vmx::invept(s.type, ept.eptp()), Status::FailValid,
                   VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
      continue;
    }
    CHECK_OK("INVEPT", vmx::invept(s.type, ept.eptp()));
    restart_at(guest_read);
    CHECK_VMCALL_AT(resume(), guest_read, READ_LENGTH);
    CHECK(regs.gpr[vmx::RAX] == s.magic, "INVEPT type %lu: the guest read 0x%lx, expected 0x%lx", s.type,
          regs.gpr[vmx::RAX], s.magic);
  }

  CHECK_STATUS("INVEPT type 0", vmx::invept(0, ept.eptp()), Status::FailValid,
               VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
  CHECK_STATUS("INVEPT type 3", vmx::invept(3, ept.eptp()), Status::FailValid,
               VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
  if (cap::INVEPT_SINGLE_CONTEXT.test(caps.ept_vpid_cap))
    CHECK_STATUS("INVEPT single-context with EPTP memory type 2",
                 vmx::invept(invept_type::SINGLE_CONTEXT, eptp::MEMORY_TYPE.set(ept.eptp(), 2)), Status::FailValid,
                 VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);

  // INVEPT in VMX non-root operation exits; REG2 names the type register.
  const InveptDescriptor d{ept.eptp(), 0};
  restart_at(guest_invept);
  regs.gpr[vmx::RAX] = reinterpret_cast<uint64_t>(&d);
  regs.gpr[vmx::RCX] = invept_type::ALL_CONTEXT;
  const Exit e = resume();
  CHECK_EXIT(e, ExitReason::INVEPT);
  CHECK_EQ(e.rip, addr(guest_invept), "guest RIP of the INVEPT exit");
  CHECK_EQ(e.length, 5, "INVEPT instruction length");
  CHECK_EQ(insn_info_inv::REG2.get(e.insn_info), vmx::RCX, "INVEPT type register in the instruction information");
  CHECK_EQ(insn_info_inv::BASE_REG.get(e.insn_info), vmx::RAX, "INVEPT base register in the instruction information");
}

void test_vpid_invvpid() {
  // VPID 0 with "enable VPID" is an invalid control (SDM 26.2.1.1). With a
  // VPID, after the host changes the guest's page tables and runs INVVPID,
  // the guest sees the new translation; invalid operands are VMfail(28);
  // INVVPID in the guest exits (SDM 30.3 INVVPID, 28.3.3).
  REQUIRE(setup_guest(addr(guest_read)));
  REQUIRE(set_proc2(proc_ctl2::ENABLE_VPID));
  if (!cap::INVVPID.test(caps.ept_vpid_cap)) return skip("INVVPID is not supported");
  vwrite(VmcsField::VIRTUAL_PROCESSOR_ID, 0);
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD);
  constexpr uint16_t VPID = 1;
  vwrite(VmcsField::VIRTUAL_PROCESSOR_ID, VPID);

  const uint64_t a = pages.scratch[0], b = pages.scratch[1];
  clear_page(a);
  clear_page(b);
  qword(a, 0x10) = MAGIC1;
  qword(b, 0x10) = MAGIC2;
  constexpr uint64_t LINEAR = 1ull << 39;  // PML4 slot 1: nothing else maps it
  rt::MapStatus m = rt::map_page(LINEAR, a, arch::pte::RW);
  CHECK(m == rt::MapStatus::Ok, "mapping the test page: %s", rt::map_status_name(m));
  regs.gpr[vmx::RDI] = LINEAR + 0x10;
  CHECK_VMCALL_AT(run(), guest_read, READ_LENGTH);
  CHECK_EQ(regs.gpr[vmx::RAX], MAGIC1, "the guest's read through the first mapping");

  struct Step {
    uint64_t type;
    bool supported;
    uint64_t page, magic;
  } steps[] = {
      {invvpid_type::INDIVIDUAL_ADDRESS, cap::INVVPID_INDIVIDUAL_ADDRESS.test(caps.ept_vpid_cap), b, MAGIC2},
      {invvpid_type::SINGLE_CONTEXT, cap::INVVPID_SINGLE_CONTEXT.test(caps.ept_vpid_cap), a, MAGIC1},
      {invvpid_type::ALL_CONTEXT, cap::INVVPID_ALL_CONTEXT.test(caps.ept_vpid_cap), b, MAGIC2},
      {invvpid_type::SINGLE_CONTEXT_RETAINING_GLOBALS,
       cap::INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS.test(caps.ept_vpid_cap), a, MAGIC1},
  };
  for (const Step& s : steps) {
    m = rt::map_page(LINEAR, s.page, arch::pte::RW);  // INVLPG in root operation: VPID 0 only
    CHECK(m == rt::MapStatus::Ok, "remapping the test page: %s", rt::map_status_name(m));
    const Status st = vmx::invvpid(s.type, VPID, LINEAR);
    if (!s.supported) {
      CHECK_STATUS("INVVPID of an unsupported type", st, Status::FailValid,
                   VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);
      continue;
    }
    CHECK_OK("INVVPID", st);
    restart_at(guest_read);
    CHECK_VMCALL_AT(resume(), guest_read, READ_LENGTH);
    CHECK(regs.gpr[vmx::RAX] == s.magic, "INVVPID type %lu: the guest read 0x%lx, expected 0x%lx", s.type,
          regs.gpr[vmx::RAX], s.magic);
  }

  struct Bad {
    const char* what;
    uint64_t type, vpid, linear;
  } bad[] = {
      {"INVVPID single-context of VPID 0", invvpid_type::SINGLE_CONTEXT, 0, 0},
      {"INVVPID individual-address of VPID 0", invvpid_type::INDIVIDUAL_ADDRESS, 0, LINEAR},
      {"INVVPID individual-address, non-canonical address", invvpid_type::INDIVIDUAL_ADDRESS, VPID,
       0x8000000000000000ull},
      {"INVVPID with descriptor bits 63:16 set", invvpid_type::ALL_CONTEXT, 0x10000 | VPID, 0},
      {"INVVPID type 4", 4, VPID, 0},
  };
  for (const Bad& x : bad)
    CHECK_STATUS(x.what, vmx::invvpid(x.type, x.vpid, x.linear), Status::FailValid,
                 VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND);

  const InvvpidDescriptor d{VPID, 0};
  restart_at(guest_invvpid);
  regs.gpr[vmx::RAX] = reinterpret_cast<uint64_t>(&d);
  regs.gpr[vmx::RCX] = invvpid_type::SINGLE_CONTEXT;
  const Exit e = resume();
  CHECK_EXIT(e, ExitReason::INVVPID);
  CHECK_EQ(e.rip, addr(guest_invvpid), "guest RIP of the INVVPID exit");
  CHECK_EQ(insn_info_inv::REG2.get(e.insn_info), vmx::RCX, "INVVPID type register in the instruction information");
}

namespace {

// Makes pages.shadow a shadow VMCS (SDM 24.10) with `field` = `value`, then makes
// pages.vmcs current again, as KVM does: VMPTRLD, VMWRITE, VMCLEAR.
bool prepare_shadow_vmcs(VmcsField field, uint64_t value) {
  clear_page(pages.shadow);
  write_revision(pages.shadow, caps.revision() | vmcs_region::SHADOW_VMCS_INDICATOR);
  return expect_status("VMCLEAR of the shadow VMCS", vmx::vmclear(pages.shadow), Status::Ok) &&
         expect_status("VMPTRLD of the shadow VMCS", vmx::vmptrld(pages.shadow), Status::Ok) &&
         expect_status("VMWRITE to the shadow VMCS", vmx::vmwrite(field, value), Status::Ok) &&
         expect_status("VMCLEAR of the shadow VMCS", vmx::vmclear(pages.shadow), Status::Ok) &&
         expect_status("VMPTRLD", vmx::vmptrld(pages.vmcs), Status::Ok);
}

// The guest's RFLAGS after its VMREAD/VMWRITE (guest_vmread/guest_vmwrite
// leave them in RCX): CF and ZF say how the instruction ended.
const char* guest_vmx_status() {
  const uint64_t f = regs.gpr[vmx::RCX];
  return (f & 1) ? "VMfailInvalid" : (f & (1u << 6)) ? "VMfailValid" : "VMsucceed";
}

void set_bitmap_bit(uint64_t page, VmcsField f) {
  const uint32_t bit = vmcs_shadow_bitmap_bit(uint32_t(f));
  reinterpret_cast<uint8_t*>(page)[bit / 8] |= uint8_t(1u << (bit % 8));
}

}  // namespace

void test_vmcs_shadowing() {
  // Guest VMREAD/VMWRITE: exit without VMCS shadowing; with it, a field
  // whose bitmap bit is 0 is read/written in the shadow VMCS the link
  // pointer names, one whose bit is 1 exits, and so does an encoding above
  // bit 14 (SDM 24.6.15, 30.3 VMREAD/VMWRITE).
  constexpr uint64_t SHADOW_RIP = 0x5ad00001;
  constexpr VmcsField READ_FIELD = VmcsField::GUEST_RIP, WRITE_FIELD = VmcsField::GUEST_ES_SELECTOR;
  REQUIRE(setup_guest(addr(guest_vmread)));
  if (!allowed1(caps.procbased2, proc_ctl2::VMCS_SHADOWING)) return skip("VMCS shadowing is not offered");
  REQUIRE(prepare_shadow_vmcs(READ_FIELD, SHADOW_RIP));

  regs.gpr[vmx::RAX] = uint64_t(READ_FIELD);
  Exit e = run();
  CHECK_EXIT(e, ExitReason::VMREAD);
  CHECK_EQ(e.rip, addr(guest_vmread), "guest RIP of the VMREAD exit");
  CHECK_EQ(e.length, 3, "VMREAD instruction length");
  CHECK_EQ(insn_info_vmread_vmwrite::MEM_REG.get(e.insn_info), insn_info_vmread_vmwrite::REGISTER,
           "VMREAD operand kind in the instruction information");
  CHECK_EQ(insn_info_vmread_vmwrite::REG1.get(e.insn_info), vmx::RBX, "VMREAD destination register");
  CHECK_EQ(insn_info_vmread_vmwrite::REG2.get(e.insn_info), vmx::RAX, "VMREAD encoding register");

  REQUIRE(set_proc2(proc_ctl2::VMCS_SHADOWING));
  clear_page(pages.vmread_bitmap);
  clear_page(pages.vmwrite_bitmap);
  vwrite(VmcsField::VMREAD_BITMAP, pages.vmread_bitmap);
  vwrite(VmcsField::VMWRITE_BITMAP, pages.vmwrite_bitmap);
  vwrite(VmcsField::VMCS_LINK_POINTER, pages.shadow);

  restart_at(guest_vmread);
  e = resume();
  CHECK_VMCALL_AT(e, guest_vmread, 5);
  CHECK(!(regs.gpr[vmx::RCX] & 0x41), "the guest's VMREAD of the shadow VMCS: %s", guest_vmx_status());
  CHECK_EQ(regs.gpr[vmx::RBX], SHADOW_RIP, "the guest's VMREAD of GUEST_RIP from the shadow VMCS");

  restart_at(guest_vmwrite);
  regs.gpr[vmx::RAX] = uint64_t(WRITE_FIELD);
  regs.gpr[vmx::RBX] = 0x777;
  e = resume();
  CHECK_VMCALL_AT(e, guest_vmwrite, 5);
  CHECK(!(regs.gpr[vmx::RCX] & 0x41), "the guest's VMWRITE to the shadow VMCS: %s", guest_vmx_status());
  CHECK_EQ(vread(WRITE_FIELD), rt::KERNEL_DS, "the ordinary VMCS's GUEST_ES_SELECTOR after the guest's VMWRITE");
  uint64_t written = 0;
  CHECK_OK("VMPTRLD of the shadow VMCS", vmx::vmptrld(pages.shadow));
  CHECK_OK("VMREAD from the shadow VMCS", vmx::vmread(WRITE_FIELD, written));
  CHECK_OK("VMCLEAR of the shadow VMCS", vmx::vmclear(pages.shadow));
  CHECK_OK("VMPTRLD", vmx::vmptrld(pages.vmcs));
  CHECK_EQ(written, 0x777, "GUEST_ES_SELECTOR in the shadow VMCS after the guest's VMWRITE");

  // Bitmap bits set: exits.
  set_bitmap_bit(pages.vmread_bitmap, READ_FIELD);
  set_bitmap_bit(pages.vmwrite_bitmap, WRITE_FIELD);
  restart_at(guest_vmread);
  regs.gpr[vmx::RAX] = uint64_t(READ_FIELD);
  CHECK_EXIT(resume(), ExitReason::VMREAD);
  restart_at(guest_vmwrite);
  regs.gpr[vmx::RAX] = uint64_t(WRITE_FIELD);
  CHECK_EXIT(resume(), ExitReason::VMWRITE);
  // An encoding with bits above 14 always exits.
  restart_at(guest_vmread);
  regs.gpr[vmx::RAX] = uint64_t(VmcsField::GUEST_RSP) | 0x8000;
  CHECK_EXIT(resume(), ExitReason::VMREAD);

  // A link pointer of all-ones: the guest's VMREAD is VMfailInvalid.
  vwrite(VmcsField::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
  restart_at(guest_vmread);
  regs.gpr[vmx::RAX] = uint64_t(VmcsField::GUEST_RSP);
  e = resume();
  CHECK_VMCALL_AT(e, guest_vmread, 5);
  CHECK((regs.gpr[vmx::RCX] & 1) && !(regs.gpr[vmx::RCX] & 0x40),
        "the guest's VMREAD with no shadow VMCS: expected VMfailInvalid, got %s", guest_vmx_status());
}

void test_vmlaunch_shadow_vmcs() {
  // A shadow VMCS cannot be entered: VMLAUNCH fails with VMfailInvalid (SDM 24.10, 30.3).
  REQUIRE(vmx_on());
  if (!allowed1(caps.procbased2, proc_ctl2::VMCS_SHADOWING)) return skip("VMCS shadowing is not offered");
  clear_page(pages.shadow);
  write_revision(pages.shadow, caps.revision() | vmcs_region::SHADOW_VMCS_INDICATOR);
  CHECK_OK("VMCLEAR of the shadow VMCS", vmx::vmclear(pages.shadow));
  CHECK_OK("VMPTRLD of the shadow VMCS", vmx::vmptrld(pages.shadow));
  init_guest_vmcs(addr(guest_vmcall));
  CHECK_ENTRY_FAIL(run(), Status::FailInvalid);
}

void test_ept_accessed_dirty() {
  // With EPTP bit 6, the processor sets the accessed flag of each EPT entry
  // it uses and the dirty flag of the leaf a write goes through (SDM 28.2.4).
  if (!cap::ACCESSED_DIRTY.test(caps.ept_vpid_cap)) return skip("EPT accessed and dirty flags are not supported");
  const uint64_t h = pages.scratch[0];
  clear_page(h);
  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, h, vmx::EPT_RWX | vmx::EPT_WB));
  vwrite(VmcsField::EPT_POINTER, ept.eptp() | eptp::ENABLE_AD.mask);
  const uint64_t* leaf = ept.leaf(TEST_GPA);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x10;
  CHECK_VMCALL_AT(run(), guest_read, READ_LENGTH);
  CHECK(ept_entry::ACCESSED.test(*leaf), "EPT leaf 0x%lx: accessed flag clear after a read", *leaf);
  CHECK(!ept_entry::DIRTY.test(*leaf), "EPT leaf 0x%lx: dirty flag set by a read", *leaf);
  restart_at(guest_write);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x18;
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  CHECK(ept_entry::DIRTY.test(*leaf), "EPT leaf 0x%lx: dirty flag clear after a write", *leaf);
}

void test_ept_paging_structures() {
  // The guest's own paging structures live in guest-physical pages EPT maps
  // one by one. Reads of a read-only page-table page are fine; with EPT A/D
  // enabled, the processor's accesses to guest paging structures count as
  // writes: a violation with qualification bits 0 and 1 set and "linear
  // address translated" clear (SDM 28.2.3.2, 27.2.1 table 27-7), and the
  // dirty flag of the page table's EPT leaf (SDM 28.2.4).
  if (!cap::ACCESSED_DIRTY.test(caps.ept_vpid_cap)) return skip("EPT accessed and dirty flags are not supported");
  // Host pages: a copy of the host's PML4, the guest's PDPT, PD and PT, the data page.
  const uint64_t host = rt::alloc_pages(5);
  CHECK(host, "out of memory for the guest's page tables");
  const uint64_t pml4 = host, pdpt = host + PAGE, pd = host + 2 * PAGE, pt = host + 3 * PAGE, data = host + 4 * PAGE;
  const uint64_t g_pdpt = TEST_GPA + PAGE, g_pd = TEST_GPA + 2 * PAGE, g_pt = TEST_GPA + 3 * PAGE,
                 g_data = TEST_GPA + 4 * PAGE;
  constexpr uint64_t LINEAR = 2ull << 39;  // PML4 slot 2: the guest's own tables
  namespace pte = arch::pte;
  memcpy(reinterpret_cast<void*>(pml4), reinterpret_cast<const void*>(rt::read_cr3() & pte::ADDR_MASK), PAGE);
  const uint64_t tables[] = {pdpt, pd, pt, data};
  for (uint64_t page : tables) clear_page(page);
  // A and D preset, so the walk itself never needs to write.
  const uint64_t flags = pte::P | pte::RW | pte::A;
  reinterpret_cast<uint64_t*>(pml4)[pte::index(LINEAR, 4)] = g_pdpt | flags;
  reinterpret_cast<uint64_t*>(pdpt)[0] = g_pd | flags;
  reinterpret_cast<uint64_t*>(pd)[0] = g_pt | flags;
  reinterpret_cast<uint64_t*>(pt)[0] = g_data | flags | pte::D;
  qword(data, 0x10) = MAGIC1;

  REQUIRE(setup_guest(addr(guest_read)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, pdpt, vmx::EPT_RWX | vmx::EPT_WB));  // TEST_GPA itself is not used
  const struct {
    uint64_t gpa, hpa;
  } maps[] = {{g_pdpt, pdpt}, {g_pd, pd}, {g_pt, pt}, {g_data, data}};
  for (const auto& m : maps) CHECK(ept.map(m.gpa, m.hpa, PAGE, vmx::EPT_RWX | vmx::EPT_WB), "out of memory for EPT");
  uint64_t* pt_leaf = ept.leaf(g_pt);
  vwrite(VmcsField::GUEST_CR3, pml4);
  regs.gpr[vmx::RDI] = LINEAR + 0x10;

  // EPT A/D off, the page table read-only: the walk only reads it.
  *pt_leaf = pt | vmx::EPT_R | vmx::EPT_WB;
  CHECK_VMCALL_AT(run(), guest_read, READ_LENGTH);
  CHECK_EQ(regs.gpr[vmx::RAX], MAGIC1, "the guest's read through its own page tables");

  // EPT A/D on: the walk's access to the read-only page table is a write.
  vwrite(VmcsField::EPT_POINTER, ept.eptp() | eptp::ENABLE_AD.mask);
  CHECK_OK("INVEPT all-context", vmx::invept(invept_type::ALL_CONTEXT, 0));
  restart_at(guest_read);
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::EPT_VIOLATION, guest_read, 0);
  namespace q = qual_ept_violation;
  const uint64_t compared = cap::ADVANCED_EXIT_INFO.test(caps.ept_vpid_cap)
                                ? ~(q::USER_MODE_LINEAR.mask | q::READ_WRITE_PAGE.mask | q::EXECUTE_DISABLE.mask)
                                : ~0ull;
  CHECK_EQ(e.qualification & compared, q::READ.mask | q::WRITE.mask | q::READABLE.mask | q::GLA_VALID.mask,
           "qualification of the violation on the guest's page table");
  CHECK_EQ(e.gpa, g_pt + 8 * pte::index(LINEAR, 1), "guest-physical address: the guest's PTE");
  CHECK_EQ(e.gla, LINEAR + 0x10, "guest-linear address");

  // Writable again: the access goes through and dirties the page table's leaf.
  *pt_leaf = pt | vmx::EPT_RWX | vmx::EPT_WB;
  CHECK_OK("INVEPT all-context", vmx::invept(invept_type::ALL_CONTEXT, 0));
  restart_at(guest_read);
  CHECK_VMCALL_AT(resume(), guest_read, READ_LENGTH);
  CHECK(ept_entry::DIRTY.test(*pt_leaf), "EPT leaf of the guest's page table 0x%lx: dirty flag clear", *pt_leaf);
  const uint64_t* data_leaf = ept.leaf(g_data);
  CHECK(ept_entry::ACCESSED.test(*data_leaf) && !ept_entry::DIRTY.test(*data_leaf),
        "EPT leaf of the data page 0x%lx: expected accessed and not dirty after a read", *data_leaf);
}

namespace {

// A guest with EPT A/D flags whose EPT leaves other than TEST_GPA's (the
// identity map holding the guest's code, stack and page tables) are already
// dirty, TEST_GPA's clean, and "enable PML" with an empty log at
// pages.scratch[1] (index 511). False: SKIP or FAIL reported.
bool setup_pml(vmx::Ept& ept, uint64_t h) {
  if (!cap::ACCESSED_DIRTY.test(caps.ept_vpid_cap)) return skip("EPT accessed and dirty flags are not supported"), false;
  if (!allowed1(caps.procbased2, proc_ctl2::ENABLE_PML)) return skip("PML is not offered"), false;
  clear_page(h);
  clear_page(pages.scratch[1]);
  if (!setup_guest(addr(guest_write)) || !setup_ept(ept, h, vmx::EPT_RWX | vmx::EPT_WB)) return false;
  vwrite(VmcsField::EPT_POINTER, ept.eptp() | eptp::ENABLE_AD.mask);
  // One run without PML: the guest's walks dirty the identity map's leaves
  // (its paging-structure accesses are writes for EPT A/D, SDM 28.2.4).
  regs.gpr[vmx::RDI] = TEST_GPA + 0x18;
  regs.gpr[vmx::RAX] = MAGIC1;
  const Exit e = run();
  if (!expect_vmcall_at(e, guest_write, 3)) return false;
  if (!set_leaf(ept, h, vmx::EPT_RWX | vmx::EPT_WB)) return false;  // TEST_GPA clean again
  if (!set_proc2(proc_ctl2::ENABLE_PML)) return false;
  vwrite(VmcsField::PML_ADDRESS, pages.scratch[1]);
  vwrite(VmcsField::GUEST_PML_INDEX, pml::ENTRIES - 1);
  return !test_failed();
}

}  // namespace

void test_pml() {
  // Page-modification logging (SDM 28.2.5): before a write sets an EPT
  // dirty flag from 0 to 1, the guest-physical address (bits 11:0 clear)
  // goes to PML address + 8 x index and the index is decremented. A write
  // to a dirty page and a read log nothing.
  vmx::Ept ept;
  const uint64_t h = pages.scratch[0], log = pages.scratch[1];
  REQUIRE(setup_pml(ept, h));
  const uint64_t* leaf = ept.leaf(TEST_GPA);
  restart_at(guest_write);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x28;
  regs.gpr[vmx::RAX] = MAGIC2;
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  CHECK_EQ(qword(log, 8 * 511), TEST_GPA, "PML entry 511 after the write to TEST_GPA + 0x28");
  CHECK_EQ(vread(VmcsField::GUEST_PML_INDEX), 510, "guest PML index after one logged write");
  CHECK(ept_entry::DIRTY.test(*leaf), "EPT leaf 0x%lx: dirty flag clear after a logged write", *leaf);
  CHECK_EQ(qword(h, 0x28), MAGIC2, "the page after the logged write");

  restart_at(guest_write);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x30;
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  restart_at(guest_read);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x30;
  CHECK_VMCALL_AT(resume(), guest_read, READ_LENGTH);
  CHECK_EQ(vread(VmcsField::GUEST_PML_INDEX), 510, "guest PML index after a write to a dirty page and a read");
  CHECK_EQ(qword(log, 8 * 510), 0, "PML entry 510");
}

void test_pml_full() {
  // Index 0 takes one more entry and wraps to FFFFH; then the log is full:
  // the next write that would set a dirty flag is a fault-like
  // "page-modification log full" exit, the write not made and the flag
  // left clear (SDM 28.2.5, 27.2.1).
  vmx::Ept ept;
  const uint64_t h = pages.scratch[0], log = pages.scratch[1];
  REQUIRE(setup_pml(ept, h));
  const uint64_t* leaf = ept.leaf(TEST_GPA);
  vwrite(VmcsField::GUEST_PML_INDEX, 0);
  restart_at(guest_write);
  regs.gpr[vmx::RDI] = TEST_GPA + 0x18;
  regs.gpr[vmx::RAX] = MAGIC2;
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  CHECK_EQ(qword(log, 0), TEST_GPA, "PML entry 0");
  CHECK_EQ(vread(VmcsField::GUEST_PML_INDEX), 0xffff, "guest PML index after logging at index 0");

  REQUIRE(set_leaf(ept, h, vmx::EPT_RWX | vmx::EPT_WB));  // clean again
  restart_at(guest_write);
  regs.gpr[vmx::RAX] = 0x5555;
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::PML_FULL, guest_write, 0);
  CHECK_QUAL(e, 0);
  CHECK_EQ(qword(h, 0x18), MAGIC2, "the page after the write the full log refused");
  CHECK(!ept_entry::DIRTY.test(*leaf), "EPT leaf 0x%lx: dirty flag set by the refused write", *leaf);
  CHECK_EQ(vread(VmcsField::GUEST_PML_INDEX), 0xffff, "guest PML index after the log-full exit");
  // A fresh log lets the write through.
  vwrite(VmcsField::GUEST_PML_INDEX, 511);
  CHECK_VMCALL_AT(resume(), guest_write, 3);
  CHECK_EQ(qword(h, 0x18), 0x5555, "the page after the log was emptied");
  CHECK_EQ(qword(log, 8 * 511), TEST_GPA, "PML entry 511 of the fresh log");
}

void test_idt_vectoring_info() {
  // An EPT violation while delivering an exception (its frame goes to a
  // stack EPT does not map) records that exception in the IDT-vectoring
  // information (SDM 27.2.4).
  REQUIRE(setup_guest(addr(guest_ud2)));
  vmx::Ept ept;
  REQUIRE(setup_ept(ept, pages.scratch[0], 0));
  vwrite(VmcsField::GUEST_RSP, TEST_GPA + PAGE);
  const Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::EPT_VIOLATION, guest_ud2, 0);
  CHECK_EQ(e.idt_vectoring, make_intr_info(uint8_t(arch::Vector::UD), intr_info::TYPE_HARDWARE_EXCEPTION, false),
           "IDT-vectoring information");
  CHECK(qual_ept_violation::WRITE.test(e.qualification), "qualification 0x%lx: not a write", e.qualification);
  CHECK(e.gpa >= TEST_GPA && e.gpa < TEST_GPA + PAGE, "guest-physical address 0x%lx outside the stack page", e.gpa);
}

}  // namespace selftest
