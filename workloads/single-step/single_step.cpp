// single-step N: N loops of CPUID, OUT, RDTSC and a branch, run with
// RFLAGS.TF set, counting the single-step traps (#DB with DR6.BS, SDM vol.
// 3, 18.3.1.4) and hashing the RIP each one reports. Every instruction that
// begins with TF set traps once, after it completes, also those a VMM
// emulates on an exit (CPUID, OUT, RDTSC under "RDTSC exiting"): a VMM that
// skips an emulated instruction must raise the trap the instruction would
// have (KVM: kvm_skip_emulated_instruction). So the count and the hash are
// the same natively and at every depth.
#include "arch/platform.h"
#include "arch/x86/debug.h"
#include "runtime/runtime.h"

namespace {
constexpr uint64_t DEFAULT_COUNT = 100;

uint64_t traps = 0, rip_hash = 0xcbf29ce484222325ull, bad_dr6 = 0;
extern "C" char single_step_start[];

void on_debug(rt::InterruptFrame& frame) {
  uint64_t dr6;
  asm volatile("mov %%dr6, %0" : "=r"(dr6));
  if (!(dr6 & arch::debug::DR6_BS)) ++bad_dr6;
  asm volatile("mov %0, %%dr6" ::"r"(uint64_t(arch::debug::DR6_INIT)));  // BS is sticky: software clears it
  ++traps;
  const uint64_t offset = frame.rip - reinterpret_cast<uint64_t>(single_step_start);
  rip_hash = (rip_hash ^ offset) * 0x100000001b3ull;
}
}  // namespace

int kmain(const rt::BootInfo& boot) {
  const uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  rt::set_interrupt_handler(1, on_debug);
  uint64_t loops = count;
  // TF goes on with POPF: the trap comes after the next instruction. Each
  // loop is six instructions; then PUSHF, AND and the POPF that clears TF
  // (it began with TF set) trap too.
  asm volatile(
      "pushfq\n\t"
      "orq $0x100, (%%rsp)\n\t"
      "popfq\n\t"
      ".global single_step_start\n"
      "single_step_start:\n\t"
      "1: xorl %%eax, %%eax\n\t"
      "cpuid\n\t"
      "movb $0x5a, %%al\n\t"
      "outb %%al, %[port]\n\t"
      "decq %[loops]\n\t"
      "jnz 1b\n\t"
      "pushfq\n\t"
      "andq $-0x101, (%%rsp)\n\t"
      "popfq"
      : [loops] "+r"(loops)
      : [port] "i"(arch::platform::POST_CODE)
      : "rax", "rbx", "rcx", "rdx", "memory", "cc");
  rt::set_interrupt_handler(1, nullptr);
  rt::printf("single-step: %lu loops, %lu traps, rip hash 0x%016lx, %lu without BS\n", count, traps, rip_hash,
             bad_dr6);
  return rt::EXIT_OK;
}
