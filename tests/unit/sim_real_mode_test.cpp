// Real-address mode (issue 14 item 5; SDM vol. 3 chapter 20.1, 9.9; vol. 2
// each instruction's "Real-Address Mode" operation and exceptions): 16-bit
// code and addressing, segment loads as selector << 4, the IVT, exceptions
// without error codes, limit faults, the instructions not recognized in
// real mode, and the transitions to protected mode and back.
//
// The programs are 16-bit code assembled with GNU as (`.code16`); the
// comments give each instruction. No differential test: the host cannot run
// 16-bit code under Linux (vm86 exists only for 32-bit kernels).
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/sim_harness.h"

namespace nestbed::testing {
namespace {

namespace L = sim_layout;
using sim::CpuMode;
using sim::CpuStop;

constexpr unsigned rAX = 0, rCX = 1, rDX = 2, rBX = 3, rSP = 4, rBP = 5, rSI = 6, rDI = 7;
constexpr uint8_t DE = 0, UD = 6, SS = 12, GP = 13;

class SimRealMode : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { m.setup_real_mode(); }
  CpuStop run(const std::vector<uint8_t>& code, uint64_t at = L::REAL_CODE) {
    m.load_code(at, code);
    return m.run(1000);
  }
  uint16_t stack16(unsigned slot) { return m.peek<uint16_t>(m.s().seg[arch::seg::SS].base + uint16_t(m.reg(rSP) + 2 * slot)); }
  // Halted in `vector`'s stub with a real-mode frame and no error code:
  // SP three words below its start, IP = `ip` and CS = 0 in the frame.
  void expect_exception(CpuStop stop, uint8_t vector, uint16_t ip) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "ip 0x" << std::hex << m.rip();
    EXPECT_EQ(m.reg(rSP), L::REAL_STACK_TOP - 6) << "IP, CS, FLAGS and no error code";
    EXPECT_EQ(stack16(0), ip);
    EXPECT_EQ(stack16(1), 0);
    EXPECT_EQ(m.s().rflags & arch::rflags::IF, 0u);
  }
};

TEST_F(SimRealMode, SixteenBitArithmeticAndAddressing) {
  EXPECT_EQ(m.cpu.mode(), CpuMode::Bits16);
  const CpuStop stop = run({
      0xb8, 0x00, 0x20,                    // mov $0x2000,%ax
      0x8e, 0xd8,                          // mov %ax,%ds
      0xbb, 0x10, 0x00,                    // mov $0x10,%bx
      0xbe, 0x04, 0x00,                    // mov $0x4,%si
      0xc7, 0x40, 0x02, 0x34, 0x12,        // movw $0x1234,0x2(%bx,%si)
      0x81, 0x40, 0x02, 0x11, 0x11,        // addw $0x1111,0x2(%bx,%si)
      0x8b, 0x48, 0x02,                    // mov 0x2(%bx,%si),%cx
      0xb8, 0x00, 0x30,                    // mov $0x3000,%ax
      0x8e, 0xc0,                          // mov %ax,%es
      0xbf, 0x06, 0x00,                    // mov $0x6,%di
      0x26, 0xc7, 0x05, 0xef, 0xbe,        // movw $0xbeef,%es:(%di)
      0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,  // mov $0x12345678,%eax
      0x26, 0x8b, 0x15,                    // mov %es:(%di),%dx
      0xf4,                                // hlt
  });
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.s().seg[arch::seg::DS].base, 0x20000u);
  EXPECT_EQ(m.s().seg[arch::seg::ES].base, 0x30000u);
  EXPECT_EQ(m.peek<uint16_t>(0x20016), 0x2345);
  EXPECT_EQ(m.reg(rCX), 0x2345u);
  EXPECT_EQ(m.peek<uint16_t>(0x30006), 0xbeef);
  EXPECT_EQ(m.reg(rDX), 0xbeefu);
  EXPECT_EQ(m.reg(rAX), 0x12345678u) << "66h: a 32-bit operand";
  EXPECT_EQ(m.rip(), L::REAL_CODE + 0x2f);
}

