#include "l0/devices/platform_devices.h"

#include "arch/platform.h"
#include "arch/x86/apic.h"
#include "arch/x86/io_apic.h"

namespace nestbed {

namespace pf = arch::platform;

// The device map of DESIGN.md §3, identical to QEMU's pc machine with
// `-device isa-debug-exit,iobase=0xf4,iosize=4`.
PlatformDevices::PlatformDevices(const PlatformConfig& config)
    : com1(config.console), fw_cfg(config.ram_size, config.nb_cpus) {
  bus.map_ports(pf::COM1, 8, &com1);
  bus.map_ports(pf::DEBUG_EXIT, 4, &debug_exit);
  bus.map_ports(pf::FW_CFG_SELECTOR, 2, &fw_cfg);
  bus.map_ports(pf::PIC1_COMMAND, 2, &pic);
  bus.map_ports(pf::PIC2_COMMAND, 2, &pic);
  bus.map_ports(pf::X87_ERROR_CLEAR_PORT, 1, &x87_error);
  bus.map_mmio(arch::apic::DEFAULT_BASE, arch::apic::MMIO_SIZE, &apic);
  bus.map_mmio(arch::io_apic::DEFAULT_BASE, arch::io_apic::MMIO_SIZE, &io_apic);
  apic.attach_bus(&bus);
}

}  // namespace nestbed
