// Virtual-interrupt delivery on the sim (SDM 29.1-29.2): the processor's
// side of the common algorithms (common/vmx/virtual_interrupts) — the
// virtual-APIC page in physical memory, RVI/SVI in the current VMCS, the
// recognition of a pending virtual interrupt that the run loop delivers
// (Cpu::vmx_events).
#include "arch/vmx/vmx.h"
#include "common/vmx/virtual_interrupts.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim::vmx {

using namespace arch::vmx;
using F = VmcsField;
namespace vi = common::vmx;

namespace {
// The virtual-APIC page at its physical address, for the common code.
struct PhysicalPage {
  Cpu* cpu;
  uint64_t base;
  vi::VirtualApicPage view() {
    return vi::VirtualApicPage{
        [](void* o, unsigned offset) {
          auto* p = static_cast<PhysicalPage*>(o);
          return uint32_t(p->cpu->phys_read(p->base + offset, 4));
        },
        [](void* o, unsigned offset, uint32_t value) {
          auto* p = static_cast<PhysicalPage*>(o);
          p->cpu->phys_write(p->base + offset, 4, value);
        },
        this};
  }
};
}  // namespace

void Vmx::evaluate_pending_virtual_interrupts() {
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  const uint16_t status = uint16_t(current_->get<F::GUEST_INTR_STATUS>());
  virtual_interrupt_recognized_ = vi::evaluate_pending_virtual_interrupts(
      page.view(), status, ctl_.proc & proc_ctl::INTERRUPT_WINDOW_EXITING);
  if (virtual_interrupt_recognized_) cpu_.check_events_soon();
}

void Vmx::virtualize_ppr_and_evaluate() {
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  vi::ppr_virtualization(page.view(), uint16_t(current_->get<F::GUEST_INTR_STATUS>()));
  evaluate_pending_virtual_interrupts();
}

bool Vmx::eoi_virtualization(VmExitRequest& exit) {
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  uint16_t status = uint16_t(current_->get<F::GUEST_INTR_STATUS>());
  const uint8_t vector = vi::eoi_virtualization(page.view(), status);
  current_->set<F::GUEST_INTR_STATUS>(status);
  if (vi::eoi_exit_bitmap_bit(ctl_.eoi_exit_bitmap, vector)) {
    exit = VmExitRequest{uint32_t(ExitReason::VIRTUALIZED_EOI)};
    exit.qualification = qual_eoi::VECTOR.make(vector);
    return true;
  }
  evaluate_pending_virtual_interrupts();
  return false;
}

void Vmx::self_ipi_virtualization(uint8_t vector) {
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  uint16_t status = uint16_t(current_->get<F::GUEST_INTR_STATUS>());
  vi::self_ipi_virtualization(page.view(), status, vector);
  current_->set<F::GUEST_INTR_STATUS>(status);
  evaluate_pending_virtual_interrupts();
}

uint8_t Vmx::deliver_virtual_interrupt() {
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  uint16_t status = uint16_t(current_->get<F::GUEST_INTR_STATUS>());
  const uint8_t vector = vi::deliver_virtual_interrupt(page.view(), status);
  current_->set<F::GUEST_INTR_STATUS>(status);
  virtual_interrupt_recognized_ = false;  // recognition ceases with delivery (29.2.1)
  return vector;
}

void Vmx::process_posted_interrupts() {
  namespace pid = posted_interrupt_desc;
  const uint64_t desc = ctl_.posted_interrupt_desc;
  // One logical processor: nothing else touches the descriptor in between,
  // so the locked AND and the atomic read-and-clear of PIR are plain here.
  cpu_.phys_write(desc + pid::ON_BYTE, 1, cpu_.phys_read(desc + pid::ON_BYTE, 1) & ~uint64_t(pid::ON));
  uint32_t pir[pid::PIR_WORDS];
  for (unsigned w = 0; w < pid::PIR_WORDS; ++w) {
    pir[w] = uint32_t(cpu_.phys_read(desc + 4 * w, 4));
    if (pir[w]) cpu_.phys_write(desc + 4 * w, 4, 0);
  }
  PhysicalPage page{&cpu_, ctl_.virtual_apic};
  uint16_t status = uint16_t(current_->get<F::GUEST_INTR_STATUS>());
  vi::post_interrupts(page.view(), status, pir);
  current_->set<F::GUEST_INTR_STATUS>(status);
  evaluate_pending_virtual_interrupts();
}

}  // namespace nestbed::sim::vmx
