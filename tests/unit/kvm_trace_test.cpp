// The exit trace: the file format (exit-tracer/TRACE_FORMAT.md), the tracefs line
// parser and the summary. None of these needs /dev/kvm.
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "exit-tracer/exit_trace.h"
#include "tests/support/memory_file.h"
#include "exit-tracer/trace_summary.h"
#include "l0/engine.h"
#include "l0/kvm/kernel_exit_events.h"

namespace nestbed::trace {
namespace {

UserExit io_exit(uint64_t seq, uint64_t tsc, uint64_t cost, uint16_t port, Access access, uint32_t data) {
  UserExit e{};
  e.seq = seq;
  e.tsc_exit = tsc;
  e.tsc_resume = cost ? tsc + cost : 0;
  e.reason = KVM_EXIT_IO;
  e.access = uint8_t(access);
  e.size = 1;
  e.count = 1;
  e.address = port;
  e.data = data;
  return e;
}

KernelEvent kernel_event(uint64_t tsc, KernelEventKind kind, uint32_t reason = 0) {
  KernelEvent e{};
  e.tsc = tsc;
  e.kind = uint32_t(kind);
  e.reason = reason;
  return e;
}

std::vector<uint8_t> to_bytes(const ExitTrace& trace) {
  nestbed::testing::MemoryFile f;
  write_trace(trace, f.file());
  return f.bytes();
}

ExitTrace sample_trace() {
  ExitTrace t;
  t.tsc_hz = 2'000'000'000;
  t.add_note("engine", "kvm");
  t.add_note("image", "build/images/pio-loop");
  t.set_name(NameSpace::KvmExitReason, KVM_EXIT_IO, "KVM_EXIT_IO");
  t.user_exits.push_back(io_exit(0, 1000, 300, 0x80, Access::Write, 7));
  t.user_exits.push_back(io_exit(1, 2000, 500, 0x3fd, Access::Read, 0x60));
  t.user_exits.push_back(io_exit(2, 3000, 0, 0xf4, Access::Write, 0));
  uint32_t io = t.kernel_reason_code("IO_INSTRUCTION");
  t.kernel_events.push_back(kernel_event(900, KernelEventKind::Exit, io));
  t.kernel_events.push_back(kernel_event(950, KernelEventKind::UserspaceExit, KVM_EXIT_IO));
  t.kernel_events.push_back(kernel_event(1400, KernelEventKind::Entry));
  t.kernel_events_lost = 3;
  return t;
}

TEST(KvmTraceFile, RoundTripsNotesNamesAndRecords) {
  const ExitTrace original = sample_trace();
  const ExitTrace read = parse_trace(to_bytes(original), "memory");
  EXPECT_EQ(read.tsc_hz, original.tsc_hz);
  EXPECT_EQ(read.notes, original.notes);
  EXPECT_EQ(read.names(), original.names());
  ASSERT_EQ(read.user_exits.size(), 3u);
  EXPECT_EQ(0, std::memcmp(read.user_exits.data(), original.user_exits.data(), 3 * sizeof(UserExit)));
  ASSERT_EQ(read.kernel_events.size(), 3u);
  EXPECT_EQ(0, std::memcmp(read.kernel_events.data(), original.kernel_events.data(), 3 * sizeof(KernelEvent)));
  EXPECT_EQ(read.kernel_events_lost, 3u);
  EXPECT_EQ(read.name(NameSpace::KernelExitReason, 0), "IO_INSTRUCTION");
}

TEST(KvmTraceFile, StartsWithTheVersionedHeaderAndRecordsAreEightByteAligned) {
  const std::vector<uint8_t> bytes = to_bytes(sample_trace());
  ASSERT_GE(bytes.size(), sizeof(FileHeader));
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  EXPECT_EQ(0, std::memcmp(h.magic, "NBTRACE", 8));
  EXPECT_EQ(h.version_major, 1);
  EXPECT_EQ(h.version_minor, VERSION_MINOR);
  EXPECT_EQ(h.header_bytes, sizeof(FileHeader));
  size_t records = 0;
  for (size_t at = h.header_bytes; at < bytes.size(); ++records) {
    RecordHeader r;
    std::memcpy(&r, bytes.data() + at, sizeof r);
    ASSERT_EQ(r.bytes % 8, 0u);
    at += r.bytes;
    if (at == bytes.size()) {
      EXPECT_EQ(r.type, uint32_t(RecordType::End));
    }
  }
  EXPECT_EQ(records, 2u /*notes*/ + 2u /*names*/ + 3u + 3u + 1u /*end*/);
}

// Kernel events come before the user exit they precede in time.
TEST(KvmTraceFile, MergesKernelEventsAndUserExitsByTsc) {
  const std::vector<uint8_t> bytes = to_bytes(sample_trace());
  std::vector<uint32_t> order;
  for (size_t at = sizeof(FileHeader); at < bytes.size();) {
    RecordHeader r;
    std::memcpy(&r, bytes.data() + at, sizeof r);
    if (r.type == uint32_t(RecordType::UserExit) || r.type == uint32_t(RecordType::KernelEvent)) order.push_back(r.type);
    at += r.bytes;
  }
  const uint32_t U = uint32_t(RecordType::UserExit), K = uint32_t(RecordType::KernelEvent);
  EXPECT_EQ(order, (std::vector<uint32_t>{K, K, U, K, U, U}));
}

TEST(KvmTraceFile, SkipsRecordTypesItDoesNotKnow) {
  std::vector<uint8_t> bytes = to_bytes(sample_trace());
  // A record of a future type (99), 16 bytes, inserted right after the header.
  std::vector<uint8_t> future(16, 0xab);
  RecordHeader r{99, 16};
  std::memcpy(future.data(), &r, sizeof r);
  bytes.insert(bytes.begin() + sizeof(FileHeader), future.begin(), future.end());
  EXPECT_EQ(parse_trace(bytes, "memory").user_exits.size(), 3u);
}

void expect_trace_error(const std::vector<uint8_t>& bytes, const std::string& expected) {
  try {
    parse_trace(bytes, "t.trace");
    FAIL() << "no error; expected one mentioning: " << expected;
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("t.trace: ", 0), 0u) << e.what();
  }
}

TEST(KvmTraceFile, RejectsWhatIsNotATrace) {
  expect_trace_error({}, "not a nestbed trace file");
  expect_trace_error(std::vector<uint8_t>(100, 'x'), "not a nestbed trace file");
}

TEST(KvmTraceFile, RejectsAnotherMajorVersion) {
  std::vector<uint8_t> bytes = to_bytes(sample_trace());
  bytes[8] = 2;  // version_major
  expect_trace_error(bytes, "version 2." + std::to_string(VERSION_MINOR) + " is not supported");
}

TEST(KvmTraceFile, RejectsATruncatedFile) {
  std::vector<uint8_t> bytes = to_bytes(sample_trace());
  bytes.resize(bytes.size() - sizeof(RecordHeader) - sizeof(End));  // drop the end record
  expect_trace_error(bytes, "truncated");
  bytes.resize(bytes.size() - 20);  // and cut a record in half
  expect_trace_error(bytes, "bad length");
}

TEST(KvmTraceFile, RejectsAnEndRecordThatDisagrees) {
  ExitTrace t = sample_trace();
  std::vector<uint8_t> bytes = to_bytes(t);
  End end;
  std::memcpy(&end, bytes.data() + bytes.size() - sizeof end, sizeof end);
  end.user_exits = 4;
  std::memcpy(bytes.data() + bytes.size() - sizeof end, &end, sizeof end);
  expect_trace_error(bytes, "counts do not match");
}

TEST(KvmTraceFile, ReadingAMissingFileOrADirectorySaysSo) {
  EXPECT_THROW(read_trace_file("/nonexistent/x.trace"), TraceError);
  try {
    read_trace_file("/");
    FAIL() << "a directory was read as a trace";
  } catch (const TraceError& e) {
    EXPECT_EQ(std::string(e.what()), "trace file '/' is a directory");
  }
}

// ---- tracefs lines ----

const char* const EXIT_LINE =
    "         nestbed-4242    [001] d..2. 1746109274240: kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0x1000a "
    "info1 0x0000000000800040 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0";

TEST(KvmTracefsLines, ParsesKvmExit) {
  ExitTrace t;
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line(EXIT_LINE, t));
  ASSERT_EQ(t.kernel_events.size(), 1u);
  const KernelEvent& e = t.kernel_events[0];
  EXPECT_EQ(e.kind, uint32_t(KernelEventKind::Exit));
  EXPECT_EQ(e.tsc, 1746109274240u);
  EXPECT_EQ(e.cpu, 1u);
  EXPECT_EQ(e.vcpu, 0u);
  EXPECT_EQ(e.guest_rip, 0x1000au);
  EXPECT_EQ(e.info1, 0x800040u);
  EXPECT_EQ(t.name(NameSpace::KernelExitReason, e.reason), "IO_INSTRUCTION");
}

