// Checks of the values users type, run while CLI11 parses (a bad value is
// a usage error, status 64, with the option named), so that nothing is
// silently wrapped or ignored: CLI11 itself turns "-1" into 2^64 - 1 for
// an unsigned option and skips leading spaces.
#pragma once
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace nestbed::cli {

// Decimal digits only (no sign, space or prefix), at most `max`.
CLI::Validator unsigned_number(uint64_t max = UINT64_MAX);
// As unsigned_number, and not 0.
CLI::Validator positive_number(uint64_t max = UINT64_MAX);

}  // namespace nestbed::cli
