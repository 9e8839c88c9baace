#include "l0/sim/trace_recorder.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "l0/engine.h"
#include "l0/sim/cpu/cpu.h"

namespace nestbed::trace {
namespace {

constexpr size_t STREAM_BUFFER_BYTES = 1 << 20;

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
  buffer_ = std::make_unique<char[]>(STREAM_BUFFER_BYTES);
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
  named_reasons_.assign(arch::vmx::kExitReasonMax + 1, 0);
  named_kinds_.assign(64, 0);
}

template <typename Write>
void SimTraceRecorder::guarded(Write&& write) {
  if (!error_.empty()) return;
  try {
    write();
  } catch (const std::runtime_error& e) {
    error_ = e.what();
  }
}

// A Name record just before the first record that uses the code, so the
// file names every reason it holds and only those.
void SimTraceRecorder::write_exit_reason_name(uint32_t exit_reason) {
  const uint16_t basic = arch::vmx::exit_reason_basic(exit_reason);
  if (basic >= named_reasons_.size() || named_reasons_[basic]) return;
  named_reasons_[basic] = 1;
  if (const char* name = arch::vmx::exit_reason_name(basic)) writer_->name(NameSpace::VmxExitReason, basic, name);
}

void SimTraceRecorder::write_annotation_kind_name(uint64_t kind) {
  if (kind >= named_kinds_.size() || named_kinds_[kind]) return;
  named_kinds_[kind] = 1;
  if (const char* name = arch::trace::annotation_kind_name(kind))
    writer_->name(NameSpace::AnnotationKind, uint32_t(kind), name);
}

void SimTraceRecorder::hw_exit(const sim::HwExitEvent& e) {
  HwExit r{};
  r.seq = exits_++;
  r.cycles = e.cycles;
  r.instructions = e.instructions;
  r.exit_reason = e.exit_reason;
  r.intr_info = e.intr_info;
  r.qualification = e.qualification;
  r.guest_rip = e.guest_rip;
  r.guest_linear_address = e.guest_linear_address;
  r.guest_physical_address = e.guest_physical_address;
  r.vmcs = e.vmcs;
  const uint8_t level = levels_.registered_level(e.vmcs);
  r.level = level ? level : DEFAULT_GUEST_LEVEL;
  r.flags = level ? LEVEL_REGISTERED : 0;
  r.insn_len = e.insn_len <= sizeof r.insn_bytes ? e.insn_len : 0;
  // A VM-entry failure is reported after host state is loaded: no guest code ran.
  const bool entry_failure = arch::vmx::exit_reason_is_entry_failure(e.exit_reason);
  r.code_size = cpu_ && !entry_failure ? code_size(cpu_->mode()) : 0;
  std::memcpy(r.insn_bytes, e.insn_bytes, r.insn_len);  // bytes past insn_len stay 0: deterministic
  guarded([&] {
    name_exit_reason(r.exit_reason);
    writer_->record(r);
  });
}

void SimTraceRecorder::hw_entry(const sim::HwEntryEvent& e) {
  HwEntry r{};
  r.seq = entries_++;
  r.cycles = e.cycles;
  r.instructions = e.instructions;
  r.vmcs = e.vmcs;
  r.guest_rip = e.guest_rip;
  const uint8_t level = levels_.registered_level(e.vmcs);
  r.level = level ? level : DEFAULT_GUEST_LEVEL;
  r.flags = level ? LEVEL_REGISTERED : 0;
  r.launch = e.launch ? 1 : 0;
  guarded([&] { writer_->record(r); });
}

void SimTraceRecorder::annotation(const sim::AnnotationEvent& e) {
  levels_.note(e);
  Annotation r;  // every field is set below (no zeroing of the whole record per annotation)
  std::memset(r.reserved, 0, sizeof r.reserved);
  r.seq = annotations_++;
  r.cycles = e.cycles;
  r.instructions = e.instructions;
  r.rip = e.rip;
  r.vmcs = e.vmcs;
  r.kind = e.regs[RAX];
  r.args[0] = e.regs[RDI];
  r.args[1] = e.regs[RSI];
  r.args[2] = e.regs[RDX];
  r.args[3] = e.regs[RCX];
  r.non_root = e.non_root ? 1 : 0;
  r.level = levels_.executing_level(e.non_root, e.vmcs);
  guarded([&] {
    name_annotation_kind(r.kind);
    writer_->record(r);
  });
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
  if (!error_.empty()) throw InputError("cannot write trace file '" + path_ + "': " + error_);
  if (file_) file_->close();  // the last buffered bytes can fail too (a full disk): reported
}

}  // namespace nestbed::trace
