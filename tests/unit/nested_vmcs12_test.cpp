// l1-vmm's vmcs12 (l1-vmm/nested/vmcs12.{h,cpp}) compiled for the host:
// VMREAD/VMWRITE semantics by encoding (SDM 30.3 "VMREAD", "VMWRITE";
// encodings SDM 24.11.2 and appendix B), the dirty fields VMRESUME
// rewrites, and the region layout in the guest hypervisor's memory
// (SDM 24.2: the data part is implementation-specific, here l1-vmm's).
// Each rule with a case that holds and one that does not.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "arch/vmx/vmx.h"
#include "l1-vmm/nested/vmcs12.h"

namespace {

using namespace arch::vmx;
using l1::nested::Vmcs12;
namespace layout = l1::nested::vmcs12_layout;
using F = VmcsField;

constexpr uint64_t kPattern = 0x0123456789abcdefull;

uint64_t enc(F f) { return uint64_t(uint32_t(f)); }
uint64_t high(F f) { return vmcs_field_high(f); }

std::set<unsigned> dirty_slots(const Vmcs12& c) {
  std::set<unsigned> s;
  c.for_each_dirty([&s](unsigned slot) { s.insert(slot); });
  return s;
}

// An encoding of the right shape that names no field of the table.
uint64_t unknown_encoding() {
  for (unsigned index = 0; index < 512; index++) {
    const uint32_t e = vmcs_encode(VmcsWidth::BITS32, VmcsType::CONTROL, index);
    if (!vmcs_field_known(e)) return e;
  }
  ADD_FAILURE() << "every 32-bit control encoding is a field";
  return 0;
}

// ---- VMREAD/VMWRITE by width (SDM 30.3: a field narrower than the operand
// takes the operand's low bits on VMWRITE and zero-extends on VMREAD) -------

TEST(NestedVmcs12, Vmwrite16BitFieldKeepsLow16Bits) {
  Vmcs12 c;
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_ES_SELECTOR), kPattern));
  uint64_t v = ~0ull;
  ASSERT_TRUE(c.vmread(enc(F::GUEST_ES_SELECTOR), v));
  EXPECT_EQ(v, 0xcdefu);
  EXPECT_EQ(c.get(F::GUEST_ES_SELECTOR), 0xcdefu);
}

TEST(NestedVmcs12, Vmwrite32BitFieldKeepsLow32Bits) {
  Vmcs12 c;
  ASSERT_TRUE(c.vmwrite(enc(F::PIN_BASED_VM_EXEC_CONTROL), kPattern));
  uint64_t v = ~0ull;
  ASSERT_TRUE(c.vmread(enc(F::PIN_BASED_VM_EXEC_CONTROL), v));
  EXPECT_EQ(v, 0x89abcdefu);
}

TEST(NestedVmcs12, Vmwrite64BitAndNaturalFieldsKeepAll64Bits) {
  Vmcs12 c;
  uint64_t v = 0;
  ASSERT_TRUE(c.vmwrite(enc(F::TSC_OFFSET), kPattern));
  ASSERT_TRUE(c.vmread(enc(F::TSC_OFFSET), v));
  EXPECT_EQ(v, kPattern);
  // Natural width is 64 bits on a 64-bit processor (SDM 24.11.2).
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_RIP), kPattern));
  ASSERT_TRUE(c.vmread(enc(F::GUEST_RIP), v));
  EXPECT_EQ(v, kPattern);
}

// Every field of the table: all-ones in, its width's mask out.
TEST(NestedVmcs12, EveryFieldRoundTripsCutToItsWidth) {
  Vmcs12 c;
  for (const VmcsFieldInfo& f : kVmcsFields) {
    ASSERT_TRUE(c.vmwrite(f.encoding, ~0ull)) << f.name;
    uint64_t v = 0;
    ASSERT_TRUE(c.vmread(f.encoding, v)) << f.name;
    EXPECT_EQ(v, width_mask(f.width)) << f.name;
    ASSERT_TRUE(c.vmwrite(f.encoding, 0)) << f.name;
    ASSERT_TRUE(c.vmread(f.encoding, v)) << f.name;
    EXPECT_EQ(v, 0u) << f.name;
  }
}

