// VMX in the sim CPU, end to end at the instruction level: a host at CPL 0
// in 64-bit mode launches a 64-bit guest and handles its exits. Each test
// checks the architectural outcome against the SDM (chapters 25-30):
// exit reasons, qualifications, exit-information fields, VMfail codes.
#include <gtest/gtest.h>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "l0/sim/vmx/vmx.h"
#include "tests/support/sim_harness.h"
#include "tests/support/sim_vmx_setup.h"

namespace nestbed {
namespace {

using namespace nestbed::testing;

using arch::vmx::ExitReason;
using arch::vmx::VmcsField;
using F = VmcsField;
namespace ar = arch::seg::ar;

using namespace vmx_layout;
class SimVmxTest : public ::testing::Test {
 protected:
  SimMachine m;
  sim::Cpu& cpu() { return m.cpu; }
  sim::vmx::Vmx& vmx() { return m.cpu.vmx(); }

  void SetUp() override { enable_vmx(m); }

  uint64_t flags_status() const { return m.cpu.state().rflags & arch::rflags::STATUS; }

  sim::vmx::Vmcs& prepare() { return prepare_vmcs(m); }

  // Runs `vmlaunch` (or vmresume) at CODE until the host halts.
  void launch(bool resume = false) {
    m.load_code(sim_layout::CODE, {0x0f, 0x01, uint8_t(resume ? 0xc3 : 0xc2), 0xf4});
    run_at(sim_layout::CODE);
  }
  // Runs from `rip` until the CPU halts (a halted CPU is woken first).
  void run_at(uint64_t rip) {
    m.rip() = rip;
    m.cpu.set_halted(false);
    m.run(100000);
  }
  uint64_t field(F f) { return vmx().current()->read(f); }
};

TEST_F(SimVmxTest, CpuidReportsVmx) {
  m.load_code(sim_layout::CODE, {0xb8, 1, 0, 0, 0, 0x0f, 0xa2, 0xf4});  // mov eax,1; cpuid; hlt
  m.run();
  EXPECT_TRUE(m.reg(sim::RCX) & arch::cpuid::L1_ECX_VMX);
}

TEST_F(SimVmxTest, VmxonNeedsCr4Vmxe) {
  m.s().cr4 &= ~arch::cr4::VMXE;
  m.reg(sim::RAX) = VMXON_REGION;
  m.load_code(sim_layout::CODE, {0xf3, 0x0f, 0xc7, 0x30, 0xf4});  // vmxon [rax]; hlt
  m.run();
  EXPECT_EQ(m.stub_vector(), 6);  // #UD (SDM 30.3 VMXON)
}

TEST_F(SimVmxTest, VmxonInstructionSucceedsThenFailsInvalidTwice) {
  // VMXON m64: the operand holds the region's physical address.
  m.poke<uint64_t>(sim_layout::DATA, VMXON_REGION);
  m.reg(sim::RAX) = sim_layout::DATA;
  m.load_code(sim_layout::CODE, {0xf3, 0x0f, 0xc7, 0x30, 0xf4});
  m.run();
  EXPECT_EQ(m.stub_vector(), -1);
  EXPECT_TRUE(vmx().in_vmx_operation());
  EXPECT_EQ(flags_status(), 0u);  // VMsucceed
  run_at(sim_layout::CODE);
  EXPECT_EQ(flags_status(), arch::rflags::CF);  // no current VMCS: VMfailInvalid (error 15 needs one)
}

TEST_F(SimVmxTest, VmptrldRejectsVmxonPointerAndBadRevision) {
  vmx().vmxon(VMXON_REGION);
  vmx().vmptrld(VMCS_REGION);
  EXPECT_EQ(flags_status(), 0u);
  vmx().vmptrld(VMXON_REGION);
  EXPECT_EQ(flags_status(), arch::rflags::ZF);
  EXPECT_EQ(field(F::VM_INSTRUCTION_ERROR), 10u);
  m.poke<uint32_t>(0x502000, 0x1234);
  vmx().vmptrld(0x502000);
  EXPECT_EQ(field(F::VM_INSTRUCTION_ERROR), 11u);
}

TEST_F(SimVmxTest, VmreadVmwriteRoundTripAndUnsupportedField) {
  prepare();
  // vmwrite rdx(field), rcx(value); vmread rbx(dest), rdx(field); hlt
  m.reg(sim::RDX) = uint64_t(F::GUEST_RSP);
  m.reg(sim::RCX) = 0x123456789abcdef0ull;
  m.load_code(sim_layout::CODE, {0x0f, 0x79, 0xd1, 0x0f, 0x78, 0xd3, 0xf4});
  run_at(sim_layout::CODE);
  EXPECT_EQ(m.reg(sim::RBX), 0x123456789abcdef0ull);
  EXPECT_EQ(flags_status(), 0u);
  m.reg(sim::RDX) = 0x7ffe;  // no such field
  run_at(sim_layout::CODE + 3);
  EXPECT_EQ(flags_status(), arch::rflags::ZF);
  EXPECT_EQ(field(F::VM_INSTRUCTION_ERROR), 12u);
}

TEST_F(SimVmxTest, LaunchRunsGuestAndCpuidExits) {
  prepare();
  m.load_code(GUEST_CODE, {0x0f, 0xa2, 0xf4});  // cpuid; hlt
  launch();
  ASSERT_EQ(m.rip(), HOST_EXIT + 1) << "host did not get the exit";
  EXPECT_FALSE(cpu().non_root());
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::CPUID));
  EXPECT_EQ(field(F::VM_EXIT_INSTRUCTION_LEN), 2u);
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE);
  EXPECT_EQ(m.reg(sim::RSP), sim_layout::STACK_TOP);
  // VMLAUNCH again on a launched VMCS: VMfailValid(4).
  launch();
  EXPECT_EQ(field(F::VM_INSTRUCTION_ERROR), 4u);
}

