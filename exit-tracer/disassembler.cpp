#include "exit-tracer/disassembler.h"

#include <capstone/capstone.h>

#include <stdexcept>

namespace nestbed::trace {
namespace {

constexpr cs_mode kModes[] = {CS_MODE_64, CS_MODE_32, CS_MODE_16};
constexpr unsigned kCodeSizes[] = {64, 32, 16};  // HwExit::code_size of each mode

// One decoding; `size` 0 when the bytes do not decode in this mode.
struct Decoded {
  std::string text;
  size_t size = 0;
};

Decoded decode(csh handle, const uint8_t* bytes, size_t length, uint64_t rip) {
  cs_insn* insn = nullptr;
  Decoded d;
  if (cs_disasm(handle, bytes, length, rip, 1, &insn) == 1) {
    d.text = insn->op_str[0] ? std::string(insn->mnemonic) + " " + insn->op_str : std::string(insn->mnemonic);
    d.size = insn->size;
    cs_free(insn, 1);
  }
  return d;
}

}  // namespace

Disassembler::Disassembler() {
  static_assert(sizeof(csh) == sizeof(size_t));
  for (unsigned k = 0; k < MODES; ++k) {
    csh handle;
    if (cs_open(CS_ARCH_X86, kModes[k], &handle) != CS_ERR_OK) throw std::runtime_error("capstone: cs_open failed");
    handles_[k] = handle;
  }
}

Disassembler::~Disassembler() {
  for (size_t& h : handles_)
    if (h) cs_close(&h);
}

std::string Disassembler::operator()(const uint8_t* bytes, size_t length, uint64_t rip, unsigned code_size) const {
  if (length == 0) return "";
  for (unsigned k = 0; k < MODES; ++k) {
    if (code_size != kCodeSizes[k]) continue;
    const Decoded d = decode(handles_[k], bytes, length, rip);
    return d.size ? d.text : "(bad)";
  }
  Decoded first;
  for (unsigned k = 0; k < MODES; ++k) {
    Decoded d = decode(handles_[k], bytes, length, rip);
    if (d.size == length) return d.text;
    if (first.size == 0) first = d;
  }
  return first.size ? first.text : "(bad)";
}

std::string hex_bytes(const uint8_t* bytes, size_t length) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < length; ++i) {
    if (i) s += ' ';
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  return s;
}

}  // namespace nestbed::trace
