// An exit trace in memory (the records of trace_format.h plus their names
// and notes), and reading and writing it as a trace file.
#pragma once
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "exit-tracer/host_file.h"
#include "exit-tracer/trace_format.h"

namespace nestbed::trace {

// A trace file that cannot be read or is not a valid trace; the message
// names the file and what is wrong, in one line. The CLI reports it as bad
// input (l0/cli/trace_command.cpp).
struct TraceError : InputError {
  using InputError::InputError;
};

class ExitTrace {
 public:
  uint16_t version_major = VERSION_MAJOR;  // of the file it was read from (this nestbed's when built in memory)
  uint16_t version_minor = VERSION_MINOR;
  uint64_t tsc_hz = 0;
  std::vector<std::pair<std::string, std::string>> notes;  // in the order they were added

  // The kvm engine's records.
  std::vector<UserExit> user_exits;        // in exit order
  std::vector<KernelEvent> kernel_events;  // in time order
  uint64_t kernel_events_lost = 0;

  // The sim engine's records, each list in its own order; sim_order
  // interleaves them as they happened (an exit's cost needs the next entry,
  // attribution needs the annotations between them).
  struct SimRecord {
    RecordType type;  // HwExit, HwEntry or Annotation
    uint32_t index;   // into that list
  };
  std::vector<HwExit> hw_exits;
  std::vector<HwEntry> hw_entries;
  std::vector<Annotation> annotations;
  std::vector<SimRecord> sim_order;

  void add(const HwExit& e) { add_sim(hw_exits, RecordType::HwExit, e); }
  void add(const HwEntry& e) { add_sim(hw_entries, RecordType::HwEntry, e); }
  void add(const Annotation& e) { add_sim(annotations, RecordType::Annotation, e); }
  bool has_sim_records() const { return !sim_order.empty(); }
  // Written by the sim engine: it holds sim records or its notes say so
  // (a run without VM exits has none).
  bool from_sim() const;

  void add_note(const std::string& key, const std::string& value) { notes.emplace_back(key, value); }
  // The value of the first note with this key, or nullptr.
  const std::string* note(const std::string& key) const;

  void set_name(NameSpace space, uint32_t code, const std::string& text) { names_[{space, code}] = text; }
  bool has_name(NameSpace space, uint32_t code) const { return names_.count({space, code}) != 0; }
  // The code's name as the file gives it; for the 1.1 spaces, else arch/'s
  // name; else "<space> <code>".
  std::string name(NameSpace space, uint32_t code) const;
  // The code for a kernel exit-reason text, assigned on first use.
  uint32_t kernel_reason_code(const std::string& text);

  const std::map<std::pair<NameSpace, uint32_t>, std::string>& names() const { return names_; }

 private:
  template <typename Record>
  void add_sim(std::vector<Record>& list, RecordType type, const Record& e) {
    sim_order.push_back({type, uint32_t(list.size())});
    list.push_back(e);
  }

  std::map<std::pair<NameSpace, uint32_t>, std::string> names_;
  std::map<std::string, uint32_t> kernel_reason_codes_;
};

// "kvm_exit", "kvm_nested_vmexit", "kvm_entry", "kvm_userspace_exit": the
// tracepoint a KernelEvent records (its KernelEventKind).
const char* kernel_event_name(uint32_t kind);

// Writes the trace: notes, names, user exits and kernel events merged by
// TSC, then the sim records in sim_order, then End. Throws
// std::runtime_error when the file cannot be written.
void write_trace(const ExitTrace& trace, std::FILE* out);

// Reads a trace file. Throws TraceError naming the file and what is wrong
// when it is unreadable, not a trace, of another major version, or
// truncated.
ExitTrace read_trace_file(const std::string& path);
// The same for bytes already in memory; `origin` names them in errors.
ExitTrace parse_trace(const std::vector<uint8_t>& bytes, const std::string& origin);

}  // namespace nestbed::trace
