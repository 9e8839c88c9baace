#include "runtime/libc.h"

#include <stdint.h>

// The string instructions keep these short and stop GCC from recognising a
// byte loop here as memset/memcpy and turning it into a call to itself.
// DF is clear: the ABI guarantees it at function entry.

extern "C" void* memset(void* dest, int value, size_t count) {
  void* d = dest;
  asm volatile("rep stosb" : "+D"(d), "+c"(count) : "a"(value) : "memory");
  return dest;
}

extern "C" void* memcpy(void* dest, const void* src, size_t count) {
  void* d = dest;
  asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(count) : : "memory");
  return dest;
}

extern "C" void* memmove(void* dest, const void* src, size_t count) {
  auto d = reinterpret_cast<uintptr_t>(dest), s = reinterpret_cast<uintptr_t>(src);
  if (d <= s || d >= s + count) return memcpy(dest, src, count);
  // Overlapping with dest above src: copy backwards, from the last byte.
  void* d_last = reinterpret_cast<void*>(d + count - 1);
  const void* s_last = reinterpret_cast<const void*>(s + count - 1);
  asm volatile("std; rep movsb; cld" : "+D"(d_last), "+S"(s_last), "+c"(count) : : "memory");
  return dest;
}

extern "C" int memcmp(const void* a, const void* b, size_t count) {
  auto pa = static_cast<const unsigned char*>(a), pb = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < count; i++)
    if (pa[i] != pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return 0;
}

extern "C" size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