// INT n through the IVT (SDM 20.1.4): FLAGS, CS, IP pushed, IF cleared, CS
// loaded as segment << 4; IRET restores them. A far CALL and RETF too.
TEST_F(SimRealMode, IntThroughIvtAndIret) {
  m.set_ivt(0x40, 0x0500, 0x1000);  // linear 0x6000
  m.load_code(0x6000, {
                          0x9c,              // pushf
                          0x5b,              // pop %bx
                          0x89, 0xe5,        // mov %sp,%bp
                          0x8b, 0x76, 0x00,  // mov 0x0(%bp),%si
                          0x8b, 0x4e, 0x02,  // mov 0x2(%bp),%cx
                          0x8b, 0x56, 0x04,  // mov 0x4(%bp),%dx
                          0x40,              // inc %ax
                          0xcf,              // iret
                      });
  m.load_code(0x6100, {
                          0x8c, 0xcd,  // mov %cs,%bp
                          0xcb,        // lret
                      });
  const CpuStop stop = run({
      0xfb,                          // sti
      0xb8, 0x01, 0x00,              // mov $0x1,%ax
      0xcd, 0x40,                    // int $0x40
      0x9c,                          // pushf
      0x5f,                          // pop %di
      0x9a, 0x00, 0x11, 0x00, 0x05,  // lcall $0x500,$0x1100
      0xf4,                          // hlt
  });
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), L::REAL_CODE + 0xe);
  EXPECT_EQ(m.reg(rAX), 2u) << "the handler ran";
  EXPECT_EQ(m.reg(rBX) & arch::rflags::IF, 0u) << "IF cleared in the handler";
  EXPECT_EQ(m.reg(rSI), L::REAL_CODE + 6) << "IP after INT in the frame";
  EXPECT_EQ(m.reg(rCX), 0u) << "CS in the frame";
  EXPECT_NE(m.reg(rDX) & arch::rflags::IF, 0u) << "FLAGS with IF in the frame";
  EXPECT_NE(m.reg(rDI) & arch::rflags::IF, 0u) << "IRET restored IF";
  EXPECT_EQ(m.reg(rBP), 0x0500u) << "CS in the far-called routine";
  EXPECT_EQ(m.s().seg[arch::seg::CS].selector, 0);
  EXPECT_EQ(m.s().seg[arch::seg::CS].base, 0u);
  EXPECT_EQ(m.reg(rSP), L::REAL_STACK_TOP);
}

// #DE through the IVT: a fault (IP of the DIV), no error code.
TEST_F(SimRealMode, ExceptionThroughIvtHasNoErrorCode) {
  const CpuStop stop = run({
      0xb1, 0x00,        // mov $0x0,%cl
      0xb8, 0x05, 0x00,  // mov $0x5,%ax
      0xf6, 0xf1,        // div %cl
      0xf4,              // hlt
  });
  expect_exception(stop, DE, L::REAL_CODE + 5);
}

// Limits: a word at DS:FFFFH is #GP(0), at SS:FFFFH (BP-based) #SS(0),
// both delivered without an error code. A write through CS works (no type
// checks in real mode).
TEST_F(SimRealMode, LimitViolationsAreGpAndSs) {
  expect_exception(run({0xa1, 0xff, 0xff, 0xf4}), GP, L::REAL_CODE);  // mov 0xffff,%ax
  SetUp();
  expect_exception(run({
                       0xbd, 0xff, 0xff,  // mov $0xffff,%bp
                       0x8b, 0x46, 0x00,  // mov 0x0(%bp),%ax
                       0xf4,
                   }),
                   SS, L::REAL_CODE + 3);
  SetUp();
  const CpuStop stop = run({
      0xb8, 0x5a, 0xa5,              // mov $0xa55a,%ax
      0x2e, 0xa3, 0x00, 0x7e,        // mov %ax,%cs:0x7e00
      0xf4,
  });
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.peek<uint16_t>(0x7e00), 0xa55a);
}

// An IVT entry past IDTR.limit is #GP (SDM 20.1.4); when #GP's entry is
// past it too, #DF, and then shutdown.
TEST_F(SimRealMode, IvtLimit) {
  m.s().idtr.limit = 0xff;  // vectors 0-63
  expect_exception(run({0xcd, 0x40, 0xf4}), GP, L::REAL_CODE);  // int $0x40
  SetUp();
  m.s().idtr.limit = 0x7;  // vectors 0 and 1
  EXPECT_EQ(run({0xcd, 0x40, 0xf4}), CpuStop::TripleFault);
}

