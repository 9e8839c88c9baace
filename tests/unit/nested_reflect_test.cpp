// l1_wants_exit and its pieces (l1-vmm/nested/reflect.{h,cpp}) compiled for
// the host: does vmcs12 ask for an exit of level k+2? Checked against
// SDM 25.1-25.2 (which instructions and events cause VM exits, and which
// controls decide), rule by rule with a case that exits and one that does
// not, over a vmcs12 and a fake guest memory holding level k+1's bitmaps.
// Then one table over EVERY basic exit reason of arch/vmx/exit_reasons.def
// saying what decides it.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "l1-vmm/nested/capabilities.h"
#include "l1-vmm/nested/merge.h"
#include "l1-vmm/nested/reflect.h"
#include "l1-vmm/nested/vmcs12.h"

namespace {

using namespace arch::vmx;
using namespace l1::nested;
using F = VmcsField;
namespace cr0 = arch::cr0;
namespace qc = qual_cr_access;
namespace qi = qual_io;

// Level k+1's memory: RAM below kRamEnd reads as zero unless written;
// anything above is not RAM (GuestBytes::read false).
constexpr uint64_t kRamEnd = 0x100000;
constexpr uint64_t kIoBitmapA = 0x10000, kIoBitmapB = 0x11000, kMsrBitmap = 0x12000;
constexpr uint64_t kOutsideRam = 0x40000000;

struct FakeMemory {
  std::map<uint64_t, uint8_t> bytes;
  std::set<uint64_t> reads;
  void set_bit(uint64_t base, uint64_t bit) { bytes[base + bit / 8] |= uint8_t(1u << (bit % 8)); }
  GuestBytes view() {
    return GuestBytes{this, [](void* ctx, uint64_t gpa, uint8_t& byte) {
                        auto* m = static_cast<FakeMemory*>(ctx);
                        m->reads.insert(gpa);
                        if (gpa >= kRamEnd) return false;
                        auto it = m->bytes.find(gpa);
                        byte = it == m->bytes.end() ? 0 : it->second;
                        return true;
                      }};
  }
};

class NestedReflect : public ::testing::Test {
 protected:
  void SetUp() override {
    c.set(F::IO_BITMAP_A, kIoBitmapA);
    c.set(F::IO_BITMAP_B, kIoBitmapB);
    c.set(F::MSR_BITMAP, kMsrBitmap);
  }
  void proc(uint32_t bits) { c.set(F::CPU_BASED_VM_EXEC_CONTROL, bits); }
  void pin(uint32_t bits) { c.set(F::PIN_BASED_VM_EXEC_CONTROL, bits); }
  void proc2(uint32_t bits) {
    c.set(F::CPU_BASED_VM_EXEC_CONTROL, c.get(F::CPU_BASED_VM_EXEC_CONTROL) | proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
    c.set(F::SECONDARY_VM_EXEC_CONTROL, bits);
  }
  bool io(uint16_t port, unsigned bytes) {
    const uint64_t size = bytes == 1 ? qi::SIZE_1 : bytes == 2 ? qi::SIZE_2 : qi::SIZE_4;
    return l1_wants_io(c, qi::PORT.make(port) | qi::SIZE.make(size), mem.view());
  }
  bool rdmsr(uint32_t index) { return l1_wants_msr(c, index, false, mem.view()); }
  bool wrmsr(uint32_t index) { return l1_wants_msr(c, index, true, mem.view()); }

  Vmcs12 c;
  FakeMemory mem;
};

uint32_t exception(arch::Vector v, uint64_t type = intr_info::TYPE_HARDWARE_EXCEPTION) {
  return make_intr_info(uint8_t(v), type, false);
}
constexpr uint32_t bit(arch::Vector v) { return 1u << uint8_t(v); }

// ---- Exceptions and NMIs (SDM 25.2) -----------------------------------------

TEST_F(NestedReflect, ExceptionExitsIffItsBitmapBitIsSet) {
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::UD));
  EXPECT_TRUE(l1_wants_exception(c, exception(arch::Vector::UD), 0));
  EXPECT_FALSE(l1_wants_exception(c, exception(arch::Vector::GP), 0));
}

TEST_F(NestedReflect, SoftwareExceptionsUseTheBitmapToo) {
  // INT3 (#BP, type 6) and INT1 (#DB, type 5) are exceptions for the bitmap.
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::BP));
  EXPECT_TRUE(l1_wants_exception(c, exception(arch::Vector::BP, intr_info::TYPE_SOFTWARE_EXCEPTION), 0));
  EXPECT_FALSE(
      l1_wants_exception(c, exception(arch::Vector::DB, intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION), 0));
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::DB));
  EXPECT_TRUE(
      l1_wants_exception(c, exception(arch::Vector::DB, intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION), 0));
}

