// The MSRs an OS touches at boot, on the sim CPU (issue 14 item 6): the
// MTRRs (SDM 11.11), IA32_TSC_ADJUST (SDM 17.17.3), IA32_MISC_ENABLE (SDM
// vol. 4, table 2-2) with its CPUID effects, and IA32_APIC_BASE as the CPU
// sees it (SDM 11.4.3, 11.12.5). Every rule has an accepted and a faulting
// case: the guest code is a RDMSR/WRMSR/CPUID and a HLT, a #GP ends in the
// default stub (tests/support/sim_harness.h).
#include <gtest/gtest.h>

#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sim_vmx_setup.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace msr = arch::msr;
namespace cpuid = arch::cpuid;
namespace L = sim_layout;
using sim::CpuStop;

constexpr int GP = 13;

struct Cpuid {
  uint32_t eax, ebx, ecx, edx;
};

class SimMsr : public ::testing::Test {
 protected:
  SimMachine m;
  uint64_t next_code_ = L::CODE;
  void SetUp() override { m.setup_long_mode(); }

  // Runs `a` from its first byte with a fresh stack. True if it reached its
  // HLT, false if it took #GP; anything else fails the test.
  bool run(Asm& a) {
    a.hlt();
    m.load_code(a);
    next_code_ += (a.bytes.size() + 0x3f) & ~0x3full;
    m.rip() = a.origin;
    m.reg(sim::RSP) = L::STACK_TOP;
    m.cpu.set_halted(false);  // the previous run's HLT
    const CpuStop stop = m.run(1000);
    EXPECT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    const int vector = m.stub_vector();
    EXPECT_TRUE(vector == -1 || vector == GP) << "vector " << vector;
    return vector == -1;
  }
  Asm code() { return Asm(next_code_); }

  bool wrmsr(uint32_t index, uint64_t value) {
    Asm a = code();
    a.mov_imm32(rCX, index).mov_imm32(rAX, uint32_t(value)).mov_imm32(rDX, uint32_t(value >> 32)).wrmsr();
    return run(a);
  }
  // RDMSR's result; a #GP fails the test.
  uint64_t rdmsr(uint32_t index) {
    Asm a = code();
    a.mov_imm32(rCX, index).rdmsr();
    EXPECT_TRUE(run(a)) << "RDMSR 0x" << std::hex << index << " raised #GP";
    return (m.reg(rDX) << 32) | uint32_t(m.reg(rAX));
  }
  bool rdmsr_faults(uint32_t index) {
    Asm a = code();
    a.mov_imm32(rCX, index).rdmsr();
    return !run(a);
  }
  Cpuid cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    Asm a = code();
    a.mov_imm32(rAX, leaf).mov_imm32(rCX, subleaf).raw({0x0f, 0xa2});
    EXPECT_TRUE(run(a));
    return {uint32_t(m.reg(rAX)), uint32_t(m.reg(rBX)), uint32_t(m.reg(rCX)), uint32_t(m.reg(rDX))};
  }
  uint64_t rdtsc() {
    Asm a = code();
    a.raw({0x0f, 0x31});
    EXPECT_TRUE(run(a));
    return (m.reg(rDX) << 32) | uint32_t(m.reg(rAX));
  }
};

// ================================================================== MTRRs

// SDM 11.11.1: VCNT = 8, FIX and WC supported, no SMRR; MTRRCAP is read-only.
TEST_F(SimMsr, MtrrCapIsReportedAndReadOnly) {
  EXPECT_TRUE(cpuid(1).edx & cpuid::L1_EDX_MTRR);
  EXPECT_EQ(rdmsr(msr::IA32_MTRRCAP), 8u | msr::MTRRCAP_FIX | msr::MTRRCAP_WC);
  EXPECT_FALSE(wrmsr(msr::IA32_MTRRCAP, 0x508)) << "read-only";
}

// SDM 11.11.2.1: type in bits 7:0, FE bit 10, E bit 11, the rest reserved.
TEST_F(SimMsr, MtrrDefTypeTakesTypeFeAndE) {
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_DEF_TYPE), 0u) << "E and FE clear at reset (SDM 11.11.5)";
  ASSERT_TRUE(wrmsr(msr::IA32_MTRR_DEF_TYPE, msr::MTRR_DEF_TYPE_E | msr::MTRR_DEF_TYPE_FE | 6));
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_DEF_TYPE), 0xc06u);
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_DEF_TYPE, 0xc06 | (1u << 9))) << "reserved bit 9";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_DEF_TYPE, 0xc06 | (1ull << 12))) << "reserved bit 12";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_DEF_TYPE, 0xc07)) << "UC- (7) is a PAT type only";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_DEF_TYPE, 0xc02)) << "type 2 is reserved";
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_DEF_TYPE), 0xc06u) << "a faulting WRMSR changes nothing";
}

