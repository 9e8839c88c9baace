// l0 never crashes (DESIGN.md §9): whatever a guest executes, the sim ends
// the run with a stop reason or keeps going, and its state stays usable.
// Random byte streams, run from many seeds in 64-bit and 32-bit mode, with
// VMX enabled so the VMX instructions and VM entries they happen to form
// are exercised too. Deterministic: fixed seeds.
#include <gtest/gtest.h>

#include <random>

#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "l0/sim/vmx/capabilities.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sim_vmx_setup.h"

namespace nestbed {
namespace {

using namespace nestbed::testing;

constexpr uint64_t kRandomCode = 0x300000;
constexpr unsigned kCodeBytes = 4096;
constexpr unsigned kSeeds = 1000;

void fill_random(SimMachine& m, std::mt19937_64& rng) {
  std::vector<uint8_t> code(kCodeBytes);
  for (uint8_t& b : code) b = uint8_t(rng());
  m.load_code(kRandomCode, code);
  for (unsigned r = 0; r < 16; ++r)
    if (r != sim::RSP) m.reg(r) = (r & 1) ? sim_layout::DATA + (rng() & 0xffff) : rng();
}

// Each seed: random code at CODE, random registers (half of them pointing
// into RAM), VMX enabled. Faults land in the harness's HLT stubs; the run
// must stop cleanly within its instruction budget.
TEST(SimRobustness, RandomCodeIn64BitModeNeverCrashesL0) {
  std::mt19937_64 rng(20261121);
  unsigned stops[6] = {};
  for (unsigned seed = 0; seed < kSeeds; ++seed) {
    SimMachine m;
    m.setup_long_mode();
    m.s().cr4 |= arch::cr4::VMXE;
    m.s().cr0 |= arch::cr0::NE;
    m.s().feature_control = arch::msr::FEATURE_CONTROL_LOCK | arch::msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX;
    m.poke<uint32_t>(sim_layout::DATA, sim::vmx::kVmcsRevision);
    fill_random(m, rng);
    m.rip() = kRandomCode;
    const sim::CpuStop stop = m.run(20000);
    ++stops[unsigned(stop)];
    // The CPU is still consistent: it can be reset and run known code.
    m.enter_long_mode();
    m.load_code(sim_layout::CODE, {0xb8, 0x2a, 0, 0, 0, 0xf4});  // mov eax, 42; hlt
    m.rip() = sim_layout::CODE;
    ASSERT_EQ(m.run(10), sim::CpuStop::Halted) << "seed " << seed;
    ASSERT_EQ(uint32_t(m.reg(sim::RAX)), 42u) << "seed " << seed;
  }
  // Random code mostly faults into a stub and halts there.
  EXPECT_GT(stops[unsigned(sim::CpuStop::Halted)], kSeeds / 2);
}

TEST(SimRobustness, RandomCodeIn32BitModeNeverCrashesL0) {
  std::mt19937_64 rng(42);
  for (unsigned seed = 0; seed < kSeeds; ++seed) {
    SimMachine m;
    m.setup_protected_mode();
    fill_random(m, rng);
    m.rip() = kRandomCode;
    m.run(20000);
    SUCCEED();
  }
}

// A valid VMCS with a few fields replaced by random values (sometimes
// random bits of the right field, sometimes a whole random word), then
// VMLAUNCH of random guest code: every outcome (VMfail, entry failure,
// exits of any kind) must leave l0 running and the host able to continue.
TEST(SimRobustness, MutatedVmcsAndRandomGuestNeverCrashL0) {
  std::mt19937_64 rng(7);
  unsigned launched = 0;
  for (unsigned seed = 0; seed < 3000; ++seed) {
    SimMachine m;
    enable_vmx(m);
    sim::vmx::Vmcs& v = prepare_vmcs(m);
    const unsigned mutations = 1 + unsigned(rng() % 3);
    for (unsigned k = 0; k < mutations; ++k) {
      const arch::vmx::VmcsFieldInfo& f = arch::vmx::kVmcsFields[rng() % arch::vmx::kVmcsFieldCount];
      const uint64_t old = v.read(arch::vmx::VmcsField(f.encoding));
      const uint64_t value = (rng() & 1) ? old ^ (1ull << (rng() % 64)) : rng();
      v.write(arch::vmx::VmcsField(f.encoding), value);
    }
    fill_random(m, rng);
    m.load_code(sim_layout::CODE, {0x0f, 0x01, 0xc2, 0xf4});  // vmlaunch; hlt
    m.rip() = sim_layout::CODE;
    m.run(20000);
    launched += m.cpu.counters().vm_entries != 0;
    // Whatever happened, the CPU is still usable.
    m.enter_long_mode();
    m.load_code(sim_layout::CODE, {0xb8, 0x2a, 0, 0, 0, 0xf4});  // mov eax, 42; hlt
    m.rip() = sim_layout::CODE;
    ASSERT_EQ(m.run(10), sim::CpuStop::Halted) << "seed " << seed;
    ASSERT_EQ(uint32_t(m.reg(sim::RAX)), 42u) << "seed " << seed;
  }
  // Some mutations are harmless: those entries must have happened.
  EXPECT_GT(launched, 0u);
}

}  // namespace
}  // namespace nestbed
