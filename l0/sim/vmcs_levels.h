// Which level a hardware VMCS runs (DESIGN.md §1 "level k"), from what the
// VMMs say of their VMCSs with magic-NOP annotations (arch/trace_annotations.h):
// VMCS_LEVEL ("this VMCS of mine runs level L") and VMCS_NESTED ("this VMCS
// of mine runs whatever the next level's VMCS V runs", nested VMX's vmcs02
// for a vmcs12). The trace recorder and the per-level accounting both ask
// it, so a hardware exit has one level whichever of them reports it.
#pragma once
#include <cstdint>
#include <map>
#include <utility>

#include "arch/trace_annotations.h"
#include "exit-tracer/trace_format.h"
#include "l0/sim/trace_hooks.h"

namespace nestbed::sim {

class VmcsLevels {
 public:
  // The VMM l0 boots runs in VMX root operation (or without VMX): level 1.
  static constexpr uint8_t ROOT_LEVEL = 1;
  // A guest whose VMCS no annotation names: the guest of level 1 (the
  // trace format defines it).
  static constexpr uint8_t UNNAMED_GUEST_LEVEL = trace::DEFAULT_GUEST_LEVEL;

  // Registers a VMCS_LEVEL or VMCS_NESTED annotation; ignores other kinds
  // (inline: every annotation asks).
  void note(const AnnotationEvent& e) {
    const uint64_t kind = e.regs[0];  // RAX
    if (kind == uint64_t(arch::trace::AnnotationKind::VMCS_LEVEL) ||
        kind == uint64_t(arch::trace::AnnotationKind::VMCS_NESTED))
      note_name(e);
  }

  // The level VMCS_LEVEL (or VMCS_NESTED, followed down) gave this
  // hardware VMCS; 0 when none did.
  uint8_t registered_level(uint64_t vmcs) const {
    // The last answer, kept until an annotation changes the names: every
    // hardware exit and entry asks, mostly of the same one or two VMCSs.
    if (!memo_valid_ || vmcs != memo_vmcs_) {
      memo_vmcs_ = vmcs;
      memo_level_ = resolve(ROOT_LEVEL, vmcs);
      memo_valid_ = true;
    }
    return memo_level_;
  }
  // registered_level, else UNNAMED_GUEST_LEVEL.
  uint8_t level_of(uint64_t vmcs) const {
    const uint8_t level = registered_level(vmcs);
    return level ? level : UNNAMED_GUEST_LEVEL;
  }
  // The level of the code that executed an annotation (or any instruction):
  // level 1 in root operation, else its VMCS's level.
  uint8_t executing_level(bool non_root, uint64_t vmcs) const { return non_root ? level_of(vmcs) : ROOT_LEVEL; }

 private:
  // What each VMM level said of its VMCSs (addresses in its own physical
  // space; level 1's are the hardware's).
  struct VmcsName {
    uint8_t level = 0;             // the level it runs (VMCS_LEVEL), 0 if not said
    uint64_t nested_vmcs = ~0ull;  // the next level's VMCS whose guest it runs (VMCS_NESTED), ~0 if none
  };
  void note_name(const AnnotationEvent& e);
  // Follows VMCS_NESTED references down to a VMCS_LEVEL; 0 if none.
  uint8_t resolve(uint8_t vmm_level, uint64_t vmcs) const;

  std::map<std::pair<uint8_t, uint64_t>, VmcsName> names_;
  mutable bool memo_valid_ = false;  // registered_level's last question and answer
  mutable uint64_t memo_vmcs_ = 0;
  mutable uint8_t memo_level_ = 0;
};

}  // namespace nestbed::sim
