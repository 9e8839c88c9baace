// From the Multiboot handoff to kmain: the Multiboot header, the 32-bit
// entry that switches to 64-bit mode, and the C++ start-up.
#include <stdint.h>

#include "arch/multiboot.h"
#include "arch/platform.h"
#include "arch/x86/apic.h"
#include "arch/x86/io_apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "runtime/runtime.h"

namespace mb = arch::multiboot;
namespace pte = arch::pte;

// ---- Multiboot header (spec 3.1) -----------------------------------------
// The linker script puts .multiboot first, well inside the first 8 KiB. The
// image is ELF, so no a.out-kludge addresses: the loader uses the program
// headers. We ask for mem_*/mmap (bit 1) and page-aligned modules (bit 0).
namespace {
constexpr uint32_t MULTIBOOT_FLAGS = mb::HF_PAGE_ALIGN | mb::HF_MEMORY_INFO;
}
extern "C" [[gnu::section(".multiboot"), gnu::used]] const mb::Header rt_multiboot_header = {
    .magic = mb::HEADER_MAGIC,
    .flags = MULTIBOOT_FLAGS,
    .checksum = uint32_t(0 - (mb::HEADER_MAGIC + MULTIBOOT_FLAGS)),
    // Only read with HF_AOUT_KLUDGE:
    .header_addr = 0,
    .load_addr = 0,
    .load_end_addr = 0,
    .bss_end_addr = 0,
    .entry_addr = 0,
};

// ---- GDT -----------------------------------------------------------------
namespace {
namespace ar = arch::seg::ar;

// A flat descriptor (base 0, limit 4 GiB with G) with VMX-layout access
// rights `rights`: the inverse of arch::seg::descriptor_access_rights, which
// takes descriptor bits 47:40 and 55:52 (SDM vol. 3, 3.4.5).
constexpr uint64_t flat_descriptor(uint32_t rights) {
  return 0xffffull | (0xfull << 48) | (uint64_t(rights & 0xff) << 40) | (uint64_t((rights >> 12) & 0xf) << 52);
}
constexpr uint32_t CODE64_RIGHTS =
    ar::TYPE_CODE | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::L | ar::G;
constexpr uint32_t DATA_RIGHTS = ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G;
static_assert(arch::seg::descriptor_access_rights(flat_descriptor(CODE64_RIGHTS)) == CODE64_RIGHTS);
static_assert(arch::seg::descriptor_limit(flat_descriptor(DATA_RIGHTS)) == 0xffffffff);
}  // namespace

extern "C" const uint64_t rt_gdt[3] = {0, flat_descriptor(CODE64_RIGHTS), flat_descriptor(DATA_RIGHTS)};
static_assert(rt::KERNEL_CS == 1 * 8 && rt::KERNEL_DS == 2 * 8, "boot_layout.h must match rt_gdt");

// ---- Boot page tables and stack (in .bss, which the ELF loader zeroes) ----
// PML4[0] → PDPT, PDPT[i] → PD[i]: one PD of 512 2 MiB pages per GiB.
namespace {
using rt::IDENTITY_MAP_GIB;
constexpr unsigned ENTRIES = 512;  // per paging structure
constexpr uint32_t STACK_SIZE = 16 * 1024;
}  // namespace
extern "C" {
alignas(4096) uint64_t rt_boot_pml4[ENTRIES];
alignas(4096) uint64_t rt_boot_pdpt[ENTRIES];
alignas(4096) uint64_t rt_boot_pd[IDENTITY_MAP_GIB][ENTRIES];
alignas(16) uint8_t rt_boot_stack[STACK_SIZE];
[[noreturn]] void rt_start(uint32_t multiboot_info);
}

