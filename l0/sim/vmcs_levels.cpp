#include "l0/sim/vmcs_levels.h"

#include "arch/trace_annotations.h"

namespace nestbed::sim {
namespace {

// x86 register numbers (the order of AnnotationEvent::regs).
constexpr unsigned RAX = 0, RDX = 2, RSI = 6, RDI = 7;

constexpr uint64_t kind_number(arch::trace::AnnotationKind k) { return uint64_t(k); }

}  // namespace

// The deepest answer wins: a VMCS_NESTED link that resolves, else the
// VMCS_LEVEL said of this VMCS itself (a guest hypervisor that names none
// of its VMCSs leaves level k's own guess, k + 2).
uint8_t VmcsLevels::resolve(uint8_t vmm_level, uint64_t vmcs) const {
  if (vmm_level == 0xff) return 0;  // deeper than any level: a cycle of references
  auto it = names_.find({vmm_level, vmcs});
  if (it == names_.end()) return 0;
  if (it->second.nested_vmcs != ~0ull)
    if (const uint8_t deeper = resolve(uint8_t(vmm_level + 1), it->second.nested_vmcs)) return deeper;
  return it->second.level;
}

// Every VMM level names its own VMCSs, in its own physical space: level 1
// (in VMX root operation on the sim's VMX) the hardware's, a deeper one
// (non-root) guest-physical ones, which the hardware never runs. Nested
// VMX links them: level k's vmcs02 runs what level k+1's vmcs12 runs
// (VMCS_NESTED), so a hardware VMCS of level 1 resolves, level by level,
// to the VMCS_LEVEL its innermost VMM gave (resolve).
void VmcsLevels::note_name(const AnnotationEvent& e) {
  const uint64_t kind = e.regs[RAX];
  memo_valid_ = false;
  if (kind == kind_number(arch::trace::AnnotationKind::VMCS_LEVEL)) {
    const uint64_t level = e.regs[RSI];
    if (level >= 1 && level <= 0xff) names_[{executing_level(e.non_root, e.vmcs), e.regs[RDI]}].level = uint8_t(level);
  } else if (kind == kind_number(arch::trace::AnnotationKind::VMCS_NESTED)) {
    // RDX is the level that says it (l1-vmm's own level): that names the
    // address space of RDI, and RSI is in the next one.
    const uint64_t vmm = e.regs[RDX];
    if (vmm >= 1 && vmm < 0xff) names_[{uint8_t(vmm), e.regs[RDI]}].nested_vmcs = e.regs[RSI];
  }
}

}  // namespace nestbed::sim
