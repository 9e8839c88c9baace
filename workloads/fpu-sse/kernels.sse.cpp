// fpu-sse's SSE half, compiled without -mgeneral-regs-only (the `.sse.cpp`
// suffix: workloads/CMakeLists.txt, freestanding_sse_flags in
// runtime/CMakeLists.txt): what GCC makes of ordinary double-precision and
// vectorizable integer code for the x86-64 baseline, scalar and packed SSE2.
// It calls no runtime code but what GCC may emit itself (memset/memcpy,
// which use general registers only and so leave every XMM register alone).
#include "workloads/fpu-sse/kernels.h"

#include "workloads/fpu-sse/byte_checksum.h"

namespace fpu_sse {
namespace {

constexpr int BODIES = 16;  // a compile-time count: the j loops vectorize whole (byte_checksum.h)
constexpr double DT = 1.0 / 1024;
constexpr double SOFTENING2 = 1.0 / 64;  // added to r^2: no singular close encounters

// Structure of arrays, as vector code wants it.
struct Bodies {
  alignas(16) double x[BODIES], y[BODIES], z[BODIES];
  alignas(16) double vx[BODIES], vy[BODIES], vz[BODIES];
  alignas(16) double m[BODIES];
};
Bodies bodies;
// One body's view of the others, for the vectorized loop of accelerate().
alignas(16) double dx[BODIES], dy[BODIES], dz[BODIES], strength[BODIES];

alignas(16) uint8_t byte_block[BLOCK_BYTES];

// Positions on a small lattice (the multipliers permute 0..15, so no two
// bodies coincide), masses 1 to ~2, a slow rotation about z.
void init(Bodies& b) {
  for (int i = 0; i < BODIES; i++) {
    b.x[i] = (i * 7 % BODIES - BODIES / 2) * 0.125;
    b.y[i] = (i * 11 % BODIES - BODIES / 2) * 0.125;
    b.z[i] = (i * 13 % BODIES - BODIES / 2) * 0.0625;
    b.m[i] = (1.0 + i / 16.0) / BODIES;
    b.vx[i] = -0.5 * b.y[i];
    b.vy[i] = 0.5 * b.x[i];
    b.vz[i] = 0.0;
  }
}

// Kicks every velocity by the softened gravity of all bodies (the body's
// own term is 0: dx = dy = dz = 0).
void accelerate(Bodies& b) {
  for (int i = 0; i < BODIES; i++) {
    for (int j = 0; j < BODIES; j++) {
      dx[j] = b.x[j] - b.x[i];
      dy[j] = b.y[j] - b.y[i];
      dz[j] = b.z[j] - b.z[i];
      double r2 = dx[j] * dx[j] + dy[j] * dy[j] + dz[j] * dz[j] + SOFTENING2;
      strength[j] = b.m[j] / (r2 * __builtin_sqrt(r2));
    }
    double ax = 0, ay = 0, az = 0;
    for (int j = 0; j < BODIES; j++) {
      ax += dx[j] * strength[j];
      ay += dy[j] * strength[j];
      az += dz[j] * strength[j];
    }
    b.vx[i] += ax * DT;
    b.vy[i] += ay * DT;
    b.vz[i] += az * DT;
  }
}

void drift(Bodies& b) {
  for (int i = 0; i < BODIES; i++) {
    b.x[i] += b.vx[i] * DT;
    b.y[i] += b.vy[i] * DT;
    b.z[i] += b.vz[i] * DT;
  }
}

// Kinetic plus (softened) potential energy: what the simulation conserves.
double energy(const Bodies& b) {
  double kinetic = 0, potential = 0;
  for (int i = 0; i < BODIES; i++) {
    kinetic += 0.5 * b.m[i] * (b.vx[i] * b.vx[i] + b.vy[i] * b.vy[i] + b.vz[i] * b.vz[i]);
    for (int j = i + 1; j < BODIES; j++) {
      double ex = b.x[j] - b.x[i], ey = b.y[j] - b.y[i], ez = b.z[j] - b.z[i];
      potential -= b.m[i] * b.m[j] / __builtin_sqrt(ex * ex + ey * ey + ez * ez + SOFTENING2);
    }
  }
  return kinetic + potential;
}

uint64_t fnv1a(uint64_t hash, const double* values, int count) {
  for (int i = 0; i < count; i++) {
    uint64_t bits;
    __builtin_memcpy(&bits, &values[i], sizeof bits);
    hash = (hash ^ bits) * 0x100000001b3ull;
  }
  return hash;
}

int64_t nano(double value) { return int64_t(value * 1e9); }

}  // namespace

NbodyResult nbody(uint64_t steps) {
  init(bodies);
  NbodyResult result;
  result.energy_start_nano = nano(energy(bodies));
  for (uint64_t s = 0; s < steps; s++) {
    accelerate(bodies);
    drift(bodies);
  }
  result.energy_end_nano = nano(energy(bodies));
  uint64_t hash = 0xcbf29ce484222325ull;
  const double* state[] = {bodies.x, bodies.y, bodies.z, bodies.vx, bodies.vy, bodies.vz};
  for (const double* array : state) hash = fnv1a(hash, array, BODIES);
  result.state_checksum = hash;
  return result;
}

uint64_t byte_checksum_vector(uint64_t rounds) { return run_byte_rounds(byte_block, rounds); }

uint64_t x87_checksum(uint64_t terms) {
  long double sum = 0, root = 0;
  uint64_t hash = 0xcbf29ce484222325ull;
  auto fold = [&hash](const void* p, int n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (int k = 0; k < n; k++) hash = (hash ^ b[k]) * 0x100000001b3ull;
  };
  for (uint64_t k = 1; k <= terms; k++) {
    sum += 1.0L / static_cast<long double>(k);
    root = __builtin_sqrtl(sum + root);
    const int64_t scaled = static_cast<int64_t>(root * 1000000.0L);
    fold(&scaled, 8);
  }
  fold(&sum, 10);  // the 80-bit significand and sign/exponent, not the padding
  fold(&root, 10);
  return hash;
}

}  // namespace fpu_sse
