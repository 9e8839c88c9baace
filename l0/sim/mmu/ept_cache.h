// Guest-physical mappings (SDM vol. 3, 28.3.1 "Information That May Be
// Cached"): what a completed EPT walk found for a guest-physical page (4 KiB,
// or the 2 MiB around it when the walk ended in a large leaf), so that the
// next access to it does not walk the EPT paging structures again. Without
// it, every guest page walk at depth >= 1 is two-dimensional:
// each of the guest's four paging-structure reads walks the EPT too.
//
// Tagged by the EPTP (its EP4TA and the bits that change the walk's meaning,
// such as A/D enable), as the SDM tags guest-physical mappings by EP4TA, and
// invalidated by INVEPT (28.3.3.1). INVEPT here empties the whole cache, of
// whichever type: a processor may drop cached mappings at any time (28.3.3).
//
// Only walks that succeeded are cached, and only for the accesses the walk
// proved allowed without any further effect on memory:
// - read or execute, when the walk's permissions allowed it (with EPT A/D
//   on, the walk has already set every accessed flag on the way);
// - write, when EPT allows it and, with A/D on, the leaf's dirty flag is
//   already set (28.2.4) — so the first write after a read still walks, sets
//   D and logs the page for page-modification logging (28.2.5).
// A walk that ends in an EPT violation or misconfiguration is never cached,
// so a VMM that makes an entry present needs no INVEPT (28.3.3.2) and one
// that takes permissions away must use INVEPT, as on hardware.
#pragma once
#include <bit>
#include <cstdint>

#include "arch/x86/paging.h"
#include "l0/sim/zeroed_array.h"

namespace nestbed::sim {

class EptCache {
 public:
  // Direct-mapped by guest-physical page: 65,536 entries (1.5 MiB, at the
  // first fill) hold 256 MiB of a guest's memory without conflict. With
  // 8,192, a guest streaming through 128 MiB (memtouch 32768) walked the EPT
  // again for every page on its second pass.
  static constexpr unsigned kSize = 65536;
  // Mappings by 2 MiB and 1 GiB leaves, by 2 MiB region: 4,096 entries hold
  // 8 GiB of guest-physical memory. A VMM that maps its guest's RAM with
  // large EPT pages (l1-vmm does) then walks once per 2 MiB, not per page.
  static constexpr unsigned kLargeSize = 4096;
  static constexpr uint64_t kRead = 1, kWrite = 2, kExec = 4;  // in Entry::hpa's low bits

  // The host-physical page (with the rights in its low bits) for `gpa`
  // under `eptp`, or kMiss. `need`: one of kRead, kWrite, kExec. A 2 MiB
  // mapping is looked at first: it is one small array's entry, while a
  // probe of the 4 KiB array may touch a page of it the host has not yet
  // mapped.
  uint64_t find(uint64_t eptp, uint64_t gpa, uint64_t need) const {
    const uint64_t c = context(eptp);
    const uint64_t large = large_.find(c, gpa, need);
    if (large != kMiss) return large | (gpa & kLargeOffset & ~(arch::pte::PAGE_SIZE - 1));
    return small_.find(c, gpa, need);
  }
  static constexpr uint64_t kMiss = ~0ull;

  // Caches a completed walk: `hpa` the translated address, `rights` the
  // kRead/kWrite/kExec bits a later access may reuse it for, `leaf_level`
  // the EPT leaf's level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB). A walk that ended
  // in a 2 MiB or 1 GiB leaf holds for the whole 2 MiB around `gpa`: every
  // access there uses the same leaf, so the same permissions, the same
  // accessed and dirty flags and no further page-modification log entry
  // (SDM 28.2.4, 28.2.5: D is set, and logged, on the leaf), and the same
  // translation of the low 21 bits. A 1 GiB leaf is cached 2 MiB at a time.
  void fill(uint64_t eptp, uint64_t gpa, uint64_t hpa, uint64_t rights, unsigned leaf_level = 1) {
    if (leaf_level >= 2)
      large_.fill(context(eptp), gpa, hpa & ~kLargeOffset, rights);
    else
      small_.fill(context(eptp), gpa, hpa & ~(arch::pte::PAGE_SIZE - 1), rights);
  }

  // INVEPT (any type), VMXON, VMXOFF, reset: O(1) — a new epoch makes
  // every entry stale; only when the epoch wraps are the arrays cleared.
  void flush() {
    if (++epoch_ < kEpochs) return;
    epoch_ = 1;
    small_.clear();
    large_.clear();
  }

 private:
  // EPT's 2 MiB pages are the size of paging's (SDM 28.2.2).
  static constexpr uint64_t kLargeOffset = arch::pte::LARGE_PAGE_SIZE - 1;
  static constexpr unsigned kPageShift = unsigned(std::countr_zero(arch::pte::PAGE_SIZE));
  static constexpr unsigned kLargeShift = unsigned(std::countr_zero(arch::pte::LARGE_PAGE_SIZE));

  // One direct-mapped array of mappings of 2^kShift-byte guest-physical
  // regions. All zero is empty: context 0 is never context(eptp), whose
  // epoch is at least 1. So the array is a ZeroedArray, allocated at the
  // first fill: a guest that uses little memory does not pay the host's
  // page faults for it.
  template <unsigned kEntries, unsigned kShift>
  class Table {
   public:
    uint64_t find(uint64_t context, uint64_t gpa, uint64_t need) const {
      if (entries_.empty()) return kMiss;
      const Entry& e = entries_[index(gpa)];
      if (e.region != gpa >> kShift || e.context != context || !(e.hpa & need)) return kMiss;
      return e.hpa;
    }
    void fill(uint64_t context, uint64_t gpa, uint64_t hpa_base, uint64_t rights) {
      if (entries_.empty()) entries_.assign_zero(kEntries);
      Entry& e = entries_[index(gpa)];
      e.region = gpa >> kShift;
      e.context = context;
      e.hpa = hpa_base | rights;
    }
    void clear() { entries_.clear(); }

   private:
    struct Entry {
      uint64_t region;   // gpa >> kShift
      uint64_t context;  // context(eptp) when filled; 0: empty
      uint64_t hpa;      // the host-physical base | rights
    };
    static unsigned index(uint64_t gpa) { return unsigned(gpa >> kShift) & (kEntries - 1); }
    ZeroedArray<Entry> entries_;
  };

  // EPTP bits 63:52 are reserved (must be 0 at VM entry, SDM 26.2.1.1):
  // the epoch goes there, so one compare checks both.
  static constexpr unsigned kEpochShift = 52;
  static constexpr uint64_t kEpochs = 1ull << (64 - kEpochShift);
  uint64_t context(uint64_t eptp) const { return eptp | (epoch_ << kEpochShift); }

  Table<kSize, kPageShift> small_;        // 4 KiB leaves (1.5 MiB at the first fill)
  Table<kLargeSize, kLargeShift> large_;  // 2 MiB and 1 GiB leaves, 2 MiB at a time (96 KiB)
  uint64_t epoch_ = 1;
};

}  // namespace nestbed::sim
