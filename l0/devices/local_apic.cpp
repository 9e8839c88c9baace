// Local APIC (Intel SDM vol. 3A, chapter 11). One CPU: IPIs reach this APIC
// or nobody, and only fixed (and lowest-priority) delivery has an effect.
#include <cstring>

#include "arch/x86/apic.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "l0/devices/platform_devices.h"

namespace nestbed {
namespace {

namespace apic = arch::apic;
namespace msr = arch::msr;

constexpr uint64_t NEVER = ~0ull;

constexpr uint32_t TPR_WRITABLE = 0xff;
constexpr uint32_t XAPIC_ID_SHIFT = 24;          // xAPIC ID, LDR and ICR destination live in bits 31:24
constexpr uint32_t XAPIC_HIGH_BYTE = 0xff000000;
constexpr uint32_t DFR_RESERVED_ONES = 0x0fffffff;
constexpr uint32_t SVR_WRITABLE = 0xff | apic::SVR_ENABLE | apic::SVR_FOCUS_DISABLE;
constexpr uint32_t DCR_WRITABLE = 0xb;  // bits 0, 1 and 3 (SDM figure 11-10)
constexpr uint32_t ICR_LOW_WRITABLE = apic::ICR_VECTOR_MASK | (7u << apic::ICR_DELIVERY_MODE_SHIFT) |
                                      apic::ICR_DEST_LOGICAL | apic::ICR_LEVEL_ASSERT | apic::ICR_TRIGGER_LEVEL |
                                      (3u << apic::ICR_SHORTHAND_SHIFT);
constexpr uint32_t XAPIC_BROADCAST = 0xff;
constexpr uint32_t X2APIC_BROADCAST = 0xffffffff;
constexpr uint32_t REGISTER_ARRAY_SPAN = 8 * 0x10;  // ISR, TMR, IRR: eight registers each

// Writable LVT bits (SDM figure 11-8); delivery status and remote IRR are read-only.
constexpr uint32_t LVT_DELIVERY_MODE = 7u << 8;
constexpr uint32_t LVT_PIN_POLARITY = 1u << 13;
constexpr uint32_t LVT_TRIGGER_LEVEL = 1u << 15;
constexpr uint32_t LVT_WRITABLE[] = {
    // Timer: no TSC-deadline mode is advertised, so bit 18 is reserved.
    apic::LVT_VECTOR_MASK | apic::LVT_MASKED | apic::LVT_TIMER_PERIODIC,
    apic::LVT_VECTOR_MASK | LVT_DELIVERY_MODE | apic::LVT_MASKED,  // thermal
    apic::LVT_VECTOR_MASK | LVT_DELIVERY_MODE | apic::LVT_MASKED,  // performance counters
    apic::LVT_VECTOR_MASK | LVT_DELIVERY_MODE | LVT_PIN_POLARITY | LVT_TRIGGER_LEVEL | apic::LVT_MASKED,  // LINT0
    apic::LVT_VECTOR_MASK | LVT_DELIVERY_MODE | LVT_PIN_POLARITY | LVT_TRIGGER_LEVEL | apic::LVT_MASKED,  // LINT1
    apic::LVT_VECTOR_MASK | apic::LVT_MASKED,  // error
};

void set_bit(uint32_t* bits, unsigned v) { bits[v >> 5] |= 1u << (v & 31); }
void clear_bit(uint32_t* bits, unsigned v) { bits[v >> 5] &= ~(1u << (v & 31)); }
int highest_bit(const uint32_t* bits) {
  for (int i = 7; i >= 0; --i)
    if (bits[i]) return i * 32 + 31 - __builtin_clz(bits[i]);
  return -1;
}
uint64_t all_ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }
bool in_array(uint32_t reg, uint32_t first) { return reg >= first && reg < first + REGISTER_ARRAY_SPAN; }

}  // namespace

// ---- register map ----

int LocalApic::lvt_index(uint32_t reg) {
  if (reg < apic::LVT_TIMER || reg > apic::LVT_ERROR || (reg & 0xf)) return -1;
  return int((reg - apic::LVT_TIMER) >> 4);
}

