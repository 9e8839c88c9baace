// The fast decoder (fast_decoder.h). Names follow the SDM, vol. 2,
// chapter 2 (legacy prefixes, REX, ModR/M, SIB) and appendix A (the opcode
// maps: E = ModR/M r/m operand, G = ModR/M reg operand, I = immediate;
// b = byte, w = word, v = operand size, z = operand size but at most 32
// bits). Where Capstone reports something other than the architecture
// says, this decoder either copies Capstone (for the fields the handlers
// see, such as immediate sizes) or leaves the instruction to Capstone, so
// that a block decodes the same whichever decoder took it; the
// differential test in tests/unit/fast_decoder_test.cpp is the arbiter.
#include "l0/sim/cpu/fast_decoder.h"

#include <capstone/capstone.h>

#include "arch/x86/segment.h"
#include "l0/sim/cpu/condition_ids.h"

namespace nestbed::sim {

uint8_t segment_from_prefix(uint8_t prefix) {
  switch (prefix) {
    case 0x26: return arch::seg::ES;
    case 0x2e: return arch::seg::CS;
    case 0x36: return arch::seg::SS;
    case 0x3e: return arch::seg::DS;
    case 0x64: return arch::seg::FS;
    case 0x65: return arch::seg::GS;
    default: return 0xff;
  }
}

void set_memory_segment(DecodedInsn& d, uint8_t override_seg, CpuMode mode) {
  uint8_t seg = override_seg;
  if (seg == 0xff) seg = (d.mem_base == RSP || d.mem_base == RBP) ? arch::seg::SS : arch::seg::DS;
  else d.flags |= insn_flag::SEG_OVERRIDE;
  d.mem_seg_arch = seg;
  if (mode == CpuMode::Bits64 && seg != arch::seg::FS && seg != arch::seg::GS) seg = SEG_NONE;
  d.mem_seg = seg;
}

bool lockable(unsigned id) {
  switch (id) {
    case X86_INS_ADD: case X86_INS_ADC: case X86_INS_AND: case X86_INS_BTC: case X86_INS_BTR:
    case X86_INS_BTS: case X86_INS_CMPXCHG: case X86_INS_CMPXCHG8B: case X86_INS_CMPXCHG16B:
    case X86_INS_DEC: case X86_INS_INC: case X86_INS_NEG: case X86_INS_NOT: case X86_INS_OR:
    case X86_INS_SBB: case X86_INS_SUB: case X86_INS_XOR: case X86_INS_XADD: case X86_INS_XCHG:
      return true;
    default:
      return false;
  }
}

namespace {

constexpr size_t kMaxInsnLength = 15;  // SDM vol. 2, 2.3.11

// Capstone's ids in the order of the opcode maps' groups and condition codes.
constexpr unsigned kAluIds[8] = {X86_INS_ADD, X86_INS_OR,  X86_INS_ADC, X86_INS_SBB,
                                 X86_INS_AND, X86_INS_SUB, X86_INS_XOR, X86_INS_CMP};
// Shift group 2 (C0, C1, D0-D3); /6 (SAL, an alias of SHL) is left to Capstone.
constexpr unsigned kShiftIds[8] = {X86_INS_ROL, X86_INS_ROR, X86_INS_RCL, X86_INS_RCR,
                                   X86_INS_SHL, X86_INS_SHR, X86_INS_INVALID, X86_INS_SAR};

// How an immediate of fewer bytes than 64 bits becomes Capstone's int64
// operand value: immediates the SDM sign-extends to the operand size (Ib of
// 83, 6B and 6A; Iz with a 64-bit operand) are sign-extended to 64 bits,
// the others zero-extended.
enum class Extend { Zero, Sign };

// One instruction being decoded.
class FastDecode {
 public:
  FastDecode(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d, DecodeKey& key)
      : mode_(mode), bytes_(bytes), limit_(n < kMaxInsnLength ? n : kMaxInsnLength), address_(address), d_(d),
        key_(key) {}

