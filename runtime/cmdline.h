// Workload arguments from the kernel cmdline.
//
// The cmdline is words separated by spaces. Its first word is the image's
// name: QEMU's -kernel passes "<kernel path> <-append string>" (with a
// trailing space when -append is empty), nestbed passes
// "<image name> <--cmdline string>". A workload's count is the first word that
// is a number, so "cpuid-loop 5", "build/images/cpuid-loop 5" and "5" all
// give 5; the image name itself is never all digits.
#pragma once
#include <stdint.h>

namespace rt {

// The first numeric word (decimal, or hex with 0x) of `cmdline`, or `fallback`
// when there is none. A number that does not fit in 64 bits ends the run with
// EXIT_USAGE and a message: a silently wrapped count would be a wrong result.
uint64_t cmdline_count(const char* cmdline, uint64_t fallback);

// The word [begin, end) as a whole as a number (decimal, or hex with 0x):
// what cmdline_count, l1-vmm's options and vmx-fuzz's arguments accept.
enum class Parse { NotANumber, Number, Overflow };
Parse parse_number(const char* begin, const char* end, uint64_t& out);

}  // namespace rt