// LAR, LSL, VERR, VERW, LLDT, SLDT, LTR, STR and ARPL are not recognized in
// real-address mode (SDM vol. 2, each one's real-address mode exceptions).
TEST_F(SimRealMode, ProtectedModeOnlyInstructionsAreUd) {
  const std::vector<std::vector<uint8_t>> insns = {
      {0x0f, 0x02, 0xc3},  // lar %bx,%ax
      {0x0f, 0x03, 0xc3},  // lsl %bx,%ax
      {0x0f, 0x00, 0xe0},  // verr %ax
      {0x0f, 0x00, 0xe8},  // verw %ax
      {0x0f, 0x00, 0xd0},  // lldt %ax
      {0x0f, 0x00, 0xc0},  // sldt %ax
      {0x0f, 0x00, 0xd8},  // ltr %ax
      {0x0f, 0x00, 0xc8},  // str %ax
      {0x63, 0xd8},        // arpl %bx,%ax
  };
  for (const auto& insn : insns) {
    SetUp();
    std::vector<uint8_t> code = insn;
    code.push_back(0xf4);
    expect_exception(run(code), UD, L::REAL_CODE);
  }
}

// No CR4.VME: CPUID.01H:EDX.VME (bit 1) is 0, and CR4.VME cannot be set.
TEST_F(SimRealMode, NoVirtualModeExtensions) {
  const CpuStop stop = run({
      0x66, 0xb8, 0x01, 0x00, 0x00, 0x00,  // mov $0x1,%eax
      0x0f, 0xa2,                          // cpuid
      0x66, 0xbb, 0x01, 0x00, 0x00, 0x00,  // mov $0x1,%ebx (CR4.VME)
      0x0f, 0x22, 0xe3,                    // mov %ebx,%cr4: #GP
      0xf4,
  });
  EXPECT_EQ(m.reg(rDX) & 2, 0u);
  expect_exception(stop, GP, L::REAL_CODE + 14);
}

// MOV CR, RDMSR and LGDT run at CPL 0 in real mode.
TEST_F(SimRealMode, SystemInstructionsRunAtCpl0) {
  m.poke<uint16_t>(0x7b00, 0x27);
  m.poke<uint32_t>(0x7b02, 0x12340);
  const CpuStop stop = run({
      0x0f, 0x01, 0x16, 0x00, 0x7b,        // lgdtw 0x7b00
      0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00,  // mov $0x1b,%ecx (IA32_APIC_BASE)
      0x0f, 0x32,                          // rdmsr
      0x0f, 0x20, 0xc3,                    // mov %cr0,%ebx
      0xf4,
  });
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.s().gdtr.base, 0x12340u);
  EXPECT_EQ(m.s().gdtr.limit, 0x27);
  EXPECT_EQ(m.reg(rAX) & 0xfffff000u, 0xfee00000u);
  EXPECT_EQ(m.reg(rBX), arch::cr0::ET);
  EXPECT_EQ(m.s().cpl, 0);
}

