// Trace format 1.2 (exit-tracer/TRACE_FORMAT.md "Packed"): the sim's
// records in compact Packed records read back exactly as written; a 1.1
// file (tests/trace_fixtures/, written by the 1.1 writer from a depth-1
// cpuid-loop run) still reads, and rewritten as 1.2 it holds the same
// records in at most 64 bytes each on average; damaged Packed records are
// refused with a message.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "exit-tracer/exit_trace.h"
#include "exit-tracer/packed_records.h"
#include "exit-tracer/trace_writer.h"

#ifndef NESTBED_TRACE_FIXTURE_DIR
#error "tests/trace.cmake defines NESTBED_TRACE_FIXTURE_DIR"
#endif

namespace nestbed::trace {
namespace {

const std::string FIXTURE_1_1 = std::string(NESTBED_TRACE_FIXTURE_DIR) + "/depth1-cpuid-loop-20.v1.1.trace";

std::vector<uint8_t> to_bytes(const ExitTrace& trace) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* stream = open_memstream(&buffer, &size);
  write_trace(trace, stream);
  std::fclose(stream);
  std::vector<uint8_t> bytes(buffer, buffer + size);
  std::free(buffer);
  return bytes;
}

template <typename Record>
void expect_same_records(const std::vector<Record>& a, const std::vector<Record>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(Record)), 0) << what << " #" << i;
}

void expect_same_sim_records(const ExitTrace& a, const ExitTrace& b) {
  expect_same_records(a.hw_exits, b.hw_exits, "hw exit");
  expect_same_records(a.hw_entries, b.hw_entries, "hw entry");
  expect_same_records(a.annotations, b.annotations, "annotation");
  ASSERT_EQ(a.sim_order.size(), b.sim_order.size());
  for (size_t i = 0; i < a.sim_order.size(); ++i) {
    EXPECT_EQ(a.sim_order[i].type, b.sim_order[i].type) << i;
    EXPECT_EQ(a.sim_order[i].index, b.sim_order[i].index) << i;
  }
}

TEST(ExitTracerPacked, Reads1_1Files) {
  const ExitTrace t = read_trace_file(FIXTURE_1_1);
  EXPECT_EQ(t.version_minor, 1);
  EXPECT_EQ(t.hw_exits.size(), 20u);  // cpuid-loop 20 under l1-vmm: one exit per CPUID
  EXPECT_EQ(t.hw_entries.size(), 21u);  // VMLAUNCH and a VMRESUME after each exit
  EXPECT_GT(t.annotations.size(), 20u);
  for (const HwExit& e : t.hw_exits) EXPECT_EQ(e.code_size, 0) << "1.1 has no code size: read as unknown";
}

TEST(ExitTracerPacked, A1_1TraceRewrittenAs1_2HoldsTheSameRecordsInAtMost64BytesEach) {
  const ExitTrace old_trace = read_trace_file(FIXTURE_1_1);
  const std::vector<uint8_t> bytes = to_bytes(old_trace);
  const ExitTrace new_trace = parse_trace(bytes, "rewritten.trace");
  EXPECT_EQ(new_trace.version_minor, VERSION_MINOR);
  EXPECT_EQ(new_trace.notes, old_trace.notes);
  expect_same_sim_records(old_trace, new_trace);

  // Only the sim records' bytes: everything after the notes and names.
  size_t records = new_trace.sim_order.size(), notes_and_names = sizeof(FileHeader);
  for (const auto& [key, value] : new_trace.notes) notes_and_names += (8 + key.size() + value.size() + 2 + 7) / 8 * 8;
  for (const auto& [key, text] : new_trace.names()) notes_and_names += (8 + 8 + text.size() + 1 + 7) / 8 * 8;
  const double per_record = double(bytes.size() - notes_and_names - 8 - sizeof(End)) / double(records);
  EXPECT_LE(per_record, 64.0) << bytes.size() << " bytes for " << records << " records";
}

