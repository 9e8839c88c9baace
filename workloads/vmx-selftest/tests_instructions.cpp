// Tests of VMX operation and the VMCS-maintenance instructions in VMX root
// operation: CPUID and the capability MSRs, IA32_FEATURE_CONTROL, VMXON,
// VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE (SDM 23.7-23.8, 24.11,
// 30.3 and appendix A).
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/exceptions.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace msr = arch::msr;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;

namespace {

constexpr int64_t UD = int64_t(arch::Vector::UD);
constexpr int64_t GP = int64_t(arch::Vector::GP);

// An address with a bit beyond the physical-address width (CPUID
// 80000008H:EAX[7:0]); VMX pointers must not have one (SDM 30.3).
uint64_t beyond_physical_width(uint64_t page) {
  const unsigned width = rt::cpuid(0x80000008).eax & 0xff;
  return page | (1ull << width);
}

uint64_t current_vmcs() {
  uint64_t p = 0;
  vmx::vmptrst(p);
  return p;
}

// VMXON in CR4/CR0 as they are, catching its exception.
Fault vmxon_fault(uint64_t region, Status& s) {
  return guarded([&] { s = vmx::vmxon(region); });
}

}  // namespace

void test_cpuid_vmx() {
  // Only reached when the bit is set (kmain stops otherwise); the check
  // stays so the table reads as what it tests.
  CHECK(rt::cpuid(1).ecx & arch::cpuid::L1_ECX_VMX, "CPUID.1:ECX.VMX[bit 5] is 0");
  const Fault f = guarded([] { rt::rdmsr(msr::IA32_VMX_BASIC); });
  CHECK(f.vector < 0, "RDMSR IA32_VMX_BASIC: %s, but CPUID reports VMX", vector_name(f.vector));
}

