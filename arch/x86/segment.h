// Segment descriptors and selectors (SDM vol. 3, 3.4).
#pragma once
#include <stdint.h>

namespace arch::seg {
// Segment register numbers in SDM/VMX order (VMX exit instruction info, table 27-8).
enum SegReg : uint8_t { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 };

// Access-rights word in the VMX "unpacked" layout (SDM 24.4.1, table 24-2):
// bits 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable.
namespace ar {
inline constexpr uint32_t TYPE_MASK = 0xf;
inline constexpr uint32_t TYPE_ACCESSED = 1u << 0;
inline constexpr uint32_t TYPE_WRITABLE = 1u << 1;  // data: writable; code: readable
inline constexpr uint32_t TYPE_CONFORMING = 1u << 2;  // code; data: expand-down
inline constexpr uint32_t TYPE_CODE = 1u << 3;
inline constexpr uint32_t S = 1u << 4;  // 1 = code/data, 0 = system
inline constexpr unsigned DPL_SHIFT = 5;
inline constexpr uint32_t DPL_MASK = 3u << 5;
inline constexpr uint32_t P = 1u << 7;
inline constexpr uint32_t AVL = 1u << 12;
inline constexpr uint32_t L = 1u << 13;
inline constexpr uint32_t DB = 1u << 14;
inline constexpr uint32_t G = 1u << 15;
inline constexpr uint32_t UNUSABLE = 1u << 16;
inline constexpr uint32_t RESERVED_11_8 = 0xfu << 8;      // reserved, must be 0 (SDM 26.3.1.2)
inline constexpr uint32_t RESERVED_31_17 = 0x7fffu << 17;  // reserved, must be 0 (SDM 26.3.1.2)
// Every segment in virtual-8086 mode: present read/write accessed data, DPL 3
// (SDM 20.2.1; the value VM entry requires of a virtual-8086 guest, 26.3.1.2).
inline constexpr uint32_t V86 = TYPE_ACCESSED | TYPE_WRITABLE | S | DPL_MASK | P;
}  // namespace ar

// System-descriptor types (S = 0) in IA-32e mode (SDM table 3-2).
namespace sys_type {
inline constexpr uint32_t LDT = 0x2;
inline constexpr uint32_t TSS16_BUSY = 0x3;
inline constexpr uint32_t TSS_AVAILABLE = 0x9;  // 32-bit / 64-bit available TSS
inline constexpr uint32_t TSS_BUSY = 0xb;
inline constexpr uint32_t CALL_GATE = 0xc;
inline constexpr uint32_t INTERRUPT_GATE = 0xe;
inline constexpr uint32_t TRAP_GATE = 0xf;
}  // namespace sys_type

// Converting an 8-byte descriptor to base/limit/access rights.
constexpr uint32_t descriptor_base(uint64_t d) {
  return uint32_t(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000));
}
constexpr uint32_t descriptor_limit_raw(uint64_t d) {
  return uint32_t((d & 0xffff) | ((d >> 32) & 0xf0000));
}
// Access rights in the VMX layout: descriptor bits 47:40 and 55:52.
constexpr uint32_t descriptor_access_rights(uint64_t d) { return uint32_t((d >> 40) & 0xf0ff); }
// Effective limit: scaled by 4 KiB when G is set.
constexpr uint32_t descriptor_limit(uint64_t d) {
  uint32_t raw = descriptor_limit_raw(d);
  return (descriptor_access_rights(d) & ar::G) ? (raw << 12) | 0xfff : raw;
}

constexpr unsigned selector_rpl(uint16_t sel) { return sel & 3; }
constexpr bool selector_ti(uint16_t sel) { return sel & 4; }
constexpr unsigned selector_index(uint16_t sel) { return sel >> 3; }
}  // namespace arch::seg
