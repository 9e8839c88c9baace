// The compact encoding of the sim's records (trace format 1.2, Packed
// records; TRACE_FORMAT.md "Packed"): HwExit, HwEntry and Annotation as
// variable-length fields, times, instruction counts, RIPs and VMCS
// addresses as differences from the previous record of the same block, so
// a depth-1 CPUID round trip takes tens of bytes instead of the 1.1
// layouts' 104 + 64 + 96. Every Packed record starts afresh (its first
// differences are from 0), so each can be read on its own.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "exit-tracer/trace_format.h"

namespace nestbed::trace {

class ExitTrace;

// Collects records into one block's payload.
class PackedEncoder {
 public:
  void add(const HwExit& e);
  void add(const HwEntry& e);
  void add(const Annotation& e);
  std::span<const uint8_t> payload() const { return {buffer_.data(), used_}; }
  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  void clear();

 private:
  // Room for one record at its longest (ten bytes a number), written
  // through a pointer: a record costs one capacity check, not one per byte.
  static constexpr size_t kMaxRecordBytes = 128;
  uint8_t* begin_record() {
    if (buffer_.size() - used_ < kMaxRecordBytes) grow();
    return buffer_.data() + used_;
  }
  void end_record(const uint8_t* end) {
    used_ = size_t(end - buffer_.data());
    ++count_;
  }
  void grow();

  std::vector<uint8_t> buffer_;  // payload() is its first used_ bytes
  size_t used_ = 0;
  uint32_t count_ = 0;
  uint64_t cycles_ = 0, instructions_ = 0, rip_ = 0, vmcs_ = 0;
};

// Decodes one block's payload of `count` records into `trace` (seq numbers
// continue its lists). Throws TraceError (`origin`: where, for the message)
// on a payload that does not decode to exactly `count` records.
void decode_packed(const uint8_t* payload, size_t bytes, uint32_t count, ExitTrace& trace, const std::string& origin);

}  // namespace nestbed::trace
