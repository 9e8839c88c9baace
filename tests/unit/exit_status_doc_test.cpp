// Every status a user can see is documented where users look: `nestbed
// --help` (l0/cli/exit_status_help.cpp) and the README's "Exit status"
// table, nestbed's own (l0/engine.h) and l1-vmm's (l1-vmm/panic.h) alike;
// and nestbed's own can never be taken for a guest's or for GNU timeout's.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "l0/cli/exit_status_help.h"
#include "l0/engine.h"
#include "l1-vmm/panic.h"

#ifndef NESTBED_README_PATH
#error "tests/CMakeLists.txt defines NESTBED_README_PATH"
#endif

namespace nestbed {
namespace {

struct Named {
  int status;
  const char* name;
};

// Every constant of exit_status (l0/engine.h).
const Named NESTBED_STATUSES[] = {
    {exit_status::USAGE, "USAGE"},
    {exit_status::BAD_INPUT, "BAD_INPUT"},
    {exit_status::INTERNAL_ERROR, "INTERNAL_ERROR"},
    {exit_status::UNSUPPORTED, "UNSUPPORTED"},
    {exit_status::SANITIZER, "SANITIZER"},
    {exit_status::INSTRUCTION_LIMIT, "INSTRUCTION_LIMIT"},
    {exit_status::HALTED, "HALTED"},
    {exit_status::TRIPLE_FAULT, "TRIPLE_FAULT"},
};

const uint32_t L1_VMM_CODES[] = {l1::L1_PANIC,          l1::L1_USAGE,       l1::L1_NO_VMX,
                                 l1::L1_BAD_GUEST_IMAGE, l1::L1_GUEST_FAILED, l1::L1_NO_MEMORY};

std::string readme_exit_status_section() {
  std::ifstream in(NESTBED_README_PATH);
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  const size_t begin = text.find("### Exit status");
  const size_t end = text.find("\n### ", begin + 1);
  return begin == std::string::npos ? "" : text.substr(begin, end - begin);
}

TEST(ExitStatus, NestbedsOwnAreEvenDistinctAndNotTimeouts) {
  std::set<int> seen;
  for (const Named& s : NESTBED_STATUSES) {
    EXPECT_EQ(s.status % 2, 0) << s.name << " would collide with a guest's status (c << 1) | 1";
    EXPECT_TRUE(seen.insert(s.status).second) << s.name << " is used twice";
    EXPECT_GT(s.status, 1) << s.name;
    // GNU timeout: 124 timed out, 125-127 its own failures; 128 + N: killed by signal N.
    EXPECT_TRUE(s.status < 124) << s.name << " " << s.status << " is one GNU timeout or a shell gives";
  }
}

TEST(ExitStatus, L1VmmsAreGuestStatuses) {
  for (uint32_t code : L1_VMM_CODES) EXPECT_EQ(exit_status::debug_exit(code) % 2, 1) << code;
  EXPECT_EQ(exit_status::debug_exit(l1::L1_PANIC), 193);
  EXPECT_EQ(exit_status::debug_exit(l1::L1_NO_MEMORY), 203);
}

TEST(ExitStatus, HelpListsEveryStatus) {
  const std::string help = cli::exit_status_help();
  EXPECT_NE(help.find("(c << 1) | 1"), std::string::npos) << help;
  for (const Named& s : NESTBED_STATUSES)
    EXPECT_NE(help.find("\n  " + std::to_string(s.status) + " "), std::string::npos) << s.name << "\n" << help;
  for (uint32_t code : L1_VMM_CODES)
    EXPECT_NE(help.find(std::to_string(exit_status::debug_exit(code)) + " "), std::string::npos)
        << "l1-vmm code " << code << "\n" << help;
  const std::string trace = cli::trace_exit_status_help();
  for (int status : {0, exit_status::USAGE, exit_status::BAD_INPUT, exit_status::INTERNAL_ERROR, exit_status::SANITIZER})
    EXPECT_NE(trace.find("\n  " + std::to_string(status) + " "), std::string::npos) << status << "\n" << trace;
}

TEST(ExitStatus, ReadmeTableListsEveryStatus) {
  const std::string section = readme_exit_status_section();
  ASSERT_FALSE(section.empty()) << "no '### Exit status' in " << NESTBED_README_PATH;
  EXPECT_NE(section.find("| `(c << 1) \\| 1` |"), std::string::npos) << section;
  for (const Named& s : NESTBED_STATUSES)
    EXPECT_NE(section.find("\n| " + std::to_string(s.status) + " |"), std::string::npos) << s.name << "\n" << section;
  for (uint32_t code : L1_VMM_CODES)
    EXPECT_NE(section.find(" " + std::to_string(exit_status::debug_exit(code)) + " "), std::string::npos)
        << "l1-vmm code " << code << "\n" << section;
}

}  // namespace
}  // namespace nestbed
