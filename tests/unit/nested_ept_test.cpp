// Nested EPT on the host: the EPT walk (common/vmx/ept_walk, the one
// implementation of SDM 28.2 the sim's MMU and l1-vmm share) walking an
// EPT12 that a guest hypervisor built in its memory (a fake guest memory
// here), and the rules by which l1-vmm composes EPT02 = EPT12 o EPT01
// (l1-vmm/nested/ept02_rules.{h,cpp}). Each rule with a case that holds
// and one that does not.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/paging.h"
#include "common/vmx/ept_walk.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/nested/ept02_rules.h"

namespace {

using namespace arch::vmx;
using namespace nestbed::common::vmx;
using l1::GuestMemory;
using l1::nested::compose_ept02_leaf;
using l1::nested::Ept02Leaf;
using l1::nested::ept01_translate;
using l1::nested::ept12_request;
using l1::nested::ept12_violation_qualification;
namespace q = qual_ept_violation;
namespace e = ept_entry;

constexpr uint64_t K4 = 0x1000, M2 = 0x200000, G1 = 0x40000000;
constexpr uint64_t WB = ept_memory_type::WB << 3;  // memory type, bits 5:3
constexpr uint64_t R = e::READ.mask, W = e::WRITE.mask, X = e::EXECUTE.mask, RWX = e::RWX;

// Level k+1's memory, holding EPT12: 8-byte entries at guest-physical
// addresses; below kRamEnd is RAM (absent entries read 0), above is not.
constexpr uint64_t kRamEnd = 0x01000000;
struct Ept12Memory {
  std::map<uint64_t, uint64_t> entries;
  unsigned writes = 0;
  EptMemory view() {
    return EptMemory{this,
                     [](void* ctx, uint64_t pa, uint64_t& v) {
                       auto* m = static_cast<Ept12Memory*>(ctx);
                       if (pa >= kRamEnd) return false;
                       auto it = m->entries.find(pa);
                       v = it == m->entries.end() ? 0 : it->second;
                       return true;
                     },
                     [](void* ctx, uint64_t pa, uint64_t v) {
                       auto* m = static_cast<Ept12Memory*>(ctx);
                       m->entries[pa] = v;
                       m->writes++;
                     }};
  }
};

// EPT12's tables, at fixed addresses of level k+1's memory.
constexpr uint64_t kPml4 = 0x10000, kPdpt = 0x11000, kPd = 0x12000, kPt = 0x13000;
constexpr uint64_t kEptp = kPml4 | eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS) | ept_memory_type::WB;
constexpr uint64_t kEptpAd = kEptp | eptp::ENABLE_AD.mask;

uint64_t at(uint64_t table, uint64_t gpa, unsigned level) { return table + 8ull * ept_index(gpa, level); }

class NestedEpt : public ::testing::Test {
 protected:
  // gpa -> page through PML4E, PDPTE, PDE, PTE with `leaf` rights (the
  // tables RWX unless a test changes them).
  void map4k(uint64_t gpa, uint64_t page, uint64_t leaf_bits) {
    mem.entries[at(kPml4, gpa, 4)] = kPdpt | RWX;
    mem.entries[at(kPdpt, gpa, 3)] = kPd | RWX;
    mem.entries[at(kPd, gpa, 2)] = kPt | RWX;
    mem.entries[at(kPt, gpa, 1)] = page | leaf_bits;
  }
  void map2m(uint64_t gpa, uint64_t page, uint64_t leaf_bits) {
    mem.entries[at(kPml4, gpa, 4)] = kPdpt | RWX;
    mem.entries[at(kPdpt, gpa, 3)] = kPd | RWX;
    mem.entries[at(kPd, gpa, 2)] = page | leaf_bits | e::LARGE_PAGE.mask;
  }
  void map1g(uint64_t gpa, uint64_t page, uint64_t leaf_bits) {
    mem.entries[at(kPml4, gpa, 4)] = kPdpt | RWX;
    mem.entries[at(kPdpt, gpa, 3)] = page | leaf_bits | e::LARGE_PAGE.mask;
  }
  EptWalkResult walk(uint64_t gpa, EptAccess a, uint64_t eptp = kEptp, EptWalkOptions opt = {}) {
    return ept_walk(eptp, gpa, a, mem.view(), opt);
  }
  Ept12Memory mem;
};

