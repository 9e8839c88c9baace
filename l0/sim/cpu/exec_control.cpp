// Control transfer: JMP, Jcc, CALL, RET, LOOP, JrCXZ, far JMP/CALL/RET,
// INT n/INT3/INTO, UD2, IRET, SYSCALL/SYSRET (SDM vol. 2).
#include <capstone/capstone.h>

#include <utility>

#include "arch/x86/paging.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/condition_ids.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"

namespace nestbed::sim {

namespace {

// Near branches: in 64-bit mode RIP is 64 bits wide; elsewhere EIP/IP is
// truncated to the operand size.
template <unsigned W>
inline void set_rip(Cpu& c, uint64_t target) {
  c.reg(REG_RIP) = W == 8 ? target : W == 4 ? uint32_t(target) : uint16_t(target);
}

template <unsigned W>
void h_jmp_rel(Cpu& c, const DecodedInsn& i) {
  set_rip<W>(c, c.reg(REG_RIP) + i.imm);
}

template <unsigned CC, unsigned W>
void h_jcc(Cpu& c, const DecodedInsn& i) {
  if (condition(c.state().rflags, CC)) set_rip<W>(c, c.reg(REG_RIP) + i.imm);
}

template <typename T>
void h_jmp_indirect(Cpu& c, const DecodedInsn& i) {
  set_rip<sizeof(T)>(c, read_op<T>(c, i, 0));
}

template <typename T>
void h_call_rel(Cpu& c, const DecodedInsn& i) {
  const uint64_t ret = c.reg(REG_RIP);
  c.push<T>(T(ret));
  set_rip<sizeof(T)>(c, ret + i.imm);
}

template <typename T>
void h_call_indirect(Cpu& c, const DecodedInsn& i) {
  const T target = read_op<T>(c, i, 0);
  c.push<T>(T(c.reg(REG_RIP)));
  set_rip<sizeof(T)>(c, target);
}

template <typename T>
void h_ret(Cpu& c, const DecodedInsn& i) {
  const T target = c.pop<T>();
  if (i.nops == 1) {
    const uint64_t mask = c.stack_pointer_mask();
    c.reg(RSP) = (c.reg(RSP) & ~mask) | ((c.reg(RSP) + uint16_t(i.imm)) & mask);
  }
  set_rip<sizeof(T)>(c, target);
}

inline uint64_t count_reg(Cpu& c, unsigned addrsize) {
  const uint64_t v = c.reg(RCX);
  return addrsize == 8 ? v : addrsize == 4 ? uint32_t(v) : uint16_t(v);
}

// LOOP/LOOPE/LOOPNE decrement rCX (by address size) without touching flags.
template <int KIND, unsigned W>  // 0: LOOP, 1: LOOPE, 2: LOOPNE
void h_loop(Cpu& c, const DecodedInsn& i) {
  const uint64_t n = count_reg(c, i.addrsize) - 1;
  if (i.addrsize == 8) c.reg(RCX) = n;
  else if (i.addrsize == 4) c.reg(RCX) = uint32_t(n);
  else set_reg<uint16_t>(c, RCX, uint16_t(n));
  const bool zf = c.state().rflags & fl::ZF;
  const uint64_t left = count_reg(c, i.addrsize);
  const bool taken = left != 0 && (KIND == 0 || (KIND == 1 && zf) || (KIND == 2 && !zf));
  if (taken) set_rip<W>(c, c.reg(REG_RIP) + i.imm);
}

template <unsigned W>
void h_jrcxz(Cpu& c, const DecodedInsn& i) {
  if (count_reg(c, i.addrsize) == 0) set_rip<W>(c, c.reg(REG_RIP) + i.imm);
}

// ------------------------------------------------------------ far transfers

// Real-address mode: the target must lie within the CS limit, which the
// real-mode CS load keeps (SDM vol. 2 JMP, CALL: #GP(0) "if the target
// offset is beyond the code segment limit").
void check_real_mode_target(Cpu& c, uint64_t offset, unsigned opsize) {
  const uint64_t ip = opsize == 4 ? uint32_t(offset) : uint16_t(offset);
  if ((c.real_mode() || c.v8086()) && ip > c.state().seg[arch::seg::CS].limit) raise_gp(0);
}

void far_jump(Cpu& c, uint16_t selector, uint64_t offset, unsigned opsize) {
  check_real_mode_target(c, offset, opsize);
  c.load_cs_for_far_transfer(selector, false);
  c.reg(REG_RIP) = opsize == 8 ? offset : opsize == 4 ? uint32_t(offset) : uint16_t(offset);
}

void h_ljmp_direct(Cpu& c, const DecodedInsn& i) { far_jump(c, uint16_t(i.imm), i.imm2, i.opsize); }

void h_ljmp_indirect(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = c.linear(i, i.opsize + 2, Access::Read);
  const uint64_t offset = i.opsize == 8 ? c.read<uint64_t>(la) : i.opsize == 4 ? c.read<uint32_t>(la) : c.read<uint16_t>(la);
  const uint16_t selector = c.read<uint16_t>(la + i.opsize);
  far_jump(c, selector, offset, i.opsize);
}

void far_call(Cpu& c, uint16_t selector, uint64_t offset, unsigned opsize) {
  check_real_mode_target(c, offset, opsize);
  CpuState saved = c.state();
  const uint16_t old_cs = c.state().seg[arch::seg::CS].selector;
  const uint64_t ret = c.reg(REG_RIP);
  try {
    c.load_cs_for_far_transfer(selector, true);
    if (opsize == 8) {
      c.push<uint64_t>(old_cs);
      c.push<uint64_t>(ret);
    } else if (opsize == 4) {
      c.push<uint32_t>(old_cs);
      c.push<uint32_t>(uint32_t(ret));
    } else {
      c.push<uint16_t>(old_cs);
      c.push<uint16_t>(uint16_t(ret));
    }
  } catch (...) {
    c.state() = saved;
    c.recompute_mode();
    throw;
  }
  c.reg(REG_RIP) = opsize == 8 ? offset : opsize == 4 ? uint32_t(offset) : uint16_t(offset);
}

void h_lcall_direct(Cpu& c, const DecodedInsn& i) { far_call(c, uint16_t(i.imm), i.imm2, i.opsize); }

void h_lcall_indirect(Cpu& c, const DecodedInsn& i) {
  const uint64_t la = c.linear(i, i.opsize + 2, Access::Read);
  const uint64_t offset = i.opsize == 8 ? c.read<uint64_t>(la) : i.opsize == 4 ? c.read<uint32_t>(la) : c.read<uint16_t>(la);
  const uint16_t selector = c.read<uint16_t>(la + i.opsize);
  far_call(c, selector, offset, i.opsize);
}

void h_retf(Cpu& c, const DecodedInsn& i) { c.far_return(i.opsize, i.nops == 1 ? uint16_t(i.imm) : 0); }

// ---------------------------------------------------- software interrupts

// INT n is IOPL-sensitive in virtual-8086 mode (no CR4.VME): #GP(0) below
// IOPL 3. INT3, INTO and ICEBP are not (SDM vol. 2 INT n, 20.2.7).
void h_int(Cpu& c, const DecodedInsn& i) {
  if (c.v8086() && (c.state().rflags & arch::rflags::IOPL) != arch::rflags::IOPL) raise_gp(0);
  c.software_interrupt(uint8_t(i.imm), i.len);
}
void h_int3(Cpu& c, const DecodedInsn& i) { c.software_interrupt(3, i.len); }
void h_icebp(Cpu& c, const DecodedInsn& i) { c.icebp(i.len); }
void h_into(Cpu& c, const DecodedInsn& i) {
  if (c.state().rflags & fl::OF) c.software_interrupt(4, i.len);
}
void h_ud2(Cpu&, const DecodedInsn&) { raise_ud(); }
void h_iret(Cpu& c, const DecodedInsn& i) { c.iret(i.opsize); }

// SYSCALL (SDM vol. 2): 64-bit mode only, with EFER.SCE.
void h_syscall(Cpu& c, const DecodedInsn&) {
  CpuState& s = c.state();
  if (!(s.efer & arch::efer::SCE) || c.mode() != CpuMode::Bits64) raise_ud();
  s.r[RCX] = s.rip();
  s.r[R11] = s.rflags & ~fl::RF;
  const uint16_t cs = uint16_t((s.star >> 32) & 0xfffc);
  namespace ar = arch::seg::ar;
  s.seg[arch::seg::CS] = Segment{cs, 0, 0xffffffff, ar::P | ar::S | ar::L | ar::G | 0xb};
  s.seg[arch::seg::SS] = Segment{uint16_t(cs + 8), 0, 0xffffffff, ar::P | ar::S | ar::DB | ar::G | 0x3};
  s.rflags = (s.rflags & ~(s.fmask | fl::RF)) | fl::FIXED1;
  s.rip() = s.lstar;
  c.set_cpl(0);
  c.recompute_mode();
}

// SYSRET: to 64-bit mode with REX.W, else to compatibility mode.
void h_sysret(Cpu& c, const DecodedInsn& i) {
  CpuState& s = c.state();
  if (!(s.efer & arch::efer::SCE) || c.mode() != CpuMode::Bits64) raise_ud();
  if (s.cpl != 0) raise_gp(0);
  const bool to64 = i.opsize == 8;
  if (to64 && !arch::is_canonical(s.r[RCX])) raise_gp(0);
  const uint16_t base = uint16_t(s.star >> 48);
  namespace ar = arch::seg::ar;
  const uint32_t dpl3 = 3u << ar::DPL_SHIFT;
  if (to64)
    s.seg[arch::seg::CS] = Segment{uint16_t((base + 16) | 3), 0, 0xffffffff, ar::P | ar::S | ar::L | ar::G | dpl3 | 0xb};
  else
    s.seg[arch::seg::CS] = Segment{uint16_t(base | 3), 0, 0xffffffff, ar::P | ar::S | ar::DB | ar::G | dpl3 | 0xb};
  s.seg[arch::seg::SS] = Segment{uint16_t((base + 8) | 3), 0, 0xffffffff, ar::P | ar::S | ar::DB | ar::G | dpl3 | 0x3};
  s.rflags = (s.r[R11] & 0x3c7fd7) | fl::FIXED1;
  c.rflags_loaded();  // RF from R11 stays for the next instruction
  s.rip() = to64 ? s.r[RCX] : uint32_t(s.r[RCX]);
  c.set_cpl(3);  // and AC from R11 takes effect
  c.recompute_mode();
  c.check_events_soon();
}

template <unsigned W, size_t... CC>
constexpr Handler jcc_handler(unsigned cc, std::index_sequence<CC...>) {
  constexpr Handler table[] = {&h_jcc<CC, W>...};
  return table[cc];
}

}  // namespace

int jcc_condition(unsigned id) {
  for (unsigned cc = 0; cc < 16; ++cc)
    if (kJccIds[cc] == id) return int(cc);
  return -1;
}

bool select_control(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  const bool b64 = mode == CpuMode::Bits64;
  // Near-branch width: 64 in 64-bit mode (66h is ignored, as on Intel),
  // else the operand size.
  const unsigned w = b64 ? 8 : d.opsize;
  auto pick = [&](Handler h8, Handler h4, Handler h2) { return w == 8 ? h8 : w == 4 ? h4 : h2; };
  for (unsigned cc = 0; cc < 16; ++cc) {
    if (kJccIds[cc] != id) continue;
    set_handler(d, pick(jcc_handler<8>(cc, std::make_index_sequence<16>()), jcc_handler<4>(cc, std::make_index_sequence<16>()),
                        jcc_handler<2>(cc, std::make_index_sequence<16>())),
                costs, CostClass::branch, true);
    return true;
  }
  const bool mem_or_reg = d.op[0].kind == OpKind::Mem || d.op[0].kind == OpKind::Reg;
  switch (id) {
    case X86_INS_JMP:
      if (mem_or_reg)
        set_handler(d, pick(&h_jmp_indirect<uint64_t>, &h_jmp_indirect<uint32_t>, &h_jmp_indirect<uint16_t>), costs,
                    CostClass::branch, true);
      else
        set_handler(d, pick(&h_jmp_rel<8>, &h_jmp_rel<4>, &h_jmp_rel<2>), costs, CostClass::branch, true);
      return true;
    case X86_INS_CALL:
      if (mem_or_reg)
        set_handler(d, pick(&h_call_indirect<uint64_t>, &h_call_indirect<uint32_t>, &h_call_indirect<uint16_t>), costs,
                    CostClass::call_ret, true);
      else
        set_handler(d, pick(&h_call_rel<uint64_t>, &h_call_rel<uint32_t>, &h_call_rel<uint16_t>), costs,
                    CostClass::call_ret, true);
      return true;
    case X86_INS_RET:
      set_handler(d, pick(&h_ret<uint64_t>, &h_ret<uint32_t>, &h_ret<uint16_t>), costs, CostClass::call_ret, true);
      return true;
    case X86_INS_LOOP: set_handler(d, pick(&h_loop<0, 8>, &h_loop<0, 4>, &h_loop<0, 2>), costs, CostClass::branch, true); return true;
    case X86_INS_LOOPE: set_handler(d, pick(&h_loop<1, 8>, &h_loop<1, 4>, &h_loop<1, 2>), costs, CostClass::branch, true); return true;
    case X86_INS_LOOPNE: set_handler(d, pick(&h_loop<2, 8>, &h_loop<2, 4>, &h_loop<2, 2>), costs, CostClass::branch, true); return true;
    case X86_INS_JRCXZ:
    case X86_INS_JECXZ:
    case X86_INS_JCXZ:
      set_handler(d, pick(&h_jrcxz<8>, &h_jrcxz<4>, &h_jrcxz<2>), costs, CostClass::branch, true);
      return true;
    case X86_INS_LJMP:
      if (d.op[0].kind == OpKind::Imm) {
        if (b64) return false;  // JMP ptr16:32 is invalid in 64-bit mode
        set_handler(d, &h_ljmp_direct, costs, CostClass::far_transfer, true);
      } else {
        d.opsize = uint8_t(d.op[0].size - 2);
        set_handler(d, &h_ljmp_indirect, costs, CostClass::far_transfer, true);
      }
      return true;
    case X86_INS_LCALL:
      if (d.op[0].kind == OpKind::Imm) {
        if (b64) return false;
        set_handler(d, &h_lcall_direct, costs, CostClass::far_transfer, true);
      } else {
        d.opsize = uint8_t(d.op[0].size - 2);
        set_handler(d, &h_lcall_indirect, costs, CostClass::far_transfer, true);
      }
      return true;
    case X86_INS_RETF:
    case X86_INS_RETFQ:
      if (id == X86_INS_RETFQ) d.opsize = 8;
      set_handler(d, &h_retf, costs, CostClass::far_transfer, true);
      return true;
    case X86_INS_INT: set_handler(d, &h_int, costs, CostClass::simple, true); return true;
    case X86_INS_INT3: set_handler(d, &h_int3, costs, CostClass::simple, true); return true;
    case X86_INS_INT1: set_handler(d, &h_icebp, costs, CostClass::simple, true); return true;
    case X86_INS_INTO:
      if (b64) return false;
      set_handler(d, &h_into, costs, CostClass::simple, true);
      return true;
    case X86_INS_UD2:
    case X86_INS_UD2B:
    case X86_INS_UD0:
      set_handler(d, &h_ud2, costs, CostClass::simple, true);
      return true;
    case X86_INS_IRET: d.opsize = 2; set_handler(d, &h_iret, costs, CostClass::iret, true); return true;
    case X86_INS_IRETD: d.opsize = 4; set_handler(d, &h_iret, costs, CostClass::iret, true); return true;
    case X86_INS_IRETQ: d.opsize = 8; set_handler(d, &h_iret, costs, CostClass::iret, true); return true;
    case X86_INS_SYSCALL: set_handler(d, &h_syscall, costs, CostClass::syscall, true); return true;
    case X86_INS_SYSRET: set_handler(d, &h_sysret, costs, CostClass::syscall, true); return true;
    default: return false;
  }
}

}  // namespace nestbed::sim
