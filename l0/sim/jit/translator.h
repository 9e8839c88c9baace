// Block translation: a hot block of 64-bit code becomes host machine code
// that does what Cpu::execute_block's loop does for it, entry by entry:
// instructions of the commonest forms (MOV, LEA, the ALU group, INC/DEC,
// the final Jcc or JMP; register, immediate and 64-bit-address memory
// operands) are written out inline, with the guest's flags taken from the
// host's own flags after the same operation, as the handlers take them;
// every other entry calls its handler exactly as the loop does (its
// position stored for fault_rip() and cycles(), RIP set, exit_block_
// checked after). Memory operands probe the software TLB inline and call
// the slow path on a miss, as Cpu::read/write do. A block that calls no
// handler keeps the guest registers it uses most in host registers, and
// chained blocks pass the cycle and instruction counts in host registers;
// both are written back wherever C++ code may look (translator.cpp).
//
// So a translated block and the interpreter give the same registers,
// flags, memory, faults, cycles and instruction counts, and a run is
// bit-identical whichever ran a block (tests/unit/sim_jit_test.cpp).
#pragma once
#include <cstdint>

namespace nestbed::sim {
class Cpu;
struct Block;
}  // namespace nestbed::sim

namespace nestbed::sim::jit {

class CodeBuffer;

// A translation runs its block and, like Cpu::execute_block's loop, the
// blocks that follow it while nothing needs the run loop: the next block
// must fit the instruction budget (Cpu::jit_limit_) and no event be due,
// and its translation is found through the block's successor cache (or,
// for the block itself or the other block of a loop of two, is the same
// translation). Each finished block is retired (cycles and instructions)
// by the translation.
// It returns:
//  - kStop: stopped at a block boundary (budget, event, or the next block
//    not translated): execute_block returns;
//  - kChainMiss: the block Cpu::jit_block_ finished and its successor is
//    not in its successor cache: execute_block looks it up and goes on;
//  - else the DecodedInsn* of the entry after which exit_block_ was set
//    (Cpu::retire_early's argument).
inline constexpr uint64_t kStop = 1;
// The state argument of the entry stub: the CpuState's address plus this.
inline constexpr int32_t kStateBias = 128;
inline constexpr uint64_t kChainMiss = 2;

// Translates `b` (decoded in 64-bit mode) into `buf`, resetting the buffer
// when it is full. Returns the code, which the buffer's entry stub runs,
// and sets *warm to where a chained block's translation jumps into it.
// `partner` (Cpu::loop_partner, may be null): the other block of a loop of
// two, which the translation then runs too, if both are written inline;
// *with_partner says whether it does (the two must then be dropped
// together: Block::partner).
const uint8_t* translate_block(Cpu& cpu, const Block& b, const Block* partner, CodeBuffer& buf, const uint8_t** warm,
                               bool* with_partner);

}  // namespace nestbed::sim::jit
