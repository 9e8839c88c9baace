#include "l0/sim/trace_recorder.h"

#include <stdexcept>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "l0/engine.h"
#include "l0/sim/cpu/cpu.h"

namespace nestbed::trace {
namespace {

// The file's stdio buffer: as big as a packed block (TraceWriter::
// PACKED_BLOCK_BYTES), which the writer hands over whole. A bigger one
// buys nothing and costs the host a page fault per 4 KiB the first time it
// fills: with 1 MiB, 256 faults made a third of tracing's cost on a depth-1
// CPUID loop (experiments/sim_speed.md).
constexpr size_t STREAM_BUFFER_BYTES = TraceWriter::PACKED_BLOCK_BYTES;

// x86 register numbers (the order of AnnotationEvent::regs).
constexpr unsigned RAX = 0, RCX = 1, RDX = 2, RSI = 6, RDI = 7;

uint8_t code_size(sim::CpuMode mode) {
  switch (mode) {
    case sim::CpuMode::Bits16: return 16;
    case sim::CpuMode::Bits32: return 32;
    case sim::CpuMode::Bits64: return 64;
  }
  return 0;
}

}  // namespace

SimTraceRecorder::SimTraceRecorder(const std::string& path, const Notes& notes)
    : path_(path), file_(std::make_unique<OutputFile>(path, "trace")) {
  out_ = file_->stream();
  buffer_.reset(new char[STREAM_BUFFER_BYTES]);  // not zeroed: stdio fills it
  std::setvbuf(out_, buffer_.get(), _IOFBF, STREAM_BUFFER_BYTES);
  start(notes);
}

SimTraceRecorder::SimTraceRecorder(std::FILE* out, const Notes& notes) : out_(out) { start(notes); }

SimTraceRecorder::~SimTraceRecorder() = default;  // file_ closes the file

void SimTraceRecorder::start(const Notes& notes) {
  try {
    writer_ = std::make_unique<TraceWriter>(out_, 0);  // modeled cycles have no frequency
    for (const auto& [key, value] : notes) writer_->note(key, value);
  } catch (const std::runtime_error& e) {
    throw InputError("cannot write trace file '" + path_ + "': " + e.what());
  }
}

// The writes: a failure is kept, and nothing more is written.
template <typename Write>
void SimTraceRecorder::guarded(Write&& write) {
  if (failed_) return;
  try {
    write();
  } catch (const std::runtime_error& e) {
    error_ = e.what();
    failed_ = true;
  }
}

// A Name record just before the first record that uses the code, so the
// file names every reason it holds and only those.
void SimTraceRecorder::write_exit_reason_name(uint32_t exit_reason) {
  const uint16_t basic = arch::vmx::exit_reason_basic(exit_reason);
  if (basic >= named_reasons_.size() || named_reasons_[basic]) return;
  named_reasons_[basic] = 1;
  if (const char* name = arch::vmx::exit_reason_name(basic))
    guarded([&] { writer_->name(NameSpace::VmxExitReason, basic, name); });
}

void SimTraceRecorder::write_annotation_kind_name(uint64_t kind) {
  if (kind >= named_kinds_.size() || named_kinds_[kind]) return;
  named_kinds_[kind] = 1;
  if (const char* name = arch::trace::annotation_kind_name(kind))
    guarded([&] { writer_->name(NameSpace::AnnotationKind, uint32_t(kind), name); });
}

// Each event goes to the writer as its Packed fields, without a record in
// between: this runs at every VM exit, entry and annotation. Writes happen
// only in write_block and the Name records, out of line: a write that fails
// (a full disk) throws from the writer, and the CPU's callbacks cannot throw
// through the interpreter, so the first failure is kept for finish().
void SimTraceRecorder::hw_exit(const sim::HwExitEvent& e) {
  if (failed_) return;
  const HwLevel hw = hw_level(e.vmcs);
  // A VM-entry failure is reported after host state is loaded: no guest code ran.
  const bool entry_failure = arch::vmx::exit_reason_is_entry_failure(e.exit_reason);
  const uint8_t size = cpu_ && !entry_failure ? code_size(cpu_->mode()) : 0;
  name_exit_reason(e.exit_reason);
  const bool full = writer_->add_exit(e.cycles, e.instructions, e.exit_reason, [&](auto&& field) {
    packed::exit_fields(field, e.exit_reason, e.intr_info, e.qualification, e.guest_rip, e.guest_linear_address,
                        e.guest_physical_address, e.vmcs, hw.level, hw.flags, size, e.insn_len, e.insn_bytes);
  });
  if (full) write_block();
}

void SimTraceRecorder::hw_entry(const sim::HwEntryEvent& e) {
  if (failed_) return;
  const HwLevel hw = hw_level(e.vmcs);
  const bool full = writer_->add_entry(e.cycles, e.instructions, [&](auto&& field) {
    packed::entry_fields(field, e.vmcs, e.guest_rip, hw.level, hw.flags, e.launch ? 1 : 0);
  });
  if (full) write_block();
}

void SimTraceRecorder::annotation(const sim::AnnotationEvent& e) {
  levels_.note(e);
  if (failed_) return;
  const uint64_t kind = e.regs[sim::RAX];
  const uint8_t level = levels_.executing_level(e.non_root, e.vmcs);
  name_annotation_kind(kind);
  const bool full = writer_->add_annotation(e.cycles, e.instructions, kind, [&](auto&& field) {
    packed::annotation_fields(field, kind, e.rip, e.vmcs, e.regs[sim::RDI], e.regs[sim::RSI], e.regs[sim::RDX],
                              e.regs[sim::RCX], level, e.non_root ? 1 : 0);
  });
  if (full) write_block();
}

void SimTraceRecorder::write_block() {
  guarded([&] { writer_->write_packed(); });
}

SimTraceRecorder::Notes sim_run_notes(const RunConfig& config) {
  SimTraceRecorder::Notes notes = {{"engine", "sim"}, {"image", config.image_path}, {"cmdline", config.cmdline}};
  for (const ModuleSpec& m : config.modules)
    notes.emplace_back("module", m.args.empty() ? m.path : m.path + " " + m.args);
  notes.emplace_back("cost_model",
                     config.cost_model_path.empty() ? "the defaults (l0/sim/cost_model.def)" : config.cost_model_path);
  notes.emplace_back("cycles", "modeled cycles (the sim's RDTSC); a hardware exit costs the next VM entry's cycles "
                               "minus its own");
  notes.emplace_back("levels", "a hardware exit's level is the one a VMCS_LEVEL annotation gave its VMCS, else 2");
  return notes;
}

void SimTraceRecorder::finish() {
  guarded([&] { writer_->end(0); });
  if (failed_) throw InputError("cannot write trace file '" + path_ + "': " + error_);
  if (file_) file_->close();  // the last buffered bytes can fail too (a full disk): reported
}

}  // namespace nestbed::trace
