#include "runtime/cmdline.h"

#include "runtime/runtime.h"

namespace rt {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int digit_value(char c, unsigned base) {
  int v = -1;
  if (c >= '0' && c <= '9') v = c - '0';
  else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
  return v >= 0 && unsigned(v) < base ? v : -1;
}

}  // namespace

Parse parse_number(const char* begin, const char* end, uint64_t& out) {
  unsigned base = 10;
  if (end - begin > 2 && begin[0] == '0' && (begin[1] == 'x' || begin[1] == 'X')) base = 16, begin += 2;
  if (begin == end) return Parse::NotANumber;
  uint64_t value = 0;
  for (const char* p = begin; p < end; p++) {
    int d = digit_value(*p, base);
    if (d < 0) return Parse::NotANumber;
    if (value > (UINT64_MAX - unsigned(d)) / base) return Parse::Overflow;
    value = value * base + unsigned(d);
  }
  out = value;
  return Parse::Number;
}

uint64_t cmdline_count(const char* cmdline, uint64_t fallback) {
  const char* p = cmdline;
  while (*p) {
    while (is_space(*p)) p++;
    const char* word = p;
    while (*p && !is_space(*p)) p++;
    if (word == p) break;
    uint64_t value;
    switch (parse_number(word, p, value)) {
      case Parse::Number: return value;
      case Parse::Overflow:
        printf("fatal: a count in cmdline '%s' does not fit in 64 bits\n", cmdline);
        exit(EXIT_USAGE);
      case Parse::NotANumber: break;
    }
  }
  return fallback;
}

}  // namespace rt
