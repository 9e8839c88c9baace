#include "l1-vmm/panic.h"

#include <stdarg.h>

#include "arch/x86/exceptions.h"
#include "l1-vmm/stats.h"
#include "runtime/runtime.h"

namespace l1 {
namespace {

constexpr unsigned VECTORS = 256;
constexpr unsigned FIRST_NON_EXCEPTION = 32;

bool stopping = false;  // a fault while stopping must not print the statistics again

}  // namespace
}  // namespace l1

// The MSR accessors and their fixup: a #GP at l1_rdmsr_insn or
// l1_wrmsr_insn resumes at l1_msr_fixup, which returns false.
extern "C" bool l1_rdmsr_safe(uint32_t msr, uint64_t* value);
extern "C" bool l1_wrmsr_safe(uint32_t msr, uint64_t value);
extern "C" char l1_rdmsr_insn[], l1_wrmsr_insn[], l1_msr_fixup[];

[[gnu::used]] static void define_msr_safe() {
  asm volatile(R"(
    .pushsection .text.l1_msr_safe, "ax"
    .global l1_rdmsr_safe
    .type l1_rdmsr_safe, @function
l1_rdmsr_safe:
    movl %edi, %ecx
l1_rdmsr_insn:
    rdmsr
    shlq $32, %rdx
    movl %eax, %eax
    orq %rdx, %rax
    movq %rax, (%rsi)
    movl $1, %eax
    ret
    .size l1_rdmsr_safe, . - l1_rdmsr_safe

    .global l1_wrmsr_safe
    .type l1_wrmsr_safe, @function
l1_wrmsr_safe:
    movl %edi, %ecx
    movl %esi, %eax
    movq %rsi, %rdx
    shrq $32, %rdx
l1_wrmsr_insn:
    wrmsr
    movl $1, %eax
    ret
l1_msr_fixup:
    xorl %eax, %eax
    ret
    .size l1_wrmsr_safe, . - l1_wrmsr_safe
    .global l1_rdmsr_insn, l1_wrmsr_insn, l1_msr_fixup
    .popsection
  )");
}

namespace l1 {
namespace {

void (*panic_context)() = nullptr;

void on_fault(rt::InterruptFrame& f) {
  const bool msr_access = f.rip == uint64_t(l1_rdmsr_insn) || f.rip == uint64_t(l1_wrmsr_insn);
  if (f.vector == uint8_t(arch::Vector::GP) && msr_access) {
    f.rip = uint64_t(l1_msr_fixup);
    return;
  }
  if (f.vector < FIRST_NON_EXCEPTION)
    rt::printf("l1-vmm: panic: exception %lu (%s), error code 0x%lx, rip 0x%lx, rsp 0x%lx, cr2 0x%lx\n", f.vector,
               arch::exception_name(uint8_t(f.vector)), f.error_code, f.rip, f.rsp, rt::read_cr2());
  else
    rt::printf("l1-vmm: panic: interrupt on vector %lu at rip 0x%lx (l1-vmm runs with interrupts off)\n", f.vector,
               f.rip);
  if (panic_context && !stopping) panic_context();
  fatal(L1_PANIC, "stopping");
}

}  // namespace

void install_panic_handlers() {
  for (unsigned v = 0; v < VECTORS; v++) rt::set_interrupt_handler(uint8_t(v), on_fault);
}

void set_panic_context(void (*print)()) { panic_context = print; }

void fatal(ExitCode code, const char* format, ...) {
  rt::console_write("l1-vmm: ");
  va_list args;
  va_start(args, format);
  rt::vprintf(format, args);
  va_end(args);
  rt::console_putc('\n');
  if (!stopping) {
    stopping = true;
    stats_print_at_end();
  }
  rt::exit(code);
}

bool rdmsr_safe(uint32_t msr, uint64_t& value) { return l1_rdmsr_safe(msr, &value); }
bool wrmsr_safe(uint32_t msr, uint64_t value) { return l1_wrmsr_safe(msr, value); }

void shutdown_machine() {
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } empty_idt{0, 0};
  // INT3 through an IDT of limit 0 is #GP; delivering that is #GP again,
  // so #DF, whose delivery fails too: shutdown (SDM 6.15, interrupt 8).
  asm volatile("lidt %0; int3" : : "m"(empty_idt) : "memory");
  for (;;) asm volatile("cli; hlt");
}

void halt_machine() {
  for (;;) asm volatile("cli; hlt");
}

}  // namespace l1
