// fpu-sse N: an ordinary compiled guest. kmain (general registers only, like
// every workload) turns SSE on as an operating system does, then runs code
// built the way any x86-64 program is, with SSE2 and GCC's vectorizer
// (kernels.sse.cpp): N steps of a 16-body gravity simulation in double
// precision (sqrt, div) and N rounds of a vectorized checksum over a 1 KiB
// byte block, which kmain recomputes with general registers and compares,
// and N steps of long double arithmetic (the x87).
// Everything is IEEE-exact and deterministic, so the result line is the same
// on every correct x86-64 platform and at every depth.
//
// The runtime never enables interrupts here (IF stays 0 from the Multiboot
// entry on) and its exception handlers, like all runtime code, use general
// registers only: nothing can run in between and clobber live XMM state.
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/sse.h"
#include "runtime/runtime.h"
#include "workloads/fpu-sse/byte_checksum.h"
#include "workloads/fpu-sse/kernels.h"

namespace {

constexpr uint64_t DEFAULT_STEPS = 1000;
// Symplectic Euler keeps the energy near its start (here within 0.1% up to
// a million steps, though not monotonically): a drift beyond 1% is an
// error in the floating point, not in the physics.
constexpr int64_t MAX_DRIFT_DIVISOR = 100;

alignas(16) uint8_t byte_block[fpu_sse::BLOCK_BYTES];

bool cpu_has_sse2() {
  namespace id = arch::cpuid;
  uint32_t needed = id::L1_EDX_FPU | id::L1_EDX_FXSR | id::L1_EDX_SSE | id::L1_EDX_SSE2;
  return (rt::cpuid(1).edx & needed) == needed;
}

// What an OS does before the first SSE instruction (SDM vol. 3, 13.1.3-13.1.4):
// CR0.EM = 0 (no x87 emulation: SSE instructions would be #UD), CR0.MP = 1
// (WAIT/FWAIT honour CR0.TS), CR0.TS = 0 (no lazy switching: no #NM);
// CR4.OSFXSR = 1 (the OS saves the state with FXSAVE: SSE instructions
// execute), CR4.OSXMMEXCPT = 1 (an unmasked SIMD exception is #XM, not #UD);
// then the x87 and MXCSR at their initial values (all exceptions masked,
// round to nearest).
void enable_sse() {
  rt::write_cr0((rt::read_cr0() & ~(arch::cr0::EM | arch::cr0::TS)) | arch::cr0::MP);
  rt::write_cr4(rt::read_cr4() | arch::cr4::OSFXSR | arch::cr4::OSXMMEXCPT);
  uint32_t mxcsr = arch::mxcsr::RESET;
  asm volatile("fninit; ldmxcsr %0" : : "m"(mxcsr));
}

int64_t magnitude(int64_t v) { return v < 0 ? -v : v; }

}  // namespace

int kmain(const rt::BootInfo& boot) {
  uint64_t steps = rt::cmdline_count(boot.cmdline, DEFAULT_STEPS);
  if (!cpu_has_sse2()) {
    rt::printf("fpu-sse: error: CPUID.1:EDX reports no FPU/FXSR/SSE/SSE2\n");
    return rt::EXIT_FAILURE;
  }
  enable_sse();

  fpu_sse::NbodyResult nbody = fpu_sse::nbody(steps);
  uint64_t bytes_vector = fpu_sse::byte_checksum_vector(steps);
  uint64_t bytes_scalar = fpu_sse::run_byte_rounds(byte_block, steps);
  uint64_t x87 = fpu_sse::x87_checksum(steps);
  if (bytes_vector != bytes_scalar) {
    rt::printf("fpu-sse: error: byte checksum 0x%016lx vectorized, 0x%016lx with general registers\n",
               bytes_vector, bytes_scalar);
    return rt::EXIT_FAILURE;
  }
  if (magnitude(nbody.energy_end_nano - nbody.energy_start_nano) * MAX_DRIFT_DIVISOR >
      magnitude(nbody.energy_start_nano)) {
    rt::printf("fpu-sse: error: energy drifted from %ld to %ld (1e-9 units)\n", nbody.energy_start_nano,
               nbody.energy_end_nano);
    return rt::EXIT_FAILURE;
  }
  rt::printf("fpu-sse: %lu steps, energy %ld -> %ld e-9, state checksum 0x%016lx, byte checksum 0x%016lx, "
             "x87 checksum 0x%016lx\n",
             steps, nbody.energy_start_nano, nbody.energy_end_nano, nbody.state_checksum, bytes_vector, x87);
  return rt::EXIT_OK;
}
