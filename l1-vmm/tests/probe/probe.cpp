// l1vmm-probe MODE: a guest for l1-vmm's tests (tests/l1vmm.cmake). Each
// mode does one thing a VMM must get right, and prints what it saw:
//
//   native      (default) instructions whose outcome must be the same natively
//               and under l1-vmm: exceptions through the guest's own IDT (#UD,
//               #GP from RDMSR and from CR4, #PF with its CR2, #DE, INT3), CR0.NE
//               owned by VMX yet set and cleared by the guest, CR4 and CR8
//               writes, an unassigned port, fw_cfg's signature, COM1's LSR,
//               RDTSCP, INVD, WBINVD, EFER, and the Multiboot modules it was
//               given (strings, places, sizes, checksums). Prints one line per
//               check; the whole output must match across depths.
//   hypervisor  what a guest of l1-vmm sees that differs from native: CPUID's
//               hypervisor bit and leaves, fw_cfg RAM_SIZE, hypercalls, VMX
//               hidden (CPUID, CR4.VMXE, IA32_FEATURE_CONTROL, VMXON).
//   triple-fault  shuts the machine down (IDT of limit 0, then INT3).
//   outside     writes guest-physical 3 GiB (no RAM there under l1-vmm).
//   mmio        every instruction form l1-vmm's MMIO decoder takes
//               (l1-vmm/devices/mmio_decode.h), on the I/O APIC's registers:
//               widths 1-8, immediates, AH/BH, REX registers, MOVZX/MOVSX/
//               MOVSXD, moffs, SIB, disp32, 67 and segment prefixes; prints
//               what each load returned (the same natively, at depth 1 and on
//               QEMU).
//   mmio-unsupported  ADD to the I/O APIC's IOWIN, which l1-vmm does not
//               emulate: natively it works, at depth 1 the guest is stopped.
//   halt        CLI; HLT: nothing can wake it.
#include "arch/platform.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/io_apic.h"
#include "arch/x86/msr.h"
#include "l1-vmm/hypercall_abi.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"

