// The devices every engine provides (DESIGN.md §3): COM1 16550 UART,
// isa-debug-exit, fw_cfg, the PIC pair (FERR# on IRQ 13), the local
// APIC with its timer and the I/O APIC's registers. Engines own one PlatformDevices per machine and route
// port and MMIO accesses through its bus.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "arch/x86/io_apic.h"
#include "common/devices/fw_cfg.h"
#include "l0/devices/device_bus.h"

namespace nestbed {

// The time base of the APIC timer. The sim engine counts modeled cycles, the
// kvm engine host TSC cycles; the APIC timer's input clock is this count
// (one timer tick per cycle before the divide configuration).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t now() const = 0;
};

// COM1, transmit side only: bytes written to THR go to `out`; nothing is ever
// received except in loopback mode (MCR bit 4), which drivers use to probe
// for the chip. No interrupts are raised (IIR always reads "none pending").
class Uart16550 : public PortDevice {
 public:
  explicit Uart16550(std::FILE* out) : out_(out) {}
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  uint8_t read_register(unsigned reg);
  void write_register(unsigned reg, uint8_t value);
  bool dlab() const;
  bool loopback() const;
  uint8_t modem_status() const;

  std::FILE* out_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0, fcr_ = 0;
  uint8_t rbr_ = 0;          // last byte looped back
  bool data_ready_ = false;  // LSR.DR: rbr_ holds an unread byte
  uint64_t bytes_written_ = 0;
};

class DebugExit : public PortDevice {
 public:
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  // Set once the guest has written its exit code.
  std::optional<uint32_t> code;
};

// fw_cfg on the bus: the front end l1-vmm uses too (common/devices/fw_cfg.h).
class FwCfg : public PortDevice {
 public:
  FwCfg(uint64_t ram_size, uint16_t nb_cpus) : fw_cfg_(ram_size, nb_cpus) {}
  uint32_t io_read(uint16_t port, unsigned size) override { return fw_cfg_.io_read(port, size); }
  void io_write(uint16_t port, unsigned size, uint32_t value) override { fw_cfg_.io_write(port, size, value); }

 private:
  common::devices::FwCfg fw_cfg_;
};

// The master/slave 8259A pair (8259A data sheet; IBM PC/AT wiring: the
// slave's INT on the master's IR2). Edge-triggered requests in fully nested
// mode with fixed priority (IR0 highest), the ICW1-ICW4 sequence (vector
// base, cascade, AEOI), the mask (OCW1), non-specific and specific EOI
// (OCW2) and the IRR/ISR read select (OCW3). Not modeled: level-triggered
// mode (ICW1 LTIM), priority rotation and the set-priority command, special
// mask and special fully nested modes, poll mode (those OCW2/OCW3 commands
// are ignored). The only source wired to it is FERR# on IRQ 13
// (X87ErrorLatch); its INT reaches the processor through the local APIC's
// LINT0 in ExtINT mode, or directly with the APIC globally disabled
// (PlatformDevices::extint_pending).
class Pic8259 : public PortDevice {
 public:
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  // ISA IRQ line `irq` (0-7 master, 8-15 slave) goes to `level`: a rising
  // edge sets the request.
  void set_irq(unsigned irq, bool level);
  // The master's INT output: a request it would present to the processor.
  bool intr() const { return master_request() >= 0; }
  // Interrupt acknowledge (the two INTA cycles): the vector of the request
  // chosen, which is now in service. With no request left (it went away)
  // the 8259A answers IR7's vector, a spurious interrupt.
  uint8_t acknowledge();
  uint8_t mask[2] = {0xff, 0xff};  // IMR (OCW1)

 private:
  struct Chip {
    uint8_t irr = 0, isr = 0;
    uint8_t lines = 0;        // input levels, for edge detection
    uint8_t vector_base = 0;  // ICW2 bits 7:3
    bool auto_eoi = false;    // ICW4 AEOI
    bool read_isr = false;    // OCW3: the command port reads ISR (else IRR)
  };
  int request(unsigned chip, uint8_t irr) const;
  int master_request() const;
  bool cascaded() const { return !single_; }
  void write_command(unsigned chip, uint8_t value);
  void write_data(unsigned chip, uint8_t value);
  void end_of_interrupt(unsigned chip, uint8_t ocw2);
  // Initialization Command Words still expected after ICW1 (8259A data sheet).
  struct InitSequence {
    bool icw2 = false, icw3 = false, icw4 = false;
  } init_[2];
  Chip chip_[2];
  bool single_ = false;  // the master's ICW1 SNGL: no slave
};

