// The project's own compact form of a decoded instruction. Capstone decodes
// once; the result is turned into this and cached with its block, so the
// hot path never calls Capstone (DESIGN.md §4).
#pragma once
#include <cstdint>

namespace nestbed::sim {

class Cpu;
struct DecodedInsn;
using Handler = void (*)(Cpu&, const DecodedInsn&);

enum class OpKind : uint8_t { None, Reg, Mem, Imm, SegReg, CtrlReg, DebugReg, Xmm, Mmx };

struct Operand {
  OpKind kind = OpKind::None;
  uint8_t size = 0;    // bytes
  uint8_t reg = 0;     // Reg index, segment number, CR/DR number, XMM or MMX number
  bool high8 = false;  // AH, CH, DH, BH
};

// Instruction flags.
namespace insn_flag {
inline constexpr uint8_t ENDS_BLOCK = 1 << 0;  // control transfer or state change
inline constexpr uint8_t REP = 1 << 1;         // F3 prefix
inline constexpr uint8_t REPNE = 1 << 2;       // F2 prefix
inline constexpr uint8_t LOCK = 1 << 3;
inline constexpr uint8_t SEG_OVERRIDE = 1 << 4;
}  // namespace insn_flag

struct DecodedInsn {
  Handler fn = nullptr;
  // The fast path (Cpu::execute_block running a whole block): `fast` runs
  // this instruction, or, with fast_count 2, this one and the next (an ALU
  // operation on registers and the block's final Jcc, fused by the decoder)
  // in one call; fast_len and fast_cost are the pair's length and cost.
  Handler fast = nullptr;
  // The fast path keeps no per-instruction count: it retires a whole block
  // at once, and an entry knows where it sits in its block. RIP after it is
  // the block's RIP + end_off, its own RIP the block's + start_off, and the
  // cycles and instructions retired before it in the block before_cost and
  // before_count (Cpu::cycles() adds them while the entry runs).
  uint16_t start_off = 0;
  uint16_t end_off = 0;
  uint64_t before_cost = 0;
  uint64_t before_count = 0;
  uint64_t fast_cost = 0;
  uint64_t fast_count = 1;
  uint8_t fast_len = 0;
  uint8_t len = 0;
  uint8_t opsize = 0;    // operand size in bytes
  uint8_t addrsize = 0;  // address size in bytes
  uint8_t flags = 0;
  uint8_t cond = 0;  // condition code for Jcc/SETcc/CMOVcc; string element size; misc
  uint8_t nops = 0;
  // Memory operand (at most one per instruction): linear = seg_base[seg] +
  // (r[base] + (r[index] << scale) + disp) masked to the address size.
  uint8_t mem_seg = 0;
  uint8_t mem_base = 17;   // REG_ZERO
  uint8_t mem_index = 17;  // REG_ZERO
  uint8_t mem_scale = 0;   // shift count 0..3
  uint8_t mem_seg_arch = 3;  // the operand's architectural segment (DS default), for VM-exit instruction information
  uint16_t cost = 1;       // modeled cycles
  uint16_t id = 0;         // Capstone instruction id (diagnostics only)
  Operand op[3];
  int64_t disp = 0;
  // First immediate, as Capstone reports it (and the fast decoder copies):
  // those the SDM sign-extends (Ib of 83, 6B, 6A; Iz with a 64-bit operand)
  // sign-extended to 64 bits, but OR/AND/XOR's Ib masked to the operand
  // size; the others zero-extended. Only its low operand-size bytes mean
  // anything.
  uint64_t imm = 0;
  uint64_t imm2 = 0;  // second immediate (ENTER, far pointer selector)
};

}  // namespace nestbed::sim
