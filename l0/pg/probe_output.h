// pg-probe's serial output (workloads/pg-probe/README.md) read back into
// observations: one per run of a catalogued instruction.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nestbed::pg {

// Output that is not what pg-probe prints; the message names the line.
struct ProbeOutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The modes pg-probe runs in, as its observation lines name them: 64-bit
// mode, compatibility mode (IA-32e mode's 32-bit protected mode) and legacy
// 32-bit protected mode (paging off).
inline const char* const MODE_64 = "64";
inline const char* const MODE_COMPAT = "32";
inline const char* const MODE_PROTECTED = "pm";
inline const char* const MODES[] = {MODE_64, MODE_COMPAT, MODE_PROTECTED};
// The report's words for a mode: "64-bit", "compatibility", "32-bit
// protected"; and its table cell: "64", "compat", "pm32".
std::string mode_name(const std::string& mode);
std::string mode_cell(const std::string& mode);

struct CatalogueEntry {
  std::string id;
  std::string text;            // the instruction as written in 64-bit mode
  std::string text32;          // and in 32-bit code (compatibility and protected mode)
  bool time_dependent = false; // its result is the time: never compared
  bool has_compat = false;     // has a 32-bit variant (run in compatibility and protected mode)
};

struct StateChange {
  std::string field;  // "cr0", "gdtr.base", "rflags.if_iopl_ac", "io.com1_scr", ...
  std::string before, after;  // hex
  bool operator==(const StateChange&) const = default;
};

struct Observation {
  std::string id;
  std::string mode;  // MODE_64, MODE_COMPAT or MODE_PROTECTED
  unsigned cpl = 0;
  std::string config;  // "base" or the one resource that differs
  uint64_t insn_rip = 0;
  std::optional<unsigned> fault;  // vector; none: the instruction completed
  uint64_t error_code = 0;
  bool fault_at_insn = true;  // false: the set-up or read-out around it faulted (a probe bug)
  std::string outputs;        // "rax:..,rdx:..,mem:.." or "-"
  std::vector<StateChange> diff;
};

struct ProbeRun {
  std::vector<CatalogueEntry> entries;
  std::map<std::string, bool> configs;  // name -> supported by this CPU
  std::vector<Observation> observations;
  bool complete = false;  // the closing line with the run count was seen and matches

  const Observation* find(const std::string& id, const std::string& mode, unsigned cpl,
                          const std::string& config) const;
  const CatalogueEntry* entry(const std::string& id) const;
};

// Parses the lines pg-probe prints; other lines (a VMM's, the runtime's)
// are skipped. Throws ProbeOutputError on a malformed pg-probe line.
ProbeRun parse_probe_output(const std::string& text);

// "fault 13" style names: "#GP" for 13, "#UD" for 6, ... (arch/x86/exceptions.def).
std::string vector_name(unsigned vector);

}  // namespace nestbed::pg