  bool run() {
    if (mode_ != CpuMode::Bits32 && mode_ != CpuMode::Bits64) return false;
    d_ = DecodedInsn{};
    if (!prefixes()) return false;
    uint8_t opcode;
    if (!byte(opcode)) return false;
    key_.opcode[0] = opcode;
    const bool ok = opcode == 0x0f ? two_byte_map() : one_byte_map(opcode);
    if (!ok || !lock_allowed()) return false;
    finish_fields();
    return true;
  }

 private:
  bool is64() const { return mode_ == CpuMode::Bits64; }
  bool rex_w() const { return (rex_ & 8) != 0; }
  // REX.R, REX.X, REX.B: the fourth bit of ModR/M reg, SIB index and
  // ModR/M r/m, SIB base or opcode register.
  unsigned rex_r() const { return (rex_ & 4) << 1; }
  unsigned rex_x() const { return (rex_ & 2) << 2; }
  unsigned rex_b() const { return (rex_ & 1) << 3; }

  bool byte(uint8_t& b) {
    if (pos_ >= limit_) return false;
    b = bytes_[pos_++];
    return true;
  }
  // A little-endian value of `count` bytes, sign-extended to 64 bits.
  bool signed_value(unsigned count, int64_t& v) {
    if (pos_ + count > limit_) return false;
    uint64_t u = 0;
    for (unsigned k = 0; k < count; ++k) u |= uint64_t(bytes_[pos_ + k]) << (8 * k);
    pos_ += count;
    const unsigned shift = 64 - 8 * count;
    v = shift ? int64_t(u << shift) >> shift : int64_t(u);
    return true;
  }

  // Legacy prefixes (at most one of each group, else Capstone decides) and
  // REX, which must come last (SDM vol. 2, 2.2.1: a REX before a legacy
  // prefix is ignored; such bytes are left to Capstone: the opcode switch
  // does not know the prefix bytes).
  bool prefixes() {
    for (;;) {
      if (pos_ >= limit_) return false;
      const uint8_t b = bytes_[pos_];
      if (segment_from_prefix(b) != 0xff) {
        if (seg_prefix_) return false;
        seg_prefix_ = b;
      } else if (b == 0x66) {
        if (opsize_prefix_) return false;
        opsize_prefix_ = true;
      } else if (b == 0x67) {
        if (addrsize_prefix_) return false;
        addrsize_prefix_ = true;
      } else if (b == 0xf0 || b == 0xf2 || b == 0xf3) {
        if (group1_prefix_) return false;
        group1_prefix_ = b;
      } else {
        break;
      }
      last_prefix_ = b;
      ++pos_;
    }
    // 16-bit addressing (67 in 32-bit mode) is Capstone's.
    if (addrsize_prefix_ && !is64()) return false;
    if (is64() && (bytes_[pos_] & 0xf0) == 0x40) rex_ = bytes_[pos_++];
    return true;
  }

  // Operand size of v operands (SDM vol. 1, 3.6.1; vol. 2, 2.2.1.2).
  unsigned opsize() const {
    if (is64() && rex_w()) return 8;
    return opsize_prefix_ ? 2 : 4;
  }
  // Operand size of pushes, pops, near calls and returns; 66 with them is
  // left to the callers to refuse (Capstone misdecodes some in 64-bit mode).
  unsigned stack_size() const { return is64() ? 8 : 4; }

