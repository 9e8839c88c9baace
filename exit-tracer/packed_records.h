// The compact encoding of the sim's records (Packed records; TRACE_FORMAT.md
// "Packed"): HwExit, HwEntry and Annotation as variable-length fields.
//
// 1.3 (written): a record says only what differs from the last record of
// its slot (an HwExit's slot is its basic exit reason, modulo 64; an
// Annotation's its kind, modulo 64; HwEntry has one): a mask of the fields
// that changed, and those fields' differences, where the first two fields
// are the differences in cycles and instructions from the previous record.
// A VMM's exits repeat, times included, so a record is mostly two bytes (its
// tag and an empty mask) and costs a dozen compares to write.
// 1.2 (read): every field, times, RIPs and VMCS addresses as differences
// from the previous record.
//
// Every Packed record starts afresh (its first differences are from 0), so
// each can be read on its own.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "exit-tracer/trace_format.h"

namespace nestbed::trace {

class ExitTrace;

namespace packed {

// 1.3's tags: the first byte of each record says which of the three it is
// and, for an HwExit or an Annotation, its slot (the low six bits). 1.2's
// tags are 1, 2 and 3 (packed_records.cpp reads them).
inline constexpr unsigned SLOTS = 64;
inline constexpr uint8_t TAG_HW_ENTRY = 4;
inline constexpr uint8_t TAG_HW_EXIT = 0x40;     // | slot
inline constexpr uint8_t TAG_ANNOTATION = 0x80;  // | slot
inline constexpr uint8_t TAG_SLOT_MASK = SLOTS - 1;

inline unsigned exit_slot(uint32_t exit_reason) { return exit_reason & TAG_SLOT_MASK; }  // the basic reason's low bits
inline unsigned annotation_slot(uint64_t kind) { return unsigned(kind) & TAG_SLOT_MASK; }

// The fields of each record that 1.3 compares with its slot's last record,
// as numbers, in the order of the change mask's bits (TRACE_FORMAT.md).
// Before them in the mask come TIMES more: the differences in cycles and
// instructions from the previous record of the Packed record.
inline constexpr unsigned EXIT_FIELDS = 10, ENTRY_FIELDS = 3, ANNOTATION_FIELDS = 8;
inline constexpr unsigned TIMES = 2;

// Each record's fields, given one by one to field(k, value), k from 0: the
// encoder compares them with its slot as they come, with no array in
// between (the sim's recorder gives them from its events, without a
// record). From the values or from a record.
template <typename Field>
inline void exit_fields(Field&& field, uint32_t exit_reason, uint32_t intr_info, uint64_t qualification,
                        uint64_t guest_rip, uint64_t guest_linear_address, uint64_t guest_physical_address,
                        uint64_t vmcs, uint8_t level, uint8_t flags, uint8_t code_size, uint8_t insn_len,
                        const uint8_t (&insn_bytes)[15]) {
  const unsigned length = insn_len <= sizeof insn_bytes ? insn_len : 0;
  field(0, exit_reason);
  field(1, intr_info);
  field(2, qualification);
  field(3, guest_rip);
  field(4, guest_linear_address);
  field(5, guest_physical_address);
  field(6, vmcs);
  field(7, uint64_t(level) | uint64_t(flags) << 8 | uint64_t(code_size) << 16 | uint64_t(length) << 24);
  // The instruction's bytes, little-endian; those past its length are 0.
  uint64_t low, high;
  std::memcpy(&low, insn_bytes, 8);
  std::memcpy(&high, insn_bytes + 7, 8);  // bytes 7..14
  field(8, length >= 8 ? low : low & ((uint64_t(1) << (8 * length)) - 1));
  field(9, length > 8 ? (high >> 8) & ((uint64_t(1) << (8 * (length - 8))) - 1) : 0);
}

template <typename Field>
inline void exit_fields(Field&& field, const HwExit& e) {
  exit_fields(field, e.exit_reason, e.intr_info, e.qualification, e.guest_rip, e.guest_linear_address,
              e.guest_physical_address, e.vmcs, e.level, e.flags, e.code_size, e.insn_len, e.insn_bytes);
}

template <typename Field>
inline void entry_fields(Field&& field, uint64_t vmcs, uint64_t guest_rip, uint8_t level, uint8_t flags,
                         uint8_t launch) {
  field(0, vmcs);
  field(1, guest_rip);
  field(2, uint64_t(level) | uint64_t(flags) << 8 | uint64_t(launch) << 16);
}

template <typename Field>
inline void entry_fields(Field&& field, const HwEntry& e) {
  entry_fields(field, e.vmcs, e.guest_rip, e.level, e.flags, e.launch);
}

// args: RDI, RSI, RDX, RCX.
template <typename Field>
inline void annotation_fields(Field&& field, uint64_t kind, uint64_t rip, uint64_t vmcs, uint64_t arg0,
                              uint64_t arg1, uint64_t arg2, uint64_t arg3, uint8_t level, uint8_t non_root) {
  field(0, kind);
  field(1, rip);
  field(2, vmcs);
  field(3, arg0);
  field(4, arg1);
  field(5, arg2);
  field(6, arg3);
  field(7, uint64_t(level) | uint64_t(non_root) << 8);
}

template <typename Field>
inline void annotation_fields(Field&& field, const Annotation& e) {
  annotation_fields(field, e.kind, e.rip, e.vmcs, e.args[0], e.args[1], e.args[2], e.args[3], e.level, e.non_root);
}

inline uint64_t zigzag(uint64_t difference) { return (difference << 1) ^ uint64_t(int64_t(difference) >> 63); }

inline uint8_t* put_varint(uint8_t* p, uint64_t value) {
  while (value >= 0x80) {
    *p++ = uint8_t(value | 0x80);
    value >>= 7;
  }
  *p++ = uint8_t(value);
  return p;
}

// zigzag of (value - previous), wrapping; previous becomes value.
inline uint8_t* put_delta(uint8_t* p, uint64_t value, uint64_t& previous) {
  p = put_varint(p, zigzag(value - previous));
  previous = value;
  return p;
}

}  // namespace packed

// Collects records into one block's payload. The sim's recorder calls add
// for every exit, entry and annotation, so add is inline.
class PackedEncoder {
 public:
  PackedEncoder() {
    grow();
    clear();
  }
  PackedEncoder(const PackedEncoder&) = delete;  // it points into its own buffer
  PackedEncoder& operator=(const PackedEncoder&) = delete;
  void add(const HwExit& e) {
    add_exit(e.cycles, e.instructions, e.exit_reason, [&](auto&& field) { packed::exit_fields(field, e); });
  }
  void add(const HwEntry& e) {
    add_entry(e.cycles, e.instructions, [&](auto&& field) { packed::entry_fields(field, e); });
  }
  void add(const Annotation& e) {
    add_annotation(e.cycles, e.instructions, e.kind, [&](auto&& field) { packed::annotation_fields(field, e); });
  }
  // The same, from the fields: `fields(field)` gives them to field(k, value)
  // (packed::exit_fields and its like).
  template <typename Fields>
  void add_exit(uint64_t cycles, uint64_t instructions, uint32_t exit_reason, Fields&& fields) {
    const unsigned slot = packed::exit_slot(exit_reason);
    put<packed::EXIT_FIELDS>(uint8_t(packed::TAG_HW_EXIT | slot), cycles, instructions, fields, exit_slots_[slot]);
  }
  template <typename Fields>
  void add_entry(uint64_t cycles, uint64_t instructions, Fields&& fields) {
    put<packed::ENTRY_FIELDS>(packed::TAG_HW_ENTRY, cycles, instructions, fields, entry_slot_);
  }
  template <typename Fields>
  void add_annotation(uint64_t cycles, uint64_t instructions, uint64_t kind, Fields&& fields) {
    const unsigned slot = packed::annotation_slot(kind);
    put<packed::ANNOTATION_FIELDS>(uint8_t(packed::TAG_ANNOTATION | slot), cycles, instructions, fields,
                                   annotation_slots_[slot]);
  }
  std::span<const uint8_t> payload() const { return {buffer_.data(), size_t(cursor_ - buffer_.data())}; }
  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  void clear();