// SDM 9.9.1 and 9.9.2: MOV CR0 sets PE and 16-bit code keeps running on
// the real-mode CS cache until a far JMP loads a 32-bit protected-mode CS;
// then back through a 16-bit code segment, PE cleared, and a far JMP that
// loads a real-mode CS. DS keeps its 4-GiB limit from protected mode
// ("unreal" mode) when reloaded in real mode, and the IVT works again.
TEST_F(SimRealMode, ToProtectedModeAndBack) {
  m.poke<uint16_t>(0x7b00, 5 * 8 - 1);  // the GDT pseudo-descriptor
  m.poke<uint32_t>(0x7b02, uint32_t(L::GDT));
  m.s().gdtr = {0, 0};
  m.set_ivt(0x40, 0x0500, 0x1000);
  m.load_code(0x6000, {0xbf, 0x55, 0x00, 0xcf});  // mov $0x55,%di; iret
  m.poke<uint32_t>(0x200000, 0xdeadbeef);
  m.load_code(L::REAL_CODE, {
                                0x0f, 0x01, 0x16, 0x00, 0x7b,  // 7c00 lgdtw 0x7b00
                                0x0f, 0x20, 0xc0,              // 7c05 mov %cr0,%eax
                                0x0c, 0x01,                    // 7c08 or $0x1,%al
                                0x0f, 0x22, 0xc0,              // 7c0a mov %eax,%cr0
                                0xbb, 0x34, 0x12,              // 7c0d mov $0x1234,%bx (16-bit code, PE = 1)
                                0xea, 0x15, 0x7c, 0x08, 0x00,  // 7c10 ljmp $0x8,$0x7c15
                                // 32-bit code
                                0x66, 0xb8, 0x10, 0x00,                    // 7c15 mov $0x10,%ax
                                0x8e, 0xd8,                                // 7c19 mov %eax,%ds
                                0x8e, 0xd0,                                // 7c1b mov %eax,%ss
                                0xbc, 0x00, 0x70, 0x00, 0x00,              // 7c1d mov $0x7000,%esp
                                0xb9, 0xef, 0xbe, 0xad, 0xde,              // 7c22 mov $0xdeadbeef,%ecx
                                0x89, 0x0d, 0x04, 0x00, 0x20, 0x00,        // 7c27 mov %ecx,0x200004
                                0xea, 0x34, 0x7c, 0x00, 0x00, 0x18, 0x00,  // 7c2d ljmp $0x18,$0x7c34
                                // 16-bit protected mode
                                0xb8, 0x20, 0x00,              // 7c34 mov $0x20,%ax
                                0x8e, 0xd0,                    // 7c37 mov %ax,%ss
                                0x0f, 0x20, 0xc0,              // 7c39 mov %cr0,%eax
                                0x24, 0xfe,                    // 7c3c and $0xfe,%al
                                0x0f, 0x22, 0xc0,              // 7c3e mov %eax,%cr0
                                0xea, 0x46, 0x7c, 0x00, 0x00,  // 7c41 ljmp $0x0,$0x7c46
                                // real mode
                                0x31, 0xc0,                          // 7c46 xor %ax,%ax
                                0x8e, 0xd0,                          // 7c48 mov %ax,%ss
                                0xb8, 0x00, 0x10,                    // 7c4a mov $0x1000,%ax
                                0x8e, 0xd8,                          // 7c4d mov %ax,%ds
                                0x66, 0xbe, 0x00, 0x00, 0x1f, 0x00,  // 7c4f mov $0x1f0000,%esi
                                0x67, 0x66, 0x8b, 0x16,              // 7c55 mov (%esi),%edx
                                0xcd, 0x40,                          // 7c59 int $0x40
                                0xf4,                                // 7c5b hlt
                            });
  // Up to the far JMP: protected mode with the real-mode CS.
  ASSERT_EQ(m.run(4), CpuStop::InstructionLimit);
  EXPECT_TRUE(m.s().cr0 & arch::cr0::PE);
  EXPECT_EQ(m.cpu.mode(), CpuMode::Bits16);
  ASSERT_EQ(m.run(2), CpuStop::InstructionLimit);
  EXPECT_EQ(m.reg(rBX), 0x1234u);
  EXPECT_EQ(m.cpu.mode(), CpuMode::Bits32);
  EXPECT_EQ(m.s().seg[arch::seg::CS].selector, sel::KCODE);
  EXPECT_EQ(m.rip(), 0x7c15u);

  const CpuStop stop = m.run(100);
  ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
  EXPECT_EQ(m.rip(), 0x7c5cu);
  EXPECT_FALSE(m.s().cr0 & arch::cr0::PE);
  EXPECT_EQ(m.cpu.mode(), CpuMode::Bits16);
  EXPECT_EQ(m.peek<uint32_t>(0x200004), 0xdeadbeefu) << "the 32-bit store";
  EXPECT_EQ(m.s().seg[arch::seg::CS].selector, 0);
  EXPECT_EQ(m.s().seg[arch::seg::CS].base, 0u);
  EXPECT_EQ(m.s().seg[arch::seg::CS].limit, 0xffffu);
  EXPECT_EQ(m.s().seg[arch::seg::DS].base, 0x10000u);
  EXPECT_EQ(m.s().seg[arch::seg::DS].limit, 0xffffffffu) << "the limit survives a real-mode load";
  EXPECT_EQ(m.reg(rDX), 0xdeadbeefu) << "read at DS:1F0000H";
  EXPECT_EQ(m.reg(rDI), 0x55u) << "INT through the IVT after the return";
  EXPECT_EQ(m.reg(rSP), L::REAL_STACK_TOP);
}

