// LAR, LSL, VERR and VERW on the sim CPU, case by case against the SDM
// (vol. 2A LAR and LSL, vol. 2B VERR/VERW): the access-rights mask and the
// byte-granular limit, ZF and a destination written only when ZF = 1, the
// operand sizes, null and out-of-limit selectors, the CPL/RPL/DPL check and
// conforming code, the system types each accepts in protected and in IA-32e
// mode, memory operands and their faults, a faulting descriptor-table read,
// and #UD outside protected mode. Each case runs the instruction followed by
// a UD2 (tests/support/sim_harness.h) and reads ZF and the registers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "l0/sim/cpu/decoder.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

namespace fl = arch::rflags;
namespace ar = arch::seg::ar;
namespace L = sim_layout;
using sim::CpuStop;

constexpr uint8_t UD = 6, SS = 12, GP = 13, PF = 14;
constexpr uint64_t kUserCode = L::CODE + 0x1000;

// Encodings (SDM vol. 2): LAR 0F 02 /r, LSL 0F 03 /r, VERR 0F 00 /4, VERW 0F 00 /5.
const std::vector<uint8_t> LAR_EAX_ECX = {0x0f, 0x02, 0xc1}, LAR_AX_CX = {0x66, 0x0f, 0x02, 0xc1},
                           LAR_RAX_ECX = {0x48, 0x0f, 0x02, 0xc1}, LSL_EAX_ECX = {0x0f, 0x03, 0xc1},
                           LSL_AX_CX = {0x66, 0x0f, 0x03, 0xc1}, LSL_RAX_ECX = {0x48, 0x0f, 0x03, 0xc1},
                           VERR_CX = {0x0f, 0x00, 0xe1}, VERW_CX = {0x0f, 0x00, 0xe9};

// Descriptors added to the harness's GDT, from index 8 on.
constexpr uint16_t CONFORMING_CODE = 0x40;  // DPL 0, readable
constexpr uint16_t EXEC_ONLY_CODE = 0x48;   // DPL 3
constexpr uint16_t READ_ONLY_DATA = 0x50;   // DPL 3
constexpr uint16_t SYSTEM_SLOT = 0x58;      // a system descriptor of the test's type, DPL 0
constexpr uint16_t BYTE_DATA = 0x60;        // DPL 3, byte granular, limit 0x12345, AVL set
constexpr unsigned kGdtEntries = 13;
constexpr uint32_t kSystemLimit = 0x1234;

const uint32_t DATA = ar::P | ar::S | ar::DB | ar::G | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED;
const uint32_t DPL3 = 3u << ar::DPL_SHIFT;

struct Outcome {
  bool zf;
  uint64_t rax;
};

class SimSelectorChecks : public ::testing::Test {
 protected:
  SimMachine m;
  void SetUp() override { long_mode(); }

  void add_descriptors() {
    m.poke<uint64_t>(L::GDT + CONFORMING_CODE, segment_descriptor(0, 0xfffff, ar::P | ar::S | ar::DB | ar::G | 0xe));
    m.poke<uint64_t>(L::GDT + EXEC_ONLY_CODE, segment_descriptor(0, 0xfffff, ar::P | ar::S | ar::DB | ar::G | 0x8 | DPL3));
    m.poke<uint64_t>(L::GDT + READ_ONLY_DATA, segment_descriptor(0, 0xfffff, ar::P | ar::S | ar::DB | ar::G | 0x1 | DPL3));
    m.poke<uint64_t>(L::GDT + BYTE_DATA, segment_descriptor(0, 0x12345, ar::P | ar::S | ar::DB | ar::AVL | 0x3 | DPL3));
    set_system_type(arch::seg::sys_type::TSS_AVAILABLE);
    m.s().gdtr.limit = kGdtEntries * 8 - 1;
  }
  void long_mode() {
    m.setup_long_mode();
    add_descriptors();
  }
  void protected_mode() {
    m.setup_protected_mode();
    m.poke<uint64_t>(L::GDT + 7 * 8, 0);
    add_descriptors();
  }
  void set_system_type(unsigned type) {
    m.poke<uint64_t>(L::GDT + SYSTEM_SLOT, segment_descriptor(0x5000, kSystemLimit, ar::P | type));
  }

