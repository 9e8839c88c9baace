// exit-tracer's exports: the CSV (one row per exit, a fixed header) and the
// Chrome/Perfetto trace-event JSON (parsed back with nlohmann-json).
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "exit-tracer/trace_export.h"
#include "tests/unit/exit_tracer_builder.h"

namespace nestbed::trace {
namespace {

using arch::vmx::ExitReason;
using testing::SimTraceBuilder;
using Kind = arch::trace::AnnotationKind;
using nlohmann::json;

constexpr uint64_t VMCS01 = 0x5000;

ExitTrace sample() {
  SimTraceBuilder b;
  b.annotate(0, Kind::VMCS_LEVEL, VMCS01, 2).entry(10, VMCS01, true);
  b.exit(1000, ExitReason::CPUID, VMCS01, 0, {0x0f, 0xa2}, 0x100a3c)
      .annotate(1010, Kind::LOGICAL_EXIT, 1, 2, uint64_t(ExitReason::CPUID), 0)
      .annotate(1090, Kind::LOGICAL_EXIT_DONE, 1, 2)
      .entry(1100, VMCS01);
  b.exit(2000, ExitReason::IO_INSTRUCTION, VMCS01, 0x800000, {0xee}).entry(2050, VMCS01);
  b.annotate(2100, Kind::MARK, 9, 1, 2, 3, true, VMCS01);
  b.exit(3000, ExitReason::HLT, VMCS01, 0, {0xf4});
  return b.read();
}

template <typename Write>
std::string written(Write write) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  write(f);
  std::fclose(f);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

// RFC 4180 fields of one line (quoted fields may hold commas and "").
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

// The CSV as maps from column name to value, one per row.
std::vector<std::map<std::string, std::string>> csv_rows(const std::string& text, size_t* columns) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = csv_fields(line);
  *columns = header.size();
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = csv_fields(line);
    EXPECT_EQ(fields.size(), header.size()) << line;
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < fields.size() && i < header.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(row);
  }
  return rows;
}

TEST(ExitTracerCsv, OneRowPerHardwareExitWithAFixedHeader) {
  const ExitTrace t = sample();
  const std::string text = written([&](std::FILE* f) { write_csv(t, f); });
  size_t columns = 0;
  const auto rows = csv_rows(text, &columns);
  EXPECT_EQ(columns, 22u);
  ASSERT_EQ(rows.size(), 3u);

  const auto& cpuid = rows[0];
  EXPECT_EQ(cpuid.at("seq"), "0");
  EXPECT_EQ(cpuid.at("level"), "2");
  EXPECT_EQ(cpuid.at("exit_reason"), "10");
  EXPECT_EQ(cpuid.at("reason"), "CPUID");
  EXPECT_EQ(cpuid.at("entry_failure"), "0");
  EXPECT_EQ(cpuid.at("guest_rip"), "0x100a3c");
  EXPECT_EQ(cpuid.at("insn_bytes"), "0f a2");
  EXPECT_EQ(cpuid.at("instruction"), "cpuid");
  EXPECT_EQ(cpuid.at("exit_cycles"), "1000");
  EXPECT_EQ(cpuid.at("entry_cycles"), "1100");
  EXPECT_EQ(cpuid.at("cost_cycles"), "100");
  EXPECT_EQ(cpuid.at("cause"), "0");
  EXPECT_EQ(cpuid.at("cause_level"), "1");
  EXPECT_EQ(cpuid.at("cause_reason"), "CPUID");

  const auto& out = rows[1];
  EXPECT_EQ(out.at("description"), "OUT 1 byte to port 0x80 (port in DX)");
  EXPECT_EQ(out.at("cost_cycles"), "50");
  EXPECT_EQ(out.at("cause"), "") << "not annotated";

  EXPECT_EQ(rows[2].at("reason"), "HLT");
  EXPECT_EQ(rows[2].at("cost_cycles"), "") << "the run ended here";
}

TEST(ExitTracerCsv, QuotesFieldsThatHoldCommas) {
  SimTraceBuilder b;
  namespace io = arch::vmx::qual_io;
  b.exit(5, ExitReason::IO_INSTRUCTION, VMCS01, io::STRING.mask | io::REP.mask | io::PORT.make(0x3f8));
  const ExitTrace t = b.read();
  const std::string text = written([&](std::FILE* f) { write_csv(t, f); });
  EXPECT_NE(text.find("\"OUT 1 byte to port 0x3f8 (port in DX), REP string\""), std::string::npos) << text;
}