TEST_F(NestedReflect, NmiFollowsNmiExitingNotBitmapBit2) {
  const uint32_t nmi = make_intr_info(2, intr_info::TYPE_NMI, false);
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::NMI));
  EXPECT_FALSE(l1_wants_exception(c, nmi, 0));
  pin(pin_ctl::DEFAULT1 | pin_ctl::NMI_EXITING);
  c.set(F::EXCEPTION_BITMAP, 0);
  EXPECT_TRUE(l1_wants_exception(c, nmi, 0));
}

// #PF: (error code & mask) == match decides together with bit 14: equal ->
// exit iff bit 14 = 1; not equal -> exit iff bit 14 = 0.
TEST_F(NestedReflect, PageFaultBit14SetExitsOnlyWhenErrorCodeMatches) {
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::PF));
  c.set(F::PAGE_FAULT_ERROR_CODE_MASK, 0x3);   // P and W/R
  c.set(F::PAGE_FAULT_ERROR_CODE_MATCH, 0x3);  // present-page writes
  const uint32_t pf = make_intr_info(14, intr_info::TYPE_HARDWARE_EXCEPTION, true);
  EXPECT_TRUE(l1_wants_exception(c, pf, 0x7));   // & 3 == 3
  EXPECT_FALSE(l1_wants_exception(c, pf, 0x2));  // & 3 == 2
}

TEST_F(NestedReflect, PageFaultBit14ClearExitsOnlyWhenErrorCodeDoesNotMatch) {
  c.set(F::EXCEPTION_BITMAP, 0);
  c.set(F::PAGE_FAULT_ERROR_CODE_MASK, 0x3);
  c.set(F::PAGE_FAULT_ERROR_CODE_MATCH, 0x3);
  const uint32_t pf = make_intr_info(14, intr_info::TYPE_HARDWARE_EXCEPTION, true);
  EXPECT_FALSE(l1_wants_exception(c, pf, 0x3));
  EXPECT_TRUE(l1_wants_exception(c, pf, 0x1));
}

TEST_F(NestedReflect, PageFaultWithMaskAndMatchZeroFollowsBit14) {
  const uint32_t pf = make_intr_info(14, intr_info::TYPE_HARDWARE_EXCEPTION, true);
  c.set(F::EXCEPTION_BITMAP, bit(arch::Vector::PF));
  EXPECT_TRUE(l1_wants_exception(c, pf, 0x5));
  c.set(F::EXCEPTION_BITMAP, 0);
  EXPECT_FALSE(l1_wants_exception(c, pf, 0x5));
}

// ---- Control-register accesses (SDM 25.1.3) ---------------------------------

uint64_t mov_to_cr(unsigned cr) { return qc::CR.make(cr) | qc::ACCESS_TYPE.make(qc::MOV_TO_CR); }
uint64_t mov_from_cr(unsigned cr) { return qc::CR.make(cr) | qc::ACCESS_TYPE.make(qc::MOV_FROM_CR); }
uint64_t clts() { return qc::ACCESS_TYPE.make(qc::CLTS); }
uint64_t lmsw(uint16_t src) { return qc::ACCESS_TYPE.make(qc::LMSW) | qc::LMSW_SOURCE.make(src); }

TEST_F(NestedReflect, MovToCr0ExitsWhenAMaskedBitDiffersFromTheShadow) {
  c.set(F::CR0_GUEST_HOST_MASK, cr0::PG | cr0::CD);
  c.set(F::CR0_READ_SHADOW, cr0::PG);
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(0), cr0::PG | cr0::CD | cr0::PE));
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(0), cr0::PE));  // clears masked PG
  // Only unmasked bits differ: no exit.
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(0), cr0::PG | cr0::PE | cr0::WP | cr0::NE));
}

TEST_F(NestedReflect, MovToCr4UsesTheCr4MaskAndShadow) {
  namespace cr4 = arch::cr4;
  c.set(F::CR4_GUEST_HOST_MASK, cr4::VMXE);
  c.set(F::CR4_READ_SHADOW, 0);
  c.set(F::CR0_GUEST_HOST_MASK, ~0ull);  // CR0's mask plays no part
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(4), cr4::VMXE | cr4::PAE));
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(4), cr4::PAE | cr4::PGE));
}

