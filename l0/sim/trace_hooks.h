// What the sim CPU reports to an exit recorder (DESIGN.md §4 "Trace"):
// every hardware VM exit and VM entry, and every magic-NOP annotation a VMM
// makes. SimTraceRecorder (l0/sim/trace_recorder.h) implements the sink and
// writes the file with exit-tracer's writer.
#pragma once
#include <cstdint>

namespace nestbed::sim {

struct HwExitEvent {
  uint64_t cycles;        // modeled cycles at the exit (after its cost is charged)
  uint64_t instructions;  // instructions retired so far
  uint32_t exit_reason;   // the full VM_EXIT_REASON field (bit 31: entry failure)
  uint64_t qualification;
  uint64_t guest_rip;
  uint64_t guest_linear_address;
  uint64_t guest_physical_address;
  uint32_t intr_info;     // VM-exit interruption information
  uint8_t insn_len;       // VM-exit instruction length (0 where not defined)
  uint8_t insn_bytes[15]; // the exiting instruction's bytes (first insn_len valid)
  uint64_t vmcs;          // physical address of the current VMCS
};

struct HwEntryEvent {
  uint64_t cycles;        // modeled cycles when the guest starts running
  uint64_t instructions;
  uint64_t vmcs;
  uint64_t guest_rip;
  bool launch;            // VMLAUNCH (else VMRESUME)
};

// The magic NOP `nopl 0x4e455354(%rax,%rax,1)` (arch/trace_annotations.h)
// is a plain NOP on hardware; under the sim a zero-cost record of the
// registers at that point.

struct AnnotationEvent {
  uint64_t cycles;
  uint64_t instructions;
  uint64_t rip;
  uint64_t regs[16];  // RAX..R15 at the annotation
  bool non_root;      // executed in VMX non-root operation
  uint64_t vmcs;      // current VMCS (~0 if none)
};

class CpuTraceSink {
 public:
  virtual ~CpuTraceSink() = default;
  virtual void hw_exit(const HwExitEvent& e) = 0;
  virtual void hw_entry(const HwEntryEvent& e) = 0;
  virtual void annotation(const AnnotationEvent& e) = 0;
  // Whether hw_exit needs HwExitEvent::insn_bytes (read from guest memory
  // at every exit: a sink that only counts skips that cost).
  virtual bool wants_instruction_bytes() const { return true; }
};

}  // namespace nestbed::sim
