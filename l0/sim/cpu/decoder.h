// Guest bytes → DecodedInsn, by the fast decoder or Capstone. Only the
// decoder talks to Capstone, and only when a block is first seen (DESIGN.md §4: the hot path never calls Capstone).
#pragma once
#include <capstone/capstone.h>

#include <cstdint>
#include <string>
#include <vector>

#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/decoded_insn.h"
#include "l0/sim/cpu/fast_decoder.h"

namespace nestbed::sim {

struct Block;

class Decoder {
 public:
  explicit Decoder(const CostModel& costs);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes the block at linear `la` / physical `pa` for the CPU's mode.
  void decode_block(Cpu& cpu, uint64_t la, uint64_t pa, Block& b);
  // Decodes one instruction from `bytes`; false if the bytes are no valid
  // instruction (or are cut short). The fast decoder (fast_decoder.h) takes
  // the common integer forms, Capstone the rest.
  bool decode_one(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d);
  // Each decoder alone (decode_one and the tests comparing the two): the
  // fast one returns false for whatever it leaves to Capstone.
  bool decode_fast(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d);
  bool decode_with_capstone(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d);
  // "<bytes> <mnemonic operands>" of the instruction at `rip`, for messages.
  std::string describe(Cpu& cpu, uint64_t rip, const DecodedInsn& d);
  // Disassembly of raw bytes.
  std::string disassemble(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address);

  static constexpr unsigned kMaxBlockInsns = 64;

 private:
  bool fill_from_capstone(const cs_insn& ci, CpuMode mode, DecodedInsn& d);
  void finish(const DecodeKey& key, bool operands_ok, CpuMode mode, DecodedInsn& d);
  void prepare_fast_path(Block& b);
  bool convert_operand(const cs_x86_op& o, const cs_x86& x, CpuMode mode, DecodedInsn& d, unsigned n,
                       unsigned* imm_count);

  const CostModel& costs_;
  csh handle_[3] = {0, 0, 0};
  cs_insn* insn_ = nullptr;
  // decode_block decodes here, then gives the block an exact copy: a
  // block's vector grown one push_back at a time left up to half of its
  // capacity unused and freed a chain of smaller ones, and a boot's blocks
  // were a third of its heap (host page faults).
  std::vector<DecodedInsn> scratch_;
};

}  // namespace nestbed::sim
