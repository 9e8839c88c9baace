// l1-vmm: a bare-metal hypervisor that boots Multiboot module 0 as its
// guest and runs it as it would run natively (README.md). The runtime of
// the guest images (runtime/) has already switched to 64-bit mode
// with an identity map, an IDT and COM1; from here:
//
//   options -> level -> memory -> VMX on -> guest memory, EPT01 -> guest
//   loaded -> vmcs01 -> run
#include "l1-vmm/boot/multiboot_guest.h"
#include "l1-vmm/devices/fw_cfg.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/nested/shadow_vmcs.h"
#include "l1-vmm/options.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/ept.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "l1-vmm/vmx/test_misconfig.h"
#include "l1-vmm/vmx/vmcs01.h"
#include "l1-vmm/vmx/vmcs_config.h"
#include "l1-vmm/vmx/vmx.h"
#include "runtime/runtime.h"
#include "runtime/vmx.h"

namespace {

l1::Vcpu vcpu;

void print_banner(const l1::Vcpu& v, const l1::GuestBoot& guest) {
  rt::printf("l1-vmm: level %u, guest '%s' at level %u: %lu MiB of RAM at host-physical 0x%lx, entry 0x%x\n", v.level,
             guest.name, v.level + 1, l1::guest_memory.size >> 20, l1::guest_memory.base, guest.entry);
  rt::printf("l1-vmm: EPT01 %s pages, VPID %s, %lu KiB left for l1-vmm\n",
             v.config.ept_2mb_pages() ? "2 MiB" : "4 KiB", v.config.vpid() ? "on" : "off", l1::mm::free_bytes() >> 10);
  l1::print_vmcs_config(v.config);
  l1::nested::print_nested_capabilities(v);
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  l1::install_panic_handlers();
  vcpu.options = l1::parse_options(boot.cmdline);
  vcpu.level = l1::detect_vmm_level();
  l1::stats_enable(vcpu.options.stats, vcpu.level);
  l1::mm::init(boot);

  vcpu.config = l1::setup_vmcs_config(vcpu.options);
  rt::vmx::install_host_tss();  // VM exits load TR (SDM 27.5.2)
  l1::hardware_enable(vcpu.config);
  l1::nested::nested_vmx_setup(vcpu);

  // The guest's memory first: best fit keeps the largest run for it only
  // if nothing smaller has cut into it yet.
  l1::allocate_guest_memory(vcpu.options.guest_mem_mib);
  l1::fw_cfg.set_ram_size(l1::guest_memory.size);
  l1::build_ept01(vcpu.config);
  if (vcpu.options.test_leak_page) l1::map_test_leak_page();
  const l1::GuestBoot guest = l1::load_multiboot_guest(boot);

  l1::init_vmcs01(vcpu, guest);
  l1::nested::shadow_vmcs_setup(vcpu);
  if (vcpu.options.verbose) print_banner(vcpu, guest);
  l1::vcpu_run(vcpu);
}
