// A decoder of our own for the common integer instructions of 32- and
// 64-bit code. Capstone costs about 4,000 host instructions per guest
// instruction; this one about 300 (callgrind, l1-vmm's boot). It fills
// exactly the fields Decoder's Capstone path fills from Capstone's detail
// (ids are still Capstone's X86_INS_* ids, operands as Capstone reports
// them, quirks included), and returns false for everything else, which
// Capstone then decodes. Decoder::finish picks the handler for both.
#pragma once
#include <cstddef>
#include <cstdint>

#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/decoded_insn.h"

namespace nestbed::sim {

// What the handler selection needs besides the DecodedInsn: the Capstone
// instruction id, the opcode bytes (opcode[0] is 0x0F for the two-byte map)
// and the ModR/M byte (select_x87 and select_mmx look at them).
struct DecodeKey {
  unsigned id = 0;
  uint8_t opcode[2] = {0, 0};
  uint8_t modrm = 0;
};

// Decodes the instruction at `bytes` (n bytes available, at linear
// `address`) into d's raw fields and `key`, as Decoder's Capstone path
// would; false for anything it does not handle (16-bit code, 16-bit
// addressing, forms not covered, invalid or cut-short bytes).
bool fast_decode(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d, DecodeKey& key);

// Shared by both decoders.
// The segment register of a segment-override prefix byte, or 0xff.
uint8_t segment_from_prefix(uint8_t prefix);
// A memory operand's segment: the override `override_seg` (0xff for none),
// else SS for rBP/rSP-based addresses, else DS (SDM vol. 1, 3.7.4). In
// 64-bit mode only FS and GS have a base (SDM vol. 1, 3.2.4), so the others
// become SEG_NONE in d.mem_seg; d.mem_seg_arch keeps the architectural one.
void set_memory_segment(DecodedInsn& d, uint8_t override_seg, CpuMode mode);
// Instructions that accept a LOCK prefix (SDM vol. 2, LOCK), by Capstone id.
bool lockable(unsigned id);
// The operand size an instruction without operands uses (PUSHF, IRET,
// CWDE...): SDM vol. 1, 3.6.
inline uint8_t default_operand_size(CpuMode mode, bool opsize_prefix, bool rex_w) {
  if (mode == CpuMode::Bits64) return rex_w ? 8 : opsize_prefix ? 2 : 4;
  if (mode == CpuMode::Bits32) return opsize_prefix ? 2 : 4;
  return opsize_prefix ? 4 : 2;
}

}  // namespace nestbed::sim
