// The last-branch record stack (SDM vol. 3, 17.4.8 and 17.10 "Last Branch,
// Call Stack, Interrupt, and Exception Recording for Processors based on
// Skylake Microarchitecture"): model-specific state, laid out as on the
// Skylake-SP part the sim's CPUID names (cpuid.cpp): 32 entries, LBR
// format 000101B (IA32_PERF_CAPABILITIES), MSR_LBR_SELECT filtering with
// the call-stack mode, MSR_LER_FROM_LIP / MSR_LER_TO_LIP.
#pragma once
#include <cstdint>

#include "arch/x86/msr.h"

namespace nestbed::sim {

struct DecodedInsn;

// What a taken branch is to MSR_LBR_SELECT: the filter bit of its class
// (arch::msr::LBR_SELECT_*), or 0 for an instruction that is not a branch
// the stack records as one (INT n, INT3, INTO and INT1 are recorded as the
// events they deliver).
uint64_t lbr_branch_class(const DecodedInsn& i);
// A branch of this class is taken whenever it completes (JMP, CALL, RET,
// far transfers): it is recorded even if its target is the next instruction.
constexpr bool lbr_branch_unconditional(uint64_t cls) {
  return cls != 0 && cls != arch::msr::LBR_SELECT_JCC;
}

struct LbrStack {
  static constexpr unsigned DEPTH = arch::msr::LBR_SKYLAKE_DEPTH;
  uint64_t from[DEPTH] = {}, to[DEPTH] = {}, info[DEPTH] = {};
  uint64_t tos = 0, select = 0;  // MSR_LASTBRANCH_TOS, MSR_LBR_SELECT
  uint64_t ler_from = 0, ler_to = 0;  // MSR_LER_FROM_LIP, MSR_LER_TO_LIP
  // Not architectural: the last branch, interrupt or exception taken while
  // recording, filtered or not (what the LER registers copy at the next
  // event), and the cycle count at the last update of the stack (CYC_CNT).
  uint64_t last_from = 0, last_to = 0;
  uint64_t last_update = 0;
};

}  // namespace nestbed::sim
