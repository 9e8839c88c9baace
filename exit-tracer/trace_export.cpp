#include "exit-tracer/trace_export.h"

#include <cinttypes>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/attribution.h"
#include "exit-tracer/disassembler.h"
#include "exit-tracer/exit_decoder.h"

namespace nestbed::trace {
namespace {

// ---- CSV (RFC 4180: a field with a comma, quote or line break is quoted) ----

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string s = "\"";
  for (char c : text) s += c == '"' ? std::string("\"\"") : std::string(1, c);
  return s + "\"";
}

class CsvRow {
 public:
  explicit CsvRow(std::FILE* out) : out_(out) {}
  ~CsvRow() { std::fputc('\n', out_); }
  CsvRow& operator<<(std::string_view text) {
    put(csv_field(text));
    return *this;
  }
  CsvRow& operator<<(uint64_t n) {
    put(std::to_string(n));
    return *this;
  }

 private:
  void put(const std::string& field) {
    if (!first_) std::fputc(',', out_);
    first_ = false;
    std::fputs(field.c_str(), out_);
  }
  std::FILE* out_;
  bool first_ = true;
};

void write_sim_csv(const ExitTrace& trace, std::FILE* out) {
  const Attribution a = attribute(trace);
  const Disassembler disassemble;
  std::fputs("seq,level,exit_reason,reason,entry_failure,qualification,description,guest_rip,guest_linear_address,"
             "guest_physical_address,intr_info,insn_len,insn_bytes,instruction,vmcs,instructions,exit_cycles,"
             "entry_cycles,cost_cycles,cause,cause_level,cause_reason\n",
             out);
  for (size_t i = 0; i < trace.hw_exits.size(); ++i) {
    const HwExit& e = trace.hw_exits[i];
    const HwExitCost& cost = a.exit_costs[i];
    CsvRow row(out);
    row << e.seq << uint64_t(e.level) << uint64_t(e.exit_reason)
        << trace.name(NameSpace::VmxExitReason, arch::vmx::exit_reason_basic(e.exit_reason))
        << uint64_t(arch::vmx::exit_reason_is_entry_failure(e.exit_reason)) << hex(e.qualification)
        << describe_exit(e) << hex(e.guest_rip) << hex(e.guest_linear_address) << hex(e.guest_physical_address)
        << hex(e.intr_info) << uint64_t(e.insn_len) << hex_bytes(e.insn_bytes, e.insn_len)
        << disassemble(e.insn_bytes, e.insn_len, e.guest_rip, e.code_size) << hex(e.vmcs) << e.instructions << e.cycles;
    if (cost.timed)
      row << e.cycles + cost.cycles << cost.cycles;
    else
      row << "" << "";
    if (const auto& cause = a.causes[i]) {
      const LogicalExit& le = a.logical_exits[*cause];
      row << uint64_t(*cause) << uint64_t(le.handler_level) << trace.name(NameSpace::VmxExitReason, le.basic_reason);
    } else {
      row << "" << "" << "";
    }
  }
}

// The next kvm_entry after each kernel exit event (its in-kernel cost,
// as the summary reckons it), 0 where none follows.
std::vector<uint64_t> kernel_exit_ends(const ExitTrace& trace) {
  std::vector<uint64_t> ends(trace.kernel_events.size(), 0);
  std::optional<size_t> open;
  for (size_t i = 0; i < trace.kernel_events.size(); ++i) {
    const auto kind = KernelEventKind(trace.kernel_events[i].kind);
    if (kind == KernelEventKind::Entry) {
      if (open) ends[*open] = trace.kernel_events[i].tsc;
      open.reset();
    } else if (kind == KernelEventKind::Exit || kind == KernelEventKind::NestedExit) {
      open = i;
    }
  }
  return ends;
}

std::string kernel_reason_name(const ExitTrace& trace, const KernelEvent& e) {
  switch (KernelEventKind(e.kind)) {
    case KernelEventKind::Exit:
    case KernelEventKind::NestedExit: return trace.name(NameSpace::KernelExitReason, e.reason);
    case KernelEventKind::UserspaceExit: return trace.name(NameSpace::KvmExitReason, e.reason);
    default: return "";
  }
}

void kvm_user_row(const ExitTrace& trace, const UserExit& e, std::FILE* out) {
  static const char* const kAccess[] = {"", "read", "write"};
  CsvRow row(out);
  row << e.seq << uint64_t(e.reason) << trace.name(NameSpace::KvmExitReason, e.reason)
      << (e.access < 3 ? kAccess[e.access] : "?") << uint64_t(e.size) << uint64_t(e.count) << hex(e.address)
      << hex(e.data) << e.tsc_exit << e.tsc_resume;
  if (e.tsc_resume)
    row << e.tsc_resume - e.tsc_exit;
  else
    row << "";
  row << "user_exit" << "" << "" << "" << "" << "";
}

void kvm_kernel_row(const ExitTrace& trace, size_t index, uint64_t end, std::FILE* out) {
  const KernelEvent& e = trace.kernel_events[index];
  CsvRow row(out);
  row << uint64_t(index) << uint64_t(e.reason) << kernel_reason_name(trace, e) << "" << "" << "" << "" << "" << e.tsc;
  if (end)
    row << end << end - e.tsc;
  else
    row << "" << "";
  row << kernel_event_name(e.kind) << hex(e.guest_rip) << hex(e.info1) << hex(e.info2) << uint64_t(e.cpu)
      << uint64_t(e.vcpu);
}

// User exits and kernel tracepoint events in one table, merged by TSC as
// the file holds them (a kernel event first on a tie).
void write_kvm_csv(const ExitTrace& trace, std::FILE* out) {
  std::fputs("seq,reason,reason_name,access,size,count,address,data,tsc_exit,tsc_resume,cost_cycles,"
             "record,guest_rip,info1,info2,cpu,vcpu\n",
             out);
  const std::vector<uint64_t> ends = kernel_exit_ends(trace);
  size_t user = 0, kernel = 0;
  while (user < trace.user_exits.size() || kernel < trace.kernel_events.size()) {
    const bool kernel_first = user == trace.user_exits.size() ||
                              (kernel < trace.kernel_events.size() &&
                               trace.kernel_events[kernel].tsc <= trace.user_exits[user].tsc_exit);
    if (kernel_first) {
      kvm_kernel_row(trace, kernel, ends[kernel], out);
      ++kernel;
    } else {
      kvm_user_row(trace, trace.user_exits[user++], out);
    }
  }
}

// ---- trace-event JSON ----

std::string json_string(std::string_view text) {
  std::string s = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      s += esc;
    } else {
      s += c;
    }
  }
  return s + "\"";
}

