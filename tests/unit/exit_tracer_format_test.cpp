// exit-tracer's file format 1.3 (exit-tracer/TRACE_FORMAT.md) and the sim's
// recorder: what SimTraceRecorder writes reads back the same, levels come
// from VMCS_LEVEL annotations, and the reader refuses what it must.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "exit-tracer/exit_trace.h"
#include "l0/engine.h"
#include "l0/sim/trace_recorder.h"
#include "tests/unit/exit_tracer_builder.h"

namespace nestbed::trace {
namespace {

using arch::vmx::ExitReason;
using testing::SimTraceBuilder;
using Kind = arch::trace::AnnotationKind;

constexpr uint64_t VMCS01 = 0x5000, VMCS02 = 0x6000;

// The records of a file: (type, bytes) in order.
std::vector<RecordHeader> record_headers(const std::vector<uint8_t>& bytes) {
  std::vector<RecordHeader> records;
  for (size_t at = sizeof(FileHeader); at < bytes.size();) {
    RecordHeader r;
    std::memcpy(&r, bytes.data() + at, sizeof r);
    records.push_back(r);
    at += r.bytes;
  }
  return records;
}

void expect_trace_error(const std::vector<uint8_t>& bytes, const std::string& expected) {
  try {
    parse_trace(bytes, "t.trace");
    FAIL() << "no error; expected one mentioning: " << expected;
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(ExitTracerFormat, RecordLayoutsHaveTheDocumentedSizes) {
  EXPECT_EQ(sizeof(HwExit), 96u);
  EXPECT_EQ(sizeof(HwEntry), 48u);
  EXPECT_EQ(sizeof(Annotation), 88u);
  EXPECT_EQ(sizeof(End), 56u);
  EXPECT_EQ(offsetof(HwExit, level), 72u);
  EXPECT_EQ(offsetof(HwExit, insn_bytes), 75u);
  EXPECT_EQ(offsetof(Annotation, args), 48u);
  EXPECT_EQ(offsetof(HwExit, code_size), 90u);
  EXPECT_EQ(sizeof(PackedHeader), 8u);
  EXPECT_EQ(VERSION_MAJOR, 1);
  EXPECT_EQ(VERSION_MINOR, 3);
}

TEST(ExitTracerFormat, RecorderRoundTripsExitsEntriesAndAnnotationsInOrder) {
  SimTraceBuilder b;
  b.annotate(5, Kind::VMCS_LEVEL, VMCS01, 2)
      .entry(10, VMCS01, true)
      .exit(100, ExitReason::CPUID, VMCS01, 0, {0x0f, 0xa2})
      .annotate(110, Kind::LOGICAL_EXIT, 1, 2, 10, 0)
      .entry(150, VMCS01);
  const ExitTrace t = b.read();
  EXPECT_EQ(t.version_major, 1);
  EXPECT_EQ(t.version_minor, 3);
  EXPECT_EQ(t.tsc_hz, 0u) << "modeled cycles have no frequency";
  ASSERT_NE(t.note("engine"), nullptr);
  EXPECT_EQ(*t.note("engine"), "sim");

  ASSERT_EQ(t.hw_exits.size(), 1u);
  const HwExit& e = t.hw_exits[0];
  EXPECT_EQ(e.seq, 0u);
  EXPECT_EQ(e.cycles, 100u);
  EXPECT_EQ(e.instructions, 50u);
  EXPECT_EQ(e.exit_reason, uint32_t(ExitReason::CPUID));
  EXPECT_EQ(e.vmcs, VMCS01);
  EXPECT_EQ(e.level, 2);
  EXPECT_EQ(e.flags, LEVEL_REGISTERED);
  ASSERT_EQ(e.insn_len, 2);
  EXPECT_EQ(e.insn_bytes[0], 0x0f);
  EXPECT_EQ(e.insn_bytes[1], 0xa2);

  ASSERT_EQ(t.hw_entries.size(), 2u);
  EXPECT_EQ(t.hw_entries[0].launch, 1);
  EXPECT_EQ(t.hw_entries[1].launch, 0);
  EXPECT_EQ(t.hw_entries[1].seq, 1u);
  EXPECT_EQ(t.hw_entries[1].cycles, 150u);

  ASSERT_EQ(t.annotations.size(), 2u);
  const Annotation& a = t.annotations[1];
  EXPECT_EQ(a.kind, uint64_t(Kind::LOGICAL_EXIT));
  EXPECT_EQ(a.args[0], 1u);  // RDI
  EXPECT_EQ(a.args[1], 2u);  // RSI
  EXPECT_EQ(a.args[2], 10u);  // RDX
  EXPECT_EQ(a.level, 1) << "executed in VMX root operation";

  using R = RecordType;
  std::vector<R> order;
  for (const ExitTrace::SimRecord& r : t.sim_order) order.push_back(r.type);
  EXPECT_EQ(order, (std::vector<R>{R::Annotation, R::HwEntry, R::HwExit, R::Annotation, R::HwEntry}));
}

TEST(ExitTracerFormat, FilesNameTheReasonsAndKindsTheyUse) {
  SimTraceBuilder b;
  b.exit(100, ExitReason::CPUID, VMCS01).exit(200, ExitReason::CPUID, VMCS01).exit(300, ExitReason::HLT, VMCS01);
  b.annotate(310, Kind::MARK, 7, 0);
  const std::vector<uint8_t> bytes = b.bytes();
  const ExitTrace t = parse_trace(bytes, "m");
  EXPECT_EQ(t.names().size(), 3u);
  EXPECT_TRUE(t.has_name(NameSpace::VmxExitReason, 10));
  EXPECT_EQ(t.name(NameSpace::VmxExitReason, 12), "HLT");
  EXPECT_EQ(t.name(NameSpace::AnnotationKind, 5), "MARK");
  size_t names = 0;
  for (const RecordHeader& r : record_headers(bytes)) names += r.type == uint32_t(RecordType::Name);
  EXPECT_EQ(names, 3u) << "one Name record per code, before its first use";
}

TEST(ExitTracerFormat, HardwareExitLevelsComeFromRootModeVmcsLevelAnnotations) {
  SimTraceBuilder b;
  b.exit(10, ExitReason::CPUID, VMCS02)  // before any VMCS_LEVEL: the default
      .annotate(20, Kind::VMCS_LEVEL, VMCS02, 3)
      .exit(30, ExitReason::CPUID, VMCS02)
      // a level-2 VMM's VMCS_LEVEL names one of its guest-physical pages: not applied
      .annotate(40, Kind::VMCS_LEVEL, 0x7000, 4, 0, 0, true, VMCS02)
      .exit(50, ExitReason::CPUID, 0x7000);
  const ExitTrace t = b.read();
  ASSERT_EQ(t.hw_exits.size(), 3u);
  EXPECT_EQ(t.hw_exits[0].level, DEFAULT_GUEST_LEVEL);
  EXPECT_EQ(t.hw_exits[0].flags, 0);
  EXPECT_EQ(t.hw_exits[1].level, 3);
  EXPECT_EQ(t.hw_exits[1].flags, LEVEL_REGISTERED);
  EXPECT_EQ(t.hw_exits[2].level, DEFAULT_GUEST_LEVEL);
  EXPECT_EQ(t.annotations[1].level, 3) << "a non-root annotation is at its VMCS's level";
  EXPECT_EQ(t.annotations[1].non_root, 1);
}

TEST(ExitTracerFormat, RecordingIsDeterministic) {
  auto build = [] {
    SimTraceBuilder b;
    b.annotate(1, Kind::VMCS_LEVEL, VMCS01, 2).exit(100, ExitReason::IO_INSTRUCTION, VMCS01, 0x800000, {0xee});
    b.entry(120, VMCS01);
    return b.bytes();
  };
  EXPECT_EQ(build(), build());
}

TEST(ExitTracerFormat, BytesPastTheInstructionLengthAreNotRecorded) {
  SimTraceRecorder::Notes notes;
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  {
    SimTraceRecorder rec(f, notes);
    sim::HwExitEvent e{};
    std::memset(e.insn_bytes, 0xcc, sizeof e.insn_bytes);
    e.insn_len = 1;
    rec.hw_exit(e);
    rec.finish();
  }
  std::fclose(f);
  const ExitTrace t = parse_trace(std::vector<uint8_t>(buffer, buffer + size), "m");
  std::free(buffer);
  ASSERT_EQ(t.hw_exits.size(), 1u);
  EXPECT_EQ(t.hw_exits[0].insn_bytes[0], 0xcc);
  for (unsigned i = 1; i < sizeof t.hw_exits[0].insn_bytes; ++i) EXPECT_EQ(t.hw_exits[0].insn_bytes[i], 0) << i;
}

TEST(ExitTracerFormat, RefusesAnotherMajorVersion) {
  SimTraceBuilder b;
  std::vector<uint8_t> bytes = b.exit(1, ExitReason::HLT, VMCS01).bytes();
  bytes[8] = 2;  // version_major
  expect_trace_error(bytes, "trace format version 2." + std::to_string(VERSION_MINOR) +
                                " is not supported (this nestbed reads 1.x)");
}

TEST(ExitTracerFormat, DetectsTruncation) {
  SimTraceBuilder b;
  std::vector<uint8_t> bytes = b.exit(1, ExitReason::HLT, VMCS01).entry(2, VMCS01).bytes();
  std::vector<uint8_t> no_end(bytes.begin(), bytes.end() - sizeof(RecordHeader) - sizeof(End));
  expect_trace_error(no_end, "truncated: no end record");
  std::vector<uint8_t> half(bytes.begin(), bytes.end() - sizeof(RecordHeader) - sizeof(End) - 20);
  expect_trace_error(half, "has a bad length");
}

TEST(ExitTracerFormat, ARecorderThatIsNotFinishedLeavesATruncatedFile) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buffer, &size);
  {
    SimTraceRecorder rec(f, {});
    rec.hw_exit(sim::HwExitEvent{});
  }  // a run that threw: no finish()
  std::fclose(f);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  expect_trace_error(bytes, "truncated");
}

TEST(ExitTracerFormat, RejectsAnEndRecordWhoseSimCountsDisagree) {
  SimTraceBuilder b;
  std::vector<uint8_t> bytes = b.exit(1, ExitReason::HLT, VMCS01).bytes();
  End end;
  std::memcpy(&end, bytes.data() + bytes.size() - sizeof end, sizeof end);
  EXPECT_EQ(end.hw_exits, 1u);
  end.hw_exits = 2;
  std::memcpy(bytes.data() + bytes.size() - sizeof end, &end, sizeof end);
  expect_trace_error(bytes, "counts do not match");
}

// A 1.0 file has a 32-byte End; the 1.1 reader takes the sim counts as 0.
TEST(ExitTracerFormat, ReadsA1_0FileWithItsShorterEndRecord) {
  std::vector<uint8_t> bytes(sizeof(FileHeader) + sizeof(RecordHeader) + END_1_0_BYTES, 0);
  FileHeader h{};
  std::memcpy(h.magic, MAGIC, sizeof MAGIC);
  h.version_major = 1;
  h.version_minor = 0;
  h.header_bytes = sizeof h;
  std::memcpy(bytes.data(), &h, sizeof h);
  RecordHeader r{uint32_t(RecordType::End), uint32_t(sizeof(RecordHeader) + END_1_0_BYTES)};
  std::memcpy(bytes.data() + sizeof h, &r, sizeof r);
  const ExitTrace t = parse_trace(bytes, "old.trace");
  EXPECT_EQ(t.version_minor, 0);
  EXPECT_TRUE(t.hw_exits.empty());
}

// A later minor version may add record types and append fields to a record:
// this reader skips the one and reads the known prefix of the other.
// A fixed-size HwExit record (1.1's layout, which 1.3 still reads) and an
// End, written by hand.
template <typename T>
void append(std::vector<uint8_t>& bytes, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  bytes.insert(bytes.end(), p, p + sizeof value);
}

TEST(ExitTracerFormat, ReadsALaterMinorVersionsLongerRecordsAndNewTypes) {
  std::vector<uint8_t> bytes;
  FileHeader header{};
  std::memcpy(header.magic, MAGIC, sizeof MAGIC);
  header.version_major = 1;
  header.version_minor = 9;  // 1.9
  header.header_bytes = sizeof header;
  append(bytes, header);
  // A record of an unknown type.
  append(bytes, RecordHeader{77, 24});
  bytes.insert(bytes.end(), 16, 0xab);
  // An HwExit grown by 8 bytes of a future field.
  HwExit e{};
  e.cycles = 100;
  e.exit_reason = uint32_t(ExitReason::CPUID);
  append(bytes, RecordHeader{uint32_t(RecordType::HwExit), uint32_t(8 + sizeof e + 8)});
  append(bytes, e);
  bytes.insert(bytes.end(), 8, 0xee);
  End end{};
  end.hw_exits = 1;
  append(bytes, RecordHeader{uint32_t(RecordType::End), uint32_t(8 + sizeof end)});
  append(bytes, end);

  const ExitTrace t = parse_trace(bytes, "future.trace");
  EXPECT_EQ(t.version_minor, 9);
  ASSERT_EQ(t.hw_exits.size(), 1u);
  EXPECT_EQ(t.hw_exits[0].cycles, 100u);
  EXPECT_EQ(t.hw_exits[0].exit_reason, uint32_t(ExitReason::CPUID));
}

TEST(ExitTracerFormat, AnUnwritableTraceFileIsAnInputError) {
  try {
    SimTraceRecorder rec("/nonexistent/dir/x.trace", {});
    FAIL() << "opened";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write trace file '/nonexistent/dir/x.trace': No such file or directory");
  }
}

TEST(ExitTracerFormat, AWriteFailureDuringTheRunIsReportedByFinish) {
  SimTraceRecorder rec("/dev/full", {{"engine", "sim"}});
  for (int i = 0; i < 20000; ++i) rec.hw_exit(sim::HwExitEvent{});  // more than the stream buffer holds
  try {
    rec.finish();
    FAIL() << "no error writing to /dev/full";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write trace file '/dev/full'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nestbed::trace
