#include "l1-vmm/vmx/host_state.h"

#include "arch/x86/msr.h"
#include "arch/x86/segment.h"
#include "l1-vmm/vmx/vmcs_config.h"
#include "l1-vmm/vmx/vmenter.h"
#include "l1-vmm/vmx/vmx_ops.h"
#include "runtime/boot_layout.h"
#include "runtime/x86.h"

namespace l1 {
namespace {

using F = VmcsField;

constexpr uint16_t HOST_TR_SELECTOR = 0x18;  // after the runtime's null, code and data descriptors

// The 64-bit TSS (SDM vol. 3, 8.7). Nothing switches stacks through it:
// l1-vmm runs at CPL 0 with interrupts off and no IST.
struct [[gnu::packed]] Tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t io_map_base;
};
static_assert(sizeof(Tss64) == 104);

constexpr unsigned GDT_ENTRIES = HOST_TR_SELECTOR / 8 + 2;  // a 64-bit system descriptor takes two slots
alignas(16) uint64_t host_gdt[GDT_ENTRIES];
alignas(16) Tss64 host_tss;

// A 16-byte available 64-bit TSS descriptor (SDM vol. 3, 8.2.3, figure 8-4).
void set_tss_descriptor(uint64_t* slot, uint64_t base, uint64_t limit) {
  namespace seg = arch::seg;
  slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (uint64_t(seg::sys_type::TSS_AVAILABLE | seg::ar::P) << 40) |
            (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  slot[1] = base >> 32;
}

}  // namespace

void install_host_gdt() {
  // Keep the runtime's descriptors (null, KERNEL_CS, KERNEL_DS) below the TSS.
  const rt::DescriptorTableRegister boot = rt::sgdt();
  const auto* boot_gdt = reinterpret_cast<const uint64_t*>(boot.base);
  for (unsigned i = 0; i < HOST_TR_SELECTOR / 8 && i * 8 < unsigned(boot.limit) + 1; i++) host_gdt[i] = boot_gdt[i];
  host_tss.io_map_base = sizeof(Tss64);  // beyond the limit: no I/O permission bitmap
  set_tss_descriptor(&host_gdt[HOST_TR_SELECTOR / 8], uint64_t(&host_tss), sizeof(Tss64) - 1);
  const rt::DescriptorTableRegister gdtr{sizeof(host_gdt) - 1, uint64_t(host_gdt)};
  asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
  asm volatile("ltr %w0" : : "r"(HOST_TR_SELECTOR) : "memory");
}

void vmx_set_constant_host_state(const VmcsConfig& c) {
  namespace msr = arch::msr;
  vmcs_write(F::HOST_CR0, rt::read_cr0());
  vmcs_write(F::HOST_CR3, rt::read_cr3());
  vmcs_write(F::HOST_CR4, rt::read_cr4());
  vmcs_write(F::HOST_CS_SELECTOR, rt::KERNEL_CS);
  vmcs_write(F::HOST_SS_SELECTOR, rt::KERNEL_DS);
  vmcs_write(F::HOST_DS_SELECTOR, rt::KERNEL_DS);
  vmcs_write(F::HOST_ES_SELECTOR, rt::KERNEL_DS);
  vmcs_write(F::HOST_FS_SELECTOR, rt::KERNEL_DS);
  vmcs_write(F::HOST_GS_SELECTOR, rt::KERNEL_DS);
  vmcs_write(F::HOST_TR_SELECTOR, HOST_TR_SELECTOR);
  vmcs_write(F::HOST_FS_BASE, rt::rdmsr(msr::IA32_FS_BASE));
  vmcs_write(F::HOST_GS_BASE, rt::rdmsr(msr::IA32_GS_BASE));
  vmcs_write(F::HOST_TR_BASE, uint64_t(&host_tss));
  vmcs_write(F::HOST_GDTR_BASE, rt::sgdt().base);
  vmcs_write(F::HOST_IDTR_BASE, rt::sidt().base);
  vmcs_write(F::HOST_IA32_SYSENTER_CS, rt::rdmsr(msr::IA32_SYSENTER_CS));
  vmcs_write(F::HOST_IA32_SYSENTER_ESP, rt::rdmsr(msr::IA32_SYSENTER_ESP));
  vmcs_write(F::HOST_IA32_SYSENTER_EIP, rt::rdmsr(msr::IA32_SYSENTER_EIP));
  vmcs_write(F::HOST_IA32_EFER, rt::rdmsr(msr::IA32_EFER));
  // The PAT fields exist only where their controls do (SDM 24.5): write them when used.
  if (c.exit & arch::vmx::exit_ctl::LOAD_PAT) vmcs_write(F::HOST_IA32_PAT, rt::rdmsr(msr::IA32_PAT));
  vmcs_write(F::HOST_RIP, uint64_t(l1_vmx_vmexit));
}

}  // namespace l1
