// A tiny x86-64 instruction encoder for the CPU tests: legacy prefixes,
// REX, opcode, ModRM/SIB/displacement and immediates, from the encoding
// rules of SDM vol. 2, chapter 2 (tables 2-2, 2-3, 2-4 and 2.2.1). It knows
// operand forms, not mnemonics: each test names the opcode bytes it means
// (as the SDM's opcode column gives them), so the encoder stays small and a
// test reads like the opcode table it checks.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <vector>

namespace nestbed::testing {

// Register numbers in encoding order (RAX..R15).
enum GpReg : uint8_t { rAX, rCX, rDX, rBX, rSP, rBP, rSI, rDI, r8, r9, r10, r11, r12, r13, r14, r15 };
inline constexpr int NO_REG = -1;

// The r/m operand: a register (optionally AH..BH) or a memory reference
// [base + index*scale + disp], or [rip + disp] (disp relative to the end of
// the instruction, immediates included), or an absolute [disp32].
struct Rm {
  bool mem = false;
  uint8_t reg = 0;
  bool high8 = false;
  int base = NO_REG;
  int index = NO_REG;
  unsigned scale = 1;
  int32_t disp = 0;
  bool rip = false;
  bool addr32 = false;  // 67h: 32-bit address size
};

inline Rm reg_op(unsigned r, bool high8 = false) { return Rm{false, uint8_t(r), high8}; }
inline Rm mem_op(int base, int32_t disp = 0, int index = NO_REG, unsigned scale = 1) {
  Rm m;
  m.mem = true;
  m.base = base;
  m.index = index;
  m.scale = scale;
  m.disp = disp;
  return m;
}
inline Rm rip_op(int32_t disp) {
  Rm m;
  m.mem = true;
  m.rip = true;
  m.disp = disp;
  return m;
}

// Which ModRM operands are byte registers (see Encoder::modrm).
struct ModrmOpts {
  bool reg_byte = false;   // ModRM.reg names a byte register
  bool reg_high8 = false;  // ... and it is AH..BH
  bool rm_byte = false;    // the r/m register is a byte register although size != 1 (MOVZX, MOVSX)
};

class Encoder {
 public:
  std::vector<uint8_t> bytes;

  size_t size() const { return bytes.size(); }
  Encoder& db(std::initializer_list<uint8_t> b) {
    bytes.insert(bytes.end(), b);
    return *this;
  }
  Encoder& imm(uint64_t v, unsigned n) {
    for (unsigned k = 0; k < n; ++k) bytes.push_back(uint8_t(v >> (8 * k)));
    return *this;
  }

