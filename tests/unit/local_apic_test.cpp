// Local APIC (SDM vol. 3, chapter 11) against a fake clock.
#include <gtest/gtest.h>

#include <cstdint>

#include "arch/x86/apic.h"
#include "arch/x86/msr.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace apic = arch::apic;
namespace msr = arch::msr;

constexpr uint64_t NEVER = ~0ull;
constexpr uint8_t TIMER_VECTOR = 0x40;

struct FakeClock : Clock {
  uint64_t t = 0;
  uint64_t now() const override { return t; }
};

class LocalApicTest : public ::testing::Test {
 protected:
  FakeClock clock;
  LocalApic lapic{&clock};

  void write(uint32_t reg, uint32_t value) { lapic.mmio_write(reg, 4, value); }
  uint32_t read(uint32_t reg) { return uint32_t(lapic.mmio_read(reg, 4)); }
  void enable() { write(apic::SVR, apic::SVR_ENABLE | 0xff); }
  bool irr(uint8_t v) { return read(apic::IRR0 + 0x10 * (v / 32)) & (1u << (v % 32)); }
  bool isr(uint8_t v) { return read(apic::ISR0 + 0x10 * (v / 32)) & (1u << (v % 32)); }
  // Starts the timer at the current clock.
  void start_timer(uint32_t lvt, uint32_t dcr, uint32_t initial) {
    write(apic::LVT_TIMER, lvt);
    write(apic::TIMER_DIVIDE_CONFIG, dcr);
    write(apic::TIMER_INITIAL_COUNT, initial);
  }
  void advance_to(uint64_t t) {
    clock.t = t;
    lapic.update();
  }
  bool enter_x2apic() { return lapic.wrmsr(msr::IA32_APIC_BASE, lapic.apic_base() | msr::APIC_BASE_EXTD); }
};

constexpr uint32_t DIVIDE_BY_1 = 0xb, DIVIDE_BY_2 = 0x0, DIVIDE_BY_4 = 0x1;

TEST_F(LocalApicTest, PowerUpState) {
  EXPECT_EQ(read(apic::VERSION), 0x50014u);
  EXPECT_EQ(read(apic::ID), 0u);
  EXPECT_EQ(read(apic::SVR), 0xffu) << "software-disabled at reset (SDM 11.4.7.1)";
  EXPECT_EQ(read(apic::DFR), 0xffffffffu);
  EXPECT_EQ(read(apic::LVT_TIMER), apic::LVT_MASKED);
  EXPECT_EQ(read(apic::LVT_ERROR), apic::LVT_MASKED);
  EXPECT_EQ(lapic.apic_base(), 0xfee00000u | msr::APIC_BASE_EN | msr::APIC_BASE_BSP);
  EXPECT_EQ(lapic.next_event(), NEVER);
  EXPECT_EQ(lapic.pending_vector(), -1);
}

TEST_F(LocalApicTest, OneShotTimerExpiresAtTheExactTick) {
  enable();
  clock.t = 1000;
  start_timer(TIMER_VECTOR, DIVIDE_BY_4, 100);
  EXPECT_EQ(lapic.next_event(), 1000u + 100 * 4);
  advance_to(1399);
  EXPECT_FALSE(irr(TIMER_VECTOR));
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 1u);
  advance_to(1400);
  EXPECT_TRUE(irr(TIMER_VECTOR));
  EXPECT_EQ(lapic.pending_vector(), TIMER_VECTOR);
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 0u);
  EXPECT_EQ(lapic.next_event(), NEVER) << "one-shot: no reload";
  EXPECT_EQ(lapic.timer_interrupts, 1u);
}

TEST_F(LocalApicTest, CurrentCountDecrementsOncePerDivisorTicks) {
  enable();
  clock.t = 1000;
  start_timer(TIMER_VECTOR | apic::LVT_MASKED, DIVIDE_BY_4, 100);
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 100u);
  clock.t = 1003;
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 100u);
  clock.t = 1004;
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 99u);
  clock.t = 1200;
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 50u);
  EXPECT_EQ(read(apic::TIMER_INITIAL_COUNT), 100u);
}

