// Each instruction family picks the handler for a decoded instruction by
// its Capstone id and operands. A family returns false for ids it does not
// own; the decoder tries them in turn and falls back to "unimplemented".
#pragma once
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/cpu/decoded_insn.h"

namespace nestbed::sim {

bool select_alu(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_data(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_control(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_string(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_system(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_sse(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_vmx(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
// XGETBV, XSETBV, XSAVE, XSAVEOPT, XRSTOR (exec_xsave.cpp).
bool select_xsave(unsigned id, DecodedInsn& d, CpuMode mode, const CostModel& costs);
bool select_x87(unsigned id, uint8_t opcode, uint8_t modrm, DecodedInsn& d, CpuMode mode, const CostModel& costs);
// Every instruction with an MMX register operand (0F-map opcode and ModR/M
// given); those it does not implement get h_unimplemented.
bool select_mmx(unsigned id, uint8_t opcode, uint8_t modrm, DecodedInsn& d, CpuMode mode, const CostModel& costs);

// Handlers the decoder uses directly.
// The condition (0..15, SDM vol. 1 B.1) of a Jcc's Capstone id, or -1.
int jcc_condition(unsigned id);
// A handler running `alu` (an ALU operation on registers, 64-bit mode) and
// then `jcc` (a Jcc, in 64-bit mode) in one call, or nullptr when the pair
// does not fuse. The pair stays two instructions in every count.
Handler fuse_alu_jcc(const DecodedInsn& alu, const DecodedInsn& jcc, CpuMode mode);

void h_unimplemented(Cpu& c, const DecodedInsn& i);
void h_invalid_opcode(Cpu& c, const DecodedInsn& i);

}  // namespace nestbed::sim