// ---- Translation (SDM 28.2.2) ---------------------------------------------------

TEST_F(NestedEpt, FourKiBLeafTranslates) {
  map4k(0x5000, 0x800000, RWX | WB);
  const EptWalkResult r = walk(0x5123, EptAccess::Read);
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  EXPECT_EQ(r.address, 0x800123u);
  EXPECT_EQ(r.leaf_level, 1u);
  EXPECT_EQ(r.leaf, 0x800000 | RWX | WB);
  EXPECT_TRUE(r.readable && r.writable && r.executable);
}

TEST_F(NestedEpt, TwoMiBLeafTranslatesTheLow21Bits) {
  map2m(0x40000000, 0x600000, RWX | WB);
  const EptWalkResult r = walk(0x401fe123, EptAccess::Write);
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  EXPECT_EQ(r.address, 0x7fe123u);
  EXPECT_EQ(r.leaf_level, 2u);
}

TEST_F(NestedEpt, OneGiBLeafTranslatesTheLow30Bits) {
  map1g(0x80000000, 0x40000000, RWX | WB);
  const EptWalkResult r = walk(0x80123456, EptAccess::Exec);
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  EXPECT_EQ(r.address, 0x40123456u);
  EXPECT_EQ(r.leaf_level, 3u);
}

TEST_F(NestedEpt, TableOutsideGuestMemoryIsNoMemory) {
  map4k(0x5000, 0x800000, RWX | WB);
  mem.entries[at(kPd, 0x5000, 2)] = 0x40000000 | RWX;  // the PT is not RAM
  const EptWalkResult r = walk(0x5000, EptAccess::Read);
  EXPECT_EQ(r.status, EptWalkStatus::NoMemory);
  EXPECT_EQ(r.address, at(0x40000000, 0x5000, 1));
}

// ---- EPT violations (SDM 28.2.3.2; qualification bits 5:0, table 27-7) --------

TEST_F(NestedEpt, NotPresentEntryIsAViolationWithNoPermissionBits) {
  // Nothing mapped: the PML4E is not present.
  EptWalkResult r = walk(0x5000, EptAccess::Write);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::WRITE.mask);
  // Present down to the PDE, PTE not present.
  map4k(0x5000, 0x800000, 0);
  r = walk(0x5000, EptAccess::Read);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::READ.mask);
}

TEST_F(NestedEpt, WriteToAReadOnlyPageIsAViolationReportingItsRights) {
  map4k(0x5000, 0x800000, R | X | WB);
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Ok);
  const EptWalkResult r = walk(0x5000, EptAccess::Write);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::WRITE.mask | q::READABLE.mask | q::EXECUTABLE.mask);
}

TEST_F(NestedEpt, FetchFromANonExecutablePageIsAViolation) {
  map4k(0x5000, 0x800000, R | W | WB);
  EXPECT_EQ(walk(0x5000, EptAccess::Write).status, EptWalkStatus::Ok);
  const EptWalkResult r = walk(0x5000, EptAccess::Exec);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::FETCH.mask | q::READABLE.mask | q::WRITABLE.mask);
}

TEST_F(NestedEpt, RightsAreTheAndOfEveryLevel) {
  // A read-only PDE over a writable PTE: not writable.
  map4k(0x5000, 0x800000, RWX | WB);
  mem.entries[at(kPd, 0x5000, 2)] = kPt | R | X;
  EXPECT_EQ(walk(0x5000, EptAccess::Exec).status, EptWalkStatus::Ok);
  const EptWalkResult r = walk(0x5000, EptAccess::Write);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::WRITE.mask | q::READABLE.mask | q::EXECUTABLE.mask);
}

// ---- EPT misconfigurations (SDM 28.2.3.1) -----------------------------------------

