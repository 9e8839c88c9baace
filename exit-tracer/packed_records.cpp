#include "exit-tracer/packed_records.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {
namespace {

using namespace packed;

// The first byte of each packed record: which of the three it is.
// 1.2's tags (1.3's are in the header).
enum PackedTag1_2 : uint8_t { TAG_HW_EXIT_1_2 = 1, TAG_HW_ENTRY_1_2 = 2, TAG_ANNOTATION_1_2 = 3 };

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

// ---- 1.2 (read only)

struct DeltaState {
  uint64_t cycles = 0, instructions = 0, rip = 0, vmcs = 0;
};

HwExit read_hw_exit_1_2(PackedReader& r, DeltaState& s, uint64_t seq) {
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

HwEntry read_hw_entry_1_2(PackedReader& r, DeltaState& s, uint64_t seq) {
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

Annotation read_annotation_1_2(PackedReader& r, DeltaState& s, uint64_t seq) {
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

// ---- 1.3

// What a 1.3 payload's records are compared with: every slot's last record.
struct SlotState {
  uint64_t cycles = 0, instructions = 0;  // the previous record's
  uint64_t exits[SLOTS][TIMES + EXIT_FIELDS] = {};
  uint64_t entry[TIMES + ENTRY_FIELDS] = {};
  uint64_t annotations[SLOTS][TIMES + ANNOTATION_FIELDS] = {};
};

// The change mask, then each changed field's difference, into `last`; then
// the record's times from its two time differences. Returns its fields.
template <unsigned N>
const uint64_t* read_fields(PackedReader& r, SlotState& s, uint64_t (&last)[N], uint64_t& cycles,
                            uint64_t& instructions) {
  uint64_t changed = r.varint();
  if (changed >> N) r.fail("a change mask naming a field the record does not have");
  for (; changed; changed &= changed - 1) r.delta(last[std::countr_zero(changed)]);
  cycles = s.cycles += last[0];
  instructions = s.instructions += last[1];
  return last + TIMES;
}

// A number that must fit `bits` bits.
uint64_t checked(PackedReader& r, uint64_t value, unsigned bits, const char* what) {
  if (bits < 64 && value >> bits) r.fail(std::string(what) + " wider than " + std::to_string(bits) + " bits");
  return value;
}

HwExit read_hw_exit(PackedReader& r, SlotState& s, unsigned slot, uint64_t seq) {
  HwExit e{};
  e.seq = seq;
  const uint64_t* f = read_fields(r, s, s.exits[slot], e.cycles, e.instructions);
  e.exit_reason = uint32_t(checked(r, f[0], 32, "exit reason"));
  if (exit_slot(e.exit_reason) != slot) r.fail("an exit in another reason's slot");
  e.intr_info = uint32_t(checked(r, f[1], 32, "VM-exit interruption information"));
  e.qualification = f[2];
  e.guest_rip = f[3];
  e.guest_linear_address = f[4];
  e.guest_physical_address = f[5];
  e.vmcs = f[6];
  const uint64_t small = checked(r, f[7], 32, "level, flags, code size and length field");
  e.level = uint8_t(small);
  e.flags = uint8_t(small >> 8);
  e.code_size = uint8_t(small >> 16);
  e.insn_len = uint8_t(small >> 24);
  if (e.insn_len > sizeof e.insn_bytes) r.fail("an instruction longer than 15 bytes");
  const unsigned low = e.insn_len < 8 ? e.insn_len : 8, high = e.insn_len - low;
  if ((low < 8 && f[8] >> (8 * low)) || f[9] >> (8 * high)) r.fail("instruction bytes past insn_len");
  std::memcpy(e.insn_bytes, &f[8], low);
  std::memcpy(e.insn_bytes + 8, &f[9], high);
  return e;
}

HwEntry read_hw_entry(PackedReader& r, SlotState& s, uint64_t seq) {
  HwEntry e{};
  e.seq = seq;
  const uint64_t* f = read_fields(r, s, s.entry, e.cycles, e.instructions);
  e.vmcs = f[0];
  e.guest_rip = f[1];
  const uint64_t small = checked(r, f[2], 24, "level, flags and launch field");
  e.level = uint8_t(small);
  e.flags = uint8_t(small >> 8);
  e.launch = uint8_t(small >> 16);
  return e;
}

Annotation read_annotation(PackedReader& r, SlotState& s, unsigned slot, uint64_t seq) {
  Annotation e{};
  e.seq = seq;
  const uint64_t* f = read_fields(r, s, s.annotations[slot], e.cycles, e.instructions);
  e.kind = f[0];
  if (annotation_slot(e.kind) != slot) r.fail("an annotation in another kind's slot");
  e.rip = f[1];
  e.vmcs = f[2];
  for (unsigned k = 0; k < 4; ++k) e.args[k] = f[3 + k];
  const uint64_t small = checked(r, f[7], 16, "level and non-root field");
  e.level = uint8_t(small);
  e.non_root = uint8_t(small >> 8);
  return e;
}

}  // namespace

void PackedEncoder::grow() {
  const size_t used = size_t(cursor_ - buffer_.data());
  buffer_.resize(std::max(2 * buffer_.size(), used + 64 * kMaxRecordBytes));
  cursor_ = buffer_.data() + used;
  last_start_ = buffer_.data() + buffer_.size() - kMaxRecordBytes;
}

void PackedEncoder::clear() {
  cursor_ = buffer_.data();
  count_ = 0;
  cycles_ = instructions_ = 0;
  std::memset(exit_slots_, 0, sizeof exit_slots_);
  std::memset(entry_slot_, 0, sizeof entry_slot_);
  std::memset(annotation_slots_, 0, sizeof annotation_slots_);
}

// A payload holds 1.2's tags or 1.3's (a writer writes one encoding); the
// reader takes either.
void decode_packed(const uint8_t* payload, size_t bytes, uint32_t count, ExitTrace& trace, const std::string& origin) {
  PackedReader r(payload, bytes, origin);
  DeltaState old;
  auto s = std::make_unique<SlotState>();
  uint32_t decoded = 0;
  for (; !r.done(); ++decoded) {
    const uint8_t tag = r.byte();
    const unsigned slot = tag & TAG_SLOT_MASK;
    switch (tag & ~TAG_SLOT_MASK) {
      case TAG_HW_EXIT: trace.add(read_hw_exit(r, *s, slot, trace.hw_exits.size())); continue;
      case TAG_ANNOTATION: trace.add(read_annotation(r, *s, slot, trace.annotations.size())); continue;
    }
    switch (tag) {
      case TAG_HW_ENTRY: trace.add(read_hw_entry(r, *s, trace.hw_entries.size())); break;
      case TAG_HW_EXIT_1_2: trace.add(read_hw_exit_1_2(r, old, trace.hw_exits.size())); break;
      case TAG_HW_ENTRY_1_2: trace.add(read_hw_entry_1_2(r, old, trace.hw_entries.size())); break;
      case TAG_ANNOTATION_1_2: trace.add(read_annotation_1_2(r, old, trace.annotations.size())); break;
      default: r.fail("unknown record tag");
    }
  }
  if (decoded != count)
    throw TraceError(origin + ": packed record holds " + std::to_string(decoded) + " records, its header says " +
                     std::to_string(count));
}

}  // namespace nestbed::trace
