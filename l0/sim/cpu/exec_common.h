// Shared pieces of the instruction handlers: operand access, condition
// codes, and the host-ALU flag helpers.
//
// Status flags come from the host CPU executing the same operation (the
// project targets x86-64 hosts): `lahf; seto` after the host instruction
// captures SF, ZF, AF, PF, CF and OF exactly as the SDM defines them. Flags
// the SDM leaves undefined are then written as 0 (DIV/IDIV, whose six flags
// are all undefined, leave them unchanged), so a run is the same on every
// host (DESIGN.md §4 determinism); the list per instruction is in
// tests/unit/differential_test.cpp.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "arch/x86/rflags.h"
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"

namespace nestbed::sim {

namespace fl = arch::rflags;

// ---------------------------------------------------------------- operands

template <typename T>
inline T get_reg(Cpu& c, const Operand& o) {
  if constexpr (sizeof(T) == 1) {
    if (o.high8) return T(c.reg(o.reg) >> 8);
  }
  return T(c.reg(o.reg));
}

// Register writes: 8- and 16-bit writes merge, 32-bit writes zero-extend
// (SDM vol. 1, 3.4.1.1).
template <typename T>
inline void set_reg(Cpu& c, unsigned reg, T v, bool high8 = false) {
  uint64_t& r = c.reg(reg);
  if constexpr (sizeof(T) == 1) {
    if (high8)
      r = (r & ~0xff00ull) | (uint64_t(v) << 8);
    else
      r = (r & ~0xffull) | v;
  } else if constexpr (sizeof(T) == 2) {
    r = (r & ~0xffffull) | v;
  } else {
    r = uint64_t(v);  // uint32_t zero-extends
  }
}
template <typename T>
inline void set_reg(Cpu& c, const Operand& o, T v) {
  set_reg<T>(c, o.reg, v, o.high8);
}

template <typename T>
NB_INLINE T read_op(Cpu& c, const DecodedInsn& i, unsigned n) {
  const Operand& o = i.op[n];
  if (o.kind == OpKind::Reg) return get_reg<T>(c, o);
  if (o.kind == OpKind::Mem) return c.read<T>(c.linear(i, sizeof(T), Access::Read));
  return T(i.imm);
}

template <typename T>
NB_INLINE void write_op(Cpu& c, const DecodedInsn& i, unsigned n, T v) {
  const Operand& o = i.op[n];
  if (o.kind == OpKind::Reg)
    set_reg<T>(c, o, v);
  else
    c.write<T>(c.linear(i, sizeof(T), Access::Write), v);
}

// ------------------------------------------------------- operand forms

// An operand's form, fixed when the instruction is decoded, so that a
// handler specialised by form does no switching on operand kinds: a
// register, the immediate, a memory operand, or a memory operand of an
// instruction decoded in 64-bit mode with a 64-bit address (Cpu::linear64),
// or one of those with no index register and no segment base (MB: base +
// displacement, the commonest form in compiled code; only the MOV and ALU
// families use it, through form_of_mb).
enum class Form : uint8_t { R, I, M, M64, MB };

inline Form form_of(const DecodedInsn& d, unsigned n, CpuMode mode) {
  const OpKind k = d.op[n].kind;
  if (k == OpKind::Reg) return Form::R;
  if (k != OpKind::Mem) return Form::I;  // as read_op: anything else reads the immediate
  return mode == CpuMode::Bits64 && d.addrsize == 8 ? Form::M64 : Form::M;
}

// form_of, with MB where it applies.
inline Form form_of_mb(const DecodedInsn& d, unsigned n, CpuMode mode) {
  const Form f = form_of(d, n, mode);
  return f == Form::M64 && d.mem_index == REG_ZERO && d.mem_seg == SEG_NONE ? Form::MB : f;
}

template <Form F>
NB_INLINE uint64_t form_linear(Cpu& c, const DecodedInsn& i, unsigned size, Access a) {
  static_assert(F == Form::M || F == Form::M64 || F == Form::MB);
  if constexpr (F == Form::MB)
    return c.linear_base_disp(i);
  else if constexpr (F == Form::M64)
    return c.linear64(i);
  else
    return c.linear(i, size, a);
}

template <typename T, Form F>
NB_INLINE T read_form(Cpu& c, const DecodedInsn& i, unsigned n) {
  if constexpr (F == Form::R)
    return get_reg<T>(c, i.op[n]);
  else if constexpr (F == Form::I)
    return T(i.imm);
  else
    return c.read<T>(form_linear<F>(c, i, sizeof(T), Access::Read));
}

// Read-modify-write of memory operand 0 in form F (M or M64), as modify_op0.
template <typename T, Form F, typename Fn>
NB_INLINE void modify_mem(Cpu& c, const DecodedInsn& i, Fn f) {
  const uint64_t la = form_linear<F>(c, i, sizeof(T), Access::Write);
  if (T* p = c.rmw_ptr<T>(la)) {
    T old;
    std::memcpy(&old, p, sizeof(T));
    const T v = f(old);
    std::memcpy(p, &v, sizeof(T));
    return;
  }
  const T old = T(c.rmw_read(la, sizeof(T)));
  c.write<T>(la, f(old));
}

// Picks the instance of a handler family for an operand size and form(s):
// `pick(tag<T>{}, form...)` returns the handler.
template <typename T>
struct SizeTag {
  using type = T;
};
template <typename Pick>
inline Handler by_size(unsigned size, Pick pick) {
  switch (size) {
    case 1: return pick(SizeTag<uint8_t>{});
    case 2: return pick(SizeTag<uint16_t>{});
    case 4: return pick(SizeTag<uint32_t>{});
    default: return pick(SizeTag<uint64_t>{});
  }
}

// Read-modify-write of operand 0: `f(old)` returns the new value; writes
// happen only after the access is known to be allowed.
template <typename T, typename F>
inline void modify_op0(Cpu& c, const DecodedInsn& i, F f) {
  const Operand& o = i.op[0];
  if (o.kind == OpKind::Reg) {
    set_reg<T>(c, o, f(get_reg<T>(c, o)));
    return;
  }
  modify_mem<T, Form::M>(c, i, f);
}

template <typename T>
inline constexpr uint64_t mask_of() {
  return sizeof(T) == 8 ? ~0ull : ((1ull << (8 * sizeof(T))) - 1);
}
template <typename T>
inline constexpr T sign_bit() {
  return T(T(1) << (8 * sizeof(T) - 1));
}

// ---------------------------------------------------------- condition codes

// The 16 conditions of Jcc/SETcc/CMOVcc in encoding order (SDM vol. 1, B.1).
inline bool condition(uint64_t f, unsigned cc) {
  bool r;
  switch (cc >> 1) {
    case 0: r = f & fl::OF; break;
    case 1: r = f & fl::CF; break;
    case 2: r = f & fl::ZF; break;
    case 3: r = f & (fl::CF | fl::ZF); break;
    case 4: r = f & fl::SF; break;
    case 5: r = f & fl::PF; break;
    case 6: r = bool(f & fl::SF) != bool(f & fl::OF); break;
    default: r = (f & fl::ZF) || (bool(f & fl::SF) != bool(f & fl::OF)); break;
  }
  return r ^ (cc & 1);
}

// ------------------------------------------------------------ host flags

// Converts `lahf; seto %al` output (AH = SF:ZF:0:AF:0:PF:1:CF, AL = OF) to
// RFLAGS status bits.
inline uint64_t host_status(uint16_t ax) { return ((ax >> 8) & 0xd5) | (uint64_t(ax & 1) << 11); }

inline void set_status(uint64_t& f, uint64_t status, uint64_t which = fl::STATUS) {
  f = (f & ~which) | (status & which);
}

#define NB_HOST_BINOP(name, insn)                                                                     \
  template <typename T>                                                                             \
  inline T name(T a, T b, uint64_t& f) {                                                            \
    uint16_t ax;                                                                                    \
    asm(insn " %[b], %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : [b] "r"(b) : "cc");     \
    set_status(f, host_status(ax));                                                                 \
    return a;                                                                                       \
  }
NB_HOST_BINOP(host_add, "add")
NB_HOST_BINOP(host_sub, "sub")
NB_HOST_BINOP(host_and, "and")
NB_HOST_BINOP(host_or, "or")
NB_HOST_BINOP(host_xor, "xor")
#undef NB_HOST_BINOP

// ADC/SBB take CF in.
#define NB_HOST_CARRYOP(name, insn)                                                                   \
  template <typename T>                                                                             \
  inline T name(T a, T b, uint64_t& f) {                                                            \
    uint16_t ax;                                                                                    \
    const uint32_t cf = uint32_t(f & fl::CF);                                                       \
    asm("bt $0, %k[cf]\n\t" insn " %[b], %[a]\n\tlahf\n\tseto %%al"                                  \
        : [a] "+r"(a), "=&a"(ax)                                                                    \
        : [b] "r"(b), [cf] "r"(cf)                                                                  \
        : "cc");                                                                                    \
    set_status(f, host_status(ax));                                                                 \
    return a;                                                                                       \
  }
NB_HOST_CARRYOP(host_adc, "adc")
NB_HOST_CARRYOP(host_sbb, "sbb")
#undef NB_HOST_CARRYOP

#define NB_HOST_UNOP(name, insn, affected)                                             \
  template <typename T>                                                              \
  inline T name(T a, uint64_t& f) {                                                  \
    uint16_t ax;                                                                     \
    asm(insn " %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : : "cc");       \
    set_status(f, host_status(ax), affected);                                        \
    return a;                                                                        \
  }
NB_HOST_UNOP(host_inc, "inc", fl::INC_DEC_WRITTEN)
NB_HOST_UNOP(host_dec, "dec", fl::INC_DEC_WRITTEN)
NB_HOST_UNOP(host_neg, "neg", fl::STATUS)
#undef NB_HOST_UNOP

// Shifts and rotates by CL: the host masks the count exactly as the guest
// does for the same operand size. Returns the raw host status bits.
#define NB_HOST_SHIFT(name, insn)                                                                      \
  template <typename T>                                                                              \
  inline T name(T a, uint8_t count, uint64_t& status) {                                              \
    uint16_t ax;                                                                                     \
    asm(insn " %%cl, %[a]\n\tlahf\n\tseto %%al" : [a] "+r"(a), "=&a"(ax) : "c"(count) : "cc");       \
    status = host_status(ax);                                                                        \
    return a;                                                                                        \
  }
NB_HOST_SHIFT(host_shl, "shl")
NB_HOST_SHIFT(host_shr, "shr")
NB_HOST_SHIFT(host_sar, "sar")
NB_HOST_SHIFT(host_rol, "rol")
NB_HOST_SHIFT(host_ror, "ror")
#undef NB_HOST_SHIFT

#define NB_HOST_ROTC(name, insn)                                                                 \
  template <typename T>                                                                        \
  inline T name(T a, uint8_t count, uint64_t cf_in, uint64_t& status) {                        \
    uint16_t ax;                                                                               \
    const uint32_t cf = uint32_t(cf_in & 1);                                                   \
    asm("bt $0, %k[cf]\n\t" insn " %%cl, %[a]\n\tlahf\n\tseto %%al"                            \
        : [a] "+r"(a), "=&a"(ax)                                                               \
        : "c"(count), [cf] "r"(cf)                                                             \
        : "cc");                                                                               \
    status = host_status(ax);                                                                  \
    return a;                                                                                  \
  }
NB_HOST_ROTC(host_rcl, "rcl")
NB_HOST_ROTC(host_rcr, "rcr")
#undef NB_HOST_ROTC

#define NB_HOST_DSHIFT(name, insn)                                                                   \
  template <typename T>                                                                            \
  inline T name(T dst, T src, uint8_t count, uint64_t& status) {                                   \
    uint16_t ax;                                                                                   \
    asm(insn " %%cl, %[s], %[d]\n\tlahf\n\tseto %%al"                                               \
        : [d] "+r"(dst), "=&a"(ax)                                                                 \
        : [s] "r"(src), "c"(count)                                                                 \
        : "cc");                                                                                   \
    status = host_status(ax);                                                                      \
    return dst;                                                                                    \
  }
NB_HOST_DSHIFT(host_shld, "shld")
NB_HOST_DSHIFT(host_shrd, "shrd")
#undef NB_HOST_DSHIFT

// The parity, zero and sign flags of a result (for instructions computed in
// software).
template <typename T>
inline uint64_t szp_flags(T r) {
  uint64_t f = 0;
  if (r == 0) f |= fl::ZF;
  if (r & sign_bit<T>()) f |= fl::SF;
  if (!__builtin_parity(uint8_t(r))) f |= fl::PF;
  return f;
}

// Selecting a handler instance by operand size.
#define NB_BY_SIZE(fn, size) \
  ((size) == 1 ? &fn<uint8_t> : (size) == 2 ? &fn<uint16_t> : (size) == 4 ? &fn<uint32_t> : &fn<uint64_t>)
// The same for handler templates with one leading parameter P.
#define NB_BY_SIZE_P(fn, P, size)                                                                   \
  ((size) == 1 ? &fn<P, uint8_t> : (size) == 2 ? &fn<P, uint16_t> : (size) == 4 ? &fn<P, uint32_t> \
                                                                               : &fn<P, uint64_t>)

// Sets the handler and modeled cost of an instruction.
inline void set_handler(DecodedInsn& d, Handler h, const CostModel& costs, CostClass cost, bool ends_block = false) {
  d.fn = h;
  d.cost = uint16_t(costs[cost]);
  if (ends_block) d.flags |= insn_flag::ENDS_BLOCK;
}

}  // namespace nestbed::sim