TEST_F(NestedEpt, WriteWithoutReadIsAMisconfiguration) {
  map4k(0x5000, 0x800000, W | X | WB);
  EXPECT_EQ(walk(0x5000, EptAccess::Exec).status, EptWalkStatus::Misconfig);
  map4k(0x5000, 0x800000, RWX | WB);
  mem.entries[at(kPdpt, 0x5000, 3)] = kPd | W;  // in a non-leaf entry too
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Misconfig);
}

TEST_F(NestedEpt, ExecuteOnlyIsAMisconfigurationOnlyWithoutTheCapability) {
  map4k(0x5000, 0x800000, X | WB);
  EptWalkOptions with, without;
  with.execute_only = true;
  without.execute_only = false;
  EXPECT_EQ(walk(0x5000, EptAccess::Exec, kEptp, with).status, EptWalkStatus::Ok);
  EXPECT_EQ(walk(0x5000, EptAccess::Read, kEptp, with).status, EptWalkStatus::Violation);
  EXPECT_EQ(walk(0x5000, EptAccess::Exec, kEptp, without).status, EptWalkStatus::Misconfig);
}

TEST_F(NestedEpt, ReservedMemoryTypesInALeafAreMisconfigurations) {
  for (uint64_t type : {2u, 3u, 7u}) {
    map4k(0x5000, 0x800000, RWX | (type << 3));
    EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Misconfig) << type;
  }
  for (uint64_t type : {0u, 1u, 4u, 5u, 6u}) {
    map4k(0x5000, 0x800000, RWX | (type << 3));
    EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Ok) << type;
  }
}

TEST_F(NestedEpt, ReservedBitsOfNonLeafEntriesAreMisconfigurations) {
  map4k(0x5000, 0x800000, RWX | WB);
  mem.entries[at(kPml4, 0x5000, 4)] = kPdpt | RWX | e::LARGE_PAGE.mask;  // bit 7 reserved in a PML4E
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Misconfig);
  mem.entries[at(kPml4, 0x5000, 4)] = kPdpt | RWX;
  mem.entries[at(kPdpt, 0x5000, 3)] = kPd | RWX | WB;  // memory type bits reserved in a non-leaf
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Misconfig);
  mem.entries[at(kPdpt, 0x5000, 3)] = kPd | RWX | (1ull << 51);  // beyond MAXPHYADDR
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Misconfig);
  mem.entries[at(kPdpt, 0x5000, 3)] = kPd | RWX;
  EXPECT_EQ(walk(0x5000, EptAccess::Read).status, EptWalkStatus::Ok);
}

TEST_F(NestedEpt, LargePageAddressBitsBelowItsSizeAreReserved) {
  map2m(0x40000000, 0x600000 | 0x1000, RWX | WB);  // bit 12 of a 2 MiB leaf
  EXPECT_EQ(walk(0x40000000, EptAccess::Read).status, EptWalkStatus::Misconfig);
  map1g(0x80000000, 0x40000000 | 0x200000, RWX | WB);  // bit 21 of a 1 GiB leaf
  EXPECT_EQ(walk(0x80000000, EptAccess::Read).status, EptWalkStatus::Misconfig);
  map2m(0x40000000, 0x600000, RWX | WB);
  EXPECT_EQ(walk(0x40000000, EptAccess::Read).status, EptWalkStatus::Ok);
}

TEST_F(NestedEpt, AMisconfigurationOutranksAMissingRight) {
  // A leaf with W but no R is misconfigured even for an access it would
  // also forbid (SDM 28.2.3: misconfigurations are detected first).
  map4k(0x5000, 0x800000, W | WB);
  EXPECT_EQ(walk(0x5000, EptAccess::Exec).status, EptWalkStatus::Misconfig);
}

// ---- Accessed and dirty flags (SDM 28.2.4) -----------------------------------------

TEST_F(NestedEpt, WithAdAReadSetsAccessedOnEveryEntryButNoDirty) {
  map4k(0x5000, 0x800000, RWX | WB);
  const EptWalkResult r = walk(0x5000, EptAccess::Read, kEptpAd);
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  for (uint64_t pa : {at(kPml4, 0x5000, 4), at(kPdpt, 0x5000, 3), at(kPd, 0x5000, 2), at(kPt, 0x5000, 1)})
    EXPECT_TRUE(e::ACCESSED.test(mem.entries[pa])) << std::hex << pa;
  EXPECT_FALSE(e::DIRTY.test(mem.entries[at(kPt, 0x5000, 1)]));
  EXPECT_TRUE(e::ACCESSED.test(r.leaf));
}