  // One instruction with a ModRM byte. `size` is the operand size (1, 2, 4,
  // 8): 2 adds 66h, 8 sets REX.W. `reg` is ModRM.reg, a register or an
  // opcode extension (/digit). Byte registers 4..7 that are not AH..BH are
  // SPL..DIL and need a REX prefix (SDM 3.7.2.1 / table 3-1): say which
  // operands are byte registers with `o` (an r/m register is one whenever
  // size == 1).
  using Opts = ModrmOpts;
  Encoder& modrm(std::initializer_list<uint8_t> opcode, unsigned size, unsigned reg, const Rm& rm, Opts o = {},
                 std::initializer_list<uint8_t> prefixes = {}) {
    bytes.insert(bytes.end(), prefixes);
    if (size == 2) bytes.push_back(0x66);
    if (rm.mem && rm.addr32) bytes.push_back(0x67);
    uint8_t rex = 0;
    if (size == 8) rex |= 0x08;
    if (reg & 8) rex |= 0x04;
    if (rm.mem) {
      if (rm.index != NO_REG && (rm.index & 8)) rex |= 0x02;
      if (rm.base != NO_REG && (rm.base & 8)) rex |= 0x01;
    } else if (rm.reg & 8) {
      rex |= 0x01;
    }
    const bool rm_byte = !rm.mem && (size == 1 || o.rm_byte);
    bool need_rex = rex != 0;
    if (o.reg_byte && !o.reg_high8 && reg >= 4 && reg < 8) need_rex = true;
    if (rm_byte && !rm.high8 && rm.reg >= 4 && rm.reg < 8) need_rex = true;
    const bool any_high8 = (o.reg_byte && o.reg_high8) || (rm_byte && rm.high8);
    if (any_high8 && need_rex) throw std::logic_error("AH..BH cannot be encoded with a REX prefix");
    if (need_rex) bytes.push_back(uint8_t(0x40 | rex));
    bytes.insert(bytes.end(), opcode);
    // AH, CH, DH, BH are encoded as 4..7 (SDM table 2-2, without REX).
    const unsigned reg_code = (o.reg_byte && o.reg_high8) ? reg + 4 : reg;
    const uint8_t r3 = uint8_t((reg_code & 7) << 3);
    if (!rm.mem) {
      const unsigned rm_code = (rm_byte && rm.high8) ? rm.reg + 4 : rm.reg;
      bytes.push_back(uint8_t(0xc0 | r3 | (rm_code & 7)));
      return *this;
    }
    if (rm.rip) {
      bytes.push_back(uint8_t(0x05 | r3));
      return imm(uint32_t(rm.disp), 4);
    }
    const unsigned ss = rm.scale == 8 ? 3 : rm.scale == 4 ? 2 : rm.scale == 2 ? 1 : 0;
    if (rm.index == rSP) throw std::logic_error("RSP cannot be an index");
    if (rm.base == NO_REG) {
      // [index*scale + disp32] or [disp32]: SIB with base = 101b, mod = 00.
      bytes.push_back(uint8_t(0x04 | r3));
      const unsigned idx = rm.index == NO_REG ? 4 : (rm.index & 7);
      bytes.push_back(uint8_t((ss << 6) | (idx << 3) | 5));
      return imm(uint32_t(rm.disp), 4);
    }
    const bool need_sib = rm.index != NO_REG || (rm.base & 7) == 4;
    unsigned mod;
    if (rm.disp == 0 && (rm.base & 7) != 5) mod = 0;  // rBP/r13 have no disp-less form
    else if (rm.disp >= -128 && rm.disp <= 127) mod = 1;
    else mod = 2;
    if (need_sib) {
      bytes.push_back(uint8_t((mod << 6) | r3 | 4));
      const unsigned idx = rm.index == NO_REG ? 4 : (rm.index & 7);
      bytes.push_back(uint8_t((ss << 6) | (idx << 3) | (rm.base & 7)));
    } else {
      bytes.push_back(uint8_t((mod << 6) | r3 | (rm.base & 7)));
    }
    if (mod == 1) bytes.push_back(uint8_t(int8_t(rm.disp)));
    if (mod == 2) imm(uint32_t(rm.disp), 4);
    return *this;
  }

  // An opcode with the register in its low three bits (50+r, B8+r, C8+r...).
  Encoder& plus_reg(std::initializer_list<uint8_t> opcode_prefix, uint8_t opcode, unsigned size, unsigned r,
                    bool byte_reg = false, bool high8 = false) {
    bytes.insert(bytes.end(), opcode_prefix);
    if (size == 2) bytes.push_back(0x66);
    uint8_t rex = 0;
    if (size == 8) rex |= 0x08;
    if (r & 8) rex |= 0x01;
    bool need_rex = rex != 0 || (byte_reg && !high8 && r >= 4 && r < 8);
    if (high8 && need_rex) throw std::logic_error("AH..BH cannot be encoded with a REX prefix");
    if (need_rex) bytes.push_back(uint8_t(0x40 | rex));
    bytes.push_back(uint8_t(opcode + ((byte_reg && high8 ? r + 4 : r) & 7)));
    return *this;
  }
};

// 64-bit mode helpers for hand-written system-test code.
class Asm : public Encoder {
 public:
  explicit Asm(uint64_t origin) : origin(origin) {}
  uint64_t origin;
  uint64_t here() const { return origin + bytes.size(); }

