// CPUID (exits unconditionally, SDM 25.1.2): the guest sees the processor's
// CPUID with l1-vmm's policy applied (README.md, "CPUID"):
//
//   leaf 1 ECX.VMX        set with nested=1 (nested/ emulates VMX), else cleared
//   leaf 1 ECX.HYPERVISOR set: the guest runs under a hypervisor
//   0x40000000            max hypervisor leaf 0x40000001, signature "NestbedL1VMM"
//   0x40000001            EAX = the guest's level (DESIGN.md §1), EBX = hypercall ABI version
//   0x40000002-0x400000ff zeros
//
// An l1-vmm reads the same leaves at boot to learn its own level: 1 on the
// platform, k + 1 as the guest of an l1-vmm at level k.
//
// The processor's answers are cached per (leaf, subleaf), as KVM keeps its
// guests' CPUID in a table: under a hypervisor every CPUID l1-vmm executes
// is an exit of its own (at depth 2 one more hardware exit per CPUID of the
// innermost guest). Two answers follow processor state, so the cached
// value would go stale: CPUID.01H:ECX.OSXSAVE is CR4.OSXSAVE, and the
// guest's is its own CR4 (as it sees it), not l1-vmm's, so guest_cpuid
// sets it from that; and CPUID.(EAX=0DH,ECX=0):EBX is the XSAVE area size
// for the current XCR0, which the guest's XSETBV changes (exit_xsetbv.cpp;
// VMX does not switch XCR0, so the processor's answer is the guest's), so
// that sub-leaf is never cached.
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "l1-vmm/hypercall_abi.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "runtime/libc.h"
#include "runtime/x86.h"

namespace l1 {
namespace {

constexpr uint32_t HV_LEAF_FIRST = hypercall::CPUID_LEAF_SIGNATURE;
constexpr uint32_t HV_LEAF_LEVEL = hypercall::CPUID_LEAF_LEVEL;
constexpr uint32_t HV_LEAF_LAST = 0x400000ff;
constexpr const char* HV_SIGNATURE = hypercall::SIGNATURE;  // EBX, ECX, EDX (l1-vmm/hypercall_abi.h)

uint32_t signature_word(unsigned i) {
  uint32_t w;
  memcpy(&w, HV_SIGNATURE + 4 * i, 4);
  return w;
}

rt::CpuidResult hypervisor_leaf(const Vcpu& v, uint32_t leaf) {
  if (leaf == HV_LEAF_FIRST) return {HV_LEAF_LEVEL, signature_word(0), signature_word(1), signature_word(2)};
  if (leaf == HV_LEAF_LEVEL) return {v.level + 1, hypercall::ABI_VERSION, 0, 0};
  return {0, 0, 0, 0};
}

// A small direct-mapped cache of the processor's CPUID; a miss executes CPUID.
struct CpuidCacheEntry {
  bool valid;
  uint32_t leaf, subleaf;
  rt::CpuidResult result;
};
constexpr unsigned CPUID_CACHE_SIZE = 64;
CpuidCacheEntry cpuid_cache[CPUID_CACHE_SIZE];

}  // namespace

rt::CpuidResult processor_cpuid(uint32_t leaf, uint32_t subleaf) {
  if (leaf == 0xd && subleaf == 0) return rt::cpuid(leaf, subleaf);  // EBX follows XCR0
  CpuidCacheEntry& e = cpuid_cache[(leaf * 7 + subleaf + (leaf >> 28)) % CPUID_CACHE_SIZE];
  if (!e.valid || e.leaf != leaf || e.subleaf != subleaf) e = CpuidCacheEntry{true, leaf, subleaf, rt::cpuid(leaf, subleaf)};
  return e.result;
}

namespace {

rt::CpuidResult guest_cpuid(const Vcpu& v, uint32_t leaf, uint32_t subleaf) {
  if (leaf >= HV_LEAF_FIRST && leaf <= HV_LEAF_LAST) return hypervisor_leaf(v, leaf);
  rt::CpuidResult r = processor_cpuid(leaf, subleaf);
  if (leaf == 1) {
    const uint32_t vmx = v.nested.enabled ? arch::cpuid::L1_ECX_VMX : 0;
    r.ecx = (r.ecx & ~arch::cpuid::L1_ECX_VMX) | vmx | arch::cpuid::L1_ECX_HYPERVISOR;
    const bool osxsave = (r.ecx & arch::cpuid::L1_ECX_XSAVE) && (guest_cr4_view() & arch::cr4::OSXSAVE);
    r.ecx = (r.ecx & ~arch::cpuid::L1_ECX_OSXSAVE) | (osxsave ? arch::cpuid::L1_ECX_OSXSAVE : 0);
  }
  return r;
}

}  // namespace

void handle_cpuid(Vcpu& v) {
  const rt::CpuidResult r = guest_cpuid(v, uint32_t(v.regs.gpr[RAX]), uint32_t(v.regs.gpr[RCX]));
  // CPUID writes 32-bit results; in 64-bit mode that clears bits 63:32.
  v.regs.gpr[RAX] = r.eax;
  v.regs.gpr[RBX] = r.ebx;
  v.regs.gpr[RCX] = r.ecx;
  v.regs.gpr[RDX] = r.edx;
  skip_emulated_instruction(v);
}

unsigned detect_vmm_level() {
  const rt::CpuidResult r = rt::cpuid(HV_LEAF_FIRST);
  const bool under_l1vmm = r.ebx == signature_word(0) && r.ecx == signature_word(1) && r.edx == signature_word(2);
  if (!under_l1vmm) return 1;
  return rt::cpuid(HV_LEAF_LEVEL).eax;
}

}  // namespace l1
