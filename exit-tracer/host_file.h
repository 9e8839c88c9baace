// The user's files, opened safely: every input nestbed reads (image,
// modules, cost model, trace) and every output it writes (--stats,
// --trace, exports). It is the lowest host-only layer (exit-tracer sits
// below l0), so the trace reader and l0 share one implementation.
//
// Inputs must be regular files: a FIFO would block `open` forever, and
// /dev/zero or a terminal never ends. Outputs may be regular files,
// character devices (/dev/null, /dev/full: a write error is reported) or a
// pipe with a reader (/dev/stdout under a pipeline); a FIFO without a
// reader is refused instead of blocking. Every failure is an InputError
// with a one-line message naming the file.
#pragma once
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace nestbed {

// A clear, user-facing error about the input (image, module, option, an
// output file): status 66 (l0/engine.h).
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An opened regular file. The constructor throws InputError ("cannot open
// image 'x': No such file or directory", "... is a directory", "... is a
// FIFO, not a regular file"), so the caller can look at size() before
// committing host memory to read_all().
class InputFile {
 public:
  InputFile(const std::string& path, const std::string& what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // The whole file; throws InputError when it is larger than `max_bytes`.
  std::vector<uint8_t> read_all(uint64_t max_bytes = UINT64_MAX) const;

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// An output file, created or truncated at construction (so a bad path
// fails before a run starts); "-" is stdout. close() flushes and throws
// InputError when any write failed (disk full, /dev/full, EPIPE), so an
// output is either whole or reported. The destructor closes without
// reporting (an error path already has its message).
class OutputFile {
 public:
  OutputFile(const std::string& path, const std::string& what);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* stream() const { return stream_; }
  const std::string& path() const { return path_; }
  // "cannot write <what> file '<path>': <reason>"
  [[noreturn]] void fail(const std::string& reason) const;
  void close();
  // Closes and removes the file if this object created it (a run that
  // failed before it started leaves no empty file behind).
  void discard();

 private:
  std::string path_, what_;
  std::FILE* stream_ = nullptr;
  bool is_stdout_ = false;
  bool created_ = false;
};

}  // namespace nestbed
