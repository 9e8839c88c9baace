// Reading the user's image and module files with clear, one-line errors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nestbed {

// An opened regular file. The constructor throws InputError ("cannot open
// image 'x': No such file or directory", "... is a directory", ...), so the
// caller can look at size() before committing host memory to read_all().
class InputFile {
 public:
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  std::vector<uint8_t> read_all() const;

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// "0x1f000", for messages.
std::string hex(uint64_t value);
// "16 MiB" (rounded up), for messages.
std::string mib(uint64_t bytes);

}  // namespace nestbed