// xAPIC registers, SDM table 11-1 (CMCI is absent: the version register says 6 LVTs).
LocalApic::Access LocalApic::xapic_access(uint32_t reg) {
  switch (reg) {
    case apic::ID: case apic::TPR: case apic::LDR: case apic::DFR: case apic::SVR: case apic::ESR:
    case apic::ICR_LOW: case apic::ICR_HIGH: case apic::TIMER_INITIAL_COUNT: case apic::TIMER_DIVIDE_CONFIG:
      return Access::ReadWrite;
    case apic::VERSION: case apic::APR: case apic::PPR: case apic::RRD: case apic::TIMER_CURRENT_COUNT:
      return Access::ReadOnly;
    case apic::EOI: return Access::WriteOnly;
  }
  if (in_array(reg, apic::ISR0) || in_array(reg, apic::TMR0) || in_array(reg, apic::IRR0)) return Access::ReadOnly;
  return lvt_index(reg) >= 0 ? Access::ReadWrite : Access::Reserved;
}

// x2APIC MSRs, SDM table 11-6: no APR, RRD, DFR or ICR high half; ID and LDR
// become read-only; the 64-bit ICR and SELF IPI are new.
LocalApic::Access LocalApic::x2apic_access(uint32_t reg) {
  switch (reg) {
    case apic::TPR: case apic::SVR: case apic::ESR: case apic::ICR_LOW:
    case apic::TIMER_INITIAL_COUNT: case apic::TIMER_DIVIDE_CONFIG:
      return Access::ReadWrite;
    case apic::ID: case apic::VERSION: case apic::PPR: case apic::LDR: case apic::TIMER_CURRENT_COUNT:
      return Access::ReadOnly;
    case apic::EOI: case apic::SELF_IPI: return Access::WriteOnly;
  }
  if (in_array(reg, apic::ISR0) || in_array(reg, apic::TMR0) || in_array(reg, apic::IRR0)) return Access::ReadOnly;
  return lvt_index(reg) >= 0 ? Access::ReadWrite : Access::Reserved;
}

uint32_t LocalApic::read_reg(uint32_t reg) const {
  switch (reg) {
    case apic::ID: return x2apic_enabled() ? id_ : id_ << XAPIC_ID_SHIFT;
    case apic::VERSION: return apic::VERSION_VALUE;
    case apic::TPR: return tpr_;
    case apic::APR: return 0;  // bus arbitration: there is no other APIC to arbitrate with
    case apic::PPR: return ppr();
    case apic::RRD: return 0;  // remote read: no other APIC to read
    case apic::LDR: return x2apic_enabled() ? x2apic_ldr() : ldr_;
    case apic::DFR: return dfr_;
    case apic::SVR: return svr_;
    case apic::ESR: return esr_;
    case apic::ICR_LOW: return icr_lo_;  // delivery status is always idle: IPIs are delivered at once
    case apic::ICR_HIGH: return icr_hi_;
    case apic::TIMER_INITIAL_COUNT: return initial_count_;
    case apic::TIMER_CURRENT_COUNT: return current_count();
    case apic::TIMER_DIVIDE_CONFIG: return divide_config_;
  }
  if (in_array(reg, apic::ISR0)) return isr_[(reg - apic::ISR0) >> 4];
  if (in_array(reg, apic::TMR0)) return tmr_[(reg - apic::TMR0) >> 4];
  if (in_array(reg, apic::IRR0)) return irr_[(reg - apic::IRR0) >> 4];
  if (int i = lvt_index(reg); i >= 0) return lvt_[i];
  return 0;  // EOI and SELF IPI are write-only
}

void LocalApic::write_reg(uint32_t reg, uint32_t value) {
  switch (reg) {
    case apic::ID: id_ = value >> XAPIC_ID_SHIFT; return;
    case apic::TPR: tpr_ = value & TPR_WRITABLE; return;
    case apic::EOI: eoi(); return;
    case apic::LDR: ldr_ = value & XAPIC_HIGH_BYTE; return;
    case apic::DFR: dfr_ = value | DFR_RESERVED_ONES; return;
    case apic::SVR: write_svr(value); return;
    case apic::ESR:  // a write latches the errors seen since the previous write (SDM 11.5.3)
      esr_ = esr_pending_;
      esr_pending_ = 0;
      return;
    case apic::ICR_LOW:  // writing the low half sends the IPI (SDM 11.6.1)
      icr_lo_ = value & ICR_LOW_WRITABLE;
      send_ipi();
      return;
    case apic::ICR_HIGH: icr_hi_ = value & XAPIC_HIGH_BYTE; return;
    case apic::TIMER_INITIAL_COUNT:  // a write (re)starts the count, 0 stops it (SDM 11.5.4)
      initial_count_ = value;
      arm_timer(now());
      return;
    case apic::TIMER_DIVIDE_CONFIG: write_divide_config(value); return;
    case apic::SELF_IPI: send_fixed_ipi(uint8_t(value), true); return;
  }
  if (int i = lvt_index(reg); i >= 0) write_lvt(i, value);
}