TEST_F(NestedReflect, MovToCr3FollowsCr3LoadExiting) {
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(3), 0x5000));
  proc(proc_ctl::CR3_LOAD_EXITING);
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(3), 0x5000));
}

TEST_F(NestedReflect, MovToCr3OfOneOfTheFirstNTargetsDoesNotExit) {
  proc(proc_ctl::CR3_LOAD_EXITING);
  c.set(F::CR3_TARGET_VALUE0, 0x1000);
  c.set(F::CR3_TARGET_VALUE1, 0x2000);
  c.set(F::CR3_TARGET_VALUE2, 0x3000);
  c.set(F::CR3_TARGET_VALUE3, 0x4000);
  c.set(F::CR3_TARGET_COUNT, 2);
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(3), 0x1000));
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(3), 0x2000));
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(3), 0x3000));  // target 2 is beyond the count
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(3), 0x5000));
  c.set(F::CR3_TARGET_COUNT, 4);
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(3), 0x4000));
  c.set(F::CR3_TARGET_COUNT, 0);
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(3), 0x1000));
}

TEST_F(NestedReflect, MovFromCr3FollowsCr3StoreExiting) {
  proc(proc_ctl::CR3_LOAD_EXITING);
  EXPECT_FALSE(l1_wants_cr_access(c, mov_from_cr(3), 0));
  proc(proc_ctl::CR3_STORE_EXITING);
  EXPECT_TRUE(l1_wants_cr_access(c, mov_from_cr(3), 0));
}

TEST_F(NestedReflect, Cr8LoadAndStoreExitingAreSeparate) {
  proc(proc_ctl::CR8_LOAD_EXITING);
  EXPECT_TRUE(l1_wants_cr_access(c, mov_to_cr(8), 0));
  EXPECT_FALSE(l1_wants_cr_access(c, mov_from_cr(8), 0));
  proc(proc_ctl::CR8_STORE_EXITING);
  EXPECT_FALSE(l1_wants_cr_access(c, mov_to_cr(8), 0));
  EXPECT_TRUE(l1_wants_cr_access(c, mov_from_cr(8), 0));
}

TEST_F(NestedReflect, CltsExitsIffTsIsSetInMaskAndShadow) {
  c.set(F::CR0_GUEST_HOST_MASK, cr0::TS);
  c.set(F::CR0_READ_SHADOW, cr0::TS);
  EXPECT_TRUE(l1_wants_cr_access(c, clts(), 0));
  c.set(F::CR0_READ_SHADOW, 0);
  EXPECT_FALSE(l1_wants_cr_access(c, clts(), 0));
  c.set(F::CR0_GUEST_HOST_MASK, 0);
  c.set(F::CR0_READ_SHADOW, cr0::TS);
  EXPECT_FALSE(l1_wants_cr_access(c, clts(), 0));
}

TEST_F(NestedReflect, LmswExitsWhenAMaskedBitOf3To1Differs) {
  c.set(F::CR0_GUEST_HOST_MASK, cr0::MP | cr0::TS);
  c.set(F::CR0_READ_SHADOW, cr0::MP);
  EXPECT_TRUE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::MP | cr0::TS)), 0));  // TS differs
  EXPECT_FALSE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::MP | cr0::EM)), 0));  // only unmasked EM differs
}

TEST_F(NestedReflect, LmswSettingAMaskedPeThatTheShadowHasClearExits) {
  c.set(F::CR0_GUEST_HOST_MASK, cr0::PE);
  c.set(F::CR0_READ_SHADOW, 0);
  EXPECT_TRUE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::PE)), 0));
  // LMSW cannot clear PE, so a source with PE clear against a shadow with
  // PE set does not exit; nor does setting PE where the shadow has it set.
  c.set(F::CR0_READ_SHADOW, cr0::PE);
  EXPECT_FALSE(l1_wants_cr_access(c, lmsw(0), 0));
  EXPECT_FALSE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::PE)), 0));
  // PE not masked: no exit.
  c.set(F::CR0_GUEST_HOST_MASK, 0);
  c.set(F::CR0_READ_SHADOW, 0);
  EXPECT_FALSE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::PE)), 0));
}

TEST_F(NestedReflect, LmswIgnoresBitsAbove3) {
  c.set(F::CR0_GUEST_HOST_MASK, cr0::ET | cr0::NE);
  c.set(F::CR0_READ_SHADOW, 0);
  EXPECT_FALSE(l1_wants_cr_access(c, lmsw(uint16_t(cr0::ET | cr0::NE)), 0));
}

