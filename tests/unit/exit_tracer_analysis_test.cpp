// exit-tracer's analysis of sim traces: exit costs, causal attribution of
// hardware exits to logical exits, the summaries' numbers, the
// qualification decoders, the disassembly and the dump.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_qualification.h"
#include "arch/x86/exceptions.h"
#include "exit-tracer/attribution.h"
#include "exit-tracer/disassembler.h"
#include "exit-tracer/exit_decoder.h"
#include "exit-tracer/trace_dump.h"
#include "exit-tracer/trace_summary.h"
#include "tests/unit/exit_tracer_builder.h"

namespace nestbed::trace {
namespace {

using arch::vmx::ExitReason;
using testing::SimTraceBuilder;
using Kind = arch::trace::AnnotationKind;
namespace vmx = arch::vmx;

constexpr uint64_t VMCS01 = 0x5000, VMCS02 = 0x6000;
constexpr uint64_t CPUID = uint64_t(ExitReason::CPUID), VMREAD = uint64_t(ExitReason::VMREAD),
                   VMRESUME = uint64_t(ExitReason::VMRESUME);

// Depth 1: l1-vmm (level 1) runs a workload (level 2) and annotates each exit.
ExitTrace depth1_trace() {
  SimTraceBuilder b;
  b.annotate(0, Kind::VMCS_LEVEL, VMCS01, 2).entry(10, VMCS01, true);
  // CPUID: 100 cycles from exit to entry; the VMM measured 70 itself
  b.exit(1000, ExitReason::CPUID, VMCS01, 0, {0x0f, 0xa2})
      .annotate(1010, Kind::LOGICAL_EXIT, 1, 2, CPUID, 0)
      .annotate(1080, Kind::EXIT_COST, 1, 2, CPUID, 70)
      .annotate(1090, Kind::LOGICAL_EXIT_DONE, 1, 2)
      .entry(1100, VMCS01);
  // CPUID: 300; the VMM measured 250
  b.exit(2000, ExitReason::CPUID, VMCS01, 0, {0x0f, 0xa2})
      .annotate(2010, Kind::LOGICAL_EXIT, 1, 2, CPUID, 0)
      .annotate(2280, Kind::EXIT_COST, 1, 2, CPUID, 250)
      .annotate(2290, Kind::LOGICAL_EXIT_DONE, 1, 2)
      .entry(2300, VMCS01);
  // OUT to port 0x80: 50, not annotated
  b.exit(3000, ExitReason::IO_INSTRUCTION, VMCS01, 0x800000, {0xee}).entry(3050, VMCS01);
  // HLT: the run ends before the next entry
  b.exit(4000, ExitReason::HLT, VMCS01, 0, {0xf4});
  return b.read();
}

// Depth 2: level 1 runs level 2 (another VMM) on vmcs01 and level 3 on
// vmcs02. Level 3's CPUID goes to level 1, which reflects it to level 2;
// level 2's handler VMREADs (an exit to level 1) and VMRESUMEs (another).
ExitTrace depth2_trace() {
  SimTraceBuilder b;
  b.annotate(0, Kind::VMCS_LEVEL, VMCS01, 2).annotate(1, Kind::VMCS_LEVEL, VMCS02, 3).entry(10, VMCS02, true);
  b.exit(100, ExitReason::CPUID, VMCS02, 0, {0x0f, 0xa2})  // #0
      .annotate(110, Kind::LOGICAL_EXIT, 1, 3, CPUID, 0)
      .annotate(150, Kind::LOGICAL_EXIT_DONE, 1, 2)  // reflected: level 1 resumes level 2
      .entry(200, VMCS01);
  b.exit(300, ExitReason::VMREAD, VMCS01, 0, {0x0f, 0x78, 0xc0})  // #1: level 2 reads the exit reason
      .annotate(310, Kind::LOGICAL_EXIT, 1, 2, VMREAD, 0)
      .annotate(340, Kind::LOGICAL_EXIT_DONE, 1, 2)
      .entry(350, VMCS01);
  b.annotate(400, Kind::LOGICAL_EXIT, 2, 3, CPUID, 0, true, VMCS01)
      .annotate(500, Kind::LOGICAL_EXIT_DONE, 2, 3, 0, 0, true, VMCS01);
  b.exit(600, ExitReason::VMRESUME, VMCS01, 0, {0x0f, 0x01, 0xc3})  // #2
      .annotate(610, Kind::LOGICAL_EXIT, 1, 2, VMRESUME, 0)
      .annotate(680, Kind::LOGICAL_EXIT_DONE, 1, 3)
      .entry(700, VMCS02);
  return b.read();
}

std::string print_to_string(void (*print)(const ExitTrace&, std::FILE*), const ExitTrace& t) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  print(t, f);
  std::fclose(f);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

// ---- costs and attribution ----

TEST(ExitTracerAttribution, AnExitCostsTheCyclesToTheNextEntry) {
  const ExitTrace t = depth1_trace();
  const Attribution a = attribute(t);
  ASSERT_EQ(a.exit_costs.size(), 4u);
  EXPECT_TRUE(a.exit_costs[0].timed);
  EXPECT_EQ(a.exit_costs[0].cycles, 100u);
  EXPECT_EQ(a.exit_costs[1].cycles, 300u);
  EXPECT_EQ(a.exit_costs[2].cycles, 50u);
  EXPECT_FALSE(a.exit_costs[3].timed) << "the run ended at the HLT exit";
}

TEST(ExitTracerAttribution, UnderOneVmmEachLogicalExitOwnsTheExitItHandles) {
  const ExitTrace t = depth1_trace();
  const Attribution a = attribute(t);
  ASSERT_EQ(a.logical_exits.size(), 2u);
  const LogicalExit& le = a.logical_exits[1];
  EXPECT_EQ(le.handler_level, 1u);
  EXPECT_EQ(le.guest_level, 2u);
  EXPECT_EQ(le.basic_reason, CPUID);
  EXPECT_TRUE(le.done);
  EXPECT_TRUE(le.timed);
  EXPECT_EQ(le.start_cycles, 2000u);
  EXPECT_EQ(le.cycles(), 300u);
  EXPECT_EQ(le.hw_exits, (std::vector<uint32_t>{1}));
  EXPECT_EQ(le.hw_exit_cycles, 300u);
  EXPECT_EQ(le.vmm_cycles, 250u);
  EXPECT_EQ(a.causes[0], 0u);
  EXPECT_EQ(a.causes[1], 1u);
  EXPECT_FALSE(a.causes[2].has_value()) << "the OUT was not annotated";
}

TEST(ExitTracerAttribution, AtDepthTwoTheLevel2LogicalExitCausesThreeHardwareExits) {
  const ExitTrace t = depth2_trace();
  ASSERT_EQ(t.hw_exits.size(), 3u);
  EXPECT_EQ(t.hw_exits[0].level, 3);
  EXPECT_EQ(t.hw_exits[1].level, 2);
  const Attribution a = attribute(t);
  ASSERT_EQ(a.logical_exits.size(), 4u);

  const LogicalExit& reflect = a.logical_exits[0];  // level 1 sees level 3's CPUID, reflects it
  EXPECT_EQ(reflect.guest_level, 3u);
  EXPECT_EQ(reflect.hw_exits, (std::vector<uint32_t>{0}));
  EXPECT_EQ(reflect.cycles(), 100u) << "until level 1 resumed level 2";

  const LogicalExit& l2 = a.logical_exits[2];  // level 2 handles level 3's CPUID
  EXPECT_EQ(l2.handler_level, 2u);
  EXPECT_EQ(l2.guest_level, 3u);
  EXPECT_EQ(l2.start_exit, 0u) << "it starts at level 3's hardware exit";
  EXPECT_EQ(l2.start_cycles, 100u);
  EXPECT_TRUE(l2.timed);
  EXPECT_EQ(l2.end_cycles, 700u) << "it ends when level 3 runs again";
  EXPECT_EQ(l2.cycles(), 600u);
  EXPECT_EQ(l2.hw_exits, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(l2.hw_exit_cycles, 100u + 50u + 100u);

  const LogicalExit& vmresume = a.logical_exits[3];
  EXPECT_EQ(vmresume.hw_exits, (std::vector<uint32_t>{2}));
  EXPECT_EQ(vmresume.cycles(), 100u);

  // Every hardware exit was caused by the level-2 logical exit.
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(a.causes[i], 2u) << i;
}

TEST(ExitTracerAttribution, ALogicalExitWithoutItsDoneStaysUntimed) {
  SimTraceBuilder b;
  b.exit(100, ExitReason::CPUID, VMCS01)
      .annotate(110, Kind::LOGICAL_EXIT, 1, 2, CPUID, 0)
      .entry(200, VMCS01)  // no DONE: the VMM did not say it finished
      .exit(300, ExitReason::HLT, VMCS01)
      .annotate(310, Kind::LOGICAL_EXIT, 1, 2, uint64_t(ExitReason::HLT), 0);
  const Attribution a = attribute(b.read());
  ASSERT_EQ(a.logical_exits.size(), 2u);
  EXPECT_FALSE(a.logical_exits[0].done);
  EXPECT_FALSE(a.logical_exits[0].timed);
  EXPECT_EQ(a.logical_exits[0].hw_exits, (std::vector<uint32_t>{0, 1}))
      << "it owned exits until the next logical exit of its level began";
  EXPECT_EQ(a.causes[1], 1u);
}

// ---- summaries ----

TEST(ExitTracerSummary, CountsTotalsAndMeansPerLevelAndReason) {
  const ExitTrace t = depth1_trace();
  const SimSummary s = summarize_sim(t, attribute(t));
  ASSERT_EQ(s.levels.size(), 1u);
  EXPECT_EQ(s.levels[0].label, "level 2");
  EXPECT_EQ(s.levels[0].count, 4u);
  EXPECT_EQ(s.levels[0].timed, 3u);
  EXPECT_EQ(s.levels[0].total_cycles, 450u);
  EXPECT_DOUBLE_EQ(s.levels[0].mean_cycles(), 150.0);

  ASSERT_EQ(s.reasons.size(), 1u);
  EXPECT_EQ(s.reasons[0].level, 2u);
  const std::vector<CostRow>& rows = s.reasons[0].rows;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].label, "CPUID");
  EXPECT_EQ(rows[0].count, 2u);
  EXPECT_EQ(rows[0].total_cycles, 400u);
  EXPECT_DOUBLE_EQ(rows[0].mean_cycles(), 200.0);
  EXPECT_EQ(rows[1].label, "HLT");
  EXPECT_EQ(rows[1].timed, 0u);
  EXPECT_EQ(rows[2].label, "IO_INSTRUCTION");
  EXPECT_DOUBLE_EQ(rows[2].mean_cycles(), 50.0);