// ---- xAPIC MMIO ----

// With the APIC globally disabled or in x2APIC mode the xAPIC page is not
// decoded (SDM 11.4.3, 11.12.1.2): it reads as all-ones like unclaimed space.
uint64_t LocalApic::mmio_read(uint64_t offset, unsigned size) {
  if (!globally_enabled() || x2apic_enabled()) return all_ones(size);
  update();
  uint32_t reg = uint32_t(offset) & 0xff0;
  unsigned byte = unsigned(offset & 0xf);
  Access access = xapic_access(reg);
  if (access == Access::Reserved) {
    record_error(apic::ESR_ILLEGAL_REGISTER);
    return 0;
  }
  // Registers sit in the low 4 bytes of each 16-byte slot (SDM 11.4.1).
  if (access == Access::WriteOnly || byte >= 4) return 0;
  return (uint64_t(read_reg(reg)) >> (8 * byte)) & all_ones(size);
}

// The SDM requires aligned 32-bit stores (11.4.1); narrower or misaligned
// stores have undefined effects and are dropped here.
void LocalApic::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (!globally_enabled() || x2apic_enabled()) return;
  update();
  uint32_t reg = uint32_t(offset) & 0xff0;
  Access access = xapic_access(reg);
  if (access == Access::Reserved) {
    record_error(apic::ESR_ILLEGAL_REGISTER);
    return;
  }
  if (access == Access::ReadOnly || (offset & 0xf) != 0 || size < 4) return;
  write_reg(reg, uint32_t(value));
}

// ---- MSRs ----

bool LocalApic::globally_enabled() const { return apic_base_ & msr::APIC_BASE_EN; }
bool LocalApic::software_enabled() const { return svr_ & apic::SVR_ENABLE; }
bool LocalApic::x2apic_enabled() const { return globally_enabled() && (apic_base_ & msr::APIC_BASE_EXTD); }

// IA32_APIC_BASE (SDM 11.4.4) and the mode transitions of SDM 11.12.5
// (figure 11-27): xAPIC <-> x2APIC only upwards, x2APIC -> xAPIC only through
// disabled, EXTD without EN is invalid.
bool LocalApic::set_apic_base(uint64_t value) {
  constexpr uint64_t BASE_MASK = arch::pte::ADDR_MASK;  // bits MAXPHYADDR-1:12
  if (value & ~(BASE_MASK | msr::APIC_BASE_EN | msr::APIC_BASE_EXTD | msr::APIC_BASE_BSP)) return false;
  bool enable = value & msr::APIC_BASE_EN, extd = value & msr::APIC_BASE_EXTD;
  if (extd && (!x2apic_supported_ || !enable)) return false;
  if (x2apic_enabled() && enable && !extd) return false;
  if (!globally_enabled() && extd) return false;
  update();
  uint64_t base = value & BASE_MASK;
  if (base != (apic_base_ & BASE_MASK) && bus_ && !bus_->move_mmio(this, base)) return false;
  bool disabling = globally_enabled() && !enable;
  bool entering_x2apic = !x2apic_enabled() && extd;
  // BSP is set by hardware at reset; software does not change it.
  apic_base_ = (value & ~msr::APIC_BASE_BSP) | (apic_base_ & msr::APIC_BASE_BSP);
  if (disabling) reset_registers();  // re-enabling finds the power-up state (SDM 11.4.3)
  // xAPIC -> x2APIC: the x2APIC ID (and the LDR derived from it) is the
  // hardware's, whatever was written to the xAPIC ID; the rest stays (SDM 11.12.5.1).
  if (entering_x2apic) id_ = initial_apic_id();
  return true;
}

