#include "exit-tracer/exit_trace.h"

#include <cerrno>
#include <cstring>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/packed_records.h"
#include "exit-tracer/trace_writer.h"

namespace nestbed::trace {
namespace {

constexpr uint32_t RECORD_ALIGN = 8;

const char* space_label(NameSpace space) {
  switch (space) {
    case NameSpace::KvmExitReason: return "KVM exit";
    case NameSpace::KernelExitReason: return "kernel exit reason";
    case NameSpace::VmxExitReason: return "VMX exit reason";
    case NameSpace::AnnotationKind: return "annotation kind";
  }
  return "name";
}

// arch/'s name for a code of the 1.1 spaces (nullptr if it has none).
const char* arch_name(NameSpace space, uint32_t code) {
  switch (space) {
    case NameSpace::VmxExitReason: return code <= 0xffff ? arch::vmx::exit_reason_name(code) : nullptr;
    case NameSpace::AnnotationKind: return arch::trace::annotation_kind_name(code);
    default: return nullptr;
  }
}

// Reading: a cursor over the file's bytes that checks every length.
class RecordReader {
 public:
  RecordReader(const std::vector<uint8_t>& bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}

  [[noreturn]] void fail(const std::string& what) const { throw TraceError(origin_ + ": " + what); }

  template <typename T>
  T fixed_at(size_t offset, size_t record_end, const char* what) const {
    return prefix_at<T>(offset, record_end, sizeof(T), what);
  }

  // A record that grew in a minor version: at least `min_bytes` of T must
  // be there; fields past the record's end read as 0.
  template <typename T>
  T prefix_at(size_t offset, size_t record_end, size_t min_bytes, const char* what) const {
    const size_t have = record_end > offset ? record_end - offset : 0;
    if (have < min_bytes) fail(std::string("truncated ") + what + " record");
    T value{};
    std::memcpy(&value, bytes_.data() + offset, have < sizeof value ? have : sizeof value);
    return value;
  }

  void decode(size_t offset, size_t bytes, uint32_t count, ExitTrace& trace) const {
    decode_packed(bytes_.data() + offset, bytes, count, trace, origin_);
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

 private:
  const std::vector<uint8_t>& bytes_;
  std::string origin_;
};

void write_notes_and_names(const ExitTrace& trace, TraceWriter& w) {
  for (const auto& [key, value] : trace.notes) w.note(key, value);
  for (const auto& [key, text] : trace.names()) w.name(key.first, key.second, text);
}

// Both lists are in time order already; a kernel event that has the same
// TSC as a user exit goes first (it happened in the kernel, before KVM_RUN returned).
void write_merged_kvm_records(const ExitTrace& trace, TraceWriter& w) {
  auto user = trace.user_exits.begin();
  auto kernel = trace.kernel_events.begin();
  while (user != trace.user_exits.end() || kernel != trace.kernel_events.end()) {
    bool kernel_first = user == trace.user_exits.end() ||
                        (kernel != trace.kernel_events.end() && kernel->tsc <= user->tsc_exit);
    if (kernel_first)
      w.record(*kernel++);
    else
      w.record(*user++);
  }
}

void write_sim_records(const ExitTrace& trace, TraceWriter& w) {
  for (const ExitTrace::SimRecord& r : trace.sim_order) {
    switch (r.type) {
      case RecordType::HwExit: w.record(trace.hw_exits.at(r.index)); break;
      case RecordType::HwEntry: w.record(trace.hw_entries.at(r.index)); break;
      case RecordType::Annotation: w.record(trace.annotations.at(r.index)); break;
      default: break;
    }
  }
}

void check_end(const RecordReader& r, const End& e, const ExitTrace& trace) {
  if (e.user_exits != trace.user_exits.size() || e.kernel_events != trace.kernel_events.size() ||
      e.hw_exits != trace.hw_exits.size() || e.hw_entries != trace.hw_entries.size() ||
      e.annotations != trace.annotations.size())
    r.fail("the end record's counts do not match the records before it");
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
    case RecordType::HwExit: trace.add(r.fixed_at<HwExit>(payload, end, "hardware exit")); return;
    case RecordType::HwEntry: trace.add(r.fixed_at<HwEntry>(payload, end, "hardware entry")); return;
    case RecordType::Annotation: trace.add(r.fixed_at<Annotation>(payload, end, "annotation")); return;
    case RecordType::Packed: {
      auto h = r.fixed_at<PackedHeader>(payload, end, "packed");
      payload += sizeof h;
      if (h.payload_bytes > end - payload) r.fail("truncated packed record");
      r.decode(payload, h.payload_bytes, h.count, trace);
      return;
    }
    case RecordType::End: {
      auto e = r.prefix_at<End>(payload, end, END_1_0_BYTES, "end");
      check_end(r, e, trace);
      trace.kernel_events_lost = e.kernel_events_lost;
      ended = true;
      return;
    }
  }
  // Another record type: a later minor version's; skipped.
}

}  // namespace

const char* kernel_event_name(uint32_t kind) {
  switch (KernelEventKind(kind)) {
    case KernelEventKind::Exit: return "kvm_exit";
    case KernelEventKind::NestedExit: return "kvm_nested_vmexit";
    case KernelEventKind::Entry: return "kvm_entry";
    case KernelEventKind::UserspaceExit: return "kvm_userspace_exit";
  }
  return "kernel event";
}

const std::string* ExitTrace::note(const std::string& key) const {
  for (const auto& [k, v] : notes)
    if (k == key) return &v;
  return nullptr;
}

bool ExitTrace::from_sim() const {
  const std::string* engine = note("engine");
  return has_sim_records() || (engine && *engine == "sim");
}

std::string ExitTrace::name(NameSpace space, uint32_t code) const {
  auto it = names_.find({space, code});
  if (it != names_.end()) return it->second;
  if (const char* known = arch_name(space, code)) return known;
  return std::string(space_label(space)) + " " + std::to_string(code);
}

uint32_t ExitTrace::kernel_reason_code(const std::string& text) {
  auto [it, added] = kernel_reason_codes_.emplace(text, uint32_t(kernel_reason_codes_.size()));
  if (added) set_name(NameSpace::KernelExitReason, it->second, text);
  return it->second;
}

void write_trace(const ExitTrace& trace, std::FILE* out) {
  TraceWriter w(out, trace.tsc_hz);
  write_notes_and_names(trace, w);
  write_merged_kvm_records(trace, w);
  write_sim_records(trace, w);
  w.end(trace.kernel_events_lost);
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
  trace.version_major = header.version_major;
  trace.version_minor = header.version_minor;
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
  std::vector<uint8_t> bytes;
  try {
    bytes = InputFile(path, "trace file").read_all();
  } catch (const InputError& e) {
    throw TraceError(e.what());
  }
  return parse_trace(bytes, path);
}

}  // namespace nestbed::trace
