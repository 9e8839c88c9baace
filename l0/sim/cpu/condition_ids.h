// Capstone's ids of the instructions that take a condition code (Jcc,
// SETcc, CMOVcc), indexed by the code, in the SDM's order (vol. 1, B.1:
// O NO B AE E NE BE A S NS P NP L GE LE G). One table for the decoders and
// the handler selection.
#pragma once
#include <capstone/capstone.h>

namespace nestbed::sim {

inline constexpr unsigned kJccIds[16] = {X86_INS_JO, X86_INS_JNO, X86_INS_JB,  X86_INS_JAE, X86_INS_JE,  X86_INS_JNE,
                                         X86_INS_JBE, X86_INS_JA, X86_INS_JS,  X86_INS_JNS, X86_INS_JP,  X86_INS_JNP,
                                         X86_INS_JL, X86_INS_JGE, X86_INS_JLE, X86_INS_JG};
inline constexpr unsigned kSetccIds[16] = {X86_INS_SETO,  X86_INS_SETNO, X86_INS_SETB,  X86_INS_SETAE,
                                           X86_INS_SETE,  X86_INS_SETNE, X86_INS_SETBE, X86_INS_SETA,
                                           X86_INS_SETS,  X86_INS_SETNS, X86_INS_SETP,  X86_INS_SETNP,
                                           X86_INS_SETL,  X86_INS_SETGE, X86_INS_SETLE, X86_INS_SETG};
inline constexpr unsigned kCmovccIds[16] = {X86_INS_CMOVO,  X86_INS_CMOVNO, X86_INS_CMOVB,  X86_INS_CMOVAE,
                                            X86_INS_CMOVE,  X86_INS_CMOVNE, X86_INS_CMOVBE, X86_INS_CMOVA,
                                            X86_INS_CMOVS,  X86_INS_CMOVNS, X86_INS_CMOVP,  X86_INS_CMOVNP,
                                            X86_INS_CMOVL,  X86_INS_CMOVGE, X86_INS_CMOVLE, X86_INS_CMOVG};

}  // namespace nestbed::sim
