#include "workloads/pg-probe/escape.h"

#include "arch/platform.h"
#include "arch/x86/msr.h"
#include "runtime/runtime.h"
#include "workloads/pg-probe/runner.h"

namespace pg {
namespace {

namespace pf = arch::platform;

constexpr uint64_t PATTERN = 0x5a5a5a5aa5a5a5a5ull;
constexpr unsigned MEMORY_TRIES = 4;

// Guest-physical addresses outside the guest's RAM, all below 4 GiB (the
// boot identity map): the first page past its end, 16 MiB further (where a
// VMM that had given a larger share would be), 3 GiB, and the page of
// QEMU's HPET, a device nestbed's platform does not have. (Not the I/O
// APIC's page at 0xfec00000: that is a device every level gives its guest,
// l1-vmm emulating it by forwarding, as mmio-loop shows.)
void memory_addresses(const rt::BootInfo& boot, uint64_t (&out)[MEMORY_TRIES]) {
  out[0] = boot.ram_end;
  out[1] = boot.ram_end + (16ull << 20);
  out[2] = 0xc0000000;
  out[3] = 0xfed00000;
}

uint64_t read64(uint64_t address) { return *reinterpret_cast<volatile uint64_t*>(address); }
void write64(uint64_t address, uint64_t value) { *reinterpret_cast<volatile uint64_t*>(address) = value; }

// fw_cfg's RAM_SIZE item: the RAM the platform (or the VMM's emulation)
// says the machine has.
uint64_t fw_cfg_ram_size() {
  asm volatile("outw %w0, %w1" : : "a"(uint16_t(pf::FW_CFG_RAM_SIZE)), "Nd"(pf::FW_CFG_SELECTOR));
  uint64_t size = 0;
  for (unsigned i = 0; i < 8; i++) size |= uint64_t(rt::inb(pf::FW_CFG_DATA)) << (8 * i);
  return size;
}

// The RAM the loader gave us (mem_lower is below 1 MiB; mem_upper from 1 MiB).
uint64_t own_ram(const rt::BootInfo& boot) { return boot.ram_end; }

struct MsrTry {
  const char* name;
  uint32_t index;
};
// MSRs a VMM keeps: VMX's enable and lock, and the capabilities it reports.
const MsrTry MSRS[] = {
    {"IA32_FEATURE_CONTROL", arch::msr::IA32_FEATURE_CONTROL},
    {"IA32_VMX_BASIC", arch::msr::IA32_VMX_BASIC},
    {"IA32_VMX_CR4_FIXED1", arch::msr::IA32_VMX_CR4_FIXED1},
};

void print_fault(uint8_t vector) {
  if (vector == NO_FAULT)
    rt::printf("ok");
  else
    rt::printf("fault%u", vector);
}

// Tries to change the MSR: a value with every bit flipped. Reachable means
// the write went through and reads back.
void try_msr(const MsrTry& m) {
  uint64_t value = 0;
  const uint8_t read_fault = try_rdmsr(m.index, value);
  const uint64_t wanted = ~value;
  const uint8_t write_fault = try_wrmsr(m.index, wanted);
  uint64_t after = 0;
  try_rdmsr(m.index, after);
  const bool reachable = write_fault == NO_FAULT && after == wanted;
  rt::printf("escape msr %s 0x%x read=", m.name, m.index);
  print_fault(read_fault);
  rt::printf(" write=");
  print_fault(write_fault);
  rt::printf(" reachable=%u\n", reachable);
  if (write_fault == NO_FAULT) try_wrmsr(m.index, value);
}

}  // namespace

void run_escape_probes(const rt::BootInfo& boot, uint64_t write_index) {
  uint64_t addresses[MEMORY_TRIES];
  memory_addresses(boot, addresses);
  rt::printf("escape ram end=0x%lx\n", own_ram(boot));
  // A read outside RAM answers all-ones on the platform (unassigned memory);
  // anything else is memory or a device the guest was not given.
  for (uint64_t a : addresses) {
    const uint64_t v = read64(a);
    rt::printf("escape mem-read 0x%lx value=0x%lx reachable=%u\n", a, v, v != ~0ull);
  }
  const uint64_t fw_ram = fw_cfg_ram_size();
  // fw_cfg counts all RAM; the loader's map starts at 0, so ram_end is the size.
  rt::printf("escape port fw_cfg 0x%x ram_size=0x%lx reachable=%u\n", pf::FW_CFG_SELECTOR, fw_ram,
             fw_ram != own_ram(boot));
  for (const MsrTry& m : MSRS) try_msr(m);
  if (write_index >= MEMORY_TRIES) return;
  const uint64_t a = addresses[write_index];
  rt::printf("escape mem-write 0x%lx tried\n", a);
  const uint64_t old = read64(a);
  write64(a, PATTERN);
  const uint64_t back = read64(a);
  write64(a, old);
  rt::printf("escape mem-write 0x%lx readback=0x%lx reachable=%u\n", a, back, back == PATTERN);
}

}  // namespace pg
