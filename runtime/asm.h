// Pieces of hand-written assembly that several functions written in asm
// share (rt::vmx's VM entry, vmx-selftest's VM entry in an interrupt
// shadow and its guarded calls). They are text for extended asm statements,
// hence the %% before register names.
#pragma once

// The System V AMD64 callee-saved registers (RBP, RBX, R12-R15), pushed by
// a function that uses them all and popped, in reverse, before it returns.
#define RT_ASM_PUSH_CALLEE_SAVED \
  "pushq %%rbp\n\t"              \
  "pushq %%rbx\n\t"              \
  "pushq %%r12\n\t"              \
  "pushq %%r13\n\t"              \
  "pushq %%r14\n\t"              \
  "pushq %%r15\n\t"
#define RT_ASM_POP_CALLEE_SAVED \
  "popq %%r15\n\t"              \
  "popq %%r14\n\t"              \
  "popq %%r13\n\t"              \
  "popq %%r12\n\t"              \
  "popq %%rbx\n\t"              \
  "popq %%rbp\n\t"

// The start and end of a function written in asm (as Linux's
// SYM_FUNC_START/SYM_FUNC_END), in a section of its own so that
// --gc-sections drops it along with its last caller.
#define RT_ASM_FUNC_START(name)                \
  ".pushsection .text." #name ", \"ax\"\n\t" \
  ".global " #name "\n\t"                      \
  ".type " #name ", @function\n" #name ":\n\t"
#define RT_ASM_FUNC_END(name)          \
  "\n\t.size " #name ", . - " #name "\n\t" \
  ".popsection\n"