// ---- HIGH encodings (SDM 24.11.2: bit 0 = 1 accesses bits 63:32 of a
// 64-bit field as a 32-bit field) --------------------------------------------

TEST(NestedVmcs12, HighEncodingWritesOnlyBits63To32) {
  Vmcs12 c;
  c.set(F::TSC_OFFSET, 0x1111111122222222ull);
  ASSERT_TRUE(c.vmwrite(high(F::TSC_OFFSET), 0xffffffffaaaaaaaaull));  // bits 63:32 of the operand ignored
  EXPECT_EQ(c.get(F::TSC_OFFSET), 0xaaaaaaaa22222222ull);
}

TEST(NestedVmcs12, HighEncodingReadsBits63To32) {
  Vmcs12 c;
  c.set(F::EPT_POINTER, 0x1234567890abcdefull);
  uint64_t v = 0;
  ASSERT_TRUE(c.vmread(high(F::EPT_POINTER), v));
  EXPECT_EQ(v, 0x12345678u);
  ASSERT_TRUE(c.vmread(enc(F::EPT_POINTER), v));
  EXPECT_EQ(v, 0x1234567890abcdefull);  // the FULL encoding still reads all 64 bits
}

TEST(NestedVmcs12, HighEncodingOfA16Or32BitOrNaturalFieldIsUnsupported) {
  Vmcs12 c;
  uint64_t v = 0x55;
  for (F f : {F::GUEST_ES_SELECTOR, F::PIN_BASED_VM_EXEC_CONTROL, F::GUEST_RIP}) {
    EXPECT_FALSE(c.vmread(high(f), v)) << vmcs_field_name(f);
    EXPECT_FALSE(c.vmwrite(high(f), 1)) << vmcs_field_name(f);
  }
  EXPECT_EQ(v, 0x55u);  // a failed VMREAD leaves the destination alone
}

// ---- Unsupported components (SDM 30.3: VM-instruction error 12) ------------

TEST(NestedVmcs12, UnknownEncodingIsUnsupported) {
  Vmcs12 c;
  const uint64_t e = unknown_encoding();
  uint64_t v = 7;
  EXPECT_FALSE(c.vmread(e, v));
  EXPECT_FALSE(c.vmwrite(e, 1));
  EXPECT_EQ(v, 7u);
  EXPECT_TRUE(dirty_slots(c).empty());
}

TEST(NestedVmcs12, EncodingWithReservedBitsIsUnsupported) {
  // SDM 30.3: in 64-bit mode, bits 63:32 of the encoding operand must be 0;
  // bit 12 and bits 31:15 are not part of any encoding (24.11.2).
  Vmcs12 c;
  uint64_t v = 0;
  ASSERT_TRUE(c.vmread(enc(F::GUEST_RIP), v));
  EXPECT_FALSE(c.vmread(enc(F::GUEST_RIP) | (1ull << 32), v));
  EXPECT_FALSE(c.vmread(enc(F::GUEST_RIP) | (1ull << 12), v));
  EXPECT_FALSE(c.vmwrite(enc(F::GUEST_RIP) | (1ull << 15), 1));
}

// ---- Dirty tracking: VMRESUME rewrites only what VMWRITE changed -----------

TEST(NestedVmcs12, VmwriteMarksExactlyTheWrittenFieldsDirty) {
  Vmcs12 c;
  // Fields in the first and in a later 64-slot word, and the last slot.
  const F a = F::GUEST_ES_SELECTOR, b = F::GUEST_RIP;
  const uint32_t last = kVmcsFieldEncodings[kVmcsFieldCount - 1];
  ASSERT_LT(vmcs_field_slot(a), 64);
  ASSERT_GE(vmcs_field_slot(b), 64);
  ASSERT_TRUE(c.vmwrite(enc(a), 1));
  ASSERT_TRUE(c.vmwrite(enc(b), 2));
  ASSERT_TRUE(c.vmwrite(last, 3));
  EXPECT_EQ(dirty_slots(c), (std::set<unsigned>{unsigned(vmcs_field_slot(a)), unsigned(vmcs_field_slot(b)),
                                                kVmcsFieldCount - 1}));
}