TEST_F(NestedEpt, WithAdAWriteSetsDirtyOnTheLeafOnly) {
  map4k(0x5000, 0x800000, RWX | WB);
  const EptWalkResult r = walk(0x5000, EptAccess::Write, kEptpAd);
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  EXPECT_TRUE(e::DIRTY.test(mem.entries[at(kPt, 0x5000, 1)]));
  EXPECT_TRUE(e::DIRTY.test(r.leaf));
  EXPECT_FALSE(e::DIRTY.test(mem.entries[at(kPd, 0x5000, 2)]));
}

TEST_F(NestedEpt, WithAdALargeLeafGetsItsDirtyFlag) {
  map2m(0x40000000, 0x600000, RWX | WB);
  ASSERT_EQ(walk(0x40000000, EptAccess::Write, kEptpAd).status, EptWalkStatus::Ok);
  EXPECT_TRUE(e::DIRTY.test(mem.entries[at(kPd, 0x40000000, 2)]));
}

// Page-modification logging (SDM 28.2.5): the walk calls log_dirty before
// a leaf's dirty flag goes from 0 to 1, and only then.
struct PmlLog {
  std::vector<uint64_t> logged;
  bool full = false;
  static bool log(void* ctx, uint64_t gpa) {
    auto* l = static_cast<PmlLog*>(ctx);
    if (l->full) return false;
    l->logged.push_back(gpa);
    return true;
  }
};
PmlLog* g_pml = nullptr;  // the ctx of EptMemory is the Ept12Memory; the log is reached through this

TEST_F(NestedEpt, PmlLogsTheFirstWriteToACleanPageOnly) {
  map4k(0x5000, 0x800000, RWX | WB);
  PmlLog log;
  g_pml = &log;
  EptMemory m = mem.view();
  m.log_dirty = [](void*, uint64_t gpa) { return PmlLog::log(g_pml, gpa); };
  EXPECT_EQ(ept_walk(kEptpAd, 0x5123, EptAccess::Read, m).status, EptWalkStatus::Ok);
  EXPECT_TRUE(log.logged.empty()) << "a read sets no dirty flag";
  EXPECT_EQ(ept_walk(kEptpAd, 0x5123, EptAccess::Write, m).status, EptWalkStatus::Ok);
  EXPECT_EQ(ept_walk(kEptpAd, 0x5456, EptAccess::Write, m).status, EptWalkStatus::Ok);
  EXPECT_EQ(log.logged, std::vector<uint64_t>{0x5123}) << "logged once, when the dirty flag was set";
  log.logged.clear();
  map4k(0x6000, 0x801000, RWX | WB);
  EXPECT_EQ(ept_walk(kEptp, 0x6000, EptAccess::Write, m).status, EptWalkStatus::Ok);
  EXPECT_TRUE(log.logged.empty()) << "without EPT A/D flags nothing is logged";
}

TEST_F(NestedEpt, AFullPmlLogEndsTheWalkWithTheLeafUntouched) {
  map4k(0x5000, 0x800000, RWX | WB);
  PmlLog log;
  log.full = true;
  g_pml = &log;
  EptMemory m = mem.view();
  m.log_dirty = [](void*, uint64_t gpa) { return PmlLog::log(g_pml, gpa); };
  EXPECT_EQ(ept_walk(kEptpAd, 0x5000, EptAccess::Write, m).status, EptWalkStatus::LogFull);
  const uint64_t leaf = mem.entries[at(kPt, 0x5000, 1)];
  EXPECT_FALSE(e::DIRTY.test(leaf) || e::ACCESSED.test(leaf)) << std::hex << leaf;
}

TEST_F(NestedEpt, WithoutAdNothingIsWritten) {
  map4k(0x5000, 0x800000, RWX | WB);
  ASSERT_EQ(walk(0x5000, EptAccess::Write, kEptp).status, EptWalkStatus::Ok);
  EXPECT_EQ(mem.writes, 0u);
  EXPECT_FALSE(e::ACCESSED.test(mem.entries[at(kPt, 0x5000, 1)]));
}

