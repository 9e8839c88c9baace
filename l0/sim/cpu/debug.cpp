// Debug exceptions (SDM vol. 3, chapter 18): instruction, data and I/O
// breakpoints through DR0-DR3 and DR7, single-step traps from RFLAGS.TF,
// general detect, RF, the deferral of debug traps by MOV SS / POP SS, and
// the pending debug exceptions VM exits save and VM entries load.
//
// How it fits the interpreter:
//   - Single-step, RF and instruction breakpoints need every instruction
//     boundary: while TF or RF is set or an instruction breakpoint is
//     armed, the run loop runs one instruction at a time
//     (Cpu::debug_stepping) and checks the breakpoints before each.
//   - Data breakpoints cost nothing until armed: pages they watch get no
//     fast-path TLB tags (fill_tlb), so every access to them goes through
//     the slow paths, which call watch_data. A hit ends the block (or the
//     REP string instruction after its iteration).
//   - Traps met by an instruction (dbg_hits_, and BS) become pending at the
//     boundary after it (dbg_pending_) only if it completed: a fault, a VM
//     exit or an event it delivered itself (INT n, SYSCALL does not
//     deliver) discards them. Traps held over an instruction by MOV SS
//     survive whatever that instruction does, and reach the first
//     instruction of a handler it entered, as on Intel processors (the
//     behaviour behind CVE-2018-8897).
#include <utility>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/debug.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

namespace dbg = arch::debug;
namespace fl = arch::rflags;

void Cpu::debug_registers_changed() {
  const uint64_t dr7 = s_.dr[7];
  uint8_t exec = 0, data = 0, io = 0;
  for (unsigned n = 0; n < 4; ++n) {
    if (!dbg::dr7_enabled(dr7, n)) continue;
    switch (dbg::dr7_rw(dr7, n)) {
      case dbg::RW_EXECUTE: exec |= uint8_t(1u << n); break;
      case dbg::RW_IO: io |= uint8_t(1u << n); break;
      default: data |= uint8_t(1u << n); break;
    }
  }
  // The TLB keeps no fast-path tags for watched pages: drop every cached
  // translation when the set of watched ranges changes.
  bool watched_changed = data != data_breakpoints_;
  for (unsigned n = 0; n < 4; ++n)
    if ((data >> n) & 1)
      watched_changed |= armed_dr_[n] != s_.dr[n] || dbg::dr7_len(armed_dr_[4], n) != dbg::dr7_len(dr7, n);
  exec_breakpoints_ = exec;
  data_breakpoints_ = data;
  io_breakpoints_ = io;
  for (unsigned n = 0; n < 4; ++n) armed_dr_[n] = s_.dr[n];
  armed_dr_[4] = dr7;
  if (watched_changed) flush_tlb_contexts([](uint64_t) { return true; });
  debugctl_changed();  // stepping may start (instruction breakpoints, LBR: VM entries and exits load DEBUGCTL)
}

namespace {
// Does breakpoint n's range (LENn bytes at DRn, aligned down: SDM 18.2.5)
// overlap [addr, addr + size)?
bool breakpoint_overlaps(uint64_t dr, unsigned len, uint64_t addr, unsigned size) {
  const uint64_t first = dr & ~uint64_t(len - 1);
  return addr < first + len && first < addr + size;
}
}  // namespace

bool Cpu::data_breakpoint_on_page(uint64_t page) const {
  for (unsigned n = 0; n < 4; ++n)
    if (((data_breakpoints_ >> n) & 1) && breakpoint_overlaps(s_.dr[n], dbg::dr7_len(s_.dr[7], n), page, 0x1000))
      return true;
  return false;
}

// R/W = 01 breaks on writes, 11 on reads and writes, never on fetches
// (SDM 18.2.4). A read-modify-write is both.
void Cpu::data_breakpoint_access(uint64_t la, unsigned size, Access a) {
  if (a == Access::Exec) return;
  const uint64_t dr7 = s_.dr[7];
  for (unsigned n = 0; n < 4; ++n) {
    if (!((data_breakpoints_ >> n) & 1)) continue;
    if (a == Access::Read && dbg::dr7_rw(dr7, n) != dbg::RW_READ_WRITE) continue;
    if (!breakpoint_overlaps(s_.dr[n], dbg::dr7_len(dr7, n), la, size)) continue;
    dbg_hits_ |= 1u << n;
    exit_block_ = true;
  }
}