  Asm& raw(std::initializer_list<uint8_t> b) { db(b); return *this; }
  Asm& mov_imm64(unsigned r, uint64_t v) { plus_reg({}, 0xb8, 8, r); imm(v, 8); return *this; }  // REX.W B8+r io
  Asm& mov_imm32(unsigned r, uint32_t v) { plus_reg({}, 0xb8, 4, r); imm(v, 4); return *this; }  // B8+r id (zero-extends)
  Asm& mov_rr(unsigned dst, unsigned src) { modrm({0x89}, 8, src, reg_op(dst)); return *this; }
  Asm& load64(unsigned dst, const Rm& m) { modrm({0x8b}, 8, dst, m); return *this; }
  Asm& load32(unsigned dst, const Rm& m) { modrm({0x8b}, 4, dst, m); return *this; }
  Asm& store64(const Rm& m, unsigned src) { modrm({0x89}, 8, src, m); return *this; }
  Asm& store32(const Rm& m, unsigned src) { modrm({0x89}, 4, src, m); return *this; }
  Asm& store_imm32(const Rm& m, uint32_t v) { modrm({0xc7}, 4, 0, m); imm(v, 4); return *this; }  // C7 /0 id
  Asm& add_imm8(unsigned r, int8_t v, unsigned size = 8) { modrm({0x83}, size, 0, reg_op(r)); imm(uint8_t(v), 1); return *this; }
  Asm& inc(unsigned r) { modrm({0xff}, 8, 0, reg_op(r)); return *this; }      // FF /0
  Asm& inc_mem(const Rm& m) { modrm({0xff}, 8, 0, m); return *this; }
  Asm& cmp_imm8(unsigned r, int8_t v) { modrm({0x83}, 8, 7, reg_op(r)); imm(uint8_t(v), 1); return *this; }  // 83 /7 ib
  Asm& push(unsigned r) { plus_reg({}, 0x50, 4, r); return *this; }
  Asm& pop(unsigned r) { plus_reg({}, 0x58, 4, r); return *this; }
  Asm& push_imm32(int32_t v) { db({0x68}); imm(uint32_t(v), 4); return *this; }
  Asm& pushfq() { return raw({0x9c}); }
  Asm& popfq() { return raw({0x9d}); }
  Asm& mov_to_cr(unsigned cr, unsigned r) { modrm({0x0f, 0x22}, 4, cr, reg_op(r)); return *this; }    // 0F 22 /r
  Asm& mov_from_cr(unsigned r, unsigned cr) { modrm({0x0f, 0x20}, 4, cr, reg_op(r)); return *this; }  // 0F 20 /r
  Asm& invlpg(const Rm& m) { modrm({0x0f, 0x01}, 4, 7, m); return *this; }                          // 0F 01 /7
  Asm& wrmsr() { return raw({0x0f, 0x30}); }
  Asm& rdmsr() { return raw({0x0f, 0x32}); }
  Asm& hlt() { return raw({0xf4}); }
  Asm& cli() { return raw({0xfa}); }
  Asm& sti() { return raw({0xfb}); }
  Asm& nop() { return raw({0x90}); }
  Asm& ud2() { return raw({0x0f, 0x0b}); }
  Asm& iretq() { return raw({0x48, 0xcf}); }
  Asm& iretd() { return raw({0xcf}); }
  Asm& int_n(uint8_t v) { return raw({0xcd, v}); }
  Asm& int3() { return raw({0xcc}); }
  Asm& jmp(uint64_t target) {  // E9 cd
    db({0xe9});
    imm(uint32_t(int32_t(int64_t(target) - int64_t(here() + 4))), 4);
    return *this;
  }
  // Jcc rel32 (0F 80+cc cd).
  Asm& jcc(unsigned cc, uint64_t target) {
    db({0x0f, uint8_t(0x80 + cc)});
    imm(uint32_t(int32_t(int64_t(target) - int64_t(here() + 4))), 4);
    return *this;
  }
  // Forward branches: emit with a zero displacement, bind() when the target is reached.
  size_t jcc_forward(unsigned cc) {
    db({0x0f, uint8_t(0x80 + cc)});
    imm(0, 4);
    return bytes.size() - 4;
  }
  size_t jmp_forward() {
    db({0xe9});
    imm(0, 4);
    return bytes.size() - 4;
  }
  Asm& bind(size_t at) {
    const uint32_t rel = uint32_t(int32_t(int64_t(bytes.size()) - int64_t(at + 4)));
    for (unsigned k = 0; k < 4; ++k) bytes[at + k] = uint8_t(rel >> (8 * k));
    return *this;
  }
  // [disp32]: an absolute address below 2 GiB (the identity map).
  static Rm abs(uint64_t address) { return mem_op(NO_REG, int32_t(address)); }
};

}  // namespace nestbed::testing
