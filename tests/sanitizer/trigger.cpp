// A tiny program that makes the sanitizers report, for the tests that prove
// a report can never pass for success (tests/sanitizer.cmake):
//
//   nestbed_sanitizer_trigger status       prints exit_status::SANITIZER and whether
//                                          this build has the sanitizers ("86 sanitized")
//   nestbed_sanitizer_trigger ubsan        signed integer overflow
//   nestbed_sanitizer_trigger null-memcpy  memcpy from a null pointer, 0 bytes (UBSan's
//                                          nonnull-attribute check; l0 once did this)
//   nestbed_sanitizer_trigger asan         heap buffer overflow
//   nestbed_sanitizer_trigger leak         a leaked allocation (LeakSanitizer at exit)
//   nestbed_sanitizer_trigger clean        nothing wrong: exits 0
//
// In a sanitizer build each bad mode prints a report and exits with
// exit_status::SANITIZER; without sanitizers it exits 0 (nothing notices).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "l0/engine.h"

#if defined(__SANITIZE_ADDRESS__)
constexpr bool SANITIZED = true;
#else
constexpr bool SANITIZED = false;
#endif

namespace {

// volatile, so the compiler cannot fold (or drop) what the sanitizers check.
volatile int big = 0x7fffffff;
volatile int one = 1;
const void* volatile null_source = nullptr;
volatile size_t no_bytes = 0;
void* volatile kept;

int usage() {
  std::fprintf(stderr, "usage: nestbed_sanitizer_trigger status|ubsan|null-memcpy|asan|leak|clean\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return usage();
  const char* mode = argv[1];
  if (!std::strcmp(mode, "status")) {
    std::printf("%d %s\n", nestbed::exit_status::SANITIZER, SANITIZED ? "sanitized" : "unsanitized");
  } else if (!std::strcmp(mode, "ubsan")) {
    int sum = big + one;
    std::printf("%d\n", sum);
  } else if (!std::strcmp(mode, "null-memcpy")) {
    char buffer[1];
    std::memcpy(buffer, null_source, no_bytes);
  } else if (!std::strcmp(mode, "asan")) {
    char* p = static_cast<char*>(std::malloc(4));
    p[one * 4] = 1;
    std::free(p);
  } else if (!std::strcmp(mode, "leak")) {
    kept = std::malloc(64);
    kept = nullptr;
  } else if (std::strcmp(mode, "clean") != 0) {
    return usage();
  }
  return 0;
}