// The "traceEvents" array, one event per line.
class EventWriter {
 public:
  EventWriter(std::FILE* out, uint64_t hz) : out_(out), hz_(hz) {}

  // A time in the format's µs.
  std::string time(uint64_t cycles) const {
    if (!hz_) return std::to_string(cycles);
    char text[40];
    std::snprintf(text, sizeof text, "%.3f", double(cycles) * 1e6 / double(hz_));
    return text;
  }

  void metadata(const char* what, int pid, int tid, const std::string& name) {
    event("{\"name\":\"" + std::string(what) + "\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) +
          (tid >= 0 ? ",\"tid\":" + std::to_string(tid) : "") + ",\"args\":{\"name\":" + json_string(name) + "}}");
  }
  void sort_index(int pid, int tid, int index) {
    event("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) +
          ",\"tid\":" + std::to_string(tid) + ",\"args\":{\"sort_index\":" + std::to_string(index) + "}}");
  }

  // A complete event when `timed`, else an instant one; `args` is JSON members.
  void span(const std::string& name, const char* cat, int pid, int tid, uint64_t start, bool timed, uint64_t cycles,
            const std::string& args) {
    std::string e = "{\"name\":" + json_string(name) + ",\"cat\":\"" + cat + "\",\"pid\":" + std::to_string(pid) +
                    ",\"tid\":" + std::to_string(tid) + ",\"ts\":" + time(start);
    e += timed ? ",\"ph\":\"X\",\"dur\":" + time(cycles) : std::string(",\"ph\":\"i\",\"s\":\"t\"");
    event(e + ",\"args\":{" + args + "}}");
  }

  void event(const std::string& json) {
    std::fputs(first_ ? "\n" : ",\n", out_);
    std::fputs(json.c_str(), out_);
    first_ = false;
  }

 private:
  std::FILE* out_;
  uint64_t hz_;
  bool first_ = true;
};