void test_capability_msrs() {
  // A.1: revision in bits 30:0 (bit 31 is 0), region size at most 4 KiB,
  // bit 48 is 0 on Intel 64, memory type UC or WB.
  CHECK(!(caps.basic & (1ull << 31)), "IA32_VMX_BASIC bit 31 is set");
  const uint64_t size = vmx_basic::VMCS_SIZE.get(caps.basic);
  CHECK(size > 0 && size <= 4096, "IA32_VMX_BASIC region size %lu", size);
  CHECK(!vmx_basic::PHYS_ADDR_32BIT.test(caps.basic), "IA32_VMX_BASIC bit 48 is set on a 64-bit processor");
  const uint64_t type = vmx_basic::MEMORY_TYPE.get(caps.basic);
  CHECK(type == vmx_basic::MEMORY_TYPE_UC || type == vmx_basic::MEMORY_TYPE_WB, "IA32_VMX_BASIC memory type %lu",
        type);

  // A.2-A.5: every allowed-0 setting is an allowed-1 setting; the legacy
  // MSRs report the default1 controls as fixed to 1, and the true MSRs
  // differ from them only by allowing some default1 controls to be 0.
  struct Word {
    const char* name;
    uint32_t legacy_msr, true_msr, default1;
  } words[] = {
      {"pin-based", msr::IA32_VMX_PINBASED_CTLS, msr::IA32_VMX_TRUE_PINBASED_CTLS, pin_ctl::DEFAULT1},
      {"primary processor-based", msr::IA32_VMX_PROCBASED_CTLS, msr::IA32_VMX_TRUE_PROCBASED_CTLS,
       proc_ctl::DEFAULT1},
      {"VM-exit", msr::IA32_VMX_EXIT_CTLS, msr::IA32_VMX_TRUE_EXIT_CTLS, exit_ctl::DEFAULT1},
      {"VM-entry", msr::IA32_VMX_ENTRY_CTLS, msr::IA32_VMX_TRUE_ENTRY_CTLS, entry_ctl::DEFAULT1},
  };
  for (const Word& w : words) {
    const uint64_t legacy = rt::rdmsr(w.legacy_msr);
    CHECK((ctls_allowed0(legacy) & ~ctls_allowed1(legacy)) == 0, "%s: allowed-0 0x%x not within allowed-1 0x%x",
          w.name, ctls_allowed0(legacy), ctls_allowed1(legacy));
    CHECK((ctls_allowed0(legacy) & w.default1) == w.default1,
          "%s: legacy MSR allowed-0 0x%x lacks default1 bits 0x%x", w.name, ctls_allowed0(legacy), w.default1);
    if (!caps.true_controls) continue;
    const uint64_t tru = rt::rdmsr(w.true_msr);
    CHECK((ctls_allowed0(tru) & ~ctls_allowed1(tru)) == 0, "%s: true allowed-0 0x%x not within allowed-1 0x%x",
          w.name, ctls_allowed0(tru), ctls_allowed1(tru));
    CHECK(ctls_allowed1(tru) == ctls_allowed1(legacy), "%s: true allowed-1 0x%x differs from legacy 0x%x", w.name,
          ctls_allowed1(tru), ctls_allowed1(legacy));
    CHECK((ctls_allowed0(tru) & ~ctls_allowed0(legacy)) == 0 &&
              ((ctls_allowed0(legacy) ^ ctls_allowed0(tru)) & ~w.default1) == 0,
          "%s: true allowed-0 0x%x vs legacy 0x%x differ outside default1", w.name, ctls_allowed0(tru),
          ctls_allowed0(legacy));
  }
  // A.3.3: the secondary controls have no default1 class.
  if (caps.procbased2) CHECK_EQ(ctls_allowed0(caps.procbased2), 0, "IA32_VMX_PROCBASED_CTLS2 allowed-0");

  // A.7, A.8: fixed-1 bits are allowed; PE, NE, PG and VMXE are fixed to 1.
  CHECK((caps.cr0_fixed0 & ~caps.cr0_fixed1) == 0, "CR0 FIXED0 0x%lx not within FIXED1 0x%lx", caps.cr0_fixed0,
        caps.cr0_fixed1);
  CHECK((caps.cr4_fixed0 & ~caps.cr4_fixed1) == 0, "CR4 FIXED0 0x%lx not within FIXED1 0x%lx", caps.cr4_fixed0,
        caps.cr4_fixed1);
  CHECK((caps.cr0_fixed0 & (cr0::PE | cr0::NE | cr0::PG)) == (cr0::PE | cr0::NE | cr0::PG),
        "CR0 FIXED0 0x%lx lacks PE, NE or PG", caps.cr0_fixed0);
  CHECK(caps.cr4_fixed0 & cr4::VMXE, "CR4 FIXED0 0x%lx lacks VMXE", caps.cr4_fixed0);

  // A.9: bits 0 and 63:10 of IA32_VMX_VMCS_ENUM are 0.
  CHECK((caps.vmcs_enum & ~vmx_vmcs_enum::MAX_INDEX.mask) == 0, "IA32_VMX_VMCS_ENUM reserved bits: 0x%lx",
        caps.vmcs_enum);

  // A.10: with EPT, a 4-level walk and a UC or WB paging-structure type.
  if (caps.procbased2 && allowed1(caps.procbased2, proc_ctl2::ENABLE_EPT)) {
    CHECK(vmx_ept_vpid_cap::PAGE_WALK_4.test(caps.ept_vpid_cap), "EPT without a 4-level walk: 0x%lx",
          caps.ept_vpid_cap);
    CHECK(vmx_ept_vpid_cap::MEMTYPE_UC.test(caps.ept_vpid_cap) || vmx_ept_vpid_cap::MEMTYPE_WB.test(caps.ept_vpid_cap),
          "EPT paging structures neither UC nor WB: 0x%lx", caps.ept_vpid_cap);
  }
}

void test_feature_control() {
  const uint64_t before = rt::rdmsr(msr::IA32_FEATURE_CONTROL);
  if (before & msr::FEATURE_CONTROL_LOCK) {
    // Locked by firmware: a write must fault (SDM 23.7), and VMXON works
    // only if VMX outside SMX is enabled.
    const Fault w = guarded([&] { rt::wrmsr(msr::IA32_FEATURE_CONTROL, before); });
    CHECK_FAULT("WRMSR IA32_FEATURE_CONTROL while locked", w, GP);
    return;
  }
  // Unlocked (as at reset): VMXON must #GP (SDM 23.7, VMXON's operation);
  // then lock it with VMX enabled outside SMX, which the other tests need.
  rt::write_cr4(baseline_cr4 | caps.cr4_fixed0);
  clear_page(pages.vmxon);
  write_revision(pages.vmxon, caps.revision());
  Status s = Status::Ok;
  const Fault unlocked = vmxon_fault(pages.vmxon, s);
  if (unlocked.vector < 0) vmx::vmxoff();
  const uint64_t value = msr::FEATURE_CONTROL_LOCK | msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX;
  const Fault lock = guarded([&] { rt::wrmsr(msr::IA32_FEATURE_CONTROL, value); });
  const Fault locked = guarded([&] { rt::wrmsr(msr::IA32_FEATURE_CONTROL, value); });

  CHECK_FAULT("VMXON with IA32_FEATURE_CONTROL unlocked", unlocked, GP);
  CHECK_EQ(unlocked.error_code, 0, "VMXON #GP error code");
  CHECK_FAULT("WRMSR IA32_FEATURE_CONTROL (lock, VMX outside SMX)", lock, -1);
  CHECK_EQ(rt::rdmsr(msr::IA32_FEATURE_CONTROL), value, "IA32_FEATURE_CONTROL after locking");
  CHECK_FAULT("WRMSR IA32_FEATURE_CONTROL while locked", locked, GP);
}