// Outside x2APIC mode every MSR in 0x800..0x8ff raises #GP (SDM 11.12.1.2),
// as do reserved ones, reads of write-only and writes of read-only registers.
bool LocalApic::rdmsr(uint32_t index, uint64_t& value) {
  if (index == msr::IA32_APIC_BASE) {
    value = apic_base_;
    return true;
  }
  if (index < msr::X2APIC_FIRST || index > msr::X2APIC_LAST || !x2apic_enabled()) return false;
  uint32_t reg = (index - msr::X2APIC_FIRST) << 4;
  Access access = x2apic_access(reg);
  if (access == Access::Reserved || access == Access::WriteOnly) return false;
  update();
  value = reg == apic::ICR_LOW ? (uint64_t(icr_hi_) << 32 | icr_lo_) : read_reg(reg);
  return true;
}

bool LocalApic::wrmsr(uint32_t index, uint64_t value) {
  if (index == msr::IA32_APIC_BASE) return set_apic_base(value);
  if (index < msr::X2APIC_FIRST || index > msr::X2APIC_LAST || !x2apic_enabled()) return false;
  uint32_t reg = (index - msr::X2APIC_FIRST) << 4;
  Access access = x2apic_access(reg);
  if (access == Access::Reserved || access == Access::ReadOnly) return false;
  update();
  return write_x2apic_msr(reg, value);
}

// ICR is the only 64-bit x2APIC register (destination in bits 63:32); EOI and
// ESR accept only 0 and SELF IPI only a vector, anything else is #GP (SDM 11.12.1.2, 11.12.11).
bool LocalApic::write_x2apic_msr(uint32_t reg, uint64_t value) {
  if (reg == apic::ICR_LOW) {
    icr_hi_ = uint32_t(value >> 32);
    icr_lo_ = uint32_t(value) & ICR_LOW_WRITABLE;
    send_ipi();
    return true;
  }
  if (value >> 32) return false;
  if ((reg == apic::EOI || reg == apic::ESR) && value != 0) return false;
  if (reg == apic::SELF_IPI && (value & ~uint64_t(apic::ICR_VECTOR_MASK))) return false;
  write_reg(reg, uint32_t(value));
  return true;
}

// Logical x2APIC ID: cluster ID[19:4] in bits 31:16, one bit for ID[3:0] (SDM 11.12.10.2).
uint32_t LocalApic::x2apic_ldr() const { return ((id_ >> 4) << 16) | (1u << (id_ & 0xf)); }

// ---- state ----

uint64_t LocalApic::now() const { return clock_ ? clock_->now() : 0; }

// Power-up/reset values, SDM 11.4.7.1: the ID register holds the initial APIC ID.
void LocalApic::reset_registers() {
  id_ = initial_apic_id();
  tpr_ = ldr_ = esr_ = esr_pending_ = icr_lo_ = icr_hi_ = 0;
  dfr_ = 0xffffffff;
  svr_ = 0xff;
  for (uint32_t& lvt : lvt_) lvt = apic::LVT_MASKED;
  initial_count_ = divide_config_ = 0;
  timer_period_ = 0;
  timer_deadline_ = NEVER;
  std::memset(irr_, 0, sizeof irr_);
  std::memset(isr_, 0, sizeof isr_);
  std::memset(tmr_, 0, sizeof tmr_);
}

// Software-disabling sets every LVT mask bit (SDM 11.4.7.2).
void LocalApic::write_svr(uint32_t value) {
  svr_ = value & SVR_WRITABLE;
  if (!software_enabled())
    for (uint32_t& lvt : lvt_) lvt |= apic::LVT_MASKED;
}

// While software-disabled the mask bits cannot be cleared (SDM 11.4.7.2).
void LocalApic::write_lvt(int index, uint32_t value) {
  uint32_t lvt = value & LVT_WRITABLE[index];
  if (!software_enabled()) lvt |= apic::LVT_MASKED;
  lvt_[index] = lvt;
}

// ---- timer (SDM 11.5.4) ----

uint32_t LocalApic::divisor() const { return apic::timer_divisor(divide_config_); }

