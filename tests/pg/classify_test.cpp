// The classification logic of `nestbed pg` (l0/pg/) on small pg-probe
// outputs written by hand, each fact asserted with the reason it must hold.
#include <gtest/gtest.h>

#include "l0/pg/classify.h"
#include "l0/pg/probe_output.h"

namespace nestbed::pg {
namespace {

// A catalogue of four instructions over the base, "gdtr" and "cr4.umip"
// configurations, 64-bit mode only, shaped like pg-probe's output.
const char* const NATIVE = R"(pg-probe: catalogue v1
insn sgdt time=0 compat=0 sgdt (%rdi)
insn lgdt time=0 compat=0 lgdt (%rsi)
insn add time=0 compat=0 add %ecx, %eax
insn rdtsc time=1 compat=0 rdtsc
insn lar time=0 compat=0 lar %ecx, %eax
config base supported=1
config gdtr supported=1
config cr4.umip supported=1
obs sgdt 64 0 base insn=1000 fault=- out=mem:7700a0 diff=-
obs lgdt 64 0 base insn=1010 fault=- out=- diff=gdtr.base:a0:b0
obs add 64 0 base insn=1020 fault=- out=rax:0 diff=-
obs rdtsc 64 0 base insn=1030 fault=- out=rax:100,rdx:0 diff=-
obs lar 64 0 base insn=1040 fault=6 err=0 at=insn out=rax:0 diff=-
obs sgdt 64 3 base insn=1000 fault=- out=mem:7700a0 diff=-
obs lgdt 64 3 base insn=1010 fault=13 err=0 at=insn out=- diff=-
obs add 64 3 base insn=1020 fault=- out=rax:0 diff=-
obs rdtsc 64 3 base insn=1030 fault=- out=rax:200,rdx:0 diff=-
obs lar 64 3 base insn=1040 fault=6 err=0 at=insn out=rax:0 diff=-
obs sgdt 64 0 gdtr insn=1000 fault=- out=mem:7700b0 diff=-
obs lgdt 64 0 gdtr insn=1010 fault=- out=- diff=-
obs add 64 0 gdtr insn=1020 fault=- out=rax:0 diff=-
obs sgdt 64 0 cr4.umip insn=1000 fault=- out=mem:7700a0 diff=-
obs sgdt 64 3 cr4.umip insn=1000 fault=13 err=0 at=insn out=- diff=-
pg-probe: 15 runs
)";

const Classification& row(const std::vector<Classification>& rows, const std::string& id) {
  for (const Classification& c : rows)
    if (c.id == id) return c;
  throw std::runtime_error("no row " + id);
}

TEST(PgProbeOutput, ParsesEveryLineKind) {
  const ProbeRun run = parse_probe_output(NATIVE);
  EXPECT_TRUE(run.complete);
  ASSERT_EQ(run.entries.size(), 5u);
  EXPECT_EQ(run.entries[0].text, "sgdt (%rdi)");
  EXPECT_TRUE(run.entries[3].time_dependent);
  EXPECT_TRUE(run.configs.at("cr4.umip"));
  const Observation* o = run.find("lgdt", "64", 3, "base");
  ASSERT_NE(o, nullptr);
  ASSERT_TRUE(o->fault.has_value());
  EXPECT_EQ(*o->fault, 13u);
  EXPECT_EQ(run.find("lgdt", "64", 0, "base")->diff, (std::vector<StateChange>{{"gdtr.base", "a0", "b0"}}));
}

TEST(PgProbeOutput, IncompleteWhenTheCountDoesNotMatch) {
  std::string text = NATIVE;
  text.replace(text.find("15 runs"), 7, "16 runs");
  EXPECT_FALSE(parse_probe_output(text).complete);
}

TEST(PgProbeOutput, RejectsMalformedLines) {
  EXPECT_THROW(parse_probe_output("obs sgdt 64 0 base insn=zz fault=- out=- diff=-\n"), ProbeOutputError);
  EXPECT_THROW(parse_probe_output("obs sgdt 16 0 base insn=1 fault=- out=- diff=-\n"), ProbeOutputError);
  EXPECT_THROW(parse_probe_output("obs sgdt real 0 base insn=1 fault=- out=- diff=-\n"), ProbeOutputError);
  EXPECT_THROW(parse_probe_output("obs sgdt 64 0 base insn=1 fault=13 out=- diff=-\n"), ProbeOutputError);
  EXPECT_THROW(parse_probe_output("obs lgdt 64 0 base insn=1 fault=- out=- diff=gdtr\n"), ProbeOutputError);
  // Lines that are not pg-probe's (a VMM's banner) are skipped.
  EXPECT_TRUE(parse_probe_output("l1-vmm: level 1\n").observations.empty());
}

TEST(PgClassify, SgdtIsSensitiveButNotPrivilegedUntilUmip) {
  const std::vector<Classification> rows = classify(parse_probe_output(NATIVE));
  const Classification& c = row(rows, "sgdt");
  // Completes at CPL 3: not privileged; its stored base follows GDTR.
  EXPECT_FALSE(c.privileged.yes) << c.privileged.why;
  EXPECT_TRUE(c.behavior_sensitive.yes);
  EXPECT_NE(c.behavior_sensitive.why.find("base vs gdtr"), std::string::npos) << c.behavior_sensitive.why;
  EXPECT_TRUE(c.theorem1_violation());
  // CR4.UMIP: #GP at CPL 3.
  ASSERT_EQ(c.privileged_under.count("cr4.umip"), 1u);
  EXPECT_NE(c.privileged_under.at("cr4.umip").find("#GP at CPL 3"), std::string::npos);
}

TEST(PgClassify, LgdtIsPrivilegedAndControlSensitive) {
  const std::vector<Classification> rows = classify(parse_probe_output(NATIVE));
  const Classification& c = row(rows, "lgdt");
  EXPECT_TRUE(c.privileged.yes);
  EXPECT_EQ(c.privileged.why, "#GP at CPL 3, none at CPL 0");
  EXPECT_TRUE(c.control_sensitive.yes);
  EXPECT_NE(c.control_sensitive.why.find("gdtr.base a0->b0"), std::string::npos) << c.control_sensitive.why;
  EXPECT_FALSE(c.theorem1_violation());
}

TEST(PgClassify, InnocuousAndTimeDependentAndUnimplemented) {
  const std::vector<Classification> rows = classify(parse_probe_output(NATIVE));
  const Classification& add = row(rows, "add");
  EXPECT_FALSE(add.privileged.yes || add.sensitive());
  // RDTSC's results differ between CPLs only because time passed.
  EXPECT_FALSE(row(rows, "rdtsc").behavior_sensitive.yes);
  const Classification& lar = row(rows, "lar");
  EXPECT_FALSE(lar.implemented);
  EXPECT_FALSE(lar.theorem1_violation());
  EXPECT_NE(lar.privileged.why.find("#UD at CPL 0"), std::string::npos);
}

// SWAPGS in the three modes, shaped like pg-probe's output: an instruction in
// 64-bit mode, #UD in compatibility and 32-bit protected mode ("pm").
const char* const THREE_MODES = R"(pg-probe: catalogue v1
insn swapgs time=0 compat=1 swapgs
insn32 swapgs .byte 0x0f, 0x01, 0xf8  # swapgs
insn add time=0 compat=1 add %ecx, %eax
insn32 add add %ecx, %eax
config base supported=1
obs swapgs 64 0 base insn=1000 fault=- out=- diff=msr.gs_base:0:2222000,msr.kernel_gs_base:2222000:0
obs swapgs 64 3 base insn=1000 fault=13 err=0 at=insn out=- diff=-
obs add 64 0 base insn=1010 fault=- out=rax:0 diff=-
obs add 64 3 base insn=1010 fault=- out=rax:0 diff=-
obs swapgs 32 0 base insn=2000 fault=6 err=0 at=insn out=- diff=-
obs swapgs 32 3 base insn=2000 fault=6 err=0 at=insn out=- diff=-
obs add 32 0 base insn=2010 fault=- out=rax:0 diff=-
obs add 32 3 base insn=2010 fault=- out=rax:0 diff=-
obs swapgs pm 0 base insn=3000 fault=6 err=0 at=insn out=- diff=-
obs swapgs pm 3 base insn=3000 fault=6 err=0 at=insn out=- diff=-
obs add pm 0 base insn=3010 fault=- out=rax:0 diff=-
obs add pm 3 base insn=3010 fault=- out=rax:0 diff=-
pg-probe: 12 runs
)";