TEST_F(LocalApicTest, PeriodicTimerDoesNotDriftWhenServicedLate) {
  enable();
  start_timer(TIMER_VECTOR | apic::LVT_TIMER_PERIODIC, DIVIDE_BY_2, 50);  // period 100
  EXPECT_EQ(lapic.next_event(), 100u);
  advance_to(130);  // the engine looks 30 ticks late
  EXPECT_TRUE(irr(TIMER_VECTOR));
  EXPECT_EQ(lapic.next_event(), 200u) << "next deadline = previous deadline + period";
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 35u);  // 70 ticks to go at /2
  lapic.acknowledge(TIMER_VECTOR);
  write(apic::EOI, 0);
  advance_to(1050);  // nine periods missed: they coalesce into one IRR bit
  EXPECT_EQ(lapic.next_event(), 1100u);
  EXPECT_TRUE(irr(TIMER_VECTOR));
  EXPECT_EQ(lapic.timer_interrupts, 2u);
  for (uint64_t t = 1100; t <= 10000; t += 100) {
    lapic.acknowledge(TIMER_VECTOR);
    write(apic::EOI, 0);
    advance_to(t);
    ASSERT_TRUE(irr(TIMER_VECTOR)) << t;
    ASSERT_EQ(lapic.next_event(), t + 100);
  }
}

TEST_F(LocalApicTest, DivideConfigurationSelectsTheDivisor) {
  enable();
  const struct {
    uint32_t dcr, divisor;
  } table[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (const auto& row : table) {
    clock.t = 5000;
    start_timer(TIMER_VECTOR, row.dcr, 10);
    EXPECT_EQ(read(apic::TIMER_DIVIDE_CONFIG), row.dcr);
    EXPECT_EQ(lapic.next_event(), 5000u + 10 * row.divisor) << "DCR " << row.dcr;
  }
  write(apic::TIMER_DIVIDE_CONFIG, 0xffffffff);
  EXPECT_EQ(read(apic::TIMER_DIVIDE_CONFIG), 0xbu) << "only bits 0, 1 and 3 exist";
}

TEST_F(LocalApicTest, MaskedTimerCountsButDeliversNothing) {
  enable();
  start_timer(TIMER_VECTOR | apic::LVT_MASKED | apic::LVT_TIMER_PERIODIC, DIVIDE_BY_1, 100);
  EXPECT_EQ(lapic.next_event(), NEVER) << "nothing to deliver";
  advance_to(250);
  EXPECT_FALSE(irr(TIMER_VECTOR));
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 50u) << "the count still reloads";
  write(apic::LVT_TIMER, TIMER_VECTOR | apic::LVT_TIMER_PERIODIC);  // unmask
  EXPECT_FALSE(irr(TIMER_VECTOR)) << "unmasking does not deliver a past expiry";
  EXPECT_EQ(lapic.next_event(), 300u);
  advance_to(300);
  EXPECT_TRUE(irr(TIMER_VECTOR));
}

TEST_F(LocalApicTest, WritingZeroInitialCountStopsTheTimer) {
  enable();
  start_timer(TIMER_VECTOR | apic::LVT_TIMER_PERIODIC, DIVIDE_BY_1, 100);
  write(apic::TIMER_INITIAL_COUNT, 0);
  EXPECT_EQ(lapic.next_event(), NEVER);
  advance_to(1000);
  EXPECT_FALSE(irr(TIMER_VECTOR));
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 0u);
}

TEST_F(LocalApicTest, TscDeadlineModeIsNotAdvertised) {
  enable();
  write(apic::LVT_TIMER, TIMER_VECTOR | apic::LVT_TIMER_TSC_DEADLINE);
  EXPECT_EQ(read(apic::LVT_TIMER), uint32_t(TIMER_VECTOR)) << "bit 18 is reserved";
}