// SDM 11.11.2.2: 11 fixed-range MTRRs, eight one-byte types each.
TEST_F(SimMsr, FixedRangeMtrrsHoldEightValidTypes) {
  const uint32_t fixed[] = {msr::IA32_MTRR_FIX64K_00000, msr::IA32_MTRR_FIX16K_80000, msr::IA32_MTRR_FIX16K_A0000,
                            msr::IA32_MTRR_FIX4K_C0000,  msr::IA32_MTRR_FIX4K_C8000,  msr::IA32_MTRR_FIX4K_D0000,
                            msr::IA32_MTRR_FIX4K_D8000,  msr::IA32_MTRR_FIX4K_E0000,  msr::IA32_MTRR_FIX4K_E8000,
                            msr::IA32_MTRR_FIX4K_F0000,  msr::IA32_MTRR_FIX4K_F8000};
  // UC, WC, WT, WP, WB, a different rotation in each register.
  auto types = [](unsigned k) {
    constexpr uint8_t valid[] = {0, 1, 4, 5, 6};
    uint64_t v = 0;
    for (unsigned byte = 0; byte < 8; ++byte) v |= uint64_t(valid[(byte + k) % 5]) << (8 * byte);
    return v;
  };
  for (unsigned k = 0; k < 11; ++k) ASSERT_TRUE(wrmsr(fixed[k], types(k))) << std::hex << fixed[k];
  for (unsigned k = 0; k < 11; ++k) EXPECT_EQ(rdmsr(fixed[k]), types(k)) << std::hex << fixed[k];
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_FIX4K_C0000, 0x0700000000000000ull)) << "UC- in the top byte";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_FIX16K_A0000, 0x0000000000000300ull)) << "reserved type 3";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_FIX64K_00000, 0x0000000000000008ull)) << "type 8";
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_FIX4K_C0000), types(3)) << "a faulting WRMSR changes nothing";
  EXPECT_FALSE(wrmsr(0x251, 0)) << "no MTRR between the 64K and 16K ranges";
  EXPECT_TRUE(rdmsr_faults(0x260));
}

// SDM 11.11.2.3: PHYSBASE type and address, PHYSMASK valid bit and mask;
// reserved low bits and bits at or above MAXPHYADDR (46) raise #GP.
TEST_F(SimMsr, VariableRangeMtrrsCheckTypeReservedBitsAndMaxPhyAddr) {
  const uint64_t base = 0x0000200080000000ull | 6, mask = 0x00003fff80000000ull | msr::MTRR_PHYSMASK_VALID;
  ASSERT_TRUE(wrmsr(msr::IA32_MTRR_PHYSBASE7, base));
  ASSERT_TRUE(wrmsr(msr::IA32_MTRR_PHYSMASK7, mask));
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_PHYSBASE7), base);
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_PHYSMASK7), mask);
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_PHYSMASK0), 0u) << "invalid at reset";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSBASE0, (1ull << 46) | 6)) << "bit 46 is above MAXPHYADDR";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSBASE0, 0x80000000ull | 0x100 | 6)) << "reserved bit 8";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSBASE0, 0x80000000ull | 7)) << "UC- is not an MTRR type";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSMASK0, mask | 1)) << "reserved bit 0";
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSMASK0, mask | (1ull << 63))) << "bit 63 is above MAXPHYADDR";
  EXPECT_EQ(rdmsr(msr::IA32_MTRR_PHYSMASK0), 0u);
  EXPECT_FALSE(wrmsr(msr::IA32_MTRR_PHYSBASE7 + 2, base)) << "VCNT is 8: no ninth pair";
  EXPECT_TRUE(rdmsr_faults(msr::IA32_MTRR_PHYSMASK7 + 2));
}

// ========================================================== IA32_TSC_ADJUST

