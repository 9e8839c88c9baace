#include "l0/kvm/exit_trace.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "l0/engine.h"

namespace nestbed::trace {
namespace {

constexpr uint32_t RECORD_ALIGN = 8;

uint32_t padded(size_t bytes) { return uint32_t((bytes + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN); }

const char* space_label(NameSpace space) {
  switch (space) {
    case NameSpace::KvmExitReason: return "KVM exit";
    case NameSpace::KernelExitReason: return "kernel exit reason";
  }
  return "name";
}

// Writing: each record is built whole in a buffer, then written once.
class RecordWriter {
 public:
  explicit RecordWriter(std::FILE* out) : out_(out) {}

  void write_raw(const void* data, size_t bytes) {
    if (std::fwrite(data, 1, bytes, out_) != bytes) throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
  }

  // A record whose payload is `fixed` followed by NUL-terminated strings.
  void write(RecordType type, const void* fixed, size_t fixed_bytes, std::initializer_list<std::string> strings = {}) {
    size_t payload = fixed_bytes;
    for (const std::string& s : strings) payload += s.size() + 1;
    const uint32_t total = padded(sizeof(RecordHeader) + payload);
    buffer_.assign(total, 0);
    RecordHeader header{uint32_t(type), total};
    std::memcpy(buffer_.data(), &header, sizeof header);
    size_t at = sizeof header;
    if (fixed_bytes) std::memcpy(buffer_.data() + at, fixed, fixed_bytes);
    at += fixed_bytes;
    for (const std::string& s : strings) {
      std::memcpy(buffer_.data() + at, s.data(), s.size());
      at += s.size() + 1;  // the buffer is zeroed: the NUL is there
    }
    write_raw(buffer_.data(), buffer_.size());
  }

 private:
  std::FILE* out_;
  std::vector<uint8_t> buffer_;
};

// Reading: a cursor over the file's bytes that checks every length.
class RecordReader {
 public:
  RecordReader(const std::vector<uint8_t>& bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}

  [[noreturn]] void fail(const std::string& what) const { throw InputError(origin_ + ": " + what); }

  template <typename T>
  T fixed_at(size_t offset, size_t record_end, const char* what) const {
    if (offset + sizeof(T) > record_end) fail(std::string("truncated ") + what + " record");
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof value);
    return value;
  }

  // The NUL-terminated string at `offset`; advances it past the NUL.
  std::string string_at(size_t& offset, size_t record_end) const {
    const void* nul = std::memchr(bytes_.data() + offset, 0, record_end > offset ? record_end - offset : 0);
    if (!nul) fail("a string runs past the end of its record");
    const char* begin = reinterpret_cast<const char*>(bytes_.data() + offset);
    std::string s(begin, static_cast<const char*>(nul));
    offset += s.size() + 1;
    return s;
  }

  size_t size() const { return bytes_.size(); }

 private:
  const std::vector<uint8_t>& bytes_;
  std::string origin_;
};

void write_notes_and_names(const ExitTrace& trace, RecordWriter& w) {
  for (const auto& [key, value] : trace.notes) w.write(RecordType::Note, nullptr, 0, {key, value});
  for (const auto& [key, text] : trace.names()) {
    NameHeader h{uint32_t(key.first), key.second};
    w.write(RecordType::Name, &h, sizeof h, {text});
  }
}

// Both lists are in time order already; a kernel event that has the same
// TSC as a user exit goes first (it happened in the kernel, before KVM_RUN returned).
void write_merged_records(const ExitTrace& trace, RecordWriter& w) {
  auto user = trace.user_exits.begin();
  auto kernel = trace.kernel_events.begin();
  while (user != trace.user_exits.end() || kernel != trace.kernel_events.end()) {
    bool kernel_first = user == trace.user_exits.end() ||
                        (kernel != trace.kernel_events.end() && kernel->tsc <= user->tsc_exit);
    if (kernel_first)
      w.write(RecordType::KernelEvent, &*kernel++, sizeof(KernelEvent));
    else
      w.write(RecordType::UserExit, &*user++, sizeof(UserExit));
  }
}

void read_record(const RecordReader& r, RecordType type, size_t payload, size_t end, ExitTrace& trace, bool& ended) {
  switch (type) {
    case RecordType::Note: {
      std::string key = r.string_at(payload, end);
      std::string value = r.string_at(payload, end);
      trace.add_note(key, value);
      return;
    }
    case RecordType::Name: {
      auto h = r.fixed_at<NameHeader>(payload, end, "name");
      payload += sizeof h;
      trace.set_name(NameSpace(h.space), h.code, r.string_at(payload, end));
      return;
    }
    case RecordType::UserExit: trace.user_exits.push_back(r.fixed_at<UserExit>(payload, end, "user exit")); return;
    case RecordType::KernelEvent:
      trace.kernel_events.push_back(r.fixed_at<KernelEvent>(payload, end, "kernel event"));
      return;
    case RecordType::End: {
      auto e = r.fixed_at<End>(payload, end, "end");
      if (e.user_exits != trace.user_exits.size() || e.kernel_events != trace.kernel_events.size())
        r.fail("the end record's counts do not match the records before it");
      trace.kernel_events_lost = e.kernel_events_lost;
      ended = true;
      return;
    }
  }
  // Another record type: a later minor version's; skipped.
}

}  // namespace

const std::string* ExitTrace::note(const std::string& key) const {
  for (const auto& [k, v] : notes)
    if (k == key) return &v;
  return nullptr;
}

std::string ExitTrace::name(NameSpace space, uint32_t code) const {
  auto it = names_.find({space, code});
  if (it != names_.end()) return it->second;
  return std::string(space_label(space)) + " " + std::to_string(code);
}

uint32_t ExitTrace::kernel_reason_code(const std::string& text) {
  auto [it, added] = kernel_reason_codes_.emplace(text, uint32_t(kernel_reason_codes_.size()));
  if (added) set_name(NameSpace::KernelExitReason, it->second, text);
  return it->second;
}

void write_trace(const ExitTrace& trace, std::FILE* out) {
  RecordWriter w(out);
  FileHeader header{};
  std::memcpy(header.magic, MAGIC, sizeof MAGIC);
  header.version_major = VERSION_MAJOR;
  header.version_minor = VERSION_MINOR;
  header.header_bytes = sizeof header;
  header.tsc_hz = trace.tsc_hz;
  w.write_raw(&header, sizeof header);
  write_notes_and_names(trace, w);
  write_merged_records(trace, w);
  End end{trace.user_exits.size(), trace.kernel_events.size(), trace.kernel_events_lost, 0};
  w.write(RecordType::End, &end, sizeof end);
  if (std::fflush(out) != 0) throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
}

ExitTrace parse_trace(const std::vector<uint8_t>& bytes, const std::string& origin) {
  RecordReader r(bytes, origin);
  if (bytes.size() < sizeof(FileHeader) || std::memcmp(bytes.data(), MAGIC, sizeof MAGIC) != 0)
    r.fail("not a nestbed trace file (no NBTRACE header)");
  auto header = r.fixed_at<FileHeader>(0, bytes.size(), "file header");
  if (header.version_major != VERSION_MAJOR)
    r.fail("trace format version " + std::to_string(header.version_major) + "." + std::to_string(header.version_minor) +
           " is not supported (this nestbed reads " + std::to_string(VERSION_MAJOR) + ".x)");
  if (header.header_bytes < sizeof header || header.header_bytes > bytes.size()) r.fail("bad file header size");

  ExitTrace trace;
  trace.tsc_hz = header.tsc_hz;
  bool ended = false;
  for (size_t at = header.header_bytes; at < bytes.size() && !ended;) {
    auto rh = r.fixed_at<RecordHeader>(at, bytes.size(), "record header");
    if (rh.bytes < sizeof rh || rh.bytes % RECORD_ALIGN != 0 || rh.bytes > bytes.size() - at)
      r.fail("record at offset " + std::to_string(at) + " has a bad length");
    read_record(r, RecordType(rh.type), at + sizeof rh, at + rh.bytes, trace, ended);
    at += rh.bytes;
  }
  if (!ended) r.fail("truncated: no end record (the run did not finish writing it)");
  return trace;
}

ExitTrace read_trace_file(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) throw InputError("trace file '" + path + "' is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open trace file '" + path + "': " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("cannot read trace file '" + path + "'");
  return parse_trace(bytes, path);
}

}  // namespace nestbed::trace
