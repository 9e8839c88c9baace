#include "l0/sim/trace_recorder.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "l0/engine.h"

namespace nestbed::trace {
namespace {

constexpr size_t STREAM_BUFFER_BYTES = 1 << 20;
constexpr uint8_t ROOT_LEVEL = 1;  // the VMM l0 boots runs in VMX root operation

// x86 register numbers (the order of AnnotationEvent::regs).
constexpr unsigned RAX = 0, RCX = 1, RDX = 2, RSI = 6, RDI = 7;

constexpr uint64_t kind_number(arch::trace::AnnotationKind k) { return uint64_t(k); }

}  // namespace

SimTraceRecorder::SimTraceRecorder(const std::string& path, const Notes& notes) : path_(path) {
  out_ = std::fopen(path.c_str(), "wb");
  if (!out_) throw InputError("cannot write trace file '" + path + "': " + std::strerror(errno));
  owns_file_ = true;
  buffer_ = std::make_unique<char[]>(STREAM_BUFFER_BYTES);
  std::setvbuf(out_, buffer_.get(), _IOFBF, STREAM_BUFFER_BYTES);
  start(notes);
}

SimTraceRecorder::SimTraceRecorder(std::FILE* out, const Notes& notes) : out_(out) { start(notes); }

SimTraceRecorder::~SimTraceRecorder() {
  if (owns_file_) std::fclose(out_);
}

void SimTraceRecorder::start(const Notes& notes) {
  try {
    writer_ = std::make_unique<TraceWriter>(out_, 0);  // modeled cycles have no frequency
    for (const auto& [key, value] : notes) writer_->note(key, value);
  } catch (const std::runtime_error& e) {
    throw InputError("cannot write trace file '" + path_ + "': " + e.what());
  }
  named_reasons_.assign(arch::vmx::kExitReasonMax + 1, false);
  named_kinds_.assign(64, false);
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

uint8_t SimTraceRecorder::level_of(uint64_t vmcs) const {
  auto it = vmcs_levels_.find(vmcs);
  return it == vmcs_levels_.end() ? DEFAULT_GUEST_LEVEL : it->second;
}

// A Name record just before the first record that uses the code, so the
// file names every reason it holds and only those.
void SimTraceRecorder::name_exit_reason(uint32_t exit_reason) {
  const uint16_t basic = arch::vmx::exit_reason_basic(exit_reason);
  if (basic >= named_reasons_.size() || named_reasons_[basic]) return;
  named_reasons_[basic] = true;
  if (const char* name = arch::vmx::exit_reason_name(basic)) writer_->name(NameSpace::VmxExitReason, basic, name);
}

void SimTraceRecorder::name_annotation_kind(uint64_t kind) {
  if (kind >= named_kinds_.size() || named_kinds_[kind]) return;
  named_kinds_[kind] = true;
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
  r.level = level_of(e.vmcs);
  r.flags = vmcs_levels_.count(e.vmcs) ? LEVEL_REGISTERED : 0;
  r.insn_len = e.insn_len <= sizeof r.insn_bytes ? e.insn_len : 0;
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
  r.level = level_of(e.vmcs);
  r.flags = vmcs_levels_.count(e.vmcs) ? LEVEL_REGISTERED : 0;
  r.launch = e.launch ? 1 : 0;
  guarded([&] { writer_->record(r); });
}

// Only level 1 names hardware VMCSs: it runs in VMX root operation on the
// sim's VMX, so its VMCS addresses are the ones the CPU reports. A deeper
// VMM's VMCS_LEVEL (non-root) names a VMCS of its own guest-physical
// space, which the hardware never runs; it is recorded and not applied.
void SimTraceRecorder::register_vmcs_level(const sim::AnnotationEvent& e) {
  if (e.non_root || e.regs[RAX] != kind_number(arch::trace::AnnotationKind::VMCS_LEVEL)) return;
  const uint64_t level = e.regs[RSI];
  if (level >= 1 && level <= 0xff) vmcs_levels_[e.regs[RDI]] = uint8_t(level);
}

void SimTraceRecorder::annotation(const sim::AnnotationEvent& e) {
  register_vmcs_level(e);
  Annotation r{};
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
  r.level = e.non_root ? level_of(e.vmcs) : ROOT_LEVEL;
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
}

}  // namespace nestbed::trace