void test_vmxon_cr4_vmxe() {
  // CR4.VMXE = 0: VMXON is #UD (SDM 23.7, VMXON's operation).
  rt::write_cr4(baseline_cr4 & ~cr4::VMXE);
  clear_page(pages.vmxon);
  write_revision(pages.vmxon, caps.revision());
  Status s;
  CHECK_FAULT("VMXON with CR4.VMXE = 0", vmxon_fault(pages.vmxon, s), UD);
}

void test_vmxon_cr0_fixed() {
  // CR0 not as IA32_VMX_CR0_FIXED0 requires: VMXON is #GP(0) (SDM 23.8).
  if (!(caps.cr0_fixed0 & cr0::NE)) return skip("CR0.NE is not fixed to 1 in VMX operation");
  rt::write_cr4(baseline_cr4 | caps.cr4_fixed0);
  rt::write_cr0(baseline_cr0 & ~cr0::NE);
  clear_page(pages.vmxon);
  write_revision(pages.vmxon, caps.revision());
  Status s;
  const Fault f = vmxon_fault(pages.vmxon, s);
  rt::write_cr0(baseline_cr0);
  CHECK_FAULT("VMXON with CR0.NE = 0", f, GP);
  CHECK_EQ(f.error_code, 0, "#GP error code");
}

void test_vmxon_bad_revision() {
  // VMXON's pointer checks fail with VMfailInvalid (no current VMCS yet, SDM 30.3).
  rt::write_cr4(baseline_cr4 | caps.cr4_fixed0);
  clear_page(pages.vmxon);
  write_revision(pages.vmxon, caps.revision() ^ 1);
  CHECK_STATUS("VMXON, wrong revision identifier", vmx::vmxon(pages.vmxon), Status::FailInvalid);
  write_revision(pages.vmxon, caps.revision() | vmcs_region::SHADOW_VMCS_INDICATOR);
  CHECK_STATUS("VMXON, revision bit 31 set", vmx::vmxon(pages.vmxon), Status::FailInvalid);
  write_revision(pages.vmxon, caps.revision());
  CHECK_STATUS("VMXON, pointer not 4-KiB aligned", vmx::vmxon(pages.vmxon + 0x800), Status::FailInvalid);
  CHECK_STATUS("VMXON, pointer beyond the physical-address width", vmx::vmxon(beyond_physical_width(pages.vmxon)),
               Status::FailInvalid);
  CHECK_OK("VMXON, correct region", vmx::vmxon(pages.vmxon));
}

void test_vmxon_twice() {
  // VMXON in VMX root operation: VMfail(15), which is VMfailInvalid while
  // there is no current VMCS (SDM 30.3, VMXON; 30.2).
  REQUIRE(vmx_on());
  CHECK_STATUS("second VMXON, no current VMCS", vmx::vmxon(pages.vmxon), Status::FailInvalid);
  REQUIRE(load_vmcs(pages.vmcs));
  CHECK_STATUS("second VMXON with a current VMCS", vmx::vmxon(pages.vmxon), Status::FailValid,
               VmInstructionError::VMXON_IN_VMX_ROOT);
}