TEST(KvmTracefsLines, ParsesTheOldKvmExitLayoutAndReasonsOfSeveralWords) {
  ExitTrace t;
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line(
      "qemu-system-x86-99 [000] .... 5000: kvm_exit: reason EXCEPTION_NMI FAILED_VMENTRY rip 0xfff0 info 1f 2e", t));
  const KernelEvent& e = t.kernel_events.at(0);
  EXPECT_EQ(t.name(NameSpace::KernelExitReason, e.reason), "EXCEPTION_NMI FAILED_VMENTRY");
  EXPECT_EQ(e.guest_rip, 0xfff0u);
  EXPECT_EQ(e.info1, 0x1fu);
  EXPECT_EQ(e.info2, 0x2eu);
}

TEST(KvmTracefsLines, SameReasonTextGetsTheSameCode) {
  ExitTrace t;
  nestbed::kvm::parse_trace_pipe_line(EXIT_LINE, t);
  nestbed::kvm::parse_trace_pipe_line(EXIT_LINE, t);
  EXPECT_EQ(t.kernel_events.at(0).reason, t.kernel_events.at(1).reason);
}

TEST(KvmTracefsLines, ParsesEntryNestedExitAndUserspaceExit) {
  ExitTrace t;
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line("a-1 [000] ..... 10: kvm_entry: vcpu 0, rip 0x100010", t));
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line(
      "a-1 [000] ..... 11: kvm_nested_vmexit: vcpu 0 reason CPUID rip 0x5 info1 0x0 info2 0x0 intr_info 0x0 "
      "error_code 0x0 requests 0x0",
      t));
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line("a-1 [000] ..... 12: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)", t));
  ASSERT_TRUE(nestbed::kvm::parse_trace_pipe_line("a-1 [000] ..... 13: kvm_userspace_exit: reason restart (4)", t));
  ASSERT_EQ(t.kernel_events.size(), 4u);
  EXPECT_EQ(t.kernel_events[0].kind, uint32_t(KernelEventKind::Entry));
  EXPECT_EQ(t.kernel_events[0].guest_rip, 0x100010u);
  EXPECT_EQ(t.kernel_events[1].kind, uint32_t(KernelEventKind::NestedExit));
  EXPECT_EQ(t.name(NameSpace::KernelExitReason, t.kernel_events[1].reason), "CPUID");
  EXPECT_EQ(t.kernel_events[2].reason, uint32_t(KVM_EXIT_MMIO));
  EXPECT_EQ(t.name(NameSpace::KvmExitReason, KVM_EXIT_MMIO), "KVM_EXIT_MMIO");
  EXPECT_EQ(t.kernel_events[3].reason, uint32_t(KVM_EXIT_INTR));  // -EINTR: user space sees KVM_EXIT_INTR
}