TEST_F(SimVmxTest, ResumeContinuesAfterHandledExit) {
  sim::vmx::Vmcs& v = prepare();
  v.write(F::CPU_BASED_VM_EXEC_CONTROL, v.read(F::CPU_BASED_VM_EXEC_CONTROL) | arch::vmx::proc_ctl::HLT_EXITING);
  m.load_code(GUEST_CODE, {0x0f, 0xa2, 0xf4});  // cpuid; hlt
  launch();
  ASSERT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::CPUID));
  v.write(F::GUEST_RIP, field(F::GUEST_RIP) + field(F::VM_EXIT_INSTRUCTION_LEN));  // skip CPUID, as a VMM does
  launch(true);
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::HLT));
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE + 2);
}

TEST_F(SimVmxTest, InvalidHostStateFailsWithError8) {
  sim::vmx::Vmcs& v = prepare();
  v.write(F::HOST_CR4, v.read(F::HOST_CR4) & ~arch::cr4::VMXE);  // CR4.VMXE is fixed to 1
  launch();
  EXPECT_EQ(flags_status(), arch::rflags::ZF);
  EXPECT_EQ(field(F::VM_INSTRUCTION_ERROR), 8u);
  EXPECT_FALSE(cpu().non_root());
}

TEST_F(SimVmxTest, InvalidGuestStateIsAnEntryFailureExit) {
  sim::vmx::Vmcs& v = prepare();
  v.write(F::GUEST_RFLAGS, 0);  // bit 1 must be 1 (SDM 26.3.1.4)
  launch();
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::INVALID_GUEST_STATE) | (1u << 31));
  EXPECT_EQ(m.rip(), HOST_EXIT + 1);
}

TEST_F(SimVmxTest, IoExitByBitmapReportsPortAndSize) {
  sim::vmx::Vmcs& v = prepare();
  constexpr uint64_t bitmap_a = 0x510000, bitmap_b = 0x511000;
  v.write(F::CPU_BASED_VM_EXEC_CONTROL, v.read(F::CPU_BASED_VM_EXEC_CONTROL) | arch::vmx::proc_ctl::USE_IO_BITMAPS);
  v.write(F::IO_BITMAP_A, bitmap_a);
  v.write(F::IO_BITMAP_B, bitmap_b);
  m.poke<uint8_t>(bitmap_a + 0x80 / 8, 1);  // port 0x80 exits
  m.load_code(GUEST_CODE, {0xe6, 0x81, 0xe6, 0x80, 0xf4});  // out 0x81,al (passes); out 0x80,al (exits)
  launch();
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::IO_INSTRUCTION));
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE + 2);
  namespace q = arch::vmx::qual_io;
  const uint64_t qual = field(F::EXIT_QUALIFICATION);
  EXPECT_EQ(q::PORT.get(qual), 0x80u);
  EXPECT_EQ(q::SIZE.get(qual), 0u);
  EXPECT_EQ(q::DIRECTION.get(qual), q::OUT);
  EXPECT_EQ(q::OPERAND_ENCODING.get(qual), q::PORT_IMMEDIATE);
}

