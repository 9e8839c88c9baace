#include "l1-vmm/devices/mmio_decode.h"

namespace l1::devices {
namespace {

constexpr uint64_t size_mask(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

constexpr uint64_t sign_extend(uint64_t value, unsigned size) {
  if (size >= 8) return value;
  const uint64_t sign = 1ull << (8 * size - 1);
  value &= size_mask(size);
  return (value ^ sign) - sign;
}

// REX (SDM vol. 2, 2.2.1): 0100WRXB.
constexpr uint8_t REX_W = 0x8, REX_R = 0x4;

// The bytes given, read in order; asking past them is "truncated", past the
// 15-byte limit "too long" (#GP on the processor).
struct Reader {
  const uint8_t* bytes;
  unsigned available;
  unsigned pos = 0;
  bool too_long = false;  // the instruction would pass MAX_INSTRUCTION_LENGTH

  bool has(unsigned n) {
    if (pos + n > MAX_INSTRUCTION_LENGTH) too_long = true;
    return !too_long && pos + n <= available;
  }
  uint8_t byte() { return bytes[pos++]; }
  uint64_t little_endian(unsigned n) {
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++) v |= uint64_t(bytes[pos + k]) << (8 * k);
    pos += n;
    return v;
  }
};

DecodeResult unsupported(const char* why) { return {DecodeStatus::Unsupported, {}, why}; }

// Where `r` ran out: fetch more, unless the 15 bytes are used up.
DecodeResult ran_out(const Reader& r) {
  if (r.too_long) return unsupported("longer than 15 bytes (#GP on the processor)");
  return {DecodeStatus::Truncated, {}, "more instruction bytes needed"};
}

// Skips what follows a ModRM byte that names memory: the SIB byte and the
// displacement (SDM vol. 2, 2.1.5, tables 2-1 to 2-3). With 32- and 64-bit
// addressing mod 00 r/m 101 is disp32 (RIP-relative in 64-bit mode) and a
// SIB base 101 under mod 00 is disp32 with no base.
bool skip_address(Reader& r, uint8_t modrm, bool addr16) {
  const unsigned mod = modrm >> 6, rm = modrm & 7;
  unsigned disp = 0;
  if (addr16) {
    disp = mod == 1 ? 1 : (mod == 2 || (mod == 0 && rm == 6)) ? 2 : 0;
  } else {
    if (rm == 4) {  // a SIB byte follows
      if (!r.has(1)) return false;
      const uint8_t sib = r.byte();
      if (mod == 0 && (sib & 7) == 5) disp = 4;
    }
    if (mod == 1) disp = 1;
    else if (mod == 2 || (mod == 0 && rm == 5)) disp = 4;
  }
  if (!r.has(disp)) return false;
  r.pos += disp;
  return true;
}

}  // namespace

DecodeResult decode_mmio_instruction(const uint8_t* bytes, unsigned available, CodeSize code) {
  Reader r{bytes, available};
  const bool long_mode = code == CodeSize::Bits64;
  bool operand_prefix = false, address_prefix = false;
  uint8_t rex = 0, op = 0;
  // Legacy prefixes in any order, then at most one REX right before the
  // opcode: a REX followed by another prefix is ignored (SDM vol. 2, 2.2.1).
  for (;;) {
    if (!r.has(1)) return ran_out(r);
    op = r.byte();
    if (op == 0x66) {
      operand_prefix = true, rex = 0;
    } else if (op == 0x67) {
      address_prefix = true, rex = 0;
    } else if (op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e || op == 0x64 || op == 0x65) {
      rex = 0;  // a segment override: the exit's guest-physical address already includes it
    } else if (op == 0xf0) {
      return unsupported("a LOCK prefix (#UD with MOV)");
    } else if (op == 0xf2 || op == 0xf3) {
      return unsupported("a REP/REPNE prefix (string or SSE instruction)");
    } else if (long_mode && (op & 0xf0) == 0x40) {
      rex = op;
    } else {
      break;
    }
  }
  // Operand and address size (SDM vol. 1, 3.6 and table 3-4).
  const unsigned operand_size = long_mode ? ((rex & REX_W) ? 8 : operand_prefix ? 2 : 4)
                                : code == CodeSize::Bits32 ? (operand_prefix ? 2 : 4)
                                                           : (operand_prefix ? 4 : 2);
  const bool addr16 = code == CodeSize::Bits16 ? !address_prefix : code == CodeSize::Bits32 && address_prefix;
  const unsigned moffs_size = long_mode ? (address_prefix ? 4 : 8) : addr16 ? 2 : 4;

  MmioInstruction insn{};
  bool has_modrm = true;
  bool byte_register = false;  // the register operand is 8 bits (AH..BH possible)
  switch (op) {
    case 0x88: insn = {0, 1, true, false, 0, 0, false, 1, false}, byte_register = true; break;
    case 0x89: insn = {0, operand_size, true, false, 0, 0, false, operand_size, false}; break;
    case 0x8a: insn = {0, 1, false, false, 0, 0, false, 1, false}, byte_register = true; break;
    case 0x8b: insn = {0, operand_size, false, false, 0, 0, false, operand_size, false}; break;
    case 0xc6: insn = {0, 1, true, true, 0, 0, false, 1, false}; break;
    case 0xc7: insn = {0, operand_size, true, true, 0, 0, false, operand_size, false}; break;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      // MOV AL/AX/EAX/RAX to or from moffs: an absolute address, no ModRM.
      const unsigned size = (op & 1) ? operand_size : 1;
      insn = {0, size, op >= 0xa2, false, 0, 0, false, size, false};
      has_modrm = false;
      if (!r.has(moffs_size)) return ran_out(r);
      r.pos += moffs_size;
      break;
    }
    case 0x63:
      // MOVSXD r64, r/m32 needs REX.W here (without it, it is a MOV whose
      // use the SDM discourages; outside 64-bit mode 63 is ARPL).
      if (!long_mode) return unsupported("ARPL (opcode 63 outside 64-bit mode)");
      if (!(rex & REX_W)) return unsupported("MOVSXD without REX.W");
      insn = {0, 4, false, false, 0, 0, false, 8, true};
      break;
    case 0x0f: {
      if (!r.has(1)) return ran_out(r);
      const uint8_t op2 = r.byte();
      // MOVZX (0F B6, B7) and MOVSX (0F BE, BF): a byte or word loaded into a wider register.
      if (op2 != 0xb6 && op2 != 0xb7 && op2 != 0xbe && op2 != 0xbf)
        return unsupported("a two-byte opcode other than MOVZX/MOVSX");
      insn = {0, (op2 & 1) ? 2u : 1u, false, false, 0, 0, false, operand_size, op2 >= 0xbe};
      break;
    }
    default: return unsupported("not a MOV, MOVZX or MOVSX with a memory operand");
  }

