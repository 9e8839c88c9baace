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

  // n elements, all zero (the old contents are freed).
  void assign_zero(size_t n) {
    data_.reset(n ? static_cast<T*>(std::calloc(n, sizeof(T))) : nullptr);
    if (n && !data_) throw std::bad_alloc();
    size_ = n;
  }
  // Every element zero again (this one writes, and so maps, every page).
  void clear() {
    if (data_) std::memset(static_cast<void*>(data_.get()), 0, size_ * sizeof(T));
  }

  T& operator[](size_t k) { return data_.get()[k]; }
  const T& operator[](size_t k) const { return data_.get()[k]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

}  // namespace nestbed::sim
