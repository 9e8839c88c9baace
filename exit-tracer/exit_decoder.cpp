#include "exit-tracer/exit_decoder.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "arch/vmx/exit_qualification.h"
#include "arch/vmx/exit_reasons.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"

namespace nestbed::trace {
namespace {

using arch::vmx::ExitReason;
namespace vmx = arch::vmx;

// The VALUE rows of exit_qualification.def: the names the SDM gives a
// field's values ("MOV to CR", "OUT"), read from the one table.
struct ValueRow {
  const char* layout;
  const char* field;
  uint64_t value;
  const char* text;
};
constexpr ValueRow kValueRows[] = {
#define VALUE(layout, field, name, value, text) {#layout, #field, value, text},
#include "arch/vmx/exit_qualification.def"
};

// The table's text for `value` of layout.field, or nullptr.
const char* value_text(const char* layout, const char* field, uint64_t value) {
  for (const ValueRow& row : kValueRows)
    if (row.value == value && std::strcmp(row.field, field) == 0 && std::strcmp(row.layout, layout) == 0)
      return row.text;
  return nullptr;
}

std::string signed_hex(uint64_t value) {
  const int64_t v = int64_t(value);
  return v < 0 ? "-" + hex(uint64_t(0) - value) : hex(value);
}

std::string or_number(const char* text, uint64_t value) { return text ? text : "value " + std::to_string(value); }

// "data write", "instruction fetch", ... from the qualification's access bits.
std::string ept_access(uint64_t q) {
  namespace ev = vmx::qual_ept_violation;
  std::string what;
  auto add = [&](const char* s) { what += what.empty() ? s : std::string(" + ") + s; };
  if (ev::READ.test(q)) add("data read");
  if (ev::WRITE.test(q)) add("data write");
  if (ev::FETCH.test(q)) add("instruction fetch");
  return what.empty() ? "access" : what;
}

std::string ept_violation(const HwExit& e) {
  namespace ev = vmx::qual_ept_violation;
  const uint64_t q = e.qualification;
  std::string s = ept_access(q) + " at GPA " + hex(e.guest_physical_address) + " (was ";
  s += ev::READABLE.test(q) ? 'r' : '-';
  s += ev::WRITABLE.test(q) ? 'w' : '-';
  s += ev::EXECUTABLE.test(q) ? 'x' : '-';
  s += ")";
  if (ev::GLA_VALID.test(q))
    s += ", linear " + hex(e.guest_linear_address) +
         (ev::GLA_TRANSLATED.test(q) ? " (translation)" : " (paging-structure entry)");
  if (ev::NMI_UNBLOCKING.test(q)) s += ", NMI unblocking";
  return s;
}

std::string cr_access(uint64_t q) {
  namespace cr = vmx::qual_cr_access;
  const uint64_t type = cr::ACCESS_TYPE.get(q);
  const std::string crn = "CR" + std::to_string(cr::CR.get(q));
  const char* gpr = gpr_name(unsigned(cr::GPR.get(q)));
  switch (type) {
    case cr::MOV_TO_CR: return "MOV to " + crn + " from " + gpr;
    case cr::MOV_FROM_CR: return "MOV from " + crn + " to " + gpr;
    case cr::CLTS: return "CLTS";
    default:
      return "LMSW " + hex(cr::LMSW_SOURCE.get(q)) + " (" +
             or_number(value_text("qual_cr_access", "LMSW_OPERAND", cr::LMSW_OPERAND.get(q)), 0) + ")";
  }
}

std::string mov_dr(uint64_t q) {
  namespace dr = vmx::qual_mov_dr;
  const std::string drn = "DR" + std::to_string(dr::DR.get(q));
  const char* gpr = gpr_name(unsigned(dr::GPR.get(q)));
  return dr::DIRECTION.get(q) == dr::MOV_TO_DR ? "MOV to " + drn + " from " + gpr : "MOV from " + drn + " to " + gpr;
}

std::string io(uint64_t q) {
  namespace io = vmx::qual_io;
  const bool in = io::DIRECTION.get(q) == io::IN;
  const uint64_t size = io::SIZE.get(q) + 1;  // the field holds size - 1 (SDM table 27-5)
  std::string s = std::string(in ? "IN " : "OUT ") + std::to_string(size) + (size == 1 ? " byte " : " bytes ") +
                  (in ? "from" : "to") + " port " + hex(io::PORT.get(q));
  s += " (" + or_number(value_text("qual_io", "OPERAND_ENCODING", io::OPERAND_ENCODING.get(q)), 0) + ")";
  if (io::STRING.test(q)) s += io::REP.test(q) ? ", REP string" : ", string";
  return s;
}

std::string task_switch(uint64_t q) {
  namespace ts = vmx::qual_task_switch;
  return "to TSS selector " + hex(ts::SELECTOR.get(q)) + " by " +
         or_number(value_text("qual_task_switch", "SOURCE", ts::SOURCE.get(q)), ts::SOURCE.get(q));
}

std::string apic_access(uint64_t q) {
  namespace aa = vmx::qual_apic_access;
  const uint64_t type = aa::ACCESS_TYPE.get(q);
  std::string s = or_number(value_text("qual_apic_access", "ACCESS_TYPE", type), type);
  if (type <= aa::LINEAR_EVENT_DELIVERY) s += " at offset " + hex(aa::OFFSET.get(q));
  return s;
}

std::string debug_conditions(uint64_t q) {
  namespace db = vmx::qual_debug;
  std::string s;
  auto add = [&](bool on, const char* what) {
    if (on) s += s.empty() ? what : std::string(", ") + what;
  };
  add(db::B0.test(q), "B0");
  add(db::B1.test(q), "B1");
  add(db::B2.test(q), "B2");
  add(db::B3.test(q), "B3");
  add(db::BD.test(q), "debug-register access");
  add(db::BS.test(q), "single step");
  return s;
}

// The event an exception, NMI or external-interrupt exit reports.
std::string interruption(uint32_t info) {
  namespace ii = vmx::intr_info;
  if (!ii::VALID.test(info)) return "no interruption information";
  const unsigned vector = unsigned(ii::VECTOR.get(info));
  const uint64_t type = ii::TYPE.get(info);
  std::string s = type == ii::TYPE_EXTERNAL_INTERRUPT ? "vector " + hex(vector) : arch::exception_name(uint8_t(vector));
  if (type != ii::TYPE_EXTERNAL_INTERRUPT && type != ii::TYPE_HARDWARE_EXCEPTION)
    s += " (" + or_number(value_text("intr_info", "TYPE", type), type) + ")";
  return s;
}

std::string exception(const HwExit& e) {
  namespace ii = vmx::intr_info;
  std::string s = interruption(e.intr_info);
  const unsigned vector = unsigned(ii::VECTOR.get(e.intr_info));
  if (vector == unsigned(arch::Vector::PF)) s += " at linear " + hex(e.qualification);
  if (vector == unsigned(arch::Vector::DB) && e.qualification) s += ": " + debug_conditions(e.qualification);
  return s;
}

std::string msr(uint64_t q) {
  const uint32_t index = uint32_t(vmx::qual_msr::MSR.get(q));
  const char* name = arch::msr::name(index);
  return "MSR " + hex(index) + (name ? std::string(" ") + name : "");
}

}  // namespace

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%" PRIx64, value);
  return text;
}