  ASSERT_EQ(s.logical.size(), 1u);
  EXPECT_EQ(s.logical[0].handler_level, 1u);
  ASSERT_EQ(s.logical[0].rows.size(), 1u);
  const LogicalRow& cpuid = s.logical[0].rows[0];
  EXPECT_EQ(cpuid.cost.label, "CPUID");
  EXPECT_EQ(cpuid.cost.count, 2u);
  EXPECT_DOUBLE_EQ(cpuid.cost.mean_cycles(), 200.0);
  EXPECT_EQ(cpuid.hw_exits, 2u);
  EXPECT_DOUBLE_EQ(cpuid.hw_exits_per_exit(), 1.0);
  EXPECT_EQ(cpuid.vmm_measured, 2u);
  EXPECT_EQ(cpuid.vmm_cycles, 320u);
}

TEST(ExitTracerSummary, LogicalExitsPerHandlerLevelShowTheExitMultiplication) {
  const ExitTrace t = depth2_trace();
  const SimSummary s = summarize_sim(t, attribute(t));
  ASSERT_EQ(s.levels.size(), 2u);
  EXPECT_EQ(s.levels[0].label, "level 2");
  EXPECT_EQ(s.levels[0].count, 2u);
  EXPECT_EQ(s.levels[1].label, "level 3");
  EXPECT_EQ(s.levels[1].count, 1u);

  ASSERT_EQ(s.logical.size(), 2u);
  ASSERT_EQ(s.logical[0].rows.size(), 3u);
  std::vector<std::string> labels;
  for (const LogicalRow& r : s.logical[0].rows) labels.push_back(r.cost.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"CPUID of level 3", "VMREAD", "VMRESUME"}));
  const LogicalRow& l2 = s.logical[1].rows.at(0);
  EXPECT_EQ(s.logical[1].handler_level, 2u);
  EXPECT_EQ(l2.cost.label, "CPUID");
  EXPECT_EQ(l2.cost.total_cycles, 600u);
  EXPECT_EQ(l2.hw_exits, 3u);
  EXPECT_DOUBLE_EQ(l2.hw_exits_per_exit(), 3.0);
  EXPECT_EQ(l2.hw_exit_cycles, 250u);
}