namespace {

namespace pf = arch::platform;
using arch::Vector;

// ---- Faults the probes expect ---------------------------------------------------
// Before a guarded instruction the probe stores where to resume; a fault
// there records its vector, error code and CR2 and resumes at that label.
volatile uint64_t recover_rip = 0;
volatile int fault_vector = -1;
volatile uint64_t fault_error = 0;
volatile uint64_t fault_cr2 = 0;

void on_exception(rt::InterruptFrame& f) {
  if (!recover_rip) {
    rt::printf("l1vmm-probe: unexpected exception %lu (%s) at rip 0x%lx\n", f.vector,
               arch::exception_name(uint8_t(f.vector)), f.rip);
    rt::exit(rt::EXIT_EXCEPTION);
  }
  fault_vector = int(f.vector);
  fault_error = f.error_code;
  fault_cr2 = rt::read_cr2();
  f.rip = recover_rip;
  recover_rip = 0;
}

void arm() {
  fault_vector = -1;
  fault_error = 0;
  fault_cr2 = 0;
}

// Runs `insn` (an asm template whose operands are %0 = rax in/out, %1 = rcx,
// %2 = rdx) with a recovery point after it.
#define GUARDED(insn, rax, rcx, rdx)                                                      \
  do {                                                                                    \
    arm();                                                                                \
    asm volatile("leaq 1f(%%rip), %%r11\n\tmovq %%r11, %3\n\t" insn "\n1:\n\tmovq $0, %3" \
                 : "+a"(rax), "+c"(rcx), "+d"(rdx), "=m"(recover_rip)                     \
                 :                                                                        \
                 : "r11", "memory", "cc");                                                \
  } while (0)

void report(const char* check, int expected_vector) {
  if (fault_vector == expected_vector)
    rt::printf("  %s: %s\n", check, expected_vector < 0 ? "no fault" : arch::exception_name(uint8_t(expected_vector)));
  else
    rt::printf("  %s: FAIL: vector %d, expected %d\n", check, fault_vector, expected_vector);
}

// ---- native -------------------------------------------------------------------

void probe_exceptions() {
  uint64_t a = 0, c = 0, d = 0;
  GUARDED("ud2", a, c, d);
  report("ud2", int(Vector::UD));

  c = 0x12345678;  // no such MSR: #GP natively, forwarded and reflected under l1-vmm
  GUARDED("rdmsr", a, c, d);
  report("rdmsr of a missing MSR", int(Vector::GP));

  a = 512ull << 30 << 1;  // 1 TiB: PML4 slot 2, which the boot identity map leaves empty
  GUARDED("movq (%0), %0", a, c, d);
  report("read of an unmapped page", int(Vector::PF));
  rt::printf("  #PF error code 0x%lx, cr2 0x%lx\n", fault_error, fault_cr2);

  a = 1, c = 0, d = 0;
  GUARDED("divq %1", a, c, d);
  report("divide by zero", int(Vector::DE));

  GUARDED("int3", a, c, d);
  report("int3", int(Vector::BP));

  a = rt::read_cr4() | (1ull << 40);  // reserved: #GP
  GUARDED("movq %0, %%cr4", a, c, d);
  report("CR4 reserved bit", int(Vector::GP));
}

void probe_control_registers() {
  const uint64_t cr0 = rt::read_cr0();
  uint64_t a = cr0 | arch::cr0::NE, c = 0, d = 0;
  GUARDED("movq %0, %%cr0", a, c, d);
  rt::printf("  CR0.NE set: reads %lu\n", (rt::read_cr0() & arch::cr0::NE) ? 1ul : 0ul);
  a = cr0 & ~arch::cr0::NE;
  GUARDED("movq %0, %%cr0", a, c, d);
  rt::printf("  CR0.NE cleared: reads %lu\n", (rt::read_cr0() & arch::cr0::NE) ? 1ul : 0ul);
  report("CR0 writes", -1);

  const uint64_t cr4 = rt::read_cr4();
  a = cr4 | arch::cr4::PGE;
  GUARDED("movq %0, %%cr4", a, c, d);
  rt::printf("  CR4.PGE set: reads %lu\n", (rt::read_cr4() & arch::cr4::PGE) ? 1ul : 0ul);
  a = cr4;
  GUARDED("movq %0, %%cr4", a, c, d);
  report("CR4 writes", -1);

  a = 5;
  GUARDED("movq %0, %%cr8\n\tmovq %%cr8, %0", a, c, d);
  rt::printf("  CR8 5: reads %lu\n", a);
  a = 0;
  GUARDED("movq %0, %%cr8", a, c, d);
}

void probe_devices() {
  rt::printf("  port 0x1234 (unassigned) reads 0x%x\n", rt::inb(0x1234));
  asm volatile("outw %w0, %w1" : : "a"(uint16_t(pf::FW_CFG_SIGNATURE)), "Nd"(pf::FW_CFG_SELECTOR));
  char sig[5] = {};
  for (int i = 0; i < 4; i++) sig[i] = char(rt::inb(pf::FW_CFG_DATA));
  rt::printf("  fw_cfg signature \"%s\"\n", sig);
  rt::printf("  COM1 LSR THRE %u\n", (rt::inb(pf::COM1 + pf::UART_LSR) & pf::UART_LSR_THRE) ? 1u : 0u);
}

void probe_instructions() {
  uint64_t a = 0, c = 0, d = 0;
  GUARDED("rdtscp", a, c, d);
  report("rdtscp", -1);
  GUARDED("invd\n\twbinvd", a, c, d);
  report("invd, wbinvd", -1);
  const uint64_t efer = rt::rdmsr(arch::msr::IA32_EFER);
  rt::printf("  EFER LME %u LMA %u NXE %u\n", (efer & arch::efer::LME) ? 1u : 0u, (efer & arch::efer::LMA) ? 1u : 0u,
             (efer & arch::efer::NXE) ? 1u : 0u);
  const rt::CpuidResult r = rt::cpuid(0);
  char vendor[13] = {};
  memcpy(vendor, &r.ebx, 4);
  memcpy(vendor + 4, &r.edx, 4);
  memcpy(vendor + 8, &r.ecx, 4);
  rt::printf("  CPUID.0 vendor %s\n", vendor);
}

// The loader's placement rule (page-aligned after the kernel) is the same
// natively and under l1-vmm, so even the addresses must match.
void probe_modules(const rt::BootInfo& boot) {
  rt::printf("  %u modules\n", boot.module_count);
  for (uint32_t i = 0; i < boot.module_count; i++) {
    const arch::multiboot::Module& m = boot.modules[i];
    uint64_t sum = 0;
    for (uint32_t a = m.mod_start; a < m.mod_end; a++) sum = sum * 31 + *reinterpret_cast<const uint8_t*>(uintptr_t(a));
    rt::printf("  module %u \"%s\" at 0x%x, %u bytes, checksum 0x%lx\n", i,
               m.string ? reinterpret_cast<const char*>(uintptr_t(m.string)) : "", m.mod_start, m.mod_end - m.mod_start,
               sum);
  }
}

int probe_native(const rt::BootInfo& boot) {
  probe_modules(boot);
  probe_exceptions();
  probe_control_registers();
  probe_devices();
  probe_instructions();
  rt::printf("l1vmm-probe: native probes done\n");
  return rt::EXIT_OK;
}

// ---- hypervisor ---------------------------------------------------------------

uint64_t fw_cfg_ram_size() {
  asm volatile("outw %w0, %w1" : : "a"(uint16_t(pf::FW_CFG_RAM_SIZE)), "Nd"(pf::FW_CFG_SELECTOR));
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= uint64_t(rt::inb(pf::FW_CFG_DATA)) << (8 * i);
  return v;
}

int probe_hypervisor() {
  const rt::CpuidResult l1 = rt::cpuid(1);
  rt::printf("  CPUID.1 ECX hypervisor %u vmx %u\n", (l1.ecx & arch::cpuid::L1_ECX_HYPERVISOR) ? 1u : 0u,
             (l1.ecx & arch::cpuid::L1_ECX_VMX) ? 1u : 0u);
  const rt::CpuidResult hv = rt::cpuid(0x40000000);
  char sig[13] = {};
  memcpy(sig, &hv.ebx, 4);
  memcpy(sig + 4, &hv.ecx, 4);
  memcpy(sig + 8, &hv.edx, 4);
  const rt::CpuidResult level = rt::cpuid(0x40000001);
  rt::printf("  CPUID.40000000 max 0x%x signature \"%s\"; 40000001 level %u abi %u\n", hv.eax, sig, level.eax,
             level.ebx);
  rt::printf("  fw_cfg RAM_SIZE %lu MiB\n", fw_cfg_ram_size() >> 20);

  uint64_t a = l1::hypercall::NOP, c = 0, d = 0;
  GUARDED("vmcall", a, c, d);
  rt::printf("  vmcall NOP returns 0x%lx\n", fault_vector < 0 ? a : ~0ul);
  report("vmcall", -1);
  rt::printf("  vmcall PUTCHAR: ");
  for (const char* s = "hi\n"; *s; s++) l1::hypercall::vmcall(l1::hypercall::PUTCHAR, uint8_t(*s));
  rt::printf("  vmcall 12345 returns 0x%lx\n", l1::hypercall::vmcall(12345));

  a = rt::read_cr4() | arch::cr4::VMXE;
  GUARDED("movq %0, %%cr4", a, c, d);
  report("CR4.VMXE", int(Vector::GP));
  rt::printf("  IA32_FEATURE_CONTROL 0x%lx\n", rt::rdmsr(arch::msr::IA32_FEATURE_CONTROL));
  c = arch::msr::IA32_VMX_BASIC;
  GUARDED("rdmsr", a, c, d);
  report("IA32_VMX_BASIC", int(Vector::GP));
  uint64_t region = 0;
  a = reinterpret_cast<uint64_t>(&region);
  GUARDED("vmxon (%0)", a, c, d);
  report("vmxon", int(Vector::UD));
  rt::printf("l1vmm-probe: hypervisor probes done\n");
  return rt::EXIT_OK;
}

// ---- misbehaving ----------------------------------------------------------------

[[noreturn]] void triple_fault() {
  rt::printf("l1vmm-probe: shutting down through a triple fault\n");
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } empty{0, 0};
  asm volatile("lidt %0; int3" : : "m"(empty) : "memory");
  rt::halt_forever();
}