  // ModR/M and, for memory forms, SIB and displacement (SDM vol. 2, 2.1.5,
  // tables 2-2 and 2-3; 2.2.1 for REX and RIP-relative addressing).
  bool modrm() {
    if (!byte(modrm_)) return false;
    key_.modrm = modrm_;
    const unsigned mod = modrm_ >> 6;
    reg_ = ((modrm_ >> 3) & 7) | rex_r();
    rm_ = (modrm_ & 7) | rex_b();
    if (mod == 3) return true;
    unsigned disp_bytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if ((modrm_ & 7) == 4) {
      uint8_t sib;
      if (!byte(sib)) return false;
      const unsigned scale = sib >> 6;
      const unsigned index = ((sib >> 3) & 7) | rex_x();
      const unsigned base = sib & 7;
      if (index != 4) {
        d_.mem_index = uint8_t(index);
        d_.mem_scale = uint8_t(scale);
      } else if (scale != 0) {
        return false;  // a scale without an index: Capstone's business
      }
      if (base == 5 && mod == 0) disp_bytes = 4;  // no base, disp32
      else d_.mem_base = uint8_t(base | rex_b());
    } else if ((modrm_ & 7) == 5 && mod == 0) {
      disp_bytes = 4;  // disp32: RIP-relative in 64-bit mode, absolute otherwise
      if (is64()) d_.mem_base = REG_RIP;
    } else {
      d_.mem_base = uint8_t(rm_);
    }
    if (disp_bytes && !signed_value(disp_bytes, d_.disp)) return false;
    return true;
  }
  bool rm_is_reg() const { return (modrm_ >> 6) == 3; }
  unsigned modrm_reg_field() const { return (modrm_ >> 3) & 7; }  // opcode extension of groups

  Operand& next_operand() { return d_.op[d_.nops++]; }

  // A general register: byte registers 4-7 are AH..BH without REX and
  // SPL..DIL with one (SDM vol. 2, 2.2.1.2).
  void gpr(unsigned index, unsigned size) {
    Operand& op = next_operand();
    op.kind = OpKind::Reg;
    op.size = uint8_t(size);
    if (size == 1 && rex_ == 0 && index >= 4 && index < 8) {
      op.reg = uint8_t(index - 4);
      op.high8 = true;
    } else {
      op.reg = uint8_t(index);
    }
  }
  void G(unsigned size) { gpr(reg_, size); }
  void E(unsigned size) {
    if (rm_is_reg()) return gpr(rm_, size);
    Operand& op = next_operand();
    op.kind = OpKind::Mem;
    op.size = uint8_t(size);
    set_memory_segment(d_, segment_from_prefix(seg_prefix_), mode_);
  }
  // An immediate of `bytes` bytes reported with operand size `size`.
  bool I(unsigned bytes, unsigned size, Extend extend) {
    int64_t v;
    if (!signed_value(bytes, v)) return false;
    if (extend == Extend::Zero && bytes < 8) v &= int64_t((uint64_t(1) << (8 * bytes)) - 1);
    imm_operand(uint64_t(v), size);
    return true;
  }
  // Iz: 16 or 32 bits, sign-extended with a 64-bit operand size.
  bool Iz(unsigned size) {
    return I(size == 2 ? 2 : 4, size, size == 8 ? Extend::Sign : Extend::Zero);
  }
  void imm_operand(uint64_t value, unsigned size) {
    Operand& op = next_operand();
    op.kind = OpKind::Imm;
    op.size = uint8_t(size);
    d_.imm = value;
  }
  // Jb / Jz: a displacement from the next instruction; finish_fields makes
  // it what Decoder's Capstone path keeps (see there).
  bool J(unsigned bytes) {
    // 16-bit targets are Capstone's; with a REX Capstone reports another
    // operand size.
    if (opsize_prefix_ || rex_) return false;
    if (!signed_value(bytes, rel_)) return false;
    relative_ = true;
    Operand& op = next_operand();
    op.kind = OpKind::Imm;
    op.size = uint8_t(stack_size());
    return true;
  }

  bool set_id(unsigned id) {
    key_.id = id;
    return id != X86_INS_INVALID;
  }

  // ALU operations 00-3F in their six forms (SDM vol. 2, appendix A.3).
  bool alu(uint8_t opcode) {
    if (!set_id(kAluIds[opcode >> 3])) return false;
    switch (opcode & 7) {
      case 0: return modrm() && (E(1), G(1), true);
      case 1: return modrm() && (E(opsize()), G(opsize()), true);
      case 2: return modrm() && (G(1), E(1), true);
      case 3: return modrm() && (G(opsize()), E(opsize()), true);
      case 4: return gpr(RAX, 1), I(1, 1, Extend::Zero);
      case 5: return gpr(RAX, opsize()), Iz(opsize());
      default: return false;
    }
  }

