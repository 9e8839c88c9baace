#include "exit-tracer/host_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nestbed {
namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Clears O_NONBLOCK, which was only there so that open() could not block.
bool make_blocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
}

}  // namespace

InputFile::InputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw InputError("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !make_blocking(fd_)) {
    int err = errno;
    ::close(fd_);
    throw InputError("cannot read " + what + " '" + path + "': " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    const std::string kind = kind_of(st.st_mode);
    throw InputError(what + " '" + path + "' is " + kind + (S_ISDIR(st.st_mode) ? "" : ", not a regular file"));
  }
  size_ = uint64_t(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<uint8_t> InputFile::read_all(uint64_t max_bytes) const {
  if (size_ > max_bytes)
    throw InputError(what_ + " '" + path_ + "' is too large (" + std::to_string(size_) + " bytes; at most " +
                     std::to_string(max_bytes) + ")");
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

OutputFile::OutputFile(const std::string& path, const std::string& what) : path_(path), what_(what) {
  if (path == "-") {
    stream_ = stdout;
    is_stdout_ = true;
    return;
  }
  if (path.empty()) fail("empty path");
  // O_NONBLOCK: opening a FIFO without a reader fails (ENXIO) instead of
  // waiting for one. Regular files are truncated only once we know that
  // is what they are (never a device's contents).
  struct stat before {};
  created_ = ::stat(path.c_str(), &before) != 0;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0666);
  if (fd < 0) {
    created_ = false;
    fail(errno == ENXIO ? "a FIFO with no process reading it" : std::strerror(errno));
  }
  struct stat st {};
  std::string error;
  if (::fstat(fd, &st) != 0 || !make_blocking(fd) || (S_ISREG(st.st_mode) && ::ftruncate(fd, 0) != 0))
    error = std::strerror(errno);
  else if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISSOCK(st.st_mode))
    error = std::string("it is ") + kind_of(st.st_mode);
  else if (!(stream_ = ::fdopen(fd, "w")))
    error = std::strerror(errno);
  if (!error.empty()) {
    ::close(fd);
    if (created_) ::unlink(path.c_str());
    fail(error);
  }
}

OutputFile::~OutputFile() {
  if (stream_ && !is_stdout_) std::fclose(stream_);
}

void OutputFile::fail(const std::string& reason) const {
  throw InputError("cannot write " + what_ + " file '" + path_ + "': " + reason);
}

void OutputFile::close() {
  if (!stream_) return;
  std::FILE* stream = stream_;
  stream_ = nullptr;
  errno = 0;
  bool failed = std::ferror(stream) != 0;
  int err = errno;
  if (std::fflush(stream) != 0 && !failed) failed = true, err = errno;
  if (!is_stdout_ && std::fclose(stream) != 0 && !failed) failed = true, err = errno;
  if (failed) fail(err ? std::strerror(err) : "write error");
}

void OutputFile::discard() {
  if (stream_ && !is_stdout_) std::fclose(stream_);
  stream_ = nullptr;
  if (created_) ::unlink(path_.c_str());
  created_ = false;
}

}  // namespace nestbed
