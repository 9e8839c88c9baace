// Pieces of the x87 FPU (exec_x87.cpp) that FXSAVE/FXRSTOR (exec_sse.cpp)
// share: the availability check and the x87 part of the FXSAVE image.
#pragma once
#include <cstdint>

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

}  // namespace nestbed::sim