// SDM 17.17.3: a WRMSR to IA32_TSC adds the same delta to IA32_TSC_ADJUST.
TEST_F(SimMsr, TscWriteMovesTscAdjustByTheSameDelta) {
  EXPECT_TRUE(cpuid(7).ebx & cpuid::L7_EBX_TSC_ADJUST);
  EXPECT_EQ(rdmsr(msr::IA32_TSC_ADJUST), 0u) << "0 at reset";
  const uint64_t target = 1ull << 40;
  const uint64_t before = rdtsc();
  ASSERT_TRUE(wrmsr(msr::IA32_TIME_STAMP_COUNTER, target));
  const uint64_t adjust = rdmsr(msr::IA32_TSC_ADJUST);
  // The TSC was `before` plus a few modeled cycles when the write set it to `target`.
  EXPECT_LE(adjust, target - before);
  EXPECT_GT(adjust, target - before - 10000);
  EXPECT_EQ(adjust, m.s().tsc_offset) << "both moved by the same delta from 0";
  const uint64_t after = rdtsc();
  EXPECT_GE(after, target);
  EXPECT_LT(after, target + 10000);
}

// SDM 17.17.3: a WRMSR to IA32_TSC_ADJUST adds its delta to the TSC; all 64
// bits are writable (a negative adjustment moves the TSC back).
TEST_F(SimMsr, TscAdjustWriteMovesTheTsc) {
  const uint64_t before = rdtsc();
  const uint64_t forward = 1ull << 36;
  ASSERT_TRUE(wrmsr(msr::IA32_TSC_ADJUST, forward));
  EXPECT_EQ(rdmsr(msr::IA32_TSC_ADJUST), forward);
  const uint64_t after = rdtsc();
  EXPECT_GE(after - before, forward);
  EXPECT_LT(after - before, forward + 10000);
  ASSERT_TRUE(wrmsr(msr::IA32_TSC_ADJUST, 0));
  const uint64_t back = rdtsc();
  EXPECT_LT(back, after) << "the TSC went back by 2^36";
  EXPECT_GE(back, before);
  EXPECT_EQ(m.s().tsc_offset, 0u) << "TSC = cycles again";
}

