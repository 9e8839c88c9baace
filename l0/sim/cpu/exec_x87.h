// Pieces of the x87 FPU (exec_x87.cpp) that FXSAVE/FXRSTOR (exec_sse.cpp)
// share: the availability check and the x87 part of the FXSAVE image.
#pragma once
#include <cstdint>

#include "arch/x86/x87.h"
#include "l0/sim/cpu/exec_common.h"

namespace nestbed::sim {

// x87 instructions, FXSAVE and FXRSTOR: #NM if CR0.EM or CR0.TS is set
// (SDM vol. 3, table 2-2; vol. 3, 2.5 on CR0.EM).
void check_fpu(Cpu& c);

// The x87 fields of a 512-byte FXSAVE image (SDM vol. 1, tables 10-2 and
// 10-3; REX.W selects the 64-bit FPU IP/DP layout), and their load. The
// register slots' bytes 10-15 are written as zero.
void x87_to_fxsave(const X87State& x, uint8_t* img, bool rex_w);
void x87_from_fxsave(X87State& x, const uint8_t* img, bool rex_w);
// After FCW or FSW was loaded from memory: the control word's fixed bits,
// and FSW.ES/B from the unmasked exception flags.
void x87_loaded(X87State& x);

// A waiting instruction's first step: #MF for a pending unmasked exception
// (FSW.ES) with CR0.NE = 1 (vol. 1, 8.7; exec_x87.cpp says what CR0.NE = 0 does).
void x87_pending_check(Cpu& c, const DecodedInsn& i);

// Sets TOP, keeping the physical registers' contents (X87State holds them
// in stack order, so they rotate): FNINIT, FLDENV, MMX instructions.
void x87_set_top(X87State& x, unsigned top);

// A host stub: `uint64_t stub(void* operand, void* guest_image, void*
// host_image, uint64_t guest_status_flags)` saves the host's FPU/SSE
// state to host_image, loads guest_image (FXSAVE64 layout), loads the
// status flags, runs one instruction whose memory operand is [operand],
// returns RFLAGS, stores the state to guest_image and restores the host's.
using X87Stub = uint64_t (*)(void* operand, void* guest_image, void* host_image, uint64_t flags);
// Runs a stub on the guest's x87 state (registers, FCW, FSW, tags; the
// pointers are left to the caller) and returns the host's RFLAGS after
// the instruction.
uint64_t x87_run_stub(Cpu& c, const char* stub, void* operand);
// What a stub changes: FCW, FSW, the abridged tags and the registers, from
// an FXSAVE image (the pointers are the caller's business).
void x87_registers_from_fxsave(X87State& x, const uint8_t* img);
// The FSW bits of an error left pending when IGNNE# lets a waiting
// instruction run with CR0.NE = 0 (exec_x87.cpp, x87_pending_check): held
// back from the host's image, which would otherwise trap, and kept after
// (the exception flags are sticky). 0 when no error is pending.
inline uint16_t x87_held_error(const X87State& x) {
  namespace x87 = arch::x87;
  return (x.fsw & x87::FSW_ES) ? uint16_t(x.fsw & (x87::FSW_EXCEPTIONS | x87::FSW_SF | x87::FSW_ES | x87::FSW_B)) : 0;
}

}  // namespace nestbed::sim