void test_cr4_vmxe_locked() {
  // In VMX operation CR0 and CR4 keep their fixed bits: clearing CR4.VMXE
  // or CR0.NE is #GP (SDM 23.8).
  REQUIRE(vmx_on());
  const uint64_t c4 = rt::read_cr4(), c0 = rt::read_cr0();
  CHECK_FAULT("MOV to CR4 clearing VMXE in VMX operation", guarded([&] { rt::write_cr4(c4 & ~cr4::VMXE); }), GP);
  CHECK(rt::read_cr4() & cr4::VMXE, "CR4.VMXE cleared although the MOV faulted");
  if (caps.cr0_fixed0 & cr0::NE)
    CHECK_FAULT("MOV to CR0 clearing NE in VMX operation", guarded([&] { rt::write_cr0(c0 & ~cr0::NE); }), GP);
}

void test_vmptrld_vmxon_pointer() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  CHECK_STATUS("VMPTRLD of the VMXON pointer", vmx::vmptrld(pages.vmxon), Status::FailValid,
               VmInstructionError::VMPTRLD_VMXON_POINTER);
  CHECK_EQ(current_vmcs(), pages.vmcs, "current VMCS after the failed VMPTRLD");
}

void test_vmptrld_bad_revision() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  clear_page(pages.vmcs2);
  write_revision(pages.vmcs2, caps.revision() ^ 1);
  CHECK_STATUS("VMPTRLD, wrong revision identifier", vmx::vmptrld(pages.vmcs2), Status::FailValid,
               VmInstructionError::VMPTRLD_INCORRECT_REVISION_ID);
  CHECK_EQ(current_vmcs(), pages.vmcs, "current VMCS after the failed VMPTRLD");
  // A shadow VMCS can be made current only where VMCS shadowing exists.
  if (!allowed1(caps.procbased2, proc_ctl2::VMCS_SHADOWING)) {
    write_revision(pages.vmcs2, caps.revision() | vmcs_region::SHADOW_VMCS_INDICATOR);
    CHECK_STATUS("VMPTRLD of a shadow VMCS without VMCS shadowing", vmx::vmptrld(pages.vmcs2), Status::FailValid,
                 VmInstructionError::VMPTRLD_INCORRECT_REVISION_ID);
  }
}

void test_vmptrld_bad_address() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  clear_page(pages.vmcs2);
  write_revision(pages.vmcs2, caps.revision());
  CHECK_STATUS("VMPTRLD, pointer not 4-KiB aligned", vmx::vmptrld(pages.vmcs2 + 0x800), Status::FailValid,
               VmInstructionError::VMPTRLD_INVALID_ADDRESS);
  CHECK_STATUS("VMPTRLD, pointer beyond the physical-address width", vmx::vmptrld(beyond_physical_width(pages.vmcs2)),
               Status::FailValid, VmInstructionError::VMPTRLD_INVALID_ADDRESS);
  CHECK_EQ(current_vmcs(), pages.vmcs, "current VMCS after the failed VMPTRLDs");
}

void test_vmclear_errors() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  CHECK_STATUS("VMCLEAR of the VMXON pointer", vmx::vmclear(pages.vmxon), Status::FailValid,
               VmInstructionError::VMCLEAR_VMXON_POINTER);
  CHECK_STATUS("VMCLEAR, pointer not 4-KiB aligned", vmx::vmclear(pages.vmcs2 + 0x800), Status::FailValid,
               VmInstructionError::VMCLEAR_INVALID_ADDRESS);
  CHECK_STATUS("VMCLEAR, pointer beyond the physical-address width", vmx::vmclear(beyond_physical_width(pages.vmcs2)),
               Status::FailValid, VmInstructionError::VMCLEAR_INVALID_ADDRESS);
  // Without a current VMCS the same failure is VMfailInvalid (SDM 30.2).
  CHECK_OK("VMCLEAR of the current VMCS", vmx::vmclear(pages.vmcs));
  CHECK_STATUS("VMCLEAR of the VMXON pointer, no current VMCS", vmx::vmclear(pages.vmxon), Status::FailInvalid);
}

