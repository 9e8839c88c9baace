// VMREAD and VMWRITE of the fields l1-vmm itself chose, on top of the
// runtime's VMX instructions (runtime/vmx.h), inline for the exit path: they
// ask only whether the instruction succeeded, so each is the instruction and
// one branch. The field encodings and layouts are arch/vmx's.
//
// Such a VMREAD/VMWRITE can only fail if l1-vmm is wrong (or the processor
// lacks the field), so they do not return a status: a failure ends the run
// with the field's name (vmx_ops_error, as KVM's vmread_error/vmwrite_error).
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"
#include "runtime/vmx.h"

namespace l1 {

using arch::vmx::VmcsField;

[[noreturn]] void vmx_ops_error(const char* instruction, uint64_t field);

inline uint64_t vmcs_read(VmcsField f) {
  uint64_t value;
  if (__builtin_expect(rt::vmx::vmread(f, value) != rt::vmx::Status::Ok, 0)) vmx_ops_error("VMREAD", uint64_t(f));
  return value;
}

inline void vmcs_write(VmcsField f, uint64_t value) {
  if (__builtin_expect(rt::vmx::vmwrite(f, value) != rt::vmx::Status::Ok, 0)) vmx_ops_error("VMWRITE", uint64_t(f));
}

inline uint32_t vmcs_read32(VmcsField f) { return uint32_t(vmcs_read(f)); }

// Sets / clears bits of a control field (KVM's vmcs_set_bits/vmcs_clear_bits).
inline void vmcs_set_bits(VmcsField f, uint64_t bits) { vmcs_write(f, vmcs_read(f) | bits); }
inline void vmcs_clear_bits(VmcsField f, uint64_t bits) { vmcs_write(f, vmcs_read(f) & ~bits); }

}  // namespace l1
