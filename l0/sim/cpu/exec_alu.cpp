// Integer arithmetic and logic: ADD..CMP, TEST, INC/DEC/NEG/NOT, shifts
// and rotates, SHLD/SHRD, MUL/IMUL/DIV/IDIV, BT*, BSF/BSR (SDM vol. 2).
#include <capstone/capstone.h>

#include <utility>

#include "arch/x86/exceptions.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"

namespace nestbed::sim {

namespace {

enum class Alu { Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test };

// The undefined flags of the logic operations are written as 0
// (arch/x86/rflags.h, LOGIC_DEFINED).
template <Alu OP, typename T>
inline T alu(T a, T b, uint64_t& f) {
  if constexpr (OP == Alu::Add) return host_add(a, b, f);
  if constexpr (OP == Alu::Or) {
    T r = host_or(a, b, f);
    f &= ~(fl::STATUS & ~fl::LOGIC_DEFINED);
    return r;
  }
  if constexpr (OP == Alu::Adc) return host_adc(a, b, f);
  if constexpr (OP == Alu::Sbb) return host_sbb(a, b, f);
  if constexpr (OP == Alu::And || OP == Alu::Test) {
    T r = host_and(a, b, f);
    f &= ~(fl::STATUS & ~fl::LOGIC_DEFINED);
    return r;
  }
  if constexpr (OP == Alu::Sub || OP == Alu::Cmp) return host_sub(a, b, f);
  if constexpr (OP == Alu::Xor) {
    T r = host_xor(a, b, f);
    f &= ~(fl::STATUS & ~fl::LOGIC_DEFINED);
    return r;
  }
}

// Register destination; the source's form S is fixed at decode time.
template <Alu OP, typename T, Form S>
void h_alu_reg(Cpu& c, const DecodedInsn& i) {
  const T b = read_form<T, S>(c, i, 1);
  uint64_t& f = c.state().rflags;
  const T r = alu<OP, T>(get_reg<T>(c, i.op[0]), b, f);
  if constexpr (OP != Alu::Cmp && OP != Alu::Test) set_reg<T>(c, i.op[0], r);
}

// Memory destination in form D (M or M64), register or immediate source S.
template <Alu OP, typename T, Form D, Form S>
void h_alu_mem(Cpu& c, const DecodedInsn& i) {
  const T b = read_form<T, S>(c, i, 1);
  uint64_t f = c.state().rflags;
  if constexpr (OP == Alu::Cmp || OP == Alu::Test) {
    alu<OP, T>(c.read<T>(form_linear<D>(c, i, sizeof(T), Access::Read)), b, f);
  } else {
    modify_mem<T, D>(c, i, [&](T a) { return alu<OP, T>(a, b, f); });
  }
  c.state().rflags = f;
}

template <Alu OP, typename T>
Handler alu_handler(Form dst, Form src) {
  if (dst == Form::R) {
    switch (src) {
      case Form::R: return &h_alu_reg<OP, T, Form::R>;
      case Form::I: return &h_alu_reg<OP, T, Form::I>;
      case Form::M: return &h_alu_reg<OP, T, Form::M>;
      case Form::MB: return &h_alu_reg<OP, T, Form::MB>;
      default: return &h_alu_reg<OP, T, Form::M64>;
    }
  }
  const bool reg_src = src == Form::R;
  if (dst == Form::MB) return reg_src ? &h_alu_mem<OP, T, Form::MB, Form::R> : &h_alu_mem<OP, T, Form::MB, Form::I>;
  if (dst == Form::M64) return reg_src ? &h_alu_mem<OP, T, Form::M64, Form::R> : &h_alu_mem<OP, T, Form::M64, Form::I>;
  return reg_src ? &h_alu_mem<OP, T, Form::M, Form::R> : &h_alu_mem<OP, T, Form::M, Form::I>;
}

template <Alu OP>
bool select_binop(DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const Form dst = form_of_mb(d, 0, mode), src = form_of_mb(d, 1, mode);
  const Handler h = by_size(d.op[0].size, [&](auto tag) { return alu_handler<OP, typename decltype(tag)::type>(dst, src); });
  set_handler(d, h, costs, d.op[0].kind == OpKind::Mem ? CostClass::load_store : CostClass::simple);
  return true;
}

// ALU on registers then the block's final Jcc (64-bit mode), fused: one
// dispatch for the commonest pair (cmp/test/add/sub/and, then a branch).
// Register and immediate operands only, so the first half cannot fault,
// exit or end the block.
template <Alu OP, typename T, Form S, unsigned CC>
void h_alu_jcc(Cpu& c, const DecodedInsn& i) {
  h_alu_reg<OP, T, S>(c, i);
  if (condition(c.state().rflags, CC)) c.reg(REG_RIP) += (&i)[1].imm;  // 64-bit RIP: no truncation
}

template <Alu OP, typename T, Form S, size_t... CC>
Handler alu_jcc_handler(unsigned cc, std::index_sequence<CC...>) {
  static constexpr Handler table[] = {&h_alu_jcc<OP, T, S, CC>...};
  return table[cc];
}

template <Alu OP>
Handler alu_jcc_sized(unsigned size, Form src, unsigned cc) {
  const auto seq = std::make_index_sequence<16>();
  if (size == 8)
    return src == Form::R ? alu_jcc_handler<OP, uint64_t, Form::R>(cc, seq) : alu_jcc_handler<OP, uint64_t, Form::I>(cc, seq);
  if (size == 4)
    return src == Form::R ? alu_jcc_handler<OP, uint32_t, Form::R>(cc, seq) : alu_jcc_handler<OP, uint32_t, Form::I>(cc, seq);
  return nullptr;
}

// ----------------------------------------------------------- unary

template <typename T>
void h_inc(Cpu& c, const DecodedInsn& i) {
  uint64_t f = c.state().rflags;
  modify_op0<T>(c, i, [&](T a) { return host_inc(a, f); });
  c.state().rflags = f;
}
template <typename T>
void h_dec(Cpu& c, const DecodedInsn& i) {
  uint64_t f = c.state().rflags;
  modify_op0<T>(c, i, [&](T a) { return host_dec(a, f); });
  c.state().rflags = f;
}
template <typename T>
void h_neg(Cpu& c, const DecodedInsn& i) {
  uint64_t f = c.state().rflags;
  modify_op0<T>(c, i, [&](T a) { return host_neg(a, f); });
  c.state().rflags = f;
}
template <typename T>
void h_not(Cpu& c, const DecodedInsn& i) {
  modify_op0<T>(c, i, [](T a) { return T(~a); });
}

// ------------------------------------------------- shifts and rotates

enum class Shift { Shl, Shr, Sar, Rol, Ror, Rcl, Rcr };

template <typename T>
inline uint8_t shift_count(Cpu& c, const DecodedInsn& i) {
  const uint8_t raw = i.op[1].kind == OpKind::Reg ? uint8_t(c.reg(RCX)) : uint8_t(i.imm);
  return raw & (sizeof(T) == 8 ? 0x3f : 0x1f);  // SDM SAL/SAR/SHL/SHR: count masked to 5 or 6 bits
}

// Flags per SDM SAL/SHR/ROL/RCL "Flags Affected". A masked count of 0
// changes nothing. Undefined flags (AF for shifts; OF unless the count is
// 1; CF of SHL/SHR when the count is at least the operand width) become 0.
template <Shift OP, typename T>
void h_shift(Cpu& c, const DecodedInsn& i) {
  const uint8_t count = shift_count<T>(c, i);
  if (count == 0) {
    if (i.op[0].kind == OpKind::Mem) (void)c.rmw_read(c.linear(i, sizeof(T), Access::Write), sizeof(T));
    // No flag changes, but the destination is still written: a 32-bit
    // register is zero-extended (SDM vol. 1, 3.4.1.1), as hardware does.
    else if constexpr (sizeof(T) == 4) set_reg<T>(c, i.op[0], get_reg<T>(c, i.op[0]));
    return;
  }
  uint64_t f = c.state().rflags;
  modify_op0<T>(c, i, [&](T a) {
    uint64_t st;
    T r;
    uint64_t affected, defined;
    const bool one = count == 1;
    switch (OP) {
      case Shift::Shl: r = host_shl(a, count, st); break;
      case Shift::Shr: r = host_shr(a, count, st); break;
      case Shift::Sar: r = host_sar(a, count, st); break;
      case Shift::Rol: r = host_rol(a, count, st); break;
      case Shift::Ror: r = host_ror(a, count, st); break;
      case Shift::Rcl: r = host_rcl(a, count, f, st); break;
      default: r = host_rcr(a, count, f, st); break;
    }
    if (OP == Shift::Shl || OP == Shift::Shr || OP == Shift::Sar) {
      affected = fl::STATUS;
      defined = fl::CF | fl::ZF | fl::SF | fl::PF | (one ? fl::OF : 0);
      if (OP != Shift::Sar && count >= 8 * sizeof(T)) defined &= ~fl::CF;
    } else {
      affected = fl::CF | fl::OF;
      defined = fl::CF | (one ? fl::OF : 0);
    }
    f = (f & ~affected) | (st & defined);
    return r;
  });
  c.state().rflags = f;
}

template <bool LEFT, typename T>
void h_double_shift(Cpu& c, const DecodedInsn& i) {
  if constexpr (sizeof(T) == 1) {
    raise_ud();  // no byte form exists; never selected
  } else {
  const uint8_t raw = i.op[2].kind == OpKind::Reg ? uint8_t(c.reg(RCX)) : uint8_t(i.imm);
  const uint8_t count = raw & (sizeof(T) == 8 ? 0x3f : 0x1f);
  if (count == 0) {
    if constexpr (sizeof(T) == 4) {  // as for shifts: the 32-bit register is written, zero-extended
      if (i.op[0].kind == OpKind::Reg) set_reg<T>(c, i.op[0], get_reg<T>(c, i.op[0]));
    }
    return;
  }
  const T src = get_reg<T>(c, i.op[1]);
  uint64_t f = c.state().rflags;
  modify_op0<T>(c, i, [&](T a) {
    uint64_t st;
    const T r = LEFT ? host_shld(a, src, count, st) : host_shrd(a, src, count, st);
    // SDM SHLD: AF undefined; OF defined for a count of 1 only; a count
    // above the operand size (16-bit forms) leaves result and flags
    // undefined — we keep the host's result and its SF/ZF/PF/CF.
    uint64_t defined = fl::CF | fl::ZF | fl::SF | fl::PF | (count == 1 ? fl::OF : 0);
    f = (f & ~fl::STATUS) | (st & defined);
    return r;
  });
  c.state().rflags = f;
  }
}

// ------------------------------------------------- multiply and divide

template <typename T>
using Wide = std::conditional_t<sizeof(T) == 8, unsigned __int128, std::conditional_t<sizeof(T) == 4, uint64_t, uint32_t>>;
template <typename T>
using SWide = std::conditional_t<sizeof(T) == 8, __int128, std::conditional_t<sizeof(T) == 4, int64_t, int32_t>>;
template <typename T>
using Signed = std::make_signed_t<T>;

// Writes the double-width result of one-operand MUL/IMUL/DIV: AL/AH for
// bytes, else rDX:rAX.
template <typename T>
inline void set_acc_pair(Cpu& c, T lo, T hi) {
  if constexpr (sizeof(T) == 1) {
    set_reg<uint16_t>(c, RAX, uint16_t(lo | (uint16_t(hi) << 8)));
  } else {
    set_reg<T>(c, RAX, lo);
    set_reg<T>(c, RDX, hi);
  }
}

// MUL/IMUL: CF = OF = "the upper half is significant" (fl::MULTIPLY_DEFINED);
// SF, ZF, AF, PF are undefined and written as 0.
template <typename T>
void h_mul(Cpu& c, const DecodedInsn& i) {
  const T src = read_op<T>(c, i, 0);
  const Wide<T> r = Wide<T>(T(c.reg(RAX))) * Wide<T>(src);
  const T lo = T(r), hi = T(r >> (8 * sizeof(T)));
  set_acc_pair<T>(c, lo, hi);
  uint64_t& f = c.state().rflags;
  f &= ~fl::STATUS;
  if (hi) f |= fl::MULTIPLY_DEFINED;
}

template <typename T>
void h_imul1(Cpu& c, const DecodedInsn& i) {
  const Signed<T> src = Signed<T>(read_op<T>(c, i, 0));
  const SWide<T> r = SWide<T>(Signed<T>(T(c.reg(RAX)))) * SWide<T>(src);
  const T lo = T(r), hi = T(r >> (8 * sizeof(T)));
  set_acc_pair<T>(c, lo, hi);
  uint64_t& f = c.state().rflags;
  f &= ~fl::STATUS;
  if (SWide<T>(Signed<T>(lo)) != r) f |= fl::MULTIPLY_DEFINED;
}

// IMUL r, r/m and IMUL r, r/m, imm: truncated product.
template <typename T>
void h_imul_n(Cpu& c, const DecodedInsn& i) {
  const Signed<T> a = Signed<T>(read_op<T>(c, i, 1));
  const Signed<T> b = i.nops == 3 ? Signed<T>(T(i.imm)) : Signed<T>(get_reg<T>(c, i.op[0]));
  const SWide<T> r = SWide<T>(a) * SWide<T>(b);
  set_reg<T>(c, i.op[0], T(r));
  uint64_t& f = c.state().rflags;
  f &= ~fl::STATUS;
  if (SWide<T>(Signed<T>(T(r))) != r) f |= fl::MULTIPLY_DEFINED;
}

// DIV/IDIV: #DE on a zero divisor or a quotient that does not fit (SDM
// DIV "Operation"); all six status flags are undefined and left unchanged.
template <typename T>
void h_div(Cpu& c, const DecodedInsn& i) {
  const T divisor = read_op<T>(c, i, 0);
  if (divisor == 0) raise_fault(uint8_t(arch::Vector::DE));
  Wide<T> dividend;
  if constexpr (sizeof(T) == 1)
    dividend = uint16_t(c.reg(RAX));
  else
    dividend = (Wide<T>(T(c.reg(RDX))) << (8 * sizeof(T))) | T(c.reg(RAX));
  const Wide<T> q = dividend / divisor, r = dividend % divisor;
  if (q > Wide<T>(T(~T(0)))) raise_fault(uint8_t(arch::Vector::DE));
  set_acc_pair<T>(c, T(q), T(r));
}

template <typename T>
void h_idiv(Cpu& c, const DecodedInsn& i) {
  const Signed<T> divisor = Signed<T>(read_op<T>(c, i, 0));
  if (divisor == 0) raise_fault(uint8_t(arch::Vector::DE));
  SWide<T> dividend;
  if constexpr (sizeof(T) == 1)
    dividend = int16_t(uint16_t(c.reg(RAX)));
  else
    dividend = SWide<T>((Wide<T>(T(c.reg(RDX))) << (8 * sizeof(T))) | T(c.reg(RAX)));
  // The most negative dividend divided by -1 overflows the wide type too.
  const SWide<T> min_wide = SWide<T>(Wide<T>(1) << (16 * sizeof(T) - 1));
  if (divisor == -1 && dividend == min_wide) raise_fault(uint8_t(arch::Vector::DE));
  const SWide<T> q = dividend / divisor, r = dividend % divisor;
  if (q != SWide<T>(Signed<T>(T(q)))) raise_fault(uint8_t(arch::Vector::DE));
  set_acc_pair<T>(c, T(q), T(r));
}

// ----------------------------------------------------------- bit tests

enum class BitOp { Test, Set, Reset, Complement };

// BT/BTS/BTR/BTC: CF = the selected bit; OF, SF, AF, PF undefined (→ 0);
// ZF unchanged. A register bit offset with a memory operand addresses a bit
// string relative to the operand (SDM BT "Operation").
template <BitOp OP, typename T>
void h_bit(Cpu& c, const DecodedInsn& i) {
  constexpr unsigned bits = 8 * sizeof(T);
  uint64_t& f = c.state().rflags;
  auto apply = [&](T v, unsigned bit, T* out) {
    const bool set = (v >> bit) & 1;
    T nv = v;
    if (OP == BitOp::Set) nv = T(v | (T(1) << bit));
    if (OP == BitOp::Reset) nv = T(v & ~(T(1) << bit));
    if (OP == BitOp::Complement) nv = T(v ^ (T(1) << bit));
    *out = nv;
    f = (f & ~(fl::CF | fl::OF | fl::SF | fl::AF | fl::PF)) | (set ? fl::CF : 0);
  };
  if (i.op[0].kind == OpKind::Reg) {
    const unsigned bit = unsigned(read_op<T>(c, i, 1)) & (bits - 1);
    T out;
    apply(get_reg<T>(c, i.op[0]), bit, &out);
    if (OP != BitOp::Test) set_reg<T>(c, i.op[0], out);
    return;
  }
  uint64_t la = c.linear(i, sizeof(T), OP == BitOp::Test ? Access::Read : Access::Write);
  unsigned bit;
  if (i.op[1].kind == OpKind::Imm) {
    bit = unsigned(i.imm) & (bits - 1);
  } else {
    using S = std::make_signed_t<T>;
    const int64_t offset = int64_t(S(get_reg<T>(c, i.op[1])));
    la += uint64_t((offset >> (sizeof(T) == 8 ? 6 : sizeof(T) == 4 ? 5 : 4)) * int64_t(sizeof(T)));
    if (c.mode() != CpuMode::Bits64) la = uint32_t(la);
    bit = unsigned(offset) & (bits - 1);
  }
  if (OP == BitOp::Test) {
    T out;
    apply(c.read<T>(la), bit, &out);
    return;
  }
  const T old = T(c.rmw_read(la, sizeof(T)));
  const uint64_t saved = f;
  T out;
  apply(old, bit, &out);
  const uint64_t nf = f;
  f = saved;
  c.write<T>(la, out);
  f = nf;
}

// BSF/BSR: ZF = (source == 0) and the destination is unchanged then
// (as Intel and AMD processors do); CF, OF, SF, AF, PF undefined (→ 0).
// TZCNT/LZCNT encodings execute as BSF/BSR: this CPU does not report
// BMI1/LZCNT (SDM TZCNT: "on processors that do not support TZCNT, the
// instruction byte encoding is executed as BSF").
template <bool REVERSE, typename T>
void h_bitscan(Cpu& c, const DecodedInsn& i) {
  const T src = read_op<T>(c, i, 1);
  uint64_t& f = c.state().rflags;
  f &= ~fl::STATUS;
  if (src == 0) {
    f |= fl::ZF;
    return;
  }
  const unsigned idx = REVERSE ? unsigned(63 - __builtin_clzll(uint64_t(src))) : unsigned(__builtin_ctzll(uint64_t(src)));
  set_reg<T>(c, i.op[0], T(idx));
}

}  // namespace

Handler fuse_alu_jcc(const DecodedInsn& alu, const DecodedInsn& jcc, CpuMode mode) {
  const int cc = jcc_condition(jcc.id);
  if (mode != CpuMode::Bits64 || cc < 0 || (alu.flags & insn_flag::LOCK)) return nullptr;
  if (alu.op[0].kind != OpKind::Reg || alu.op[0].high8) return nullptr;
  const Form src = form_of(alu, 1, mode);
  if (src != Form::R && src != Form::I) return nullptr;
  const unsigned size = alu.op[0].size;
  switch (alu.id) {
    case X86_INS_CMP: return alu_jcc_sized<Alu::Cmp>(size, src, unsigned(cc));
    case X86_INS_TEST: return alu_jcc_sized<Alu::Test>(size, src, unsigned(cc));
    case X86_INS_ADD: return alu_jcc_sized<Alu::Add>(size, src, unsigned(cc));
    case X86_INS_SUB: return alu_jcc_sized<Alu::Sub>(size, src, unsigned(cc));
    case X86_INS_AND: return alu_jcc_sized<Alu::And>(size, src, unsigned(cc));
    default: return nullptr;
  }
}

bool select_alu(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const unsigned size = d.op[0].size;
  switch (id) {
    case X86_INS_ADD: return select_binop<Alu::Add>(d, mode, costs);
    case X86_INS_OR: return select_binop<Alu::Or>(d, mode, costs);
    case X86_INS_ADC: return select_binop<Alu::Adc>(d, mode, costs);
    case X86_INS_SBB: return select_binop<Alu::Sbb>(d, mode, costs);
    case X86_INS_AND: return select_binop<Alu::And>(d, mode, costs);
    case X86_INS_SUB: return select_binop<Alu::Sub>(d, mode, costs);
    case X86_INS_XOR: return select_binop<Alu::Xor>(d, mode, costs);
    case X86_INS_CMP: return select_binop<Alu::Cmp>(d, mode, costs);
    case X86_INS_TEST: return select_binop<Alu::Test>(d, mode, costs);
    case X86_INS_INC: set_handler(d, NB_BY_SIZE(h_inc, size), costs, CostClass::simple); return true;
    case X86_INS_DEC: set_handler(d, NB_BY_SIZE(h_dec, size), costs, CostClass::simple); return true;
    case X86_INS_NEG: set_handler(d, NB_BY_SIZE(h_neg, size), costs, CostClass::simple); return true;
    case X86_INS_NOT: set_handler(d, NB_BY_SIZE(h_not, size), costs, CostClass::simple); return true;
    case X86_INS_SAL:
    case X86_INS_SHL: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Shl, size), costs, CostClass::simple); return true;
    case X86_INS_SHR: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Shr, size), costs, CostClass::simple); return true;
    case X86_INS_SAR: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Sar, size), costs, CostClass::simple); return true;
    case X86_INS_ROL: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Rol, size), costs, CostClass::simple); return true;
    case X86_INS_ROR: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Ror, size), costs, CostClass::simple); return true;
    case X86_INS_RCL: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Rcl, size), costs, CostClass::simple); return true;
    case X86_INS_RCR: set_handler(d, NB_BY_SIZE_P(h_shift, Shift::Rcr, size), costs, CostClass::simple); return true;
    case X86_INS_SHLD: set_handler(d, NB_BY_SIZE_P(h_double_shift, true, size), costs, CostClass::simple); return true;
    case X86_INS_SHRD: set_handler(d, NB_BY_SIZE_P(h_double_shift, false, size), costs, CostClass::simple); return true;
    case X86_INS_MUL: set_handler(d, NB_BY_SIZE(h_mul, size), costs, CostClass::multiply); return true;
    case X86_INS_IMUL:
      if (d.nops == 1)
        set_handler(d, NB_BY_SIZE(h_imul1, size), costs, CostClass::multiply);
      else
        set_handler(d, NB_BY_SIZE(h_imul_n, size), costs, CostClass::multiply);
      return true;
    case X86_INS_DIV:
      set_handler(d, NB_BY_SIZE(h_div, size), costs, size == 8 ? CostClass::divide64 : CostClass::divide);
      return true;
    case X86_INS_IDIV:
      set_handler(d, NB_BY_SIZE(h_idiv, size), costs, size == 8 ? CostClass::divide64 : CostClass::divide);
      return true;
    case X86_INS_BT: set_handler(d, NB_BY_SIZE_P(h_bit, BitOp::Test, size), costs, CostClass::simple); return true;
    case X86_INS_BTS: set_handler(d, NB_BY_SIZE_P(h_bit, BitOp::Set, size), costs, CostClass::simple); return true;
    case X86_INS_BTR: set_handler(d, NB_BY_SIZE_P(h_bit, BitOp::Reset, size), costs, CostClass::simple); return true;
    case X86_INS_BTC: set_handler(d, NB_BY_SIZE_P(h_bit, BitOp::Complement, size), costs, CostClass::simple); return true;
    case X86_INS_TZCNT:
    case X86_INS_BSF: set_handler(d, NB_BY_SIZE_P(h_bitscan, false, size), costs, CostClass::simple); return true;
    case X86_INS_LZCNT:
    case X86_INS_BSR: set_handler(d, NB_BY_SIZE_P(h_bitscan, true, size), costs, CostClass::simple); return true;
    default: return false;
  }
}

}  // namespace nestbed::sim