int write_outside() {
  constexpr uint64_t THREE_GIB = 3ull << 30;  // identity-mapped by the runtime; RAM under l1-vmm ends far below
  rt::printf("l1vmm-probe: writing guest-physical 0x%lx\n", THREE_GIB);
  *reinterpret_cast<volatile uint32_t*>(THREE_GIB) = 0x1badd00d;
  rt::printf("l1vmm-probe: the write went nowhere, as on an unassigned address\n");
  return rt::EXIT_OK;
}

// ---- MMIO --------------------------------------------------------------------------
// Each access is one instruction of a fixed encoding (inline assembly, so
// the bytes are the ones named). IOREGSEL takes any width; IOWIN 32-bit
// accesses only (other widths read 0 and are dropped, as on QEMU).

constexpr uint64_t IOREGSEL = arch::io_apic::DEFAULT_BASE + arch::io_apic::IOREGSEL;
constexpr uint64_t IOWIN = arch::io_apic::DEFAULT_BASE + arch::io_apic::IOWIN;

void mmio_select(uint32_t reg) { asm volatile("movl %0, (%1)" : : "r"(reg), "r"(IOREGSEL) : "memory"); }
uint32_t mmio_window() {
  uint32_t v;
  asm volatile("movl (%1), %0" : "=r"(v) : "r"(IOWIN) : "memory");
  return v;
}

