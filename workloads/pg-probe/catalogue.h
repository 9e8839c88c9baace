// The instructions pg-probe runs: every system instruction of the sim that
// reads or writes privileged state, the classic x86 "sensitive but not
// privileged" set (Robin & Irvine, USENIX Security 2000), and two ordinary
// instructions for contrast.
//
// X(id, pre64, insn64, post64, pre32, insn32, post32, input, outputs, flags)
//   pre/post: set-up and read-out instructions around the probed one (a
//     fault is attributed to the probed instruction only when its RIP is the
//     probed instruction's); insn32 "" = no 32-bit variant (compatibility
//     and legacy protected mode run the same 32-bit code; MOV to CR3 loads
//     a PML4 copy below 4 GiB in both, which protected mode's paging-off
//     world does not use). SWAPGS's 32-bit
//     variant is its bytes (the assembler knows it is 64-bit only; the CPU
//     raises #UD for it there, SDM vol. 2B SWAPGS).
//   input: how the runner fills the registers (Input in probe.h).
//   outputs: the registers (OUT_*) and memory the experiment compares.
//   flags: F_TIME (its result is the time: never compared), F_WAKE (HLT:
//     the runner arms the APIC timer and sets IF so it wakes up).
// Registers: rdi points at the 16-byte result buffer in every run.
#pragma once

// clang-format off
#define PG_CATALOGUE(X) \
  X(sgdt,  "", "sgdt (%rdi)", "",   "", "sgdt (%edi)", "",   IN_NONE, OUT_MEM, 0) \
  X(sidt,  "", "sidt (%rdi)", "",   "", "sidt (%edi)", "",   IN_NONE, OUT_MEM, 0) \
  X(sldt,  "", "sldt %eax", "",     "", "sldt %eax", "",     IN_NONE, OUT_RAX, 0) \
  X(str,   "", "str %eax", "",      "", "str %eax", "",      IN_NONE, OUT_RAX, 0) \
  X(smsw,  "", "smsw %eax", "",     "", "smsw %eax", "",     IN_NONE, OUT_RAX, 0) \
  X(pushf, "", "pushfq", "popq %rax", "", "pushfl", "popl %eax", IN_NONE, OUT_RAX, 0) \
  X(popf,  "pushq %rax", "popfq", "pushfq; popq %rax", "pushl %eax", "popfl", "pushfl; popl %eax", IN_POPF, OUT_RAX, 0) \
  X(mov_from_cs, "", "mov %cs, %eax", "", "", "mov %cs, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(mov_from_ss, "", "mov %ss, %eax", "", "", "mov %ss, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(mov_to_ds,   "", "mov %ecx, %ds", "", "", "mov %ecx, %ds", "", IN_NULL_SELECTOR, 0, 0) \
  X(lar,   "", "lar %ecx, %eax", "setz %dl", "", "lar %ecx, %eax", "setz %dl", IN_KERNEL_SELECTOR, OUT_RAX | OUT_RDX, 0) \
  X(lsl,   "", "lsl %ecx, %eax", "setz %dl", "", "lsl %ecx, %eax", "setz %dl", IN_KERNEL_SELECTOR, OUT_RAX | OUT_RDX, 0) \
  X(verr,  "", "verr %cx", "setz %dl", "", "verr %cx", "setz %dl", IN_KERNEL_SELECTOR, OUT_RDX, 0) \
  X(verw,  "", "verw %cx", "setz %dl", "", "verw %cx", "setz %dl", IN_KERNEL_SELECTOR, OUT_RDX, 0) \
  X(lgdt,  "", "lgdt (%rsi)", "",   "", "lgdt (%esi)", "",   IN_ALT_GDTR, 0, 0) \
  X(lidt,  "", "lidt (%rsi)", "",   "", "lidt (%esi)", "",   IN_ALT_IDTR, 0, 0) \
  X(lldt,  "", "lldt %cx", "",      "", "lldt %cx", "",      IN_ALT_LDT, 0, 0) \
  X(ltr,   "", "ltr %cx", "",       "", "ltr %cx", "",       IN_ALT_TSS, 0, 0) \
  X(lmsw,  "", "lmsw %cx", "",      "", "lmsw %cx", "",      IN_LMSW, 0, 0) \
  X(clts,  "", "clts", "",          "", "clts", "",          IN_NONE, 0, 0) \
  X(mov_from_cr0, "", "mov %cr0, %rax", "", "", "mov %cr0, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(mov_to_cr0,   "", "mov %rax, %cr0", "", "", "mov %eax, %cr0", "", IN_CR0_TOGGLE, 0, 0) \
  X(mov_from_cr3, "", "mov %cr3, %rax", "", "", "mov %cr3, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(mov_to_cr3,   "", "mov %rax, %cr3", "", "", "mov %eax, %cr3", "", IN_ALT_CR3, 0, 0) \
  X(mov_from_cr4, "", "mov %cr4, %rax", "", "", "mov %cr4, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(mov_to_cr4,   "", "mov %rax, %cr4", "", "", "mov %eax, %cr4", "", IN_CR4_TOGGLE, 0, 0) \
  X(mov_from_dr7, "", "mov %dr7, %rax", "", "", "mov %dr7, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(rdmsr, "", "rdmsr", "",         "", "rdmsr", "",         IN_MSR, OUT_RAX | OUT_RDX, 0) \
  X(wrmsr, "", "wrmsr", "",         "", "wrmsr", "",         IN_MSR_WRITE, 0, 0) \
  X(swapgs, "", "swapgs", "",       "", ".byte 0x0f, 0x01, 0xf8  # swapgs", "", IN_NONE, 0, 0) \
  X(invlpg, "", "invlpg (%rdi)", "", "", "invlpg (%edi)", "", IN_NONE, 0, 0) \
  X(wbinvd, "", "wbinvd", "",       "", "wbinvd", "",        IN_NONE, 0, 0) \
  X(cli,   "", "cli", "",           "", "cli", "",           IN_NONE, 0, 0) \
  X(sti,   "", "sti", "",           "", "sti", "",           IN_NONE, 0, 0) \
  X(hlt,   "", "hlt", "",           "", "hlt", "",           IN_NONE, 0, F_WAKE) \
  X(in_scr,  "", "inb %dx, %al", "", "", "inb %dx, %al", "", IN_PORT_SCR, OUT_RAX, 0) \
  X(out_scr, "", "outb %al, %dx", "", "", "outb %al, %dx", "", IN_PORT_SCR_WRITE, 0, 0) \
  X(out_post, "", "outb %al, $0x80", "", "", "outb %al, $0x80", "", IN_NONE, 0, 0) \
  X(rdtsc, "", "rdtsc", "",         "", "rdtsc", "",         IN_NONE, OUT_RAX | OUT_RDX, F_TIME) \
  X(cpuid, "", "cpuid", "",         "", "cpuid", "",         IN_NONE, OUT_RAX | OUT_RBX | OUT_RCX | OUT_RDX, 0) \
  X(add,   "", "add %ecx, %eax", "", "", "add %ecx, %eax", "", IN_NONE, OUT_RAX, 0) \
  X(nop,   "", "nop", "",           "", "nop", "",           IN_NONE, 0, 0)
// clang-format on