  if (has_modrm) {
    if (!r.has(1)) return ran_out(r);
    const uint8_t modrm = r.byte();
    if ((modrm >> 6) == 3) return unsupported("a register operand (ModRM mod 11), no memory access");
    const unsigned reg_field = (modrm >> 3) & 7;
    if (insn.immediate && reg_field != 0) return unsupported("opcode C6/C7 with ModRM.reg not 0 (not MOV)");
    if (!skip_address(r, modrm, addr16)) return ran_out(r);
    insn.reg = reg_field | ((rex & REX_R) ? 8 : 0);
    // Without a REX prefix, byte registers 4-7 are AH, CH, DH, BH (SDM vol. 2, 3.1.1.1).
    insn.high_byte = byte_register && rex == 0 && reg_field >= 4;
  }
  if (insn.immediate) {
    const unsigned imm_bytes = insn.size == 1 ? 1 : insn.size == 2 ? 2 : 4;  // imm32, sign-extended for 64 bits
    if (!r.has(imm_bytes)) return ran_out(r);
    insn.imm = sign_extend(r.little_endian(imm_bytes), imm_bytes) & size_mask(insn.size);
  }
  insn.length = r.pos;
  return {DecodeStatus::Ok, insn, nullptr};
}

uint64_t load_result(const MmioInstruction& insn, uint64_t old, uint64_t value) {
  uint64_t v = value & size_mask(insn.size);
  if (insn.sign_extend) v = sign_extend(v, insn.size);
  if (insn.high_byte) return (old & ~0xff00ull) | ((v & 0xff) << 8);
  switch (insn.reg_size) {
    case 1:
    case 2: return (old & ~size_mask(insn.reg_size)) | (v & size_mask(insn.reg_size));
    case 4: return v & 0xffffffffull;  // a 32-bit destination clears bits 63:32
    default: return v;
  }
}

uint64_t store_value(const MmioInstruction& insn, uint64_t reg_value) {
  if (insn.immediate) return insn.imm & size_mask(insn.size);
  if (insn.high_byte) return (reg_value >> 8) & 0xff;
  return reg_value & size_mask(insn.size);
}

}  // namespace l1::devices
