// common/vmx/virtual_interrupts: the operations of virtual-interrupt
// delivery (SDM 29.1.3-29.1.5, 29.2) on a virtual-APIC page in host memory,
// as the sim and l1-vmm run them.
#include "common/vmx/virtual_interrupts.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"

namespace {

using namespace nestbed::common::vmx;
namespace apic = arch::apic;
namespace gis = arch::vmx::guest_intr_status;

class VirtualInterrupts : public ::testing::Test {
 protected:
  uint32_t page_[1024] = {};
  VirtualApicPage page{[](void* o, unsigned offset) { return static_cast<uint32_t*>(o)[offset / 4]; },
                       [](void* o, unsigned offset, uint32_t v) { static_cast<uint32_t*>(o)[offset / 4] = v; }, page_};
  uint32_t& reg(unsigned offset) { return page_[offset / 4]; }
  bool bit(uint32_t base, uint8_t v) { return reg(apic::vector_word(base, v)) & apic::vector_bit(v); }
  void set(uint32_t base, uint8_t v) { reg(apic::vector_word(base, v)) |= apic::vector_bit(v); }
  static uint16_t status(uint8_t rvi, uint8_t svi) { return uint16_t(gis::RVI.make(rvi) | gis::SVI.make(svi)); }
};

TEST_F(VirtualInterrupts, PprVirtualizationTakesTheHigherClassOfVtprAndSvi) {
  reg(apic::PPR) = 0xffffffff;
  reg(apic::TPR) = 0x12345637;
  ppr_virtualization(page, status(0, 0x29));
  EXPECT_EQ(reg(apic::PPR), 0x37u);  // VTPR[7:4] >= SVI[7:4]: VTPR & FFH, bits 31:8 cleared
  ppr_virtualization(page, status(0, 0x3f));
  EXPECT_EQ(reg(apic::PPR), 0x37u);  // equal classes: still VTPR's
  ppr_virtualization(page, status(0, 0x41));
  EXPECT_EQ(reg(apic::PPR), 0x40u);  // SVI & F0H
}

TEST_F(VirtualInterrupts, EvaluationComparesPriorityClasses) {
  reg(apic::PPR) = 0x45;
  EXPECT_FALSE(evaluate_pending_virtual_interrupts(page, status(0x4f, 0), false));  // same class: no
  EXPECT_TRUE(evaluate_pending_virtual_interrupts(page, status(0x50, 0), false));
  EXPECT_FALSE(evaluate_pending_virtual_interrupts(page, status(0x50, 0), true));  // interrupt-window exiting
}

TEST_F(VirtualInterrupts, DeliveryMovesTheVectorFromVirrToVisr) {
  set(apic::IRR0, 0x51);
  set(apic::IRR0, 0x32);
  set(apic::IRR0, 0xe0);  // above RVI: VIRR is not searched before delivery
  uint16_t s = status(0x51, 0x20);
  EXPECT_EQ(deliver_virtual_interrupt(page, s), 0x51);
  EXPECT_TRUE(bit(apic::ISR0, 0x51));
  EXPECT_FALSE(bit(apic::IRR0, 0x51));
  EXPECT_EQ(reg(apic::PPR), 0x50u);
  EXPECT_EQ(s, status(0xe0, 0x51));  // RVI: the highest vector left in VIRR
}

TEST_F(VirtualInterrupts, EoiClearsSviAndFindsTheNextInService) {
  set(apic::ISR0, 0x51);
  set(apic::ISR0, 0x32);
  reg(apic::TPR) = 0x10;
  uint16_t s = status(0x44, 0x51);
  EXPECT_EQ(eoi_virtualization(page, s), 0x51);
  EXPECT_FALSE(bit(apic::ISR0, 0x51));
  EXPECT_EQ(s, status(0x44, 0x32));
  EXPECT_EQ(reg(apic::PPR), 0x30u);
  EXPECT_EQ(eoi_virtualization(page, s), 0x32);
  EXPECT_EQ(s, status(0x44, 0));
  EXPECT_EQ(reg(apic::PPR), 0x10u);
}

TEST_F(VirtualInterrupts, SelfIpiRaisesRviOnlyUpwards) {
  uint16_t s = status(0x61, 0x22);
  self_ipi_virtualization(page, s, 0x41);
  EXPECT_TRUE(bit(apic::IRR0, 0x41));
  EXPECT_EQ(s, status(0x61, 0x22));
  self_ipi_virtualization(page, s, 0xff);
  EXPECT_TRUE(bit(apic::IRR0, 0xff));
  EXPECT_EQ(s, status(0xff, 0x22));
}

TEST_F(VirtualInterrupts, EoiExitBitmapCoversAllVectors) {
  const uint64_t bitmap[4] = {1ull << 0x10, 1ull << (0x7f - 64), 0, 1ull << 63};
  EXPECT_TRUE(eoi_exit_bitmap_bit(bitmap, 0x10));
  EXPECT_TRUE(eoi_exit_bitmap_bit(bitmap, 0x7f));
  EXPECT_TRUE(eoi_exit_bitmap_bit(bitmap, 0xff));
  EXPECT_FALSE(eoi_exit_bitmap_bit(bitmap, 0x11));
  EXPECT_FALSE(eoi_exit_bitmap_bit(bitmap, 0x80));
}

TEST_F(VirtualInterrupts, OnlyAFixedEdgeSelfIpiIsVirtualized) {
  const uint32_t self = apic::SHORTHAND_SELF << apic::ICR_SHORTHAND_SHIFT;
  EXPECT_TRUE(icr_is_virtualized_self_ipi(self | 0x61));
  EXPECT_TRUE(icr_is_virtualized_self_ipi(self | apic::ICR_LEVEL_ASSERT | apic::ICR_DEST_LOGICAL | 0x61));
  EXPECT_FALSE(icr_is_virtualized_self_ipi(0x61));                                              // no shorthand
  EXPECT_FALSE(icr_is_virtualized_self_ipi((apic::SHORTHAND_ALL_INCLUDING_SELF << 18) | 0x61));  // all
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | 0x0f));                                       // vector 7:4 zero
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | apic::ICR_TRIGGER_LEVEL | 0x61));
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | apic::ICR_DELIVERY_STATUS | 0x61));
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | (apic::DELIVERY_NMI << apic::ICR_DELIVERY_MODE_SHIFT) | 0x61));
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | (1u << 13) | 0x61));  // reserved
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | (1u << 16) | 0x61));  // reserved
  EXPECT_FALSE(icr_is_virtualized_self_ipi(self | (1u << 20) | 0x61));  // reserved
}

}  // namespace