void LocalApic::arm_timer(uint64_t start) {
  timer_period_ = uint64_t(initial_count_) * divisor();
  if (initial_count_ == 0 || timer_period_ > NEVER - 1 - start) timer_deadline_ = NEVER;
  else timer_deadline_ = start + timer_period_;
}

// The SDM leaves a divisor change in mid-count unspecified; here the count
// continues from its current value at the new rate.
void LocalApic::write_divide_config(uint32_t value) {
  uint64_t remaining = current_count();
  divide_config_ = value & DCR_WRITABLE;
  if (timer_deadline_ == NEVER) return;
  timer_period_ = uint64_t(initial_count_) * divisor();
  timer_deadline_ = now() + remaining * divisor();
}

bool LocalApic::timer_periodic() const {
  return (lvt_[LVT_TIMER] & apic::LVT_TIMER_MODE_MASK) == apic::LVT_TIMER_PERIODIC;
}

// The first periodic deadline after `t`: deadlines are a fixed grid from the
// first one, so a late look never shifts the later ones (no drift).
uint64_t LocalApic::deadline_after(uint64_t t) const {
  uint64_t periods = (t - timer_deadline_) / timer_period_ + 1;
  return timer_deadline_ + periods * timer_period_;
}

// The count decrements once every `divisor` ticks and reaches 0 at the deadline.
uint32_t LocalApic::current_count() const {
  if (timer_deadline_ == NEVER) return 0;
  uint64_t t = now(), deadline = timer_deadline_;
  if (t >= deadline) {
    if (!timer_periodic()) return 0;
    deadline = deadline_after(t);
  }
  uint64_t d = divisor();
  return uint32_t((deadline - t + d - 1) / d);
}

void LocalApic::update() {
  if (timer_deadline_ == NEVER) return;
  uint64_t t = now();
  if (t < timer_deadline_) return;
  timer_deadline_ = timer_periodic() ? deadline_after(t) : NEVER;
  timer_expired();
}

void LocalApic::timer_expired() {
  uint32_t lvt = lvt_[LVT_TIMER];
  if (lvt & apic::LVT_MASKED) return;  // the count still runs and reloads; nothing is delivered
  if (accept_fixed(uint8_t(lvt & apic::LVT_VECTOR_MASK))) ++timer_interrupts;
}

uint64_t LocalApic::next_event() const {
  if (!globally_enabled() || (lvt_[LVT_TIMER] & apic::LVT_MASKED)) return NEVER;
  return timer_deadline_;
}

// ---- interrupts (SDM 11.8) ----

// PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0 (SDM 11.8.3.1).
uint32_t LocalApic::ppr() const {
  int isrv = highest_bit(isr_);
  uint32_t isr_class = isrv < 0 ? 0 : uint32_t(isrv) & 0xf0;
  return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

// The highest IRR vector is delivered if its class is above PPR[7:4] (SDM 11.8.3).
int LocalApic::pending_vector() const {
  if (!globally_enabled()) return -1;
  int vector = highest_bit(irr_);
  if (vector < 0 || uint32_t(vector >> 4) <= (ppr() >> 4)) return -1;
  return vector;
}

void LocalApic::acknowledge(int vector) {
  if (vector < 0 || vector > 255) return;
  clear_bit(irr_, unsigned(vector));
  set_bit(isr_, unsigned(vector));
}

// EOI retires the highest-priority in-service interrupt (SDM 11.8.5).
void LocalApic::eoi() {
  int vector = highest_bit(isr_);
  if (vector >= 0) clear_bit(isr_, unsigned(vector));
}

void LocalApic::raise(uint8_t vector) { accept_fixed(vector); }

// A software-disabled APIC still takes INIT, NMI, SMI and SIPI only (SDM
// 11.4.7.2), so fixed interrupts are dropped, as KVM does.
bool LocalApic::accept_fixed(uint8_t vector) {
  if (vector < apic::FIRST_LEGAL_VECTOR) {
    record_error(apic::ESR_RECEIVE_ILLEGAL_VECTOR);
    return false;
  }
  if (!software_enabled()) return false;
  set_bit(irr_, vector);
  return true;
}

// Errors accumulate until the next ESR write and raise the error LVT (SDM 11.5.3).
void LocalApic::record_error(uint32_t esr_bits) {
  esr_pending_ |= esr_bits;
  uint32_t lvt = lvt_[LVT_ERROR];
  if ((lvt & apic::LVT_MASKED) || !software_enabled()) return;
  uint8_t vector = uint8_t(lvt & apic::LVT_VECTOR_MASK);
  if (vector < apic::FIRST_LEGAL_VECTOR) {
    esr_pending_ |= apic::ESR_RECEIVE_ILLEGAL_VECTOR;  // reported, not delivered: no recursion
    return;
  }
  set_bit(irr_, vector);
}

// ---- IPIs (SDM 11.6) ----

// INIT, SIPI and SMI would go to other CPUs and there are none. Fixed and
// lowest-priority IPIs reach this APIC if it is a destination; so does an
// NMI (its vector is ignored), except through the "self" shorthand, which
// the SDM allows with fixed delivery only (11.6.1, table 11-3 note).
void LocalApic::send_ipi() {
  uint32_t mode = (icr_lo_ >> apic::ICR_DELIVERY_MODE_SHIFT) & 7;
  uint32_t shorthand = (icr_lo_ >> apic::ICR_SHORTHAND_SHIFT) & 3;
  if (mode == apic::DELIVERY_NMI) {
    if (shorthand != apic::SHORTHAND_SELF && ipi_targets_self(shorthand)) nmi_pending_ = true;
    return;
  }
  if (mode != apic::DELIVERY_FIXED && mode != apic::DELIVERY_LOWEST_PRIORITY) return;
  send_fixed_ipi(uint8_t(icr_lo_ & apic::ICR_VECTOR_MASK), ipi_targets_self(shorthand));
}

void LocalApic::assert_lint(unsigned pin) {
  if (pin > 1 || !globally_enabled()) return;
  const uint32_t lvt = lvt_[pin == 0 ? LVT_LINT0 : LVT_LINT1];
  if (lvt & apic::LVT_MASKED) return;  // a software-disabled APIC keeps every LVT masked
  switch ((lvt & LVT_DELIVERY_MODE) >> apic::ICR_DELIVERY_MODE_SHIFT) {
    case apic::DELIVERY_FIXED: accept_fixed(uint8_t(lvt & apic::LVT_VECTOR_MASK)); return;
    case apic::DELIVERY_NMI: nmi_pending_ = true; return;
    default: return;
  }
}

bool LocalApic::accepts_extint() const {
  if (!globally_enabled()) return true;
  const uint32_t lvt = lvt_[LVT_LINT0];
  return !(lvt & apic::LVT_MASKED) && ((lvt & LVT_DELIVERY_MODE) >> apic::ICR_DELIVERY_MODE_SHIFT) == apic::DELIVERY_EXTINT;
}

void LocalApic::send_fixed_ipi(uint8_t vector, bool to_self) {
  if (vector < apic::FIRST_LEGAL_VECTOR) {
    record_error(apic::ESR_SEND_ILLEGAL_VECTOR);
    return;
  }
  if (to_self) accept_fixed(vector);
}

// Destination matching, SDM 11.6.2 (xAPIC: flat and cluster logical models)
// and 11.12.9/11.12.10 (x2APIC: 32-bit IDs, cluster logical IDs).
bool LocalApic::ipi_targets_self(uint32_t shorthand) const {
  switch (shorthand) {
    case apic::SHORTHAND_SELF:
    case apic::SHORTHAND_ALL_INCLUDING_SELF: return true;
    case apic::SHORTHAND_ALL_EXCLUDING_SELF: return false;
  }
  bool logical = icr_lo_ & apic::ICR_DEST_LOGICAL;
  if (x2apic_enabled()) {
    uint32_t dest = icr_hi_, ldr = x2apic_ldr();
    if (dest == X2APIC_BROADCAST) return true;
    if (!logical) return dest == id_;
    return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff) != 0;
  }
  uint32_t dest = icr_hi_ >> XAPIC_ID_SHIFT, ldr = ldr_ >> XAPIC_ID_SHIFT;
  if (dest == XAPIC_BROADCAST) return true;
  if (!logical) return dest == (id_ & 0xff);
  if ((dfr_ >> 28) == apic::DFR_MODEL_FLAT) return (dest & ldr) != 0;
  return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf) != 0;
}

}  // namespace nestbed
