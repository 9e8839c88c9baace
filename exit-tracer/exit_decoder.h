// What an exit's information fields say, in one line for people: the exit
// qualification decoded by its layout in arch/vmx/exit_qualification.def
// (SDM 27.2.1), with the interruption information, guest-linear and
// guest-physical addresses where the exit defines them.
//
//   CR_ACCESS         "MOV to CR3 from RAX"
//   IO_INSTRUCTION    "OUT 1 byte to port 0x80 (port in DX)"
//   EPT_VIOLATION     "data write at GPA 0x5000 (was r-x), linear 0x7000 (translation)"
#pragma once
#include <cstdint>
#include <string>

#include "exit-tracer/trace_format.h"

namespace nestbed::trace {

// The qualification alone ("" for a reason whose qualification is unused).
std::string describe_qualification(uint32_t exit_reason, uint64_t qualification);

// The whole exit: the qualification plus the fields the reason defines.
std::string describe_exit(const HwExit& e);

// "0x1f": how exit-tracer prints addresses, qualifications and fields.
std::string hex(uint64_t value);

// x86 register number (0 RAX .. 15 R15, as the layouts number them) to name.
const char* gpr_name(unsigned number);

}  // namespace nestbed::trace
