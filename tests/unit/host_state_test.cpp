// Loading host state at a VM exit (common/vmx/host_state.{h,cpp}: the sim's
// own VM exits and l1-vmm's load_vmcs12_host_state use it) against SDM
// 27.5.1 (control registers, debug registers, MSRs), 27.5.2 (segment and
// descriptor-table registers) and 27.5.3 (RIP, RSP, RFLAGS), over a fake
// VMCS store that records which fields were read. Each rule with a case
// that holds and one that does not.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "common/vmx/host_state.h"

namespace {

using namespace arch::vmx;
using namespace nestbed::common::vmx;
using F = VmcsField;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace efer = arch::efer;
namespace ar = arch::seg::ar;

// Access rights in the VMX layout (SDM 24.4.1), written out as numbers.
constexpr uint32_t AR_CODE64 = 0xa09b;  // G, L, P, S, type 11 (execute/read, accessed)
constexpr uint32_t AR_CODE32 = 0xc09b;  // G, D/B, P, S, type 11
constexpr uint32_t AR_DATA = 0xc093;    // G, D/B, P, S, type 3 (read/write, accessed)
constexpr uint32_t AR_TSS_BUSY = 0x008b;  // P, type 11 (busy TSS), S = 0

struct FakeVmcs {
  std::map<uint32_t, uint64_t> fields;
  std::set<uint32_t> reads;
  void set(F f, uint64_t v) { fields[uint32_t(f)] = v; }
  VmcsReader reader() {
    return VmcsReader{this, [](void* ctx, uint32_t enc) {
                        auto* v = static_cast<FakeVmcs*>(ctx);
                        v->reads.insert(enc);
                        auto it = v->fields.find(enc);
                        return it == v->fields.end() ? uint64_t(0) : it->second;
                      }};
  }
  bool read(F f) const { return reads.count(uint32_t(f)) != 0; }
};

// A 64-bit host as l1-vmm's rt::vmx::write_host_state fills it.
class HostState : public ::testing::Test {
 protected:
  void SetUp() override {
    v.set(F::VM_EXIT_CONTROLS, exit_ctl::DEFAULT1 | exit_ctl::HOST_ADDRESS_SPACE_SIZE);
    v.set(F::HOST_CR0, cr0::PE | cr0::NE | cr0::PG | cr0::WP);
    v.set(F::HOST_CR3, 0x1000);
    v.set(F::HOST_CR4, cr4::PAE | cr4::VMXE);
    v.set(F::HOST_CS_SELECTOR, 0x08);
    v.set(F::HOST_SS_SELECTOR, 0x10);
    v.set(F::HOST_DS_SELECTOR, 0x10);
    v.set(F::HOST_ES_SELECTOR, 0x10);
    v.set(F::HOST_FS_SELECTOR, 0);
    v.set(F::HOST_GS_SELECTOR, 0);
    v.set(F::HOST_TR_SELECTOR, 0x18);
    v.set(F::HOST_FS_BASE, 0xffff800000001000ull);
    v.set(F::HOST_GS_BASE, 0xffff800000002000ull);
    v.set(F::HOST_TR_BASE, 0x7000);
    v.set(F::HOST_GDTR_BASE, 0x8000);
    v.set(F::HOST_IDTR_BASE, 0x9000);
    v.set(F::HOST_IA32_SYSENTER_CS, 0x08);
    v.set(F::HOST_IA32_SYSENTER_ESP, 0xffff800000003000ull);
    v.set(F::HOST_IA32_SYSENTER_EIP, 0xffff800000004000ull);
    v.set(F::HOST_IA32_EFER, efer::LMA | efer::LME | efer::SCE);
    v.set(F::HOST_IA32_PAT, 0x0007040600070406ull);
    v.set(F::HOST_RSP, 0x200000);
    v.set(F::HOST_RIP, 0x101000);
  }
  void exit_controls(uint32_t bits) { v.set(F::VM_EXIT_CONTROLS, exit_ctl::DEFAULT1 | bits); }
  HostStateLoad load(uint64_t current_efer = efer::LMA | efer::LME | efer::NXE) {
    return vmx_host_state_load(v.reader(), current_efer, cr0::PE | cr0::ET | cr0::NE | cr0::PG);
  }
  FakeVmcs v;
};

// ---- 27.5.1: control registers, debug registers, MSRs -----------------------------

TEST_F(HostState, Cr0Cr3Cr4ComeFromTheFields) {
  const HostStateLoad h = load();
  EXPECT_EQ(h.cr3, 0x1000u);
  EXPECT_EQ(h.cr4, cr4::PAE | cr4::VMXE);
  EXPECT_EQ(h.cr0 & ~cr0::ET, cr0::PE | cr0::NE | cr0::PG | cr0::WP);
  v.set(F::HOST_CR3, 0x2000);
  EXPECT_EQ(load().cr3, 0x2000u);
}

TEST_F(HostState, Cr0EtIsAlways1) {
  // ET is "not modified" by a VM exit, and is 1 on every processor with VMX.
  EXPECT_TRUE(load().cr0 & cr0::ET);
  v.set(F::HOST_CR0, cr0::PE | cr0::NE | cr0::PG | cr0::ET);
  EXPECT_TRUE(load().cr0 & cr0::ET);
}

// SDM 27.5.1: a VM exit does not modify CR0's ET, CD and NW (nor its
// reserved bits): they keep their values from before the exit (here CD =
// NW = 0), whatever the host CR0 field says. (Found by this test: the
// loader used to take CD and NW from the field.)
TEST_F(HostState, Cr0CdAndNwAreNotLoadedFromTheField) {
  v.set(F::HOST_CR0, cr0::PE | cr0::NE | cr0::PG | cr0::CD | cr0::NW);
  EXPECT_EQ(load().cr0 & (cr0::CD | cr0::NW), 0u);
}

TEST_F(HostState, Dr7Is400hAndDebugctlIsCleared) {
  const HostStateLoad h = load();
  EXPECT_EQ(h.dr7, 0x400u);
  EXPECT_EQ(h.debugctl, 0u);
  // Whatever the exit controls say (there is no host DR7 field).
  exit_controls(exit_ctl::SAVE_DEBUG_CONTROLS | exit_ctl::HOST_ADDRESS_SPACE_SIZE);
  EXPECT_EQ(load().dr7, 0x400u);
}

TEST_F(HostState, SysenterMsrsComeFromTheFields) {
  const HostStateLoad h = load();
  EXPECT_EQ(h.sysenter_cs, 0x08u);
  EXPECT_EQ(h.sysenter_esp, 0xffff800000003000ull);
  EXPECT_EQ(h.sysenter_eip, 0xffff800000004000ull);
}

TEST_F(HostState, PatIsLoadedOnlyWithLoadPat) {
  exit_controls(exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::LOAD_PAT);
  HostStateLoad h = load();
  EXPECT_TRUE(h.load_pat);
  EXPECT_EQ(h.pat, 0x0007040600070406ull);
  v.reads.clear();
  exit_controls(exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::SAVE_PAT);  // saving is not loading
  h = load();
  EXPECT_FALSE(h.load_pat);
  EXPECT_FALSE(v.read(F::HOST_IA32_PAT));  // the field is not even read
}

TEST_F(HostState, EferIsTheFieldsWithLoadEfer) {
  exit_controls(exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::LOAD_EFER);
  EXPECT_EQ(load(efer::LMA | efer::LME | efer::NXE).efer, efer::LMA | efer::LME | efer::SCE);
}

TEST_F(HostState, EferIsKeptWithoutLoadEferButForLmaAndLme) {
  exit_controls(exit_ctl::HOST_ADDRESS_SPACE_SIZE);
  EXPECT_EQ(load(efer::NXE | efer::SCE).efer, efer::NXE | efer::SCE | efer::LMA | efer::LME);
  EXPECT_FALSE(v.read(F::HOST_IA32_EFER));
}

TEST_F(HostState, LmaAndLmeFollowTheHostAddressSpaceSize) {
  exit_controls(0);  // a 32-bit host
  EXPECT_EQ(load(efer::LMA | efer::LME | efer::NXE).efer, efer::NXE);
  EXPECT_FALSE(load().host64);
  exit_controls(exit_ctl::HOST_ADDRESS_SPACE_SIZE);
  EXPECT_EQ(load(efer::NXE).efer, efer::NXE | efer::LMA | efer::LME);
  EXPECT_TRUE(load().host64);
}

// ---- 27.5.2: segment registers ------------------------------------------------------

TEST_F(HostState, CsIsA64BitCodeSegmentForA64BitHost) {
  const HostStateLoad h = load();
  const LoadedSegment& cs = h.seg[arch::seg::CS];
  EXPECT_EQ(cs.selector, 0x08);
  EXPECT_EQ(cs.base, 0u);
  EXPECT_EQ(cs.limit, 0xffffffffu);
  EXPECT_EQ(cs.access_rights, AR_CODE64);  // L = 1, D/B = 0
}

TEST_F(HostState, CsIsA32BitCodeSegmentForA32BitHost) {
  exit_controls(0);
  const LoadedSegment& cs = load().seg[arch::seg::CS];
  EXPECT_EQ(cs.access_rights, AR_CODE32);  // L = 0, D/B = 1
  EXPECT_FALSE(cs.access_rights & ar::L);
}

TEST_F(HostState, NonNullDataSelectorsGiveFlatUsableSegments) {
  const HostStateLoad h = load();
  for (arch::seg::SegReg s : {arch::seg::SS, arch::seg::DS, arch::seg::ES}) {
    EXPECT_EQ(h.seg[s].selector, 0x10) << int(s);
    EXPECT_EQ(h.seg[s].base, 0u) << int(s);
    EXPECT_EQ(h.seg[s].limit, 0xffffffffu) << int(s);
    EXPECT_EQ(h.seg[s].access_rights, AR_DATA) << int(s);  // DPL 0, usable
  }
}

TEST_F(HostState, NullDataSelectorsGiveUnusableSegments) {
  v.set(F::HOST_DS_SELECTOR, 0);
  v.set(F::HOST_SS_SELECTOR, 0);
  const HostStateLoad h = load();
  for (arch::seg::SegReg s : {arch::seg::SS, arch::seg::DS, arch::seg::FS, arch::seg::GS}) {
    EXPECT_EQ(h.seg[s].selector, 0) << int(s);
    EXPECT_TRUE(h.seg[s].access_rights & ar::UNUSABLE) << int(s);
  }
  EXPECT_FALSE(h.seg[arch::seg::ES].access_rights & ar::UNUSABLE);
  // SS's DPL is 0 even when unusable.
  EXPECT_EQ(h.seg[arch::seg::SS].access_rights & ar::DPL_MASK, 0u);
}

TEST_F(HostState, FsAndGsBasesComeFromTheFieldsUsableOrNot) {
  HostStateLoad h = load();  // null FS/GS
  EXPECT_EQ(h.seg[arch::seg::FS].base, 0xffff800000001000ull);
  EXPECT_EQ(h.seg[arch::seg::GS].base, 0xffff800000002000ull);
  v.set(F::HOST_FS_SELECTOR, 0x10);
  v.set(F::HOST_GS_SELECTOR, 0x10);
  h = load();
  EXPECT_EQ(h.seg[arch::seg::FS].base, 0xffff800000001000ull);
  EXPECT_EQ(h.seg[arch::seg::FS].access_rights, AR_DATA);
  EXPECT_EQ(h.seg[arch::seg::GS].limit, 0xffffffffu);
}

TEST_F(HostState, TrIsABusyTssWithLimit67h) {
  const LoadedSegment tr = load().tr;
  EXPECT_EQ(tr.selector, 0x18);
  EXPECT_EQ(tr.base, 0x7000u);
  EXPECT_EQ(tr.limit, 0x67u);
  EXPECT_EQ(tr.access_rights, AR_TSS_BUSY);  // S = 0, G = 0, D/B = 0, usable
  EXPECT_FALSE(tr.access_rights & (ar::S | ar::G | ar::DB | ar::UNUSABLE));
}

TEST_F(HostState, LdtrIsNullAndUnusable) {
  const LoadedSegment ldtr = load().ldtr;
  EXPECT_EQ(ldtr.selector, 0);
  EXPECT_TRUE(ldtr.access_rights & ar::UNUSABLE);
}

TEST_F(HostState, GdtrAndIdtrBasesFromTheFieldsLimitsFfffh) {
  const HostStateLoad h = load();
  EXPECT_EQ(h.gdtr_base, 0x8000u);
  EXPECT_EQ(h.idtr_base, 0x9000u);
  EXPECT_EQ(HOST_DESCRIPTOR_TABLE_LIMIT, 0xffffu);
}

// ---- 27.5.3: RIP, RSP, RFLAGS -------------------------------------------------------

TEST_F(HostState, RipAndRspFromTheFieldsRflagsOnlyBit1) {
  const HostStateLoad h = load();
  EXPECT_EQ(h.rip, 0x101000u);
  EXPECT_EQ(h.rsp, 0x200000u);
  EXPECT_EQ(h.rflags, 0x2u);
  EXPECT_EQ(h.rflags, arch::rflags::FIXED1);
}

}  // namespace
