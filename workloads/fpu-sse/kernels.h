// The SSE half of fpu-sse: code compiled like an ordinary x86-64 program
// (SSE2 on, GCC's -O2 vectorizer: kernels.sse.cpp, see workloads/README.md),
// called from the general-registers-only kmain once it has enabled SSE.
// Only integers cross this interface: the kmain side cannot hold a double.
#pragma once
#include <stdint.h>

namespace fpu_sse {

// `steps` steps of a 16-body gravity simulation in double precision
// (symplectic Euler, softened), from a fixed initial state.
struct NbodyResult {
  int64_t energy_start_nano;  // total energy before and after, times 1e9, truncated
  int64_t energy_end_nano;
  uint64_t state_checksum;    // FNV-1a over the bit patterns of every position and velocity
};
NbodyResult nbody(uint64_t steps);

// byte_checksum.h's run_byte_rounds(rounds) on a buffer of the SSE half:
// the same source as kmain's copy, vectorized here.
uint64_t byte_checksum_vector(uint64_t rounds);

// `terms` steps of long double (x87, 64-bit significand) arithmetic: the
// harmonic sum 1/1 + ... + 1/n, a square root and a truncation to integer
// per step (FILD, FDIV, FADD, FSQRT, FMUL, FISTP under an FLDCW'd control
// word); FNV-1a over the 80-bit results' bytes and the integers.
uint64_t x87_checksum(uint64_t terms);

}  // namespace fpu_sse
