// Compiled into every host executable of a sanitizer build (NESTBED_SANITIZE,
// the debug preset; see nestbed_host_target in the top CMakeLists.txt), so
// these hold however the program is started: by a test, a script or a user.
//
// ASan and UBSan end the process with exit_status::SANITIZER, a status of its
// own: by default they exit with 1, which is the guests' "ok" (isa-debug-exit
// code 0), so a run that hit a sanitizer error could pass for a successful
// one. UBSan stops at its first report (halt_on_error) with a stack trace;
// leaks (LeakSanitizer, part of ASan) end with the same status.
// ASAN_OPTIONS / UBSAN_OPTIONS in the environment still override these.
#include <cstddef>

#include "engine.h"

namespace {

template <size_t N>
struct Options {
  char text[N + 3] = {};
};

// `prefix` followed by the decimal status, at compile time.
template <size_t N>
constexpr Options<N> with_exit_status(const char (&prefix)[N]) {
  constexpr int status = nestbed::exit_status::SANITIZER;
  static_assert(status > 0 && status < 256);
  Options<N> o;
  size_t i = 0;
  for (; i + 1 < N; ++i) o.text[i] = prefix[i];
  if (status >= 100) o.text[i++] = char('0' + status / 100);
  if (status >= 10) o.text[i++] = char('0' + status / 10 % 10);
  o.text[i] = char('0' + status % 10);
  return o;
}

constexpr auto ASAN_OPTIONS = with_exit_status("exitcode=");
constexpr auto UBSAN_OPTIONS = with_exit_status("halt_on_error=1:print_stacktrace=1:exitcode=");

}  // namespace

// Read by the sanitizer runtimes before main (their weak defaults return "").
extern "C" __attribute__((visibility("default"), used, no_sanitize_address, no_sanitize_undefined)) const char*
__asan_default_options() {
  return ASAN_OPTIONS.text;
}

extern "C" __attribute__((visibility("default"), used, no_sanitize_address, no_sanitize_undefined)) const char*
__ubsan_default_options() {
  return UBSAN_OPTIONS.text;
}
