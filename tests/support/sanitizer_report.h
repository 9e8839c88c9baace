// For tests that run a program and read its stderr: the lines that are a
// sanitizer report (tests/sanitizer/report_patterns.txt, passed in by
// tests/CMakeLists.txt). A child's report must fail the test even when the
// child's status and output are what the test expects.
#pragma once
#include <regex>
#include <sstream>
#include <string>

#ifndef NESTBED_SANITIZER_REPORT_REGEX
#error "tests/CMakeLists.txt defines NESTBED_SANITIZER_REPORT_REGEX"
#endif

namespace nestbed::testing {

inline std::string sanitizer_report_lines(const std::string& text) {
  static const std::regex report(NESTBED_SANITIZER_REPORT_REGEX, std::regex::extended);
  std::istringstream in(text);
  std::string lines;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, report)) lines += line + "\n";
  return lines;
}

}  // namespace nestbed::testing
