// String instructions with REP/REPE/REPNE: MOVS, STOS, LODS, CMPS, SCAS,
// INS, OUTS (SDM vol. 2; vol. 1, 7.3.9). The source is seg:rSI (DS unless
// overridden), the destination ES:rDI; rSI/rDI/rCX use the address size.
// A fault mid-way leaves the registers at the faulting element, so the
// instruction restarts where it stopped, as on hardware. So does an
// interrupt, a VMX-preemption timer, the monitor trap flag or the run's
// instruction limit: a REP instruction stops between iterations when one
// is due (Cpu::stop_string_instruction), and a guest cannot hold l0 with
// one long REP.
#include <capstone/capstone.h>

#include <algorithm>
#include <cstring>

#include "arch/x86/segment.h"
#include "l0/sim/cpu/exec_common.h"
#include "l0/sim/cpu/exec_select.h"
#include "arch/vmx/vmx.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

namespace {

enum class Str { Movs, Stos, Lods, Cmps, Scas, Ins, Outs };

struct StringRegs {
  uint64_t mask;
  explicit StringRegs(unsigned addrsize)
      : mask(addrsize == 8 ? ~0ull : addrsize == 4 ? 0xffffffffull : 0xffffull) {}
  uint64_t get(Cpu& c, unsigned r) const { return c.reg(r) & mask; }
  void set(Cpu& c, unsigned r, uint64_t v) const {
    if (mask == 0xffffull)
      c.reg(r) = (c.reg(r) & ~0xffffull) | (v & 0xffff);
    else
      c.reg(r) = v & mask;  // a 32-bit address size zero-extends, like any 32-bit write
  }
};

inline uint64_t source_linear(Cpu& c, const DecodedInsn& i, uint64_t ea, unsigned size) {
  if (c.mode() == CpuMode::Bits64) return ea + c.state().seg[i.mem_seg].base;
  return c.segment_linear(i.mem_seg, ea, size, Access::Read);
}
inline uint64_t dest_linear(Cpu& c, uint64_t ea, unsigned size, Access a) {
  if (c.mode() == CpuMode::Bits64) return ea;
  return c.segment_linear(arch::seg::ES, ea, size, a);
}

// Bulk forward copies/fills within single pages of RAM: same result as
// the element loop (overlapping MOVS copies element by element, as the
// architecture defines), just faster.
// At most `allowed` elements, and not past the next event.
template <Str OP, typename T>
bool bulk_step(Cpu& c, const DecodedInsn& i, const StringRegs& sr, uint64_t per_element, uint64_t& count,
               uint64_t& allowed) {
  if ((c.state().rflags & fl::DF) || c.mode() != CpuMode::Bits64 || sr.mask != ~0ull) return false;
  const uint64_t rdi = c.reg(RDI);
  uint64_t n = std::min<uint64_t>(count, (0x1000 - (rdi & 0xfff)) / sizeof(T));
  n = std::min(n, allowed);
  if (per_element && c.next_event() > c.cycles()) n = std::min(n, (c.next_event() - c.cycles() + per_element - 1) / per_element);
  if (OP == Str::Movs) {
    const uint64_t src = source_linear(c, i, c.reg(RSI), sizeof(T));
    n = std::min<uint64_t>(n, (0x1000 - (src & 0xfff)) / sizeof(T));
    if (n < 2) return false;
    uint8_t* d = c.host_span(rdi, n * sizeof(T), Access::Write);
    const uint8_t* s = d ? c.host_span(src, n * sizeof(T), Access::Read) : nullptr;
    if (!d || !s) return false;
    if (d > s && d < s + n * sizeof(T)) {
      for (uint64_t k = 0; k < n * sizeof(T); ++k) d[k] = s[k];  // forward overlap: replicate
    } else {
      std::memmove(d, s, n * sizeof(T));
    }
    c.reg(RSI) += n * sizeof(T);
  } else {  // Stos
    if (n < 2) return false;
    uint8_t* d = c.host_span(rdi, n * sizeof(T), Access::Write);
    if (!d) return false;
    const T v = T(c.reg(RAX));
    if (sizeof(T) == 1) {
      std::memset(d, int(v), n);
    } else {
      for (uint64_t k = 0; k < n; ++k) std::memcpy(d + k * sizeof(T), &v, sizeof(T));
    }
  }
  c.reg(RDI) += n * sizeof(T);
  count -= n;
  allowed -= n;
  c.reg(RCX) = count;
  c.charge(n * per_element);
  return true;
}

// INS/OUTS in non-root operation: the I/O exit comes before any element
// moves (SDM 25.1.3; qualification table 27-5, information table 27-8).
template <Str OP, typename T>
void string_io_intercept(Cpu& c, const DecodedInsn& i, bool rep) {
  const uint16_t port = uint16_t(c.reg(RDX));
  c.check_io_permission(port, sizeof(T));
  if (!c.vmx().io_exits(port, sizeof(T))) return;
  namespace q = arch::vmx::qual_io;
  const uint64_t qual = q::SIZE.make(sizeof(T) - 1) | q::DIRECTION.make(OP == Str::Ins ? q::IN : q::OUT) |
                        q::STRING.mask | q::REP.make(rep) | q::PORT.make(port);
  namespace f = arch::vmx::insn_info_ins_outs;
  const uint64_t info = f::ADDRESS_SIZE.make(i.addrsize == 2 ? 0 : i.addrsize == 4 ? 1 : 2) |
                        f::SEGMENT.make(OP == Str::Outs ? i.mem_seg_arch : uint8_t(arch::seg::ES));
  // The guest-linear address field holds the memory operand's first byte (SDM 27.2.1).
  vmx::VmExitRequest r{uint32_t(arch::vmx::ExitReason::IO_INSTRUCTION)};
  r.qualification = qual;
  r.insn_len = i.len;
  r.insn_info = uint32_t(info);
  const StringRegs sr(i.addrsize);
  r.guest_linear = OP == Str::Outs ? source_linear(c, i, sr.get(c, RSI), sizeof(T))
                                   : dest_linear(c, sr.get(c, RDI), sizeof(T), Access::Write);
  throw r;
}

template <Str OP, typename T>
void h_string(Cpu& c, const DecodedInsn& i) {
  const StringRegs sr(i.addrsize);
  const bool rep = i.flags & (insn_flag::REP | insn_flag::REPNE);
  if constexpr (OP == Str::Ins || OP == Str::Outs) {
    if (c.non_root()) string_io_intercept<OP, T>(c, i, rep);
  }
  uint64_t count = rep ? sr.get(c, RCX) : 1;
  const int64_t step = (c.state().rflags & fl::DF) ? -int64_t(sizeof(T)) : int64_t(sizeof(T));
  const uint64_t per_element = c.costs()[CostClass::string_iteration];
  const uint64_t allowance = rep ? c.string_iteration_allowance() : 1;
  uint64_t allowed = allowance;
  while (count) {
    if (allowed == 0 || (allowed < allowance && c.event_due())) {
      // Between two iterations, with work left (SDM vol. 1 7.3.9.2).
      return c.stop_string_instruction(allowance - allowed);
    }
    if constexpr (OP == Str::Movs || OP == Str::Stos) {
      if (rep && count > 1 && bulk_step<OP, T>(c, i, sr, per_element, count, allowed)) continue;
    }
    const uint64_t rsi = sr.get(c, RSI), rdi = sr.get(c, RDI);
    bool stop = false;
    if constexpr (OP == Str::Movs) {
      const T v = c.read<T>(source_linear(c, i, rsi, sizeof(T)));
      c.write<T>(dest_linear(c, rdi, sizeof(T), Access::Write), v);
    } else if constexpr (OP == Str::Stos) {
      c.write<T>(dest_linear(c, rdi, sizeof(T), Access::Write), T(c.reg(RAX)));
    } else if constexpr (OP == Str::Lods) {
      set_reg<T>(c, RAX, c.read<T>(source_linear(c, i, rsi, sizeof(T))));
    } else if constexpr (OP == Str::Cmps) {
      const T a = c.read<T>(source_linear(c, i, rsi, sizeof(T)));
      const T b = c.read<T>(dest_linear(c, rdi, sizeof(T), Access::Read));
      host_sub(a, b, c.state().rflags);
    } else if constexpr (OP == Str::Scas) {
      const T b = c.read<T>(dest_linear(c, rdi, sizeof(T), Access::Read));
      host_sub(T(c.reg(RAX)), b, c.state().rflags);
    } else if constexpr (OP == Str::Ins) {
      const uint16_t port = uint16_t(c.reg(RDX));
      const uint64_t la = dest_linear(c, rdi, sizeof(T), Access::Write);
      c.translate(la, Access::Write);  // the destination must be writable before the port is read
      c.write<T>(la, T(c.io_in(port, sizeof(T))));
    } else {  // Outs
      const T v = c.read<T>(source_linear(c, i, rsi, sizeof(T)));
      c.io_out(uint16_t(c.reg(RDX)), sizeof(T), v);
    }
    if constexpr (OP == Str::Movs || OP == Str::Lods || OP == Str::Cmps || OP == Str::Outs) sr.set(c, RSI, rsi + step);
    if constexpr (OP != Str::Lods && OP != Str::Outs) sr.set(c, RDI, rdi + step);
    --count;
    --allowed;
    c.charge(per_element);
    if (rep) sr.set(c, RCX, count);
    if constexpr (OP == Str::Cmps || OP == Str::Scas) {
      const bool zf = c.state().rflags & fl::ZF;
      if ((i.flags & insn_flag::REP) && !zf) stop = true;    // REPE ends on a mismatch
      if ((i.flags & insn_flag::REPNE) && zf) stop = true;   // REPNE ends on a match
    }
    if (stop) break;
  }
}

struct StringId {
  unsigned id;
  Str op;
  unsigned size;
};
constexpr StringId kStrings[] = {
    {X86_INS_MOVSB, Str::Movs, 1}, {X86_INS_MOVSW, Str::Movs, 2}, {X86_INS_MOVSD, Str::Movs, 4},
    {X86_INS_MOVSQ, Str::Movs, 8}, {X86_INS_STOSB, Str::Stos, 1}, {X86_INS_STOSW, Str::Stos, 2},
    {X86_INS_STOSD, Str::Stos, 4}, {X86_INS_STOSQ, Str::Stos, 8}, {X86_INS_LODSB, Str::Lods, 1},
    {X86_INS_LODSW, Str::Lods, 2}, {X86_INS_LODSD, Str::Lods, 4}, {X86_INS_LODSQ, Str::Lods, 8},
    {X86_INS_CMPSB, Str::Cmps, 1}, {X86_INS_CMPSW, Str::Cmps, 2}, {X86_INS_CMPSD, Str::Cmps, 4},
    {X86_INS_CMPSQ, Str::Cmps, 8}, {X86_INS_SCASB, Str::Scas, 1}, {X86_INS_SCASW, Str::Scas, 2},
    {X86_INS_SCASD, Str::Scas, 4}, {X86_INS_SCASQ, Str::Scas, 8}, {X86_INS_INSB, Str::Ins, 1},
    {X86_INS_INSW, Str::Ins, 2}, {X86_INS_INSD, Str::Ins, 4}, {X86_INS_OUTSB, Str::Outs, 1},
    {X86_INS_OUTSW, Str::Outs, 2}, {X86_INS_OUTSD, Str::Outs, 4},
};

template <Str OP>
Handler string_handler(unsigned size) {
  return NB_BY_SIZE_P(h_string, OP, size);
}

}  // namespace

