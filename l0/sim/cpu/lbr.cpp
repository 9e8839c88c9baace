// Last-branch records (SDM vol. 3, 17.4.2, 17.4.8, 17.7-17.10: section
// numbers of the 2016 edition; vol. 4, the MSRs of processors based on the
// Skylake microarchitecture). While
// IA32_DEBUGCTL.LBR is 1 every taken branch, interrupt and exception is
// recorded as a (from, to) pair in the next entry of a 32-entry circular
// stack whose last entry MSR_LASTBRANCH_TOS indexes, and each event copies
// the last branch taken before it to MSR_LER_FROM_LIP / MSR_LER_TO_LIP.
//
// How it fits the interpreter: like BTF, recording needs every instruction
// boundary, so while LBR is 1 the run loop runs one instruction at a time
// (Cpu::debug_stepping); end_debug_step records the instruction if it
// branched, deliver_event records the events it delivers. With LBR = 0
// nothing here runs.
//
// The record format is IA32_PERF_CAPABILITIES.LBR_FMT = 000101B: FROM_IP
// and TO_IP hold the offset in CS (the RIP; its upper 32 bits are 0 outside
// 64-bit mode, 17.4.8.1), MSR_LBR_INFO_n the flags and the cycles elapsed
// since the previous record (17.10), here the modeled cycles. The
// sim has no branch predictor (MISPRED is 0) and no TSX (IN_TSX and
// TSX_ABORT are 0).
//
// Rules taken from the SDM:
//   - Debug exceptions are not recorded, and delivering one clears
//     DEBUGCTL.LBR (17.4.2 "Monitoring Branches, Exceptions, and
//     Interrupts"; the stack keeps its contents). A #DB that causes a VM
//     exit instead changes nothing (27.1).
//   - A branch that raises a trap records the branch, then the event
//     (stated in 17.11.2): end_debug_step runs before the trap is delivered.
//   - An interrupt or exception records (the RIP it interrupted, or of
//     the INT n / INT3 / INTO / INT1 that raised it; the handler's RIP).
//   - MSR_LBR_SELECT (17.7.2, 17.8, 17.9): a set bit drops its class of
//     branches; the CPL bits look at the CPL the branch ends in; with
//     EN_CALLSTACK a near return that passes the filter pops the entry of
//     its call instead of being recorded. The SDM leaves what a pop leaves
//     in the entry unspecified: the sim zeroes it (readers such as Linux
//     take a zero FROM_IP as the end of the call stack).
//   - FREEZE_LBRS_ON_PMI stops recording on a PMI: the sim has no PMU
//     (CPUID leaf 0AH reports version 0), so no PMI ever freezes it.
//     FREEZE_WHILE_SMM acts on SMIs, and there is no SMM.
//   - VM exits clear IA32_DEBUGCTL and "load debug controls" loads it at
//     VM entry (vmx/vmx.cpp); the stack itself is not switched by VM entries
//     and exits, and neither transition is recorded.
// A taken branch whose target is the next instruction is recorded for the
// unconditional ones; a Jcc, LOOP or JrCXZ taken to the next instruction
// cannot be told from one not taken and is missed (as BTF misses it).
#include "l0/sim/cpu/lbr.h"

#include <capstone/capstone.h>

#include "arch/x86/paging.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/exec_select.h"

