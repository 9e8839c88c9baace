// Paging-structure entry bits (SDM vol. 3, 4.5, tables 4-14 .. 4-20).
#pragma once
#include <stdint.h>

namespace arch::pte {
inline constexpr uint64_t P = 1ull << 0;
inline constexpr uint64_t RW = 1ull << 1;
inline constexpr uint64_t US = 1ull << 2;
inline constexpr uint64_t PWT = 1ull << 3;
inline constexpr uint64_t PCD = 1ull << 4;
inline constexpr uint64_t A = 1ull << 5;
inline constexpr uint64_t D = 1ull << 6;
inline constexpr uint64_t PS = 1ull << 7;   // in PDPTE/PDE: maps a 1 GiB / 2 MiB page
inline constexpr uint64_t PAT = 1ull << 7;  // in a PTE
inline constexpr uint64_t G = 1ull << 8;
inline constexpr uint64_t PAT_LARGE = 1ull << 12;  // PAT bit of a 2 MiB / 1 GiB entry
inline constexpr uint64_t NX = 1ull << 63;

// The physical-address width the platform reports (CPUID 0x80000008).
inline constexpr unsigned MAXPHYADDR = 46;
inline constexpr uint64_t ADDR_MASK = ((1ull << MAXPHYADDR) - 1) & ~0xfffull;
// Bits 51:MAXPHYADDR are reserved in every entry (bits 62:52 are ignored).
inline constexpr uint64_t RSVD_HIGH = ((1ull << 52) - 1) & ~((1ull << MAXPHYADDR) - 1);

// PAE paging (SDM 4.4.1): CR3 bits 31:5 locate the 32-byte aligned PDPT;
// a present PDPTE has bits 2:1, 8:5 and 63:MAXPHYADDR reserved (table 4-8).
inline constexpr uint64_t PAE_PDPT_ADDR_MASK = 0xffffffe0ull;
inline constexpr uint64_t PAE_PDPTE_RSVD = ~((1ull << MAXPHYADDR) - 1) | 0x1e6;

inline constexpr uint64_t PAGE_SIZE = 4096;
inline constexpr uint64_t LARGE_PAGE_SIZE = 2ull << 20;
inline constexpr uint64_t HUGE_PAGE_SIZE = 1ull << 30;

// Index of the entry for linear address `la` at paging level `level`
// (4 = PML4, 3 = PDPT, 2 = PD, 1 = PT).
constexpr unsigned index(uint64_t la, int level) { return (la >> (12 + 9 * (level - 1))) & 0x1ff; }
}  // namespace arch::pte

namespace arch {
// Linear-address width without 5-level paging (CR4.LA57 is not offered):
// an address is canonical when bits 63:47 are all equal (SDM vol. 1, 3.3.7.1).
inline constexpr unsigned LINEAR_ADDRESS_BITS = 48;
constexpr bool is_canonical(uint64_t la) {
  return uint64_t(int64_t(la << (64 - LINEAR_ADDRESS_BITS)) >> (64 - LINEAR_ADDRESS_BITS)) == la;
}
}  // namespace arch
