// Guest-physical RAM: one contiguous host allocation starting at physical 0.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace nestbed {

class GuestMemory {
 public:
  explicit GuestMemory(uint64_t size_bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return size_; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }

  // True when [pa, pa+len) is RAM.
  bool contains(uint64_t pa, uint64_t len = 1) const { return pa < size_ && len <= size_ - pa; }
  // Host pointer for a RAM address; the caller has checked contains().
  uint8_t* ptr(uint64_t pa) { return data_ + pa; }

  // Bounds-checked helpers for loaders and tests (they throw std::out_of_range).
  void write(uint64_t pa, const void* src, uint64_t len);
  void read(uint64_t pa, void* dst, uint64_t len) const;
  template <typename T>
  void write_obj(uint64_t pa, const T& v) { write(pa, &v, sizeof v); }
  template <typename T>
  T read_obj(uint64_t pa) const {
    T v;
    read(pa, &v, sizeof v);
    return v;
  }

 private:
  uint64_t size_;
  uint8_t* data_;
};

}  // namespace nestbed