// R/W = 10 watches I/O ports when CR4.DE = 1 (with DE = 0 the encoding is
// undefined: nothing is watched).
void Cpu::io_breakpoint_access(uint16_t port, unsigned size) {
  if (!(s_.cr4 & arch::cr4::DE)) return;
  for (unsigned n = 0; n < 4; ++n) {
    if (!((io_breakpoints_ >> n) & 1)) continue;
    if (!breakpoint_overlaps(uint16_t(s_.dr[n]), dbg::dr7_len(s_.dr[7], n), port, size)) continue;
    dbg_hits_ |= 1u << n;
    exit_block_ = true;
  }
}

// Instruction breakpoints: a fault before the instruction at DRn's linear
// address executes, unless RF is set (SDM 18.3.1.1). One after MOV SS may
// be missed (ibid.): the sim misses it, as the shadow blocks every debug
// exception for that instruction.
void Cpu::check_instruction_breakpoint() {
  if (!exec_breakpoints_ || (s_.rflags & fl::RF) || shadow_by_mov_ss()) return;
  uint64_t la = s_.rip();
  if (mode_ != CpuMode::Bits64) la = uint32_t(s_.seg[arch::seg::CS].base + la);
  uint64_t hits = 0;
  for (unsigned n = 0; n < 4; ++n)
    if (((exec_breakpoints_ >> n) & 1) && s_.dr[n] == la) hits |= 1u << n;
  if (hits) raise_debug_fault(hits);
}

void Cpu::raise_debug_fault(uint64_t dr6_bits) {
  db_payload_ = dr6_bits;
  db_payload_valid_ = true;
  raise_fault(uint8_t(arch::Vector::DB));
}

void Cpu::icebp(unsigned insn_len) {
  ++counters_.exceptions;
  privileged_software_ = true;
  deliver_event(uint8_t(arch::Vector::DB), false, 0, false, false, insn_len);
}

// After one instruction of a debug step, or one whose access hit a data
// breakpoint. The instruction completed if nothing was delivered and no
// VMX transition happened since `before` (an interrupted REP string
// instruction completed an iteration).
void Cpu::end_debug_step(const DebugStep& before) {
  const bool completed = event_count() == before.events;
  uint64_t hits = std::exchange(dbg_hits_, 0);
  // TF was set before it ran (SDM 18.3.1.4); with IA32_DEBUGCTL.BTF only a
  // taken branch traps (18.4.3: "single-step on branches"), recognized by
  // RIP not being the next instruction's (so a branch taken to the very
  // next instruction is missed).
  const bool branched = s_.rip() != dbg_fallthrough_ && !restart_;
  if (completed && (before.rflags & fl::TF) && (!(s_.debugctl & arch::msr::DEBUGCTL_BTF) || branched))
    hits |= dbg::DR6_BS;
  if (completed) dbg_pending_ |= hits;
  if (NB_UNLIKELY(s_.debugctl & arch::msr::DEBUGCTL_LBR) && completed && !restart_ &&
      (branched || lbr_branch_unconditional(dbg_branch_)) && dbg_branch_)
    lbr_record(fault_rip_, s_.rip(), dbg_branch_);
  dbg_branch_ = 0;
  // RF is cleared once an instruction completes, unless that instruction
  // loaded it (IRET, SYSRET); a string instruction stopped between
  // iterations has not completed yet.
  if (completed && (before.rflags & fl::RF) && !rf_loaded_ && !restart_) s_.rflags &= ~fl::RF;
  rf_loaded_ = false;
}

// A debug trap at this boundary: #DB with the pending bits, or the VM exit
// the exception bitmap asks for (deliver_event).
void Cpu::deliver_debug_trap() {
  db_payload_ = std::exchange(dbg_pending_, 0);
  db_payload_valid_ = true;
  ++counters_.exceptions;
  deliver_event(uint8_t(arch::Vector::DB), false, 0, false, false, 0);
}

// B0-B3 and BS, and "enabled breakpoint" when one of the Bn met is
// enabled in DR7 (SDM 24.4.2, table 24-4).
uint64_t Cpu::take_pending_debug_exceptions() {
  namespace pd = arch::vmx::pending_dbg;
  uint64_t bits = std::exchange(dbg_pending_, 0);
  for (unsigned n = 0; n < 4; ++n)
    if (((bits >> n) & 1) && dbg::dr7_enabled(s_.dr[7], n)) bits |= pd::ENABLED_BREAKPOINT.mask;
  return bits;
}

}  // namespace nestbed::sim