TEST_F(NestedEpt, FlagsAlreadySetAreNotWrittenAgain) {
  map4k(0x5000, 0x800000, RWX | WB);
  ASSERT_EQ(walk(0x5000, EptAccess::Write, kEptpAd).status, EptWalkStatus::Ok);
  const unsigned writes = mem.writes;
  EXPECT_EQ(writes, 4u);  // A on four entries, D with the leaf's
  ASSERT_EQ(walk(0x5000, EptAccess::Write, kEptpAd).status, EptWalkStatus::Ok);
  EXPECT_EQ(mem.writes, writes);
}

TEST_F(NestedEpt, AViolationDoesNotSetTheLeafsFlags) {
  map4k(0x5000, 0x800000, R | WB);
  ASSERT_EQ(walk(0x5000, EptAccess::Write, kEptpAd).status, EptWalkStatus::Violation);
  EXPECT_FALSE(e::DIRTY.test(mem.entries[at(kPt, 0x5000, 1)]));
}

// ---- Guest paging-structure accesses (SDM 28.2.3.2, 28.2.4): with EPT A/D,
// a walk of level k+2's page tables is a write for EPT -----------------------

constexpr uint64_t kQualPagingStructure = q::READ.mask | q::GLA_VALID.mask;  // translated = 0
constexpr uint64_t kQualTranslation = q::READ.mask | q::GLA_VALID.mask | q::GLA_TRANSLATED.mask;

TEST_F(NestedEpt, PagingStructureReadIsAWriteWithAd) {
  const auto req = ept12_request(kQualPagingStructure, kEptpAd, true);
  EXPECT_EQ(req.access, EptAccess::Write);
  EXPECT_TRUE(req.options.paging_structure);
  const auto no_ad = ept12_request(kQualPagingStructure, kEptp, true);
  EXPECT_EQ(no_ad.access, EptAccess::Read);
}

TEST_F(NestedEpt, AccessToTheTranslationIsNotAPagingStructureAccess) {
  const auto req = ept12_request(kQualTranslation, kEptpAd, true);
  EXPECT_EQ(req.access, EptAccess::Read);
  EXPECT_FALSE(req.options.paging_structure);
  // Without a linear address (e.g. a PDPTE load) it is not one either.
  EXPECT_FALSE(ept12_request(q::READ.mask, kEptpAd, true).options.paging_structure);
}

TEST_F(NestedEpt, RequestTakesTheAccessFromTheQualification) {
  EXPECT_EQ(ept12_request(q::FETCH.mask | q::READ.mask, kEptp, true).access, EptAccess::Exec);
  EXPECT_EQ(ept12_request(q::WRITE.mask, kEptp, true).access, EptAccess::Write);
  EXPECT_EQ(ept12_request(q::READ.mask, kEptp, true).access, EptAccess::Read);
  EXPECT_TRUE(ept12_request(0, kEptp, true).options.execute_only);
  EXPECT_FALSE(ept12_request(0, kEptp, false).options.execute_only);
}

TEST_F(NestedEpt, PagingStructureAccessToAReadOnlyPageWithAdReportsReadAndWrite) {
  map4k(0x5000, 0x800000, R | WB);
  const auto req = ept12_request(kQualPagingStructure, kEptpAd, true);
  const EptWalkResult r = walk(0x5000, req.access, kEptpAd, req.options);
  ASSERT_EQ(r.status, EptWalkStatus::Violation);
  EXPECT_EQ(r.qualification, q::READ.mask | q::WRITE.mask | q::READABLE.mask);
  // Without A/D the same access is a read, and allowed.
  const auto req0 = ept12_request(kQualPagingStructure, kEptp, true);
  EXPECT_EQ(walk(0x5000, req0.access, kEptp, req0.options).status, EptWalkStatus::Ok);
}