int probe_mmio() {
  uint64_t r = 0;
  asm volatile("movb $0x16, (%0)" : : "r"(IOREGSEL) : "memory");                     // C6: entry 3, low
  asm volatile("movl $0x0001a9c5, (%0)" : : "r"(IOWIN) : "memory");                  // C7
  asm volatile("movl (%1), %k0" : "=r"(r) : "r"(IOWIN) : "memory");                  // 8B
  rt::printf("  mmio C6 select, C7 store, 8B load: 0x%lx\n", r);
  asm volatile("movb %%ah, (%1)" : : "a"(0x1700ull), "S"(IOREGSEL) : "memory");      // 88 AH: entry 3, high
  {
    register uint64_t r9 asm("r9") = 0xffffffff5a000000ull;
    asm volatile("movl %%r9d, (%1)" : : "r"(r9), "r"(IOWIN) : "memory");             // 44 89 r9d
  }
  r = 0x1122334455667788ull;
  asm volatile("movb (%1), %%bh" : "+b"(r) : "S"(IOREGSEL) : "memory");              // 8A BH
  rt::printf("  mmio 88 AH select, 8A BH load of IOREGSEL: 0x%lx; window 0x%x\n", r, mmio_window());
  {
    register uint64_t r10 asm("r10") = ~0ull;
    asm volatile("movzbl (%1), %%r10d" : "+r"(r10) : "r"(IOREGSEL) : "memory");     // 44 0F B6
    rt::printf("  mmio movzbl r10d: 0x%lx\n", r10);
  }
  asm volatile("movb $0x90, (%0)" : : "r"(IOREGSEL) : "memory");                     // an unassigned register
  asm volatile("movsbq (%1), %0" : "=r"(r) : "r"(IOREGSEL) : "memory");              // 48 0F BE
  rt::printf("  mmio movsbq: 0x%lx\n", r);
  asm volatile("movswl (%1), %k0" : "=r"(r) : "r"(IOREGSEL) : "memory");             // 0F BF
  rt::printf("  mmio movswl: 0x%lx\n", r);
  {
    register uint64_t r11 asm("r11") = 0xabcd0011ull;                                // entry 0, high
    asm volatile("movw %%r11w, (%1)" : : "r"(r11), "r"(IOREGSEL) : "memory");        // 66 44 89
  }
  r = 0x1111111111111111ull;
  asm volatile("movw (%1), %w0" : "+c"(r) : "r"(IOREGSEL) : "memory");               // 66 8B
  rt::printf("  mmio 66 89 select, 66 8B load: 0x%lx\n", r);
  asm volatile("movl %0, (%1)" : : "r"(0xff000000u), "r"(IOWIN) : "memory");
  asm volatile("movslq (%1), %0" : "=r"(r) : "r"(IOWIN) : "memory");                 // 48 63 MOVSXD
  rt::printf("  mmio movslq: 0x%lx\n", r);
  asm volatile("movw (%1), %w0" : "=r"(r) : "r"(IOWIN) : "memory");                  // a 16-bit IOWIN read: 0
  rt::printf("  mmio 16-bit window load: 0x%lx\n", r & 0xffff);
  asm volatile("movq (%1), %0" : "=r"(r) : "r"(IOREGSEL) : "memory");                // 48 8B: IOREGSEL and +4
  rt::printf("  mmio movq load of IOREGSEL: 0x%lx\n", r);
  mmio_select(arch::io_apic::redirection_low(7));
  asm volatile("movq %0, (%1)" : : "r"(0x123456780001002aull), "r"(IOWIN) : "memory");  // 48 89: IOWIN and +4
  rt::printf("  mmio movq store: window 0x%x\n", mmio_window());
  // 48 C7, imm32 sign-extended: IOREGSEL keeps 0xfe (IOWIN would keep
  // reserved bits on QEMU, which nestbed's I/O APIC reads as 0).
  asm volatile("movq $-2, (%0)" : : "r"(IOREGSEL) : "memory");
  asm volatile("movzbl (%1), %k0" : "=r"(r) : "r"(IOREGSEL) : "memory");
  rt::printf("  mmio movq imm store: IOREGSEL 0x%lx\n", r);
  mmio_select(arch::io_apic::redirection_low(9));
  asm volatile("movabs %%eax, 0xfec00010" : : "a"(0x1c033u) : "memory");              // A3 moffs64
  asm volatile("movabs 0xfec00010, %%eax" : "=a"(r) : : "memory");                     // A1 moffs64
  rt::printf("  mmio moffs: 0x%lx\n", r);
  asm volatile("movl (%%rbx,%%rcx,4), %%edx" : "=d"(r) : "b"(arch::io_apic::DEFAULT_BASE), "c"(4ull) : "memory");  // SIB
  rt::printf("  mmio SIB load: 0x%lx\n", r);
  asm volatile("movl 0x100010(%%rbx), %%eax" : "=a"(r) : "b"(arch::io_apic::DEFAULT_BASE - 0x100000) : "memory");  // disp32
  rt::printf("  mmio disp32 load: 0x%lx\n", r);
  asm volatile("movl (%%ebx), %%eax" : "=a"(r) : "b"(IOWIN) : "memory");              // 67
  rt::printf("  mmio 67 load: 0x%lx\n", r);
  asm volatile("ds movl (%%rbx), %%eax" : "=a"(r) : "b"(IOWIN) : "memory");           // 3E
  rt::printf("  mmio ds load: 0x%lx\n", r);
  mmio_select(arch::io_apic::REG_VERSION);
  rt::printf("  mmio version entries: %u\n", (mmio_window() >> arch::io_apic::VERSION_MAX_ENTRY_SHIFT) & 0xff);
  rt::printf("l1vmm-probe: mmio probes done\n");
  return rt::EXIT_OK;
}

