// prepare_vmcs02's merge and sync_vmcs02_to_vmcs12's CR0/CR4 rule
// (l1-vmm/nested/merge.{h,cpp}) compiled for the host: vmcs02's control
// words from vmcs12 and l1-vmm's own needs (KVM's prepare_vmcs02_early),
// CR0/CR4 mask, shadow and value (SDM 24.6.6, 25.3), and their inverse at
// a nested VM exit (KVM's vmcs12_guest_cr0). Each rule with a case that
// holds and one that does not; the CR rules also as properties over many
// values, with the reflection predicate (reflect.h) as the judge of which
// MOV to CR exits.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "l1-vmm/nested/merge.h"
#include "l1-vmm/nested/reflect.h"
#include "l1-vmm/nested/vmcs12.h"
#include "l0/sim/vmx/capabilities.h"

namespace {

using namespace arch::vmx;
using namespace l1::nested;
using F = VmcsField;
namespace cr0 = arch::cr0;

constexpr uint32_t kPfBit = 1u << uint8_t(arch::Vector::PF);
constexpr uint32_t kUdBit = 1u << uint8_t(arch::Vector::UD);

// l1-vmm's needs as vmcs_config.cpp's choose_controls makes them on the
// sim with no options: I/O and MSR bitmaps, secondary controls; EFER
// switched both ways, a 64-bit host, PAT and debug controls kept apart.
OwnNeeds default_own() {
  const auto& caps = nestbed::sim::vmx::sim_vmx_capabilities();
  OwnNeeds own{};
  own.pin = ctls_adjust(caps.pinbased, 0);
  own.proc = ctls_adjust(caps.procbased,
                         proc_ctl::USE_IO_BITMAPS | proc_ctl::USE_MSR_BITMAPS | proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
  own.exit = ctls_adjust(caps.exit, exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER |
                                        exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT | exit_ctl::SAVE_DEBUG_CONTROLS);
  own.entry = ctls_adjust(caps.entry, entry_ctl::LOAD_EFER | entry_ctl::LOAD_PAT | entry_ctl::LOAD_DEBUG_CONTROLS) &
              ~entry_ctl::IA32E_MODE_GUEST;
  own.platform_exit_caps = caps.exit;
  own.platform_entry_caps = caps.entry;
  return own;
}

class NestedMerge : public ::testing::Test {
 protected:
  void proc(uint32_t bits) { c.set(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::DEFAULT1 | bits); }
  void proc2(uint32_t bits) {
    c.set(F::CPU_BASED_VM_EXEC_CONTROL, c.get(F::CPU_BASED_VM_EXEC_CONTROL) | proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
    c.set(F::SECONDARY_VM_EXEC_CONTROL, bits);
  }
  Vmcs02Controls merge() { return merge_controls(c, own); }
  Vmcs12 c;
  OwnNeeds own = default_own();
};

// ---- Pin-based controls: either level's exits ------------------------------

TEST_F(NestedMerge, PinIsVmcs12sOrL1vmmsOwn) {
  c.set(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::DEFAULT1 | pin_ctl::EXTERNAL_INTERRUPT_EXITING);
  EXPECT_TRUE(merge().pin & pin_ctl::EXTERNAL_INTERRUPT_EXITING);
  EXPECT_FALSE(merge().pin & pin_ctl::PREEMPTION_TIMER);
  own.pin |= pin_ctl::PREEMPTION_TIMER;  // option preempt
  EXPECT_TRUE(merge().pin & pin_ctl::PREEMPTION_TIMER);
  c.set(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::DEFAULT1);
  EXPECT_FALSE(merge().pin & pin_ctl::EXTERNAL_INTERRUPT_EXITING);
}

// ---- Primary controls -------------------------------------------------------

TEST_F(NestedMerge, Vmcs12sExitControlsAreKept) {
  proc(proc_ctl::HLT_EXITING | proc_ctl::RDTSC_EXITING | proc_ctl::CR3_LOAD_EXITING | proc_ctl::MOV_DR_EXITING);
  const uint32_t p = merge().proc;
  EXPECT_TRUE(p & proc_ctl::RDTSC_EXITING);
  EXPECT_TRUE(p & proc_ctl::CR3_LOAD_EXITING);
  EXPECT_TRUE(p & proc_ctl::MOV_DR_EXITING);
  proc(0);
  EXPECT_FALSE(merge().proc & proc_ctl::RDTSC_EXITING);
  EXPECT_FALSE(merge().proc & proc_ctl::MOV_DR_EXITING);
}

// Every I/O instruction and RDMSR/WRMSR exits to l1-vmm, which consults
// vmcs12's bitmaps (SDM 25.1.3: no I/O bitmaps + unconditional I/O exiting;
// no MSR bitmaps: every RDMSR/WRMSR exits).
TEST_F(NestedMerge, EveryIoAndMsrAccessExitsWhateverVmcs12Says) {
  proc(proc_ctl::USE_IO_BITMAPS | proc_ctl::USE_MSR_BITMAPS);
  for (const uint32_t p : {merge().proc, (proc(0), merge().proc)}) {
    EXPECT_FALSE(p & proc_ctl::USE_IO_BITMAPS);
    EXPECT_FALSE(p & proc_ctl::USE_MSR_BITMAPS);
    EXPECT_TRUE(p & proc_ctl::UNCONDITIONAL_IO_EXITING);
  }
}

TEST_F(NestedMerge, L1vmmAddsOnlyItsHltExitingOfItsPrimaryControls) {
  EXPECT_FALSE(merge().proc & proc_ctl::HLT_EXITING);
  own.proc |= proc_ctl::HLT_EXITING | proc_ctl::RDTSC_EXITING;  // option exit_hlt (+ a bit it would not use)
  EXPECT_TRUE(merge().proc & proc_ctl::HLT_EXITING);
  EXPECT_FALSE(merge().proc & proc_ctl::RDTSC_EXITING);
  EXPECT_FALSE(merge().proc & proc_ctl::USE_IO_BITMAPS);  // own.proc has the bitmaps: not merged
}

TEST_F(NestedMerge, InterruptsOwedOpenTheWindowUnlessVmcs12InterceptsThem) {
  EXPECT_FALSE(merge().proc & proc_ctl::INTERRUPT_WINDOW_EXITING);
  own.interrupts_owed = true;
  EXPECT_TRUE(merge().proc & proc_ctl::INTERRUPT_WINDOW_EXITING);
  // Level k+1 intercepts external interrupts: the one l1-vmm holds becomes
  // its EXTERNAL_INTERRUPT exit instead (nested_deliver_pending_interrupt).
  c.set(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::DEFAULT1 | pin_ctl::EXTERNAL_INTERRUPT_EXITING);
  EXPECT_FALSE(merge().proc & proc_ctl::INTERRUPT_WINDOW_EXITING);
  proc(proc_ctl::INTERRUPT_WINDOW_EXITING);  // unless vmcs12 asks for the window itself
  EXPECT_TRUE(merge().proc & proc_ctl::INTERRUPT_WINDOW_EXITING);
}

// ---- Secondary controls (SDM 24.6.2) ----------------------------------------

TEST_F(NestedMerge, SecondaryControlsAlwaysActiveWithEpt) {
  proc(0);  // vmcs12 without secondary controls
  const Vmcs02Controls m = merge();
  EXPECT_TRUE(m.proc & proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
  EXPECT_TRUE(m.proc2 & proc_ctl2::ENABLE_EPT);  // EPT01 then
  EXPECT_FALSE(m.ept12);
}

TEST_F(NestedMerge, Vmcs12sSecondaryControlsCountOnlyWhenActivated) {
  c.set(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::WBINVD_EXITING | proc_ctl2::ENABLE_EPT);
  proc(0);
  EXPECT_FALSE(merge().proc2 & proc_ctl2::WBINVD_EXITING);
  EXPECT_FALSE(merge().ept12);
  proc2(proc_ctl2::WBINVD_EXITING | proc_ctl2::ENABLE_EPT);
  EXPECT_TRUE(merge().proc2 & proc_ctl2::WBINVD_EXITING);
  EXPECT_TRUE(merge().ept12);
}

TEST_F(NestedMerge, Vmcs12sSecondaryExitsAndModesAreKept) {
  const uint32_t kept =
      proc_ctl2::ENABLE_RDTSCP | proc_ctl2::WBINVD_EXITING | proc_ctl2::DESCRIPTOR_TABLE_EXITING | proc_ctl2::UNRESTRICTED_GUEST;
  proc2(kept);
  EXPECT_EQ(merge().proc2 & kept, kept);
  proc2(0);
  EXPECT_EQ(merge().proc2 & kept, 0u);
}

TEST_F(NestedMerge, VpidIsL1vmmsNotVmcs12s) {
  proc2(proc_ctl2::ENABLE_VPID);
  own.vpid = false;
  EXPECT_FALSE(merge().proc2 & proc_ctl2::ENABLE_VPID);
  own.vpid = true;
  proc2(0);
  EXPECT_TRUE(merge().proc2 & proc_ctl2::ENABLE_VPID);  // vpid02 whatever vpid12 is
}

// Shadowing, PML and x2APIC virtualization are emulated by l1-vmm
// (shadow_vmcs.cpp, nested_ept.cpp, apic_virt.cpp), never the platform's
// for vmcs02; the APIC-access page and APIC-register virtualization are
// the platform's, on vmcs12's pages.
TEST_F(NestedMerge, SecondaryControlsL1vmmEmulatesAreDropped) {
  constexpr uint32_t emulated = proc_ctl2::VMCS_SHADOWING | proc_ctl2::ENABLE_PML | proc_ctl2::VIRTUALIZE_X2APIC_MODE;
  proc2(emulated);
  EXPECT_EQ(merge().proc2 & emulated, 0u);
}

TEST_F(NestedMerge, TheApicAccessPageAndRegisterVirtualizationAreVmcs12s) {
  constexpr uint32_t platform = proc_ctl2::VIRTUALIZE_APIC_ACCESSES | proc_ctl2::APIC_REGISTER_VIRTUALIZATION;
  proc2(platform);
  EXPECT_EQ(merge().proc2 & platform, platform);
  proc2(0);
  EXPECT_EQ(merge().proc2 & platform, 0u);
}

// ---- VM-exit and VM-entry controls ------------------------------------------

TEST_F(NestedMerge, ExitControlsAreL1vmmsPlusVmcs12sAckTimerAndDebugSave) {
  c.set(F::VM_EXIT_CONTROLS, exit_ctl::ACK_INTERRUPT_ON_EXIT | exit_ctl::SAVE_PREEMPTION_TIMER);
  Vmcs02Controls m = merge();
  EXPECT_TRUE(m.exit & exit_ctl::ACK_INTERRUPT_ON_EXIT);
  EXPECT_TRUE(m.exit & exit_ctl::SAVE_PREEMPTION_TIMER);
  EXPECT_EQ(m.exit & own.exit, own.exit);
  EXPECT_TRUE(ctls_valid(own.platform_exit_caps, m.exit));
  c.set(F::VM_EXIT_CONTROLS, 0);
  m = merge();
  EXPECT_FALSE(m.exit & exit_ctl::ACK_INTERRUPT_ON_EXIT);
  EXPECT_FALSE(m.exit & exit_ctl::SAVE_PREEMPTION_TIMER);
}

TEST_F(NestedMerge, Vmcs12sHostSideExitControlsAreNotMerged) {
  // vmcs02's exits return to l1-vmm: its host state, its EFER/PAT loading.
  c.set(F::VM_EXIT_CONTROLS, exit_ctl::DEFAULT1);  // a 32-bit host, no EFER/PAT switch
  own.exit &= ~(exit_ctl::LOAD_PAT | exit_ctl::SAVE_PAT);
  const uint32_t e = merge().exit;
  EXPECT_TRUE(e & exit_ctl::HOST_ADDRESS_SPACE_SIZE);
  EXPECT_TRUE(e & exit_ctl::LOAD_EFER);
  c.set(F::VM_EXIT_CONTROLS, exit_ctl::LOAD_PAT | exit_ctl::SAVE_PAT);
  EXPECT_FALSE(merge().exit & exit_ctl::LOAD_PAT);
  EXPECT_FALSE(merge().exit & exit_ctl::SAVE_PAT);
}

TEST_F(NestedMerge, MergedExitAndEntryControlsRespectThePlatform) {
  // A bit the platform forces to 1 is set; one it cannot set is dropped.
  own.platform_exit_caps = ctls_make(exit_ctl::DEFAULT1, ~exit_ctl::SAVE_PREEMPTION_TIMER);
  c.set(F::VM_EXIT_CONTROLS, exit_ctl::SAVE_PREEMPTION_TIMER);
  own.exit = 0;
  EXPECT_FALSE(merge().exit & exit_ctl::SAVE_PREEMPTION_TIMER);
  EXPECT_EQ(merge().exit & exit_ctl::DEFAULT1, exit_ctl::DEFAULT1);
  own.platform_entry_caps = ctls_make(entry_ctl::DEFAULT1, ~entry_ctl::LOAD_DEBUG_CONTROLS);
  c.set(F::VM_ENTRY_CONTROLS, entry_ctl::LOAD_DEBUG_CONTROLS);
  EXPECT_FALSE(merge().entry & entry_ctl::LOAD_DEBUG_CONTROLS);
}

TEST_F(NestedMerge, EntryControlsTakeVmcs12sModeAndDebugLoad) {
  c.set(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST | entry_ctl::LOAD_DEBUG_CONTROLS);
  Vmcs02Controls m = merge();
  EXPECT_TRUE(m.entry & entry_ctl::IA32E_MODE_GUEST);
  EXPECT_TRUE(m.entry & entry_ctl::LOAD_DEBUG_CONTROLS);
  EXPECT_TRUE(m.entry & entry_ctl::LOAD_EFER);  // l1-vmm's: vmcs02 always switches EFER
  c.set(F::VM_ENTRY_CONTROLS, 0);
  own.entry &= ~entry_ctl::LOAD_DEBUG_CONTROLS;
  m = merge();
  EXPECT_FALSE(m.entry & entry_ctl::IA32E_MODE_GUEST);  // a 32-bit level k+2
  EXPECT_FALSE(m.entry & entry_ctl::LOAD_DEBUG_CONTROLS);
}

// ---- Exceptions (SDM 25.2) -----------------------------------------------------

TEST_F(NestedMerge, ExceptionBitmapIsTheUnionOfBothLevels) {
  c.set(F::EXCEPTION_BITMAP, kUdBit);
  own.exit_exc = 1u << uint8_t(arch::Vector::GP);
  EXPECT_EQ(merge().exception_bitmap, kUdBit | own.exit_exc);
  own.exit_exc = 0;
  EXPECT_EQ(merge().exception_bitmap, kUdBit);
}

TEST_F(NestedMerge, PageFaultMaskAndMatchAreVmcs12sUnlessL1vmmWantsEveryPageFault) {
  c.set(F::EXCEPTION_BITMAP, kPfBit);
  c.set(F::PAGE_FAULT_ERROR_CODE_MASK, 1);
  c.set(F::PAGE_FAULT_ERROR_CODE_MATCH, 1);
  Vmcs02Controls m = merge();
  EXPECT_EQ(m.pf_error_code_mask, 1u);
  EXPECT_EQ(m.pf_error_code_match, 1u);
  own.exit_exc = kPfBit;  // mask = match = 0 with bit 14: every #PF exits
  m = merge();
  EXPECT_EQ(m.pf_error_code_mask, 0u);
  EXPECT_EQ(m.pf_error_code_match, 0u);
  EXPECT_TRUE(m.exception_bitmap & kPfBit);
}

// With l1-vmm's exceptions, vmcs02 makes every exception exit that vmcs12
// asks for (no exit level k+1 wants is lost), judged by l1_wants_exception
// on a vmcs12-shaped copy of vmcs02's values.
TEST_F(NestedMerge, Vmcs02ExitsOnEveryExceptionVmcs12Wants) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 2000; i++) {
    c.set(F::EXCEPTION_BITMAP, uint32_t(rng()));
    c.set(F::PAGE_FAULT_ERROR_CODE_MASK, uint32_t(rng()) & 0x1f);
    c.set(F::PAGE_FAULT_ERROR_CODE_MATCH, uint32_t(rng()) & 0x1f);
    own.exit_exc = (rng() & 1) ? kPfBit : uint32_t(rng()) & ~kPfBit;
    const Vmcs02Controls m = merge();
    Vmcs12 as02;
    as02.set(F::EXCEPTION_BITMAP, m.exception_bitmap);
    as02.set(F::PAGE_FAULT_ERROR_CODE_MASK, m.pf_error_code_mask);
    as02.set(F::PAGE_FAULT_ERROR_CODE_MATCH, m.pf_error_code_match);
    for (uint8_t vector : {uint8_t(6), uint8_t(13), uint8_t(14)}) {
      const uint32_t info = make_intr_info(vector, intr_info::TYPE_HARDWARE_EXCEPTION, vector != 6);
      const uint32_t error = uint32_t(rng()) & 0x1f;
      if (l1_wants_exception(c, info, error)) {
        ASSERT_TRUE(l1_wants_exception(as02, info, error)) << "vector " << unsigned(vector) << " error " << error;
      }
    }
  }
}

// ---- The VMX-preemption timer --------------------------------------------------

TEST_F(NestedMerge, TimerIsVmcs12sWhenItActivatesOne) {
  c.set(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::PREEMPTION_TIMER);
  c.set(F::VMX_PREEMPTION_TIMER_VALUE, 1234);
  own.pin |= pin_ctl::PREEMPTION_TIMER;
  own.preempt = 99;
  Vmcs02Controls m = merge();
  EXPECT_TRUE(m.timer);
  EXPECT_EQ(m.timer_value, 1234u);
  c.set(F::PIN_BASED_VM_EXEC_CONTROL, 0);  // only l1-vmm's
  m = merge();
  EXPECT_TRUE(m.timer);
  EXPECT_EQ(m.timer_value, 99u);
}

TEST_F(NestedMerge, NoTimerWhenNeitherLevelActivatesOne) {
  c.set(F::VMX_PREEMPTION_TIMER_VALUE, 1234);
  EXPECT_FALSE(merge().timer);
  EXPECT_FALSE(merge().pin & pin_ctl::PREEMPTION_TIMER);
}

// ---- CR0/CR4 (SDM 24.6.6 masks and read shadows; 25.3 MOV from CR) -------------

// What MOV from CR reads under a mask and shadow (SDM 25.3).
uint64_t guest_view(uint64_t value, uint64_t mask, uint64_t shadow) { return (value & ~mask) | (shadow & mask); }

TEST(NestedMergeCr, MaskIsEitherLevelsAndValueIsVmcs12s) {
  const MergedCr m = merge_cr(cr0::PE | cr0::PG | cr0::NE, cr0::PG, 0, cr0::NE | cr0::CD);
  EXPECT_EQ(m.value, cr0::PE | cr0::PG | cr0::NE);
  EXPECT_EQ(m.mask, cr0::PG | cr0::NE | cr0::CD);
  EXPECT_EQ(merge_cr(0, 0, 0, 0).mask, 0u);
}

TEST(NestedMergeCr, ShadowIsVmcs12sForItsBitsAndTheGuestValueForTheRest) {
  // PG: level k+1's (shadow12 says 0); NE: only l1-vmm's (the guest's own 1).
  const MergedCr m = merge_cr(cr0::PE | cr0::PG | cr0::NE, cr0::PG, 0, cr0::NE);
  EXPECT_FALSE(m.shadow & cr0::PG);
  EXPECT_TRUE(m.shadow & cr0::NE);
  // Level k+2 reads what it would read under vmcs12 alone.
  EXPECT_EQ(guest_view(m.value, m.mask, m.shadow), guest_view(cr0::PE | cr0::PG | cr0::NE, cr0::PG, 0));
}

// Properties over many values: level k+2 reads vmcs12's view; every MOV to
// CR0 that vmcs12 intercepts exits from vmcs02 (l1_wants_cr_access judges
// both); a MOV that neither level's mask covers does not exit.
TEST(NestedMergeCr, ReadsAndInterceptsMatchVmcs12ForAnyValues) {
  std::mt19937_64 rng(7);
  namespace qc = qual_cr_access;
  const uint64_t mov_cr0 = qc::CR.make(0) | qc::ACCESS_TYPE.make(qc::MOV_TO_CR);
  for (int i = 0; i < 5000; i++) {
    const uint64_t g = rng() & 0xe005003f, m12 = rng() & 0xe005003f, s12 = rng() & 0xe005003f,
                   own = rng() & 0xe005003f, src = rng() & 0xe005003f;
    const MergedCr m = merge_cr(g, m12, s12, own);
    ASSERT_EQ(guest_view(m.value, m.mask, m.shadow), guest_view(g, m12, s12));
    Vmcs12 c12, c02;
    c12.set(F::CR0_GUEST_HOST_MASK, m12);
    c12.set(F::CR0_READ_SHADOW, s12);
    c02.set(F::CR0_GUEST_HOST_MASK, m.mask);
    c02.set(F::CR0_READ_SHADOW, m.shadow);
    const bool wants12 = l1_wants_cr_access(c12, mov_cr0, src);
    const bool exits02 = l1_wants_cr_access(c02, mov_cr0, src);
    if (wants12) {
      ASSERT_TRUE(exits02);
    }
    // A write that changes only bits neither level owns, relative to what
    // level k+2 reads, does not exit.
    const uint64_t harmless = (guest_view(g, m12, s12) & m.mask) | (src & ~m.mask);
    ASSERT_FALSE(l1_wants_cr_access(c02, mov_cr0, harmless));
  }
}

// ---- sync_vmcs02_to_vmcs12's CR0/CR4 (KVM's vmcs12_guest_cr0) -----------------

TEST(NestedSyncCr, BitsNobodyInterceptsComeFromTheRegister) {
  // Level k+2 set WP (owned by nobody) while running.
  const uint64_t cr12 = cr0::PE | cr0::PG, m12 = cr0::CD, own = cr0::NE;
  const MergedCr m = merge_cr(cr12, m12, 0, own);
  const uint64_t cr02 = m.value | cr0::WP;
  EXPECT_TRUE(vmcs12_guest_cr(cr02, m.shadow, m.mask, cr12, m12) & cr0::WP);
  EXPECT_FALSE(vmcs12_guest_cr(m.value, m.shadow, m.mask, cr12, m12) & cr0::WP);
}

TEST(NestedSyncCr, BitsLevelK1OwnsAreAsItLeftThem) {
  // Level k+1 owns CD with CD = 1 in its guest CR0; the register differs
  // (l1-vmm's own handling): vmcs12 keeps level k+1's value.
  const uint64_t cr12 = cr0::PE | cr0::CD, m12 = cr0::CD;
  const MergedCr m = merge_cr(cr12, m12, 0, 0);
  EXPECT_TRUE(vmcs12_guest_cr(m.value & ~cr0::CD, m.shadow, m.mask, cr12, m12) & cr0::CD);
  EXPECT_FALSE(vmcs12_guest_cr(m.value | cr0::CD, m.shadow, m.mask, cr12 & ~cr0::CD, m12) & cr0::CD);
}

TEST(NestedSyncCr, BitsOnlyL1vmmOwnsComeFromVmcs02sShadow) {
  // l1-vmm owns NE: the register holds what l1-vmm forces (NE = 1), the
  // shadow what level k+2 wrote (NE = 0, via l1-vmm's CR handler).
  const uint64_t cr12 = cr0::PE, m12 = 0, own = cr0::NE;
  const MergedCr m = merge_cr(cr12, m12, 0, own);
  const uint64_t cr02 = m.value | cr0::NE, shadow02 = m.shadow & ~cr0::NE;
  EXPECT_FALSE(vmcs12_guest_cr(cr02, shadow02, m.mask, cr12, m12) & cr0::NE);
  EXPECT_TRUE(vmcs12_guest_cr(cr02, shadow02 | cr0::NE, m.mask, cr12, m12) & cr0::NE);
}

TEST(NestedSyncCr, AnEntryAndAnExitWithNoChangeGiveVmcs12sValueBack) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5000; i++) {
    const uint64_t g = rng(), m12 = rng(), s12 = rng(), own = rng();
    const MergedCr m = merge_cr(g, m12, s12, own);
    ASSERT_EQ(vmcs12_guest_cr(m.value, m.shadow, m.mask, g, m12), g);
  }
}

}  // namespace
