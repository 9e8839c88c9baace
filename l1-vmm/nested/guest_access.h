// The guest hypervisor's memory operands (level k+1, running on vmcs01):
// the linear address of a VMX instruction's memory operand, decoded from
// the exit's instruction information (SDM 27.2.4, tables 27-13/27-14) and
// displacement (27.2.1), and reads/writes of guest-linear memory through
// the guest's own paging (SDM chapter 4) and EPT01. A fault on the operand
// is injected into the guest as the instruction would have raised it
// (#GP for a non-canonical address, #PF with CR2 and error code).
#pragma once
#include <stdint.h>

namespace l1 {
struct Vcpu;
}

namespace l1::nested {

// The operand's linear address; false: a fault was injected (the caller
// returns, leaving RIP at the instruction).
bool vmx_operand_address(Vcpu& v, uint32_t insn_info, uint64_t qualification, uint64_t& la);

// Copies `len` bytes from/to guest-linear `la`; false: a fault was injected.
bool read_guest_linear(Vcpu& v, uint64_t la, void* dst, unsigned len);
bool write_guest_linear(Vcpu& v, uint64_t la, const void* src, unsigned len);

}  // namespace l1::nested
