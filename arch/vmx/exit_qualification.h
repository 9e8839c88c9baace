// Layouts of the VM-exit information fields (exit reason, exit
// qualifications, VM-exit instruction information, interruption
// information) and of the guest interruptibility, activity and
// pending-debug-exception fields, generated from exit_qualification.def
// into namespaces arch::vmx::<layout> (see arch/vmx/bitfield.h).
//
//   uint64_t q = vmread(EXIT_QUALIFICATION);
//   if (qual_cr_access::ACCESS_TYPE.get(q) == qual_cr_access::MOV_TO_CR)
//     write_cr(qual_cr_access::CR.get(q), gpr[qual_cr_access::GPR.get(q)]);
//
// Guest segment access rights (SDM 24.4.1) are arch::seg::ar, in
// arch/x86/segment.h.
#pragma once
#include <stdint.h>

#include "arch/vmx/bitfield.h"

namespace arch::vmx {

#define LAYOUT NESTBED_LAYOUT_CXX_LAYOUT
#define FIELD NESTBED_LAYOUT_CXX_FIELD
#define VALUE NESTBED_LAYOUT_CXX_VALUE
#include "arch/vmx/exit_qualification.def"

// An interruption-information word (VM-entry, VM-exit or IDT-vectoring
// form), valid bit set.
constexpr uint32_t make_intr_info(uint8_t vector, uint64_t type, bool error_code) {
  return uint32_t(intr_info::VECTOR.make(vector) | intr_info::TYPE.make(type) |
                  intr_info::ERROR_CODE_VALID.make(error_code) | intr_info::VALID.mask);
}

// The qualification's R/W/X permission bits 5:3 from the AND of the EPT
// entries' bits 2:0 (SDM 27.2.1, table 27-7).
constexpr uint64_t qual_ept_violation_permissions(uint64_t rwx) {
  return (rwx & 7u) << qual_ept_violation::READABLE.lsb;
}

// Index scaling of the instruction-information forms with a memory operand.
constexpr unsigned insn_info_scale(uint64_t info) { return 1u << insn_info_vmx::SCALING.get(info); }

}  // namespace arch::vmx
