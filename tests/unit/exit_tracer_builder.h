// Builds sim traces for exit-tracer's tests the way a run does: sim trace
// events fed to a SimTraceRecorder that writes into memory, then read back
// with parse_trace.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/exit_trace.h"
#include "l0/sim/trace_recorder.h"

namespace nestbed::testing {

class SimTraceBuilder {
 public:
  using Kind = arch::trace::AnnotationKind;

  SimTraceBuilder() {
    stream_ = open_memstream(&buffer_, &size_);
    recorder_ = std::make_unique<trace::SimTraceRecorder>(stream_, trace::SimTraceRecorder::Notes{{"engine", "sim"}});
  }
  ~SimTraceBuilder() {
    recorder_.reset();
    std::fclose(stream_);
    std::free(buffer_);
  }

  // A hardware exit; `bytes` are the exiting instruction's.
  SimTraceBuilder& exit(uint64_t cycles, arch::vmx::ExitReason reason, uint64_t vmcs,
                        uint64_t qualification = 0, std::vector<uint8_t> bytes = {}, uint64_t rip = 0x1000) {
    sim::HwExitEvent e{};
    e.cycles = cycles;
    e.instructions = cycles / 2;
    e.exit_reason = uint32_t(reason);
    e.qualification = qualification;
    e.guest_rip = rip;
    e.insn_len = uint8_t(bytes.size());
    if (!bytes.empty()) std::memcpy(e.insn_bytes, bytes.data(), bytes.size());
    e.vmcs = vmcs;
    recorder_->hw_exit(e);
    return *this;
  }

  SimTraceBuilder& entry(uint64_t cycles, uint64_t vmcs, bool launch = false) {
    sim::HwEntryEvent e{};
    e.cycles = cycles;
    e.instructions = cycles / 2;
    e.vmcs = vmcs;
    e.guest_rip = 0x1000;
    e.launch = launch;
    recorder_->hw_entry(e);
    return *this;
  }

  // An annotation in VMX root operation (level 1), or in non-root
  // operation on `vmcs`.
  SimTraceBuilder& annotate(uint64_t cycles, Kind kind, uint64_t rdi, uint64_t rsi, uint64_t rdx = 0,
                            uint64_t rcx = 0, bool non_root = false, uint64_t vmcs = trace::NO_VMCS) {
    sim::AnnotationEvent e{};
    e.cycles = cycles;
    e.instructions = cycles / 2;
    e.rip = 0x2000;
    e.regs[0] = uint64_t(kind);  // RAX
    e.regs[7] = rdi;
    e.regs[6] = rsi;
    e.regs[2] = rdx;
    e.regs[1] = rcx;
    e.non_root = non_root;
    e.vmcs = vmcs;
    recorder_->annotation(e);
    return *this;
  }

  // The file's bytes with its End record.
  std::vector<uint8_t> bytes() {
    recorder_->finish();
    std::fflush(stream_);
    return std::vector<uint8_t>(buffer_, buffer_ + size_);
  }
  trace::ExitTrace read() { return trace::parse_trace(bytes(), "built.trace"); }

 private:
  char* buffer_ = nullptr;
  size_t size_ = 0;
  std::FILE* stream_ = nullptr;
  std::unique_ptr<trace::SimTraceRecorder> recorder_;
};

}  // namespace nestbed::testing
