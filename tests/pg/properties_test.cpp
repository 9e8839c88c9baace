// Equivalence, escape-probe parsing and efficiency (l0/pg/properties.h) on
// fixtures.
#include <gtest/gtest.h>

#include "l0/pg/properties.h"

namespace nestbed::pg {
namespace {

TEST(PgEquivalence, SameOutputAndStatus) {
  EXPECT_TRUE(compare_runs({"sieve: 17984 primes\n", 1}, {"sieve: 17984 primes\n", 1}).equal);
  Equivalence e = compare_runs({"a\nb\n", 1}, {"a\nc\n", 1});
  EXPECT_FALSE(e.equal);
  EXPECT_EQ(e.why, "line 2: 'c' (natively 'b')");
  EXPECT_FALSE(compare_runs({"a\n", 1}, {"a\nextra\n", 1}).equal);
  EXPECT_EQ(compare_runs({"a\n", 1}, {"a\n", 201}).why, "status 201 (natively 1)");
}

TEST(PgEscape, ReadsMsrsPortsAndAStoppedWrite) {
  const std::string out =
      "escape ram end=0x4000000\n"
      "escape mem-read 0x4000000 value=0xffffffffffffffff reachable=0\n"
      "escape port fw_cfg 0x510 ram_size=0x4000000 reachable=0\n"
      "escape msr IA32_FEATURE_CONTROL 0x3a read=ok write=fault13 reachable=0\n"
      "escape mem-write 0x4000000 tried\n"
      "l1-vmm: guest stopped: write to guest-physical 0x4000000\n";
  std::vector<EscapeTry> tries = parse_escape_output(out, 201, "l1-vmm: guest stopped: write");
  ASSERT_EQ(tries.size(), 4u);
  EXPECT_EQ(tries[0].what, "mem-read 0x4000000");
  EXPECT_EQ(tries[0].answer, "value=0xffffffffffffffff");
  EXPECT_EQ(tries[1].what, "port fw_cfg 0x510");
  EXPECT_EQ(tries[2].what, "msr IA32_FEATURE_CONTROL 0x3a");
  EXPECT_EQ(tries[2].answer, "read=ok write=fault13");
  EXPECT_EQ(tries[3].what, "mem-write 0x4000000");
  EXPECT_EQ(tries[3].answer, "stopped (status 201): l1-vmm: guest stopped: write");
  for (const EscapeTry& t : tries) EXPECT_FALSE(t.reachable) << t.what;
}

TEST(PgEscape, AWriteThatStuckIsReachable) {
  std::vector<EscapeTry> tries = parse_escape_output(
      "escape mem-write 0x4000000 tried\nescape mem-write 0x4000000 readback=0x5a5a5a5aa5a5a5a5 reachable=1\n", 1, "");
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_TRUE(tries[0].reachable);
  EXPECT_EQ(tries[0].answer, "readback=0x5a5a5a5aa5a5a5a5");
}

// The per-level accounting another part of nestbed adds to --stats; this
// fixture is the agreed shape.
TEST(PgEfficiency, InnermostLevelOverAll) {
  const auto stats = nlohmann::ordered_json::parse(R"({
    "engine": "sim", "instructions": 1000000,
    "levels": [
      {"level": 1, "instructions": 20000, "cycles": 90000, "hw_exits": 0, "exits": {}},
      {"level": 2, "instructions": 30000, "cycles": 80000, "hw_exits": 100, "exits": {"CPUID": 100}},
      {"level": 3, "instructions": 950000, "cycles": 960000, "hw_exits": 100, "exits": {"CPUID": 100}}
    ]})");
  std::optional<Efficiency> e = efficiency_from_stats(stats);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->innermost_level, 3u);
  EXPECT_EQ(e->innermost_instructions, 950000u);
  EXPECT_EQ(e->all_instructions, 1000000u);
  EXPECT_DOUBLE_EQ(e->share(), 0.95);
}

TEST(PgEfficiency, AbsentWithoutLevelsAndMalformedLevelsThrow) {
  EXPECT_FALSE(efficiency_from_stats(nlohmann::ordered_json::parse(R"({"instructions": 5})")).has_value());
  EXPECT_THROW(efficiency_from_stats(nlohmann::ordered_json::parse(R"({"levels": [{"level": 1}]})")),
               std::runtime_error);
}

}  // namespace
}  // namespace nestbed::pg