TEST_F(LocalApicTest, SoftwareDisabledApicKeepsLvtsMasked) {
  write(apic::LVT_TIMER, TIMER_VECTOR);
  EXPECT_EQ(read(apic::LVT_TIMER), TIMER_VECTOR | apic::LVT_MASKED);
  enable();
  write(apic::LVT_TIMER, TIMER_VECTOR);
  EXPECT_EQ(read(apic::LVT_TIMER), uint32_t(TIMER_VECTOR));
  write(apic::SVR, 0xff);
  EXPECT_EQ(read(apic::LVT_TIMER), TIMER_VECTOR | apic::LVT_MASKED) << "SDM 11.4.7.2";
  lapic.raise(0x50);
  EXPECT_FALSE(irr(0x50)) << "fixed interrupts are dropped while software-disabled";
}

// SDM 11.4.7.2: a software-disabled APIC holds what is pending in IRR and
// in service in ISR; the CPU still takes the pending one and EOI still
// retires the in-service one.
TEST_F(LocalApicTest, SoftwareDisabledApicHoldsPendingAndInServiceInterrupts) {
  enable();
  lapic.raise(0x40);
  lapic.acknowledge(lapic.pending_vector());
  lapic.raise(0x70);
  write(apic::SVR, 0xff);
  EXPECT_TRUE(isr(0x40));
  EXPECT_TRUE(irr(0x70));
  EXPECT_EQ(lapic.pending_vector(), 0x70) << "pending interrupts are held, not dropped";
  lapic.acknowledge(0x70);
  write(apic::EOI, 0);
  write(apic::EOI, 0);
  EXPECT_FALSE(isr(0x70));
  EXPECT_FALSE(isr(0x40));
  write(apic::ICR_LOW, (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x71);
  EXPECT_FALSE(irr(0x71)) << "a fixed self-IPI is not accepted while software-disabled";
  enable();
  write(apic::ICR_LOW, (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x71);
  EXPECT_TRUE(irr(0x71));
}

// The timer keeps counting while software-disabled (its LVT is masked, so
// nothing is delivered), and re-enabling leaves the LVTs masked until
// software unmasks them (SDM 11.4.7.2).
TEST_F(LocalApicTest, SoftwareDisabledTimerCountsMaskedAndStaysMaskedAfterReEnable) {
  enable();
  start_timer(TIMER_VECTOR | apic::LVT_TIMER_PERIODIC, DIVIDE_BY_1, 100);
  write(apic::SVR, 0xff);
  advance_to(130);
  EXPECT_FALSE(irr(TIMER_VECTOR));
  EXPECT_EQ(read(apic::TIMER_CURRENT_COUNT), 70u);
  enable();
  EXPECT_EQ(read(apic::LVT_TIMER), TIMER_VECTOR | apic::LVT_TIMER_PERIODIC | apic::LVT_MASKED);
  write(apic::LVT_TIMER, TIMER_VECTOR | apic::LVT_TIMER_PERIODIC);
  advance_to(200);
  EXPECT_TRUE(irr(TIMER_VECTOR));
}

// LINT0/LINT1 (SDM 11.5.1, figure 11-8): vector, delivery mode, pin
// polarity, trigger mode and mask are stored; delivery status and remote
// IRR are read-only; while software-disabled the mask stays set.
TEST_F(LocalApicTest, Lint0AndLint1StoreTheirFields) {
  constexpr uint32_t EXTINT = 7u << 8, NMI = 4u << 8, ACTIVE_LOW = 1u << 13, LEVEL = 1u << 15, REMOTE_IRR = 1u << 14;
  write(apic::LVT_LINT0, EXTINT);
  EXPECT_EQ(read(apic::LVT_LINT0), EXTINT | apic::LVT_MASKED) << "software-disabled: the mask cannot be cleared";
  enable();
  write(apic::LVT_LINT0, EXTINT | LEVEL | ACTIVE_LOW | REMOTE_IRR | apic::LVT_DELIVERY_PENDING);
  EXPECT_EQ(read(apic::LVT_LINT0), EXTINT | LEVEL | ACTIVE_LOW) << "remote IRR and delivery status are read-only";
  write(apic::LVT_LINT1, NMI | 0x02);
  EXPECT_EQ(read(apic::LVT_LINT1), NMI | 0x02);
  write(apic::LVT_LINT1, NMI | apic::LVT_MASKED | 0xffff0000u);
  EXPECT_EQ(read(apic::LVT_LINT1), NMI | apic::LVT_MASKED) << "bits 31:17 are reserved";
  write(apic::SVR, 0xff);
  EXPECT_EQ(read(apic::LVT_LINT0), EXTINT | LEVEL | ACTIVE_LOW | apic::LVT_MASKED);
}

TEST_F(LocalApicTest, TprMasksLowerPriorityClasses) {
  enable();
  lapic.raise(0x45);
  write(apic::TPR, 0x50);
  EXPECT_EQ(read(apic::PPR), 0x50u);
  EXPECT_EQ(lapic.pending_vector(), -1);
  write(apic::TPR, 0x45);
  EXPECT_EQ(lapic.pending_vector(), -1) << "same class as TPR[7:4]: still masked";
  write(apic::TPR, 0x3f);
  EXPECT_EQ(lapic.pending_vector(), 0x45);
}

TEST_F(LocalApicTest, InServiceVectorRaisesPprToItsClass) {
  enable();
  lapic.raise(0x45);
  ASSERT_EQ(lapic.pending_vector(), 0x45);
  lapic.acknowledge(0x45);
  EXPECT_TRUE(isr(0x45));
  EXPECT_FALSE(irr(0x45));
  EXPECT_EQ(read(apic::PPR), 0x40u) << "PPR = ISRV[7:4]:0 when above TPR";
  write(apic::TPR, 0x52);
  EXPECT_EQ(read(apic::PPR), 0x52u) << "PPR = TPR when TPR[7:4] >= ISRV[7:4]";
  write(apic::TPR, 0);
  lapic.raise(0x41);
  EXPECT_EQ(lapic.pending_vector(), -1) << "same class as the one in service";
  lapic.raise(0x61);
  EXPECT_EQ(lapic.pending_vector(), 0x61);
}

TEST_F(LocalApicTest, EoiClearsTheHighestInServiceVector) {
  enable();
  lapic.raise(0x45);
  lapic.acknowledge(0x45);
  lapic.raise(0x81);
  lapic.acknowledge(0x81);
  write(apic::EOI, 0);
  EXPECT_FALSE(isr(0x81));
  EXPECT_TRUE(isr(0x45));
  write(apic::EOI, 0);
  EXPECT_FALSE(isr(0x45));
  EXPECT_EQ(read(apic::PPR), 0u);
}

TEST_F(LocalApicTest, SelfIpiThroughTheIcr) {
  enable();
  write(apic::ICR_LOW, (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x70);
  EXPECT_TRUE(irr(0x70));
  write(apic::ICR_HIGH, 0u << 24);  // physical destination: our ID
  write(apic::ICR_LOW, 0x71);
  EXPECT_TRUE(irr(0x71));
  EXPECT_EQ(read(apic::ICR_LOW) & apic::ICR_DELIVERY_STATUS, 0u) << "idle: delivered at once";
  write(apic::ICR_HIGH, 5u << 24);  // another CPU's ID: nobody
  write(apic::ICR_LOW, 0x72);
  EXPECT_FALSE(irr(0x72));
  write(apic::ICR_LOW, (apic::SHORTHAND_ALL_EXCLUDING_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x73);
  EXPECT_FALSE(irr(0x73));
  write(apic::LDR, 1u << 24);  // flat logical ID bit 0
  write(apic::ICR_HIGH, 3u << 24);
  write(apic::ICR_LOW, apic::ICR_DEST_LOGICAL | 0x74);
  EXPECT_TRUE(irr(0x74));
}

TEST_F(LocalApicTest, IllegalVectorsAreReportedInEsr) {
  enable();
  write(apic::ICR_LOW, (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x05);
  EXPECT_EQ(read(apic::ESR), 0u) << "ESR shows errors only after a write";
  write(apic::ESR, 0);
  EXPECT_EQ(read(apic::ESR), apic::ESR_SEND_ILLEGAL_VECTOR);
  write(apic::ESR, 0);
  EXPECT_EQ(read(apic::ESR), 0u);
  read(0x400);  // reserved register
  write(apic::ESR, 0);
  EXPECT_EQ(read(apic::ESR), apic::ESR_ILLEGAL_REGISTER);
}

TEST_F(LocalApicTest, ErrorLvtDeliversErrors) {
  enable();
  write(apic::LVT_ERROR, 0xfe);
  write(apic::ICR_LOW, (apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT) | 0x01);
  EXPECT_EQ(lapic.pending_vector(), 0xfe);
}

TEST_F(LocalApicTest, Cr8IsTprHighNibble) {
  enable();
  lapic.set_cr8(0x5);
  EXPECT_EQ(read(apic::TPR), 0x50u);
  write(apic::TPR, 0x9c);
  EXPECT_EQ(lapic.cr8(), 0x9u);
}

// ---- x2APIC ----

TEST_F(LocalApicTest, X2apicMsrsRaiseGpOutsideX2apicMode) {
  uint64_t value = 0;
  EXPECT_FALSE(lapic.rdmsr(msr::IA32_X2APIC_VERSION, value));
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_TPR, 0));
  EXPECT_TRUE(lapic.rdmsr(msr::IA32_APIC_BASE, value));
  EXPECT_EQ(value, lapic.apic_base());
  EXPECT_FALSE(lapic.rdmsr(0x10, value)) << "not an APIC MSR";
}

TEST_F(LocalApicTest, X2apicMsrAccess) {
  ASSERT_TRUE(enter_x2apic());
  EXPECT_TRUE(lapic.x2apic_enabled());
  uint64_t value = 0;
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_VERSION, value));
  EXPECT_EQ(value, 0x50014u);
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_APICID, value));
  EXPECT_EQ(value, 0u) << "32-bit x2APIC ID, not shifted";
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_LDR, value));
  EXPECT_EQ(value, 1u) << "cluster 0, bit 0 (SDM 11.12.10.2)";
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_SIVR, apic::SVR_ENABLE | 0xff));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_TPR, 0x20));
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_PPR, value));
  EXPECT_EQ(value, 0x20u);
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_TPR, 0));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_SELF_IPI, 0x66));
  EXPECT_EQ(lapic.pending_vector(), 0x66);
  lapic.acknowledge(0x66);
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_EOI, 0));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_ICR, 0x67));  // fixed, physical, destination 0 (us)
  EXPECT_EQ(lapic.pending_vector(), 0x67);
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_ICR, value));
  EXPECT_EQ(value, 0x67u);
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_X2APIC_ICR, (uint64_t(7) << 32) | 0x68));  // someone else
  EXPECT_EQ(lapic.pending_vector(), 0x67);
  EXPECT_EQ(lapic.mmio_read(apic::VERSION, 4), 0xffffffffu) << "no MMIO interface in x2APIC mode";
}