TEST(ExitTracerCsv, AKvmTraceExportsItsUserExits) {
  ExitTrace t;
  t.add_note("engine", "kvm");
  UserExit e{};
  e.reason = KVM_EXIT_IO;
  e.tsc_exit = 100;
  e.tsc_resume = 130;
  e.access = uint8_t(Access::Write);
  e.address = 0x80;
  t.user_exits.push_back(e);
  const std::string text = written([&](std::FILE* f) { write_csv(t, f); });
  size_t columns = 0;
  const auto rows = csv_rows(text, &columns);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("access"), "write");
  EXPECT_EQ(rows[0].at("address"), "0x80");
  EXPECT_EQ(rows[0].at("cost_cycles"), "30");
}

// All events of a kind ("X", "M", "i") on a process.
std::vector<json> events(const json& doc, const std::string& ph, int pid) {
  std::vector<json> found;
  for (const json& e : doc.at("traceEvents"))
    if (e.at("ph") == ph && e.at("pid") == pid) found.push_back(e);
  return found;
}

TEST(ExitTracerPerfetto, ExitsAreCompleteEventsOnATrackPerLevel) {
  const ExitTrace t = sample();
  const json doc = json::parse(written([&](std::FILE* f) { write_perfetto_json(t, f); }));
  EXPECT_EQ(doc.at("displayTimeUnit"), "ns");
  EXPECT_EQ(doc.at("otherData").at("time_unit"), "1 us in the viewer = 1 modeled cycle");

  const std::vector<json> hw = events(doc, "X", 1);
  ASSERT_EQ(hw.size(), 2u);
  EXPECT_EQ(hw[0].at("name"), "CPUID");
  EXPECT_EQ(hw[0].at("cat"), "hw_exit");
  EXPECT_EQ(hw[0].at("tid"), 2);
  EXPECT_EQ(hw[0].at("ts"), 1000);
  EXPECT_EQ(hw[0].at("dur"), 100);
  EXPECT_EQ(hw[0].at("args").at("instruction"), "cpuid");
  EXPECT_EQ(hw[0].at("args").at("rip"), "0x100a3c");
  EXPECT_EQ(hw[0].at("args").at("cause"), 0);
  EXPECT_EQ(hw[1].at("args").at("qualification"), "OUT 1 byte to port 0x80 (port in DX)");
  const std::vector<json> untimed = events(doc, "i", 1);
  ASSERT_EQ(untimed.size(), 1u) << "the last exit has no duration";
  EXPECT_EQ(untimed[0].at("name"), "HLT");

  const std::vector<json> logical = events(doc, "X", 2);
  ASSERT_EQ(logical.size(), 1u);
  EXPECT_EQ(logical[0].at("cat"), "logical_exit");
  EXPECT_EQ(logical[0].at("tid"), 1) << "handled by level 1";
  EXPECT_EQ(logical[0].at("dur"), 100);
  EXPECT_EQ(logical[0].at("args").at("hw_exits"), 1);
  const std::vector<json> marks = events(doc, "i", 2);
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(marks[0].at("tid"), 2) << "made by level 2";
  EXPECT_EQ(marks[0].at("args").at("id"), 9);

  std::vector<std::string> tracks;
  for (const json& m : events(doc, "M", 1))
    if (m.at("name") == "thread_name") tracks.push_back(m.at("args").at("name"));
  EXPECT_EQ(tracks, (std::vector<std::string>{"level 2 exits"}));
}

TEST(ExitTracerPerfetto, ANominalFrequencyGivesMicroseconds) {
  const ExitTrace t = sample();
  const json doc = json::parse(written([&](std::FILE* f) { write_perfetto_json(t, f, 1'000'000'000); }));
  const std::vector<json> hw = events(doc, "X", 1);
  ASSERT_FALSE(hw.empty());
  EXPECT_DOUBLE_EQ(hw[0].at("ts").get<double>(), 1.0);  // 1000 cycles at 1 GHz
  EXPECT_DOUBLE_EQ(hw[0].at("dur").get<double>(), 0.1);
}

}  // namespace
}  // namespace nestbed::trace
