// An array of trivially copyable elements that starts all zero without
// being written: it comes from calloc, whose large blocks are fresh zero
// pages that the host maps only when they are touched. The sim's per-page
// tables (a byte for every page of a 4 GiB guest is 1 MiB) and caches
// (EptCache) use it, so that a guest that touches little memory does not
// pay the host's page faults for the whole of them. On this project's
// machines (paravirtualized) a host page fault costs several microseconds:
// a quarter of a depth-0 boot's time is spent in them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace nestbed::sim {

template <typename T>
class ZeroedArray {
  static_assert(std::is_trivially_copyable_v<T>, "all-zero bytes must be a valid T");

 public:
  ZeroedArray() = default;
  explicit ZeroedArray(size_t n) { assign_zero(n); }

  // n elements, all zero (the old contents are freed), aligned as T asks
  // (calloc gives 16 bytes; a TLB entry is a 64-byte cache line).
  void assign_zero(size_t n) {
    raw_.reset(n ? std::calloc(1, n * sizeof(T) + alignof(T)) : nullptr);
    if (n && !raw_) throw std::bad_alloc();
    const uintptr_t p = reinterpret_cast<uintptr_t>(raw_.get());
    data_ = n ? reinterpret_cast<T*>((p + alignof(T) - 1) & ~uintptr_t(alignof(T) - 1)) : nullptr;
    size_ = n;
  }
  // Every element zero again (this one writes, and so maps, every page).
  void clear() {
    if (data_) std::memset(static_cast<void*>(data_), 0, size_ * sizeof(T));
  }

  T& operator[](size_t k) { return data_[k]; }
  const T& operator[](size_t k) const { return data_[k]; }
  T* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> raw_;
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nestbed::sim