// An instruction l1-vmm's decoder refuses: ADD (01 03) to IOWIN.
int mmio_unsupported() {
  rt::printf("l1vmm-probe: ADD to the I/O APIC's IOWIN\n");
  mmio_select(arch::io_apic::redirection_low(1));
  asm volatile("addl %%eax, (%%rbx)" : : "a"(1u), "b"(IOWIN) : "memory");
  rt::printf("l1vmm-probe: the ADD went through: window 0x%x\n", mmio_window());
  return rt::EXIT_OK;
}

bool mode_is(const char* cmdline, const char* mode) {
  // The mode is the second word ("<image> MODE").
  const char* p = cmdline;
  while (*p && *p != ' ') p++;
  while (*p == ' ') p++;
  const size_t n = strlen(mode);
  return memcmp(p, mode, n) == 0 && (p[n] == '\0' || p[n] == ' ');
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  for (unsigned v = 0; v < 32; v++) rt::set_interrupt_handler(uint8_t(v), on_exception);
  if (mode_is(boot.cmdline, "hypervisor")) return probe_hypervisor();
  if (mode_is(boot.cmdline, "triple-fault")) triple_fault();
  if (mode_is(boot.cmdline, "outside")) return write_outside();
  if (mode_is(boot.cmdline, "mmio")) return probe_mmio();
  if (mode_is(boot.cmdline, "mmio-unsupported")) return mmio_unsupported();
  if (mode_is(boot.cmdline, "halt")) {
    rt::printf("l1vmm-probe: halting with interrupts off\n");
    rt::halt_forever();
  }
  return probe_native(boot);
}
