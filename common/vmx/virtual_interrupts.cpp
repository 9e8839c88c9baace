#include "common/vmx/virtual_interrupts.h"

#include "arch/vmx/exit_qualification.h"
#include "arch/x86/apic.h"

namespace nestbed::common::vmx {

namespace {

namespace apic = arch::apic;
namespace gis = arch::vmx::guest_intr_status;

uint8_t rvi(uint16_t status) { return uint8_t(gis::RVI.get(status)); }
uint8_t svi(uint16_t status) { return uint8_t(gis::SVI.get(status)); }

void set_vector(const VirtualApicPage& page, uint32_t base, uint8_t vector, bool on) {
  const uint32_t word = apic::vector_word(base, vector);
  const uint32_t old = page.read(word);
  page.write(word, on ? old | apic::vector_bit(vector) : old & ~apic::vector_bit(vector));
}

// The highest vector set in VISR or VIRR, 0 when none is.
uint8_t highest_vector(const VirtualApicPage& page, uint32_t base) {
  for (int w = 7; w >= 0; --w) {
    const uint32_t bits = page.read(base + uint32_t(w) * 0x10);
    if (bits) return uint8_t(w * 32 + 31 - __builtin_clz(bits));
  }
  return 0;
}

}  // namespace

void ppr_virtualization(const VirtualApicPage& page, uint16_t status) {
  // VPPR is the 32 bits at A0H: VTPR & FFH when VTPR[7:4] >= SVI[7:4], else
  // SVI & F0H (SDM 29.1.3).
  const uint32_t vtpr = page.read(apic::TPR);
  const uint8_t s = svi(status);
  page.write(apic::PPR, ((vtpr >> 4) & 0xf) >= uint32_t(s >> 4) ? vtpr & 0xff : s & 0xf0u);
}

bool evaluate_pending_virtual_interrupts(const VirtualApicPage& page, uint16_t status, bool interrupt_window_exiting) {
  const uint32_t vppr = page.read(apic::PPR);
  return !interrupt_window_exiting && uint32_t(rvi(status) >> 4) > ((vppr >> 4) & 0xf);
}

uint8_t eoi_virtualization(const VirtualApicPage& page, uint16_t& status) {
  const uint8_t vector = svi(status);
  set_vector(page, apic::ISR0, vector, false);
  status = uint16_t(gis::SVI.set(status, highest_vector(page, apic::ISR0)));
  ppr_virtualization(page, status);
  return vector;
}

void self_ipi_virtualization(const VirtualApicPage& page, uint16_t& status, uint8_t vector) {
  set_vector(page, apic::IRR0, vector, true);
  if (vector > rvi(status)) status = uint16_t(gis::RVI.set(status, vector));
}

uint8_t deliver_virtual_interrupt(const VirtualApicPage& page, uint16_t& status) {
  const uint8_t vector = rvi(status);
  set_vector(page, apic::ISR0, vector, true);
  status = uint16_t(gis::SVI.set(status, vector));
  page.write(apic::PPR, vector & 0xf0u);
  set_vector(page, apic::IRR0, vector, false);
  status = uint16_t(gis::RVI.set(status, highest_vector(page, apic::IRR0)));
  return vector;
}

void post_interrupts(const VirtualApicPage& page, uint16_t& status, const uint32_t pir[8]) {
  for (unsigned w = 0; w < 8; ++w) {
    if (!pir[w]) continue;
    const uint32_t word = apic::IRR0 + w * 0x10;
    page.write(word, page.read(word) | pir[w]);
    const uint8_t highest = uint8_t(w * 32 + 31 - __builtin_clz(pir[w]));
    if (highest > rvi(status)) status = uint16_t(gis::RVI.set(status, highest));
  }
}

}  // namespace nestbed::common::vmx
