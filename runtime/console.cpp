#include "runtime/console.h"

#include <stddef.h>
#include <stdint.h>

#include "arch/platform.h"
#include "runtime/libc.h"
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

enum class Length { Int, Long, LongLong, Size };

// One conversion: %[0][width][z|l|ll]conversion.
struct Spec {
  bool zero_pad = false;
  unsigned width = 0;
  Length length = Length::Int;
  char conversion = '\0';
};

// Parses the conversion after a '%'; returns where the format continues.
const char* parse_spec(const char* f, Spec& spec) {
  if (*f == '0') spec.zero_pad = true, f++;
  while (*f >= '0' && *f <= '9') spec.width = spec.width * 10 + unsigned(*f++ - '0');
  if (*f == 'z') {
    spec.length = Length::Size, f++;
  } else if (*f == 'l') {
    spec.length = Length::Long, f++;
    if (*f == 'l') spec.length = Length::LongLong, f++;
  }
  if (*f) spec.conversion = *f++;
  return f;
}

// A '-' goes before zero padding ("-0042") but after space padding ("  -42").
int emit_padded(const char* digits, size_t len, bool negative, const Spec& spec) {
  size_t total = len + (negative ? 1 : 0);
  size_t pad = spec.width > total ? spec.width - total : 0;
  if (negative && spec.zero_pad) console_putc('-');
  for (size_t i = 0; i < pad; i++) console_putc(spec.zero_pad ? '0' : ' ');
  if (negative && !spec.zero_pad) console_putc('-');
  for (size_t i = 0; i < len; i++) console_putc(digits[i]);
  return int(total + pad);
}

int emit_unsigned(uint64_t value, unsigned base, bool negative, const Spec& spec) {
  const char* alphabet = spec.conversion == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
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
  spec.zero_pad = false;
  return emit_padded(s, strlen(s), false, spec);
}

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

// Prints one conversion, taking its argument; returns the characters written.
int emit_conversion(const Spec& spec, va_list& args) {
  switch (spec.conversion) {
    case 'd':
    case 'i': {
      int64_t v = take_signed(args, spec.length);
      uint64_t magnitude = v < 0 ? 0 - uint64_t(v) : uint64_t(v);
      return emit_unsigned(magnitude, 10, v < 0, spec);
    }
    case 'u': return emit_unsigned(take_unsigned(args, spec.length), 10, false, spec);
    case 'x':
    case 'X': return emit_unsigned(take_unsigned(args, spec.length), 16, false, spec);
    case 'p': return emit_string("0x", {}) + emit_unsigned(uintptr_t(va_arg(args, void*)), 16, false, spec);
    case 's': return emit_string(va_arg(args, const char*), spec);
    case 'c': console_putc(char(va_arg(args, int))); return 1;
    case '%': console_putc('%'); return 1;
    default:  // unsupported: show it rather than guess at an argument
      console_putc('%');
      console_putc(spec.conversion ? spec.conversion : '?');
      return 2;
  }
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
    Spec spec;
    f = parse_spec(f + 1, spec);
    written += emit_conversion(spec, args);
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