  bool one_byte_map(uint8_t opcode) {
    // A REX only where it means something for these forms; REP/REPNE only
    // in F3 C3 ("rep ret", which Capstone reports without it). LOCK goes
    // with whatever Capstone accepts it on; finish then raises #UD where
    // the instruction is not lockable.
    if (group1_prefix_ == 0xf2 || (group1_prefix_ == 0xf3 && opcode != 0xc3)) return false;
    if (opcode < 0x40) {
      if ((opcode & 7) >= 6) return false;  // segment pushes and pops, BCD adjusts, prefixes
      return alu(opcode);
    }
    if (opcode < 0x50) {  // INC/DEC r (32-bit mode; REX in 64-bit mode)
      if (is64()) return false;
      set_id(opcode < 0x48 ? X86_INS_INC : X86_INS_DEC);
      gpr(opcode & 7, opsize());
      return true;
    }
    if (opcode < 0x60) {  // PUSH/POP r
      set_id(opcode < 0x58 ? X86_INS_PUSH : X86_INS_POP);
      gpr((opcode & 7) | rex_b(), opsize_prefix_ && !rex_w() ? 2 : stack_size());
      return true;
    }
    if (opcode >= 0x70 && opcode < 0x80) {
      set_id(kJccIds[opcode & 15]);
      return J(1);
    }
    if (opcode >= 0xb0 && opcode < 0xb8) {  // MOV r8, Ib
      set_id(X86_INS_MOV);
      gpr((opcode & 7) | rex_b(), 1);
      return I(1, 1, Extend::Zero);
    }
    if (opcode >= 0xb8 && opcode < 0xc0) {  // MOV r, Iv: a 64-bit immediate with REX.W
      const unsigned size = opsize();
      set_id(size == 8 ? X86_INS_MOVABS : X86_INS_MOV);
      gpr((opcode & 7) | rex_b(), size);
      return I(size, size, Extend::Zero);
    }
    if (opcode >= 0x91 && opcode < 0x98) {  // XCHG rAX, r
      // Capstone sizes rAX by the 66 only when 66 is the last legacy prefix.
      if (opsize_prefix_ && last_prefix_ != 0x66) return false;
      set_id(X86_INS_XCHG);
      gpr(RAX, opsize());
      gpr((opcode & 7) | rex_b(), opsize());
      return true;
    }
    switch (opcode) {
      case 0x63:  // MOVSXD Gv, Ed; without REX.W Capstone reports a 64-bit destination
        if (!is64() || !rex_w()) return false;
        set_id(X86_INS_MOVSXD);
        return modrm() && (G(8), E(4), true);
      // PUSH Iz and Ib: with 66, or 67 and a REX, Capstone reports other
      // sizes or extensions.
      case 0x68:
        if (opsize_prefix_ || (addrsize_prefix_ && rex_)) return false;
        set_id(X86_INS_PUSH);
        return I(4, stack_size(), is64() ? Extend::Sign : Extend::Zero);
      case 0x6a:
        if (opsize_prefix_ || (addrsize_prefix_ && rex_)) return false;
        set_id(X86_INS_PUSH);
        return I(1, stack_size(), Extend::Sign);
      case 0x69:
        set_id(X86_INS_IMUL);
        return modrm() && (G(opsize()), E(opsize()), Iz(opsize()));
      case 0x6b:
        set_id(X86_INS_IMUL);
        return modrm() && (G(opsize()), E(opsize()), I(1, opsize(), Extend::Sign));
      case 0x80:
        return modrm() && set_id(kAluIds[modrm_reg_field()]) && (E(1), I(1, 1, Extend::Zero));
      case 0x81:
        return modrm() && set_id(kAluIds[modrm_reg_field()]) && (E(opsize()), Iz(opsize()));
      case 0x83: {
        if (!modrm() || !set_id(kAluIds[modrm_reg_field()])) return false;
        E(opsize());
        if (!I(1, opsize(), Extend::Sign)) return false;
        // Capstone gives the logical operations' sign-extended Ib as an
        // unsigned value of the operand size, the others' as a signed one.
        const bool logical = key_.id == X86_INS_OR || key_.id == X86_INS_AND || key_.id == X86_INS_XOR;
        if (logical && opsize() < 8) d_.imm &= (uint64_t(1) << (8 * opsize())) - 1;
        return true;
      }
      case 0x84: set_id(X86_INS_TEST); return modrm() && (E(1), G(1), true);
      case 0x85: set_id(X86_INS_TEST); return modrm() && (E(opsize()), G(opsize()), true);
      case 0x86: set_id(X86_INS_XCHG); return modrm() && (E(1), G(1), true);
      case 0x87: set_id(X86_INS_XCHG); return modrm() && (E(opsize()), G(opsize()), true);
      case 0x88: set_id(X86_INS_MOV); return modrm() && (E(1), G(1), true);
      case 0x89: set_id(X86_INS_MOV); return modrm() && (E(opsize()), G(opsize()), true);
      case 0x8a: set_id(X86_INS_MOV); return modrm() && (G(1), E(1), true);
      case 0x8b: set_id(X86_INS_MOV); return modrm() && (G(opsize()), E(opsize()), true);
      case 0x8d:  // LEA Gv, M: a register operand is #UD, Capstone's to report
        // With 66 and a 67 or REX Capstone sizes M otherwise; a 16-bit LEA is rare.
        if (opsize_prefix_) return false;
        set_id(X86_INS_LEA);
        return modrm() && !rm_is_reg() && (G(opsize()), E(opsize()), true);
      case 0x90:  // NOP; with REX.B it is XCHG eAX, r8
        if (rex_b()) return false;
        return set_id(X86_INS_NOP);
      // CBW/CWDE/CDQE and CWD/CDQ/CQO: Capstone names them after the size
      // only when 66 is the last legacy prefix.
      case 0x98: if (opsize_prefix_ && last_prefix_ != 0x66) return false;
        return set_id(opsize() == 8 ? X86_INS_CDQE : opsize() == 4 ? X86_INS_CWDE : X86_INS_CBW);
      case 0x99: if (opsize_prefix_ && last_prefix_ != 0x66) return false;
        return set_id(opsize() == 8 ? X86_INS_CQO : opsize() == 4 ? X86_INS_CDQ : X86_INS_CWD);
      case 0xa8: set_id(X86_INS_TEST); return gpr(RAX, 1), I(1, 1, Extend::Zero);
      case 0xa9: set_id(X86_INS_TEST); return gpr(RAX, opsize()), Iz(opsize());
      case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: return shift(opcode);
      case 0xc2:  // with 66 or a REX Capstone reports other sizes
        if (opsize_prefix_ || rex_) return false;
        set_id(X86_INS_RET);
        return I(2, stack_size(), Extend::Zero);
      case 0xc3:
        if (opsize_prefix_) return false;
        return set_id(X86_INS_RET);
      case 0xc6:
        set_id(X86_INS_MOV);
        return modrm() && modrm_reg_field() == 0 && (E(1), I(1, 1, Extend::Zero));
      case 0xc7:
        set_id(X86_INS_MOV);
        return modrm() && modrm_reg_field() == 0 && (E(opsize()), Iz(opsize()));
      case 0xc9: return !opsize_prefix_ && set_id(X86_INS_LEAVE);
      case 0xcc: return set_id(X86_INS_INT3);
      case 0xe8: set_id(X86_INS_CALL); return J(4);
      case 0xe9: set_id(X86_INS_JMP); return J(4);
      case 0xeb: set_id(X86_INS_JMP); return J(1);
      case 0xf4: return set_id(X86_INS_HLT);
      case 0xf6: case 0xf7: return group3(opcode);
      case 0xf8: return set_id(X86_INS_CLC);
      case 0xf9: return set_id(X86_INS_STC);
      case 0xfa: return set_id(X86_INS_CLI);
      case 0xfb: return set_id(X86_INS_STI);
      case 0xfc: return set_id(X86_INS_CLD);
      case 0xfd: return set_id(X86_INS_STD);
      case 0xfe: case 0xff: return group4_5(opcode);
      default: return false;
    }
  }

