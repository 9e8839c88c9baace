#include "workloads/pg-probe/runner.h"

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/platform.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"
#include "workloads/pg-probe/protected_mode.h"

// How a run goes: pg_enter saves the runner's callee-saved registers and
// stack pointer, loads the snippet's registers and IRETQs to it (to CPL 0 or
// 3, 64-bit or compatibility mode: IRETQ pops SS:RSP in every case, SDM
// vol. 3, 6.14.3). The snippet ends in UD2; that #UD, or the fault of any
// instruction before it, enters on_exception at CPL 0 (through the TSS's
// RSP0 from CPL 3), which records the frame and the privileged state and
// rewrites the frame to return to pg_resume on the runner's stack. A run in
// 32-bit protected mode goes through protected_mode.cpp instead, which
// leaves IA-32e mode for it and comes back to pg_resume the same way.
namespace {

struct Launch {
  uint64_t rip, cs, rflags, rsp, ss;
  uint64_t rax, rcx, rdx, rbx, rsi, rdi;
};
static_assert(__builtin_offsetof(Launch, rax) == 40 && __builtin_offsetof(Launch, rdi) == 80);

}  // namespace

extern "C" {
uint64_t pg_kernel_rsp;
volatile unsigned pg_timer_ticks = 0;  // APIC timer ticks (both worlds' handlers count them)
void pg_enter(const Launch* launch);
extern const char pg_resume[];
}

asm(R"(
    .pushsection .text.pg_runner, "ax"
    .global pg_enter, pg_resume
pg_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, pg_kernel_rsp(%rip)
    pushq 32(%rdi)
    pushq 24(%rdi)
    pushq 16(%rdi)
    pushq 8(%rdi)
    pushq 0(%rdi)
    mov 40(%rdi), %rax
    mov 48(%rdi), %rcx
    mov 56(%rdi), %rdx
    mov 64(%rdi), %rbx
    mov 72(%rdi), %rsi
    mov 80(%rdi), %rdi
    iretq
pg_resume:
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .popsection
)");