TEST_F(LocalApicTest, X2apicAccessRulesRaiseGp) {
  ASSERT_TRUE(enter_x2apic());
  uint64_t value = 0;
  EXPECT_FALSE(lapic.rdmsr(msr::IA32_X2APIC_EOI, value)) << "write-only";
  EXPECT_FALSE(lapic.rdmsr(msr::IA32_X2APIC_SELF_IPI, value)) << "write-only";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_VERSION, 0)) << "read-only";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_APICID, 0)) << "read-only in x2APIC mode";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_LDR, 0)) << "read-only in x2APIC mode";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_EOI, 1)) << "non-zero EOI";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_ESR, 1)) << "non-zero ESR";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_SELF_IPI, 0x100)) << "reserved bits";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_TPR, 1ull << 32)) << "bits 63:32 of a 32-bit register";
  EXPECT_FALSE(lapic.rdmsr(0x809, value)) << "no APR";
  EXPECT_FALSE(lapic.rdmsr(0x80e, value)) << "no DFR";
  EXPECT_FALSE(lapic.rdmsr(0x831, value)) << "no ICR high half";
  EXPECT_FALSE(lapic.rdmsr(0x8ff, value));
  EXPECT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_CUR_COUNT, value));
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_X2APIC_CUR_COUNT, 0)) << "read-only";
}