// ---- 32-bit entry ----------------------------------------------------------
// Multiboot spec 3.2: 32-bit protected mode, paging off, flat segments,
// interrupts off, EAX = the boot-loader magic, EBX = the info's physical
// address, no stack. This turns on IA-32e mode in the order SDM vol. 3, 10.8.5
// gives (PAE, CR3, EFER.LME, then CR0.PG) and far-jumps into 64-bit code.
// It is an asm block inside a function only so it can use the arch/ constants
// as operands; the function itself is never called.
[[gnu::used]] static void define_entry() {
  asm volatile(R"(
    .pushsection .text.boot, "ax"
    .code32
    .global _start
_start:
    cmpl %[boot_magic], %%eax
    jne .Lnot_multiboot

    # PML4[0] and PDPT[0..3]: the upper halves stay zero from .bss.
    movl $(rt_boot_pdpt + %c[table_flags]), rt_boot_pml4
    xorl %%ecx, %%ecx
1:  movl %%ecx, %%eax
    shll $12, %%eax
    addl $(rt_boot_pd + %c[table_flags]), %%eax
    movl %%eax, rt_boot_pdpt(, %%ecx, 8)
    incl %%ecx
    cmpl %[identity_gib], %%ecx
    jb 1b

    # PD entry i maps 2 MiB page i; all of them sit below 4 GiB.
    xorl %%ecx, %%ecx
2:  movl %%ecx, %%eax
    shll $21, %%eax
    orl %[large_page_flags], %%eax
    movl %%eax, rt_boot_pd(, %%ecx, 8)
    incl %%ecx
    cmpl %[pd_entries], %%ecx
    jb 2b
    # The local and I/O APICs' registers must not be cached (SDM 11.4.1).
    orl %[uncached], rt_boot_pd + %c[apic_pd_offset]
    orl %[uncached], rt_boot_pd + %c[io_apic_pd_offset]

    lgdt rt_gdtr
    movl %[data_selector], %%eax
    movl %%eax, %%ds
    movl %%eax, %%es
    movl %%eax, %%ss
    movl %%eax, %%fs
    movl %%eax, %%gs

    movl %%cr4, %%eax
    orl %[cr4_pae], %%eax
    movl %%eax, %%cr4
    movl $rt_boot_pml4, %%eax
    movl %%eax, %%cr3
    movl %[efer], %%ecx
    rdmsr
    orl %[efer_bits], %%eax
    wrmsr
    movl %%cr0, %%eax
    orl %[cr0_pg], %%eax
    movl %%eax, %%cr0
    # Now in compatibility mode (IA-32e active, loader's 32-bit CS): the far
    # jump loads our 64-bit code segment.
    ljmp %[code_selector], $.Lstart64

.Lnot_multiboot:
    movl %[bad_boot], %%eax
    outl %%eax, %[debug_exit]
3:  hlt
    jmp 3b

    .code64
.Lstart64:
    movq $(rt_boot_stack + %c[stack_size]), %%rsp
    xorl %%ebp, %%ebp
    movl %%ebx, %%edi  # the Multiboot info address, zero-extended
    call rt_start
4:  hlt
    jmp 4b
    .popsection

    .pushsection .rodata
    .balign 8
rt_gdtr:
    .word 3 * 8 - 1
    .quad rt_gdt
    .popsection
  )"
               :
               : [boot_magic] "i"(mb::BOOTLOADER_MAGIC), [table_flags] "i"(pte::P | pte::RW),
                 [identity_gib] "i"(IDENTITY_MAP_GIB), [pd_entries] "i"(IDENTITY_MAP_GIB * ENTRIES),
                 [large_page_flags] "i"(pte::P | pte::RW | pte::PS), [uncached] "i"(pte::PCD | pte::PWT),
                 [apic_pd_offset] "i"(arch::apic::DEFAULT_BASE / pte::LARGE_PAGE_SIZE * 8),
                 [io_apic_pd_offset] "i"(arch::io_apic::DEFAULT_BASE / pte::LARGE_PAGE_SIZE * 8),
                 [data_selector] "i"(rt::KERNEL_DS), [code_selector] "i"(rt::KERNEL_CS),
                 [cr4_pae] "i"(arch::cr4::PAE), [efer] "i"(arch::msr::IA32_EFER),
                 [efer_bits] "i"(arch::efer::LME | arch::efer::NXE), [cr0_pg] "i"(uint32_t(arch::cr0::PG)),
                 [bad_boot] "i"(rt::EXIT_BAD_BOOT), [debug_exit] "i"(arch::platform::DEBUG_EXIT),
                 [stack_size] "i"(STACK_SIZE));
}

// ---- 64-bit start-up -------------------------------------------------------
namespace {

// The legacy PICs may still have IRQs unmasked by the firmware (SeaBIOS runs
// the PIT on IRQ 0, delivered as vector 8, which would look like a #DF).
void mask_legacy_pics() {
  rt::outb(arch::platform::PIC1_DATA, 0xff);
  rt::outb(arch::platform::PIC2_DATA, 0xff);
}

using Constructor = void (*)();
extern "C" Constructor __init_array_start[], __init_array_end[];  // from linker.ld

void run_constructors() {
  for (Constructor* c = __init_array_start; c != __init_array_end; c++) (*c)();
}

}  // namespace

extern "C" [[noreturn]] void rt_start(uint32_t multiboot_info) {
  rt::console_init();
  rt::interrupts_init();  // from here on a fault is reported, not a triple fault
  mask_legacy_pics();
  run_constructors();
  rt::BootInfo boot = rt::parse_boot_info(multiboot_info);
  rt::memory_init(boot);
  rt::exit(uint32_t(kmain(boot)));
}

namespace rt {
[[noreturn]] void exit(uint32_t code) {
  outl(arch::platform::DEBUG_EXIT, code);
  printf("exit(%u): no isa-debug-exit device at 0x%x; halting\n", code, arch::platform::DEBUG_EXIT);
  halt_forever();
}
}  // namespace rt
