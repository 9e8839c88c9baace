#include "runtime/console.h"

#include <stddef.h>
#include <stdint.h>

#include "arch/platform.h"
#include "runtime/x86.h"

namespace rt {
namespace {

using namespace arch::platform;

// 115200 baud: the 16550's 1.8432 MHz clock / 16 / divisor 1.
constexpr uint16_t BAUD_DIVISOR = 1;
// LCR word-length bits 1:0 = 11 (8 data bits), no parity, 1 stop bit.
// arch/platform.h has no name for this yet.
constexpr uint8_t LCR_8N1 = 0x03;

void uart_write(uint16_t reg, uint8_t value) { outb(COM1 + reg, value); }

}  // namespace

void console_init() {
  uart_write(UART_IER, 0);  // polled: no UART interrupts
  uart_write(UART_LCR, UART_LCR_DLAB);
  uart_write(UART_RBR_THR, BAUD_DIVISOR & 0xff);
  uart_write(UART_IER, BAUD_DIVISOR >> 8);
  uart_write(UART_LCR, LCR_8N1);  // also clears DLAB
}

void console_putc(char c) {
  // Wait for the transmit holding register to drain, as on real hardware; a
  // missing UART reads all-ones, which has THRE set, so this cannot hang.
  while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE)) {
  }
  uart_write(UART_RBR_THR, uint8_t(c));
}

void console_write(const char* s) {
  while (*s) console_putc(*s++);
}

namespace {

struct Spec {
  bool zero_pad = false;
  unsigned width = 0;
};

// Prints `digits` right-aligned in spec.width. Returns the characters written.
int emit_padded(const char* digits, size_t len, bool negative, Spec spec) {
  int written = 0;
  size_t total = len + (negative ? 1 : 0);
  size_t pad = spec.width > total ? spec.width - total : 0;
  if (negative && spec.zero_pad) console_putc('-'), written++;
  for (; pad > 0; pad--, written++) console_putc(spec.zero_pad ? '0' : ' ');
  if (negative && !spec.zero_pad) console_putc('-'), written++;
  for (size_t i = 0; i < len; i++, written++) console_putc(digits[i]);
  return written;
}

int emit_unsigned(uint64_t value, unsigned base, bool upper, bool negative, Spec spec) {
  const char* alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char buf[20];  // 2^64 - 1 has 20 decimal digits
  size_t pos = sizeof(buf);
  do {
    buf[--pos] = alphabet[value % base];
    value /= base;
  } while (value != 0);
  return emit_padded(buf + pos, sizeof(buf) - pos, negative, spec);
}

int emit_string(const char* s, Spec spec) {
  if (!s) s = "(null)";
  size_t len = 0;
  while (s[len]) len++;
  spec.zero_pad = false;
  return emit_padded(s, len, false, spec);
}

enum class Length { Int, Long, LongLong, Size };

uint64_t take_unsigned(va_list& args, Length length) {
  switch (length) {
    case Length::Int: return va_arg(args, unsigned);
    case Length::Long: return va_arg(args, unsigned long);
    case Length::LongLong: return va_arg(args, unsigned long long);
    case Length::Size: return va_arg(args, size_t);
  }
  return 0;
}

int64_t take_signed(va_list& args, Length length) {
  switch (length) {
    case Length::Int: return va_arg(args, int);
    case Length::Long: return va_arg(args, long);
    case Length::LongLong: return va_arg(args, long long);
    case Length::Size: return int64_t(va_arg(args, size_t));
  }
  return 0;
}

}  // namespace

int vprintf(const char* f, va_list caller_args) {
  // A va_list parameter is an array that decayed to a pointer; a local copy
  // can be passed on by reference to the helpers that consume arguments.
  va_list args;
  va_copy(args, caller_args);
  int written = 0;
  while (*f) {
    if (*f != '%') {
      console_putc(*f++);
      written++;
      continue;
    }
    f++;
    Spec spec;
    if (*f == '0') spec.zero_pad = true, f++;
    while (*f >= '0' && *f <= '9') spec.width = spec.width * 10 + unsigned(*f++ - '0');
    Length length = Length::Int;
    if (*f == 'z') {
      length = Length::Size, f++;
    } else if (*f == 'l') {
      length = Length::Long, f++;
      if (*f == 'l') length = Length::LongLong, f++;
    }
    switch (char conv = *f ? *f++ : '\0') {
      case 'd':
      case 'i': {
        int64_t v = take_signed(args, length);
        uint64_t magnitude = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
        written += emit_unsigned(magnitude, 10, false, v < 0, spec);
        break;
      }
      case 'u': written += emit_unsigned(take_unsigned(args, length), 10, false, false, spec); break;
      case 'x':
      case 'X': written += emit_unsigned(take_unsigned(args, length), 16, conv == 'X', false, spec); break;
      case 'p':
        written += emit_string("0x", {});
        written += emit_unsigned(uintptr_t(va_arg(args, void*)), 16, false, false, spec);
        break;
      case 's': written += emit_string(va_arg(args, const char*), spec); break;
      case 'c': console_putc(char(va_arg(args, int))), written++; break;
      case '%': console_putc('%'), written++; break;
      default:  // unknown conversion: show it rather than guess
        console_putc('%'), console_putc(conv ? conv : '?'), written += 2;
        break;
    }
  }
  va_end(args);
  return written;
}

int printf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  int written = vprintf(format, args);
  va_end(args);
  return written;
}

}  // namespace rt
