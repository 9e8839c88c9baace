// vmx-selftest: checks the VMX the platform gives, test by test (see
// selftest.h). kmain runs the table; harness.cpp has what the tests share.
#include "arch/x86/msr.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {
namespace {

struct Test {
  void (*fn)();
  const char* name;
};
#define SELFTEST_ENTRY(fn, name) {test_##fn, name},
constexpr Test kTests[] = {SELFTEST_TESTS(SELFTEST_ENTRY)};
#undef SELFTEST_ENTRY

}  // namespace
}  // namespace selftest

int kmain(const rt::BootInfo&) {
  using namespace selftest;
  if (const int code = harness_start("vmx-selftest"); code >= 0) return code;

  unsigned passed = 0, failed = 0;
  for (const Test& t : kTests) {
    begin_test(t.name);
    t.fn();
    if (test_failed() && !test_skipped()) failed++;
    else if (!test_failed()) {
      passed++;
      rt::printf("PASS %s\n", t.name);
    }
    reset_machine();
    // feature-control leaves IA32_FEATURE_CONTROL locked with VMX allowed
    // when it was not yet locked; locked without VMX, nothing can be tested.
    if (t.fn == test_feature_control && !vmx_usable()) {
      rt::printf("vmx-selftest: VMX disabled by IA32_FEATURE_CONTROL (0x%lx)\n",
                 rt::rdmsr(arch::msr::IA32_FEATURE_CONTROL));
      return EXIT_VMX_UNAVAILABLE;
    }
  }
  rt::printf("vmx-selftest: %u passed, %u failed\n", passed, failed);
  return failed ? rt::EXIT_FAILURE : rt::EXIT_OK;
}
