// The guest side of vmx-selftest: code snippets the tests run in VMX
// non-root operation, in the image's own (identity-mapped) address space,
// and the guest's IDT. Each snippet ends in VMCALL, so a guest that gets
// further than a test expects shows up as an unexpected exit reason or RIP.
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

namespace {

[[gnu::used]] void define_guest_code() {
  asm volatile(R"(
    .pushsection .text.selftest_guest, "ax"
    .code64
    .balign 16
    .global guest_vmcall
guest_vmcall:
    vmcall
    ud2

    .global guest_cpuid, guest_cpuid_vmcall
guest_cpuid:
    cpuid
guest_cpuid_vmcall:
    vmcall
    ud2

    .global guest_hlt
guest_hlt:
    hlt
    vmcall
    ud2

    # I/O instructions of each kind; the host sets AL/AX, DX, RCX and RSI.
    .global guest_io, guest_io_inw, guest_io_outsb, guest_io_inl, guest_io_vmcall
guest_io:
    outb %%al, %[post_port]
guest_io_inw:
    inw %%dx, %%ax
guest_io_outsb:
    rep outsb
guest_io_inl:
    inl %[in_port], %%eax
guest_io_vmcall:
    vmcall
    ud2

    .global guest_io_bitmap, guest_io_bitmap_80, guest_io_bitmap_7fff, guest_io_bitmap_vmcall
guest_io_bitmap:
    outb %%al, %[free_port]
guest_io_bitmap_80:
    outb %%al, %[post_port]
guest_io_bitmap_7fff:
    outw %%ax, %%dx
guest_io_bitmap_vmcall:
    vmcall
    ud2

    .global guest_rdmsr, guest_wrmsr
guest_rdmsr:
    rdmsr
    vmcall
    ud2
guest_wrmsr:
    wrmsr
    vmcall
    ud2

    .global guest_mov_to_cr0, guest_mov_from_cr0, guest_mov_to_cr4, guest_mov_from_cr4, guest_clts
guest_mov_to_cr0:
    movq %%rbx, %%cr0
    vmcall
    ud2
guest_mov_from_cr0:
    movq %%cr0, %%rax
    vmcall
    ud2
guest_mov_to_cr4:
    movq %%rbx, %%cr4
    vmcall
    ud2
guest_mov_from_cr4:
    movq %%cr4, %%rax
    vmcall
    ud2
guest_clts:
    clts
    vmcall
    ud2
    .global guest_smsw
guest_smsw:
    smsw %%rax
    vmcall
    ud2

    .global guest_mov_to_cr3, guest_mov_from_cr3
guest_mov_to_cr3:
    movq %%rax, %%cr3
    vmcall
    ud2
guest_mov_from_cr3:
    movq %%cr3, %%rax
    vmcall
    ud2

    .global guest_ud2, guest_read, guest_write, guest_jmp, guest_rdtsc, guest_invlpg
guest_ud2:
    ud2
    vmcall
guest_read:
    movq (%%rdi), %%rax
    vmcall
    ud2
guest_write:
    movq %%rax, (%%rdi)
    vmcall
    ud2
guest_jmp:
    jmp *%%rdi
guest_rdtsc:
    rdtsc
    vmcall
    ud2
guest_invlpg:
    invlpg (%%rax)
    vmcall
    ud2

    .global guest_mov_dr, guest_mov_dr_2
guest_mov_dr:
    movq %%dr7, %%rax
guest_mov_dr_2:
    movq %%rcx, %%dr0
    vmcall
    ud2

    # Counts RCX down to 0 (the host sets RCX), then VMCALL.
    .global guest_spin, guest_spin_vmcall
guest_spin:
    decq %%rcx
    jnz guest_spin
guest_spin_vmcall:
    vmcall
    ud2

    # STI's interrupt shadow covers the NOP after it (SDM 6.8.3): the
    # interrupt window opens at guest_sti_window.
    .global guest_sti, guest_sti_window, guest_nops
guest_sti:
    nop
    sti
    nop
guest_sti_window:
    nop
    vmcall
    ud2
guest_nops:
    nop
    nop
    nop
    vmcall
    ud2

    .global guest_lgdt, guest_sidt
guest_lgdt:
    lgdt (%%rax)
guest_sidt:
    sidt 0x10(%%rax)
    vmcall
    ud2

    # VMX instructions in the guest: RAX = descriptor or field encoding,
    # RCX = type; VMREAD/VMWRITE leave RFLAGS in RCX for the host.
    .global guest_invept, guest_invvpid, guest_vmread, guest_vmwrite
guest_invept:
    invept (%%rax), %%rcx
    vmcall
    ud2
    .global guest_invpcid
guest_invpcid:
    invpcid (%%rax), %%rcx
    vmcall
    ud2
guest_invvpid:
    invvpid (%%rax), %%rcx
    vmcall
    ud2
guest_vmread:
    vmread %%rax, %%rbx
    pushfq
    popq %%rcx
    vmcall
    ud2
guest_vmwrite:
    vmwrite %%rbx, %%rax
    pushfq
    popq %%rcx
    vmcall
    ud2

    # Changes state VM exits must save: CF, RSP (a push), ES (null).
    .global guest_state, guest_state_vmcall
guest_state:
    pushq $0x1234
    xorl %%eax, %%eax
    movl %%eax, %%es
    stc
guest_state_vmcall:
    vmcall
    ud2

    # One instruction each for the exiting controls; RAX/RCX set by the host.
    .global guest_pause, guest_rdpmc, guest_wbinvd, guest_mov_to_cr8, guest_mov_from_cr8
    .global guest_rdtscp, guest_int3, guest_lmsw
guest_pause:
    pause
    vmcall
    ud2
guest_rdpmc:
    rdpmc
    vmcall
    ud2
guest_wbinvd:
    wbinvd
    vmcall
    ud2
guest_mov_to_cr8:
    movq %%rax, %%cr8
    vmcall
    ud2
guest_mov_from_cr8:
    movq %%cr8, %%rax
    vmcall
    ud2

    # 32-bit loads and stores through RDI (2 bytes each), for the APIC page.
    .global guest_read32, guest_write32
guest_read32:
    movl (%%rdi), %%eax
    vmcall
    ud2
guest_write32:
    movl %%eax, (%%rdi)
    vmcall
    ud2
guest_rdtscp:
    rdtscp
    vmcall
    ud2
guest_int3:
    int3
    vmcall
    ud2
    .global guest_lbr, guest_lbr_jmp1, guest_lbr_to1, guest_lbr_jmp2, guest_lbr_to2, guest_lbr_vmcall
guest_lbr:
    nop
guest_lbr_jmp1:
    jmp guest_lbr_to1
    ud2
guest_lbr_to1:
    nop
guest_lbr_jmp2:
    jmp guest_lbr_to2
    ud2
guest_lbr_to2:
guest_lbr_vmcall:
    vmcall
    ud2
    .global guest_icebp
guest_icebp:
    .byte 0xf1
    vmcall
    ud2
guest_lmsw:
    lmsw %%ax
    vmcall
    ud2

    # An exit inside an STI or MOV SS shadow.
    .global guest_sti_vmcall, guest_mov_ss_vmcall
guest_sti_vmcall:
    sti
    vmcall
    ud2
guest_mov_ss_vmcall:
    movl %%ss, %%eax
    movl %%eax, %%ss
    vmcall
    ud2

    # The VMX instructions, which all exit in VMX non-root operation; RAX
    # points at a scratch page they would use.
    .global guest_vmxon, guest_vmclear, guest_vmptrld, guest_vmptrst
    .global guest_vmlaunch, guest_vmresume, guest_vmxoff, guest_vmx_insns_end
guest_vmxon:
    vmxon (%%rax)
guest_vmclear:
    vmclear 8(%%rax)
guest_vmptrld:
    vmptrld (%%rax)
guest_vmptrst:
    vmptrst 0x10(%%rax)
guest_vmlaunch:
    vmlaunch
guest_vmresume:
    vmresume
guest_vmxoff:
    vmxoff
guest_vmx_insns_end:
    vmcall
    ud2

    # 32-bit protected mode, paging off (unrestricted guest). 40H is
    # INC EAX here but a REX prefix in 64-bit mode: EAX = 1 proves the mode.
    .code32
    .global guest_pm32, guest_pm32_vmcall
guest_pm32:
    xorl %%eax, %%eax
    .byte 0x40
    movl %%cr0, %%ebx
guest_pm32_vmcall:
    vmcall
    ud2

    # Real-address mode (unrestricted guest, CR0.PE = 0). Position-
    # independent: tests_real.cpp copies guest_real..guest_real_end to the
    # guest-physical page its CS points at. 16-bit arithmetic, a 32-bit
    # operand (66H), INT 21H through the guest's IVT to guest_real_handler,
    # which records its stack pointer and returns with IRET.
    .code16
    .global guest_real, guest_real_int, guest_real_vmcall, guest_real_handler, guest_real_end
guest_real:
    movw $0x1234, %%ax
    addw %%ax, %%ax
    movw %%cs, %%bx
    movl $0x12345678, %%esi
guest_real_int:
    int $0x21
guest_real_vmcall:
    vmcall
    ud2
guest_real_handler:
    movw $0x55aa, %%cx
    movw %%sp, %%dx
    iret
guest_real_end:
    .code64

    # The guest's IDT stubs, GUEST_ISR_STUB_SIZE bytes apart: push the vector,
    # then RBX = vector, RCX = the CPU's frame, RDX = CR2, VMCALL.
    .balign 16
    .global guest_isr_stubs, guest_isr_vmcall
guest_isr_stubs:
    .set guest_isr_vector, 0
    .rept 256
      .balign %c[stub_size]
      pushq $guest_isr_vector
      jmp guest_isr_common
      .set guest_isr_vector, guest_isr_vector + 1
    .endr
guest_isr_common:
    popq %%rbx
    movq %%rsp, %%rcx
    movq %%cr2, %%rdx
guest_isr_vmcall:
    vmcall
    ud2
    .popsection
  )"
               :
               : [post_port] "i"(0x80), [in_port] "i"(0x71), [free_port] "i"(0x81),
                 [stub_size] "i"(GUEST_ISR_STUB_SIZE));
}

// A 64-bit interrupt gate (SDM 6.14.1, figure 6-8).
struct [[gnu::packed]] Gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attributes;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(Gate) == 16);

}  // namespace

void init_guest_idt() {
  Gate* idt = reinterpret_cast<Gate*>(pages.guest_idt);
  static_assert(256 * sizeof(Gate) == PAGE && GUEST_IDT_LIMIT == 256 * sizeof(Gate) - 1);
  for (unsigned v = 0; v < 256; v++) {
    const uint64_t target = reinterpret_cast<uint64_t>(guest_isr_stubs) + v * GUEST_ISR_STUB_SIZE;
    Gate g{};
    g.offset_low = uint16_t(target);
    g.selector = rt::KERNEL_CS;
    g.type_attributes = uint8_t(arch::seg::sys_type::INTERRUPT_GATE | arch::seg::ar::P);
    g.offset_mid = uint16_t(target >> 16);
    g.offset_high = uint32_t(target >> 32);
    idt[v] = g;
  }
}

}  // namespace selftest