// TSC_ADJUST is a CPL-0 MSR like every other (SDM vol. 2, WRMSR).
TEST_F(SimMsr, TscAdjustAtCpl3RaisesGp) {
  const uint64_t user = L::CODE + 0x1000;  // the user code page of sim_system_test.cpp
  Asm u(user);
  u.mov_imm32(rCX, msr::IA32_TSC_ADJUST).mov_imm32(rAX, 1).mov_imm32(rDX, 0).wrmsr().hlt();
  m.load_code(u);
  Asm a = code();
  a.push_imm32(sel::UDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(int32_t(arch::rflags::FIXED1));
  a.push_imm32(sel::UCODE64).push_imm32(int32_t(user)).iretq();
  EXPECT_FALSE(run(a));
  EXPECT_EQ(m.stack64(1), user + 15) << "the WRMSR faulted";
  EXPECT_EQ(m.s().tsc_adjust, 0u);
}

// Under VMX TSC offsetting the offset applies to the guest's reads of the
// TSC only (SDM 25.3: RDMSR of 10H, RDTSC): IA32_TSC_ADJUST reads the
// processor's value, and a guest WRMSR to it moves the processor's TSC,
// leaving the VMCS offset alone.
TEST_F(SimMsr, TscAdjustUnderVmxTscOffsetting) {
  using F = arch::vmx::VmcsField;
  namespace pc = arch::vmx::proc_ctl;
  constexpr uint64_t kOffset = 1ull << 40, kBitmap = 0x502000;
  enable_vmx(m);
  sim::vmx::Vmcs& v = prepare_vmcs(m);
  v.write(F::CPU_BASED_VM_EXEC_CONTROL, v.read(F::CPU_BASED_VM_EXEC_CONTROL) | pc::USE_TSC_OFFSETTING | pc::USE_MSR_BITMAPS);
  v.write(F::TSC_OFFSET, kOffset);
  v.write(F::MSR_BITMAP, kBitmap);  // all zeros: no MSR exits
  Asm g(vmx_layout::GUEST_CODE);
  g.mov_imm32(rCX, msr::IA32_TSC_ADJUST).rdmsr().mov_rr(rBX, rAX).mov_rr(rSI, rDX);
  g.mov_imm32(rCX, msr::IA32_TIME_STAMP_COUNTER).rdmsr().mov_rr(rDI, rDX);
  g.mov_imm32(rCX, msr::IA32_TSC_ADJUST).mov_imm32(rAX, 5).mov_imm32(rDX, 0).wrmsr();
  g.raw({0x0f, 0xa2});  // CPUID: an exit to the host, which halts
  m.load_code(g);
  Asm a = code();
  a.raw({0x0f, 0x01, 0xc2});  // VMLAUNCH
  ASSERT_TRUE(run(a));
  ASSERT_EQ(m.rip(), vmx_layout::HOST_EXIT + 1) << "the host did not get the CPUID exit";
  EXPECT_EQ(m.reg(rBX) | m.reg(rSI), 0u) << "IA32_TSC_ADJUST carries no VMCS offset";
  EXPECT_GE(m.reg(rDI), kOffset >> 32) << "RDMSR of the TSC does";
  EXPECT_EQ(m.s().tsc_adjust, 5u);
  EXPECT_EQ(m.s().tsc_offset, 5u) << "the processor's TSC moved by the guest's delta";
  EXPECT_EQ(v.read(F::TSC_OFFSET), kOffset);
}

// ========================================================= IA32_MISC_ENABLE

// Table 2-2: fast strings and automatic thermal control read/write, BTS and
// PEBS unavailable read 1; every other bit is reserved here.
TEST_F(SimMsr, MiscEnableArchitecturalBits) {
  const uint64_t ro = msr::MISC_ENABLE_BTS_UNAVAILABLE | msr::MISC_ENABLE_PEBS_UNAVAILABLE;
  EXPECT_EQ(rdmsr(msr::IA32_MISC_ENABLE),
            msr::MISC_ENABLE_FAST_STRINGS | msr::MISC_ENABLE_AUTO_THERMAL_CONTROL | ro);
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, 0));
  EXPECT_EQ(rdmsr(msr::IA32_MISC_ENABLE), ro) << "BTS/PEBS unavailable are read-only 1";
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, msr::MISC_ENABLE_AUTO_THERMAL_CONTROL | ro));
  EXPECT_EQ(rdmsr(msr::IA32_MISC_ENABLE), msr::MISC_ENABLE_AUTO_THERMAL_CONTROL | ro);
  EXPECT_FALSE(wrmsr(msr::IA32_MISC_ENABLE, 1ull << 16)) << "EIST: CPUID does not report it";
  EXPECT_FALSE(wrmsr(msr::IA32_MISC_ENABLE, 1ull << 18)) << "MONITOR: CPUID does not report it";
  EXPECT_FALSE(wrmsr(msr::IA32_MISC_ENABLE, 1ull << 7)) << "performance monitoring: not available";
  EXPECT_FALSE(wrmsr(msr::IA32_MISC_ENABLE, 1ull << 35));
  EXPECT_EQ(rdmsr(msr::IA32_MISC_ENABLE), msr::MISC_ENABLE_AUTO_THERMAL_CONTROL | ro);
}

// Bit 22: CPUID.0 reports 2 and leaves 3..0DH read as leaves above the
// maximum (zeros in this sim); extended leaves are unaffected.
TEST_F(SimMsr, MiscEnableLimitCpuidMaxval) {
  const uint64_t misc = rdmsr(msr::IA32_MISC_ENABLE);
  EXPECT_EQ(cpuid(0).eax, 0xdu);
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, misc | msr::MISC_ENABLE_LIMIT_CPUID));
  const Cpuid l0 = cpuid(0);
  EXPECT_EQ(l0.eax, 2u);
  EXPECT_EQ(l0.ebx, 0x756e6547u) << "the vendor string stays";
  EXPECT_TRUE(cpuid(1).edx & cpuid::L1_EDX_MTRR) << "leaf 1 is within the limit";
  const Cpuid l7 = cpuid(7);
  EXPECT_EQ(l7.eax | l7.ebx | l7.ecx | l7.edx, 0u) << "leaf 7 is above the limit";
  EXPECT_EQ(cpuid(0xd).eax, 0u) << "leaf 0DH is above the limit";
  EXPECT_EQ(cpuid(0x80000000).eax, 0x80000008u);
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, misc));
  EXPECT_EQ(cpuid(0).eax, 0xdu);
  EXPECT_TRUE(cpuid(7).ebx & cpuid::L7_EBX_TSC_ADJUST);
}

