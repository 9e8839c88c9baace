#include "exit-tracer/trace_writer.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace nestbed::trace {
namespace {

constexpr uint32_t RECORD_ALIGN = 8;

uint32_t padded(size_t bytes) { return uint32_t((bytes + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN); }

static_assert(sizeof(HwExit) % RECORD_ALIGN == 0 && sizeof(HwEntry) % RECORD_ALIGN == 0 &&
              sizeof(Annotation) % RECORD_ALIGN == 0 && sizeof(UserExit) % RECORD_ALIGN == 0 &&
              sizeof(KernelEvent) % RECORD_ALIGN == 0 && sizeof(End) % RECORD_ALIGN == 0);

}  // namespace

TraceWriter::TraceWriter(std::FILE* out, uint64_t tsc_hz) : out_(out) {
  FileHeader header{};
  std::memcpy(header.magic, MAGIC, sizeof MAGIC);
  header.version_major = VERSION_MAJOR;
  header.version_minor = VERSION_MINOR;
  header.header_bytes = sizeof header;
  header.tsc_hz = tsc_hz;
  write_raw(&header, sizeof header);
}

void TraceWriter::write_raw(const void* data, size_t bytes) {
  if (std::fwrite(data, 1, bytes, out_) != bytes)
    throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
}

void TraceWriter::write(RecordType type, const void* fixed, size_t fixed_bytes,
                        std::initializer_list<std::string_view> strings) {
  size_t payload = fixed_bytes;
  for (std::string_view s : strings) payload += s.size() + 1;
  const uint32_t total = padded(sizeof(RecordHeader) + payload);
  std::vector<uint8_t> buffer(total, 0);
  const RecordHeader header{uint32_t(type), total};
  std::memcpy(buffer.data(), &header, sizeof header);
  size_t at = sizeof header;
  if (fixed_bytes) std::memcpy(buffer.data() + at, fixed, fixed_bytes);
  at += fixed_bytes;
  for (std::string_view s : strings) {
    std::memcpy(buffer.data() + at, s.data(), s.size());
    at += s.size() + 1;  // the buffer is zeroed: the NUL is there
  }
  write_raw(buffer.data(), buffer.size());
}

// One fixed-size record: two writes into the stream's buffer.
void TraceWriter::write_fixed(RecordType type, const void* fixed, size_t fixed_bytes) {
  const RecordHeader header{uint32_t(type), uint32_t(sizeof header + fixed_bytes)};
  write_raw(&header, sizeof header);
  write_raw(fixed, fixed_bytes);
}

void TraceWriter::write_packed() {
  if (packed_.empty()) return;
  const std::span<const uint8_t> payload = packed_.payload();
  const PackedHeader h{packed_.count(), uint32_t(payload.size())};
  const uint32_t total = padded(sizeof(RecordHeader) + sizeof h + payload.size());
  const RecordHeader header{uint32_t(RecordType::Packed), total};
  static constexpr uint8_t ZEROS[RECORD_ALIGN] = {};
  write_raw(&header, sizeof header);
  write_raw(&h, sizeof h);
  write_raw(payload.data(), payload.size());
  write_raw(ZEROS, total - sizeof header - sizeof h - payload.size());
  packed_.clear();
}

void TraceWriter::note(std::string_view key, std::string_view value) {
  write_packed();
  write(RecordType::Note, nullptr, 0, {key, value});
}

void TraceWriter::name(NameSpace space, uint32_t code, std::string_view text) {
  write_packed();
  const NameHeader h{uint32_t(space), code};
  write(RecordType::Name, &h, sizeof h, {text});
}

void TraceWriter::record(const UserExit& e) {
  write_packed();
  write_fixed(RecordType::UserExit, &e, sizeof e);
  ++counts_.user_exits;
}

void TraceWriter::record(const KernelEvent& e) {
  write_packed();
  write_fixed(RecordType::KernelEvent, &e, sizeof e);
  ++counts_.kernel_events;
}

void TraceWriter::end(uint64_t kernel_events_lost) {
  write_packed();
  End end = counts_;
  end.kernel_events_lost = kernel_events_lost;
  end.reserved = 0;
  write_fixed(RecordType::End, &end, sizeof end);
  if (std::fflush(out_) != 0) throw std::runtime_error(std::string("write failed: ") + std::strerror(errno));
}

}  // namespace nestbed::trace