// The members of an event's "args" object.
class Args {
 public:
  Args& raw(const char* key, const std::string& json) {
    if (!text_.empty()) text_ += ',';
    text_ += '"';
    text_ += key;
    text_ += "\":";
    text_ += json;
    return *this;
  }
  Args& number(const char* key, uint64_t n) { return raw(key, std::to_string(n)); }
  Args& string(const char* key, std::string_view s) { return raw(key, json_string(s)); }
  const std::string& json() const { return text_; }

 private:
  std::string text_;
};

constexpr int HW_PID = 1, LOGICAL_PID = 2;

void name_tracks(EventWriter& w, const ExitTrace& trace, const Attribution& a) {
  w.metadata("process_name", HW_PID, -1, "hardware VM exits");
  w.metadata("process_name", LOGICAL_PID, -1, "logical exits");
  std::set<uint32_t> hw_levels, vmm_levels;
  for (const HwExit& e : trace.hw_exits) hw_levels.insert(e.level);
  for (const LogicalExit& le : a.logical_exits) vmm_levels.insert(le.handler_level);
  for (const Annotation& an : trace.annotations)
    if (an.kind == uint64_t(arch::trace::AnnotationKind::MARK)) vmm_levels.insert(an.level);
  for (uint32_t level : hw_levels) {
    w.metadata("thread_name", HW_PID, int(level), "level " + std::to_string(level) + " exits");
    w.sort_index(HW_PID, int(level), int(level));
  }
  for (uint32_t level : vmm_levels) {
    w.metadata("thread_name", LOGICAL_PID, int(level), "level " + std::to_string(level));
    w.sort_index(LOGICAL_PID, int(level), int(level));
  }
}

void hw_exit_events(EventWriter& w, const ExitTrace& trace, const Attribution& a) {
  const Disassembler disassemble;
  for (size_t i = 0; i < trace.hw_exits.size(); ++i) {
    const HwExit& e = trace.hw_exits[i];
    const HwExitCost& c = a.exit_costs[i];
    Args args;
    args.number("seq", e.seq)
        .string("rip", hex(e.guest_rip))
        .string("qualification", describe_exit(e))
        .string("instruction", disassemble(e.insn_bytes, e.insn_len, e.guest_rip, e.code_size))
        .number("cycles", c.cycles);
    if (a.causes[i]) args.number("cause", *a.causes[i]);
    const std::string name = trace.name(NameSpace::VmxExitReason, arch::vmx::exit_reason_basic(e.exit_reason));
    w.span(name, "hw_exit", HW_PID, e.level, e.cycles, c.timed, c.cycles, args.json());
  }
}

void logical_exit_events(EventWriter& w, const ExitTrace& trace, const Attribution& a) {
  for (size_t i = 0; i < a.logical_exits.size(); ++i) {
    const LogicalExit& le = a.logical_exits[i];
    Args args;
    args.number("index", i)
        .number("guest_level", le.guest_level)
        .string("qualification", describe_qualification(le.basic_reason, le.qualification))
        .number("hw_exits", le.hw_exits.size())
        .number("hw_exit_cycles", le.hw_exit_cycles);
    if (le.vmm_cycles) args.number("vmm_cycles", *le.vmm_cycles);
    w.span(trace.name(NameSpace::VmxExitReason, le.basic_reason), "logical_exit", LOGICAL_PID, int(le.handler_level),
           le.start_cycles, le.timed, le.cycles(), args.json());
  }
  for (const Annotation& an : trace.annotations) {
    if (an.kind != uint64_t(arch::trace::AnnotationKind::MARK)) continue;
    Args args;
    args.number("id", an.args[0]).number("a", an.args[1]).number("b", an.args[2]).number("c", an.args[3]);
    w.span("mark " + std::to_string(an.args[0]), "mark", LOGICAL_PID, an.level, an.cycles, false, 0, args.json());
  }
}