const char* gpr_name(unsigned number) {
  static const char* const kNames[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                         "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};
  return number < 16 ? kNames[number] : "?";
}

std::string describe_qualification(uint32_t exit_reason, uint64_t q) {
  switch (ExitReason(vmx::exit_reason_basic(exit_reason))) {
    case ExitReason::CR_ACCESS: return cr_access(q);
    case ExitReason::DR_ACCESS: return mov_dr(q);
    case ExitReason::IO_INSTRUCTION:
    case ExitReason::IO_SMI: return io(q);
    case ExitReason::TASK_SWITCH: return task_switch(q);
    case ExitReason::APIC_ACCESS: return apic_access(q);
    case ExitReason::INVLPG: return "linear " + hex(q);
    case ExitReason::SIPI_SIGNAL: return "SIPI vector " + hex(vmx::qual_sipi::VECTOR.get(q));
    case ExitReason::VIRTUALIZED_EOI: return "vector " + hex(vmx::qual_eoi::VECTOR.get(q));
    case ExitReason::APIC_WRITE: return "offset " + hex(vmx::qual_apic_write::OFFSET.get(q));
    case ExitReason::MWAIT: return vmx::qual_mwait::MONITOR_ARMED.test(q) ? "monitor armed" : "monitor not armed";
    case ExitReason::INVALID_GUEST_STATE: return or_number(value_text("qual_entry_failure", "CODE", q), q);
    case ExitReason::MSR_LOAD_FAIL: return "MSR-load entry " + std::to_string(vmx::qual_msr_load_fail::ENTRY.get(q));
    case ExitReason::MSR_READ_IMM:
    case ExitReason::MSR_WRITE_IMM: return msr(q);
    case ExitReason::INSTRUCTION_TIMEOUT:
      return vmx::qual_notify::VM_CONTEXT_INVALID.test(q) ? "VM context invalid" : "VM context valid";
    default: break;
  }
  const char* layout = vmx::exit_reason_qualification(exit_reason);
  if (layout && std::strcmp(layout, "qual_displacement") == 0) return "displacement " + signed_hex(q);
  return q ? "qualification " + hex(q) : "";
}

std::string describe_exit(const HwExit& e) {
  std::string s;
  switch (ExitReason(vmx::exit_reason_basic(e.exit_reason))) {
    case ExitReason::EXCEPTION_NMI: s = exception(e); break;
    case ExitReason::EXTERNAL_INTERRUPT: s = interruption(e.intr_info); break;
    case ExitReason::EPT_VIOLATION: s = ept_violation(e); break;
    case ExitReason::EPT_MISCONFIG: s = "GPA " + hex(e.guest_physical_address); break;
    default: s = describe_qualification(e.exit_reason, e.qualification); break;
  }
  if (vmx::exit_reason_is_entry_failure(e.exit_reason)) s = s.empty() ? "VM-entry failure" : "VM-entry failure: " + s;
  return s;
}

}  // namespace nestbed::trace