TEST(ExitTracerSummary, PrintsTheSimTables) {
  const ExitTrace t = depth1_trace();
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  print_trace_summary(t, "d1.trace", f);
  std::fclose(f);
  const std::string text(buffer, size);
  std::free(buffer);
  EXPECT_NE(text.find("d1.trace: nestbed trace 1.3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("records: 4 hardware exits, 4 VM entries, 7 annotations"), std::string::npos) << text;
  EXPECT_NE(text.find("hardware VM exits of level 2 by reason"), std::string::npos) << text;
  EXPECT_NE(text.find("  CPUID                                     2              400          200.0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("logical exits handled by level 1"), std::string::npos) << text;
  EXPECT_EQ(text.find("KVM_RUN"), std::string::npos) << "no kvm tables for a sim trace";
}

// ---- decoders and disassembly ----

TEST(ExitTracerDecoder, DescribesQualificationsByTheirArchLayouts) {
  namespace cr = vmx::qual_cr_access;
  namespace io = vmx::qual_io;
  const uint64_t mov_to_cr3 = cr::CR.make(3) | cr::ACCESS_TYPE.make(cr::MOV_TO_CR) | cr::GPR.make(0);
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::CR_ACCESS), mov_to_cr3), "MOV to CR3 from RAX");
  const uint64_t mov_from_cr8 = cr::CR.make(8) | cr::ACCESS_TYPE.make(cr::MOV_FROM_CR) | cr::GPR.make(13);
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::CR_ACCESS), mov_from_cr8), "MOV from CR8 to R13");
  const uint64_t out80 = io::SIZE.make(io::SIZE_1) | io::DIRECTION.make(io::OUT) | io::PORT.make(0x80);
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::IO_INSTRUCTION), out80),
            "OUT 1 byte to port 0x80 (port in DX)");
  const uint64_t rep_insd = io::SIZE.make(io::SIZE_4) | io::DIRECTION.make(io::IN) | io::STRING.mask | io::REP.mask |
                            io::OPERAND_ENCODING.make(io::PORT_IMMEDIATE) | io::PORT.make(0x510);
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::IO_INSTRUCTION), rep_insd),
            "IN 4 bytes from port 0x510 (immediate port), REP string");
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::VMREAD), uint64_t(-8)), "displacement -0x8");
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::CPUID), 0), "");
  EXPECT_EQ(describe_qualification(uint32_t(ExitReason::INVALID_GUEST_STATE), 4), "invalid VMCS link pointer");
}

