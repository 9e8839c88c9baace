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
  // Modeled cycles have no clock rate: 1 us of the format is 1 cycle, and
  // no displayTimeUnit claims otherwise.
  EXPECT_FALSE(doc.contains("displayTimeUnit"));
  EXPECT_EQ(doc.at("otherData").at("time_unit"),
            "ts and dur: 1 us = 1 modeled cycle (no clock rate; trace export --hz converts)");

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
  EXPECT_EQ(doc.at("displayTimeUnit"), "ns");
}

// The Trace Event Format's documented fields (Google's "Trace Event
// Format" document; Perfetto's JSON importer reads the same): every event
// has name, ph, pid; "X" events ts and dur (us), "i" events ts and a scope
// s of g/p/t, "M" events a name among the metadata names; displayTimeUnit,
// when present, is "ms" or "ns". (No trace processor is packaged for
// Debian 12 or on npm to load it with.)
void expect_trace_event_format(const json& doc) {
  ASSERT_TRUE(doc.is_object());
  if (doc.contains("displayTimeUnit")) {
    EXPECT_TRUE(doc.at("displayTimeUnit") == "ms" || doc.at("displayTimeUnit") == "ns") << doc.at("displayTimeUnit");
  }
  ASSERT_TRUE(doc.at("traceEvents").is_array());
  for (const json& e : doc.at("traceEvents")) {
    ASSERT_TRUE(e.contains("name") && e.contains("ph") && e.contains("pid")) << e;
    const std::string ph = e.at("ph");
    if (ph == "X") {
      EXPECT_TRUE(e.at("ts").is_number() && e.at("dur").is_number() && e.at("dur").get<double>() >= 0) << e;
    } else if (ph == "i") {
      EXPECT_TRUE(e.at("ts").is_number()) << e;
      EXPECT_TRUE(e.at("s") == "g" || e.at("s") == "p" || e.at("s") == "t") << e;
    } else if (ph == "M") {
      const std::string name = e.at("name");
      EXPECT_TRUE(name == "process_name" || name == "thread_name" || name == "thread_sort_index" ||
                  name == "process_sort_index")
          << e;
    } else {
      ADD_FAILURE() << "unexpected phase " << ph;
    }
  }
}

TEST(ExitTracerPerfetto, FollowsTheTraceEventFormat) {
  const ExitTrace t = sample();
  expect_trace_event_format(json::parse(written([&](std::FILE* f) { write_perfetto_json(t, f); })));
  expect_trace_event_format(json::parse(written([&](std::FILE* f) { write_perfetto_json(t, f, 2'000'000'000); })));
}

// A kvm trace with kernel events: as the summary counts them, they are in
// both exports.
ExitTrace kvm_trace_with_kernel_events() {
  ExitTrace t;
  t.add_note("engine", "kvm");
  t.tsc_hz = 1'000'000'000;
  const uint32_t io = t.kernel_reason_code("IO_INSTRUCTION");
  t.kernel_events.push_back(KernelEvent{100, uint32_t(KernelEventKind::Exit), io, 0x1000, 0x800000, 0, 3, 0});
  t.kernel_events.push_back(
      KernelEvent{120, uint32_t(KernelEventKind::UserspaceExit), KVM_EXIT_IO, 0, 0, 0, 3, 0});
  UserExit e{};
  e.reason = KVM_EXIT_IO;
  e.tsc_exit = 130;
  e.tsc_resume = 150;
  e.access = uint8_t(Access::Write);
  e.address = 0x80;
  t.user_exits.push_back(e);
  t.kernel_events.push_back(KernelEvent{160, uint32_t(KernelEventKind::Entry), 0, 0x1002, 0, 0, 3, 0});
  t.set_name(NameSpace::KvmExitReason, KVM_EXIT_IO, "KVM_EXIT_IO");
  return t;
}

TEST(ExitTracerCsv, AKvmTraceExportsItsKernelEventsMergedByTime) {
  const ExitTrace t = kvm_trace_with_kernel_events();
  size_t columns = 0;
  const auto rows = csv_rows(written([&](std::FILE* f) { write_csv(t, f); }), &columns);
  EXPECT_EQ(columns, 17u);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].at("record"), "kvm_exit");
  EXPECT_EQ(rows[0].at("reason_name"), "IO_INSTRUCTION");
  EXPECT_EQ(rows[0].at("tsc_exit"), "100");
  EXPECT_EQ(rows[0].at("cost_cycles"), "60") << "to the next kvm_entry";
  EXPECT_EQ(rows[0].at("info1"), "0x800000");
  EXPECT_EQ(rows[1].at("record"), "kvm_userspace_exit");
  EXPECT_EQ(rows[1].at("reason_name"), "KVM_EXIT_IO");
  EXPECT_EQ(rows[2].at("record"), "user_exit");
  EXPECT_EQ(rows[2].at("cost_cycles"), "20");
  EXPECT_EQ(rows[3].at("record"), "kvm_entry");
  EXPECT_EQ(rows[3].at("guest_rip"), "0x1002");
}

TEST(ExitTracerPerfetto, AKvmTraceExportsItsKernelEvents) {
  const ExitTrace t = kvm_trace_with_kernel_events();
  const json doc = json::parse(written([&](std::FILE* f) { write_perfetto_json(t, f); }));
  expect_trace_event_format(doc);
  const std::vector<json> spans = events(doc, "X", 2);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].at("name"), "IO_INSTRUCTION");
  EXPECT_EQ(spans[0].at("cat"), "kernel_exit");
  EXPECT_DOUBLE_EQ(spans[0].at("dur").get<double>(), 0.06);  // 60 cycles at 1 GHz
  const std::vector<json> instants = events(doc, "i", 2);
  ASSERT_EQ(instants.size(), 1u);
  EXPECT_EQ(instants[0].at("cat"), "kernel_userspace_exit");
}

TEST(ExitTracerCsv, LogicalExitsHaveTheirOwnCsv) {
  const ExitTrace t = sample();
  size_t columns = 0;
  const auto rows = csv_rows(written([&](std::FILE* f) { write_logical_csv(t, f); }), &columns);
  EXPECT_EQ(columns, 14u);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("handler_level"), "1");
  EXPECT_EQ(rows[0].at("guest_level"), "2");
  EXPECT_EQ(rows[0].at("reason"), "CPUID");
  EXPECT_EQ(rows[0].at("hw_exits"), "1");
  EXPECT_EQ(rows[0].at("cost_cycles"), "100");
}

}  // namespace
}  // namespace nestbed::trace