// ---- I/O instructions (SDM 25.1.3, bitmaps 24.6.4) --------------------------

TEST_F(NestedReflect, WithoutIoBitmapsUnconditionalIoExitingDecides) {
  EXPECT_FALSE(io(0x3f8, 1));
  proc(proc_ctl::UNCONDITIONAL_IO_EXITING);
  EXPECT_TRUE(io(0x3f8, 1));
  EXPECT_TRUE(mem.reads.empty());  // no bitmap is read
}

TEST_F(NestedReflect, WithIoBitmapsUnconditionalIoExitingIsIgnored) {
  proc(proc_ctl::USE_IO_BITMAPS | proc_ctl::UNCONDITIONAL_IO_EXITING);
  EXPECT_FALSE(io(0x3f8, 1));
  mem.set_bit(kIoBitmapA, 0x3f8);
  EXPECT_TRUE(io(0x3f8, 1));
}

TEST_F(NestedReflect, PortsFrom8000hAreInBitmapB) {
  proc(proc_ctl::USE_IO_BITMAPS);
  mem.set_bit(kIoBitmapA, 0);  // port 0, not 0x8000
  EXPECT_FALSE(io(0x8000, 1));
  EXPECT_TRUE(io(0x0000, 1));
  mem.set_bit(kIoBitmapB, 0);
  EXPECT_TRUE(io(0x8000, 1));
  mem.set_bit(kIoBitmapB, 0x7fff);
  EXPECT_TRUE(io(0xffff, 1));
  EXPECT_FALSE(io(0x7fff, 1));
}

TEST_F(NestedReflect, MultiByteAccessExitsIfAnyOfItsPortsBitIsSet) {
  proc(proc_ctl::USE_IO_BITMAPS);
  mem.set_bit(kIoBitmapA, 0x3fb);
  EXPECT_TRUE(io(0x3f8, 4));   // 3f8..3fb
  EXPECT_FALSE(io(0x3f8, 2));  // 3f8..3f9
  EXPECT_FALSE(io(0x3fc, 4));  // 3fc..3ff
  // An access across the A/B boundary reads both bitmaps.
  mem.set_bit(kIoBitmapB, 0);
  EXPECT_TRUE(io(0x7fff, 2));
  EXPECT_FALSE(io(0x7ffe, 2));
}

TEST_F(NestedReflect, AccessWrappingPastFFFFhExits) {
  proc(proc_ctl::USE_IO_BITMAPS);  // all bits clear
  EXPECT_TRUE(io(0xffff, 2));
  EXPECT_TRUE(io(0xfffd, 4));
  EXPECT_FALSE(io(0xffff, 1));
  EXPECT_FALSE(io(0xfffc, 4));
}

TEST_F(NestedReflect, IoBitmapOutsideGuestRamReadsAsExit) {
  proc(proc_ctl::USE_IO_BITMAPS);
  c.set(F::IO_BITMAP_A, kOutsideRam);
  EXPECT_TRUE(io(0x80, 1));
  EXPECT_FALSE(io(0x8080, 1));  // bitmap B is RAM and clear
}

// ---- RDMSR/WRMSR (SDM 25.1.3, bitmap 24.6.9) --------------------------------

TEST_F(NestedReflect, WithoutMsrBitmapsEveryRdmsrAndWrmsrExits) {
  EXPECT_TRUE(rdmsr(arch::msr::IA32_EFER));
  EXPECT_TRUE(wrmsr(0x10));
  proc(proc_ctl::USE_MSR_BITMAPS);
  EXPECT_FALSE(rdmsr(arch::msr::IA32_EFER));
  EXPECT_FALSE(wrmsr(0x10));
}

TEST_F(NestedReflect, LowMsrsUseTheReadAndWriteLowBitmaps) {
  proc(proc_ctl::USE_MSR_BITMAPS);
  mem.set_bit(kMsrBitmap + msr_bitmap::READ_LOW, 0x10);  // TSC, reads
  EXPECT_TRUE(rdmsr(0x10));
  EXPECT_FALSE(wrmsr(0x10));
  EXPECT_FALSE(rdmsr(0x11));
  mem.set_bit(kMsrBitmap + msr_bitmap::WRITE_LOW, 0x1fff);
  EXPECT_TRUE(wrmsr(0x1fff));
  EXPECT_FALSE(rdmsr(0x1fff));
}

