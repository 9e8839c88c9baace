#include "common/vmx/host_state.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"

namespace nestbed::common::vmx {

using namespace arch::vmx;
using F = VmcsField;
namespace ar = arch::seg::ar;

HostStateLoad vmx_host_state_load(const VmcsReader& vmcs, uint64_t current_efer, uint64_t current_cr0) {
  auto rd = [&vmcs](F f) { return vmcs.read(vmcs.ctx, uint32_t(f)); };
  HostStateLoad h{};
  const uint32_t exit = uint32_t(rd(F::VM_EXIT_CONTROLS));
  h.host64 = exit & exit_ctl::HOST_ADDRESS_SPACE_SIZE;
  h.cr0 = (rd(F::HOST_CR0) & ~HOST_CR0_KEPT_BITS) | (current_cr0 & HOST_CR0_KEPT_BITS) | arch::cr0::ET;
  h.cr3 = rd(F::HOST_CR3);
  h.cr4 = rd(F::HOST_CR4);
  h.dr7 = HOST_DR7;
  h.debugctl = 0;
  h.sysenter_cs = rd(F::HOST_IA32_SYSENTER_CS);
  h.sysenter_esp = rd(F::HOST_IA32_SYSENTER_ESP);
  h.sysenter_eip = rd(F::HOST_IA32_SYSENTER_EIP);
  h.load_pat = exit & exit_ctl::LOAD_PAT;
  if (h.load_pat) h.pat = rd(F::HOST_IA32_PAT);
  h.efer = (exit & exit_ctl::LOAD_EFER) ? rd(F::HOST_IA32_EFER) : current_efer;
  // LMA and LME follow the host address-space size (SDM 27.5.1).
  constexpr uint64_t LM = arch::efer::LMA | arch::efer::LME;
  h.efer = h.host64 ? (h.efer | LM) : (h.efer & ~LM);

  // SDM 27.5.2: flat segments; a null data selector makes the segment
  // unusable (an unusable FS/GS keeps its base from the host-state area).
  constexpr uint32_t DATA_AR = ar::P | ar::S | ar::DB | ar::G | 0x3;
  auto data_segment = [&](F sel_field, uint64_t base) {
    const uint16_t sel = uint16_t(rd(sel_field));
    return sel == 0 ? LoadedSegment{0, base, 0, ar::UNUSABLE} : LoadedSegment{sel, base, 0xffffffff, DATA_AR};
  };
  h.seg[arch::seg::CS] = LoadedSegment{uint16_t(rd(F::HOST_CS_SELECTOR)), 0, 0xffffffff,
                                       ar::P | ar::S | ar::G | 0xb | (h.host64 ? ar::L : ar::DB)};
  h.seg[arch::seg::SS] = data_segment(F::HOST_SS_SELECTOR, 0);
  h.seg[arch::seg::DS] = data_segment(F::HOST_DS_SELECTOR, 0);
  h.seg[arch::seg::ES] = data_segment(F::HOST_ES_SELECTOR, 0);
  h.seg[arch::seg::FS] = data_segment(F::HOST_FS_SELECTOR, rd(F::HOST_FS_BASE));
  h.seg[arch::seg::GS] = data_segment(F::HOST_GS_SELECTOR, rd(F::HOST_GS_BASE));
  h.tr = LoadedSegment{uint16_t(rd(F::HOST_TR_SELECTOR)), rd(F::HOST_TR_BASE), 0x67, ar::P | 0xb};
  h.ldtr = LoadedSegment{0, 0, 0, ar::UNUSABLE};
  h.gdtr_base = rd(F::HOST_GDTR_BASE);
  h.idtr_base = rd(F::HOST_IDTR_BASE);
  h.rsp = rd(F::HOST_RSP);
  h.rip = rd(F::HOST_RIP);
  h.rflags = arch::rflags::FIXED1;
  return h;
}

}  // namespace nestbed::common::vmx
