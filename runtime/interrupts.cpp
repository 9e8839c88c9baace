#include "runtime/interrupts.h"

#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "runtime/runtime.h"

namespace rt {
namespace {

constexpr unsigned VECTORS = 256;
constexpr unsigned STUB_SIZE = 16;  // each stub is padded to this (see below)
constexpr unsigned FIRST_NON_EXCEPTION = 32;  // SDM 6.2: 0-31 are reserved for exceptions

// Bit v set: the CPU pushes an error code for exception v.
constexpr uint32_t error_code_mask() {
  uint32_t mask = 0;
  for (unsigned v = 0; v < FIRST_NON_EXCEPTION; v++)
    if (arch::exception_has_error_code(uint8_t(v))) mask |= 1u << v;
  return mask;
}

// One stub per vector, 16 bytes apart from rt_isr_stubs. A stub makes the
// stack uniform (a dummy error code where the CPU pushes none, then the
// vector) and jumps to the common entry, which saves the general registers
// and calls rt_interrupt_dispatch. The CPU aligns RSP to 16 before pushing
// its frame (SDM 6.14.2); 5 + 2 + 15 quadwords keep it aligned for the call.
// The error-code test shifts by the vector & 31: only vectors below
// FIRST_NON_EXCEPTION (32) reach it, and gas evaluates the whole .if
// expression, so a shift by 32..255 warned at every build.
static_assert(FIRST_NON_EXCEPTION == 32, "the stubs' error-code test masks the vector with 31");
[[gnu::used]] void define_isr_stubs() {
  asm volatile(R"(
    .pushsection .text.rt_isr, "ax"
    .balign 16
    .global rt_isr_stubs
rt_isr_stubs:
    .set rt_isr_vector, 0
    .rept %c[vectors]
      .balign %c[stub_size]
      .if rt_isr_vector >= %c[first_irq] || ((%c[error_mask] >> (rt_isr_vector & 31)) & 1) == 0
        pushq $0
      .endif
      pushq $rt_isr_vector
      jmp rt_isr_common
      .set rt_isr_vector, rt_isr_vector + 1
    .endr

rt_isr_common:
    pushq %%rax
    pushq %%rbx
    pushq %%rcx
    pushq %%rdx
    pushq %%rsi
    pushq %%rdi
    pushq %%rbp
    pushq %%r8
    pushq %%r9
    pushq %%r10
    pushq %%r11
    pushq %%r12
    pushq %%r13
    pushq %%r14
    pushq %%r15
    movq %%rsp, %%rdi
    cld
    call rt_interrupt_dispatch
    popq %%r15
    popq %%r14
    popq %%r13
    popq %%r12
    popq %%r11
    popq %%r10
    popq %%r9
    popq %%r8
    popq %%rbp
    popq %%rdi
    popq %%rsi
    popq %%rdx
    popq %%rcx
    popq %%rbx
    popq %%rax
    addq $16, %%rsp  # vector and error code
    iretq
    .popsection
  )" : : [vectors] "i"(VECTORS), [stub_size] "i"(STUB_SIZE), [first_irq] "i"(FIRST_NON_EXCEPTION),
         [error_mask] "i"(error_code_mask()));
}

// A 64-bit IDT gate descriptor (SDM 6.14.1, figure 6-8).
struct [[gnu::packed]] Gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attributes;  // type, DPL, P: the low byte of the access rights
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(Gate) == 16);

alignas(16) Gate idt[VECTORS];
InterruptHandler handlers[VECTORS];

Gate interrupt_gate(uint64_t target) {
  Gate g{};
  g.offset_low = uint16_t(target);
  g.selector = KERNEL_CS;
  g.type_attributes = uint8_t(arch::seg::sys_type::INTERRUPT_GATE | arch::seg::ar::P);  // DPL 0
  g.offset_mid = uint16_t(target >> 16);
  g.offset_high = uint32_t(target >> 32);
  return g;
}

[[noreturn]] void report_fatal(const InterruptFrame& f) {
  if (f.vector < FIRST_NON_EXCEPTION) {
    printf("fatal: exception %lu (%s), error code 0x%lx, rip 0x%lx, cr2 0x%lx\n", f.vector,
           arch::exception_name(uint8_t(f.vector)), f.error_code, f.rip, read_cr2());
    exit(EXIT_EXCEPTION);
  }
  printf("fatal: unexpected interrupt, vector %lu, rip 0x%lx\n", f.vector, f.rip);
  exit(EXIT_UNEXPECTED_INTERRUPT);
}

}  // namespace

extern "C" char rt_isr_stubs[];

extern "C" void rt_interrupt_dispatch(InterruptFrame* frame) {
  if (InterruptHandler handler = handlers[frame->vector]) return handler(*frame);
  report_fatal(*frame);
}

void interrupts_init() {
  for (unsigned v = 0; v < VECTORS; v++)
    idt[v] = interrupt_gate(reinterpret_cast<uint64_t>(rt_isr_stubs + v * STUB_SIZE));
  DescriptorTableRegister idtr{sizeof(idt) - 1, reinterpret_cast<uint64_t>(idt)};
  asm volatile("lidt %0" : : "m"(idtr));
}

void set_interrupt_handler(uint8_t vector, InterruptHandler handler) { handlers[vector] = handler; }

}  // namespace rt