TEST_F(NestedEpt, PagingStructureAccessWithAdSetsDirty) {
  map4k(0x5000, 0x800000, RWX | WB);
  const auto req = ept12_request(kQualPagingStructure, kEptpAd, true);
  ASSERT_EQ(walk(0x5000, req.access, kEptpAd, req.options).status, EptWalkStatus::Ok);
  EXPECT_TRUE(e::DIRTY.test(mem.entries[at(kPt, 0x5000, 1)]));
}

// ---- What level k+1 is told (SDM 27.2.1, table 27-7) ------------------------------

TEST(NestedEptReflect, ViolationQualificationIsEpt12sWithThePlatformsLinearAddressAndNmiBits) {
  const uint64_t walk_bits = q::WRITE.mask | q::READABLE.mask;
  const uint64_t qual02 = q::WRITE.mask | q::READABLE.mask | q::WRITABLE.mask | q::EXECUTABLE.mask |  // EPT02's rights
                          q::GLA_VALID.mask | q::GLA_TRANSLATED.mask | q::NMI_UNBLOCKING.mask;
  EXPECT_EQ(ept12_violation_qualification(walk_bits, qual02),
            walk_bits | q::GLA_VALID.mask | q::GLA_TRANSLATED.mask | q::NMI_UNBLOCKING.mask);
  // EPT02's permission bits never leak into level k+1's qualification.
  EXPECT_FALSE(ept12_violation_qualification(walk_bits, qual02) & q::WRITABLE.mask);
  EXPECT_EQ(ept12_violation_qualification(walk_bits, q::WRITE.mask), walk_bits);
}

// ---- EPT01 (l1-vmm/vmx/ept.cpp's build_ept01) ----------------------------------------

constexpr GuestMemory kRam{0x40000000, 0x08000000};  // 128 MiB at 1 GiB, 2 MiB aligned

TEST(NestedEpt01, RamIsReadWriteExecuteWriteBackAtBasePlusGpa) {
  uint64_t hpa = 0, bits = 0;
  ASSERT_TRUE(ept01_translate(kRam, 0x123456, hpa, bits));
  EXPECT_EQ(hpa, kRam.base + 0x123456);
  EXPECT_EQ(bits, RWX | WB);
  EXPECT_TRUE(ept01_translate(kRam, kRam.size - 1, hpa, bits));
  EXPECT_FALSE(ept01_translate(kRam, kRam.size, hpa, bits));
}

TEST(NestedEpt01, ApicPageIsReadWriteUncachedNotExecutable) {
  uint64_t hpa = 0, bits = 0;
  ASSERT_TRUE(ept01_translate(kRam, arch::apic::DEFAULT_BASE + 0x30, hpa, bits));
  EXPECT_EQ(hpa, arch::apic::DEFAULT_BASE + 0x30);
  EXPECT_EQ(bits, R | W | (ept_memory_type::UC << 3));
  EXPECT_FALSE(ept01_translate(kRam, arch::apic::DEFAULT_BASE + K4, hpa, bits));
  EXPECT_FALSE(ept01_translate(kRam, arch::apic::DEFAULT_BASE - K4, hpa, bits));
}

// ---- EPT02 = EPT12 o EPT01 ------------------------------------------------------------

EptWalkResult ok12(uint64_t address, uint64_t leaf, unsigned level) {
  EptWalkResult r;
  r.status = EptWalkStatus::Ok;
  r.address = address;
  r.leaf = leaf;
  r.leaf_level = level;
  r.readable = leaf & R;
  r.writable = leaf & W;
  r.executable = leaf & X;
  return r;
}
constexpr uint64_t kRamBits = RWX | WB;
constexpr uint64_t kApicBits = R | W | (ept_memory_type::UC << 3);

TEST(NestedEpt02, PermissionsAreEpt12sAndEpt01s) {
  // EPT12 read/execute over RAM: read/execute.
  Ept02Leaf l = compose_ept02_leaf(ok12(0x5000, 0x5000 | R | X | WB, 1), kEptp, EptAccess::Read, kRamBits, kRam, true);
  EXPECT_TRUE(l.allowed);
  EXPECT_EQ(l.bits & RWX, R | X);
  // EPT12 RWX over the APIC page: read/write, no execute.
  l = compose_ept02_leaf(ok12(arch::apic::DEFAULT_BASE, arch::apic::DEFAULT_BASE | RWX | WB, 1), kEptp,
                         EptAccess::Write, kApicBits, kRam, true);
  EXPECT_TRUE(l.allowed);
  EXPECT_EQ(l.bits & RWX, R | W);
}

