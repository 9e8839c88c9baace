// The sim engine's exit recorder (DESIGN.md §4 "Trace"): the CPU reports
// every hardware VM exit, VM entry and magic-NOP annotation
// (l0/sim/trace_hooks.h); this sink turns each into a record of the trace
// file (exit-tracer's format and writer) as it happens, through a large
// stdio buffer. It lives with the sim: l0 uses exit-tracer, never the other
// way round.
//
// Deterministic: records hold modeled cycles, retired instructions and
// guest state only, never wall-clock time or host addresses, so the same
// run gives the same file, bit for bit.
#pragma once
#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/host_file.h"
#include "exit-tracer/trace_writer.h"
#include "l0/sim/trace_hooks.h"
#include "l0/sim/vmcs_levels.h"

namespace nestbed {
struct RunConfig;
}

namespace nestbed::sim {
class Cpu;
}

namespace nestbed::trace {

class SimTraceRecorder final : public sim::CpuTraceSink {
 public:
  using Notes = std::vector<std::pair<std::string, std::string>>;

  // Creates (or truncates) the file and writes the header and the notes.
  // Throws InputError when it cannot.
  SimTraceRecorder(const std::string& path, const Notes& notes);
  // Writes to a stream the caller owns (tests).
  SimTraceRecorder(std::FILE* out, const Notes& notes);
  // Closes the file; without finish() it has no End record, so readers
  // call it truncated, which it is.
  ~SimTraceRecorder() override;
  SimTraceRecorder(const SimTraceRecorder&) = delete;
  SimTraceRecorder& operator=(const SimTraceRecorder&) = delete;

  // The CPU whose exits are recorded: at each exit (still in guest state)
  // its decode mode is the guest's code size, HwExit::code_size.
  void watch(const sim::Cpu& cpu) { cpu_ = &cpu; }

  void hw_exit(const sim::HwExitEvent& e) override;
  void hw_entry(const sim::HwEntryEvent& e) override;
  void annotation(const sim::AnnotationEvent& e) override;

  // Writes the End record and flushes. Throws InputError naming the file
  // when any write failed (the CPU's callbacks cannot throw through the
  // interpreter, so a failure is kept until here).
  void finish();

  // The level VMCS_LEVEL (or VMCS_NESTED) registered for this VMCS, else
  // DEFAULT_GUEST_LEVEL.
  uint8_t level_of(uint64_t vmcs) const { return levels_.level_of(vmcs); }

 private:
  void start(const Notes& notes);
  // A hardware exit's or entry's level (HwExit::level), and whether a
  // VMCS_LEVEL annotation gave it (HwFlags).
  struct HwLevel {
    uint8_t level, flags;
  };
  HwLevel hw_level(uint64_t vmcs) const {
    const uint8_t registered = levels_.registered_level(vmcs);
    return registered ? HwLevel{registered, LEVEL_REGISTERED} : HwLevel{DEFAULT_GUEST_LEVEL, 0};
  }
  // Runs a write unless one failed already; remembers the first failure.
  template <typename Write>
  void guarded(Write&& write);
  // Writes the full block of Packed records.
  [[gnu::noinline]] void write_block();
  // Names a code before its first use (a Name record); inline, since all
  // but the first use of each code only find it named.
  void name_exit_reason(uint32_t exit_reason) {
    const uint16_t basic = arch::vmx::exit_reason_basic(exit_reason);
    if (basic < named_reasons_.size() && named_reasons_[basic]) return;
    write_exit_reason_name(exit_reason);
  }
  void name_annotation_kind(uint64_t kind) {
    if (kind < named_kinds_.size() && named_kinds_[kind]) return;
    write_annotation_kind_name(kind);
  }
  void write_exit_reason_name(uint32_t exit_reason);
  void write_annotation_kind_name(uint64_t kind);

  std::string path_;  // "" when writing to a caller's stream
  std::unique_ptr<OutputFile> file_;  // when writing to path_
  const sim::Cpu* cpu_ = nullptr;
  std::FILE* out_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  std::unique_ptr<TraceWriter> writer_;
  bool failed_ = false;  // a write failed: nothing more is written, finish() throws
  std::string error_;    // the first failure's message

  sim::VmcsLevels levels_;  // what the VMMs said of their VMCSs
  std::array<uint8_t, arch::vmx::kExitReasonMax + 1> named_reasons_{};  // per basic exit reason: its Name record is written
  std::array<uint8_t, 64> named_kinds_{};                               // per annotation kind
};

// The notes a sim run's trace starts with: engine, image, cmdline, modules,
// cost model, and what the times and levels mean.
SimTraceRecorder::Notes sim_run_notes(const RunConfig& config);

}  // namespace nestbed::trace