// Bit 34: CPUID.80000001H:EDX.NX reads 0 and EFER.NXE cannot be set.
TEST_F(SimMsr, MiscEnableXdDisable) {
  namespace efer = arch::efer;
  const uint64_t misc = rdmsr(msr::IA32_MISC_ENABLE);
  EXPECT_TRUE(cpuid(0x80000001).edx & cpuid::X1_EDX_NX);
  const uint64_t efer_value = rdmsr(msr::IA32_EFER) & ~efer::NXE;
  ASSERT_TRUE(wrmsr(msr::IA32_EFER, efer_value));
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, misc | msr::MISC_ENABLE_XD_DISABLE));
  EXPECT_EQ(rdmsr(msr::IA32_MISC_ENABLE), misc | msr::MISC_ENABLE_XD_DISABLE);
  EXPECT_FALSE(cpuid(0x80000001).edx & cpuid::X1_EDX_NX);
  EXPECT_TRUE(cpuid(0x80000001).edx & cpuid::X1_EDX_LM) << "only NX goes";
  EXPECT_FALSE(wrmsr(msr::IA32_EFER, efer_value | efer::NXE)) << "NXE is reserved while XD is disabled";
  EXPECT_FALSE(m.s().efer & efer::NXE);
  ASSERT_TRUE(wrmsr(msr::IA32_MISC_ENABLE, misc));
  EXPECT_TRUE(cpuid(0x80000001).edx & cpuid::X1_EDX_NX);
  EXPECT_TRUE(wrmsr(msr::IA32_EFER, efer_value | efer::NXE));
}

// Unknown MSRs keep raising #GP, both ways.
TEST_F(SimMsr, UnknownMsrsRaiseGp) {
  EXPECT_TRUE(rdmsr_faults(0x1a1));
  EXPECT_FALSE(wrmsr(0x1a1, 0));
  EXPECT_TRUE(rdmsr_faults(msr::IA32_SPEC_CTRL)) << "CPUID.7:EDX does not report it";
  EXPECT_TRUE(rdmsr_faults(msr::IA32_PERF_GLOBAL_CTRL)) << "no CPUID leaf 0AH";
}

// ========================================================= IA32_APIC_BASE

// SDM 11.4.3: clearing IA32_APIC_BASE.EN clears CPUID.01H:EDX.APIC; the
// mode transitions of SDM 11.12.5 raise #GP where figure 11-27 forbids them.
TEST_F(SimMsr, ApicBaseEnableAndModeTransitions) {
  const uint64_t base = rdmsr(msr::IA32_APIC_BASE) & ~(msr::APIC_BASE_EN | msr::APIC_BASE_EXTD);
  const uint64_t en = msr::APIC_BASE_EN, extd = msr::APIC_BASE_EXTD;
  EXPECT_TRUE(cpuid(1).edx & cpuid::L1_EDX_APIC);
  EXPECT_TRUE(rdmsr_faults(msr::IA32_X2APIC_VERSION)) << "xAPIC mode";
  ASSERT_TRUE(wrmsr(msr::IA32_APIC_BASE, base | en | extd));
  EXPECT_EQ(rdmsr(msr::IA32_X2APIC_VERSION), 0x50014u);
  EXPECT_FALSE(wrmsr(msr::IA32_APIC_BASE, base | en)) << "x2APIC -> xAPIC";
  ASSERT_TRUE(wrmsr(msr::IA32_APIC_BASE, base));
  EXPECT_FALSE(cpuid(1).edx & cpuid::L1_EDX_APIC) << "globally disabled";
  EXPECT_TRUE(rdmsr_faults(msr::IA32_X2APIC_VERSION));
  EXPECT_FALSE(wrmsr(msr::IA32_APIC_BASE, base | en | extd)) << "disabled -> x2APIC";
  EXPECT_FALSE(wrmsr(msr::IA32_APIC_BASE, base | extd)) << "EXTD without EN";
  EXPECT_FALSE(wrmsr(msr::IA32_APIC_BASE, base | en | (1u << 9))) << "reserved bit 9";
  ASSERT_TRUE(wrmsr(msr::IA32_APIC_BASE, base | en));
  EXPECT_TRUE(cpuid(1).edx & cpuid::L1_EDX_APIC);
  EXPECT_EQ(m.cpu.phys_read(arch::apic::DEFAULT_BASE + arch::apic::SVR, 4), 0xffu) << "re-enabled in the power-up state";
}

}  // namespace
}  // namespace nestbed::testing