namespace pg {
namespace {

constexpr unsigned EXCEPTION_VECTORS = 32;
constexpr uint16_t COM1_SCR = arch::platform::COM1 + arch::platform::UART_SCR;
// What the result buffer holds before a run, so that a store's width shows:
// SGDT/SIDT store 10 bytes in 64-bit mode and 6 in 32-bit code (SDM vol. 2B,
// SGDT).
constexpr uint8_t RESULT_FILL = 0xa5;

struct Outcome {
  uint64_t vector, error_code, rip, rflags;
  uint64_t regs[6];  // rax, rcx, rdx, rbx, rsi, rdi
  Snapshot after;
};

volatile bool armed = false;
Outcome outcome;

void on_exception(rt::InterruptFrame& f) {
  if (!armed) {
    rt::printf("pg-probe: exception %lu (error 0x%lx) at 0x%lx outside a run\n", f.vector, f.error_code, f.rip);
    rt::exit(rt::EXIT_EXCEPTION);
  }
  armed = false;
  outcome = {f.vector, f.error_code, f.rip, f.rflags, {f.rax, f.rcx, f.rdx, f.rbx, f.rsi, f.rdi}, take_snapshot(f.rflags)};
  f.rip = reinterpret_cast<uint64_t>(pg_resume);
  f.cs = KCODE64;
  f.ss = KDATA;
  f.rsp = pg_kernel_rsp;
  f.rflags = arch::rflags::FIXED1;
}

void on_timer(rt::InterruptFrame&) {
  pg_timer_ticks = pg_timer_ticks + 1;
  rt::apic::eoi();
}

uint64_t code_selector(Mode mode, unsigned cpl) {
  if (mode == Mode::BITS64) return cpl ? UCODE64 : KCODE64;
  return cpl ? UCODE32 : KCODE32;
}

// The registers the entry's Input asks for (probe.h); rdi is the buffer.
// In protected mode IDTR and TR take that world's own alternates and CR0
// has paging off.
void fill_inputs(const Entry& e, Mode mode, Launch& l) {
  const Alternates& alt = alternates();
  const bool pm = mode == Mode::PROTECTED;
  const uint64_t cr0 = pm ? rt::read_cr0() & ~arch::cr0::PG : rt::read_cr0();
  l.rdi = reinterpret_cast<uint64_t>(result_buffer());
  switch (e.input) {
    case IN_NONE: break;
    case IN_POPF: l.rax = arch::rflags::FIXED1 | arch::rflags::IF; break;
    case IN_NULL_SELECTOR: l.rcx = 0; break;
    case IN_KERNEL_SELECTOR: l.rcx = KDATA; break;
    case IN_ALT_GDTR: l.rsi = alt.gdtr_pseudo; break;
    case IN_ALT_IDTR: l.rsi = pm ? protected_mode_alt_idtr() : alt.idtr_pseudo; break;
    case IN_ALT_LDT: l.rcx = LDT_B; break;
    case IN_ALT_TSS: l.rcx = pm ? TSS32_B : TSS_B; break;
    case IN_LMSW: l.rcx = (cr0 ^ arch::cr0::TS) & 0xffff; break;
    case IN_CR0_TOGGLE: l.rax = cr0 ^ arch::cr0::TS; break;
    case IN_ALT_CR3: l.rax = alt.pml4; break;
    case IN_CR4_TOGGLE: l.rax = rt::read_cr4() ^ arch::cr4::PCE; break;
    case IN_MSR: l.rcx = arch::msr::IA32_SYSENTER_ESP; break;
    case IN_MSR_WRITE:
      l.rcx = arch::msr::IA32_SYSENTER_ESP;
      l.rax = 0x3333000;
      break;
    case IN_PORT_SCR: l.rdx = COM1_SCR; break;
    case IN_PORT_SCR_WRITE:
      l.rdx = COM1_SCR;
      l.rax = 0xa5;
      break;
  }
}

// HLT at CPL 0 sleeps until an interrupt: a periodic APIC timer with IF set
// in the launch wakes it. Whatever the run did, one tick is waited for
// afterwards, so no tick is left pending for the next run.
void arm_wakeup() {
  pg_timer_ticks = 0;
  rt::apic::timer_start_periodic(TIMER_VECTOR, rt::apic::DIVIDE_BY_16, 2000);
}
void disarm_wakeup() {
  while (pg_timer_ticks == 0) rt::sti_hlt();
  rt::cli();
  rt::apic::timer_stop();
}

void print_outputs(const Entry& e, Mode mode) {
  static const char* const names[6] = {"rax", "rcx", "rdx", "rbx", "rsi", "rdi"};
  bool any = false;
  for (unsigned r = 0; r < 6; r++) {
    if (!(e.outputs & (1u << r))) continue;
    uint64_t v = outcome.regs[r];
    // 32-bit modes leave bits 63:32 undefined (SDM vol. 1, 3.4.1.1).
    if (mode != Mode::BITS64) v = uint32_t(v);
    rt::printf("%s%s:%lx", any ? "," : "", names[r], v);
    any = true;
  }
  if (e.outputs & OUT_MEM) {
    rt::printf("%smem:", any ? "," : "");
    for (unsigned i = 0; i < 16; i++) rt::printf("%02x", result_buffer()[i]);
    any = true;
  }
  if (!any) rt::printf("-");
}

Launch launch_for(const Variant& v, Mode mode, unsigned cpl, Config config) {
  memset(result_buffer(), RESULT_FILL, 16);
  Launch l{};
  l.rip = reinterpret_cast<uint64_t>(v.start);
  l.cs = code_selector(mode, cpl);
  l.ss = cpl ? UDATA : KDATA;
  l.rsp = cpl ? user_stack_top() : kernel_probe_stack_top();
  l.rflags = arch::rflags::FIXED1 | apply_config(config);
  return l;
}

// Runs the launch to its end (UD2 or a fault) and puts the base state
// back; returns the state before it.
Snapshot run(const Launch& l, unsigned cpl) {
  load_data_segments(cpl ? UDATA : KDATA);
  const Snapshot before = take_snapshot(l.rflags);
  armed = true;
  pg_enter(&l);
  restore_base();
  return before;
}

// The same in 32-bit protected mode.
Snapshot run_protected(const Launch& l, unsigned cpl, Config config) {
  ProtectedLaunch p{uint32_t(l.rip), uint32_t(l.cs), uint32_t(l.rflags), uint32_t(l.rsp), uint32_t(l.ss),
                    {uint32_t(l.rax), uint32_t(l.rcx), uint32_t(l.rdx), uint32_t(l.rbx), uint32_t(l.rsi),
                     uint32_t(l.rdi)},
                    cpl ? UDATA : KDATA,
                    config};
  const ProtectedExit x = run_in_protected_mode(p);
  restore_base();
  outcome = {x.vector, x.error_code, x.eip, x.eflags, {}, x.after};
  for (unsigned r = 0; r < 6; r++) outcome.regs[r] = x.regs[r];
  return x.before;
}

bool finished(const Variant& v) {
  return outcome.vector == uint64_t(arch::Vector::UD) && outcome.rip == uint64_t(v.end);
}

const Entry& entry(const char* id) {
  for (unsigned i = 0; i < CATALOGUE_SIZE; i++)
    if (strlen(CATALOGUE[i].id) == strlen(id) && !memcmp(CATALOGUE[i].id, id, strlen(id))) return CATALOGUE[i];
  rt::printf("pg-probe: no catalogue entry '%s'\n", id);
  rt::exit(rt::EXIT_FAILURE);
}

uint8_t try_msr(const char* id, uint32_t index, uint64_t& value) {
  const Variant& v = entry(id).bits64;
  Launch l = launch_for(v, Mode::BITS64, 0, Config::BASE);
  l.rcx = index;
  l.rax = uint32_t(value);
  l.rdx = value >> 32;
  run(l, 0);
  if (!finished(v)) return uint8_t(outcome.vector);
  value = (outcome.regs[2] << 32) | uint32_t(outcome.regs[0]);
  return NO_FAULT;
}

}  // namespace

uint8_t try_rdmsr(uint32_t index, uint64_t& value) { return try_msr("rdmsr", index, value); }
uint8_t try_wrmsr(uint32_t index, uint64_t value) { return try_msr("wrmsr", index, value); }

const Variant& variant(const Entry& e, Mode mode) {
  return mode == Mode::BITS64 ? e.bits64 : mode == Mode::COMPAT ? e.bits32 : e.bitspm;
}

void runner_init() {
  protected_mode_init();
  for (unsigned v = 0; v < EXCEPTION_VECTORS; v++) rt::set_interrupt_handler(uint8_t(v), on_exception);
  rt::set_interrupt_handler(TIMER_VECTOR, on_timer);
  rt::apic::enable(SPURIOUS_VECTOR);
}

namespace {
// The mode as the observation line names it (README.md).
const char* mode_token(Mode mode) {
  switch (mode) {
    case Mode::BITS64: return "64";
    case Mode::COMPAT: return "32";
    case Mode::PROTECTED: return "pm";
  }
  return "?";
}
}  // namespace

void run_and_print(const Entry& e, Mode mode, unsigned cpl, Config config) {
  const Variant& v = variant(e, mode);
  Launch l = launch_for(v, mode, cpl, config);
  fill_inputs(e, mode, l);
  if (e.flags & F_WAKE) {
    l.rflags |= arch::rflags::IF;
    arm_wakeup();
  }
  const Snapshot before = mode == Mode::PROTECTED ? run_protected(l, cpl, config) : run(l, cpl);
  if (e.flags & F_WAKE) disarm_wakeup();

  const bool completed = finished(v);
  const char* at = outcome.rip == uint64_t(v.insn) ? "insn" : "other";
  rt::printf("obs %s %s %u %s insn=%lx ", e.id, mode_token(mode), cpl, config_name(config),
             uint64_t(v.insn));
  if (completed)
    rt::printf("fault=- ");
  else
    rt::printf("fault=%lu err=%lx at=%s ", outcome.vector, outcome.error_code, at);
  rt::printf("out=");
  print_outputs(e, mode);
  rt::printf(" diff=");
  print_diff(before, outcome.after);
  rt::printf("\n");
}

}  // namespace pg
