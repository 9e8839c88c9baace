// The runtime's console: COM1, written by polling, and a small printf.
#pragma once
#include <stdarg.h>

namespace rt {

// Programs COM1 as a driver for a real 16550 would: interrupts off, the baud
// divisor through DLAB, then 8N1. Must run before the first print.
void console_init();
void console_putc(char c);
void console_write(const char* s);

// A printf for the workloads' one-line results. Conversions: %d %i %u %x %X
// %p %s %c %%, with an optional '0' flag, a width and the length modifiers
// l, ll and z. Nothing else (no floating point, no precision).
int printf(const char* format, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char* format, va_list args);

}  // namespace rt
