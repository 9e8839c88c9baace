// fpu-sse's integer kernel, included by both halves of the workload: the
// SSE half (kernels.sse.cpp) compiles it with the vectorizer on SSE2, kmain
// (fpu_sse.cpp) with general registers only. The two results must agree,
// which checks the sim's packed-integer instructions against its scalar ones.
// Internal linkage (an unnamed namespace): each translation unit keeps its
// own compilation, where an inline function would be merged into one by the
// linker and the comparison would test nothing.
#pragma once
#include <stdint.h>

namespace fpu_sse {
namespace {

// A compile-time block size: GCC's -O2 vectorizes only loops the vector
// code covers entirely (its "very cheap" cost model), so no runtime trip
// count and no scalar epilogue.
constexpr uint32_t BLOCK_BYTES = 1024;

// Round r's block: the high byte of a multiplicative hash of (i, r).
void fill_block(uint8_t* block, uint32_t round) {
  for (uint32_t i = 0; i < BLOCK_BYTES; i++) block[i] = uint8_t((i * 2654435761u + round * 40503u) >> 24);
}

// Fletcher-style sums: the bytes, and the bytes weighted by a function of
// their position, both modulo 2^32.
uint64_t block_sums(const uint8_t* block) {
  uint32_t sum = 0, weighted = 0;
  for (uint32_t i = 0; i < BLOCK_BYTES; i++) {
    sum += block[i];
    weighted += block[i] * (i ^ 0x5a5u);
  }
  return (uint64_t(weighted) << 32) | sum;
}

// FNV-1a over the rounds' 64-bit sums; `block` is BLOCK_BYTES, 16-aligned.
uint64_t run_byte_rounds(uint8_t* block, uint64_t rounds) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint64_t r = 0; r < rounds; r++) {
    fill_block(block, uint32_t(r));
    hash = (hash ^ block_sums(block)) * 0x100000001b3ull;
  }
  return hash;
}

}  // namespace
}  // namespace fpu_sse
