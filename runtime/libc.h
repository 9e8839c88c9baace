// The C library functions GCC may call even in freestanding code (GCC manual,
// "Standards": memcpy, memmove, memset and memcmp), plus strlen.
#pragma once
#include <stddef.h>

extern "C" {
void* memset(void* dest, int value, size_t count);
void* memcpy(void* dest, const void* src, size_t count);
void* memmove(void* dest, const void* src, size_t count);
int memcmp(const void* a, const void* b, size_t count);
size_t strlen(const char* s);
}
