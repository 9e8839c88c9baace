// Packed records (exit-tracer/TRACE_FORMAT.md "Packed"): the sim's records,
// in 1.3's encoding by slot, read back exactly as written, random ones
// included; 1.1 and 1.2 files (tests/trace_fixtures/, written by those
// versions' writers from the same depth-1 cpuid-loop run) still read, and
// rewritten in the current format they hold the same records in a few
// bytes each; damaged Packed records are refused with a message.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "exit-tracer/exit_trace.h"
#include "exit-tracer/packed_records.h"
#include "exit-tracer/trace_writer.h"
#include "arch/vmx/exit_reasons.h"

#ifndef NESTBED_TRACE_FIXTURE_DIR
#error "tests/trace.cmake defines NESTBED_TRACE_FIXTURE_DIR"
#endif

namespace nestbed::trace {
namespace {

const std::string FIXTURE_1_1 = std::string(NESTBED_TRACE_FIXTURE_DIR) + "/depth1-cpuid-loop-20.v1.1.trace";
const std::string FIXTURE_1_2 = std::string(NESTBED_TRACE_FIXTURE_DIR) + "/depth1-cpuid-loop-20.v1.2.trace";

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

// Bytes per sim record of a file: everything but the header, notes, names and End.
double bytes_per_sim_record(const ExitTrace& t, size_t file_bytes) {
  size_t other = sizeof(FileHeader) + 8 + sizeof(End);
  for (const auto& [key, value] : t.notes) other += (8 + key.size() + value.size() + 2 + 7) / 8 * 8;
  for (const auto& [key, text] : t.names()) other += (8 + 8 + text.size() + 1 + 7) / 8 * 8;
  return double(file_bytes - other) / double(t.sim_order.size());
}

TEST(ExitTracerPacked, A1_1TraceRewrittenInTheCurrentFormatHoldsTheSameRecordsInFewBytesEach) {
  const ExitTrace old_trace = read_trace_file(FIXTURE_1_1);
  const std::vector<uint8_t> bytes = to_bytes(old_trace);
  const ExitTrace new_trace = parse_trace(bytes, "rewritten.trace");
  EXPECT_EQ(new_trace.version_minor, VERSION_MINOR);
  EXPECT_EQ(new_trace.notes, old_trace.notes);
  expect_same_sim_records(old_trace, new_trace);
  // 102 records, most of them repeats of the one 20 records before; the
  // first of each slot is written whole.
  EXPECT_LE(bytes_per_sim_record(new_trace, bytes.size()), 8.0) << bytes.size() << " bytes";
}

// A depth-1 run's trace as the 1.2 writer wrote it (`nestbed run --trace F
// --module "build/images/cpuid-loop 20" build/images/l1-vmm`): 1.2's Packed
// encoding.
TEST(ExitTracerPacked, Reads1_2Files) {
  const ExitTrace t = read_trace_file(FIXTURE_1_2);
  EXPECT_EQ(t.version_minor, 2);
  EXPECT_EQ(t.hw_exits.size(), 20u);
  EXPECT_EQ(t.hw_entries.size(), 21u);
  EXPECT_EQ(t.annotations.size(), 61u);
  for (const HwExit& e : t.hw_exits) {
    EXPECT_EQ(e.code_size, 64) << "1.2 records the code size";
    EXPECT_EQ(e.insn_len, 2);
    EXPECT_EQ(e.insn_bytes[0], 0x0f);
    EXPECT_EQ(e.insn_bytes[1], 0xa2);
  }
  // Rewritten in the current format, the records are the same.
  const std::vector<uint8_t> bytes = to_bytes(t);
  expect_same_sim_records(t, parse_trace(bytes, "rewritten.trace"));
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
  for (uint64_t i = 0; i < 40000; ++i) {
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
  bad_tag[at + sizeof h] = 0xc0;
  expect_trace_error(bad_tag, "unknown record tag");

  std::vector<uint8_t> wrong_count = good;
  PackedHeader more = h;
  more.count = 2;
  std::memcpy(wrong_count.data() + at, &more, sizeof more);
  expect_trace_error(wrong_count, "holds 1 records, its header says 2");

  std::vector<uint8_t> short_payload = good;
  PackedHeader shorter = h;
  shorter.payload_bytes = 2;
  std::memcpy(short_payload.data() + at, &shorter, sizeof shorter);
  expect_trace_error(short_payload, "runs past its end");

  std::vector<uint8_t> too_long = good;
  PackedHeader longer = h;
  longer.payload_bytes = 1u << 30;
  std::memcpy(too_long.data() + at, &longer, sizeof longer);
  expect_trace_error(too_long, "truncated packed record");
}

template <typename T>
void append(std::vector<uint8_t>& bytes, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  bytes.insert(bytes.end(), p, p + sizeof value);
}

// A one-record file whose payload is `payload` (count 1).
std::vector<uint8_t> with_payload(const std::vector<uint8_t>& good, const std::vector<uint8_t>& payload) {
  const size_t at = first_packed_payload(good);
  std::vector<uint8_t> bytes(good.begin(), good.begin() + long(at - sizeof(RecordHeader)));
  const PackedHeader h{1, uint32_t(payload.size())};
  const uint32_t total = uint32_t((sizeof(RecordHeader) + sizeof h + payload.size() + 7) / 8 * 8);
  append(bytes, RecordHeader{uint32_t(RecordType::Packed), total});
  append(bytes, h);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  bytes.resize(bytes.size() + total - sizeof(RecordHeader) - sizeof h - payload.size(), 0);
  // The End record of `good`.
  bytes.insert(bytes.end(), good.end() - long(sizeof(RecordHeader) + sizeof(End)), good.end());
  return bytes;
}

TEST(ExitTracerPacked, MalformedSlotRecordsAreRefused) {
  ExitTrace t;
  HwExit x{};
  x.exit_reason = uint32_t(arch::vmx::ExitReason::CPUID);
  t.add(x);
  const std::vector<uint8_t> good = to_bytes(t);
  ASSERT_NO_THROW(parse_trace(good, "good.trace"));
  const uint8_t exit_10 = 0x40 | 10, entry = 0x04;
  // Bit 12 names a 13th field; an HwEntry has five.
  expect_trace_error(with_payload(good, {exit_10, 0x80, 0x20}), "a change mask naming a field the record does not have");
  expect_trace_error(with_payload(good, {entry, 0x20}), "a change mask naming a field the record does not have");
  // Exit reason 10 (bit 2, from 0: +10 zigzag = 20) in slot 11.
  expect_trace_error(with_payload(good, {0x40 | 11, 0x04, 20}), "an exit in another reason's slot");
  // Exit reason 2^32 + 10.
  expect_trace_error(with_payload(good, {exit_10, 0x04, 0x94, 0x80, 0x80, 0x80, 0x20}), "exit reason wider than 32 bits");
  // An instruction byte (bit 10: 0x0f) with insn_len 0.
  expect_trace_error(with_payload(good, {exit_10, 0x84, 0x08, 20, 0x1e}), "instruction bytes past insn_len");
  // insn_len 16 (bit 9: 16 << 24, zigzag 2^29).
  expect_trace_error(with_payload(good, {exit_10, 0x84, 0x04, 20, 0x80, 0x80, 0x80, 0x80, 0x02}),
                     "an instruction longer than 15 bytes");
  // An annotation of kind 1 in slot 2.
  expect_trace_error(with_payload(good, {0x80 | 2, 0x04, 2}), "an annotation in another kind's slot");
}

// Random records, the changing and the repeating fields mixed, round trip
// exactly; the encoder's slots and the decoder's agree whatever the order.
TEST(ExitTracerPacked, RandomRecordsRoundTrip) {
  std::mt19937_64 rng(12345);
  auto pick = [&](std::initializer_list<uint64_t> values) { return *(values.begin() + rng() % values.size()); };
  auto maybe = [&](uint64_t usual) { return rng() % 4 ? usual : rng() >> (rng() % 64); };
  ExitTrace t;
  uint64_t cycles = 0, instructions = 0;
  for (int i = 0; i < 30000; ++i) {
    cycles += pick({0, 1, 500, 100000, ~0ull - 7});  // wraps too
    instructions += pick({0, 3, 200});
    switch (rng() % 3) {
      case 0: {
        HwExit x{};
        x.seq = t.hw_exits.size();
        x.cycles = cycles;
        x.instructions = instructions;
        x.exit_reason = uint32_t(pick({10, 18, 30, 48, 0x80000021, 74, 10 + 64}));
        x.intr_info = uint32_t(maybe(0));
        x.qualification = maybe(0);
        x.guest_rip = maybe(0x100104);
        x.guest_linear_address = maybe(0);
        x.guest_physical_address = maybe(0);
        x.vmcs = pick({0x1045000, 0x2000, NO_VMCS});
        x.level = uint8_t(pick({1, 2, 3, 255}));
        x.flags = uint8_t(rng() % 2);
        x.code_size = uint8_t(pick({0, 16, 32, 64}));
        x.insn_len = uint8_t(rng() % 16);
        for (unsigned k = 0; k < x.insn_len; ++k) x.insn_bytes[k] = uint8_t(rng() % 4 ? 0x0f + k : rng());
        t.add(x);
        break;
      }
      case 1: {
        HwEntry n{};
        n.seq = t.hw_entries.size();
        n.cycles = cycles;
        n.instructions = instructions;
        n.vmcs = pick({0x1045000, 0x2000});
        n.guest_rip = maybe(0x100106);
        n.level = uint8_t(pick({2, 3}));
        n.flags = uint8_t(rng() % 2);
        n.launch = uint8_t(rng() % 2);
        t.add(n);
        break;
      }
      default: {
        Annotation a{};
        a.seq = t.annotations.size();
        a.cycles = cycles;
        a.instructions = instructions;
        a.rip = maybe(0x100facf);
        a.vmcs = pick({0x1045000, NO_VMCS});
        a.kind = pick({1, 2, 4, 65, 1000, ~0ull});  // 65 and 1 share a slot
        for (uint64_t& arg : a.args) arg = maybe(rng() % 3);
        a.level = uint8_t(pick({1, 2}));
        a.non_root = uint8_t(rng() % 2);
        t.add(a);
        break;
      }
    }
  }
  const std::vector<uint8_t> bytes = to_bytes(t);
  EXPECT_GT(bytes.size(), TraceWriter::PACKED_BLOCK_BYTES);  // more than one block
  expect_same_sim_records(t, parse_trace(bytes, "random.trace"));
}

}  // namespace
}  // namespace nestbed::trace