TEST(ExitTracerDecoder, DescribesEptViolationsWithTheirAddresses) {
  namespace ev = vmx::qual_ept_violation;
  HwExit e{};
  e.exit_reason = uint32_t(ExitReason::EPT_VIOLATION);
  e.qualification = ev::WRITE.mask | vmx::qual_ept_violation_permissions(0b101) | ev::GLA_VALID.mask |
                    ev::GLA_TRANSLATED.mask;
  e.guest_physical_address = 0x5008;
  e.guest_linear_address = 0x7008;
  EXPECT_EQ(describe_exit(e), "data write at GPA 0x5008 (was r-x), linear 0x7008 (translation)");
}

TEST(ExitTracerDecoder, DescribesExceptionsByTheirInterruptionInformation) {
  HwExit e{};
  e.exit_reason = uint32_t(ExitReason::EXCEPTION_NMI);
  e.intr_info = vmx::make_intr_info(14, vmx::intr_info::TYPE_HARDWARE_EXCEPTION, true);
  e.qualification = 0xdead000;
  EXPECT_EQ(describe_exit(e), std::string(arch::exception_name(14)) + " at linear 0xdead000");
  e.exit_reason = vmx::entry_failure_reason(ExitReason::INVALID_GUEST_STATE);
  e.qualification = 0;
  EXPECT_EQ(describe_exit(e), "VM-entry failure: no further information");
}