// The PC's FERR# / IGNNE# glue (SDM vol. 1, 8.7.2 and appendix D.2.1):
// FERR# from the processor sets a latch that drives IRQ 13; a write to
// port F0H clears the latch and, while FERR# is asserted, asserts IGNNE#,
// which stays asserted until FERR# goes away (the x87 error is cleared).
// With IGNNE# asserted a waiting x87 instruction runs without reporting
// the pending error.
class X87ErrorLatch : public PortDevice {
 public:
  explicit X87ErrorLatch(Pic8259& pic) : pic_(pic) {}
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  void set_ferr(bool asserted);
  bool ferr() const { return ferr_; }
  bool ignne() const { return ignne_; }

 private:
  Pic8259& pic_;
  bool ferr_ = false, ignne_ = false;
};

// Local APIC (SDM vol. 3, chapter 11): xAPIC MMIO at the APIC base, x2APIC
// MSRs, fixed interrupts through IRR/ISR/PPR, EOI, and the timer in one-shot
// and periodic modes. Delivery to the CPU is polled by the engine:
// next_event() says when to look again, pending_vector()/acknowledge() do INTA.
//
// The timer's input is Clock::now(): the current-count register decrements by
// one every `divisor` clock ticks after a write to the initial-count register
// (SDM 11.5.4), so an initial count n with divide-by-d expires exactly n*d
// ticks after the write. Periodic reloads are scheduled from the previous
// deadline, never from when the engine noticed it, so the period never drifts.
// TSC-deadline mode is not advertised (LVT timer bit 18 is reserved).
//
// The engine calls update() before pending_vector(), and whenever now()
// reaches next_event(); every register access brings the timer up to date
// itself, so a state change (a mask, a new count) never applies retroactively.
class LocalApic : public MmioDevice {
 public:
  explicit LocalApic(const Clock* clock = nullptr) : clock_(clock) {}
  void set_clock(const Clock* clock) { clock_ = clock; }
  // Lets IA32_APIC_BASE relocate the xAPIC page on `bus` (PlatformDevices does this).
  void attach_bus(DeviceBus* bus) { bus_ = bus; }
  // Whether CPUID advertises x2APIC; if not, setting IA32_APIC_BASE.EXTD raises #GP.
  void set_x2apic_supported(bool supported) { x2apic_supported_ = supported; }

  uint64_t mmio_read(uint64_t offset, unsigned size) override;
  void mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // IA32_APIC_BASE and the x2APIC MSRs. Return false where the SDM raises #GP.
  // rdmsr/wrmsr accept IA32_APIC_BASE (0x1b) and 0x800..0x8ff; any other MSR is false.
  uint64_t apic_base() const { return apic_base_; }
  // The APIC ID hardware assigns (CPUID.01H:EBX[31:24]); the xAPIC ID
  // register starts with it and the x2APIC ID is always it (SDM 11.12.5.1).
  static constexpr uint32_t initial_apic_id() { return 0; }
  bool set_apic_base(uint64_t value);
  bool x2apic_enabled() const;
  bool rdmsr(uint32_t msr, uint64_t& value);
  bool wrmsr(uint32_t msr, uint64_t value);

  // CR8 is TPR[7:4] in 64-bit mode (SDM 11.8.6.1); writing it clears TPR[3:0].
  uint64_t cr8() const { return tpr_ >> 4; }
  void set_cr8(uint64_t value) { tpr_ = uint32_t(value & 0xf) << 4; }

  // Moves time forward: a timer that has expired sets its vector in IRR.
  void update();
  // Clock value at which update() next has something to do (UINT64_MAX: never).
  // A masked or stopped timer has nothing to deliver, so it reports never.
  uint64_t next_event() const;
  // Highest-priority vector in IRR that PPR lets through, or -1.
  int pending_vector() const;
  // Interrupt acknowledge: moves the vector from IRR to ISR.
  void acknowledge(int vector);
  // Raises a fixed interrupt (self-IPI, tests).
  void raise(uint8_t vector);
  // A write of 0 to the EOI register: the highest vector in service ends
  // (SDM 11.8.5); posted-interrupt processing dismisses its notification so.
  void eoi();

  // NMIs (SDM 11.5.1, 11.6.1): an NMI IPI this APIC is a destination of
  // (not through the "self" shorthand, which carries fixed interrupts
  // only), or an edge on a LINT pin whose LVT entry says NMI. One stays
  // pending until the processor takes it (take_nmi); more coalesce, as
  // the processor latches a single NMI.
  bool nmi_pending() const { return nmi_pending_; }
  void take_nmi() { nmi_pending_ = false; }
  // An edge on LINT0 (pin 0) or LINT1 (pin 1), as a board drives them: what
  // the pin's LVT entry says — nothing when masked (or the APIC is globally
  // disabled), its vector for fixed delivery, an NMI for NMI delivery.
  // Other delivery modes (ExtINT, SMI, INIT) have nothing behind them here.
  void assert_lint(unsigned pin);
  // The processor takes the 8259A's INTR: LINT0's LVT entry is unmasked
  // with ExtINT delivery, or the APIC is globally disabled (its pins then
  // are the processor's INTR and NMI).
  bool accepts_extint() const;