TEST(NestedVmcs12, HighVmwriteMarksItsFieldDirty) {
  Vmcs12 c;
  ASSERT_TRUE(c.vmwrite(high(F::TSC_OFFSET), 1));
  EXPECT_EQ(dirty_slots(c), std::set<unsigned>{unsigned(vmcs_field_slot(F::TSC_OFFSET))});
}

TEST(NestedVmcs12, SetAndFailedVmwriteAreNotDirty) {
  Vmcs12 c;
  c.set(F::GUEST_RIP, 5);  // l1-vmm's own write (e.g. the exit information)
  EXPECT_FALSE(c.vmwrite(high(F::GUEST_RIP), 1));
  EXPECT_TRUE(dirty_slots(c).empty());
}

TEST(NestedVmcs12, ClearDirtyAndLoadForgetTheDirtyFields) {
  Vmcs12 c;
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_RIP), 1));
  c.clear_dirty();
  EXPECT_TRUE(dirty_slots(c).empty());
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_RIP), 1));
  std::vector<uint8_t> region(4096, 0);
  c.load(region.data());
  EXPECT_TRUE(dirty_slots(c).empty());
}

TEST(NestedVmcs12, SetCutsToTheFieldWidth) {
  Vmcs12 c;
  c.set(F::GUEST_ES_SELECTOR, kPattern);
  EXPECT_EQ(c.get(F::GUEST_ES_SELECTOR), 0xcdefu);
  c.set(F::VM_EXIT_REASON, kPattern);
  EXPECT_EQ(c.get(F::VM_EXIT_REASON), 0x89abcdefu);
  EXPECT_TRUE(c.test(F::VM_EXIT_REASON, 1));
  EXPECT_FALSE(c.test(F::VM_EXIT_REASON, 0x10));
}

// ---- The region in guest memory (vmcs12.h's layout) -------------------------

TEST(NestedVmcs12, LayoutFitsTheAdvertisedRegion) {
  EXPECT_LE(layout::SIZE, 4096u);
  EXPECT_EQ(layout::SIZE, layout::FIELDS + 8 * kVmcsFieldCount);
  // Bit 31 of the revision identifier is the shadow-VMCS indicator (SDM 24.2).
  EXPECT_EQ(l1::nested::kVmcs12Revision & vmcs_region::SHADOW_VMCS_INDICATOR, 0u);
}

TEST(NestedVmcs12, StoreWritesEachFieldAtItsSlotAndTheLaunchState) {
  Vmcs12 c;
  for (unsigned i = 0; i < kVmcsFieldCount; i++) c.set(VmcsField(kVmcsFieldEncodings[i]), 0x100 + i);
  c.launched = true;
  std::vector<uint8_t> region(4096, 0xee);
  c.store(region.data());
  for (unsigned i = 0; i < kVmcsFieldCount; i++) {
    uint64_t v;
    std::memcpy(&v, region.data() + layout::FIELDS + 8 * i, 8);
    EXPECT_EQ(v, 0x100u + i) << kVmcsFields[i].name;
  }
  uint32_t state, revision, abort;
  std::memcpy(&state, region.data() + layout::LAUNCH_STATE, 4);
  std::memcpy(&revision, region.data() + layout::REVISION, 4);
  std::memcpy(&abort, region.data() + layout::ABORT, 4);
  EXPECT_EQ(state, 1u);
  // The revision and the VMX-abort indicator are the guest's and the
  // processor's (VMX abort) to write, not a VMCS store's.
  EXPECT_EQ(revision, 0xeeeeeeeeu);
  EXPECT_EQ(abort, 0xeeeeeeeeu);
  EXPECT_EQ(region[layout::SIZE], 0xee);  // nothing past the last field

  c.launched = false;
  c.store(region.data());
  std::memcpy(&state, region.data() + layout::LAUNCH_STATE, 4);
  EXPECT_EQ(state, 0u);
}

