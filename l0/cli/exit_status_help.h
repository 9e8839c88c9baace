// The "Exit status:" texts of `nestbed --help`, `nestbed run --help` and
// `nestbed trace --help`: every status a user can see, from l0/engine.h's
// exit_status (the README's "Exit status" table says the same).
#pragma once
#include <string>

namespace nestbed::cli {

// Every status: the guest's, l1-vmm's, nestbed's own, the trace commands'.
std::string exit_status_help();
// Those of `nestbed trace summary|dump|export`.
std::string trace_exit_status_help();

}  // namespace nestbed::cli