TEST(PgClassify, ProtectedModeRowsAndWhereTheModesDiffer) {
  const ProbeRun run = parse_probe_output(THREE_MODES);
  ASSERT_TRUE(run.complete);
  const std::vector<Classification> rows = classify(run);
  ASSERT_EQ(rows.size(), 6u) << "two instructions in three modes";
  EXPECT_EQ(rows[4].mode, MODE_PROTECTED);
  EXPECT_EQ(rows[4].text, ".byte 0x0f, 0x01, 0xf8  # swapgs") << "32-bit code's text";
  EXPECT_EQ(mode_name(rows[4].mode), "32-bit protected");
  EXPECT_EQ(mode_cell(rows[4].mode), "pm32");
  EXPECT_FALSE(rows[4].implemented);
  EXPECT_NE(rows[4].privileged.why.find("not an instruction in 32-bit protected mode"), std::string::npos);
  EXPECT_TRUE(rows[0].privileged.yes && rows[0].control_sensitive.yes);
  // Only SWAPGS differs; ADD is the same everywhere.
  const std::vector<ModeDifference> d = mode_differences(rows);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].id, "swapgs");
  ASSERT_EQ(d[0].by_mode.size(), 3u);
  EXPECT_EQ(d[0].by_mode[0].second, "privileged, control-sensitive");
  EXPECT_EQ(d[0].by_mode[2], (std::pair<std::string, std::string>{MODE_PROTECTED, "#UD at CPL 0"}));
}

