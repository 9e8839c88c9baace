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

TEST(EptCache, AFlushDropsEveryMappingEvenWhenTheEpochWraps) {
  EptCache c;
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  c.flush();
  EXPECT_EQ(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss);
  // A mapping filled in one epoch is not seen again when the epoch comes
  // round to the same value.
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  for (unsigned k = 0; k < 4096; ++k) {
    c.flush();
    ASSERT_EQ(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss) << "after " << k + 1 << " flushes";
  }
  c.fill(kEptp, kGpa, kHpa, EptCache::kRead);
  EXPECT_NE(c.find(kEptp, kGpa, EptCache::kRead), EptCache::kMiss) << "filled again";
}

}  // namespace
}  // namespace nestbed::sim