namespace nestbed::sim {

namespace msr = arch::msr;

uint64_t lbr_branch_class(const DecodedInsn& i) {
  const bool indirect = i.op[0].kind == OpKind::Mem || i.op[0].kind == OpKind::Reg;
  switch (i.id) {
    case X86_INS_JMP: return indirect ? msr::LBR_SELECT_NEAR_IND_JMP : msr::LBR_SELECT_NEAR_REL_JMP;
    case X86_INS_CALL: return indirect ? msr::LBR_SELECT_NEAR_IND_CALL : msr::LBR_SELECT_NEAR_REL_CALL;
    case X86_INS_RET: return msr::LBR_SELECT_NEAR_RET;
    case X86_INS_LOOP:
    case X86_INS_LOOPE:
    case X86_INS_LOOPNE:
    case X86_INS_JRCXZ:
    case X86_INS_JECXZ:
    case X86_INS_JCXZ: return msr::LBR_SELECT_JCC;
    case X86_INS_LJMP:
    case X86_INS_LCALL:
    case X86_INS_RETF:
    case X86_INS_RETFQ:
    case X86_INS_IRET:
    case X86_INS_IRETD:
    case X86_INS_IRETQ:
    case X86_INS_SYSCALL:
    case X86_INS_SYSRET:
    case X86_INS_SYSENTER:
    case X86_INS_SYSEXIT: return msr::LBR_SELECT_FAR_BRANCH;
    default: return jcc_condition(i.id) >= 0 ? msr::LBR_SELECT_JCC : 0;
  }
}

// IA32_DEBUGCTL changed (WRMSR, VM entry and exit, a #DB): recording needs
// the one-instruction steps of the run loop.
void Cpu::debugctl_changed() {
  step_each_ = exec_breakpoints_ || (s_.debugctl & msr::DEBUGCTL_LBR);
  end_block();
}

void Cpu::lbr_record(uint64_t from, uint64_t to, uint64_t cls) {
  lbr_.last_from = from;
  lbr_.last_to = to;
  const uint64_t select = lbr_.select;
  if (select & (s_.cpl == 0 ? msr::LBR_SELECT_CPL_EQ_0 : msr::LBR_SELECT_CPL_NEQ_0)) return;
  if (select & cls) return;
  constexpr uint64_t mask = msr::LBR_TOS_MASK_SKYLAKE;
  if ((select & msr::LBR_SELECT_EN_CALLSTACK) && cls == msr::LBR_SELECT_NEAR_RET) {
    lbr_.from[lbr_.tos] = lbr_.to[lbr_.tos] = lbr_.info[lbr_.tos] = 0;
    lbr_.tos = (lbr_.tos - 1) & mask;
    return;
  }
  const uint64_t elapsed = cycles_ - lbr_.last_update;
  lbr_.last_update = cycles_;
  lbr_.tos = (lbr_.tos + 1) & mask;
  lbr_.from[lbr_.tos] = from;
  lbr_.to[lbr_.tos] = to;
  lbr_.info[lbr_.tos] = elapsed < msr::LBR_INFO_CYC_CNT ? elapsed : msr::LBR_INFO_CYC_CNT;
}

// An event delivered through the IDT (not one that exits) while LBR is 1.
void Cpu::lbr_event(uint64_t from, bool hardware_db) {
  lbr_.ler_from = lbr_.last_from;
  lbr_.ler_to = lbr_.last_to;
  if (hardware_db) {
    s_.debugctl &= ~msr::DEBUGCTL_LBR;
    debugctl_changed();
    return;
  }
  lbr_record(from, s_.rip(), msr::LBR_SELECT_FAR_BRANCH);
}

namespace {
// The LBR MSR at `index` and its slot, or false.
bool lbr_entry(LbrStack& l, uint32_t index, uint64_t*& slot) {
  if (index >= msr::MSR_LASTBRANCH_0_FROM_IP && index < msr::MSR_LASTBRANCH_0_FROM_IP + LbrStack::DEPTH)
    slot = &l.from[index - msr::MSR_LASTBRANCH_0_FROM_IP];
  else if (index >= msr::MSR_LASTBRANCH_0_TO_IP && index < msr::MSR_LASTBRANCH_0_TO_IP + LbrStack::DEPTH)
    slot = &l.to[index - msr::MSR_LASTBRANCH_0_TO_IP];
  else if (index >= msr::MSR_LBR_INFO_0 && index < msr::MSR_LBR_INFO_0 + LbrStack::DEPTH)
    slot = &l.info[index - msr::MSR_LBR_INFO_0];
  else if (index == msr::MSR_LASTBRANCH_TOS)
    slot = &l.tos;
  else if (index == msr::MSR_LBR_SELECT)
    slot = &l.select;
  else if (index == msr::MSR_LER_FROM_LIP)
    slot = &l.ler_from;
  else if (index == msr::MSR_LER_TO_LIP)
    slot = &l.ler_to;
  else
    return false;
  return true;
}
}  // namespace

bool Cpu::read_lbr_msr(uint32_t index, uint64_t& value) {
  uint64_t* slot;
  if (!lbr_entry(lbr_, index, slot)) return false;
  value = *slot;
  return true;
}

// All of them are read/write on Skylake (vol. 4): software saves and
// restores the stack across context switches. Addresses must be
// canonical (bits 63:48 sign-extend bit 47), TOS and LBR_SELECT have
// reserved bits; the undefined bits 60:16 of LBR_INFO read as 0.
bool Cpu::write_lbr_msr(uint32_t index, uint64_t value) {
  uint64_t* slot;
  if (!lbr_entry(lbr_, index, slot)) return false;
  if (slot == &lbr_.tos) {
    if (value & ~msr::LBR_TOS_MASK_SKYLAKE) raise_gp(0);
  } else if (slot == &lbr_.select) {
    if (value & ~msr::LBR_SELECT_VALID) raise_gp(0);
  } else if (index >= msr::MSR_LBR_INFO_0) {
    value &= msr::LBR_INFO_CYC_CNT | msr::LBR_INFO_TSX_ABORT | msr::LBR_INFO_IN_TSX | msr::LBR_INFO_MISPRED;
  } else if (!arch::is_canonical(value)) {
    raise_gp(0);
  }
  *slot = value;
  return true;
}

}  // namespace nestbed::sim
