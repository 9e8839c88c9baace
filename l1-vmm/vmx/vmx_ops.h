// The VMX instructions (SDM vol. 3, 30.3) as inline functions, for the exit
// path: a VMREAD there is one instruction and a flags test, not a call. The
// field encodings and layouts are arch/vmx's; nothing is redefined here.
//
// VMREAD/VMWRITE of a field l1-vmm itself chose can only fail if l1-vmm is
// wrong (or the processor lacks the field), so they do not return a status:
// a failure ends the run with the field's name (vmx_ops_error, as KVM's
// vmread_error/vmwrite_error).
#pragma once
#include <stdint.h>

#include "arch/vmx/vmx.h"

namespace l1 {

using arch::vmx::VmcsField;

// How a VMX instruction ended (SDM 30.2): VMsucceed, VMfailInvalid (CF = 1,
// no current VMCS), VMfailValid (ZF = 1, the error is VM_INSTRUCTION_ERROR).
enum class VmxStatus : uint8_t { Ok, FailInvalid, FailValid };

inline VmxStatus vmx_status(bool cf, bool zf) {
  return cf ? VmxStatus::FailInvalid : zf ? VmxStatus::FailValid : VmxStatus::Ok;
}
const char* vmx_status_name(VmxStatus s);

[[noreturn]] void vmx_ops_error(const char* instruction, uint64_t field, VmxStatus s);

inline VmxStatus vmxon(uint64_t region) {
  bool cf, zf;
  asm volatile("vmxon %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(region) : "memory");
  return vmx_status(cf, zf);
}

inline VmxStatus vmclear(uint64_t vmcs) {
  bool cf, zf;
  asm volatile("vmclear %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(vmcs) : "memory");
  return vmx_status(cf, zf);
}

inline VmxStatus vmptrld(uint64_t vmcs) {
  bool cf, zf;
  asm volatile("vmptrld %[p]" : "=@ccc"(cf), "=@ccz"(zf) : [p] "m"(vmcs) : "memory");
  return vmx_status(cf, zf);
}

// AT&T operand order: vmread encoding, destination; vmwrite source, encoding.
inline uint64_t vmcs_read(VmcsField f) {
  uint64_t value;
  bool ok;  // "above": CF = 0 and ZF = 0
  asm volatile("vmread %[enc], %[val]" : [val] "=r"(value), "=@cca"(ok) : [enc] "r"(uint64_t(f)));
  if (__builtin_expect(!ok, 0)) vmx_ops_error("VMREAD", uint64_t(f), VmxStatus::FailValid);
  return value;
}

inline void vmcs_write(VmcsField f, uint64_t value) {
  bool ok;
  asm volatile("vmwrite %[val], %[enc]" : "=@cca"(ok) : [val] "r"(value), [enc] "r"(uint64_t(f)));
  if (__builtin_expect(!ok, 0)) vmx_ops_error("VMWRITE", uint64_t(f), VmxStatus::FailValid);
}

inline uint32_t vmcs_read32(VmcsField f) { return uint32_t(vmcs_read(f)); }

// Sets / clears bits of a control field (KVM's vmcs_set_bits/vmcs_clear_bits).
inline void vmcs_set_bits(VmcsField f, uint64_t bits) { vmcs_write(f, vmcs_read(f) | bits); }
inline void vmcs_clear_bits(VmcsField f, uint64_t bits) { vmcs_write(f, vmcs_read(f) & ~bits); }

// INVEPT / INVVPID with their 128-bit descriptors (SDM 30.3).
inline VmxStatus invept(uint64_t type, uint64_t eptp) {
  const arch::vmx::InveptDescriptor d{eptp, 0};
  bool cf, zf;
  asm volatile("invept %[d], %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [d] "m"(d), [t] "r"(type) : "memory");
  return vmx_status(cf, zf);
}

inline VmxStatus invvpid(uint64_t type, uint16_t vpid, uint64_t linear) {
  const arch::vmx::InvvpidDescriptor d{vpid, linear};
  bool cf, zf;
  asm volatile("invvpid %[d], %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [d] "m"(d), [t] "r"(type) : "memory");
  return vmx_status(cf, zf);
}

}  // namespace l1