bool select_string(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  (void)mode;
  for (const StringId& s : kStrings) {
    if (s.id != id) continue;
    // X86_INS_MOVSD/CMPSD are also SSE2 mnemonics: those have XMM operands
    // and select_sse, which the decoder tries first, takes them.
    Handler h = nullptr;
    switch (s.op) {
      case Str::Movs: h = string_handler<Str::Movs>(s.size); break;
      case Str::Stos: h = string_handler<Str::Stos>(s.size); break;
      case Str::Lods: h = string_handler<Str::Lods>(s.size); break;
      case Str::Cmps: h = string_handler<Str::Cmps>(s.size); break;
      case Str::Scas: h = string_handler<Str::Scas>(s.size); break;
      case Str::Ins: h = s.size == 1 ? &h_string<Str::Ins, uint8_t> : s.size == 2 ? &h_string<Str::Ins, uint16_t> : &h_string<Str::Ins, uint32_t>; break;
      case Str::Outs: h = s.size == 1 ? &h_string<Str::Outs, uint8_t> : s.size == 2 ? &h_string<Str::Outs, uint16_t> : &h_string<Str::Outs, uint32_t>; break;
    }
    const bool io = s.op == Str::Ins || s.op == Str::Outs;
    set_handler(d, h, costs, io ? CostClass::port_io : CostClass::load_store, io);
    return true;
  }
  return false;
}

}  // namespace nestbed::sim
