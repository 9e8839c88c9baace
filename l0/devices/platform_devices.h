// The devices every engine provides (DESIGN.md §3): COM1 16550 UART,
// isa-debug-exit, fw_cfg, the PIC pair (mask writes accepted) and the local
// APIC with its timer. Engines own one PlatformDevices per machine and route
// port and MMIO accesses through its bus.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

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

class Uart16550 : public PortDevice {
 public:
  explicit Uart16550(std::FILE* out) : out_(out) {}
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::FILE* out_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0, fcr_ = 0;
  uint64_t bytes_written_ = 0;
};

class DebugExit : public PortDevice {
 public:
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  // Set once the guest has written its exit code.
  std::optional<uint32_t> code;
};

class FwCfg : public PortDevice {
 public:
  FwCfg(uint64_t ram_size, uint16_t nb_cpus) : ram_size_(ram_size), nb_cpus_(nb_cpus) {}
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;

 private:
  uint8_t data_byte();
  uint64_t ram_size_;
  uint16_t nb_cpus_;
  uint16_t selector_ = 0;
  uint32_t offset_ = 0;
};

class Pic8259 : public PortDevice {
 public:
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  uint8_t mask[2] = {0xff, 0xff};
};

// Local APIC (SDM vol. 3, chapter 11): xAPIC MMIO at the APIC base, x2APIC
// MSRs, fixed interrupts through IRR/ISR/PPR, EOI, and the timer in one-shot
// and periodic modes. Delivery to the CPU is polled by the engine:
// next_event() says when to look again, pending_vector()/acknowledge() do INTA.
class LocalApic : public MmioDevice {
 public:
  explicit LocalApic(const Clock* clock = nullptr) : clock_(clock) {}
  void set_clock(const Clock* clock) { clock_ = clock; }

  uint64_t mmio_read(uint64_t offset, unsigned size) override;
  void mmio_write(uint64_t offset, unsigned size, uint64_t value) override;

  // IA32_APIC_BASE and the x2APIC MSRs. Return false where the SDM raises #GP.
  uint64_t apic_base() const { return apic_base_; }
  bool set_apic_base(uint64_t value);
  bool x2apic_enabled() const;
  bool rdmsr(uint32_t msr, uint64_t& value);
  bool wrmsr(uint32_t msr, uint64_t value);

  // Moves time forward: a timer that has expired sets its vector in IRR.
  void update();
  // Clock value at which update() next has something to do (UINT64_MAX: never).
  uint64_t next_event() const;
  // Highest-priority vector in IRR that PPR lets through, or -1.
  int pending_vector() const;
  // Interrupt acknowledge: moves the vector from IRR to ISR.
  void acknowledge(int vector);
  // Raises a fixed interrupt (self-IPI, tests).
  void raise(uint8_t vector);

  uint64_t timer_interrupts = 0;

 private:
  uint32_t read_reg(uint32_t offset);
  void write_reg(uint32_t offset, uint32_t value);
  uint64_t now() const;
  uint32_t ppr() const;
  void arm_timer(uint64_t start);
  uint32_t current_count() const;

  const Clock* clock_;
  uint64_t apic_base_ = 0xfee00000ull | (1ull << 11) | (1ull << 8);  // enabled, BSP
  uint32_t id_ = 0, tpr_ = 0, ldr_ = 0, dfr_ = 0xffffffff, svr_ = 0xff, esr_ = 0;
  uint32_t icr_lo_ = 0, icr_hi_ = 0;
  uint32_t lvt_[7] = {0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000, 0x10000};
  uint32_t initial_count_ = 0, divide_config_ = 0;
  uint64_t timer_start_ = 0;      // clock at the last (re)load
  uint64_t timer_deadline_ = ~0ull;  // clock at the next expiry, or never
  uint32_t irr_[8] = {}, isr_[8] = {}, tmr_[8] = {};
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
  LocalApic apic;
};

}  // namespace nestbed