TEST(PgClassifyVtx, ExitsNoExitAndDifferences) {
  const ProbeRun native = parse_probe_output(NATIVE);
  const std::vector<Classification> rows = classify(native);
  ExitsByRip exits;
  exits[0x1010]["GDTR_IDTR"] = 2;
  // Same observations under the VMM: lgdt exits, sgdt runs as natively.
  ProbeRun nested = native;
  VtxVerdict lgdt = classify_vtx(row(rows, "lgdt"), native, nested, exits);
  EXPECT_EQ(lgdt.kind, VtxVerdict::Kind::Exits);
  EXPECT_EQ(lgdt.exits.at("GDTR_IDTR"), 2u);
  VtxVerdict sgdt = classify_vtx(row(rows, "sgdt"), native, nested, exits);
  EXPECT_EQ(sgdt.kind, VtxVerdict::Kind::NoExitSameAsNative);
  EXPECT_TRUE(sgdt.controlled());
  // A VMM that let the guest see a different GDTR without an exit.
  for (Observation& o : nested.observations)
    if (o.id == "sgdt" && o.config == "base" && o.cpl == 0) o.outputs = "mem:7700c0";
  VtxVerdict leaked = classify_vtx(row(rows, "sgdt"), native, nested, exits);
  EXPECT_EQ(leaked.kind, VtxVerdict::Kind::NoExitDiffers);
  EXPECT_FALSE(leaked.controlled());
  EXPECT_NE(leaked.why.find("mem:7700c0"), std::string::npos) << leaked.why;
}

}  // namespace
}  // namespace nestbed::pg
