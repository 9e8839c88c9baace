#include "exit-tracer/trace_dump.h"

#include <cinttypes>
#include <string>

#include "arch/trace_annotations.h"
#include "arch/vmx/exit_reasons.h"
#include "exit-tracer/attribution.h"
#include "exit-tracer/disassembler.h"
#include "exit-tracer/exit_decoder.h"

namespace nestbed::trace {
namespace {

using arch::trace::AnnotationKind;

void dump_user_exit(const ExitTrace& t, const UserExit& e, std::FILE* out) {
  static const char* const kAccess[] = {"", " read", " write"};
  std::fprintf(out, "user-exit   #%" PRIu64 "  tsc %" PRIu64, e.seq, e.tsc_exit);
  if (e.tsc_resume) std::fprintf(out, "  cost %" PRIu64, e.tsc_resume - e.tsc_exit);
  std::fprintf(out, "  %s", t.name(NameSpace::KvmExitReason, e.reason).c_str());
  if (e.access != uint8_t(Access::None))
    std::fprintf(out, "%s %s size %u count %u data %s", e.access < 3 ? kAccess[e.access] : " ?", hex(e.address).c_str(),
                 unsigned(e.size), unsigned(e.count), hex(e.data).c_str());
  std::fputc('\n', out);
}

void dump_kernel_event(const ExitTrace& t, const KernelEvent& e, std::FILE* out) {
  std::fprintf(out, "kernel      %s  tsc %" PRIu64 "  cpu %u vcpu %u", kernel_event_name(e.kind), e.tsc, e.cpu, e.vcpu);
  const auto kind = KernelEventKind(e.kind);
  if (kind == KernelEventKind::Exit || kind == KernelEventKind::NestedExit)
    std::fprintf(out, "  %s  info1 %s info2 %s", t.name(NameSpace::KernelExitReason, e.reason).c_str(),
                 hex(e.info1).c_str(), hex(e.info2).c_str());
  if (kind == KernelEventKind::UserspaceExit)
    std::fprintf(out, "  %s", t.name(NameSpace::KvmExitReason, e.reason).c_str());
  if (kind != KernelEventKind::UserspaceExit) std::fprintf(out, "  rip %s", hex(e.guest_rip).c_str());
  std::fputc('\n', out);
}

void dump_hw_exit(const ExitTrace& t, const HwExit& e, const HwExitCost& cost, const Disassembler& disassemble,
                  std::FILE* out) {
  std::fprintf(out, "hw-exit     #%" PRIu64 "  L%u  cycles %" PRIu64, e.seq, unsigned(e.level), e.cycles);
  if (cost.timed) std::fprintf(out, "  cost %" PRIu64, cost.cycles);
  std::string reason = t.name(NameSpace::VmxExitReason, arch::vmx::exit_reason_basic(e.exit_reason));
  std::fprintf(out, "  %s  rip %s", reason.c_str(), hex(e.guest_rip).c_str());
  if (e.insn_len)
    std::fprintf(out, "  %s [%s]", disassemble(e.insn_bytes, e.insn_len, e.guest_rip, e.code_size).c_str(),
                 hex_bytes(e.insn_bytes, e.insn_len).c_str());
  const std::string what = describe_exit(e);
  if (!what.empty()) std::fprintf(out, "  -- %s", what.c_str());
  std::fputc('\n', out);
}

void dump_hw_entry(const HwEntry& e, std::FILE* out) {
  std::fprintf(out, "hw-entry    #%" PRIu64 "  L%u  cycles %" PRIu64 "  %s  rip %s  vmcs %s\n", e.seq,
               unsigned(e.level), e.cycles, e.launch ? "VMLAUNCH" : "VMRESUME", hex(e.guest_rip).c_str(),
               hex(e.vmcs).c_str());
}

// " (MOV to CR3 from RAX)" for a logical exit's reason and qualification.
std::string qualification_suffix(uint64_t basic_reason, uint64_t qualification) {
  const std::string q = describe_qualification(uint32_t(basic_reason & 0xffff), qualification);
  return q.empty() ? "" : " (" + q + ")";
}

// What the annotation says, in the words of trace_annotations.def.
std::string annotation_text(const ExitTrace& t, const Annotation& a) {
  const uint64_t* r = a.args;  // RDI, RSI, RDX, RCX
  auto reason = [&](uint64_t basic) { return t.name(NameSpace::VmxExitReason, uint32_t(basic & 0xffff)); };
  auto level = [](uint64_t n) { return "level " + std::to_string(n); };
  switch (AnnotationKind(a.kind)) {
    case AnnotationKind::LOGICAL_EXIT:
      return level(r[0]) + " handles " + reason(r[2]) + " of " + level(r[1]) + qualification_suffix(r[2], r[3]);
    case AnnotationKind::LOGICAL_EXIT_DONE: return level(r[0]) + " resumes " + level(r[1]);
    case AnnotationKind::VMCS_LEVEL:
      return "VMCS " + hex(r[0]) + " runs " + level(r[1]) + (a.non_root ? " (guest-physical: not applied)" : "");
    case AnnotationKind::EXIT_COST:
      return level(r[0]) + " measured " + std::to_string(r[3]) + " cycles handling " + reason(r[2]) + " of " +
             level(r[1]);
    case AnnotationKind::VMCS_NESTED:
      return level(r[2]) + "'s VMCS " + hex(r[0]) + " runs the guest of " + level(r[2] + 1) + "'s VMCS " + hex(r[1]);
    case AnnotationKind::MARK:
      return "mark " + std::to_string(r[0]) + ": " + hex(r[1]) + " " + hex(r[2]) + " " + hex(r[3]);
  }
  return "RDI " + hex(r[0]) + " RSI " + hex(r[1]) + " RDX " + hex(r[2]) + " RCX " + hex(r[3]);
}

void dump_annotation(const ExitTrace& t, const Annotation& a, std::FILE* out) {
  std::fprintf(out, "annotation  #%" PRIu64 "  L%u  cycles %" PRIu64 "  %s  rip %s  %s\n", a.seq, unsigned(a.level),
               a.cycles, t.name(NameSpace::AnnotationKind, uint32_t(a.kind)).c_str(), hex(a.rip).c_str(),
               annotation_text(t, a).c_str());
}

void dump_sim_records(const ExitTrace& t, std::FILE* out) {
  if (!t.has_sim_records()) return;
  const Attribution a = attribute(t);
  const Disassembler disassemble;
  for (const ExitTrace::SimRecord& r : t.sim_order) {
    switch (r.type) {
      case RecordType::HwExit:
        dump_hw_exit(t, t.hw_exits[r.index], a.exit_costs[r.index], disassemble, out);
        break;
      case RecordType::HwEntry: dump_hw_entry(t.hw_entries[r.index], out); break;
      case RecordType::Annotation: dump_annotation(t, t.annotations[r.index], out); break;
      default: break;
    }
  }
}

// The kvm records merged by TSC, as the file holds them.
void dump_kvm_records(const ExitTrace& t, std::FILE* out) {
  auto user = t.user_exits.begin();
  auto kernel = t.kernel_events.begin();
  while (user != t.user_exits.end() || kernel != t.kernel_events.end()) {
    if (user == t.user_exits.end() || (kernel != t.kernel_events.end() && kernel->tsc <= user->tsc_exit))
      dump_kernel_event(t, *kernel++, out);
    else
      dump_user_exit(t, *user++, out);
  }
}

}  // namespace

void print_trace_dump(const ExitTrace& t, std::FILE* out) {
  std::fprintf(out, "header      nestbed trace %u.%u  tsc_hz %" PRIu64 "\n", unsigned(t.version_major),
               unsigned(t.version_minor), t.tsc_hz);
  for (const auto& [key, value] : t.notes) std::fprintf(out, "note        %s: %s\n", key.c_str(), value.c_str());
  for (const auto& [key, text] : t.names())
    std::fprintf(out, "name        space %u code %u: %s\n", unsigned(key.first), key.second, text.c_str());
  dump_kvm_records(t, out);
  dump_sim_records(t, out);
  std::fprintf(out,
               "end         %zu user exits, %zu kernel events (%" PRIu64
               " lost), %zu hardware exits, %zu entries, %zu annotations\n",
               t.user_exits.size(), t.kernel_events.size(), t.kernel_events_lost, t.hw_exits.size(),
               t.hw_entries.size(), t.annotations.size());
}

}  // namespace nestbed::trace