TEST_F(SimVmxTest, ExceptionBitmapTurnsUd2IntoExit) {
  sim::vmx::Vmcs& v = prepare();
  v.write(F::EXCEPTION_BITMAP, 1u << 6);
  m.load_code(GUEST_CODE, {0x0f, 0x0b});  // ud2
  launch();
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::EXCEPTION_NMI));
  namespace ii = arch::vmx::intr_info;
  const uint64_t info = field(F::VM_EXIT_INTR_INFO);
  EXPECT_EQ(ii::VECTOR.get(info), 6u);
  EXPECT_EQ(ii::TYPE.get(info), ii::TYPE_HARDWARE_EXCEPTION);
  EXPECT_TRUE(ii::VALID.test(info));
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE);
}

TEST_F(SimVmxTest, EptViolationReportsAccessAndAddress) {
  sim::vmx::Vmcs& v = prepare();
  // EPT: identity-map the first 4 MiB with 2 MiB pages (RWX), nothing else.
  m.poke<uint64_t>(EPT_ROOT, (EPT_ROOT + 0x1000) | 7);
  m.poke<uint64_t>(EPT_ROOT + 0x1000, (EPT_ROOT + 0x2000) | 7);
  m.poke<uint64_t>(EPT_ROOT + 0x2000, 0x000000 | 7 | (6 << 3) | (1 << 7));
  m.poke<uint64_t>(EPT_ROOT + 0x2008, 0x200000 | 7 | (6 << 3) | (1 << 7));
  v.write(F::CPU_BASED_VM_EXEC_CONTROL,
          v.read(F::CPU_BASED_VM_EXEC_CONTROL) | arch::vmx::proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
  v.write(F::SECONDARY_VM_EXEC_CONTROL, arch::vmx::proc_ctl2::ENABLE_EPT);
  v.write(F::EPT_POINTER, EPT_ROOT | 6 | (3 << 3));
  // The guest writes to 8 MiB, which EPT does not map. VM entry does not
  // load RAX, so the host's RAX is the guest's.
  m.load_code(GUEST_CODE, {0xc6, 0x00, 0x42});  // mov byte [rax], 0x42
  m.reg(sim::RAX) = 0x800000;
  launch();
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::EPT_VIOLATION));
  namespace q = arch::vmx::qual_ept_violation;
  const uint64_t qual = field(F::EXIT_QUALIFICATION);
  EXPECT_TRUE(q::WRITE.test(qual));
  EXPECT_FALSE(q::READ.test(qual));
  EXPECT_FALSE(q::READABLE.test(qual) || q::WRITABLE.test(qual) || q::EXECUTABLE.test(qual));
  EXPECT_TRUE(q::GLA_VALID.test(qual));
  EXPECT_TRUE(q::GLA_TRANSLATED.test(qual));
  EXPECT_EQ(field(F::GUEST_PHYSICAL_ADDRESS), 0x800000u);
  EXPECT_EQ(field(F::GUEST_LINEAR_ADDRESS), 0x800000u);
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE);
  EXPECT_EQ(m.peek<uint8_t>(0x800000), 0u);  // nothing was written
}