TEST_F(NestedReflect, HighMsrsUseTheReadAndWriteHighBitmaps) {
  proc(proc_ctl::USE_MSR_BITMAPS);
  // Bytes 1024 + 0x80/8 = 1040 and 3072 + 16 = 3088, bit 0 (SDM 24.6.9).
  mem.set_bit(kMsrBitmap + 1024, 0x80);
  EXPECT_TRUE(rdmsr(arch::msr::IA32_EFER));
  EXPECT_FALSE(wrmsr(arch::msr::IA32_EFER));
  EXPECT_TRUE(mem.reads.count(kMsrBitmap + 1040));
  mem.set_bit(kMsrBitmap + 3072, 0x80);
  EXPECT_TRUE(wrmsr(arch::msr::IA32_EFER));
  // The low bitmap's bit 0x80 is another MSR.
  EXPECT_FALSE(rdmsr(0x80));
  mem.set_bit(kMsrBitmap + 1024, 0x1fff);
  EXPECT_TRUE(rdmsr(0xc0001fff));
}

TEST_F(NestedReflect, MsrsOutsideBothRangesAlwaysExit) {
  proc(proc_ctl::USE_MSR_BITMAPS);  // all bits clear
  for (uint32_t m : {0x2000u, 0x40000000u, 0xbfffffffu, 0xc0002000u, 0xffffffffu}) {
    EXPECT_TRUE(rdmsr(m)) << std::hex << m;
    EXPECT_TRUE(wrmsr(m)) << std::hex << m;
  }
  EXPECT_FALSE(rdmsr(0x1fff));
  EXPECT_FALSE(rdmsr(0xc0000000));
}

TEST_F(NestedReflect, MsrBitmapOutsideGuestRamReadsAsExit) {
  proc(proc_ctl::USE_MSR_BITMAPS);
  c.set(F::MSR_BITMAP, kOutsideRam);
  EXPECT_TRUE(rdmsr(0x10));
  c.set(F::MSR_BITMAP, kMsrBitmap);
  EXPECT_FALSE(rdmsr(0x10));
}

// ---- Every basic exit reason ----------------------------------------------
//
// What decides each one (SDM 25.1.2 unconditional instructions, 25.1.3
// conditional ones, 25.2 other causes):
//   Pin/Proc/Proc2  one control of vmcs12: the exit is reflected iff it is 1
//                   (a secondary control counts only with "activate
//                   secondary controls", SDM 24.6.2);
//   Special         an exception bitmap, CR masks, I/O or MSR bitmaps
//                   (checked case by case above; here one case each way);
//   Always          unconditional (the instruction or event always exits)
//                   or a VM-entry failure: always reflected;
//   NotOffered      the SDM makes it conditional on a feature l1-vmm never
//                   enables in vmcs02 (`gate`, checked not offered and not
//                   merged), so it cannot happen to level k+2; reflected.
enum class Kind { Pin, Proc, Proc2, Special, Always, NotOffered };

struct Row {
  ExitReason reason;
  Kind kind;
  uint32_t control;  // Pin/Proc/Proc2: the control; NotOffered: the secondary (or, with proc_gate, primary) control
  bool proc_gate = false;
  const char* why = "";
};