TEST(KvmTracefsLines, CountsLostEventsAndIgnoresOtherLines) {
  ExitTrace t;
  EXPECT_FALSE(nestbed::kvm::parse_trace_pipe_line("CPU:1 [LOST 42 EVENTS]", t));
  EXPECT_FALSE(nestbed::kvm::parse_trace_pipe_line("# tracer: nop", t));
  EXPECT_FALSE(nestbed::kvm::parse_trace_pipe_line("a-1 [000] ..... 12: kvm_pio: pio_write at 0x80 size 1", t));
  EXPECT_FALSE(nestbed::kvm::parse_trace_pipe_line("a-1 [000] ..... 12.345678: kvm_exit: reason HLT rip 0x1", t))
      << "a non-TSC clock's timestamp cannot merge with RDTSC";
  EXPECT_EQ(t.kernel_events_lost, 42u);
  EXPECT_TRUE(t.kernel_events.empty());
}

// ---- summary ----

TEST(KvmTraceSummary, CostsUserExitsFromReturnToNextRunAndLeavesTheLastUntimed) {
  const TraceSummary s = summarize(sample_trace());
  ASSERT_EQ(s.user_exits.size(), 1u);
  EXPECT_EQ(s.user_exits[0].label, "KVM_EXIT_IO");
  EXPECT_EQ(s.user_exits[0].count, 3u);
  EXPECT_EQ(s.user_exits[0].timed, 2u);
  EXPECT_EQ(s.user_exits[0].total_cycles, 800u);
  EXPECT_DOUBLE_EQ(s.user_exits[0].mean_cycles(), 400.0);
  ASSERT_EQ(s.user_accesses.size(), 3u);
  std::vector<std::string> labels;
  for (const CostRow& r : s.user_accesses) labels.push_back(r.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"port 0x3fd in", "port 0x80 out", "port 0xf4 out"}));
}