TEST_F(LocalApicTest, ApicBaseModeTransitions) {
  const uint64_t base = 0xfee00000, en = msr::APIC_BASE_EN, extd = msr::APIC_BASE_EXTD;
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_APIC_BASE, base | extd)) << "EXTD without EN is invalid";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en | 1)) << "reserved bit 0";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en | (1ull << 50))) << "above MAXPHYADDR";
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en | extd));
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en)) << "x2APIC -> xAPIC must go through disabled";
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, base));
  EXPECT_EQ(lapic.pending_vector(), -1);
  EXPECT_EQ(lapic.mmio_read(apic::VERSION, 4), 0xffffffffu) << "globally disabled: not decoded";
  EXPECT_FALSE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en | extd)) << "disabled -> x2APIC must go through xAPIC";
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, base | en));
  EXPECT_EQ(read(apic::SVR), 0xffu) << "re-enabled in the power-up state";
  EXPECT_TRUE(lapic.apic_base() & msr::APIC_BASE_BSP) << "BSP is the hardware's";
}

// The x2APIC ID is the one hardware assigned, whatever software wrote to
// the xAPIC ID register (SDM 11.12.5.1); a global disable returns the ID
// register to its power-up value (SDM 11.4.3, 11.4.7.1).
TEST_F(LocalApicTest, X2apicIdIsTheInitialApicId) {
  write(apic::ID, 5u << 24);
  EXPECT_EQ(read(apic::ID), 5u << 24) << "the xAPIC ID is writable";
  ASSERT_TRUE(enter_x2apic());
  uint64_t value = 0;
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_APICID, value));
  EXPECT_EQ(value, LocalApic::initial_apic_id());
  ASSERT_TRUE(lapic.rdmsr(msr::IA32_X2APIC_LDR, value));
  EXPECT_EQ(value, 1u << (LocalApic::initial_apic_id() & 0xf));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, 0xfee00000));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, 0xfee00000 | msr::APIC_BASE_EN));
  write(apic::ID, 6u << 24);
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, 0xfee00000));
  ASSERT_TRUE(lapic.wrmsr(msr::IA32_APIC_BASE, 0xfee00000 | msr::APIC_BASE_EN));
  EXPECT_EQ(read(apic::ID), LocalApic::initial_apic_id() << 24) << "power-up value after a global disable";
}

TEST_F(LocalApicTest, X2apicIsRefusedWhenNotAdvertised) {
  lapic.set_x2apic_supported(false);
  EXPECT_FALSE(enter_x2apic());
}

TEST(LocalApicPlatformTest, ApicBaseRelocatesTheMmioPage) {
  PlatformDevices dev{PlatformConfig{16ull << 20, 1, stdout}};
  ASSERT_TRUE(dev.apic.wrmsr(msr::IA32_APIC_BASE, 0xfed00000 | msr::APIC_BASE_EN));
  EXPECT_EQ(dev.bus.mmio_read(0xfed00000 + apic::VERSION, 4), 0x50014u);
  EXPECT_EQ(dev.bus.mmio_read(0xfee00000 + apic::VERSION, 4), 0xffffffffu);
}

}  // namespace
}  // namespace nestbed