  // Loads `insn` then a UD2 to run at CPL 0 or 3 in the current mode (CPL 3
  // through an IRET from CODE); returns the UD2's address.
  uint64_t load(const std::vector<uint8_t>& insn, unsigned cpl, uint64_t rflags = fl::FIXED1) {
    const bool bits64 = m.s().efer & arch::efer::LMA;
    Asm a(L::CODE);
    if (cpl == 3) {
      a.push_imm32(sel::UDATA).push_imm32(int32_t(L::USER_STACK_TOP)).push_imm32(int32_t(rflags));
      a.push_imm32(bits64 ? sel::UCODE64 : sel::UCODE32).push_imm32(int32_t(kUserCode));
      if (bits64) a.iretq(); else a.iretd();
      m.load_code(a);
      a = Asm(kUserCode);
    }
    a.bytes.insert(a.bytes.end(), insn.begin(), insn.end());
    const uint64_t ud2 = a.here();
    a.ud2();
    m.load_code(a);
    m.rip() = L::CODE;
    return ud2;
  }
  uint64_t frame(unsigned slot) { return (m.s().efer & arch::efer::LMA) ? m.stack64(slot) : m.stack32(slot); }

  // Runs `insn` (ECX = `sel`, RAX = `rax`, ZF = `zf_before`, CF = 1) then a
  // UD2; the UD2's #UD must be the only fault.
  Outcome run(const std::vector<uint8_t>& insn, uint16_t sel, unsigned cpl = 0,
              uint64_t rax = 0x1111222233334444ull, bool zf_before = false) {
    const uint64_t rflags = fl::FIXED1 | fl::CF | (zf_before ? fl::ZF : 0);
    const uint64_t ud2 = load(insn, cpl, rflags);
    m.s().r[rCX] = sel;
    m.s().r[rAX] = rax;
    m.s().rflags = rflags;
    const CpuStop stop = m.run(1000);
    EXPECT_EQ(stop, CpuStop::Halted) << m.cpu.stop_message();
    EXPECT_EQ(m.stub_vector(), UD);
    EXPECT_EQ(frame(0), ud2) << "a fault before the UD2";
    EXPECT_TRUE(m.s().rflags & fl::CF) << "only ZF changes";
    return {bool(m.s().rflags & fl::ZF), m.reg(rAX)};
  }
  // The vector of the fault `insn` raises (-1: none); the frame is at RSP.
  int fault_of(const std::vector<uint8_t>& insn, unsigned cpl = 0) {
    load(insn, cpl);
    EXPECT_EQ(m.run(1000), CpuStop::Halted) << m.cpu.stop_message();
    return m.stub_vector();
  }
  void reset() {
    if (m.s().efer & arch::efer::LMA) {
      m.enter_long_mode();
      m.s().gdtr.limit = kGdtEntries * 8 - 1;
    } else {
      protected_mode();
    }
  }
};

// ============================================================ results

// SDM LAR: bits 23:8 of the descriptor's second doubleword, masked by
// 00FxFF00H (32/64-bit operand, zero-extended) or FF00H (16-bit operand,
// bits 63:16 of the register kept). KDATA: P, S, DPL 0, type 3, D/B, G.
TEST_F(SimSelectorChecks, LarLoadsMaskedAccessRights) {
  Outcome r = run(LAR_EAX_ECX, sel::KDATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x00c09300u) << "limit 19:16 (0xF) masked, bits 63:32 cleared";
  reset();
  r = run(LAR_AX_CX, sel::KDATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x1111222233339300ull) << "16-bit operand: FF00H, the rest of RAX kept";
  reset();
  r = run(LAR_RAX_ECX, sel::KDATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x00c09300u);
  reset();
  r = run(LAR_EAX_ECX, BYTE_DATA | 3, 3);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x0050f300u) << "AVL (bit 20), D/B; DPL 3; no G";
}

// SDM LSL: the limit in bytes, (limit << 12) | FFFH when G = 1.
TEST_F(SimSelectorChecks, LslLoadsTheByteGranularLimit) {
  Outcome r = run(LSL_EAX_ECX, sel::KDATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0xffffffffu) << "G = 1: (0xFFFFF << 12) | 0xFFF";
  reset();
  r = run(LSL_EAX_ECX, BYTE_DATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x12345u);
  reset();
  r = run(LSL_AX_CX, BYTE_DATA);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x1111222233332345ull) << "16-bit operand: the low 16 bits of the limit";
  reset();
  r = run(LSL_RAX_ECX, sel::TSS);
  EXPECT_TRUE(r.zf);
  EXPECT_EQ(r.rax, 0x67u) << "the busy 64-bit TSS";
}

// ============================================================ ZF = 0