  // Shift group 2: C0/C1 by Ib, D0/D1 by 1, D2/D3 by CL.
  bool shift(uint8_t opcode) {
    if (!modrm() || !set_id(kShiftIds[modrm_reg_field()])) return false;
    const unsigned size = (opcode & 1) ? opsize() : 1;
    E(size);
    if (opcode <= 0xc1) return I(1, 1, Extend::Zero);
    if (opcode <= 0xd1) return imm_operand(1, size), true;  // Capstone gives the 1 the operand's size
    gpr(RCX, 1);
    return true;
  }

  // Group 3: TEST Ib/Iz, NOT, NEG, MUL, IMUL, DIV, IDIV (/1, an alias of
  // TEST, is Capstone's).
  bool group3(uint8_t opcode) {
    static constexpr unsigned ids[8] = {X86_INS_TEST, X86_INS_INVALID, X86_INS_NOT,  X86_INS_NEG,
                                        X86_INS_MUL,  X86_INS_IMUL,    X86_INS_DIV,  X86_INS_IDIV};
    if (!modrm() || !set_id(ids[modrm_reg_field()])) return false;
    const unsigned size = opcode == 0xf6 ? 1 : opsize();
    E(size);
    if (modrm_reg_field() == 0) return size == 1 ? I(1, 1, Extend::Zero) : Iz(size);
    return true;
  }