// ============================================================ virtual-8086 mode

// Virtual-8086 mode (SDM 20.2, 20.3; no CR4.VME): entered by a 32-bit IRET
// at CPL 0 whose EFLAGS image has VM = 1, left through a 32-bit gate to a
// DPL-0 handler. The harness's protected mode gives the TSS (SS0:ESP0 =
// KDATA:RSP0_TOP, no I/O permission bitmap) and the IDT (DPL-0 interrupt
// gates to the HLT stubs).
class SimV86 : public ::testing::Test {
 protected:
  SimMachine m;
  static constexpr uint16_t kDs = 0x2000, kEs = 0x3000, kFs = 0x4000, kGs = 0x5000;
  // Protected mode at CPL 0 about to IRETD into `code` at 0:REAL_CODE with
  // SP = REAL_STACK_TOP and the given IOPL.
  void prepare(const std::vector<uint8_t>& code, unsigned iopl) {
    m.setup_protected_mode();
    m.load_code(L::REAL_CODE, code);
    const uint32_t flags = uint32_t(arch::rflags::FIXED1 | arch::rflags::VM) | (iopl << arch::rflags::IOPL_SHIFT);
    const uint32_t frame[9] = {uint32_t(L::REAL_CODE), 0, flags, uint32_t(L::REAL_STACK_TOP), 0, kEs, kDs, kFs, kGs};
    const uint32_t sp = uint32_t(L::STACK_TOP - sizeof frame);
    for (unsigned k = 0; k < 9; ++k) m.poke<uint32_t>(sp + 4 * k, frame[k]);
    m.reg(rSP) = sp;
    m.load_code(L::CODE, {0xcf});  // iretd
    m.rip() = L::CODE;
  }
  // Halted in `vector`'s stub after an event from virtual-8086 mode: the
  // frame on the ESP0 stack is [error code,] EIP, CS, EFLAGS (VM = 1), ESP,
  // SS, ES, DS, FS, GS, and the data segment registers are null.
  void expect_from_v86(CpuStop stop, uint8_t vector, bool has_error, uint32_t error, uint16_t ip) {
    ASSERT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    ASSERT_EQ(m.stub_vector(), vector) << "eip 0x" << std::hex << m.rip();
    const unsigned e = has_error ? 1 : 0;
    EXPECT_EQ(m.reg(rSP), L::RSP0_TOP - 36 - 4 * e);
    if (has_error) {
      EXPECT_EQ(m.stack32(0), error) << "error code";
    }
    EXPECT_EQ(m.stack32(e + 0), ip) << "EIP";
    EXPECT_EQ(m.stack32(e + 1), 0u) << "CS";
    EXPECT_NE(m.stack32(e + 2) & arch::rflags::VM, 0u) << "EFLAGS.VM";
    EXPECT_EQ(m.stack32(e + 4), 0u) << "SS";
    EXPECT_EQ(m.stack32(e + 5), kEs);
    EXPECT_EQ(m.stack32(e + 6), kDs);
    EXPECT_EQ(m.stack32(e + 7), kFs);
    EXPECT_EQ(m.stack32(e + 8), kGs);
    for (unsigned i : {arch::seg::DS, arch::seg::ES, arch::seg::FS, arch::seg::GS})
      EXPECT_TRUE(m.s().seg[i].ar & arch::seg::ar::UNUSABLE) << "segment " << i;
    EXPECT_EQ(m.s().cpl, 0);
    EXPECT_EQ(m.s().rflags & arch::rflags::VM, 0u);
    EXPECT_EQ(m.cpu.mode(), CpuMode::Bits32);
  }
};