TEST(NestedEpt02, AnAccessEpt01ForbidsIsNotAllowed) {
  const Ept02Leaf l = compose_ept02_leaf(ok12(arch::apic::DEFAULT_BASE, arch::apic::DEFAULT_BASE | RWX | WB, 1), kEptp,
                                         EptAccess::Exec, kApicBits, kRam, true);
  EXPECT_FALSE(l.allowed);
}

TEST(NestedEpt02, RightsAreTheWalksNotOnlyTheLeafs) {
  // The walk's AND (a read-only PDE over a RWX PTE) is what counts.
  EptWalkResult r = ok12(0x5000, 0x5000 | RWX | WB, 1);
  r.writable = false;
  const Ept02Leaf l = compose_ept02_leaf(r, kEptp, EptAccess::Read, kRamBits, kRam, true);
  EXPECT_EQ(l.bits & RWX, R | X);
}

TEST(NestedEpt02, WithEpt12AdAPageIsWritableOnlyOnceDirty) {
  // A read of a clean page: no write right in EPT02 yet, so the first
  // write faults and the walk sets EPT12's dirty flag.
  Ept02Leaf l = compose_ept02_leaf(ok12(0x5000, 0x5000 | RWX | WB | e::ACCESSED.mask, 1), kEptpAd, EptAccess::Read,
                                   kRamBits, kRam, true);
  EXPECT_TRUE(l.allowed);
  EXPECT_EQ(l.bits & RWX, R | X);
  l = compose_ept02_leaf(ok12(0x5000, 0x5000 | RWX | WB | e::ACCESSED.mask | e::DIRTY.mask, 1), kEptpAd,
                         EptAccess::Write, kRamBits, kRam, true);
  EXPECT_TRUE(l.allowed);
  EXPECT_EQ(l.bits & RWX, RWX);
  // Without A/D, writable at once.
  l = compose_ept02_leaf(ok12(0x5000, 0x5000 | RWX | WB, 1), kEptp, EptAccess::Read, kRamBits, kRam, true);
  EXPECT_EQ(l.bits & RWX, RWX);
}

TEST(NestedEpt02, WalkThenComposeMakesAWriteAllowedWithAd) {
  // The real sequence: a write walks EPT12 (setting dirty), then composes.
  Ept12Memory mem;
  mem.entries[at(kPml4, 0x5000, 4)] = kPdpt | RWX;
  mem.entries[at(kPdpt, 0x5000, 3)] = kPd | RWX;
  mem.entries[at(kPd, 0x5000, 2)] = kPt | RWX;
  mem.entries[at(kPt, 0x5000, 1)] = 0x6000 | RWX | WB;
  const EptWalkResult r = ept_walk(kEptpAd, 0x5000, EptAccess::Write, mem.view());
  ASSERT_EQ(r.status, EptWalkStatus::Ok);
  const Ept02Leaf l = compose_ept02_leaf(r, kEptpAd, EptAccess::Write, kRamBits, kRam, true);
  EXPECT_TRUE(l.allowed);
  EXPECT_TRUE(l.bits & W);
}

TEST(NestedEpt02, MemoryTypeAndIgnorePatAreEpt12sLeafs) {
  const uint64_t wt_ipat = (ept_memory_type::WT << 3) | e::IGNORE_PAT.mask;
  Ept02Leaf l = compose_ept02_leaf(ok12(0x5000, 0x5000 | RWX | wt_ipat, 1), kEptp, EptAccess::Read, kRamBits, kRam, true);
  EXPECT_EQ(l.bits & (e::MEMORY_TYPE.mask | e::IGNORE_PAT.mask), wt_ipat);
  l = compose_ept02_leaf(ok12(0x5000, 0x5000 | RWX | WB, 1), kEptp, EptAccess::Read, kRamBits, kRam, true);
  EXPECT_EQ(l.bits & (e::MEMORY_TYPE.mask | e::IGNORE_PAT.mask), WB);
  // Nothing else of EPT12's leaf (address, A/D, large page) is in the bits.
  l = compose_ept02_leaf(ok12(0x200000, 0x200000 | RWX | WB | e::LARGE_PAGE.mask | e::ACCESSED.mask, 2), kEptp,
                         EptAccess::Read, kRamBits, kRam, true);
  EXPECT_EQ(l.bits & ~(RWX | e::MEMORY_TYPE.mask | e::IGNORE_PAT.mask), 0u);
}