  // Groups 4 and 5: INC, DEC; near CALL, JMP and PUSH with an r/m operand
  // (the far forms and 66 with the near ones are Capstone's).
  bool group4_5(uint8_t opcode) {
    if (!modrm()) return false;
    const unsigned ext = modrm_reg_field();
    if (ext <= 1) {
      set_id(ext == 0 ? X86_INS_INC : X86_INS_DEC);
      E(opcode == 0xfe ? 1 : opsize());
      return true;
    }
    // With 66, or 67 and a REX, Capstone sizes these otherwise.
    if (opcode == 0xfe || opsize_prefix_ || (addrsize_prefix_ && rex_)) return false;
    switch (ext) {
      case 2: set_id(X86_INS_CALL); break;
      case 4: set_id(X86_INS_JMP); break;
      case 6: set_id(X86_INS_PUSH); break;
      default: return false;
    }
    E(stack_size());
    return true;
  }

  bool two_byte_map() {
    uint8_t opcode;
    if (!byte(opcode)) return false;
    key_.opcode[1] = opcode;
    // F2 and F3 select other instructions in this map (POPCNT, TZCNT...).
    if (group1_prefix_ == 0xf2 || group1_prefix_ == 0xf3) return false;
    if (opcode >= 0x40 && opcode < 0x50) {
      set_id(kCmovccIds[opcode & 15]);
      return modrm() && (G(opsize()), E(opsize()), true);
    }
    if (opcode >= 0x80 && opcode < 0x90) {
      set_id(kJccIds[opcode & 15]);
      return J(4);
    }
    if (opcode >= 0x90 && opcode < 0xa0) {
      set_id(kSetccIds[opcode & 15]);
      return modrm() && modrm_reg_field() == 0 && (E(1), true);
    }
    switch (opcode) {
      case 0x1f:  // NOP Ev (the multi-byte NOP, /0)
        set_id(X86_INS_NOP);
        // Capstone refuses registers, and sizes the operand oddly with a REX
        // or 67; compilers' padding has neither.
        if (rex_ || addrsize_prefix_) return false;
        return modrm() && modrm_reg_field() == 0 && !rm_is_reg() && (E(opsize()), true);
      case 0xa2: return set_id(X86_INS_CPUID);
      case 0xa3: set_id(X86_INS_BT); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xab: set_id(X86_INS_BTS); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xb3: set_id(X86_INS_BTR); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xbb: set_id(X86_INS_BTC); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xba: {  // group 8: BT, BTS, BTR, BTC Ev, Ib
        static constexpr unsigned ids[4] = {X86_INS_BT, X86_INS_BTS, X86_INS_BTR, X86_INS_BTC};
        if (!modrm() || modrm_reg_field() < 4) return false;
        set_id(ids[modrm_reg_field() - 4]);
        E(opsize());
        return I(1, 1, Extend::Zero);
      }
      case 0xaf: set_id(X86_INS_IMUL); return modrm() && (G(opsize()), E(opsize()), true);
      case 0xb0: set_id(X86_INS_CMPXCHG); return modrm() && (E(1), G(1), true);
      case 0xb1: set_id(X86_INS_CMPXCHG); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xc0: set_id(X86_INS_XADD); return modrm() && (E(1), G(1), true);
      case 0xc1: set_id(X86_INS_XADD); return modrm() && (E(opsize()), G(opsize()), true);
      case 0xb6: set_id(X86_INS_MOVZX); return modrm() && (G(opsize()), E(1), true);
      case 0xb7: set_id(X86_INS_MOVZX); return modrm() && (G(opsize()), E(2), true);
      case 0xbe: set_id(X86_INS_MOVSX); return modrm() && (G(opsize()), E(1), true);
      case 0xbf: set_id(X86_INS_MOVSX); return modrm() && (G(opsize()), E(2), true);
      default: return false;
    }
  }