constexpr Row kRows[] = {
    {ExitReason::EXCEPTION_NMI, Kind::Special, 0, false, "exception bitmap, #PF mask/match, NMI exiting (25.2)"},
    {ExitReason::EXTERNAL_INTERRUPT, Kind::Pin, pin_ctl::EXTERNAL_INTERRUPT_EXITING},
    {ExitReason::TRIPLE_FAULT, Kind::Always, 0, false, "25.2"},
    {ExitReason::INIT_SIGNAL, Kind::Always, 0, false, "25.2"},
    {ExitReason::SIPI_SIGNAL, Kind::Always, 0, false, "25.2 (wait-for-SIPI state)"},
    {ExitReason::IO_SMI, Kind::Always, 0, false, "SMIs, dual-monitor treatment (34.15)"},
    {ExitReason::OTHER_SMI, Kind::Always, 0, false, "SMIs, dual-monitor treatment (34.15)"},
    {ExitReason::INTERRUPT_WINDOW, Kind::Proc, proc_ctl::INTERRUPT_WINDOW_EXITING},
    {ExitReason::NMI_WINDOW, Kind::Proc, proc_ctl::NMI_WINDOW_EXITING},
    {ExitReason::TASK_SWITCH, Kind::Always, 0, false, "25.2"},
    {ExitReason::CPUID, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::GETSEC, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::HLT, Kind::Proc, proc_ctl::HLT_EXITING},
    {ExitReason::INVD, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::INVLPG, Kind::Proc, proc_ctl::INVLPG_EXITING},
    {ExitReason::RDPMC, Kind::Proc, proc_ctl::RDPMC_EXITING},
    {ExitReason::RDTSC, Kind::Proc, proc_ctl::RDTSC_EXITING},
    {ExitReason::RSM, Kind::Always, 0, false, "25.1.2 (in SMM)"},
    {ExitReason::VMCALL, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMCLEAR, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMLAUNCH, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMPTRLD, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMPTRST, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMREAD, Kind::Always, 0, false, "25.1.2 (no VMCS shadowing offered)"},
    {ExitReason::VMRESUME, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMWRITE, Kind::Always, 0, false, "25.1.2 (no VMCS shadowing offered)"},
    {ExitReason::VMXOFF, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::VMXON, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::CR_ACCESS, Kind::Special, 0, false, "CR masks/shadows, CR3 targets, CR3/CR8 exiting"},
    {ExitReason::DR_ACCESS, Kind::Proc, proc_ctl::MOV_DR_EXITING},
    {ExitReason::IO_INSTRUCTION, Kind::Special, 0, false, "I/O bitmaps or unconditional I/O exiting"},
    {ExitReason::MSR_READ, Kind::Special, 0, false, "MSR bitmaps"},
    {ExitReason::MSR_WRITE, Kind::Special, 0, false, "MSR bitmaps"},
    {ExitReason::INVALID_GUEST_STATE, Kind::Always, 0, false, "VM-entry failure (26.8)"},
    {ExitReason::MSR_LOAD_FAIL, Kind::Always, 0, false, "VM-entry failure (26.8)"},
    {ExitReason::MWAIT, Kind::Proc, proc_ctl::MWAIT_EXITING},
    {ExitReason::MONITOR_TRAP_FLAG, Kind::Proc, proc_ctl::MONITOR_TRAP_FLAG},
    {ExitReason::MONITOR, Kind::Proc, proc_ctl::MONITOR_EXITING},
    {ExitReason::PAUSE, Kind::Proc, proc_ctl::PAUSE_EXITING},
    {ExitReason::MCE_DURING_VMENTRY, Kind::Always, 0, false, "VM-entry failure (26.8)"},
    {ExitReason::TPR_BELOW_THRESHOLD, Kind::Proc, proc_ctl::USE_TPR_SHADOW},
    {ExitReason::APIC_ACCESS, Kind::Proc2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES},
    {ExitReason::VIRTUALIZED_EOI, Kind::Proc2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY},
    {ExitReason::GDTR_IDTR, Kind::Proc2, proc_ctl2::DESCRIPTOR_TABLE_EXITING},
    {ExitReason::LDTR_TR, Kind::Proc2, proc_ctl2::DESCRIPTOR_TABLE_EXITING},
    {ExitReason::EPT_VIOLATION, Kind::Proc2, proc_ctl2::ENABLE_EPT},
    {ExitReason::EPT_MISCONFIG, Kind::Proc2, proc_ctl2::ENABLE_EPT},
    {ExitReason::INVEPT, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::RDTSCP, Kind::Proc, proc_ctl::RDTSC_EXITING},
    {ExitReason::PREEMPTION_TIMER, Kind::Pin, pin_ctl::PREEMPTION_TIMER},
    {ExitReason::INVVPID, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::WBINVD, Kind::Proc2, proc_ctl2::WBINVD_EXITING},
    {ExitReason::XSETBV, Kind::Always, 0, false, "25.1.2"},
    // Either control virtualizes writes that may end in an APIC-write exit.
    {ExitReason::APIC_WRITE, Kind::Proc2,
     proc_ctl2::APIC_REGISTER_VIRTUALIZATION | proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY},
    {ExitReason::RDRAND, Kind::Proc2, proc_ctl2::RDRAND_EXITING},
    {ExitReason::INVPCID, Kind::Proc, proc_ctl::INVLPG_EXITING},  // with "enable INVPCID" (SDM 25.1.3)
    {ExitReason::VMFUNC, Kind::NotOffered, proc_ctl2::ENABLE_VM_FUNCTIONS},
    {ExitReason::ENCLS, Kind::NotOffered, proc_ctl2::ENABLE_ENCLS_EXITING},
    {ExitReason::RDSEED, Kind::Proc2, proc_ctl2::RDSEED_EXITING},
    {ExitReason::PML_FULL, Kind::Proc2, proc_ctl2::ENABLE_PML},
    {ExitReason::XSAVES, Kind::NotOffered, proc_ctl2::ENABLE_XSAVES_XRSTORS},
    {ExitReason::XRSTORS, Kind::NotOffered, proc_ctl2::ENABLE_XSAVES_XRSTORS},
    {ExitReason::PCONFIG, Kind::NotOffered, proc_ctl2::ENABLE_PCONFIG},
    {ExitReason::SPP_EVENT, Kind::NotOffered, proc_ctl2::SUB_PAGE_WRITE_PERMISSIONS},
    {ExitReason::UMWAIT, Kind::NotOffered, proc_ctl2::ENABLE_USER_WAIT_PAUSE},
    {ExitReason::TPAUSE, Kind::NotOffered, proc_ctl2::ENABLE_USER_WAIT_PAUSE},
    {ExitReason::LOADIWKEY, Kind::NotOffered, proc_ctl::ACTIVATE_TERTIARY_CONTROLS, true},
    {ExitReason::ENCLV, Kind::NotOffered, proc_ctl2::ENABLE_ENCLV_EXITING},
    {ExitReason::ENQCMD_PASID_FAIL, Kind::NotOffered, proc_ctl2::PASID_TRANSLATION},
    {ExitReason::ENQCMDS_PASID_FAIL, Kind::NotOffered, proc_ctl2::PASID_TRANSLATION},
    {ExitReason::BUS_LOCK, Kind::NotOffered, proc_ctl2::VMM_BUS_LOCK_DETECTION},
    {ExitReason::INSTRUCTION_TIMEOUT, Kind::NotOffered, proc_ctl2::INSTRUCTION_TIMEOUT},
    {ExitReason::SEAMCALL, Kind::Always, 0, false, "25.1.2"},
    {ExitReason::TDCALL, Kind::Always, 0, false, "25.1.2"},
    // The MSR-list instructions need the tertiary control "enable MSR-list
    // instructions"; the user-MSR and immediate-operand RDMSR/WRMSRNS forms
    // exist only where CPUID reports them (the sim has none) and are then
    // decided by the MSR bitmaps like RDMSR/WRMSR — which l1_wants_exit does
    // not consult for them (see the report of the nested-unit-tests branch).
    {ExitReason::RDMSRLIST, Kind::NotOffered, proc_ctl::ACTIVATE_TERTIARY_CONTROLS, true},
    {ExitReason::WRMSRLIST, Kind::NotOffered, proc_ctl::ACTIVATE_TERTIARY_CONTROLS, true},
    {ExitReason::URDMSR, Kind::NotOffered, proc_ctl::ACTIVATE_TERTIARY_CONTROLS, true},
    {ExitReason::UWRMSR, Kind::NotOffered, proc_ctl::ACTIVATE_TERTIARY_CONTROLS, true},
    {ExitReason::MSR_READ_IMM, Kind::Always, 0, false, "not implemented by the platform (CPUID); SDM: MSR bitmaps"},
    {ExitReason::MSR_WRITE_IMM, Kind::Always, 0, false, "not implemented by the platform (CPUID); SDM: MSR bitmaps"},
};

