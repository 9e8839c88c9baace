// An exit trace in memory (the records of trace_format.h plus their names
// and notes), and reading and writing it as a trace file.
#pragma once
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "l0/kvm/trace_format.h"

namespace nestbed::trace {

class ExitTrace {
 public:
  uint64_t tsc_hz = 0;
  std::vector<std::pair<std::string, std::string>> notes;  // in the order they were added
  std::vector<UserExit> user_exits;                        // in exit order
  std::vector<KernelEvent> kernel_events;                  // in time order
  uint64_t kernel_events_lost = 0;

  void add_note(const std::string& key, const std::string& value) { notes.emplace_back(key, value); }
  // The value of the first note with this key, or nullptr.
  const std::string* note(const std::string& key) const;

  void set_name(NameSpace space, uint32_t code, const std::string& text) { names_[{space, code}] = text; }
  bool has_name(NameSpace space, uint32_t code) const { return names_.count({space, code}) != 0; }
  // The code's name, or "<space> <code>" when the file did not name it.
  std::string name(NameSpace space, uint32_t code) const;
  // The code for a kernel exit-reason text, assigned on first use.
  uint32_t kernel_reason_code(const std::string& text);

  const std::map<std::pair<NameSpace, uint32_t>, std::string>& names() const { return names_; }

 private:
  std::map<std::pair<NameSpace, uint32_t>, std::string> names_;
  std::map<std::string, uint32_t> kernel_reason_codes_;
};

// Writes the trace, user exits and kernel events merged by TSC. Throws
// std::runtime_error when the file cannot be written.
void write_trace(const ExitTrace& trace, std::FILE* out);

// Reads a trace file. Throws InputError (l0/engine.h) naming the file and
// what is wrong when it is unreadable, not a trace, of another major
// version, or truncated.
ExitTrace read_trace_file(const std::string& path);
// The same for bytes already in memory; `origin` names them in errors.
ExitTrace parse_trace(const std::vector<uint8_t>& bytes, const std::string& origin);

}  // namespace nestbed::trace