  // Timer expiries that set their vector in IRR (expiries missed while the
  // guest did not look coalesce into one, as the IRR bit does).
  uint64_t timer_interrupts = 0;

 private:
  enum Lvt { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };
  enum class Access { Reserved, ReadOnly, WriteOnly, ReadWrite };
  static Access xapic_access(uint32_t reg);
  static Access x2apic_access(uint32_t reg);
  static int lvt_index(uint32_t reg);

  uint32_t read_reg(uint32_t reg) const;
  void write_reg(uint32_t reg, uint32_t value);
  bool write_x2apic_msr(uint32_t reg, uint64_t value);
  uint64_t now() const;
  bool globally_enabled() const;
  bool software_enabled() const;
  uint32_t x2apic_ldr() const;
  uint32_t ppr() const;

  void reset_registers();
  void write_svr(uint32_t value);
  void write_lvt(int index, uint32_t value);
  void write_divide_config(uint32_t value);
  uint32_t divisor() const;
  void arm_timer(uint64_t start);
  bool timer_periodic() const;
  uint64_t deadline_after(uint64_t t) const;
  uint32_t current_count() const;
  void timer_expired();

  void send_ipi();
  void send_fixed_ipi(uint8_t vector, bool to_self);
  bool ipi_targets_self(uint32_t shorthand) const;
  bool accept_fixed(uint8_t vector);
  void record_error(uint32_t esr_bits);

  const Clock* clock_;
  DeviceBus* bus_ = nullptr;
  bool x2apic_supported_ = true;
  uint64_t apic_base_ = 0xfee00000ull | (1ull << 11) | (1ull << 8);  // enabled, BSP
  uint32_t id_ = 0, tpr_ = 0, ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff;
  uint32_t esr_ = 0;          // what ESR reads: errors latched by the last ESR write
  uint32_t esr_pending_ = 0;  // errors detected since (SDM 11.5.3)
  uint32_t icr_lo_ = 0, icr_hi_ = 0;  // icr_hi_: xAPIC ICR[63:32] or the x2APIC destination
  uint32_t lvt_[LVT_COUNT] = {0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000};
  uint32_t initial_count_ = 0, divide_config_ = 0;
  uint64_t timer_period_ = 0;        // clock ticks per timer period: initial count * divisor
  uint64_t timer_deadline_ = ~0ull;  // clock at the next expiry, or never
  uint32_t irr_[8] = {}, isr_[8] = {}, tmr_[8] = {};
  bool nmi_pending_ = false;
};

// I/O APIC (Intel 82093AA data sheet, section 3) at 0xFEC00000, as QEMU's
// pc machine has it: IOREGSEL selects an indirect register, IOWIN reads and
// writes it (32-bit accesses only); ID, version (0x00170020: version 0x20,
// 24 entries, as QEMU under TCG), arbitration ID and 24 redirection entries.
// What is stored reads back as the data sheet says: reserved bits read 0,
// Delivery Status and Remote IRR are read-only.
//
// No interrupt is ever delivered through it: no device of the platform is
// wired to its pins, so an entry's pin never asserts, Delivery Status and
// Remote IRR stay 0 and an EOI has nothing to clear. Its registers are
// there for guests that program it (and for the mmio-loop workload, whose
// accesses every VMM level must emulate).
class IoApic : public MmioDevice {
 public:
  IoApic();
  uint64_t mmio_read(uint64_t offset, unsigned size) override;
  void mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  uint32_t read32(uint64_t offset, unsigned size) const;
  void write32(uint64_t offset, unsigned size, uint32_t value);
  uint32_t read_register(uint32_t reg) const;
  void write_register(uint32_t reg, uint32_t value);

  uint8_t ioregsel_ = 0;
  uint32_t id_ = 0;  // bits 27:24 as the ID register reads
  uint64_t redirection_[arch::io_apic::REDIRECTION_ENTRIES];
};

struct PlatformConfig {
  uint64_t ram_size = 0;
  uint16_t nb_cpus = 1;
  std::FILE* console = stdout;
};

class PlatformDevices {
 public:
  explicit PlatformDevices(const PlatformConfig& config);
  PlatformDevices(const PlatformDevices&) = delete;
  PlatformDevices& operator=(const PlatformDevices&) = delete;

  DeviceBus bus;
  Uart16550 com1;
  DebugExit debug_exit;
  FwCfg fw_cfg;
  Pic8259 pic;
  X87ErrorLatch x87_error{pic};
  LocalApic apic;
  IoApic io_apic;
  // The 8259A's INT reaches the processor as an external (ExtINT)
  // interrupt: through LINT0 programmed for ExtINT delivery, unmasked
  // (virtual-wire mode, SDM 11.5.1; MP spec. 3.6.2.2), or directly when the
  // local APIC is globally disabled (SDM 11.4.3).
  bool extint_pending() const { return pic.intr() && apic.accepts_extint(); }
};

}  // namespace nestbed