TEST(ExitTracerPacked, EveryFieldRoundTripsIncludingExtremeValues) {
  ExitTrace t;
  HwExit x{};
  x.cycles = ~0ull;
  x.instructions = 1ull << 63;
  x.exit_reason = 0x80000021;
  x.intr_info = 0x80000b0e;
  x.qualification = ~0ull - 5;
  x.guest_rip = 0xffffffff80001000;
  x.guest_linear_address = 0x7fff12345678;
  x.guest_physical_address = 0xfee00000;
  x.vmcs = 0x103e000;
  x.level = 5;
  x.flags = 1;
  x.code_size = 32;
  x.insn_len = 15;
  for (uint8_t i = 0; i < 15; ++i) x.insn_bytes[i] = uint8_t(0xf0 + i);
  t.add(x);
  HwEntry n{};
  n.seq = 0;
  n.cycles = 3;  // far below the exit's: differences go both ways
  n.vmcs = NO_VMCS;
  n.guest_rip = 0;
  n.level = 2;
  n.launch = 1;
  t.add(n);
  Annotation a{};
  a.cycles = 7;
  a.vmcs = NO_VMCS;
  a.kind = 6;
  a.args[0] = ~0ull;
  a.args[3] = 1;
  a.level = 1;
  a.non_root = 1;
  t.add(a);
  x.seq = 1;
  x.cycles = 0;
  x.code_size = 0;
  x.insn_len = 0;
  std::memset(x.insn_bytes, 0, sizeof x.insn_bytes);
  t.add(x);
  expect_same_sim_records(t, parse_trace(to_bytes(t), "extremes.trace"));
}

TEST(ExitTracerPacked, LongRunsSpanSeveralPackedRecords) {
  ExitTrace t;
  for (uint64_t i = 0; i < 20000; ++i) {
    HwExit x{};
    x.seq = i;
    x.cycles = 1000 * i;
    x.guest_rip = 0x100000 + (i % 7);
    x.exit_reason = 10;
    x.insn_len = 2;
    x.insn_bytes[0] = 0x0f;
    x.insn_bytes[1] = 0xa2;
    t.add(x);
  }
  const std::vector<uint8_t> bytes = to_bytes(t);
  EXPECT_GT(bytes.size(), TraceWriter::PACKED_BLOCK_BYTES);  // so more than one block
  expect_same_sim_records(t, parse_trace(bytes, "long.trace"));
}

// The offset of the first Packed record's payload in a file.
size_t first_packed_payload(const std::vector<uint8_t>& bytes) {
  for (size_t at = sizeof(FileHeader); at < bytes.size();) {
    RecordHeader r;
    std::memcpy(&r, bytes.data() + at, sizeof r);
    if (r.type == uint32_t(RecordType::Packed)) return at + sizeof r;
    at += r.bytes;
  }
  return 0;
}

void expect_trace_error(const std::vector<uint8_t>& bytes, const std::string& expected) {
  try {
    parse_trace(bytes, "t.trace");
    FAIL() << "no error; expected one mentioning: " << expected;
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(ExitTracerPacked, DamagedPackedRecordsAreRefused) {
  ExitTrace t;
  HwExit x{};
  x.cycles = 5;
  t.add(x);
  const std::vector<uint8_t> good = to_bytes(t);
  const size_t at = first_packed_payload(good);
  ASSERT_NE(at, 0u);
  PackedHeader h;
  std::memcpy(&h, good.data() + at, sizeof h);

  std::vector<uint8_t> bad_tag = good;
  bad_tag[at + sizeof h] = 0x7f;
  expect_trace_error(bad_tag, "unknown record tag");

  std::vector<uint8_t> wrong_count = good;
  PackedHeader more = h;
  more.count = 2;
  std::memcpy(wrong_count.data() + at, &more, sizeof more);
  expect_trace_error(wrong_count, "holds 1 records, its header says 2");

  std::vector<uint8_t> short_payload = good;
  PackedHeader shorter = h;
  shorter.payload_bytes = 3;
  std::memcpy(short_payload.data() + at, &shorter, sizeof shorter);
  expect_trace_error(short_payload, "runs past its end");

  std::vector<uint8_t> too_long = good;
  PackedHeader longer = h;
  longer.payload_bytes = 1u << 30;
  std::memcpy(too_long.data() + at, &longer, sizeof longer);
  expect_trace_error(too_long, "truncated packed record");
}

}  // namespace
}  // namespace nestbed::trace
