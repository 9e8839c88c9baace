#include "l0/loader/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "l0/engine.h"

namespace nestbed {

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw InputError("cannot read " + what + " '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw InputError(what + " '" + path + "' is " + (S_ISDIR(st.st_mode) ? "a directory" : "not a regular file"));
  }
  size_ = uint64_t(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<uint8_t> InputFile::read_all() const {
  std::vector<uint8_t> bytes(size_);
  uint64_t done = 0;
  while (done < size_) {
    ssize_t n = ::pread(fd_, bytes.data() + done, size_ - done, off_t(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw InputError("cannot read " + what_ + " '" + path_ + "': " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while we read it
    done += uint64_t(n);
  }
  bytes.resize(done);
  return bytes;
}

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

}  // namespace nestbed