TEST(KvmTraceSummary, CostsKernelExitsToTheNextEntryAndTheWayOutToUserSpace) {
  const TraceSummary s = summarize(sample_trace());
  ASSERT_EQ(s.kernel_exits.size(), 1u);
  EXPECT_EQ(s.kernel_exits[0].label, "IO_INSTRUCTION");
  EXPECT_EQ(s.kernel_exits[0].total_cycles, 1400u - 900u);
  EXPECT_EQ(s.kernel_entries, 1u);
  ASSERT_EQ(s.kernel_to_user.size(), 1u);
  EXPECT_EQ(s.kernel_to_user[0].total_cycles, 1000u - 950u);
}

TEST(KvmTraceSummary, AnExitFollowedByAnotherExitHasNoCost) {
  ExitTrace t;
  uint32_t hlt = t.kernel_reason_code("HLT");
  t.kernel_events.push_back(kernel_event(10, KernelEventKind::Exit, hlt));
  t.kernel_events.push_back(kernel_event(20, KernelEventKind::Exit, hlt));
  t.kernel_events.push_back(kernel_event(25, KernelEventKind::Entry));
  const TraceSummary s = summarize(t);
  ASSERT_EQ(s.kernel_exits.size(), 1u);
  EXPECT_EQ(s.kernel_exits[0].count, 2u);
  EXPECT_EQ(s.kernel_exits[0].timed, 1u);
  EXPECT_EQ(s.kernel_exits[0].total_cycles, 5u);
}

TEST(KvmTraceSummary, PrintsATableRowPerReason) {
  nestbed::testing::MemoryFile f;
  print_trace_summary(sample_trace(), "x.trace", f.file());
  const std::string text = f.text();
  EXPECT_NE(text.find("x.trace: nestbed trace 1.3, TSC 2.000 GHz"), std::string::npos) << text;
  EXPECT_NE(text.find("image: build/images/pio-loop"), std::string::npos) << text;
  EXPECT_NE(text.find("  KVM_EXIT_IO                               3              800          400.0        200.0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  port 0xf4 out                             1                0              -            -"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("3 kernel events lost"), std::string::npos) << text;
}

}  // namespace
}  // namespace nestbed::trace
