// Data movement: MOV and its extending forms, LEA, XCHG, CMPXCHG, XADD,
// BSWAP, PUSH/POP, PUSHF/POPF, LAHF/SAHF, CBW..CQO, CMOVcc, SETcc, flag
// instructions, LEAVE/ENTER, XLAT and the no-ops (SDM vol. 2).
#include <capstone/capstone.h>

#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "arch/trace_annotations.h"
#include "l0/sim/cpu/condition_ids.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/vmx/vmx.h"
#include "arch/vmx/vmx.h"

namespace nestbed::sim {

namespace {

// MOV with the destination's form D and the source's form S fixed at
// decode time (at most one of them is memory).
template <typename T, Form D, Form S>
void h_mov(Cpu& c, const DecodedInsn& i) {
  const T v = read_form<T, S>(c, i, 1);
  if constexpr (D == Form::R)
    set_reg<T>(c, i.op[0], v);
  else
    c.write<T>(form_linear<D>(c, i, sizeof(T), Access::Write), v);
}

template <typename T>
Handler mov_handler(Form dst, Form src) {
  if (dst == Form::R) {
    switch (src) {
      case Form::R: return &h_mov<T, Form::R, Form::R>;
      case Form::I: return &h_mov<T, Form::R, Form::I>;
      case Form::M: return &h_mov<T, Form::R, Form::M>;
      case Form::MB: return &h_mov<T, Form::R, Form::MB>;
      default: return &h_mov<T, Form::R, Form::M64>;
    }
  }
  const bool reg_src = src == Form::R;
  if (dst == Form::MB) return reg_src ? &h_mov<T, Form::MB, Form::R> : &h_mov<T, Form::MB, Form::I>;
  if (dst == Form::M64) return reg_src ? &h_mov<T, Form::M64, Form::R> : &h_mov<T, Form::M64, Form::I>;
  return reg_src ? &h_mov<T, Form::M, Form::R> : &h_mov<T, Form::M, Form::I>;
}

// MOVZX/MOVSX/MOVSXD: D is the destination width, S the source width, F
// the source's form (a register or memory).
template <typename D, typename S, bool SIGNED, Form F>
void h_movx(Cpu& c, const DecodedInsn& i) {
  const S v = read_form<S, F>(c, i, 1);
  D r;
  if constexpr (SIGNED)
    r = D(std::make_signed_t<D>(std::make_signed_t<S>(v)));
  else
    r = D(v);
  set_reg<D>(c, i.op[0], r);
}

template <typename T>
void h_lea(Cpu& c, const DecodedInsn& i) {
  set_reg<T>(c, i.op[0], T(c.effective_address(i)));
}

template <typename T>
void h_xchg(Cpu& c, const DecodedInsn& i) {
  // XCHG with memory is always locked; here that only matters for ordering.
  if (i.op[0].kind == OpKind::Mem || i.op[1].kind == OpKind::Mem) {
    const unsigned mem = i.op[0].kind == OpKind::Mem ? 0 : 1;
    const Operand& r = i.op[1 - mem];
    const uint64_t la = c.linear(i, sizeof(T), Access::Write);
    const T old = T(c.rmw_read(la, sizeof(T)));
    c.write<T>(la, get_reg<T>(c, r));
    set_reg<T>(c, r, old);
    return;
  }
  const T a = get_reg<T>(c, i.op[0]), b = get_reg<T>(c, i.op[1]);
  set_reg<T>(c, i.op[0], b);
  set_reg<T>(c, i.op[1], a);
}

// CMPXCHG: flags as CMP accumulator, destination. The destination is
// written in both cases (with its old value on failure; SDM CMPXCHG).
template <typename T>
void h_cmpxchg(Cpu& c, const DecodedInsn& i) {
  const T acc = T(c.reg(RAX));
  const T src = get_reg<T>(c, i.op[1]);
  uint64_t f = c.state().rflags;
  T old;
  if (i.op[0].kind == OpKind::Reg) {
    old = get_reg<T>(c, i.op[0]);
    host_sub(acc, old, f);
    if (acc == old) set_reg<T>(c, i.op[0], src);
    else set_reg<T>(c, RAX, old);
  } else {
    const uint64_t la = c.linear(i, sizeof(T), Access::Write);
    old = T(c.rmw_read(la, sizeof(T)));
    host_sub(acc, old, f);
    c.write<T>(la, acc == old ? src : old);
    if (acc != old) set_reg<T>(c, RAX, old);
  }
  c.state().rflags = f;
}

template <typename T>
void h_xadd(Cpu& c, const DecodedInsn& i) {
  const T src = get_reg<T>(c, i.op[1]);
  uint64_t f = c.state().rflags;
  T old = 0;
  modify_op0<T>(c, i, [&](T d) {
    old = d;
    return host_add(d, src, f);
  });
  set_reg<T>(c, i.op[1], old);
  c.state().rflags = f;
}

// CMPXCHG8B/16B: compare rDX:rAX with m64/m128; ZF reports the outcome.
template <typename T>
void h_cmpxchg_wide(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = c.linear(i, 2 * sizeof(T), Access::Write);
  if (sizeof(T) == 8 && (la & 15)) raise_gp(0);  // CMPXCHG16B needs 16-byte alignment
  const T lo = T(c.rmw_read(la, sizeof(T))), hi = T(c.rmw_read(la + sizeof(T), sizeof(T)));
  uint64_t& f = c.state().rflags;
  if (lo == T(c.reg(RAX)) && hi == T(c.reg(RDX))) {
    c.write<T>(la, T(c.reg(RBX)));
    c.write<T>(la + sizeof(T), T(c.reg(RCX)));
    f |= fl::ZF;
  } else {
    c.write<T>(la, lo);
    c.write<T>(la + sizeof(T), hi);
    set_reg<T>(c, RAX, lo);
    set_reg<T>(c, RDX, hi);
    f &= ~fl::ZF;
  }
}

template <typename T>
void h_bswap(Cpu& c, const DecodedInsn& i) {
  if constexpr (sizeof(T) == 8)
    set_reg<T>(c, i.op[0], __builtin_bswap64(get_reg<T>(c, i.op[0])));
  else if constexpr (sizeof(T) == 4)
    set_reg<T>(c, i.op[0], __builtin_bswap32(get_reg<T>(c, i.op[0])));
  else
    set_reg<T>(c, i.op[0], 0);  // SDM BSWAP: undefined for 16-bit registers; we write 0
}

// ------------------------------------------------------------------ stack

template <typename T>
void h_push(Cpu& c, const DecodedInsn& i) {
  c.push<T>(read_op<T>(c, i, 0));
}

template <typename T>
void h_pop(Cpu& c, const DecodedInsn& i) {
  if (i.op[0].kind == OpKind::Reg) {
    const T v = c.pop<T>();
    set_reg<T>(c, i.op[0], v);
    return;
  }
  // POP r/m: RSP is incremented before the destination address is
  // computed (SDM POP), and the pop is undone if the store faults.
  const uint64_t saved = c.reg(RSP);
  const T v = c.pop<T>();
  try {
    write_op<T>(c, i, 0, v);
  } catch (...) {
    c.reg(RSP) = saved;
    throw;
  }
}

template <typename T>
void h_push_seg(Cpu& c, const DecodedInsn& i) {
  c.push<T>(T(c.state().seg[i.op[0].reg].selector));
}

template <typename T>
void h_pop_seg(Cpu& c, const DecodedInsn& i) {
  const uint64_t saved = c.reg(RSP);
  const uint16_t sel = uint16_t(c.pop<T>());
  try {
    c.load_segment(i.op[0].reg, sel);
  } catch (...) {
    c.reg(RSP) = saved;
    throw;
  }
  if (i.op[0].reg == arch::seg::SS) c.interrupt_shadow(true);
}

// PUSHF and POPF are IOPL-sensitive in virtual-8086 mode: #GP(0) below
// IOPL 3 (SDM 20.2.7; no CR4.VME).
void require_v8086_iopl3(Cpu& c) {
  if (c.v8086() && (c.state().rflags & fl::IOPL) != fl::IOPL) raise_gp(0);
}

void h_pushf(Cpu& c, const DecodedInsn& i) {
  require_v8086_iopl3(c);
  // VM and RF are pushed as 0 (SDM PUSHF).
  const uint64_t v = c.state().rflags & ~(fl::VM | fl::RF);
  switch (i.opsize) {
    case 2: c.push<uint16_t>(uint16_t(v)); break;
    case 4: c.push<uint32_t>(uint32_t(v)); break;
    default: c.push<uint64_t>(v); break;
  }
}

// POPF at CPL 0 may change IOPL and IF; at CPL <= IOPL IF but not IOPL;
// otherwise neither. VM, VIF, VIP are never changed here (SDM POPF).
void h_popf(Cpu& c, const DecodedInsn& i) {
  require_v8086_iopl3(c);
  uint64_t v;
  switch (i.opsize) {
    case 2: v = c.pop<uint16_t>(); break;
    case 4: v = c.pop<uint32_t>(); break;
    default: v = c.pop<uint64_t>(); break;
  }
  CpuState& s = c.state();
  uint64_t writable = fl::STATUS | fl::TF | fl::DF | fl::NT | fl::AC | fl::ID;
  const unsigned iopl = (s.rflags & fl::IOPL) >> fl::IOPL_SHIFT;
  if (s.cpl == 0) writable |= fl::IOPL;
  if (s.cpl <= iopl) writable |= fl::IF;
  if (i.opsize == 2) writable &= 0xffff;
  s.rflags = (s.rflags & ~(writable | fl::RF)) | (v & writable) | fl::FIXED1;
  c.update_alignment_check();
  c.check_events_soon();
  c.end_block();
}

void h_lahf(Cpu& c, const DecodedInsn&) {
  set_reg<uint8_t>(c, RAX, uint8_t(c.state().rflags & 0xd7), true);
}
void h_sahf(Cpu& c, const DecodedInsn&) {
  uint64_t& f = c.state().rflags;
  const uint64_t ah = (c.reg(RAX) >> 8) & 0xd5;
  f = (f & ~uint64_t(0xd5)) | ah | fl::FIXED1;
}

// CBW/CWDE/CDQE sign-extend the accumulator; CWD/CDQ/CQO into rDX.
template <typename T>
void h_extend_acc(Cpu& c, const DecodedInsn&) {
  using Half = std::conditional_t<sizeof(T) == 8, int32_t, std::conditional_t<sizeof(T) == 4, int16_t, int8_t>>;
  set_reg<T>(c, RAX, T(std::make_signed_t<T>(Half(c.reg(RAX)))));
}
template <typename T>
void h_extend_dx(Cpu& c, const DecodedInsn&) {
  set_reg<T>(c, RDX, (T(c.reg(RAX)) & sign_bit<T>()) ? T(~T(0)) : T(0));
}

// CMOVcc: a 32-bit destination is zero-extended even when the condition
// is false (SDM CMOVcc, 64-bit mode). The source is read either way, so a
// memory source can fault.
template <typename T>
void h_cmov(Cpu& c, const DecodedInsn& i) {
  const T v = read_op<T>(c, i, 1);
  if (condition(c.state().rflags, i.cond))
    set_reg<T>(c, i.op[0], v);
  else if constexpr (sizeof(T) == 4)
    set_reg<T>(c, i.op[0], get_reg<T>(c, i.op[0]));
}

void h_setcc(Cpu& c, const DecodedInsn& i) {
  write_op<uint8_t>(c, i, 0, condition(c.state().rflags, i.cond) ? 1 : 0);
}

template <uint64_t CLEAR, uint64_t SET, uint64_t TOGGLE>
void h_flag(Cpu& c, const DecodedInsn&) {
  uint64_t& f = c.state().rflags;
  f = ((f & ~CLEAR) | SET) ^ TOGGLE;
}

void h_nop(Cpu&, const DecodedInsn&) {}

// PAUSE exits with "PAUSE exiting" (SDM 25.1.3; PAUSE-loop exiting is not offered).
void h_pause(Cpu& c, const DecodedInsn& i) {
  if (c.non_root() && (c.vmx().controls().proc & arch::vmx::proc_ctl::PAUSE_EXITING))
    c.vm_exit_insn(i, uint32_t(arch::vmx::ExitReason::PAUSE));
}

// `nopl 0x4e455354(%rax,%rax,1)`: a VMM's trace annotation (trace_hooks.h).
void h_annotation(Cpu& c, const DecodedInsn&) { c.annotate(); }

bool is_annotation(const DecodedInsn& d) {
  return d.op[0].kind == OpKind::Mem && d.mem_base == RAX && d.mem_index == RAX && d.mem_scale == 0 &&
         uint32_t(d.disp) == arch::trace::kAnnotationDisplacement;
}

// LEAVE: rSP = rBP, then pop rBP (operand size = stack width in 64-bit mode).
template <typename T>
void h_leave(Cpu& c, const DecodedInsn&) {
  const uint64_t saved = c.reg(RSP);
  const uint64_t mask = c.stack_pointer_mask();
  c.reg(RSP) = (c.reg(RSP) & ~mask) | (c.reg(RBP) & mask);
  try {
    const T v = c.pop<T>();
    set_reg<T>(c, RBP, v);
  } catch (...) {
    c.reg(RSP) = saved;
    throw;
  }
}

// ENTER imm16, imm8 (SDM ENTER "Operation").
template <typename T>
void h_enter(Cpu& c, const DecodedInsn& i) {
  const uint16_t size = uint16_t(i.imm);
  const unsigned level = unsigned(i.imm2) & 31;
  const uint64_t saved_rsp = c.reg(RSP), saved_rbp = c.reg(RBP);
  try {
    c.push<T>(T(c.reg(RBP)));
    const uint64_t frame = c.reg(RSP);
    uint64_t rbp = saved_rbp;
    for (unsigned k = 1; k < level; ++k) {
      rbp -= sizeof(T);
      c.push<T>(c.read<T>(c.mode() == CpuMode::Bits64 ? rbp : c.segment_linear(arch::seg::SS, rbp & c.stack_pointer_mask(), sizeof(T), Access::Read)));
    }
    if (level > 0) c.push<T>(T(frame));
    set_reg<T>(c, RBP, T(frame));
    const uint64_t mask = c.stack_pointer_mask();
    c.reg(RSP) = (c.reg(RSP) & ~mask) | ((c.reg(RSP) - size) & mask);
  } catch (...) {
    c.reg(RSP) = saved_rsp;
    c.reg(RBP) = saved_rbp;
    throw;
  }
}

// XLAT: AL = [seg:rBX + zero-extended AL].
void h_xlat(Cpu& c, const DecodedInsn& i) {
  uint64_t ea = c.reg(RBX) + uint8_t(c.reg(RAX));
  ea = i.addrsize == 8 ? ea : i.addrsize == 4 ? uint32_t(ea) : uint16_t(ea);
  const uint64_t la = c.mode() == CpuMode::Bits64 ? ea + c.state().seg[i.mem_seg == arch::seg::FS || i.mem_seg == arch::seg::GS ? i.mem_seg : SEG_NONE].base
                                                   : c.segment_linear(i.mem_seg, ea, 1, Access::Read);
  set_reg<uint8_t>(c, RAX, c.read<uint8_t>(la));
}

// PUSHA/POPA (outside 64-bit mode only).
template <typename T>
void h_pusha(Cpu& c, const DecodedInsn&) {
  const uint64_t saved = c.reg(RSP);
  const T sp = T(c.reg(RSP));
  try {
    for (unsigned r : {RAX, RCX, RDX, RBX}) c.push<T>(T(c.reg(r)));
    c.push<T>(sp);
    for (unsigned r : {RBP, RSI, RDI}) c.push<T>(T(c.reg(r)));
  } catch (...) {
    c.reg(RSP) = saved;
    throw;
  }
}
template <typename T>
void h_popa(Cpu& c, const DecodedInsn&) {
  const uint64_t saved = c.reg(RSP);
  T v[8];
  try {
    for (T& x : v) x = c.pop<T>();
  } catch (...) {
    c.reg(RSP) = saved;
    throw;
  }
  const unsigned order[8] = {RDI, RSI, RBP, RSP, RBX, RDX, RCX, RAX};
  for (unsigned k = 0; k < 8; ++k)
    if (order[k] != RSP) set_reg<T>(c, order[k], v[k]);
}

unsigned cc_of(unsigned id, const unsigned (&ids)[16]) {
  for (unsigned k = 0; k < 16; ++k)
    if (ids[k] == id) return k;
  return 16;
}

template <typename D, typename S>
Handler movx_form(bool sign, Form f) {
  switch (f) {
    case Form::R: return sign ? &h_movx<D, S, true, Form::R> : &h_movx<D, S, false, Form::R>;
    case Form::MB: return sign ? &h_movx<D, S, true, Form::MB> : &h_movx<D, S, false, Form::MB>;
    case Form::M64: return sign ? &h_movx<D, S, true, Form::M64> : &h_movx<D, S, false, Form::M64>;
    default: return sign ? &h_movx<D, S, true, Form::M> : &h_movx<D, S, false, Form::M>;
  }
}

Handler movx_handler(unsigned dst, unsigned src, bool sign, Form form) {
#define NB_MOVX(D, S) movx_form<D, S>(sign, form)
  if (src == 1) return dst == 2 ? NB_MOVX(uint16_t, uint8_t) : dst == 4 ? NB_MOVX(uint32_t, uint8_t) : NB_MOVX(uint64_t, uint8_t);
  if (src == 2) return dst == 2 ? NB_MOVX(uint16_t, uint16_t) : dst == 4 ? NB_MOVX(uint32_t, uint16_t) : NB_MOVX(uint64_t, uint16_t);
  if (src == 4) return dst == 2 ? NB_MOVX(uint16_t, uint16_t) : dst == 4 ? NB_MOVX(uint32_t, uint32_t) : NB_MOVX(uint64_t, uint32_t);
  return nullptr;
#undef NB_MOVX
}

}  // namespace

bool select_data(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const unsigned size = d.op[0].size;
  const bool mem = d.op[0].kind == OpKind::Mem || d.op[1].kind == OpKind::Mem;
  const CostClass simple = mem ? CostClass::load_store : CostClass::simple;
  const bool b64 = mode == CpuMode::Bits64;
  if (unsigned cc = cc_of(id, kCmovccIds); cc < 16) {
    d.cond = uint8_t(cc);
    set_handler(d, NB_BY_SIZE(h_cmov, size), costs, simple);
    return true;
  }
  if (unsigned cc = cc_of(id, kSetccIds); cc < 16) {
    d.cond = uint8_t(cc);
    set_handler(d, &h_setcc, costs, simple);
    return true;
  }
  switch (id) {
    case X86_INS_MOV:
    case X86_INS_MOVABS:
      // Moves to/from segment, control and debug registers are system instructions.
      for (unsigned k = 0; k < 2; ++k)
        if (d.op[k].kind != OpKind::Reg && d.op[k].kind != OpKind::Mem && d.op[k].kind != OpKind::Imm) return false;
      set_handler(d, by_size(size, [&](auto tag) {
                    return mov_handler<typename decltype(tag)::type>(form_of_mb(d, 0, mode), form_of_mb(d, 1, mode));
                  }), costs, simple);
      return true;
    case X86_INS_MOVZX:
      set_handler(d, movx_handler(size, d.op[1].size, false, form_of_mb(d, 1, mode)), costs, simple);
      return d.fn != nullptr;
    case X86_INS_MOVSX:
      set_handler(d, movx_handler(size, d.op[1].size, true, form_of_mb(d, 1, mode)), costs, simple);
      return d.fn != nullptr;
    case X86_INS_MOVSXD: {
      // Capstone 4 reports a 64-bit destination for 63 /r even without
      // REX.W; the operand size decides (SDM MOVSXD): r64 <- r/m32 with
      // REX.W, else r32 <- r/m32 (r16 <- r/m16 with 66h), i.e. a plain move.
      const unsigned dst = d.opsize, src = dst == 8 ? 4 : dst;
      d.op[0].size = uint8_t(dst);
      d.op[1].size = uint8_t(src);
      set_handler(d, movx_handler(dst, src, true, form_of_mb(d, 1, mode)), costs, simple);
      return d.fn != nullptr;
    }
    case X86_INS_LEA: set_handler(d, NB_BY_SIZE(h_lea, size), costs, CostClass::simple); return true;
    case X86_INS_XCHG: set_handler(d, NB_BY_SIZE(h_xchg, size), costs, simple); return true;
    case X86_INS_CMPXCHG: set_handler(d, NB_BY_SIZE(h_cmpxchg, size), costs, CostClass::load_store); return true;
    case X86_INS_XADD: set_handler(d, NB_BY_SIZE(h_xadd, size), costs, CostClass::load_store); return true;
    case X86_INS_CMPXCHG8B: set_handler(d, &h_cmpxchg_wide<uint32_t>, costs, CostClass::load_store); return true;
    case X86_INS_CMPXCHG16B: set_handler(d, &h_cmpxchg_wide<uint64_t>, costs, CostClass::load_store); return true;
    case X86_INS_BSWAP: set_handler(d, NB_BY_SIZE(h_bswap, size), costs, CostClass::simple); return true;
    case X86_INS_PUSH:
      if (d.op[0].kind == OpKind::SegReg) {
        set_handler(d, NB_BY_SIZE(h_push_seg, d.opsize == 2 ? 2 : (b64 ? 8 : 4)), costs, CostClass::load_store);
        return true;
      }
      // PUSH imm: the operand size is the stack width (Capstone reports 8 in 64-bit mode).
      set_handler(d, NB_BY_SIZE(h_push, d.op[0].kind == OpKind::Imm ? (d.opsize == 2 ? 2 : (b64 ? 8 : 4)) : size), costs,
                  CostClass::load_store);
      return true;
    case X86_INS_POP:
      if (d.op[0].kind == OpKind::SegReg) {
        set_handler(d, NB_BY_SIZE(h_pop_seg, d.opsize == 2 ? 2 : (b64 ? 8 : 4)), costs, CostClass::segment_load, true);
        return true;
      }
      set_handler(d, NB_BY_SIZE(h_pop, size), costs, CostClass::load_store);
      return true;
    case X86_INS_PUSHF:
    case X86_INS_PUSHFD:
    case X86_INS_PUSHFQ:
      if (b64 && d.opsize == 4) d.opsize = 8;  // 64-bit mode: PUSHFQ unless 66h
      set_handler(d, &h_pushf, costs, CostClass::flags_stack);
      return true;
    case X86_INS_POPF:
    case X86_INS_POPFD:
    case X86_INS_POPFQ:
      if (b64 && d.opsize == 4) d.opsize = 8;
      set_handler(d, &h_popf, costs, CostClass::flags_stack, true);
      return true;
    case X86_INS_LAHF: set_handler(d, &h_lahf, costs, CostClass::simple); return true;
    case X86_INS_SAHF: set_handler(d, &h_sahf, costs, CostClass::simple); return true;
    case X86_INS_CBW: set_handler(d, &h_extend_acc<uint16_t>, costs, CostClass::simple); return true;
    case X86_INS_CWDE: set_handler(d, &h_extend_acc<uint32_t>, costs, CostClass::simple); return true;
    case X86_INS_CDQE: set_handler(d, &h_extend_acc<uint64_t>, costs, CostClass::simple); return true;
    case X86_INS_CWD: set_handler(d, &h_extend_dx<uint16_t>, costs, CostClass::simple); return true;
    case X86_INS_CDQ: set_handler(d, &h_extend_dx<uint32_t>, costs, CostClass::simple); return true;
    case X86_INS_CQO: set_handler(d, &h_extend_dx<uint64_t>, costs, CostClass::simple); return true;
    case X86_INS_CLC: set_handler(d, &h_flag<fl::CF, 0, 0>, costs, CostClass::simple); return true;
    case X86_INS_STC: set_handler(d, &h_flag<0, fl::CF, 0>, costs, CostClass::simple); return true;
    case X86_INS_CMC: set_handler(d, &h_flag<0, 0, fl::CF>, costs, CostClass::simple); return true;
    case X86_INS_CLD: set_handler(d, &h_flag<fl::DF, 0, 0>, costs, CostClass::simple); return true;
    case X86_INS_STD: set_handler(d, &h_flag<0, fl::DF, 0>, costs, CostClass::simple); return true;
    case X86_INS_NOP:
      if (is_annotation(d)) {
        set_handler(d, &h_annotation, costs, CostClass::simple);
        d.cost = 0;  // a zero-cost record under the sim
        return true;
      }
      [[fallthrough]];
    case X86_INS_ENDBR64:
    case X86_INS_ENDBR32:
    case X86_INS_PREFETCH:
    case X86_INS_PREFETCHW:
    case X86_INS_PREFETCHNTA:
    case X86_INS_PREFETCHT0:
    case X86_INS_PREFETCHT1:
    case X86_INS_PREFETCHT2:
    case X86_INS_LFENCE:
    case X86_INS_SFENCE:
    case X86_INS_MFENCE:
      set_handler(d, &h_nop, costs, id == X86_INS_NOP || id == X86_INS_ENDBR64 || id == X86_INS_ENDBR32
                                         ? CostClass::simple
                                         : CostClass::serializing);
      return true;
    case X86_INS_PAUSE: set_handler(d, &h_pause, costs, CostClass::pause); return true;
    case X86_INS_LEAVE:
      set_handler(d, b64 ? (d.opsize == 2 ? &h_leave<uint16_t> : &h_leave<uint64_t>)
                         : (d.opsize == 2 ? &h_leave<uint16_t> : &h_leave<uint32_t>),
                  costs, CostClass::load_store);
      return true;
    case X86_INS_ENTER:
      set_handler(d, b64 ? (d.opsize == 2 ? &h_enter<uint16_t> : &h_enter<uint64_t>)
                         : (d.opsize == 2 ? &h_enter<uint16_t> : &h_enter<uint32_t>),
                  costs, CostClass::load_store);
      return true;
    case X86_INS_XLATB: set_handler(d, &h_xlat, costs, CostClass::load_store); return true;
    case X86_INS_PUSHAW: set_handler(d, &h_pusha<uint16_t>, costs, CostClass::load_store); return !b64;
    case X86_INS_PUSHAL: set_handler(d, &h_pusha<uint32_t>, costs, CostClass::load_store); return !b64;
    case X86_INS_POPAW: set_handler(d, &h_popa<uint16_t>, costs, CostClass::load_store); return !b64;
    case X86_INS_POPAL: set_handler(d, &h_popa<uint32_t>, costs, CostClass::load_store); return !b64;
    default: return false;
  }
}

}  // namespace nestbed::sim
