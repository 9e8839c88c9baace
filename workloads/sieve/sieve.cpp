// sieve N: counts the primes below N with a plain byte-array sieve of
// Eratosthenes. CPU- and memory-bound with no exits of its own: the
// benchmark for how fast a platform runs ordinary code (N = 20,000,000
// retires a few hundred million instructions).
#include "arch/x86/paging.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"

namespace {

constexpr uint64_t DEFAULT_LIMIT = 1000000;

uint64_t count_primes_below(uint8_t* composite, uint64_t limit) {
  memset(composite, 0, limit);
  for (uint64_t i = 2; i * i < limit; i++)
    if (!composite[i])
      for (uint64_t j = i * i; j < limit; j += i) composite[j] = 1;
  uint64_t primes = 0;
  for (uint64_t i = 2; i < limit; i++) primes += !composite[i];
  return primes;
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  uint64_t limit = rt::cmdline_count(boot.cmdline, DEFAULT_LIMIT);
  uint64_t pages = (limit + arch::pte::PAGE_SIZE - 1) / arch::pte::PAGE_SIZE;
  uint64_t array = pages ? rt::alloc_pages(pages) : 0;
  if (pages && !array) {
    rt::printf("sieve: error: a %lu-byte array does not fit in the %lu KiB of free RAM\n", limit,
               rt::free_memory() / 1024);
    return rt::EXIT_NO_MEMORY;
  }
  uint64_t primes = count_primes_below(reinterpret_cast<uint8_t*>(array), limit);
  rt::printf("sieve: %lu primes below %lu\n", primes, limit);
  return rt::EXIT_OK;
}
