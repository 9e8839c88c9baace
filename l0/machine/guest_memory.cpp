#include "l0/machine/guest_memory.h"

#include <sys/mman.h>

#include <new>
#include <stdexcept>

namespace nestbed {

GuestMemory::GuestMemory(uint64_t size_bytes) : size_(size_bytes) {
  // mmap gives zeroed, lazily committed pages: a 4 GiB guest costs only what it touches.
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() { munmap(data_, size_); }

void GuestMemory::write(uint64_t pa, const void* src, uint64_t len) {
  if (!contains(pa, len)) throw std::out_of_range("guest-physical write outside RAM");
  // An empty source (an empty module file) may be null, and memcpy needs valid pointers even for 0 bytes.
  if (len != 0) std::memcpy(data_ + pa, src, len);
}

void GuestMemory::read(uint64_t pa, void* dst, uint64_t len) const {
  if (!contains(pa, len)) throw std::out_of_range("guest-physical read outside RAM");
  if (len != 0) std::memcpy(dst, data_ + pa, len);
}

}  // namespace nestbed
