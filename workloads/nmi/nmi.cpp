// nmi N: N rounds of a self-NMI through the local APIC's ICR (delivery
// mode NMI, physical destination: this APIC's ID), sent with RFLAGS.IF = 0
// (NMIs ignore IF). The handler of each round's first NMI sends a second
// one: NMIs are blocked until the handler's IRET, so the second arrives
// after it returns, not nested inside it (SDM vol. 3, 6.7.1). Prints the
// NMIs taken, how many arrived inside a handler (0), and how many were
// taken right after the IRET that unblocked them (N).
#include "arch/x86/apic.h"
#include "runtime/apic.h"
#include "runtime/runtime.h"

namespace {
constexpr uint64_t DEFAULT_COUNT = 100;
constexpr uint8_t NMI_VECTOR = 2;

volatile uint64_t nmis = 0, nested = 0, after_iret = 0;
volatile bool in_handler = false, second_sent = false;

void send_self_nmi() {
  const uint32_t id = rt::apic::read(arch::apic::ID);  // xAPIC ID in bits 31:24, as ICR[63:56] wants it
  rt::apic::write(arch::apic::ICR_HIGH, id & 0xff000000u);
  rt::apic::write(arch::apic::ICR_LOW, arch::apic::DELIVERY_NMI << arch::apic::ICR_DELIVERY_MODE_SHIFT);
}

void on_nmi(rt::InterruptFrame&) {
  if (in_handler) ++nested;
  in_handler = true;
  ++nmis;
  if (second_sent) {
    ++after_iret;
    second_sent = false;
  } else {
    // Pending, and blocked until this handler's IRET.
    second_sent = true;
    send_self_nmi();
    for (int k = 0; k < 100; ++k) asm volatile("pause");
  }
  in_handler = false;
}
}  // namespace

int kmain(const rt::BootInfo& boot) {
  const uint64_t count = rt::cmdline_count(boot.cmdline, DEFAULT_COUNT);
  rt::set_interrupt_handler(NMI_VECTOR, on_nmi);
  for (uint64_t i = 0; i < count; i++) send_self_nmi();
  // The handler stays: on a platform that delivers a latched NMI late (see
  // tests/workloads.cmake), it arrives during the printf, after the counts
  // were read, and changes nothing printed.
  rt::printf("nmi: %lu rounds, %lu NMIs, %lu nested, %lu after IRET\n", count, uint64_t(nmis), uint64_t(nested),
             uint64_t(after_iret));
  return rt::EXIT_OK;
}