// A null selector (any RPL), an index past the GDT limit, an LDT selector
// with an unusable LDTR or past the LDT's limit: ZF := 0 and no fault; the
// destination keeps its value.
TEST_F(SimSelectorChecks, NullAndOutOfLimitSelectorsClearZf) {
  const uint16_t selectors[] = {0, 3, kGdtEntries * 8, 0xfff8, 0x04};
  for (const auto* insn : {&LAR_EAX_ECX, &LSL_EAX_ECX, &VERR_CX, &VERW_CX})
    for (uint16_t sel : selectors) {
      SCOPED_TRACE("selector " + std::to_string(sel) + ", opcode byte " + std::to_string((*insn)[1]));
      reset();
      const Outcome r = run(*insn, sel, 0, 0x5555, true);
      EXPECT_FALSE(r.zf);
      EXPECT_EQ(r.rax, 0x5555u);
    }
  // An LDT of one data descriptor: index 0 is inside, index 1 past its limit.
  m.poke<uint64_t>(L::SCRATCH, segment_descriptor(0, 0xfffff, DATA));
  for (uint16_t sel : {uint16_t(0x04), uint16_t(0x0c)}) {
    reset();
    m.s().ldtr = sim::Segment{0x58, L::SCRATCH, 7, ar::P | arch::seg::sys_type::LDT};
    const Outcome r = run(LAR_EAX_ECX, sel, 0, 0x5555, sel == 0x0c);
    EXPECT_EQ(r.zf, sel == 0x04) << "selector " << sel;
    EXPECT_EQ(r.rax, sel == 0x04 ? 0x00c09300u : 0x5555u);
  }
}