void test_vmptrst() {
  REQUIRE(vmx_on());
  uint64_t p = 0;
  CHECK_OK("VMPTRST after VMXON", vmx::vmptrst(p));
  CHECK_EQ(p, VMCS_POINTER_NONE, "current-VMCS pointer after VMXON");
  REQUIRE(load_vmcs(pages.vmcs));
  CHECK_OK("VMPTRST", vmx::vmptrst(p));
  CHECK_EQ(p, pages.vmcs, "VMPTRST after VMPTRLD");
  REQUIRE(load_vmcs(pages.vmcs2));
  CHECK_EQ(current_vmcs(), pages.vmcs2, "VMPTRST after a second VMPTRLD");
  // VMCLEAR of another VMCS leaves the current one; of the current one, none.
  CHECK_OK("VMCLEAR of a non-current VMCS", vmx::vmclear(pages.vmcs));
  CHECK_EQ(current_vmcs(), pages.vmcs2, "VMPTRST after VMCLEAR of a non-current VMCS");
  CHECK_OK("VMCLEAR of the current VMCS", vmx::vmclear(pages.vmcs2));
  CHECK_EQ(current_vmcs(), VMCS_POINTER_NONE, "VMPTRST after VMCLEAR of the current VMCS");
}

void test_no_current_vmcs() {
  // VMREAD, VMWRITE, VMLAUNCH and VMRESUME need a current VMCS: VMfailInvalid (SDM 30.3).
  REQUIRE(vmx_on());
  uint64_t v;
  CHECK_STATUS("VMREAD, no current VMCS", vmx::vmread(VmcsField::GUEST_RIP, v), Status::FailInvalid);
  CHECK_STATUS("VMWRITE, no current VMCS", vmx::vmwrite(VmcsField::GUEST_RIP, 0), Status::FailInvalid);
  bool cf, zf;
  asm volatile("vmlaunch" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  CHECK(cf && !zf, "VMLAUNCH, no current VMCS: expected VMfailInvalid, got CF=%d ZF=%d", cf, zf);
  asm volatile("vmresume" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  CHECK(cf && !zf, "VMRESUME, no current VMCS: expected VMfailInvalid, got CF=%d ZF=%d", cf, zf);
}

void test_vmread_vmwrite_roundtrip() {
  // Each width keeps the bits it holds (SDM 24.11.2, 30.3 VMWRITE).
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  struct Case {
    VmcsField field;
    uint64_t written, read;
  } cases[] = {
      {VmcsField::GUEST_ES_SELECTOR, 0xabcd1234, 0x1234},                    // 16-bit
      {VmcsField::GUEST_ES_LIMIT, 0x123456789, 0x23456789},                  // 32-bit
      {VmcsField::TSC_OFFSET, 0x1122334455667788, 0x1122334455667788},      // 64-bit
      {VmcsField::GUEST_RIP, 0xfedcba9876543210, 0xfedcba9876543210},       // natural width
  };
  for (const Case& c : cases) {
    CHECK_OK(vmcs_field_name(c.field), vmx::vmwrite(c.field, c.written));
    uint64_t v = 0;
    CHECK_OK(vmcs_field_name(c.field), vmx::vmread(c.field, v));
    CHECK(v == c.read, "VMWRITE %s = 0x%lx then VMREAD: expected 0x%lx, got 0x%lx", vmcs_field_name(c.field),
          c.written, c.read, v);
  }
  // The HIGH encoding of a 64-bit field is its bits 63:32.
  const uint64_t high = vmcs_field_high(VmcsField::TSC_OFFSET);
  uint64_t v = 0;
  CHECK_OK("VMREAD TSC_OFFSET_HIGH", vmx::vmread(high, v));
  CHECK_EQ(v, 0x11223344, "VMREAD TSC_OFFSET_HIGH");
  CHECK_OK("VMWRITE TSC_OFFSET_HIGH", vmx::vmwrite(high, 0xffffffffaabbccdd));
  CHECK_EQ(vread(VmcsField::TSC_OFFSET), 0xaabbccdd55667788, "TSC_OFFSET after VMWRITE TSC_OFFSET_HIGH");
  // Memory operands: VMREAD to memory, VMWRITE from memory.
  uint64_t mem = 0x0badc0de, enc = uint64_t(VmcsField::GUEST_RSP);
  bool cf, zf;
  asm volatile("vmwrite %[m], %[e]" : "=@ccc"(cf), "=@ccz"(zf) : [m] "m"(mem), [e] "r"(enc) : "memory");
  CHECK(!cf && !zf, "VMWRITE GUEST_RSP from memory failed (CF=%d ZF=%d)", cf, zf);
  mem = 0;
  asm volatile("vmread %[e], %[m]" : "=@ccc"(cf), "=@ccz"(zf), [m] "=m"(mem) : [e] "r"(enc) : "memory");
  CHECK(!cf && !zf, "VMREAD GUEST_RSP to memory failed (CF=%d ZF=%d)", cf, zf);
  CHECK_EQ(mem, 0x0badc0de, "VMREAD GUEST_RSP to memory");
}

void test_vmread_unsupported() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  const unsigned max_index = unsigned(vmx_vmcs_enum::MAX_INDEX.get(caps.vmcs_enum));
  struct Case {
    const char* what;
    uint64_t encoding;
  } cases[] = {
      {"an index above IA32_VMX_VMCS_ENUM's", max_index < 511 ? vmcs_encode(VmcsWidth::BITS32, VmcsType::GUEST,
                                                                             max_index + 1)
                                                               : 0x7fff},
      {"the high half of a 16-bit field", uint64_t(VmcsField::GUEST_ES_SELECTOR) | 1},
      {"encoding bit 15 set", uint64_t(VmcsField::GUEST_RIP) | 0x8000},
  };
  for (const Case& c : cases) {
    uint64_t v;
    if (!expect_status(c.what, vmx::vmread(c.encoding, v), Status::FailValid,
                       VmInstructionError::UNSUPPORTED_VMCS_COMPONENT))
      return;
    if (!expect_status(c.what, vmx::vmwrite(c.encoding, 0), Status::FailValid,
                       VmInstructionError::UNSUPPORTED_VMCS_COMPONENT))
      return;
  }
}

void test_vmwrite_read_only() {
  // VM-exit information fields are writable only with IA32_VMX_MISC bit 29
  // (SDM 24.11.2, A.6); otherwise VMfail(13).
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  const bool any = vmx_misc::VMWRITE_ANY_FIELD.test(caps.misc);
  const VmcsField fields[] = {VmcsField::EXIT_QUALIFICATION, VmcsField::VM_EXIT_REASON};
  for (VmcsField f : fields) {
    const uint64_t before = vread(f);
    if (any) {
      CHECK_OK(vmcs_field_name(f), vmx::vmwrite(f, 0x1234));
      CHECK_EQ(vread(f), 0x1234, vmcs_field_name(f));
    } else {
      CHECK_STATUS(vmcs_field_name(f), vmx::vmwrite(f, 0x1234), Status::FailValid,
                   VmInstructionError::VMWRITE_READ_ONLY_COMPONENT);
      CHECK_EQ(vread(f), before, vmcs_field_name(f));
    }
  }
}

void test_io_exit_fields_kept() {
  // I/O RCX, RSI, RDI and RIP are written only by SMM VM exits after an
  // I/O instruction (SDM 24.9.4); this processor has no SMM, so a VM exit
  // leaves what a VMWRITE put there (a VMM emulating VMX for its guest
  // hypervisor must not overwrite them either).
  if (!vmx_misc::VMWRITE_ANY_FIELD.test(caps.misc)) return skip("the exit-information fields are read-only");
  REQUIRE(setup_guest(addr(guest_cpuid)));
  const VmcsField fields[] = {VmcsField::IO_RCX, VmcsField::IO_RSI, VmcsField::IO_RDI, VmcsField::IO_RIP};
  for (unsigned k = 0; k < 4; k++) vwrite(fields[k], 0x1000 + k);
  regs.gpr[vmx::RAX] = 0;
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::CPUID, guest_cpuid, 2);
  for (unsigned k = 0; k < 4; k++) CHECK_EQ(vread(fields[k]), 0x1000 + k, vmcs_field_name(fields[k]));
}

void test_vmxoff() {
  REQUIRE(vmx_on());
  REQUIRE(load_vmcs(pages.vmcs));
  CHECK_OK("VMXOFF", vmx::vmxoff());
  // Outside VMX operation the VMX instructions are #UD (SDM 30.3).
  uint64_t v;
  CHECK_FAULT("VMREAD after VMXOFF", guarded([&] { vmx::vmread(VmcsField::GUEST_RIP, v); }), UD);
  CHECK_FAULT("VMXOFF after VMXOFF", guarded([] { vmx::vmxoff(); }), UD);
  // CR4.VMXE may be cleared again, and VMX operation entered anew with no
  // current VMCS.
  CHECK_FAULT("MOV to CR4 clearing VMXE after VMXOFF", guarded([] { rt::write_cr4(baseline_cr4); }), -1);
  REQUIRE(vmx_on());
  CHECK_EQ(current_vmcs(), VMCS_POINTER_NONE, "current-VMCS pointer after VMXOFF and VMXON");
}

}  // namespace selftest
