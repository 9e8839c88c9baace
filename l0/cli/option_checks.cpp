#include "l0/cli/option_checks.h"

namespace nestbed::cli {
namespace {

// "" when `text` is a decimal number in [min, max], else why not.
std::string check_number(const std::string& text, uint64_t min, uint64_t max) {
  const std::string range =
      max == UINT64_MAX ? "(" + std::to_string(min) + " or more)" : std::to_string(min) + ".." + std::to_string(max);
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return "'" + text + "' is not a whole decimal number " + range;
  uint64_t value = 0;
  for (char c : text) {
    const uint64_t digit = uint64_t(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return "'" + text + "' is too large (at most " + std::to_string(max) + ")";
    value = value * 10 + digit;
  }
  if (value < min || value > max) return "'" + text + "' is out of range " + range;
  return "";
}

}  // namespace

CLI::Validator unsigned_number(uint64_t max) {
  return CLI::Validator([max](std::string& text) { return check_number(text, 0, max); }, "");
}

CLI::Validator positive_number(uint64_t max) {
  return CLI::Validator([max](std::string& text) { return check_number(text, 1, max); }, "");
}

}  // namespace nestbed::cli
