// The capability MSRs l1-vmm offers its guest hypervisor
// (l1-vmm/nested/capabilities.{h,cpp}) compiled for the host, from the
// sim's real capability MSRs as the platform (l0/sim/vmx/capabilities.cpp,
// read as l1-vmm's rt::vmx::read_capabilities reads them: the true
// controls). Checked against SDM appendix A: the offer is a subset of the
// platform's (allowed-1, EPT/VPID, MISC), keeps the platform's allowed-0
// settings, and holds every control l1-vmm itself uses when the platform
// has it (vmx/vmcs_config.cpp's choose_controls), so the same binary runs
// one level further up.
#include <gtest/gtest.h>

#include <cstdint>

#include "arch/vmx/vmx.h"
#include "arch/x86/msr.h"
#include "l0/sim/vmx/capabilities.h"
#include "l1-vmm/nested/capabilities.h"
#include "l1-vmm/nested/vmcs12.h"
#include "runtime/vmx.h"

namespace {

using namespace arch::vmx;
using namespace l1::nested;
namespace msr = arch::msr;

// The platform as l1-vmm reads it (runtime/vmx.h: the true controls when
// IA32_VMX_BASIC bit 55 says they exist).
rt::vmx::Capabilities platform_from_sim() {
  const auto& s = nestbed::sim::vmx::sim_vmx_capabilities();
  rt::vmx::Capabilities p{};
  p.basic = s.basic;
  p.true_controls = vmx_basic::TRUE_CTLS.test(s.basic);
  p.pinbased = p.true_controls ? s.pinbased : s.pinbased_legacy;
  p.procbased = p.true_controls ? s.procbased : s.procbased_legacy;
  p.exit = p.true_controls ? s.exit : s.exit_legacy;
  p.entry = p.true_controls ? s.entry : s.entry_legacy;
  p.procbased2 = s.procbased2;
  p.misc = s.misc;
  p.cr0_fixed0 = s.cr0_fixed0;
  p.cr0_fixed1 = s.cr0_fixed1;
  p.cr4_fixed0 = s.cr4_fixed0;
  p.cr4_fixed1 = s.cr4_fixed1;
  p.vmcs_enum = s.vmcs_enum;
  p.ept_vpid_cap = s.ept_vpid_cap;
  p.vmfunc = s.vmfunc;
  return p;
}

class NestedCapabilities : public ::testing::Test {
 protected:
  rt::vmx::Capabilities platform = platform_from_sim();
  l1::nested::NestedCapabilities offered = make_nested_capabilities(platform, true);
};

struct Word {
  const char* name;
  uint64_t (l1::nested::NestedCapabilities::*offered)() const;
  uint64_t rt::vmx::Capabilities::*platform;
  uint32_t (*implemented)();
};
// The secondary controls with VMCS shadowing offered (shadow_vmcs=1, the default).
uint32_t proc2_with_shadowing() { return supported::proc2(true); }
// The pin-based controls with posted interrupts offered (exit_intr=0, the default).
uint32_t pin_with_posted_interrupts() { return supported::pin(true); }

constexpr Word kWords[] = {
    {"pin", &l1::nested::NestedCapabilities::pinbased, &rt::vmx::Capabilities::pinbased, pin_with_posted_interrupts},
    {"proc", &l1::nested::NestedCapabilities::procbased, &rt::vmx::Capabilities::procbased, supported::proc},
    {"proc2", &l1::nested::NestedCapabilities::procbased2, &rt::vmx::Capabilities::procbased2, proc2_with_shadowing},
    {"exit", &l1::nested::NestedCapabilities::exit, &rt::vmx::Capabilities::exit, supported::exit},
    {"entry", &l1::nested::NestedCapabilities::entry, &rt::vmx::Capabilities::entry, supported::entry},
};

// ---- Control capability MSRs (SDM A.3-A.5) ------------------------------------

TEST_F(NestedCapabilities, Allowed1IsThePlatformsCutToWhatIsImplemented) {
  for (const Word& w : kWords) {
    const uint32_t a1 = ctls_allowed1((offered.*w.offered)());
    EXPECT_EQ(a1 & ~ctls_allowed1(platform.*w.platform), 0u) << w.name << ": offered beyond the platform";
    EXPECT_EQ(a1 & ~w.implemented(), 0u) << w.name << ": offered beyond nested VMX";
    EXPECT_EQ(a1, ctls_allowed1(platform.*w.platform) & w.implemented()) << w.name;
  }
}

TEST_F(NestedCapabilities, Allowed0IsThePlatforms) {
  // A control the platform forces to 1 is forced for the guest hypervisor
  // too; one the platform lets be 0 (e.g. the true controls' CR3-load/store
  // exiting, SDM A.3.2) may be 0.
  for (const Word& w : kWords)
    EXPECT_EQ(ctls_allowed0((offered.*w.offered)()), ctls_allowed0(platform.*w.platform)) << w.name;
  EXPECT_FALSE(ctls_allowed0(offered.procbased()) & proc_ctl::CR3_LOAD_EXITING);
  EXPECT_TRUE(ctls_allowed0(offered.pinbased()) & pin_ctl::DEFAULT1);
}

TEST_F(NestedCapabilities, EveryForcedControlIsAllowed) {
  for (const Word& w : kWords) {
    const uint64_t cap = (offered.*w.offered)();
    EXPECT_EQ(ctls_allowed0(cap) & ~ctls_allowed1(cap), 0u) << w.name;
  }
}

TEST_F(NestedCapabilities, ThePlatformsUnimplementedControlsAreNotOffered) {
  // VMCS shadowing is offered (emulated) with shadow_vmcs=1, and not with 0.
  ASSERT_TRUE(ctls_allowed1(platform.procbased2) & proc_ctl2::VMCS_SHADOWING);
  EXPECT_TRUE(ctls_allowed1(offered.procbased2()) & proc_ctl2::VMCS_SHADOWING);
  EXPECT_FALSE(ctls_allowed1(make_nested_capabilities(platform, false).procbased2()) & proc_ctl2::VMCS_SHADOWING);
  // Posted interrupts: offered, but not where l1-vmm takes every external
  // interrupt itself (exit_intr=1), the notification vector among them.
  ASSERT_TRUE(ctls_allowed1(platform.pinbased) & pin_ctl::POSTED_INTERRUPTS);
  EXPECT_TRUE(ctls_allowed1(offered.pinbased()) & pin_ctl::POSTED_INTERRUPTS);
  EXPECT_FALSE(ctls_allowed1(make_nested_capabilities(platform, true, false).pinbased()) & pin_ctl::POSTED_INTERRUPTS);
  rt::vmx::Capabilities p = platform;
  p.pinbased &= ~(uint64_t(pin_ctl::POSTED_INTERRUPTS) << 32);
  EXPECT_FALSE(ctls_allowed1(make_nested_capabilities(p, true).pinbased()) & pin_ctl::POSTED_INTERRUPTS);
}

TEST_F(NestedCapabilities, VirtualInterruptDeliveryIsOfferedWhereThePlatformHasIt) {
  // vmcs02 runs it on vmcs12's page (nested_vmx.cpp, apic_virt.cpp).
  ASSERT_TRUE(ctls_allowed1(platform.procbased2) & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
  EXPECT_TRUE(ctls_allowed1(offered.procbased2()) & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
  rt::vmx::Capabilities p = platform;
  p.procbased2 &= ~(uint64_t(proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY) << 32);
  EXPECT_FALSE(ctls_allowed1(make_nested_capabilities(p, true).procbased2()) & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY);
}

TEST_F(NestedCapabilities, TheTprShadowIsOfferedWhereThePlatformHasIt) {
  // vmcs02 points at vmcs12's own virtual-APIC page (nested_vmx.cpp).
  ASSERT_TRUE(ctls_allowed1(platform.procbased) & proc_ctl::USE_TPR_SHADOW);
  EXPECT_TRUE(ctls_allowed1(offered.procbased()) & proc_ctl::USE_TPR_SHADOW);
  rt::vmx::Capabilities p = platform;
  p.procbased &= ~(uint64_t(proc_ctl::USE_TPR_SHADOW) << 32);
  EXPECT_FALSE(ctls_allowed1(make_nested_capabilities(p, true).procbased()) & proc_ctl::USE_TPR_SHADOW);
}

TEST_F(NestedCapabilities, AControlThePlatformLacksIsNotOffered) {
  rt::vmx::Capabilities p = platform;
  p.procbased &= ~(uint64_t(proc_ctl::RDTSC_EXITING) << 32);
  p.exit &= ~(uint64_t(exit_ctl::LOAD_PAT) << 32);
  const auto n = make_nested_capabilities(p, true);
  EXPECT_TRUE(ctls_allowed1(offered.procbased()) & proc_ctl::RDTSC_EXITING);
  EXPECT_FALSE(ctls_allowed1(n.procbased()) & proc_ctl::RDTSC_EXITING);
  EXPECT_FALSE(ctls_allowed1(n.exit()) & exit_ctl::LOAD_PAT);
}

// The legacy MSRs are the true ones with every default1 bit in allowed-0
// (SDM A.2: the default1 controls are 1 in the non-true MSRs).
TEST_F(NestedCapabilities, LegacyMsrsForceTheDefault1Bits) {
  struct Pair {
    uint32_t legacy, true_msr;
    uint32_t default1;
  };
  for (const Pair& p : {Pair{msr::IA32_VMX_PINBASED_CTLS, msr::IA32_VMX_TRUE_PINBASED_CTLS, pin_ctl::DEFAULT1},
                        Pair{msr::IA32_VMX_PROCBASED_CTLS, msr::IA32_VMX_TRUE_PROCBASED_CTLS, proc_ctl::DEFAULT1},
                        Pair{msr::IA32_VMX_EXIT_CTLS, msr::IA32_VMX_TRUE_EXIT_CTLS, exit_ctl::DEFAULT1},
                        Pair{msr::IA32_VMX_ENTRY_CTLS, msr::IA32_VMX_TRUE_ENTRY_CTLS, entry_ctl::DEFAULT1}}) {
    uint64_t legacy = 0, true_value = 0;
    ASSERT_TRUE(offered.read(p.legacy, legacy));
    ASSERT_TRUE(offered.read(p.true_msr, true_value));
    EXPECT_EQ(ctls_allowed0(legacy), ctls_allowed0(true_value) | p.default1) << std::hex << p.legacy;
    EXPECT_EQ(ctls_allowed1(legacy), ctls_allowed1(true_value)) << std::hex << p.legacy;
  }
  // The true MSR may let a default1 control be 0 (here CR3-load exiting);
  // the legacy one never does.
  uint64_t legacy = 0;
  ASSERT_TRUE(offered.read(msr::IA32_VMX_PROCBASED_CTLS, legacy));
  EXPECT_TRUE(ctls_allowed0(legacy) & proc_ctl::CR3_LOAD_EXITING);
}

// ---- EPT/VPID, MISC and the others (SDM A.1, A.6-A.10) -------------------------

TEST_F(NestedCapabilities, EptVpidCapIsThePlatformsCutToWhatIsImplemented) {
  EXPECT_EQ(offered.ept_vpid_cap() & ~platform.ept_vpid_cap, 0u);
  EXPECT_EQ(offered.ept_vpid_cap(), platform.ept_vpid_cap & supported::ept_vpid_cap());
  rt::vmx::Capabilities p = platform;
  p.ept_vpid_cap &= ~vmx_ept_vpid_cap::ACCESSED_DIRTY.mask;
  EXPECT_FALSE(vmx_ept_vpid_cap::ACCESSED_DIRTY.test(make_nested_capabilities(p, true).ept_vpid_cap()));
  EXPECT_TRUE(vmx_ept_vpid_cap::ACCESSED_DIRTY.test(offered.ept_vpid_cap()));
}

TEST_F(NestedCapabilities, MiscIsThePlatformsCutToWhatIsImplemented) {
  EXPECT_EQ(offered.misc() & ~platform.misc, 0u);
  EXPECT_EQ(vmx_misc::PREEMPTION_TIMER_RATE.get(offered.misc()), vmx_misc::PREEMPTION_TIMER_RATE.get(platform.misc));
  EXPECT_EQ(vmx_misc::CR3_TARGETS.get(offered.misc()), vmx_misc::CR3_TARGETS.get(platform.misc));
  // Nothing of SMM or Intel PT, even where the platform has it.
  rt::vmx::Capabilities p = platform;
  p.misc |= vmx_misc::SMM_BLOCK_SMIS.mask | vmx_misc::INTEL_PT_IN_VMX.mask | vmx_misc::MSEG_REVISION.make(5);
  const auto n = make_nested_capabilities(p, true);
  EXPECT_FALSE(n.misc() & (vmx_misc::SMM_BLOCK_SMIS.mask | vmx_misc::INTEL_PT_IN_VMX.mask | vmx_misc::MSEG_REVISION.mask));
}

TEST_F(NestedCapabilities, BasicDescribesVmcs12) {
  uint64_t basic = 0;
  ASSERT_TRUE(offered.read(msr::IA32_VMX_BASIC, basic));
  EXPECT_EQ(vmx_basic::REVISION_ID.get(basic), kVmcs12Revision);
  EXPECT_NE(vmx_basic::REVISION_ID.get(basic), vmx_basic::REVISION_ID.get(platform.basic));
  EXPECT_EQ(vmx_basic::VMCS_SIZE.get(basic), 4096u);
  EXPECT_GE(vmx_basic::VMCS_SIZE.get(basic), uint64_t(vmcs12_layout::SIZE));
  EXPECT_EQ(vmx_basic::MEMORY_TYPE.get(basic), uint64_t(vmx_basic::MEMORY_TYPE_WB));
  EXPECT_TRUE(vmx_basic::TRUE_CTLS.test(basic));
  EXPECT_FALSE(vmx_basic::DUAL_MONITOR.test(basic));
  EXPECT_FALSE(vmx_basic::PHYS_ADDR_32BIT.test(basic));
  // INS/OUTS information: the platform's (it fills the field).
  EXPECT_TRUE(vmx_basic::INS_OUTS_INFO.test(basic));
  rt::vmx::Capabilities p = platform;
  p.basic &= ~vmx_basic::INS_OUTS_INFO.mask;
  uint64_t basic2 = 0;
  ASSERT_TRUE(make_nested_capabilities(p, true).read(msr::IA32_VMX_BASIC, basic2));
  EXPECT_FALSE(vmx_basic::INS_OUTS_INFO.test(basic2));
}

TEST_F(NestedCapabilities, FixedCrBitsAndVmcsEnumAreThePlatforms) {
  EXPECT_EQ(offered.cr0_fixed0(), platform.cr0_fixed0);
  EXPECT_EQ(offered.cr0_fixed1(), platform.cr0_fixed1);
  EXPECT_EQ(offered.cr4_fixed0(), platform.cr4_fixed0);
  EXPECT_EQ(offered.cr4_fixed1(), platform.cr4_fixed1);
  uint64_t e = 0;
  ASSERT_TRUE(offered.read(msr::IA32_VMX_VMCS_ENUM, e));
  EXPECT_EQ(e, platform.vmcs_enum);
}

// ---- Which MSRs exist (SDM A.3.3, A.10, A.11) -----------------------------------

TEST_F(NestedCapabilities, ReadAnswersEveryOfferedMsrAndNothingElse) {
  uint64_t v = 0;
  for (uint32_t m = msr::IA32_VMX_BASIC; m <= msr::IA32_VMX_TRUE_ENTRY_CTLS; m++)
    EXPECT_TRUE(offered.read(m, v)) << std::hex << m;
  EXPECT_FALSE(offered.read(msr::IA32_VMX_VMFUNC, v));  // no VM functions
  EXPECT_FALSE(offered.read(msr::IA32_VMX_BASIC - 1, v));
  EXPECT_FALSE(offered.read(msr::IA32_VMX_VMFUNC + 1, v));
  EXPECT_TRUE(offered.read(msr::IA32_VMX_TRUE_PROCBASED_CTLS, v));
  EXPECT_EQ(v, offered.procbased());
}

TEST_F(NestedCapabilities, NoSecondaryControlsNoProcbased2AndNoEptVpidCap) {
  rt::vmx::Capabilities p = platform;
  p.procbased &= ~(uint64_t(proc_ctl::ACTIVATE_SECONDARY_CONTROLS) << 32);
  p.procbased2 = 0;
  p.ept_vpid_cap = 0;
  const auto n = make_nested_capabilities(p, true);
  uint64_t v = 0;
  EXPECT_FALSE(n.read(msr::IA32_VMX_PROCBASED_CTLS2, v));
  EXPECT_FALSE(n.read(msr::IA32_VMX_EPT_VPID_CAP, v));
  EXPECT_TRUE(offered.read(msr::IA32_VMX_PROCBASED_CTLS2, v));
  EXPECT_TRUE(offered.read(msr::IA32_VMX_EPT_VPID_CAP, v));
}

TEST_F(NestedCapabilities, EptVpidCapExistsOnlyWithEptOrVpid) {
  rt::vmx::Capabilities p = platform;
  p.procbased2 &= ~(uint64_t(proc_ctl2::ENABLE_EPT | proc_ctl2::ENABLE_VPID) << 32);
  uint64_t v = 0;
  EXPECT_TRUE(make_nested_capabilities(p, true).read(msr::IA32_VMX_PROCBASED_CTLS2, v));
  EXPECT_FALSE(make_nested_capabilities(p, true).read(msr::IA32_VMX_EPT_VPID_CAP, v));
  p.procbased2 |= uint64_t(proc_ctl2::ENABLE_VPID) << 32;
  EXPECT_TRUE(make_nested_capabilities(p, true).read(msr::IA32_VMX_EPT_VPID_CAP, v));
}

TEST_F(NestedCapabilities, EntryChecksSeeTheOfferedValues) {
  const auto c = offered.for_entry_checks();
  EXPECT_EQ(c.pinbased, offered.pinbased());
  EXPECT_EQ(c.procbased, offered.procbased());
  EXPECT_EQ(c.procbased2, offered.procbased2());
  EXPECT_EQ(c.exit, offered.exit());
  EXPECT_EQ(c.entry, offered.entry());
  EXPECT_EQ(c.misc, offered.misc());
  EXPECT_EQ(c.ept_vpid_cap, offered.ept_vpid_cap());
  EXPECT_EQ(c.vmfunc, 0u);
  uint64_t legacy = 0;
  ASSERT_TRUE(offered.read(msr::IA32_VMX_PROCBASED_CTLS, legacy));
  EXPECT_EQ(c.procbased_legacy, legacy);
}

// ---- What l1-vmm itself needs one level up (vmx/vmcs_config.cpp) ----------------

struct Need {
  ControlWord word;
  uint32_t bit;
  const char* why;
};
constexpr Need kL1vmmNeeds[] = {
    // required
    {ControlWord::proc_ctl, proc_ctl::USE_IO_BITMAPS, "I/O policy"},
    {ControlWord::proc_ctl, proc_ctl::USE_MSR_BITMAPS, "MSR policy"},
    {ControlWord::proc_ctl, proc_ctl::ACTIVATE_SECONDARY_CONTROLS, "EPT"},
    {ControlWord::proc_ctl2, proc_ctl2::ENABLE_EPT, "EPT01"},
    {ControlWord::proc_ctl2, proc_ctl2::UNRESTRICTED_GUEST, "32-bit guest without paging"},
    {ControlWord::exit_ctl, exit_ctl::HOST_ADDRESS_SPACE_SIZE, "64-bit host"},
    {ControlWord::exit_ctl, exit_ctl::SAVE_EFER, "EFER switched"},
    {ControlWord::exit_ctl, exit_ctl::LOAD_EFER, "EFER switched"},
    {ControlWord::entry_ctl, entry_ctl::LOAD_EFER, "EFER loaded at entry"},
    {ControlWord::entry_ctl, entry_ctl::IA32E_MODE_GUEST, "a guest in long mode"},
    // optional, used when offered (or asked for by an option)
    {ControlWord::proc_ctl2, proc_ctl2::ENABLE_VPID, "vpid"},
    {ControlWord::proc_ctl2, proc_ctl2::ENABLE_RDTSCP, "RDTSCP in the guest"},
    {ControlWord::exit_ctl, exit_ctl::SAVE_PAT, "PAT"},
    {ControlWord::exit_ctl, exit_ctl::LOAD_PAT, "PAT"},
    {ControlWord::entry_ctl, entry_ctl::LOAD_PAT, "PAT"},
    {ControlWord::exit_ctl, exit_ctl::SAVE_DEBUG_CONTROLS, "debug controls"},
    {ControlWord::entry_ctl, entry_ctl::LOAD_DEBUG_CONTROLS, "debug controls"},
    {ControlWord::pin_ctl, pin_ctl::PREEMPTION_TIMER, "preempt"},
    {ControlWord::pin_ctl, pin_ctl::EXTERNAL_INTERRUPT_EXITING, "exit_intr"},
    {ControlWord::exit_ctl, exit_ctl::ACK_INTERRUPT_ON_EXIT, "exit_intr"},
    {ControlWord::proc_ctl, proc_ctl::INTERRUPT_WINDOW_EXITING, "exit_intr"},
    {ControlWord::proc_ctl, proc_ctl::HLT_EXITING, "exit_hlt"},
};

uint64_t cap_of(const rt::vmx::Capabilities& p, ControlWord w) {
  switch (w) {
    case ControlWord::pin_ctl: return p.pinbased;
    case ControlWord::proc_ctl: return p.procbased;
    case ControlWord::proc_ctl2: return p.procbased2;
    case ControlWord::exit_ctl: return p.exit;
    case ControlWord::entry_ctl: return p.entry;
    default: return 0;
  }
}
uint64_t cap_of(const l1::nested::NestedCapabilities& n, ControlWord w) {
  switch (w) {
    case ControlWord::pin_ctl: return n.pinbased();
    case ControlWord::proc_ctl: return n.procbased();
    case ControlWord::proc_ctl2: return n.procbased2();
    case ControlWord::exit_ctl: return n.exit();
    case ControlWord::entry_ctl: return n.entry();
    default: return 0;
  }
}

TEST_F(NestedCapabilities, EveryControlL1vmmUsesIsOfferedWhenThePlatformHasIt) {
  for (const Need& need : kL1vmmNeeds) {
    const char* name = control_name(need.word, unsigned(__builtin_ctz(need.bit)));
    ASSERT_TRUE(ctls_allowed1(cap_of(platform, need.word)) & need.bit) << name << ": the sim lacks it";
    EXPECT_TRUE(ctls_allowed1(cap_of(offered, need.word)) & need.bit) << name << " (" << need.why << ")";
    // ... and may be chosen: adjusting the wanted set to the offer keeps it.
    EXPECT_TRUE(ctls_adjust(cap_of(offered, need.word), need.bit) & need.bit) << name;
  }
}

TEST_F(NestedCapabilities, EveryEptVpidAndMiscFeatureL1vmmUsesIsOffered) {
  namespace c = vmx_ept_vpid_cap;
  // vmcs_config.cpp: 4-level walk, WB (else UC) EPTP, 2 MiB pages for EPT01
  // and EPT02, INVEPT single-context (nested_ept.cpp), INVVPID
  // single-context with vpid; exit_hlt needs the HLT activity state; the
  // IA-32e mode guest control follows EFER.LMA on exits.
  for (const BitField f : {c::PAGE_WALK_4, c::MEMTYPE_WB, c::MEMTYPE_UC, c::PDE_2MB, c::INVEPT, c::INVEPT_SINGLE_CONTEXT,
                           c::INVVPID, c::INVVPID_SINGLE_CONTEXT}) {
    ASSERT_TRUE(f.test(platform.ept_vpid_cap));
    EXPECT_TRUE(f.test(offered.ept_vpid_cap())) << "EPT/VPID cap bit " << f.lsb;
  }
  EXPECT_TRUE(vmx_misc::ACTIVITY_HLT.test(offered.misc()));
  EXPECT_TRUE(vmx_misc::STORE_EFER_LMA.test(offered.misc()));
}

// The values l1-vmm/nested/README.md ("What is offered") lists for the sim.
TEST_F(NestedCapabilities, SimOfferMatchesTheReadme) {
  uint64_t v = 0;
  struct Row {
    uint32_t msr;
    uint64_t value;
  };
  for (const Row& r : {Row{msr::IA32_VMX_BASIC, 0x00d810004e4c3132ull},
                       Row{msr::IA32_VMX_TRUE_PINBASED_CTLS, 0x000000ff00000016ull},
                       Row{msr::IA32_VMX_TRUE_PROCBASED_CTLS, 0xdff9fbfe04006172ull},
                       Row{msr::IA32_VMX_PROCBASED_CTLS2, 0x000253ff00000000ull},
                       Row{msr::IA32_VMX_TRUE_EXIT_CTLS, 0x007fefff00036dfbull},
                       Row{msr::IA32_VMX_TRUE_ENTRY_CTLS, 0x0000d3ff000011fbull},
                       Row{msr::IA32_VMX_MISC, 0x0000000020040065ull},
                       Row{msr::IA32_VMX_EPT_VPID_CAP, 0x00000f0106334141ull}}) {
    ASSERT_TRUE(offered.read(r.msr, v)) << std::hex << r.msr;
    EXPECT_EQ(v, r.value) << std::hex << "MSR 0x" << r.msr << ": 0x" << v;
  }
}

}  // namespace
