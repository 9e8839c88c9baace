// The sim's guest-physical mappings (l0/sim/mmu/ept_cache.h, SDM 28.3): a
// mapping serves only the accesses it was filled for, only under the EPTP
// it was filled under, and no longer after a flush, however many flushes
// have gone by (the epoch wraps). What the EPT walk puts in it (A/D, PML,
// INVEPT) is vmx-selftest's: its invept, pml and ept-accessed-dirty tests
// fail without the flush or the dirty rule.
#include <gtest/gtest.h>

#include <cstdint>

#include "l0/sim/mmu/ept_cache.h"

namespace nestbed::sim {
namespace {

constexpr uint64_t kEptp = 0x5000 | 0x5e;  // WB, 4-level walk, A/D on
constexpr uint64_t kGpa = 0x123456;
constexpr uint64_t kHpa = 0x7654000;

TEST(EptCache, AMappingServesTheAccessesItWasFilledFor) {
  EptCache c;
  EXPECT_EQ(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss) << "empty";
  c.fill(kEptp, kGpa, kHpa | 0x456, EptCache::kRead | EptCache::kExec);
  const uint64_t hit = c.find(kEptp, kGpa + 0x10, EptCache::kRead);
  EXPECT_EQ(hit & ~0xfffull, kHpa) << "the page, for any offset in it";
  EXPECT_NE(c.find(kEptp, kGpa, EptCache::kExec), EptCache::kMiss);
  EXPECT_EQ(c.find(kEptp, kGpa, EptCache::kWrite), EptCache::kMiss) << "a write walks (and sets D)";
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead | EptCache::kWrite);
  EXPECT_NE(c.find(kEptp, kGpa, EptCache::kWrite), EptCache::kMiss);
  EXPECT_EQ(c.find(kEptp, kGpa, EptCache::kExec), EptCache::kMiss) << "a fill replaces the rights";
}

TEST(EptCache, AMappingBelongsToItsEptpAndPage) {
  EptCache c;
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  EXPECT_EQ(c.find(kEptp + 0x1000, kGpa, EptCache::kRead), EptCache::kMiss) << "another EP4TA";
  EXPECT_EQ(c.find(kEptp & ~0x40ull, kGpa, EptCache::kRead), EptCache::kMiss) << "A/D off";
  EXPECT_EQ(c.find(kEptp, kGpa + EptCache::kSize * 0x1000, EptCache::kRead), EptCache::kMiss) << "the same slot, another page";
}

// A walk that ended in a 2 MiB or 1 GiB leaf holds for the 2 MiB around
// the address (one leaf: the same rights, A/D flags and translation of the
// low 21 bits), and no further.
TEST(EptCache, ALargeLeafServesItsWhole2MiB) {
  EptCache c;
  constexpr uint64_t kLargeGpa = 0x40000000 + 0x345678, kLargeHpa = 0x80000000 + 0x345678;
  c.fill(kEptp, kLargeGpa, kLargeHpa, EptCache::kRead, 2);
  for (uint64_t gpa : {0x40200000ull, 0x40200000ull + 0x1234, 0x403ff000ull + 0xfff}) {
    const uint64_t hit = c.find(kEptp, gpa, EptCache::kRead);
    ASSERT_NE(hit, EptCache::kMiss) << std::hex << gpa;
    EXPECT_EQ(hit & ~0xfffull, (gpa & ~0xfffull) - 0x40000000 + 0x80000000) << std::hex << gpa;
  }
  EXPECT_EQ(c.find(kEptp, 0x401ff000, EptCache::kRead), EptCache::kMiss) << "the 2 MiB below";
  EXPECT_EQ(c.find(kEptp, 0x40400000, EptCache::kRead), EptCache::kMiss) << "the 2 MiB above";
  EXPECT_EQ(c.find(kEptp, kLargeGpa, EptCache::kWrite), EptCache::kMiss) << "a write walks (and sets D)";
  EXPECT_EQ(c.find(kEptp + 0x1000, kLargeGpa, EptCache::kRead), EptCache::kMiss) << "another EP4TA";
  // A 1 GiB leaf: the 2 MiB around the address, translated by its offset
  // in the 1 GiB page.
  c.fill(kEptp, 0xc0000000 + 0x12345678, 0x100000000 + 0x12345678, EptCache::kRead | EptCache::kWrite, 3);
  EXPECT_EQ(c.find(kEptp, 0xc0000000 + 0x12200000, EptCache::kWrite) & ~0xfffull, 0x100000000 + 0x12200000);
  EXPECT_EQ(c.find(kEptp, 0xc0000000 + 0x12400000, EptCache::kRead), EptCache::kMiss) << "the next 2 MiB walks again";
  c.flush();
  EXPECT_EQ(c.find(kEptp, kLargeGpa, EptCache::kRead), EptCache::kMiss) << "flushed";
}

TEST(EptCache, AFlushDropsEveryMappingEvenWhenTheEpochWraps) {
  EptCache c;
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  c.flush();
  EXPECT_EQ(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss);
  // A mapping filled in one epoch is not seen again when the epoch comes
  // round to the same value.
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  c.fill(kEptp, 0x40000000, 0x80000000, EptCache::kRead, 2);
  for (unsigned k = 0; k < 4096; ++k) {
    c.flush();
    ASSERT_EQ(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss) << "after " << k + 1 << " flushes";
    ASSERT_EQ(c.find(kEptp, 0x40000000, EptCache::kRead), EptCache::kMiss) << "2 MiB, after " << k + 1 << " flushes";
  }
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  EXPECT_NE(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss) << "filled again";
}

}  // namespace
}  // namespace nestbed::sim