TEST_F(SimV86, EnteredByIretLeftThroughGate) {
  prepare({
              0xb8, 0x34, 0x12,  // mov $0x1234,%ax
              0xa3, 0x10, 0x00,  // mov %ax,0x10 (DS = 2000H)
              0xf4,              // hlt: #GP(0) at CPL 3
          },
          0);
  ASSERT_EQ(m.run(1), CpuStop::InstructionLimit);
  EXPECT_EQ(m.s().cpl, 3);
  EXPECT_EQ(m.cpu.mode(), CpuMode::Bits16);
  EXPECT_EQ(m.s().seg[arch::seg::DS].base, uint64_t(kDs) << 4);
  EXPECT_EQ(m.s().seg[arch::seg::DS].limit, 0xffffu);
  EXPECT_EQ(m.s().seg[arch::seg::CS].ar, arch::seg::ar::V86);
  EXPECT_EQ(m.reg(rSP), L::REAL_STACK_TOP);
  expect_from_v86(m.run(100), GP, true, 0, uint16_t(L::REAL_CODE + 6));
  EXPECT_EQ(m.peek<uint16_t>((uint64_t(kDs) << 4) + 0x10), 0x1234);
}

// CLI, STI, PUSHF, POPF, INT n and IRET are #GP(0) below IOPL 3; INT3 is
// not IOPL-sensitive (its gate's DPL 0 makes it #GP(vector * 8 + 2)).
TEST_F(SimV86, IoplSensitiveInstructions) {
  for (uint8_t op : {uint8_t(0xfa), uint8_t(0xfb), uint8_t(0x9c), uint8_t(0x9d), uint8_t(0xcf)}) {
    prepare({op, 0xf4}, 0);
    expect_from_v86(m.run(100), GP, true, 0, uint16_t(L::REAL_CODE));
  }
  prepare({0xcd, 0x40, 0xf4}, 2);  // int $0x40
  expect_from_v86(m.run(100), GP, true, 0, uint16_t(L::REAL_CODE));
  prepare({0xcc, 0xf4}, 0);  // int3
  expect_from_v86(m.run(100), GP, true, 3 * 8 + 2, uint16_t(L::REAL_CODE));
}

// At IOPL 3 they run: INT n through a DPL-3 gate to the DPL-0 handler.
TEST_F(SimV86, IntAtIopl3) {
  prepare({
              0xfa,        // cli
              0x9c,        // pushf
              0x5b,        // pop %bx
              0xfb,        // sti
              0xcd, 0x40,  // int $0x40
          },
          3);
  m.set_gate32(0x40, uint32_t(m.stub(0x40)), GateType::Interrupt, 3);
  expect_from_v86(m.run(100), 0x40, false, 0, uint16_t(L::REAL_CODE + 6));
  EXPECT_EQ(m.reg(rBX) & (arch::rflags::IF | arch::rflags::IOPL), arch::rflags::IOPL) << "PUSHF's image";
}

// IRET in virtual-8086 mode at IOPL 3 pops IP, CS, FLAGS and leaves IOPL alone.
TEST_F(SimV86, IretKeepsIopl) {
  prepare({
              0x9c,              // 7c00 pushf
              0x58,              // 7c01 pop %ax
              0x25, 0xff, 0xcf,  // 7c02 and $0xcfff,%ax (IOPL 0)
              0x50,              // 7c05 push %ax
              0x0e,              // 7c06 push %cs
              0x68, 0x0b, 0x7c,  // 7c07 push $0x7c0b
              0xcf,              // 7c0a iret
              0xf4,              // 7c0b hlt
          },
          3);
  expect_from_v86(m.run(100), GP, true, 0, 0x7c0b);
  EXPECT_EQ(m.stack32(3) & arch::rflags::IOPL, arch::rflags::IOPL) << "IOPL in the EFLAGS image";
}

// I/O in virtual-8086 mode always consults the TSS's I/O permission bitmap
// (SDM 20.2.8.1), even at IOPL 3.
TEST_F(SimV86, IoUsesThePermissionBitmap) {
  prepare({0xe4, 0x80, 0xf4}, 3);  // in $0x80,%al; hlt
  expect_from_v86(m.run(100), GP, true, 0, uint16_t(L::REAL_CODE));  // no bitmap in the TSS
  prepare({0xe4, 0x80, 0xf4}, 3);
  for (unsigned k = 0; k < 0x20; ++k) m.poke<uint8_t>(L::TSS + 0x68 + k, 0);  // ports 0-FFH allowed
  m.poke<uint8_t>(L::TSS + 0x88, 0xff);
  m.s().tr.limit = 0x88;
  expect_from_v86(m.run(100), GP, true, 0, uint16_t(L::REAL_CODE + 2));  // the IN ran, then HLT
}

}  // namespace
}  // namespace nestbed::testing
