// `nestbed trace dump`: every record of a trace on one line, in file
// order, with the exiting instruction disassembled and the qualification
// decoded:
//
//   hw-exit    #12 L2 CPUID               cyc 10450 (+1234) rip 0x100a3c  cpuid
//   hw-entry   #12 L2 resume              cyc 11684 rip 0x100a3e
//   annotation #3  L1 LOGICAL_EXIT        cyc 10460 level 1 <- 2 CPUID qual 0x0
#pragma once
#include <cstdio>

#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {

void print_trace_dump(const ExitTrace& trace, std::FILE* out);

}  // namespace nestbed::trace
