// Exports of a trace for other tools (DESIGN.md §7):
//   CSV, one row per exit, for pandas/spreadsheets (analysis/);
//   the Chrome/Perfetto trace-event JSON, for ui.perfetto.dev or
//   chrome://tracing: every exit a complete event ("ph": "X") on a track of
//   its level.
// Sim traces export hardware VM exits (and, in the JSON, logical exits);
// kvm traces export exits to user space (and kernel exits in the JSON).
#pragma once
#include <cstdint>
#include <cstdio>

#include "exit-tracer/exit_trace.h"

namespace nestbed::trace {

// Columns (sim): seq, level, exit_reason, reason, entry_failure,
// qualification, description, guest_rip, guest_linear_address,
// guest_physical_address, intr_info, insn_len, insn_bytes, instruction,
// vmcs, instructions, exit_cycles, entry_cycles, cost_cycles, cause,
// cause_level, cause_reason (entry_cycles/cost_cycles empty when untimed;
// cause* empty when no logical exit owns the exit).
// Columns (kvm): seq, reason, reason_name, access, size, count, address,
// data, tsc_exit, tsc_resume, cost_cycles, record, guest_rip, info1, info2,
// cpu, vcpu: one row per exit to user space (record "user_exit") and per
// kernel tracepoint event (record kvm_exit, kvm_nested_vmexit, kvm_entry,
// kvm_userspace_exit; tsc_exit its TSC, tsc_resume and cost_cycles to the
// next kvm_entry for an exit), merged by TSC. Every column is described in
// exit-tracer/README.md.
void write_csv(const ExitTrace& trace, std::FILE* out);

// One row per logical exit (sim; a kvm trace has none: the header only):
// index, handler_level, guest_level, exit_reason, reason, qualification,
// description, start_exit (the hardware exit's seq it started at),
// start_cycles, end_cycles, cost_cycles, hw_exits (the hardware exits it
// caused), hw_exit_cycles (their cost), vmm_cycles (EXIT_COST: the VMM's
// own RDTSC measurement).
void write_logical_csv(const ExitTrace& trace, std::FILE* out);

// Times ("ts", "dur", in µs as the format wants) are cycles / hz * 1e6 with
// hz = `nominal_hz` if nonzero, else the file's tsc_hz, and displayTimeUnit
// is "ns"; when both are 0 (the sim's modeled cycles) one cycle is written
// as one µs, displayTimeUnit is left out, and otherData.time_unit says so.
//   pid 1 "hardware VM exits": one track (tid) per level that exited
//   pid 2 "logical exits": one track per handler level; MARK annotations
//         as instant events on the track of the level that made them
// (kvm: pid 1 user-space exits; pid 2 the kernel's events, one track per
// vCPU: kvm_exit and kvm_nested_vmexit -> kvm_entry spans, and
// kvm_userspace_exit instants.)
void write_perfetto_json(const ExitTrace& trace, std::FILE* out, uint64_t nominal_hz = 0);

}  // namespace nestbed::trace
