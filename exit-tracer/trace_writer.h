// Writing a trace file record by record (TRACE_FORMAT.md): the kvm engine
// writes its whole trace at the end of a run (write_trace), the sim's
// SimTraceRecorder (l0/sim/trace_recorder.h) streams records as the CPU reports them. Both go through
// this writer, so there is one encoder.
#pragma once
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string_view>

#include "exit-tracer/packed_records.h"
#include "exit-tracer/trace_format.h"

namespace nestbed::trace {

// The sim's records (HwExit, HwEntry, Annotation) are collected into
// Packed records of up to PACKED_BLOCK_BYTES, each written at once; any
// other record first writes the block collected so far, so the file keeps
// the order in which records were given.
class TraceWriter {
 public:
  static constexpr size_t PACKED_BLOCK_BYTES = 64 * 1024;

  // Writes the file header at once. Every member throws std::runtime_error
  // (with strerror) when the stream cannot be written.
  TraceWriter(std::FILE* out, uint64_t tsc_hz);

  void note(std::string_view key, std::string_view value);
  void name(NameSpace space, uint32_t code, std::string_view text);
  void record(const UserExit& e);
  void record(const KernelEvent& e);
  void record(const HwExit& e) {
    packed_.add(e);
    if (packed_added(counts_.hw_exits)) write_packed();
  }
  void record(const HwEntry& e) {
    packed_.add(e);
    if (packed_added(counts_.hw_entries)) write_packed();
  }
  void record(const Annotation& e) {
    packed_.add(e);
    if (packed_added(counts_.annotations)) write_packed();
  }
  // The sim's records as their Packed fields (packed_records.h: `fields`
  // gives them to a callback, as packed::exit_fields does), for the
  // sim's recorder, which adds one per VM exit, entry and annotation: inline,
  // and they write nothing (so they throw nothing). True when the block is
  // full: the caller then calls write_packed().
  template <typename Fields>
  bool add_exit(uint64_t cycles, uint64_t instructions, uint32_t exit_reason, Fields&& fields) {
    packed_.add_exit(cycles, instructions, exit_reason, fields);
    return packed_added(counts_.hw_exits);
  }
  template <typename Fields>
  bool add_entry(uint64_t cycles, uint64_t instructions, Fields&& fields) {
    packed_.add_entry(cycles, instructions, fields);
    return packed_added(counts_.hw_entries);
  }
  template <typename Fields>
  bool add_annotation(uint64_t cycles, uint64_t instructions, uint64_t kind, Fields&& fields) {
    packed_.add_annotation(cycles, instructions, kind, fields);
    return packed_added(counts_.annotations);
  }
  // Writes the sim records collected so far as one Packed record.
  void write_packed();

  // The End record with the counts of what was written; then flushes.
  void end(uint64_t kernel_events_lost);

  // What has been written so far (the End record's counts).
  const End& counts() const { return counts_; }

 private:
  // A record of `fixed` bytes followed by NUL-terminated strings, zero-padded.
  void write(RecordType type, const void* fixed, size_t fixed_bytes, std::initializer_list<std::string_view> strings);
  // A record that is one fixed-size struct (every one is a multiple of 8 bytes).
  void write_fixed(RecordType type, const void* fixed, size_t fixed_bytes);
  void write_raw(const void* data, size_t bytes);
  // Counts a record; true when the block is full.
  bool packed_added(uint64_t& count) {
    ++count;
    return packed_.payload().size() >= PACKED_BLOCK_BYTES;
  }

  std::FILE* out_;
  End counts_{};
  PackedEncoder packed_;  // the sim's records not yet written
};

}  // namespace nestbed::trace