 private:
  // Room for one record at its longest (ten bytes a number), written
  // through a pointer: a record costs one capacity check, not one per byte.
  static constexpr size_t kMaxRecordBytes = 160;
  static_assert(1 + (1 + packed::TIMES + packed::EXIT_FIELDS) * 10 <= kMaxRecordBytes);

  // The tag, the time differences, the change mask and the changed
  // fields' differences. Mostly nothing but the times changed, and one
  // test of all the fields together says so.
  // The tag, the change mask and the changed fields' differences. The
  // first two fields are the differences in cycles and instructions from
  // the previous record; in a loop of exits they repeat too. Mostly nothing
  // changed, and one test of all the fields together says so.
  template <unsigned N, typename Fields>
  void put(uint8_t tag, uint64_t cycles, uint64_t instructions, Fields& fields, uint64_t (&last)[packed::TIMES + N]) {
    if (cursor_ > last_start_) grow();
    uint8_t* p = cursor_;
    *p++ = tag;
    const uint64_t cycles_delta = cycles - cycles_, instructions_delta = instructions - instructions_;
    cycles_ = cycles;
    instructions_ = instructions;
    uint64_t differ = (cycles_delta ^ last[0]) | (instructions_delta ^ last[1]);
    fields([&](unsigned k, uint64_t value) { differ |= value ^ last[packed::TIMES + k]; });
    if (differ == 0) [[likely]] {
      *p++ = 0;  // the change mask: nothing changed
    } else {
      uint64_t now[packed::TIMES + N] = {cycles_delta, instructions_delta};
      fields([&](unsigned k, uint64_t value) { now[packed::TIMES + k] = value; });
      p = put_changes(p, now, last);
    }
    cursor_ = p;
    ++count_;
  }
  // The change mask and the changed fields' differences.
  template <unsigned M>
  [[gnu::noinline]] static uint8_t* put_changes(uint8_t* p, const uint64_t (&now)[M], uint64_t (&last)[M]) {
    unsigned changed = 0;
    for (unsigned k = 0; k < M; ++k) changed |= unsigned(now[k] != last[k]) << k;
    p = packed::put_varint(p, changed);
    for (; changed; changed &= changed - 1) {
      const unsigned k = unsigned(std::countr_zero(changed));
      p = packed::put_delta(p, now[k], last[k]);
    }
    return p;
  }
  void grow();

  std::vector<uint8_t> buffer_;  // payload() is its bytes up to cursor_
  uint8_t* cursor_ = nullptr;      // where the next record goes
  uint8_t* last_start_ = nullptr;  // the last place where a record of kMaxRecordBytes fits
  uint32_t count_ = 0;
  uint64_t cycles_ = 0, instructions_ = 0;  // the previous record's
  uint64_t exit_slots_[packed::SLOTS][packed::TIMES + packed::EXIT_FIELDS];
  uint64_t entry_slot_[packed::TIMES + packed::ENTRY_FIELDS];
  uint64_t annotation_slots_[packed::SLOTS][packed::TIMES + packed::ANNOTATION_FIELDS];
};

// Decodes one block's payload of `count` records into `trace` (seq numbers
// continue its lists), 1.2's encoding or 1.3's. Throws TraceError
// (`origin`: where, for the message) on a payload that does not decode to
// exactly `count` records.
void decode_packed(const uint8_t* payload, size_t bytes, uint32_t count, ExitTrace& trace, const std::string& origin);

}  // namespace nestbed::trace
