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
// data, tsc_exit, tsc_resume, cost_cycles.
void write_csv(const ExitTrace& trace, std::FILE* out);

// Times ("ts", "dur", in µs as the format wants) are cycles / hz * 1e6 with
// hz = `nominal_hz` if nonzero, else the file's tsc_hz; when both are 0
// (the sim's modeled cycles) one cycle is written as one µs, and
// otherData.time_unit says so.
//   pid 1 "hardware VM exits": one track (tid) per level that exited
//   pid 2 "logical exits": one track per handler level; MARK annotations
//         as instant events on the track of the level that made them
// (kvm: pid 1 user-space exits, pid 2 kernel kvm_exit -> kvm_entry.)
void write_perfetto_json(const ExitTrace& trace, std::FILE* out, uint64_t nominal_hz = 0);

}  // namespace nestbed::trace