// EPT01 maps the local APIC's page uncached (MMIO must be): a guest
// hypervisor whose EPT12 maps that page write-back still gives level k+2 an
// uncached APIC page. (Found by this test: the composed leaf used to take
// EPT12's memory type alone.)
TEST(NestedEpt02, ApicPageKeepsEpt01sUncachedType) {
  const Ept02Leaf l = compose_ept02_leaf(ok12(arch::apic::DEFAULT_BASE, arch::apic::DEFAULT_BASE | RWX | WB, 1), kEptp,
                                         EptAccess::Read, kApicBits, kRam, true);
  EXPECT_EQ(e::MEMORY_TYPE.get(l.bits), uint64_t(ept_memory_type::UC));
}

// ---- 2 MiB EPT02 leaves -------------------------------------------------------------

TEST(NestedEpt02, TwoMiBLeafWhenEpt12MapsAtLeast2MiBOverContiguousRam) {
  EXPECT_EQ(compose_ept02_leaf(ok12(0x400123, 0x400000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp, EptAccess::Read,
                               kRamBits, kRam, true)
                .level,
            2u);
  EXPECT_EQ(compose_ept02_leaf(ok12(0x4400123, 0 | RWX | WB | e::LARGE_PAGE.mask, 3), kEptp, EptAccess::Read,
                               kRamBits, kRam, true)
                .level,
            2u);  // a 1 GiB EPT12 leaf: 2 MiB in EPT02
}

TEST(NestedEpt02, FourKiBLeafWhenEpt12MapsA4KiBPage) {
  EXPECT_EQ(compose_ept02_leaf(ok12(0x400123, 0x400000 | RWX | WB, 1), kEptp, EptAccess::Read, kRamBits, kRam, true)
                .level,
            1u);
}

TEST(NestedEpt02, FourKiBLeafWhenThePlatformHasNo2MiBPages) {
  EXPECT_EQ(compose_ept02_leaf(ok12(0x400123, 0x400000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp, EptAccess::Read,
                               kRamBits, kRam, false)
                .level,
            1u);
}

TEST(NestedEpt02, FourKiBLeafWhenThe2MiBRunPastLevelK1sRam) {
  // A RAM size that is not a multiple of 2 MiB: the last 2 MiB region is
  // partly not RAM.
  const GuestMemory ram{0x40000000, 0x00300000};  // 3 MiB
  EXPECT_EQ(compose_ept02_leaf(ok12(0x200000, 0x200000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp, EptAccess::Read,
                               kRamBits, ram, true)
                .level,
            1u);
  EXPECT_EQ(compose_ept02_leaf(ok12(0x100000, 0x000000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp, EptAccess::Read,
                               kRamBits, ram, true)
                .level,
            2u);
}

TEST(NestedEpt02, FourKiBLeafWhenRamIsNot2MiBAlignedInHostMemory) {
  const GuestMemory ram{0x40001000, 0x08000000};
  EXPECT_EQ(compose_ept02_leaf(ok12(0x400000, 0x400000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp, EptAccess::Read,
                               kRamBits, ram, true)
                .level,
            1u);
}

TEST(NestedEpt02, FourKiBLeafForTheApicPage) {
  EXPECT_EQ(compose_ept02_leaf(ok12(arch::apic::DEFAULT_BASE, 0xfee00000 | RWX | WB | e::LARGE_PAGE.mask, 2), kEptp,
                               EptAccess::Read, kApicBits, kRam, true)
                .level,
            1u);
}

}  // namespace
