// Control registers and EFER (SDM vol. 3, 2.5 and 2.2.1).
#pragma once
#include <stdint.h>

namespace arch::cr0 {
inline constexpr uint64_t PE = 1ull << 0;
inline constexpr uint64_t MP = 1ull << 1;
inline constexpr uint64_t EM = 1ull << 2;
inline constexpr uint64_t TS = 1ull << 3;
inline constexpr uint64_t ET = 1ull << 4;
inline constexpr uint64_t NE = 1ull << 5;
inline constexpr uint64_t WP = 1ull << 16;
inline constexpr uint64_t AM = 1ull << 18;
inline constexpr uint64_t NW = 1ull << 29;
inline constexpr uint64_t CD = 1ull << 30;
inline constexpr uint64_t PG = 1ull << 31;
}  // namespace arch::cr0

namespace arch::cr4 {
inline constexpr uint64_t VME = 1ull << 0;
inline constexpr uint64_t PVI = 1ull << 1;
inline constexpr uint64_t TSD = 1ull << 2;
inline constexpr uint64_t DE = 1ull << 3;
inline constexpr uint64_t PSE = 1ull << 4;
inline constexpr uint64_t PAE = 1ull << 5;
inline constexpr uint64_t MCE = 1ull << 6;
inline constexpr uint64_t PGE = 1ull << 7;
inline constexpr uint64_t PCE = 1ull << 8;
inline constexpr uint64_t OSFXSR = 1ull << 9;
inline constexpr uint64_t OSXMMEXCPT = 1ull << 10;
inline constexpr uint64_t UMIP = 1ull << 11;
inline constexpr uint64_t LA57 = 1ull << 12;
inline constexpr uint64_t VMXE = 1ull << 13;
inline constexpr uint64_t SMXE = 1ull << 14;
inline constexpr uint64_t FSGSBASE = 1ull << 16;
inline constexpr uint64_t PCIDE = 1ull << 17;
inline constexpr uint64_t OSXSAVE = 1ull << 18;
inline constexpr uint64_t SMEP = 1ull << 20;
inline constexpr uint64_t SMAP = 1ull << 21;
}  // namespace arch::cr4

namespace arch::efer {
inline constexpr uint64_t SCE = 1ull << 0;   // SYSCALL enable
inline constexpr uint64_t LME = 1ull << 8;   // long mode enable
inline constexpr uint64_t LMA = 1ull << 10;  // long mode active (read-only to WRMSR)
inline constexpr uint64_t NXE = 1ull << 11;  // execute-disable enable
// Every other bit of IA32_EFER is reserved (SDM vol. 4, table 2-2).
inline constexpr uint64_t RESERVED = ~(SCE | LME | LMA | NXE);
}  // namespace arch::efer

namespace arch::cr8 {
inline constexpr uint64_t TPR_MASK = 0xf;
}