void kvm_events(EventWriter& w, const ExitTrace& trace) {
  w.metadata("process_name", HW_PID, -1, "exits to user space");
  w.metadata("process_name", LOGICAL_PID, -1, "kernel kvm_exit -> kvm_entry");
  for (const UserExit& e : trace.user_exits) {
    const bool timed = e.tsc_resume != 0;
    w.span(trace.name(NameSpace::KvmExitReason, e.reason), "user_exit", HW_PID, 0, e.tsc_exit, timed,
           timed ? e.tsc_resume - e.tsc_exit : 0, Args().number("seq", e.seq).string("address", hex(e.address)).json());
  }
  // Every kernel event, as the summary counts them: an exit (or nested
  // exit) spans to its kvm_entry; kvm_userspace_exit is an instant.
  const std::vector<uint64_t> ends = kernel_exit_ends(trace);
  for (size_t i = 0; i < trace.kernel_events.size(); ++i) {
    const KernelEvent& e = trace.kernel_events[i];
    const auto kind = KernelEventKind(e.kind);
    if (kind == KernelEventKind::Entry) continue;  // the end of the exit before it
    Args args;
    args.number("index", i).string("rip", hex(e.guest_rip)).string("info1", hex(e.info1)).string("info2", hex(e.info2));
    const std::string name = kernel_reason_name(trace, e);
    const char* cat = kind == KernelEventKind::UserspaceExit ? "kernel_userspace_exit"
                      : kind == KernelEventKind::NestedExit  ? "kernel_nested_exit"
                                                             : "kernel_exit";
    const bool timed = kind != KernelEventKind::UserspaceExit && ends[i] != 0;
    w.span(kind == KernelEventKind::UserspaceExit ? "userspace_exit " + name : name, cat, LOGICAL_PID, int(e.vcpu),
           e.tsc, timed, timed ? ends[i] - e.tsc : 0, args.json());
  }
}

// The trace-event format's "ts" and "dur" are microseconds. With a clock
// rate they are real time (shown in ns: displayTimeUnit); without one (the
// sim's modeled cycles) one cycle is written as one microsecond, and the
// viewer's default unit is left alone, so what it shows as 1 us is 1 cycle.
std::string time_unit(uint64_t hz) {
  if (!hz) return "ts and dur: 1 us = 1 modeled cycle (no clock rate; trace export --hz converts)";
  return "ts and dur: us, from cycles at " + std::to_string(hz) + " cycles per second; displayed in ns";
}

}  // namespace

void write_csv(const ExitTrace& trace, std::FILE* out) {
  if (trace.from_sim())
    write_sim_csv(trace, out);
  else
    write_kvm_csv(trace, out);
}

void write_logical_csv(const ExitTrace& trace, std::FILE* out) {
  std::fputs("index,handler_level,guest_level,exit_reason,reason,qualification,description,start_exit,"
             "start_cycles,end_cycles,cost_cycles,hw_exits,hw_exit_cycles,vmm_cycles\n",
             out);
  if (!trace.from_sim()) return;  // logical exits are the sim's annotations
  const Attribution a = attribute(trace);
  for (size_t i = 0; i < a.logical_exits.size(); ++i) {
    const LogicalExit& le = a.logical_exits[i];
    CsvRow row(out);
    row << uint64_t(i) << uint64_t(le.handler_level) << uint64_t(le.guest_level) << uint64_t(le.basic_reason)
        << trace.name(NameSpace::VmxExitReason, le.basic_reason) << hex(le.qualification)
        << describe_qualification(le.basic_reason, le.qualification);
    if (le.start_exit)
      row << uint64_t(*le.start_exit);
    else
      row << "";
    row << le.start_cycles;
    if (le.timed)
      row << le.end_cycles << le.cycles();
    else
      row << "" << "";
    row << uint64_t(le.hw_exits.size()) << le.hw_exit_cycles;
    if (le.vmm_cycles)
      row << *le.vmm_cycles;
    else
      row << "";
  }
}

void write_perfetto_json(const ExitTrace& trace, std::FILE* out, uint64_t nominal_hz) {
  const uint64_t hz = nominal_hz ? nominal_hz : trace.tsc_hz;
  const std::string* engine = trace.note("engine");
  std::fprintf(out, "{%s\"otherData\":{\"source\":\"nestbed trace %u.%u\",\"engine\":%s,\"time_unit\":%s},"
               "\"traceEvents\":[",
               hz ? "\"displayTimeUnit\":\"ns\"," : "", unsigned(trace.version_major), unsigned(trace.version_minor),
               json_string(engine ? *engine : "").c_str(), json_string(time_unit(hz)).c_str());
  EventWriter w(out, hz);
  if (trace.from_sim()) {
    const Attribution a = attribute(trace);
    name_tracks(w, trace, a);
    hw_exit_events(w, trace, a);
    logical_exit_events(w, trace, a);
  } else {
    kvm_events(w, trace);
  }
  std::fputs("\n]}\n", out);
}

}  // namespace nestbed::trace
