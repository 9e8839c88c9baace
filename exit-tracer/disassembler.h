// The exiting instruction's bytes (HwExit::insn_bytes) as text, by
// Capstone: "out dx, al", "mov cr3, rax". Off the sim's hot path: used by
// `nestbed trace dump` and the exports, never while recording.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nestbed::trace {

class Disassembler {
 public:
  Disassembler();  // throws std::runtime_error if Capstone cannot start
  ~Disassembler();
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;

  // One instruction at `rip`, Intel syntax; "" when there are no bytes,
  // "(bad)" when they do not decode. `code_size` (16, 32 or 64: HwExit's,
  // trace 1.2) says how to decode them. A 1.1 record does not say
  // (code_size 0), so the VM-exit instruction length picks the mode: the
  // first of 64-, 32-, 16-bit code whose decoding is exactly `length`
  // bytes long (64-bit when several are, as most are).
  std::string operator()(const uint8_t* bytes, size_t length, uint64_t rip, unsigned code_size = 0) const;

 private:
  static constexpr unsigned MODES = 3;
  size_t handles_[MODES] = {};  // csh
};

// "0f a2" — the bytes as hex, for exports.
std::string hex_bytes(const uint8_t* bytes, size_t length);

}  // namespace nestbed::trace