TEST(NestedVmcs12, LoadReadsTheFieldsAndTheLaunchState) {
  std::vector<uint8_t> region(4096, 0);
  const uint64_t rip = 0xffffffff80001000ull;
  std::memcpy(region.data() + layout::FIELDS + 8 * vmcs_field_slot(F::GUEST_RIP), &rip, 8);
  uint32_t state = 1;
  std::memcpy(region.data() + layout::LAUNCH_STATE, &state, 4);
  Vmcs12 c;
  c.load(region.data());
  EXPECT_EQ(c.get(F::GUEST_RIP), rip);
  EXPECT_TRUE(c.launched);
  // Only 1 means launched (0 is clear; anything else is not a state l1-vmm writes).
  for (uint32_t s : {0u, 2u, 0x100u}) {
    std::memcpy(region.data() + layout::LAUNCH_STATE, &s, 4);
    c.load(region.data());
    EXPECT_FALSE(c.launched) << s;
  }
}

TEST(NestedVmcs12, StoreThenLoadRoundTrips) {
  Vmcs12 a;
  for (const VmcsFieldInfo& f : kVmcsFields) ASSERT_TRUE(a.vmwrite(f.encoding, kPattern ^ f.encoding));
  a.launched = true;
  std::vector<uint8_t> region(4096, 0);
  a.store(region.data());
  Vmcs12 b;
  b.load(region.data());
  EXPECT_TRUE(b.launched);
  EXPECT_EQ(std::memcmp(a.fields(), b.fields(), 8 * kVmcsFieldCount), 0);
}

// ---- what changed, for the shadow VMCS and the cached entry checks ----------

std::set<unsigned> changed_slots(const Vmcs12& c) {
  std::set<unsigned> s;
  c.for_each_changed([&s](unsigned slot) { s.insert(slot); });
  return s;
}
unsigned slot_of(F f) { return unsigned(vmcs_field_slot(f)); }

TEST(NestedVmcs12, OnlyAChangedValueIsChanged) {
  Vmcs12 c;
  c.clear_changed();
  c.set(F::GUEST_RIP, 0);  // the value it had
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_RSP), 0));
  EXPECT_TRUE(changed_slots(c).empty());
  c.set(F::GUEST_RIP, 0x1000);
  ASSERT_TRUE(c.vmwrite(enc(F::GUEST_RSP), 0x2000));
  c.set_slot(slot_of(F::GUEST_RFLAGS), 2);
  EXPECT_EQ(changed_slots(c), (std::set<unsigned>{slot_of(F::GUEST_RIP), slot_of(F::GUEST_RSP),
                                                  slot_of(F::GUEST_RFLAGS)}));
  c.clear_changed();
  EXPECT_TRUE(changed_slots(c).empty());
}

TEST(NestedVmcs12, LoadChangesEveryField) {
  Vmcs12 c;
  c.clear_changed();
  std::vector<uint8_t> region(layout::SIZE, 0);
  c.load(region.data());
  EXPECT_EQ(changed_slots(c).size(), kVmcsFieldCount);
}

// The versions count changes of exactly the fields their checks read: a
// control or host-state field (SDM 26.2), a field of
// common::vmx::kGuestRegisterFields (SDM 26.3.1.1-26.3.1.3); a VMWRITE or
// set() of the same value is no change.
TEST(NestedVmcs12, VersionsCountChangesOfTheFieldsTheirChecksRead) {
  for (unsigned s = 0; s < kVmcsFieldCount; s++) {
    const uint32_t e = kVmcsFieldEncodings[s];
    const VmcsType type = vmcs_field_type(e);
    bool in_registers = false;
    for (F f : nestbed::common::vmx::kGuestRegisterFields) in_registers |= slot_of(f) == s;
    Vmcs12 c;
    const uint64_t ctl = c.controls_and_host_version(), regs = c.guest_registers_version();
    c.set_slot(s, 0);
    EXPECT_EQ(c.controls_and_host_version(), ctl);
    EXPECT_EQ(c.guest_registers_version(), regs);
    if (vmcs_field_read_only(e)) c.set_slot(s, 1);
    else ASSERT_TRUE(c.vmwrite(e, 1));
    const bool ctl_or_host = type == VmcsType::CONTROL || type == VmcsType::HOST;
    EXPECT_EQ(c.controls_and_host_version() != ctl, ctl_or_host) << vmcs_field_name(e);
    EXPECT_EQ(c.guest_registers_version() != regs, in_registers) << vmcs_field_name(e);
  }
}

}  // namespace
