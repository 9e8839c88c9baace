#include "l0/kvm/guest_cpuid.h"

#include <algorithm>

#include "arch/x86/cpuid.h"

namespace nestbed::kvm {
namespace {

// KVM's paravirtual interface (hypervisor leaves, "KVMKVMKVM" signature).
constexpr uint32_t HYPERVISOR_LEAVES_FIRST = 0x40000000;
constexpr uint32_t HYPERVISOR_LEAVES_LAST = 0x400000ff;
// Extended topology leaves, whose EDX is the x2APIC ID.
constexpr uint32_t TOPOLOGY_LEAF = 0xb;
constexpr uint32_t TOPOLOGY_LEAF_V2 = 0x1f;

// Leaf 1 EBX: bits 31:24 initial APIC ID, 23:16 logical processors per package.
constexpr uint32_t L1_EBX_APIC_ID_MASK = 0xffu << 24;
constexpr uint32_t L1_EBX_LOGICAL_COUNT_MASK = 0xffu << 16;
constexpr uint32_t L1_EBX_ONE_LOGICAL_PROCESSOR = 1u << 16;

bool is_hypervisor_leaf(const kvm_cpuid_entry2& e) {
  return e.function >= HYPERVISOR_LEAVES_FIRST && e.function <= HYPERVISOR_LEAVES_LAST;
}

}  // namespace

kvm_cpuid_entry2* find_cpuid(CpuidEntries& entries, uint32_t function, uint32_t index) {
  for (kvm_cpuid_entry2& e : entries) {
    bool indexed = e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    if (e.function == function && (!indexed || e.index == index)) return &e;
  }
  return nullptr;
}

const kvm_cpuid_entry2* find_cpuid(const CpuidEntries& entries, uint32_t function, uint32_t index) {
  return find_cpuid(const_cast<CpuidEntries&>(entries), function, index);
}

bool offers_vmx(const CpuidEntries& supported) {
  const kvm_cpuid_entry2* leaf1 = find_cpuid(supported, 1);
  return leaf1 && (leaf1->ecx & arch::cpuid::L1_ECX_VMX);
}

// What the engine changes, and why:
//
//  1. Leaf 1 ECX.x2APIC is set: the local APIC is the shared user-space
//     LocalApic, which implements x2APIC (DESIGN.md §3) as on the sim. KVM,
//     having no in-kernel APIC, refuses the x2APIC MSRs and hands them to
//     user space (KvmVm::route_msrs_to_user_space).
//  2. Leaf 1 ECX.TSC_DEADLINE is cleared: the shared LocalApic has no
//     TSC-deadline mode (it does one-shot and periodic).
//  3. Leaf 1 EBX says APIC ID 0 and one logical processor, and the x2APIC ID
//     in leaves 0xB/0x1F EDX is 0: the machine has one vCPU whose APIC ID is 0
//     (KVM copies the ID of whichever host CPU answered the ioctl).
//  4. KVM's paravirtual leaves 0x40000000-0x400000FF are removed. They
//     advertise kvmclock, PV EOI, async page faults, ...: services the
//     testbed's platform does not have (PV EOI needs KVM's in-kernel APIC)
//     and the sim does not offer, so an image behaves the same on both.
//     CPUID.1:ECX.HYPERVISOR stays set: it is true.
//
// Everything else, VMX included when the host offers it, is what KVM supports.
// (The sim's CPUID is its own, smaller set: the guest-visible CPUs differ,
// the platform does not.)
CpuidEntries guest_cpuid(CpuidEntries entries) {
  using namespace arch::cpuid;
  entries.erase(std::remove_if(entries.begin(), entries.end(), is_hypervisor_leaf), entries.end());
  if (kvm_cpuid_entry2* leaf1 = find_cpuid(entries, 1)) {
    leaf1->ecx = (leaf1->ecx | L1_ECX_X2APIC) & ~L1_ECX_TSC_DEADLINE;
    leaf1->ebx &= ~(L1_EBX_APIC_ID_MASK | L1_EBX_LOGICAL_COUNT_MASK);
    leaf1->ebx |= L1_EBX_ONE_LOGICAL_PROCESSOR;
  }
  for (kvm_cpuid_entry2& e : entries)
    if (e.function == TOPOLOGY_LEAF || e.function == TOPOLOGY_LEAF_V2) e.edx = 0;
  return entries;
}

}  // namespace nestbed::kvm