// The TLB may serve a write without walking only if EPT lets it write: a
// read through a guest PTE whose D flag is already 1 must not open a
// read-only EPT page to a later write (SDM 28.2.3.2; 28.3.3: translations
// cached for reads carry EPT's permissions), nor skip setting its EPT dirty
// flag (SDM 28.2.4).
TEST_F(SimVmxTest, EptWritePermissionAndDirtyFlagHoldAfterARead) {
  sim::vmx::Vmcs& v = prepare();
  constexpr uint64_t WB = 6 << 3, LARGE = 1 << 7, EPT_AD = 1 << 6;
  m.poke<uint64_t>(EPT_ROOT, (EPT_ROOT + 0x1000) | 7);
  m.poke<uint64_t>(EPT_ROOT + 0x1000, (EPT_ROOT + 0x2000) | 7);
  m.poke<uint64_t>(EPT_ROOT + 0x2000, 0x000000 | 7 | WB | LARGE);
  m.poke<uint64_t>(EPT_ROOT + 0x2008, 0x200000 | 7 | WB | LARGE);
  m.poke<uint64_t>(EPT_ROOT + 0x2010, 0x400000 | 1 | WB | LARGE);  // read-only
  v.write(F::CPU_BASED_VM_EXEC_CONTROL,
          v.read(F::CPU_BASED_VM_EXEC_CONTROL) | arch::vmx::proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
  v.write(F::SECONDARY_VM_EXEC_CONTROL, arch::vmx::proc_ctl2::ENABLE_EPT);
  v.write(F::EPT_POINTER, EPT_ROOT | 6 | (3 << 3) | EPT_AD);
  namespace pte = arch::pte;
  m.map(0x400000, 0x400000, pte::P | pte::RW | pte::US | pte::A | pte::D, 2);
  // mov rbx, [rax]; mov [rax], rbx; cpuid
  m.load_code(GUEST_CODE, {0x48, 0x8b, 0x18, 0x48, 0x89, 0x18, 0x0f, 0xa2});
  m.reg(sim::RAX) = 0x400100;
  launch();
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::EPT_VIOLATION));
  EXPECT_EQ(field(F::GUEST_RIP), GUEST_CODE + 3);
  EXPECT_TRUE(arch::vmx::qual_ept_violation::WRITE.test(field(F::EXIT_QUALIFICATION)));

  // Writable now: the write walks EPT and sets the leaf's dirty flag.
  constexpr uint64_t EPT_D = 1 << 9;
  m.poke<uint64_t>(EPT_ROOT + 0x2010, 0x400000 | 3 | WB | LARGE);
  m.load_code(GUEST_CODE + 0x10, {0x48, 0x8b, 0x18, 0x48, 0x89, 0x18, 0x0f, 0xa2});
  v.write(F::GUEST_RIP, GUEST_CODE + 0x10);
  launch(true);
  EXPECT_EQ(field(F::VM_EXIT_REASON), uint32_t(ExitReason::CPUID));
  EXPECT_TRUE(m.peek<uint64_t>(EPT_ROOT + 0x2010) & EPT_D) << "EPT dirty flag after the guest's write";
}

}  // namespace
}  // namespace nestbed

namespace nestbed {
namespace {

using namespace nestbed::testing;

// VMWRITE then VMREAD of every field of SDM appendix B: all-ones comes back
// masked to the field's width; a 64-bit field's HIGH encoding reads and
// writes its upper half (SDM 24.11.2).
TEST(SimVmxFields, WriteReadRoundTripOverEveryFieldWithWidthMask) {
  SimMachine m;
  enable_vmx(m);
  sim::vmx::Vmx& vmx = m.cpu.vmx();
  vmx.vmxon(vmx_layout::VMXON_REGION);
  vmx.vmptrld(vmx_layout::VMCS_REGION);
  const uint64_t status = arch::rflags::STATUS;
  for (const arch::vmx::VmcsFieldInfo& f : arch::vmx::kVmcsFields) {
    SCOPED_TRACE(f.name);
    const uint64_t mask = arch::vmx::width_mask(f.width);
    vmx.vmwrite(f.encoding, ~0ull);
    ASSERT_EQ(m.s().rflags & status, 0u);
    uint64_t v = 0;
    ASSERT_TRUE(vmx.vmread(f.encoding, v));
    EXPECT_EQ(v, mask);
    vmx.vmwrite(f.encoding, 0x0123456789abcdefull);
    ASSERT_TRUE(vmx.vmread(f.encoding, v));
    EXPECT_EQ(v, 0x0123456789abcdefull & mask);
    if (f.width == arch::vmx::VmcsWidth::BITS64) {
      ASSERT_TRUE(vmx.vmread(f.encoding | 1, v));
      EXPECT_EQ(v, 0x01234567u);
      vmx.vmwrite(f.encoding | 1, 0xfeedface);
      ASSERT_TRUE(vmx.vmread(f.encoding, v));
      EXPECT_EQ(v, 0xfeedface89abcdefull);
    }
  }
  // An encoding no field has: VMfailValid(12).
  uint64_t v;
  EXPECT_FALSE(vmx.vmread(0x7ffe, v));
  EXPECT_EQ(m.s().rflags & status, arch::rflags::ZF);
}

}  // namespace
}  // namespace nestbed