TEST(ExitTracerDisassembler, DisassemblesTheExitingInstruction) {
  const Disassembler d;
  const uint8_t cpuid[] = {0x0f, 0xa2}, out[] = {0xee}, mov_cr3[] = {0x0f, 0x22, 0xd8};
  EXPECT_EQ(d(cpuid, sizeof cpuid, 0x1000), "cpuid");
  EXPECT_EQ(d(out, sizeof out, 0x1000), "out dx, al");
  EXPECT_EQ(d(mov_cr3, sizeof mov_cr3, 0x1000), "mov cr3, rax");
  EXPECT_EQ(d(arch::trace::kAnnotationBytes, 8, 0), "nop dword ptr [rax + rax + 0x4e455354]");
  EXPECT_EQ(d(cpuid, 0, 0), "");
  EXPECT_EQ(hex_bytes(mov_cr3, 3), "0f 22 d8");
}

// 40 (inc eax) is a REX prefix in 64-bit code: the length picks 32-bit.
TEST(ExitTracerDisassembler, TheInstructionLengthPicksTheMode) {
  const Disassembler d;
  const uint8_t inc_eax[] = {0x40};
  EXPECT_EQ(d(inc_eax, 1, 0), "inc eax");
}

TEST(ExitTracerDump, PrintsARecordPerLineWithInstructionsAndQualifications) {
  const std::string text = print_to_string(print_trace_dump, depth1_trace());
  EXPECT_NE(text.find("hw-exit     #0  L2  cycles 1000  cost 100  CPUID  rip 0x1000  cpuid [0f a2]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cost 50  IO_INSTRUCTION  rip 0x1000  out dx, al [ee]  -- OUT 1 byte to port 0x80 (port in DX)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("LOGICAL_EXIT  rip 0x2000  level 1 handles CPUID of level 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("VMCS_LEVEL  rip 0x2000  VMCS 0x5000 runs level 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hw-entry    #0  L2  cycles 10  VMLAUNCH"), std::string::npos) << text;
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 1u /*header*/ + 1u /*note*/ + 7u /*names*/ + 4u + 4u + 7u + 1u /*end*/) << text;
}

// The annotation helper emits exactly the bytes l0 matches, and on this
// (real) CPU it is the NOP it claims to be.
__attribute__((noinline)) void annotate_for_test(uint64_t value) {
  nestbed_annotate(arch::trace::AnnotationKind::MARK, 42, value, 0, 0);
}

TEST(ExitTracerAnnotationAbi, TheHelperEmitsTheMagicNopAndRunsOnHardware) {
  annotate_for_test(7);  // a NOP: returns
  const auto* code = reinterpret_cast<const uint8_t*>(&annotate_for_test);
  bool found = false;
  // Within the function's first 256 bytes (an unoptimised, sanitised build
  // spends many on moving the arguments into place).
  for (size_t i = 0; i + 8 <= 256 && !found; ++i) found = arch::trace::is_annotation(code + i);
  EXPECT_TRUE(found);
  EXPECT_STREQ(arch::trace::annotation_kind_name(1), "LOGICAL_EXIT");
  EXPECT_STREQ(arch::trace::annotation_kind_name(3), "VMCS_LEVEL");
  EXPECT_EQ(arch::trace::annotation_kind_name(99), nullptr);
}

}  // namespace
}  // namespace nestbed::trace