  // LOCK only on the read-modify-write forms with a memory destination
  // (SDM vol. 2, LOCK); Capstone refuses some of the others, so they are
  // all left to it.
  bool lock_allowed() const {
    if (group1_prefix_ != 0xf0) return true;
    return d_.nops > 0 && d_.op[0].kind == OpKind::Mem && lockable(key_.id);
  }

  // The fields every instruction has, as Decoder's Capstone path sets them.
  void finish_fields() {
    d_.len = uint8_t(pos_);
    d_.id = uint16_t(key_.id);
    d_.addrsize = addrsize_prefix_ ? 4 : is64() ? 8 : 4;
    if (group1_prefix_ == 0xf0) d_.flags |= insn_flag::LOCK;
    d_.opsize = default_operand_size(mode_, opsize_prefix_, rex_w());
    // With no memory operand (string instructions' source), the override
    // or DS, as the Capstone path has it.
    const bool has_memory = d_.nops > 0 && (d_.op[0].kind == OpKind::Mem || d_.op[1].kind == OpKind::Mem);
    if (!has_memory) {
      const uint8_t seg = segment_from_prefix(seg_prefix_);
      d_.mem_seg = seg == 0xff ? uint8_t(arch::seg::DS) : seg;
    }
    // Relative branches keep the displacement from the next instruction,
    // computed the way the Capstone path does: Capstone's absolute target
    // (wrapped to 32 bits outside 64-bit mode) less the next RIP.
    if (relative_) {
      const uint64_t next = address_ + pos_;
      uint64_t target = next + uint64_t(rel_);
      if (!is64()) target &= 0xffffffffu;
      d_.imm = target - next;
    }
  }

  const CpuMode mode_;
  const uint8_t* const bytes_;
  const size_t limit_;
  const uint64_t address_;
  DecodedInsn& d_;
  DecodeKey& key_;
  size_t pos_ = 0;
  uint8_t seg_prefix_ = 0;
  uint8_t group1_prefix_ = 0;  // F0, F2 or F3
  uint8_t last_prefix_ = 0;    // the last legacy prefix byte
  bool opsize_prefix_ = false;
  bool addrsize_prefix_ = false;
  uint8_t rex_ = 0;
  uint8_t modrm_ = 0;
  unsigned reg_ = 0;  // ModR/M reg with REX.R
  unsigned rm_ = 0;   // ModR/M r/m with REX.B
  bool relative_ = false;
  int64_t rel_ = 0;
};

}  // namespace

bool fast_decode(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d, DecodeKey& key) {
  key = DecodeKey{};
  return FastDecode(mode, bytes, n, address, d, key).run();
}

}  // namespace nestbed::sim
