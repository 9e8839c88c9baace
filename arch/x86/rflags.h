// RFLAGS bits (SDM vol. 1, 3.4.3).
#pragma once
#include <stdint.h>

namespace arch::rflags {
inline constexpr uint64_t CF = 1ull << 0;
inline constexpr uint64_t FIXED1 = 1ull << 1;  // reserved, always 1
inline constexpr uint64_t PF = 1ull << 2;
inline constexpr uint64_t AF = 1ull << 4;
inline constexpr uint64_t ZF = 1ull << 6;
inline constexpr uint64_t SF = 1ull << 7;
inline constexpr uint64_t TF = 1ull << 8;
inline constexpr uint64_t IF = 1ull << 9;
inline constexpr uint64_t DF = 1ull << 10;
inline constexpr uint64_t OF = 1ull << 11;
inline constexpr uint64_t IOPL = 3ull << 12;
inline constexpr unsigned IOPL_SHIFT = 12;
inline constexpr uint64_t NT = 1ull << 14;
inline constexpr uint64_t RF = 1ull << 16;
inline constexpr uint64_t VM = 1ull << 17;
inline constexpr uint64_t AC = 1ull << 18;
inline constexpr uint64_t VIF = 1ull << 19;
inline constexpr uint64_t VIP = 1ull << 20;
inline constexpr uint64_t ID = 1ull << 21;

// The six status flags written by arithmetic instructions.
inline constexpr uint64_t STATUS = CF | PF | AF | ZF | SF | OF;
// Which status flags an operation defines (SDM vol. 2, each instruction's
// "Flags Affected"); the others of STATUS it leaves undefined (the sim
// writes them as 0, in its handlers and its translated code alike).
inline constexpr uint64_t LOGIC_DEFINED = STATUS & ~AF;  // AND, OR, XOR, TEST: AF undefined
inline constexpr uint64_t MULTIPLY_DEFINED = CF | OF;    // MUL, IMUL: SF, ZF, AF, PF undefined
// The status flags INC and DEC write: all but CF, which they leave alone.
inline constexpr uint64_t INC_DEC_WRITTEN = STATUS & ~CF;
// Bits software may change with POPF at CPL 0 (VM and VIF/VIP excluded; SDM POPF).
inline constexpr uint64_t WRITABLE = STATUS | TF | IF | DF | IOPL | NT | RF | AC | ID;
}  // namespace arch::rflags
