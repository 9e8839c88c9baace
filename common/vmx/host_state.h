// Loading host state at a VM exit (SDM 27.5.1-27.5.2): what the processor
// state becomes, computed from the VMCS's host-state area and VM-exit
// controls. One implementation for the sim's VM exit (which applies it to
// its CPU) and l1-vmm's nested VM exit (which writes it into vmcs01 as
// level k+1's guest state; KVM's load_vmcs12_host_state).
// Freestanding, no VMX instructions.
#pragma once
#include <stdint.h>

namespace nestbed::common::vmx {

struct VmcsReader {
  void* ctx;
  uint64_t (*read)(void* ctx, uint32_t encoding);
};

struct LoadedSegment {
  uint16_t selector;
  uint64_t base;
  uint32_t limit;
  uint32_t access_rights;  // VMCS access-rights format (arch::seg::ar), UNUSABLE included
};

struct HostStateLoad {
  bool host64;                     // "host address-space size"
  uint64_t cr0, cr3, cr4;
  uint64_t dr7, debugctl;
  uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
  uint64_t efer;                   // with LMA/LME = host64
  bool load_pat;
  uint64_t pat;
  LoadedSegment seg[6];            // ES, CS, SS, DS, FS, GS (arch::seg::SegReg order)
  LoadedSegment tr, ldtr;
  uint64_t gdtr_base, idtr_base;   // limits are 0xffff
  uint64_t rsp, rip, rflags;
};

inline constexpr uint32_t HOST_DESCRIPTOR_TABLE_LIMIT = 0xffff;
inline constexpr uint64_t HOST_DR7 = 0x400;

// `current_efer`: IA32_EFER before the exit (kept but for LMA/LME unless
// "load IA32_EFER" is set); `current_cr0`: CR0 before the exit, whose ET,
// CD, NW and reserved bits the exit keeps (SDM 27.5.1).
HostStateLoad vmx_host_state_load(const VmcsReader& vmcs, uint64_t current_efer, uint64_t current_cr0);

// vmx_host_state_load's result for one VMCS, worked out again only when
// what it reads changed: the VMCS's exit controls and host-state fields
// (`version`, its EntryCheckVersions::controls_and_host(),
// common/vmx/entry_check_cache.h) or the processor's EFER and CR0. A VMM
// that exits from one VMCS again and again (the sim, l1-vmm for a nested
// guest) loads the same host state each time.
class HostStateLoadCache {
 public:
  const HostStateLoad& get(const VmcsReader& vmcs, uint64_t version, uint64_t current_efer, uint64_t current_cr0) {
    if (version != version_ || current_efer != efer_ || current_cr0 != cr0_) {
      load_ = vmx_host_state_load(vmcs, current_efer, current_cr0);
      version_ = version;
      efer_ = current_efer;
      cr0_ = current_cr0;
    }
    return load_;
  }

 private:
  uint64_t version_ = 0, efer_ = 0, cr0_ = 0;  // version 0: nothing loaded (versions start at 1)
  HostStateLoad load_{};
};

// The CR0 bits a VM exit does not load from the host-state field (SDM
// 27.5.1): ET, CD, NW, and bits 63:32, 28:19, 17 and 15:6.
inline constexpr uint64_t HOST_CR0_KEPT_BITS = 0xffffffff1ffaffc0ull | (1ull << 4) /*ET*/ | (1ull << 29) /*NW*/ |
                                               (1ull << 30) /*CD*/;

}  // namespace nestbed::common::vmx
