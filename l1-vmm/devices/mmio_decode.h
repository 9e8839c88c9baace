// Decoding the instruction behind an MMIO exit: the MOV forms a compiler
// emits for volatile loads and stores (SDM vol. 2, "MOV", "MOVZX", "MOVSX/
// MOVSXD"), with their prefixes, ModRM, SIB, displacement and immediate.
//
// Why l1-vmm decodes at all: an EPT violation says which guest-physical
// address was accessed and whether it was a read or a write (SDM 28.3.3.2),
// but not which register the data comes from or goes to, and its VM-exit
// instruction length is not defined (SDM 27.2.5 lists the exits that save
// it; EPT violations are not among them), so the length is decoded too.
// The address itself is the exit's guest-physical address: the decoder only
// needs the ModRM/SIB/displacement bytes to know where the instruction ends.
//
// Pure code, no VMX: the host unit tests compile it (tests/l1vmm_mmio.cmake).
#pragma once
#include <stdint.h>

namespace l1::devices {

// The code segment's default operand and address size (CS.L, CS.D; SDM
// vol. 1, 3.6): 64-bit code, 32-bit code, 16-bit code (real mode too).
enum class CodeSize : uint8_t { Bits16, Bits32, Bits64 };

// What the instruction does to memory and to which register.
struct MmioInstruction {
  unsigned length;    // bytes, prefixes included (at most 15)
  unsigned size;      // bytes accessed in memory: 1, 2, 4 or 8
  bool write;         // a store (MOV r/m, r / imm); else a load
  bool immediate;     // a store of `imm` (C6, C7)
  uint64_t imm;       // that immediate, sign-extended to `size` bytes
  unsigned reg;       // the general-purpose register (0 = RAX ... 15 = R15)
  bool high_byte;     // `reg` names AH, CH, DH or BH: bits 15:8 of register reg - 4
  unsigned reg_size;  // a load's destination width (2, 4, 8; `size` for MOV)
  bool sign_extend;   // MOVSX/MOVSXD (else MOVZX or plain MOV zero-extends)
};

enum class DecodeStatus : uint8_t {
  Ok,
  Truncated,    // more bytes are needed than were given (fetch more, decode again)
  Unsupported,  // not one of the MOV forms above: `why` says what it is
};

struct DecodeResult {
  DecodeStatus status;
  MmioInstruction insn;
  const char* why;  // for Unsupported: a short reason
};

// The architectural maximum instruction length (SDM vol. 2, 2.3.11).
inline constexpr unsigned MAX_INSTRUCTION_LENGTH = 15;

// Decodes the instruction in bytes[0 .. available).
DecodeResult decode_mmio_instruction(const uint8_t* bytes, unsigned available, CodeSize code);

// The destination register's new value after a load of `value` (the low
// `size` bytes of it): 8- and 16-bit destinations keep the rest of the
// register, a 32-bit one clears bits 63:32 (SDM vol. 1, 3.4.1.1). For a
// high-byte register `old` is register reg - 4.
uint64_t load_result(const MmioInstruction& insn, uint64_t old, uint64_t value);

// The `size` bytes a store writes, from the source register's value (for a
// high-byte register, register reg - 4) or the immediate.
uint64_t store_value(const MmioInstruction& insn, uint64_t reg_value);

// The register load_result/store_value read and write: reg, or reg - 4 for AH..BH.
inline unsigned gpr_index(const MmioInstruction& insn) { return insn.high_byte ? insn.reg - 4 : insn.reg; }

}  // namespace l1::devices
