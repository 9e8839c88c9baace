#include "exit-tracer/packed_records.h"

#include <algorithm>
#include <cstring>

#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {
namespace {

// The first byte of each packed record: which of the three it is.
enum PackedTag : uint8_t { TAG_HW_EXIT = 1, TAG_HW_ENTRY = 2, TAG_ANNOTATION = 3 };

uint64_t zigzag(uint64_t difference) { return (difference << 1) ^ uint64_t(int64_t(difference) >> 63); }
uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

// A cursor over one payload that checks every read.
class PackedReader {
 public:
  PackedReader(const uint8_t* p, size_t n, const std::string& origin) : p_(p), n_(n), origin_(origin) {}
  bool done() const { return at_ == n_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw TraceError(origin_ + ": packed record: " + what + " at byte " + std::to_string(at_));
  }
  uint8_t byte() {
    if (at_ >= n_) fail("runs past its end");
    return p_[at_++];
  }
  uint64_t varint() {
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
      const uint8_t b = byte();
      if (shift == 63 && b > 1) fail("a number longer than 64 bits");
      value |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return value;
    }
  }
  uint64_t delta(uint64_t& previous) { return previous += unzigzag(varint()); }
  void bytes(uint8_t* out, size_t count) {
    if (count > n_ - at_) fail("runs past its end");
    std::memcpy(out, p_ + at_, count);
    at_ += count;
  }

 private:
  const uint8_t* p_;
  size_t n_, at_ = 0;
  std::string origin_;
};

struct DeltaState {
  uint64_t cycles = 0, instructions = 0, rip = 0, vmcs = 0;
};

HwExit read_hw_exit(PackedReader& r, DeltaState& s, uint64_t seq) {
  HwExit e{};
  e.seq = seq;
  e.cycles = r.delta(s.cycles);
  e.instructions = r.delta(s.instructions);
  e.exit_reason = uint32_t(r.varint());
  e.intr_info = uint32_t(r.varint());
  e.qualification = r.varint();
  e.guest_rip = r.delta(s.rip);
  e.guest_linear_address = r.varint();
  e.guest_physical_address = r.varint();
  e.vmcs = r.delta(s.vmcs);
  e.level = r.byte();
  e.flags = r.byte();
  e.code_size = r.byte();
  e.insn_len = r.byte();
  if (e.insn_len > sizeof e.insn_bytes) r.fail("an instruction longer than 15 bytes");
  r.bytes(e.insn_bytes, e.insn_len);
  return e;
}

HwEntry read_hw_entry(PackedReader& r, DeltaState& s, uint64_t seq) {
  HwEntry e{};
  e.seq = seq;
  e.cycles = r.delta(s.cycles);
  e.instructions = r.delta(s.instructions);
  e.vmcs = r.delta(s.vmcs);
  e.guest_rip = r.delta(s.rip);
  e.level = r.byte();
  e.flags = r.byte();
  e.launch = r.byte();
  return e;
}

Annotation read_annotation(PackedReader& r, DeltaState& s, uint64_t seq) {
  Annotation e{};
  e.seq = seq;
  e.cycles = r.delta(s.cycles);
  e.instructions = r.delta(s.instructions);
  e.rip = r.delta(s.rip);
  e.vmcs = r.delta(s.vmcs);
  e.kind = r.varint();
  for (uint64_t& arg : e.args) arg = r.varint();
  e.level = r.byte();
  e.non_root = r.byte();
  return e;
}

}  // namespace

namespace {

uint8_t* put_varint(uint8_t* p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = uint8_t(value | 0x80);
    value >>= 7;
  }
  *p++ = uint8_t(value);
  return p;
}

// zigzag of (value - previous), wrapping; previous becomes value.
uint8_t* put_delta(uint8_t* p, uint64_t value, uint64_t& previous) {
  p = put_varint(p, zigzag(value - previous));
  previous = value;
  return p;
}

}  // namespace

void PackedEncoder::grow() {
  // The longest record: an HwExit (a tag, nine numbers, four bytes, the
  // instruction); an Annotation is a tag, nine numbers and two bytes.
  static_assert(1 + 9 * 10 + 4 + sizeof(HwExit::insn_bytes) <= kMaxRecordBytes);
  static_assert(1 + 9 * 10 + 2 <= kMaxRecordBytes);
  buffer_.resize(std::max(2 * buffer_.size(), used_ + 64 * kMaxRecordBytes));
}

void PackedEncoder::clear() {
  used_ = 0;
  count_ = 0;
  cycles_ = instructions_ = rip_ = vmcs_ = 0;
}

void PackedEncoder::add(const HwExit& e) {
  uint8_t* p = begin_record();
  *p++ = TAG_HW_EXIT;
  p = put_delta(p, e.cycles, cycles_);
  p = put_delta(p, e.instructions, instructions_);
  p = put_varint(p, e.exit_reason);
  p = put_varint(p, e.intr_info);
  p = put_varint(p, e.qualification);
  p = put_delta(p, e.guest_rip, rip_);
  p = put_varint(p, e.guest_linear_address);
  p = put_varint(p, e.guest_physical_address);
  p = put_delta(p, e.vmcs, vmcs_);
  *p++ = e.level;
  *p++ = e.flags;
  *p++ = e.code_size;
  const uint8_t length = e.insn_len <= sizeof e.insn_bytes ? e.insn_len : 0;
  *p++ = length;
  std::memcpy(p, e.insn_bytes, length);
  end_record(p + length);
}

void PackedEncoder::add(const HwEntry& e) {
  uint8_t* p = begin_record();
  *p++ = TAG_HW_ENTRY;
  p = put_delta(p, e.cycles, cycles_);
  p = put_delta(p, e.instructions, instructions_);
  p = put_delta(p, e.vmcs, vmcs_);
  p = put_delta(p, e.guest_rip, rip_);
  *p++ = e.level;
  *p++ = e.flags;
  *p++ = e.launch;
  end_record(p);
}

void PackedEncoder::add(const Annotation& e) {
  uint8_t* p = begin_record();
  *p++ = TAG_ANNOTATION;
  p = put_delta(p, e.cycles, cycles_);
  p = put_delta(p, e.instructions, instructions_);
  p = put_delta(p, e.rip, rip_);
  p = put_delta(p, e.vmcs, vmcs_);
  p = put_varint(p, e.kind);
  for (uint64_t arg : e.args) p = put_varint(p, arg);
  *p++ = e.level;
  *p++ = e.non_root;
  end_record(p);
}

void decode_packed(const uint8_t* payload, size_t bytes, uint32_t count, ExitTrace& trace, const std::string& origin) {
  PackedReader r(payload, bytes, origin);
  DeltaState s;
  uint32_t decoded = 0;
  for (; !r.done(); ++decoded) {
    switch (r.byte()) {
      case TAG_HW_EXIT: trace.add(read_hw_exit(r, s, trace.hw_exits.size())); break;
      case TAG_HW_ENTRY: trace.add(read_hw_entry(r, s, trace.hw_entries.size())); break;
      case TAG_ANNOTATION: trace.add(read_annotation(r, s, trace.annotations.size())); break;
      default: r.fail("unknown record tag");
    }
  }
  if (decoded != count)
    throw TraceError(origin + ": packed record holds " + std::to_string(decoded) + " records, its header says " +
                     std::to_string(count));
}

}  // namespace nestbed::trace
