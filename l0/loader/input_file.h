// Reading the user's image and module files with clear, one-line errors
// (InputFile, shared with the trace reader: exit-tracer/host_file.h), and
// the loader's message helpers.
#pragma once
#include <cstdint>
#include <string>

#include "exit-tracer/host_file.h"

namespace nestbed {

// "0x1f000", for messages.
std::string hex(uint64_t value);
// "16 MiB" (rounded up), for messages.
std::string mib(uint64_t bytes);

}  // namespace nestbed