std::string name(ExitReason r) { return exit_reason_name(r); }
void PrintTo(const Row& r, std::ostream* os) { *os << name(r.reason); }

TEST(NestedReflectTable, CoversEveryBasicExitReasonOnce) {
  std::set<uint16_t> rows;
  for (const Row& r : kRows) EXPECT_TRUE(rows.insert(uint16_t(r.reason)).second) << name(r.reason) << " twice";
  std::set<uint16_t> reasons(std::begin(kExitReasons), std::end(kExitReasons));
  EXPECT_EQ(rows, reasons);
}

class NestedReflectEveryReason : public ::testing::TestWithParam<Row> {
 protected:
  bool wants(uint32_t pin, uint32_t proc, uint32_t proc2, const ExitFacts& e = {}) {
    c.set(F::PIN_BASED_VM_EXEC_CONTROL, pin);
    c.set(F::CPU_BASED_VM_EXEC_CONTROL, proc);
    c.set(F::SECONDARY_VM_EXEC_CONTROL, proc2);
    ExitFacts facts = e;
    facts.basic = uint16_t(GetParam().reason);
    return l1_wants_exit(c, facts, mem.view());
  }
  Vmcs12 c;
  FakeMemory mem;
};

TEST_P(NestedReflectEveryReason, DecidedAsTheTableSays) {
  const Row& r = GetParam();
  const uint32_t all = ~0u, none = 0;
  const uint32_t sec = proc_ctl::ACTIVATE_SECONDARY_CONTROLS;
  switch (r.kind) {
    case Kind::Pin:
      EXPECT_TRUE(wants(r.control, none, none));
      EXPECT_FALSE(wants(none, none, none));
      EXPECT_FALSE(wants(all & ~r.control, all, all));  // no other control decides it
      break;
    case Kind::Proc:
      EXPECT_TRUE(wants(none, r.control, none));
      EXPECT_FALSE(wants(none, none, none));
      EXPECT_FALSE(wants(all, all & ~r.control, all));
      break;
    case Kind::Proc2:
      for (uint32_t bits = r.control; bits; bits &= bits - 1)  // each of the controls alone
        EXPECT_TRUE(wants(none, sec, bits & -bits));
      EXPECT_FALSE(wants(none, sec, none));
      EXPECT_FALSE(wants(all, all, all & ~r.control));
      // Secondary controls count only when activated (SDM 24.6.2).
      EXPECT_FALSE(wants(all, all & ~sec, all));
      break;
    case Kind::Special:
      switch (r.reason) {
        case ExitReason::EXCEPTION_NMI: {
          ExitFacts e;
          e.intr_info = make_intr_info(6, intr_info::TYPE_HARDWARE_EXCEPTION, false);
          c.set(F::EXCEPTION_BITMAP, 1u << 6);
          EXPECT_TRUE(wants(none, none, none, e));
          c.set(F::EXCEPTION_BITMAP, ~(1u << 6));
          EXPECT_FALSE(wants(all, all, all, e));
          break;
        }
        case ExitReason::CR_ACCESS: {
          ExitFacts e;
          e.qualification = mov_to_cr(3);
          EXPECT_TRUE(wants(none, proc_ctl::CR3_LOAD_EXITING, none, e));
          EXPECT_FALSE(wants(all, all & ~proc_ctl::CR3_LOAD_EXITING, all, e));
          break;
        }
        case ExitReason::IO_INSTRUCTION: {
          ExitFacts e;
          e.qualification = qi::PORT.make(0x60);
          EXPECT_TRUE(wants(none, proc_ctl::UNCONDITIONAL_IO_EXITING, none, e));
          EXPECT_FALSE(wants(none, none, none, e));
          break;
        }
        case ExitReason::MSR_READ:
        case ExitReason::MSR_WRITE: {
          ExitFacts e;
          e.msr_index = 0x10;
          EXPECT_TRUE(wants(none, none, none, e));
          EXPECT_FALSE(wants(none, proc_ctl::USE_MSR_BITMAPS, none, e));  // bitmap at 0: RAM, all clear
          break;
        }
        default:
          ADD_FAILURE() << name(r.reason) << ": no Special case";
      }
      break;
    case Kind::Always:
      EXPECT_TRUE(wants(none, none, none)) << r.why;
      EXPECT_TRUE(wants(all, all, all)) << r.why;
      break;
    case Kind::NotOffered: {
      // l1-vmm reflects it whatever vmcs12 says...
      EXPECT_TRUE(wants(none, none, none));
      EXPECT_TRUE(wants(all, all, all));
      // ...because the feature it needs is neither offered to level k+1 nor
      // ever set in vmcs02, so level k+2 never makes this exit happen. (A
      // vmcs12 that passes the VM-entry checks has only offered controls:
      // here every control nested VMX implements, and all of l1-vmm's own.)
      Vmcs12 every;
      every.set(F::PIN_BASED_VM_EXEC_CONTROL, supported::pin(true));
      every.set(F::CPU_BASED_VM_EXEC_CONTROL, supported::proc());
      every.set(F::SECONDARY_VM_EXEC_CONTROL, supported::proc2(true));
      const OwnNeeds own{all, all, 0, 0, ctls_make(0, all), ctls_make(0, all), 0, 0, true, true};
      const Vmcs02Controls m = merge_controls(every, own);
      if (r.proc_gate) {
        EXPECT_FALSE(supported::proc() & r.control);
        EXPECT_FALSE(m.proc & r.control);
      } else {
        EXPECT_FALSE(supported::proc2(true) & r.control);
        EXPECT_FALSE(m.proc2 & r.control);
      }
      break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(NestedAllExitReasons, NestedReflectEveryReason, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) { return name(info.param.reason); });

}  // namespace