// SDM LAR/LSL/VERR/VERW: unless the segment is conforming code, it must be
// visible: CPL <= DPL and RPL <= DPL.
TEST_F(SimSelectorChecks, DplMustAdmitCplAndRplUnlessConformingCode) {
  struct Case {
    const std::vector<uint8_t>* insn;
    uint16_t sel;
    unsigned cpl;
    bool zf;
  };
  const Case cases[] = {
      {&LAR_EAX_ECX, sel::KDATA, 3, false},          {&LSL_EAX_ECX, sel::KDATA, 3, false},
      {&VERR_CX, sel::KDATA, 3, false},              {&VERW_CX, sel::KDATA, 3, false},
      {&LAR_EAX_ECX, sel::KDATA | 3, 0, false},      {&VERW_CX, sel::KDATA | 3, 0, false},
      {&LAR_EAX_ECX, sel::UDATA, 3, true},           {&VERW_CX, sel::UDATA, 3, true},
      {&LAR_EAX_ECX, CONFORMING_CODE | 3, 3, true},  {&LSL_EAX_ECX, CONFORMING_CODE | 3, 3, true},
      {&VERR_CX, CONFORMING_CODE | 3, 3, true},      {&LAR_EAX_ECX, SYSTEM_SLOT | 3, 0, false},
      {&LAR_EAX_ECX, SYSTEM_SLOT, 3, false},         {&LAR_EAX_ECX, SYSTEM_SLOT, 0, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("selector " + std::to_string(c.sel) + " at CPL " + std::to_string(c.cpl) + ", opcode " +
                 std::to_string((*c.insn)[1]) + "/" + std::to_string((*c.insn)[2]));
    reset();
    EXPECT_EQ(run(*c.insn, c.sel, c.cpl, 0, !c.zf).zf, c.zf);
  }
}

// SDM VERR/VERW: code/data segments only; VERR needs a readable one (data,
// or code with R), VERW a writable one (data with W; code never is).
TEST_F(SimSelectorChecks, VerrAndVerwCheckReadableAndWritable) {
  struct Case {
    uint16_t sel;
    bool readable, writable;
  };
  const Case cases[] = {{sel::KDATA, true, true},     {sel::KCODE, true, false},     {EXEC_ONLY_CODE, false, false},
                        {READ_ONLY_DATA, true, false}, {CONFORMING_CODE, true, false}, {sel::TSS, false, false},
                        {SYSTEM_SLOT, false, false}};
  for (const Case& c : cases) {
    SCOPED_TRACE("selector " + std::to_string(c.sel));
    reset();
    EXPECT_EQ(run(VERR_CX, c.sel, 0, 0, !c.readable).zf, c.readable);
    reset();
    EXPECT_EQ(run(VERW_CX, c.sel, 0, 0, !c.writable).zf, c.writable);
  }
}

// ======================================================= system types

// SDM vol. 2A table 3-52 (LAR) and 3-55 (LSL): the system-descriptor types
// each accepts, in protected mode and in IA-32e mode. Written out here as the
// tables give them (type: LAR, LSL).
struct TypeRow {
  unsigned type;
  bool lar_pm, lsl_pm, lar_ia32e, lsl_ia32e;
};
const TypeRow kTypeTable[16] = {
    {0x0, false, false, false, true},  // reserved / IA-32e: "upper 8 bytes of a 16-byte descriptor"
    {0x1, true, true, false, false},   // available 16-bit TSS
    {0x2, true, true, false, true},    // LDT
    {0x3, true, true, false, false},   // busy 16-bit TSS
    {0x4, true, false, false, false},  // 16-bit call gate
    {0x5, true, false, false, false},  // task gate
    {0x6, false, false, false, false}, // 16-bit interrupt gate
    {0x7, false, false, false, false}, // 16-bit trap gate
    {0x8, false, false, false, false}, // reserved
    {0x9, true, true, true, true},     // available 32/64-bit TSS
    {0xa, false, false, false, false}, // reserved
    {0xb, true, true, true, true},     // busy 32/64-bit TSS
    {0xc, true, false, true, false},   // 32/64-bit call gate
    {0xd, false, false, false, false}, // reserved
    {0xe, false, false, false, false}, // interrupt gate
    {0xf, false, false, false, false}, // trap gate
};

TEST_F(SimSelectorChecks, SystemTypesInIa32eMode) {
  for (const TypeRow& row : kTypeTable) {
    SCOPED_TRACE("type " + std::to_string(row.type));
    reset();
    set_system_type(row.type);
    const Outcome lar = run(LAR_EAX_ECX, SYSTEM_SLOT, 0, 0, !row.lar_ia32e);
    EXPECT_EQ(lar.zf, row.lar_ia32e);
    if (row.lar_ia32e) {
      EXPECT_EQ(lar.rax, 0x8000u | (row.type << 8));
    }
    reset();
    set_system_type(row.type);
    const Outcome lsl = run(LSL_EAX_ECX, SYSTEM_SLOT, 0, 0, !row.lsl_ia32e);
    EXPECT_EQ(lsl.zf, row.lsl_ia32e);
    if (row.lsl_ia32e) {
      EXPECT_EQ(lsl.rax, kSystemLimit);
    }
  }
}

TEST_F(SimSelectorChecks, SystemTypesInProtectedMode) {
  for (const TypeRow& row : kTypeTable) {
    SCOPED_TRACE("type " + std::to_string(row.type));
    protected_mode();
    set_system_type(row.type);
    const Outcome lar = run(LAR_EAX_ECX, SYSTEM_SLOT, 0, 0, !row.lar_pm);
    EXPECT_EQ(lar.zf, row.lar_pm);
    if (row.lar_pm) {
      EXPECT_EQ(lar.rax, 0x8000u | (row.type << 8));
    }
    protected_mode();
    set_system_type(row.type);
    const Outcome lsl = run(LSL_EAX_ECX, SYSTEM_SLOT, 0, 0, !row.lsl_pm);
    EXPECT_EQ(lsl.zf, row.lsl_pm);
    if (row.lsl_pm) {
      EXPECT_EQ(lsl.rax, kSystemLimit);
    }
  }
  // And the privilege check in protected mode, from CPL 3.
  protected_mode();
  EXPECT_FALSE(run(VERR_CX, sel::KDATA, 3, 0, true).zf);
  protected_mode();
  EXPECT_TRUE(run(VERW_CX, sel::UDATA, 3).zf);
}

// ==================================================== memory operands

// The selector from memory (16 bits read); a not-present page is #PF.
TEST_F(SimSelectorChecks, MemoryOperandIsReadAndCanPageFault) {
  m.poke<uint32_t>(L::DATA, 0xffff0000u | sel::KDATA);
  Asm a(L::CODE);
  a.mov_imm32(rBX, uint32_t(L::DATA));
  a.raw({0x0f, 0x02, 0x03});  // lar eax, word [rbx]
  a.raw({0x0f, 0x00, 0x2b});  // verw word [rbx]
  a.ud2();
  m.load_code(a);
  m.rip() = L::CODE;
  ASSERT_EQ(m.run(1000), CpuStop::Halted);
  EXPECT_EQ(m.stub_vector(), UD);
  EXPECT_EQ(m.reg(rAX), 0x00c09300u);
  EXPECT_TRUE(m.s().rflags & fl::ZF);

  reset();
  m.s().r[rBX] = 0x40000000;  // not mapped
  m.s().r[rAX] = 0x77;
  EXPECT_EQ(fault_of({0x0f, 0x03, 0x03}), PF);  // lsl eax, word [rbx]
  EXPECT_EQ(m.s().cr2, 0x40000000u);
  EXPECT_EQ(m.stack64(0), 0u) << "not present, read, supervisor";
  EXPECT_EQ(m.stack64(1), L::CODE) << "a fault: RIP at the LSL";
  EXPECT_EQ(m.reg(rAX), 0x77u);
}

// Protected mode: past DS's limit is #GP(0); past SS's (an EBP base) #SS(0),
// tried at CPL 3 so that the #SS is delivered on the TSS's stack.
TEST_F(SimSelectorChecks, MemoryOperandOutsideTheSegmentFaults) {
  protected_mode();
  m.s().seg[arch::seg::DS].limit = 0xfff;
  m.s().r[rBX] = 0x1fff;
  EXPECT_EQ(fault_of({0x0f, 0x00, 0x23}), GP);  // verr word [ebx]
  EXPECT_EQ(frame(0), 0u);
  EXPECT_EQ(frame(1), L::CODE);
  protected_mode();
  m.poke<uint64_t>(L::GDT + (sel::UDATA & ~7), segment_descriptor(0, 0x1000, ar::P | ar::S | ar::DB | 0x3 | DPL3));
  m.s().r[rBP] = 0x1000;  // the word at 0x1000..0x1001 crosses the limit
  EXPECT_EQ(fault_of({0x0f, 0x02, 0x45, 0x00}, 3), SS);  // lar eax, word [ebp]
  EXPECT_EQ(frame(0), 0u);
  EXPECT_EQ(frame(1), kUserCode);
}

// The descriptor-table read is a supervisor access: an LDT on a page that
// is not mapped makes LAR #PF (at the descriptor's address); a
// non-canonical one #GP(0) (SDM vol. 3, 3.3.7.1).
TEST_F(SimSelectorChecks, DescriptorTableReadCanFault) {
  m.s().ldtr = sim::Segment{0x58, 0x40000000, 0xff, ar::P | arch::seg::sys_type::LDT};
  m.s().r[rCX] = 0x0c | 3;  // LDT index 1
  EXPECT_EQ(fault_of(LAR_EAX_ECX), PF);
  EXPECT_EQ(m.s().cr2, 0x40000008u);
  EXPECT_EQ(m.stack64(0), 0u);
  EXPECT_EQ(m.stack64(1), L::CODE);

  reset();
  m.s().ldtr = sim::Segment{0x58, 0x8000000000000000ull, 0xff, ar::P | arch::seg::sys_type::LDT};
  m.s().r[rCX] = 0x0c;
  EXPECT_EQ(fault_of(VERW_CX), GP);
  EXPECT_EQ(m.stack64(0), 0u);
  EXPECT_EQ(m.stack64(1), L::CODE);
}

// =================================================== outside protected mode

// SDM: "not recognized in real-address mode" (#UD), delivered through the
// IVT (here with the 32-bit code segment protected mode left cached).
TEST_F(SimSelectorChecks, RealModeIsUd) {
  for (const auto* insn : {&LAR_EAX_ECX, &LSL_EAX_ECX, &VERR_CX, &VERW_CX}) {
    protected_mode();
    m.s().cr0 &= ~arch::cr0::PE;
    m.s().idtr = {0, 0x3ff};
    m.set_ivt(6, 0, uint16_t(m.stub(6)));
    Asm a(L::CODE);
    a.bytes = *insn;
    m.load_code(a);
    m.rip() = L::CODE;
    EXPECT_EQ(m.run(10), CpuStop::Halted) << m.cpu.stop_message();
    EXPECT_EQ(m.stub_vector(), 6);
  }
}

// The decoder names them (traces and the unimplemented-instruction report
// use the same disassembly).
TEST_F(SimSelectorChecks, Disassembly) {
  const uint8_t lsl[] = {0x0f, 0x03, 0xc1}, verw[] = {0x0f, 0x00, 0x2b};
  sim::Decoder decoder(m.costs);
  EXPECT_NE(decoder.disassemble(sim::CpuMode::Bits64, lsl, sizeof lsl, 0).find("lsl"), std::string::npos);
  EXPECT_NE(decoder.disassemble(sim::CpuMode::Bits32, verw, sizeof verw, 0).find("verw"), std::string::npos);
}

}  // namespace
}  // namespace nestbed::testing
