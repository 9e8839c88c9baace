#include "exit-tracer/packed_records.h"

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

void PackedEncoder::varint(uint64_t value) {
  while (value >= 0x80) {
    payload_.push_back(uint8_t(value | 0x80));
    value >>= 7;
  }
  payload_.push_back(uint8_t(value));
}

void PackedEncoder::delta(uint64_t value, uint64_t& previous) {
  varint(zigzag(value - previous));
  previous = value;
}

void PackedEncoder::clear() {
  payload_.clear();
  count_ = 0;
  cycles_ = instructions_ = rip_ = vmcs_ = 0;
}

void PackedEncoder::add(const HwExit& e) {
  byte(TAG_HW_EXIT);
  delta(e.cycles, cycles_);
  delta(e.instructions, instructions_);
  varint(e.exit_reason);
  varint(e.intr_info);
  varint(e.qualification);
  delta(e.guest_rip, rip_);
  varint(e.guest_linear_address);
  varint(e.guest_physical_address);
  delta(e.vmcs, vmcs_);
  byte(e.level);
  byte(e.flags);
  byte(e.code_size);
  const uint8_t length = e.insn_len <= sizeof e.insn_bytes ? e.insn_len : 0;
  byte(length);
  payload_.insert(payload_.end(), e.insn_bytes, e.insn_bytes + length);
  ++count_;
}

void PackedEncoder::add(const HwEntry& e) {
  byte(TAG_HW_ENTRY);
  delta(e.cycles, cycles_);
  delta(e.instructions, instructions_);
  delta(e.vmcs, vmcs_);
  delta(e.guest_rip, rip_);
  byte(e.level);
  byte(e.flags);
  byte(e.launch);
  ++count_;
}

void PackedEncoder::add(const Annotation& e) {
  byte(TAG_ANNOTATION);
  delta(e.cycles, cycles_);
  delta(e.instructions, instructions_);
  delta(e.rip, rip_);
  delta(e.vmcs, vmcs_);
  varint(e.kind);
  for (uint64_t arg : e.args) varint(arg);
  byte(e.level);
  byte(e.non_root);
  ++count_;
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
