// The VM-entry checks (common/vmx/entry_checks.cpp) against Intel SDM vol. 3,
// 26.2 (controls and host state) and 26.3.1 (guest state), on VMCSs built
// in the sim's Vmcs with the sim's capability MSRs.
//
// Valid baselines first: a 64-bit host (CR0 = PE|NE|PG|ET, CR4 = PAE|VMXE,
// EFER = LMA|LME) with a 64-bit guest, and the same host with an
// unrestricted 32-bit protected-mode guest with paging off, the state
// Multiboot starts a kernel in. Then one table row per check: `setup` makes
// the check apply and must still pass, `breaks` changes one thing and must
// fail with the row's EntryFailure kind, qualification and check text (the
// text pins WHICH check fired, not only its class). Rows whose check cannot
// be reached with the sim's capability MSRs widen a copy of the capabilities
// (Env::caps) first. Memory the checks read (VMCS link pointer, PDPTEs) is a
// fake physical memory that answers all-ones outside what a row writes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "common/vmx/entry_check_cache.h"
#include "common/vmx/entry_checks.h"
#include "l0/sim/vmx/capabilities.h"
#include "l0/sim/vmx/vmcs.h"

namespace nestbed::sim::vmx {
namespace {

using namespace nestbed::common::vmx;

using F = VmcsField;
using namespace arch::vmx;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace efer = arch::efer;
namespace rf = arch::rflags;

constexpr EntryFailure CTL = EntryFailure::Control;
constexpr EntryFailure HOST = EntryFailure::HostState;
constexpr EntryFailure GUEST = EntryFailure::GuestState;
constexpr uint64_t kQualPdpte = 2, kQualLink = 4;  // SDM 26.8

// Access rights in the VMX layout (SDM 24.4.1), written out as numbers.
constexpr uint32_t AR_CODE64 = 0xa09b;   // G, L, P, S, type 11
constexpr uint32_t AR_CODE32 = 0xc09b;   // G, D/B, P, S, type 11
constexpr uint32_t AR_DATA32 = 0xc093;   // G, D/B, P, S, type 3
constexpr uint32_t AR_CODE16 = 0x009b;   // P, S, type 11 (real mode)
constexpr uint32_t AR_DATA16 = 0x0093;   // P, S, type 3
constexpr uint32_t AR_V86 = 0x00f3;      // P, DPL 3, S, type 3
constexpr uint32_t AR_TSS_BUSY = 0x008b; // P, type 11
constexpr uint32_t AR_LDT = 0x0082;      // P, type 2
constexpr uint32_t AR_UNUSABLE = 0x10000;
constexpr uint32_t DPL3 = 0x60;

constexpr uint64_t kCurrentVmcs = 0x00900000;
constexpr uint64_t kLinkVmcs = 0x00030000;
constexpr uint64_t kPdpt = 0x00040000;
constexpr uint64_t kNonCanonical = 1ull << 47;
constexpr uint64_t kBeyondPhys = 1ull << 46;  // arch::pte::MAXPHYADDR

struct Env {
  Vmcs vmcs;
  VmxCapabilities caps = sim_vmx_capabilities();
  std::map<uint64_t, uint64_t> mem;  // physical address -> value read there (any size)
  bool cpu_in_ia32e = true;
  uint64_t current_vmcs = kCurrentVmcs;
};

uint64_t read_fake_phys(const Env& e, uint64_t pa, unsigned size) {
  const uint64_t mask = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  auto it = e.mem.find(pa);
  return (it == e.mem.end() ? ~0ull : it->second) & mask;  // all-ones outside "RAM"
}

VmcsView view(const Vmcs& v) { return VmcsView{v.fields()}; }

// A context whose read_phys calls `read` (which must outlive it).
template <class Fn>
EntryCheckContext context(const VmxCapabilities& caps, Fn& read, uint64_t vmxon_pointer = ~0ull,
                          uint64_t current_vmcs_pointer = ~0ull) {
  const ReadPhys call = [](void* fn, uint64_t pa, unsigned size) -> uint64_t {
    return (*static_cast<Fn*>(fn))(pa, size);
  };
  return EntryCheckContext{caps, call, &read, vmxon_pointer, current_vmcs_pointer};
}

EntryCheckResult run(const Env& e) {
  auto read = [&e](uint64_t pa, unsigned size) { return read_fake_phys(e, pa, size); };
  EntryCheckContext ctx = context(e.caps, read, /*vmxon_pointer=*/0x00800000, e.current_vmcs);
  ctx.cpu_in_ia32e_mode = e.cpu_in_ia32e;
  return check_vm_entry(view(e.vmcs), ctx);
}

// ---- Baselines -------------------------------------------------------------

struct Seg {
  F sel, base, limit, ar;
};
constexpr Seg kES{F::GUEST_ES_SELECTOR, F::GUEST_ES_BASE, F::GUEST_ES_LIMIT, F::GUEST_ES_AR_BYTES};
constexpr Seg kCS{F::GUEST_CS_SELECTOR, F::GUEST_CS_BASE, F::GUEST_CS_LIMIT, F::GUEST_CS_AR_BYTES};
constexpr Seg kSS{F::GUEST_SS_SELECTOR, F::GUEST_SS_BASE, F::GUEST_SS_LIMIT, F::GUEST_SS_AR_BYTES};
constexpr Seg kDS{F::GUEST_DS_SELECTOR, F::GUEST_DS_BASE, F::GUEST_DS_LIMIT, F::GUEST_DS_AR_BYTES};
constexpr Seg kFS{F::GUEST_FS_SELECTOR, F::GUEST_FS_BASE, F::GUEST_FS_LIMIT, F::GUEST_FS_AR_BYTES};
constexpr Seg kGS{F::GUEST_GS_SELECTOR, F::GUEST_GS_BASE, F::GUEST_GS_LIMIT, F::GUEST_GS_AR_BYTES};
constexpr Seg kLDTR{F::GUEST_LDTR_SELECTOR, F::GUEST_LDTR_BASE, F::GUEST_LDTR_LIMIT, F::GUEST_LDTR_AR_BYTES};
constexpr Seg kTR{F::GUEST_TR_SELECTOR, F::GUEST_TR_BASE, F::GUEST_TR_LIMIT, F::GUEST_TR_AR_BYTES};
constexpr Seg kSix[] = {kES, kCS, kSS, kDS, kFS, kGS};

void set_seg(Vmcs& v, const Seg& s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar) {
  v.write(s.sel, sel);
  v.write(s.base, base);
  v.write(s.limit, limit);
  v.write(s.ar, ar);
}

// Controls and host state shared by both baselines: a 64-bit host like
// l1-vmm's, external-interrupt/NMI exiting with virtual NMIs, HLT exiting,
// I/O and MSR bitmaps, EPT (4-level, WB) and VPID 1, PAT/EFER loaded both
// ways.
Env common() {
  Env e;
  Vmcs& v = e.vmcs;
  const VmxCapabilities& c = e.caps;
  v.write(F::PIN_BASED_VM_EXEC_CONTROL,
          ctls_adjust(c.pinbased, pin_ctl::EXTERNAL_INTERRUPT_EXITING | pin_ctl::NMI_EXITING | pin_ctl::VIRTUAL_NMIS));
  v.write(F::CPU_BASED_VM_EXEC_CONTROL,
          ctls_adjust(c.procbased, proc_ctl::HLT_EXITING | proc_ctl::USE_IO_BITMAPS | proc_ctl::USE_MSR_BITMAPS |
                                       proc_ctl::ACTIVATE_SECONDARY_CONTROLS));
  v.write(F::SECONDARY_VM_EXEC_CONTROL, ctls_adjust(c.procbased2, proc_ctl2::ENABLE_EPT | proc_ctl2::ENABLE_VPID));
  v.write(F::VM_EXIT_CONTROLS, ctls_adjust(c.exit, exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::ACK_INTERRUPT_ON_EXIT |
                                                       exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT | exit_ctl::SAVE_EFER |
                                                       exit_ctl::LOAD_EFER));
  v.write(F::VM_ENTRY_CONTROLS, ctls_adjust(c.entry, entry_ctl::LOAD_PAT | entry_ctl::LOAD_EFER));
  v.write(F::IO_BITMAP_A, 0x10000);
  v.write(F::IO_BITMAP_B, 0x11000);
  v.write(F::MSR_BITMAP, 0x12000);
  v.write(F::EPT_POINTER, 0x13000 | (3 << 3) | 6);  // 4-level, WB
  v.write(F::VIRTUAL_PROCESSOR_ID, 1);
  v.write(F::CR3_TARGET_COUNT, 0);

  v.write(F::HOST_CR0, cr0::PE | cr0::NE | cr0::PG | cr0::ET);
  v.write(F::HOST_CR3, 0x1000);
  v.write(F::HOST_CR4, cr4::PAE | cr4::VMXE);
  v.write(F::HOST_IA32_EFER, efer::LMA | efer::LME);
  v.write(F::HOST_IA32_PAT, 0x0007040600070406ull);
  v.write(F::HOST_CS_SELECTOR, 0x08);
  for (F f : {F::HOST_SS_SELECTOR, F::HOST_DS_SELECTOR, F::HOST_ES_SELECTOR, F::HOST_FS_SELECTOR, F::HOST_GS_SELECTOR})
    v.write(f, 0x10);
  v.write(F::HOST_TR_SELECTOR, 0x18);
  v.write(F::HOST_FS_BASE, 0);
  v.write(F::HOST_GS_BASE, 0xffff888000000000ull);
  v.write(F::HOST_TR_BASE, 0x2000);
  v.write(F::HOST_GDTR_BASE, 0x3000);
  v.write(F::HOST_IDTR_BASE, 0x4000);
  v.write(F::HOST_IA32_SYSENTER_ESP, 0);
  v.write(F::HOST_IA32_SYSENTER_EIP, 0);
  v.write(F::HOST_RSP, 0x8000);
  v.write(F::HOST_RIP, 0x100000);

  v.write(F::GUEST_DR7, 0x400);
  v.write(F::GUEST_IA32_PAT, 0x0007040600070406ull);
  v.write(F::GUEST_RSP, 0x9000);
  v.write(F::GUEST_RFLAGS, rf::FIXED1);
  v.write(F::GUEST_ACTIVITY_STATE, activity_state::ACTIVE);
  v.write(F::GUEST_INTERRUPTIBILITY_INFO, 0);
  v.write(F::GUEST_PENDING_DBG_EXCEPTIONS, 0);
  v.write(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
  v.write(F::GUEST_LDTR_SELECTOR, 0);
  v.write(F::GUEST_LDTR_AR_BYTES, AR_UNUSABLE);
  v.write(F::GUEST_GDTR_BASE, 0x7000);
  v.write(F::GUEST_GDTR_LIMIT, 0x27);
  v.write(F::GUEST_IDTR_BASE, 0x8000);
  v.write(F::GUEST_IDTR_LIMIT, 0xfff);
  return e;
}

// A 64-bit guest: long mode, flat segments, CPL 0.
Env base64() {
  Env e = common();
  Vmcs& v = e.vmcs;
  v.write(F::VM_ENTRY_CONTROLS, v.read(F::VM_ENTRY_CONTROLS) | entry_ctl::IA32E_MODE_GUEST);
  v.write(F::GUEST_CR0, cr0::PE | cr0::NE | cr0::PG | cr0::ET);
  v.write(F::GUEST_CR3, 0x5000);
  v.write(F::GUEST_CR4, cr4::PAE | cr4::VMXE);
  v.write(F::GUEST_IA32_EFER, efer::LMA | efer::LME);
  set_seg(v, kCS, 0x08, 0, 0xffffffff, AR_CODE64);
  for (const Seg& s : {kSS, kDS, kES, kFS, kGS}) set_seg(v, s, 0x10, 0, 0xffffffff, AR_DATA32);
  set_seg(v, kTR, 0x18, 0x6000, 0x67, AR_TSS_BUSY);
  v.write(F::GUEST_RIP, 0x100000);
  return e;
}

// An unrestricted 32-bit protected-mode guest with paging off (Multiboot:
// CR0.PE = 1, PG = 0, flat 32-bit CS and data segments, IF = 0). CR0.NE and
// CR4.VMXE stay set: only PE and PG are exempt from the fixed bits.
Env base32() {
  Env e = common();
  Vmcs& v = e.vmcs;
  v.write(F::SECONDARY_VM_EXEC_CONTROL, v.read(F::SECONDARY_VM_EXEC_CONTROL) | proc_ctl2::UNRESTRICTED_GUEST);
  v.write(F::GUEST_CR0, cr0::PE | cr0::NE | cr0::ET);
  v.write(F::GUEST_CR3, 0);
  v.write(F::GUEST_CR4, cr4::VMXE);
  v.write(F::GUEST_IA32_EFER, 0);
  set_seg(v, kCS, 0x10, 0, 0xffffffff, AR_CODE32);
  for (const Seg& s : {kSS, kDS, kES, kFS, kGS}) set_seg(v, s, 0x18, 0, 0xffffffff, AR_DATA32);
  set_seg(v, kTR, 0, 0, 0xffff, AR_TSS_BUSY);
  v.write(F::GUEST_RIP, 0x100000);
  return e;
}

// ---- Mutations ---------------------------------------------------------------

using Mut = std::function<void(Env&)>;
const Mut none = [](Env&) {};
Mut W(F f, uint64_t value) {
  return [=](Env& e) { e.vmcs.write(f, value); };
}
Mut Or(F f, uint64_t bits) {
  return [=](Env& e) { e.vmcs.write(f, e.vmcs.read(f) | bits); };
}
Mut Clr(F f, uint64_t bits) {
  return [=](Env& e) { e.vmcs.write(f, e.vmcs.read(f) & ~bits); };
}
Mut All(std::initializer_list<Mut> ms) {
  std::vector<Mut> list(ms);
  return [list](Env& e) {
    for (const Mut& m : list) m(e);
  };
}
Mut Caps(std::function<void(VmxCapabilities&)> f) {
  return [=](Env& e) { f(e.caps); };
}
Mut Mem(uint64_t pa, uint64_t value) {
  return [=](Env& e) { e.mem[pa] = value; };
}
Mut SetDpl(F ar, unsigned dpl) {
  return [=](Env& e) { e.vmcs.write(ar, (e.vmcs.read(ar) & ~uint64_t(DPL3)) | (dpl << 5)); };
}
Mut SetType(F ar, unsigned type) {
  return [=](Env& e) { e.vmcs.write(ar, (e.vmcs.read(ar) & ~0xfull) | type); };
}
Mut Inject(uint64_t type, uint8_t vector, bool error_code = false, uint32_t code = 0, uint32_t length = 0) {
  return All({W(F::VM_ENTRY_INTR_INFO_FIELD,
                intr_info::VALID.mask | intr_info::TYPE.make(type) | intr_info::VECTOR.make(vector) |
                    intr_info::ERROR_CODE_VALID.make(error_code)),
              W(F::VM_ENTRY_EXCEPTION_ERROR_CODE, code), W(F::VM_ENTRY_INSTRUCTION_LEN, length)});
}
Mut Cpu32() {
  return [](Env& e) { e.cpu_in_ia32e = false; };
}
Mut CapAllow1(uint64_t VmxCapabilities::*msr, uint32_t bits) {
  return [=](Env& e) { e.caps.*msr |= uint64_t(bits) << 32; };
}

constexpr uint64_t EXT = intr_info::TYPE_EXTERNAL_INTERRUPT, NMI = intr_info::TYPE_NMI,
                   HW = intr_info::TYPE_HARDWARE_EXCEPTION, SWI = intr_info::TYPE_SOFTWARE_INTERRUPT,
                   PSE = intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION, SWE = intr_info::TYPE_SOFTWARE_EXCEPTION,
                   OTHER = intr_info::TYPE_OTHER_EVENT;

const F PIN = F::PIN_BASED_VM_EXEC_CONTROL, PROC = F::CPU_BASED_VM_EXEC_CONTROL, PROC2 = F::SECONDARY_VM_EXEC_CONTROL,
        EXIT = F::VM_EXIT_CONTROLS, ENTRY = F::VM_ENTRY_CONTROLS, RFLAGS = F::GUEST_RFLAGS,
        INTR = F::GUEST_INTERRUPTIBILITY_INFO, ACT = F::GUEST_ACTIVITY_STATE, PDBG = F::GUEST_PENDING_DBG_EXCEPTIONS;

// A 32-bit host on a CPU outside IA-32e mode (for base32 guests).
const Mut host32 = All({Cpu32(), Clr(EXIT, exit_ctl::HOST_ADDRESS_SPACE_SIZE), W(F::HOST_IA32_EFER, 0)});
// Real mode under unrestricted guest.
const Mut real_mode = [](Env& e) {
  Vmcs& v = e.vmcs;
  v.write(F::GUEST_CR0, cr0::NE | cr0::ET);
  set_seg(v, kCS, 0xf000, 0xf0000, 0xffff, AR_CODE16);
  for (const Seg& s : {kSS, kDS, kES, kFS, kGS}) set_seg(v, s, 0, 0, 0xffff, AR_DATA16);
  v.write(F::GUEST_RIP, 0xfff0);
};
// Virtual-8086 mode (CR0.PE = 1, RFLAGS.VM = 1).
const Mut v86_mode = [](Env& e) {
  Vmcs& v = e.vmcs;
  for (const Seg& s : kSix) set_seg(v, s, 0x1000, 0x10000, 0xffff, AR_V86);
  v.write(F::GUEST_RFLAGS, rf::FIXED1 | rf::VM);
  v.write(F::GUEST_RIP, 0x100);
};
// PAE paging (base32: EPT on, so the PDPTEs come from the VMCS fields).
const Mut pae_paging = All({Or(F::GUEST_CR0, cr0::PG), Or(F::GUEST_CR4, cr4::PAE), W(F::GUEST_CR3, kPdpt),
                            W(F::GUEST_PDPTR0, 0x50001), W(F::GUEST_PDPTR1, 0x51001), W(F::GUEST_PDPTR2, 0),
                            W(F::GUEST_PDPTR3, 0x53000 | 0x1e6 /*not present: reserved bits ignored*/)});
// PAE paging without EPT (so without unrestricted guest): PDPTEs from memory at CR3.
const Mut pae_paging_no_ept =
    All({Clr(PROC2, proc_ctl2::ENABLE_EPT | proc_ctl2::UNRESTRICTED_GUEST), Or(F::GUEST_CR0, cr0::PG),
         Or(F::GUEST_CR4, cr4::PAE), W(F::GUEST_CR3, kPdpt), Mem(kPdpt, 0x50001), Mem(kPdpt + 8, 0x51001 | 0x18),
         Mem(kPdpt + 16, 0), Mem(kPdpt + 24, 0xfff0000000000000ull /*not present*/)});
// A VMCS link pointer to a valid ordinary VMCS.
const Mut link_vmcs = All({W(F::VMCS_LINK_POINTER, kLinkVmcs), Mem(kLinkVmcs, kVmcsRevision)});
// "Use TPR shadow" with VTPR = 0x30 (TPR[7:4] = 3) and TPR threshold 3.
constexpr uint64_t kVirtualApic = 0x16000;
const Mut tpr_shadow = All({Or(PROC, proc_ctl::USE_TPR_SHADOW), W(F::VIRTUAL_APIC_PAGE_ADDR, kVirtualApic),
                            W(F::TPR_THRESHOLD, 3), Mem(kVirtualApic + 0x80, 0x30)});
// "Virtual-interrupt delivery" with the "external-interrupt exiting" it needs.
const Mut virtual_interrupt_delivery =
    All({Or(PIN, pin_ctl::EXTERNAL_INTERRUPT_EXITING), Or(PROC2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY)});
// "Process posted interrupts" with what it needs, vector F2H, a descriptor at 17040H.
const Mut posted_interrupts = All({virtual_interrupt_delivery, Or(PIN, pin_ctl::POSTED_INTERRUPTS),
                                   W(F::POSTED_INTR_NV, 0xf2), W(F::POSTED_INTR_DESC_ADDR, 0x17040)});
const Mut shadowing = All({Or(PROC2, proc_ctl2::VMCS_SHADOWING), W(F::VMREAD_BITMAP, 0x14000), W(F::VMWRITE_BITMAP, 0x15000)});
// CPL 3 in the 64-bit guest.
const Mut cpl3 = All({W(kCS.sel, 0x0b), SetDpl(kCS.ar, 3), W(kSS.sel, 0x13), SetDpl(kSS.ar, 3)});

// ---- The table ----------------------------------------------------------------

struct Case {
  const char* name;
  Env (*base)();
  Mut setup;   // makes the check apply; must still pass
  Mut breaks;  // one change: must fail
  EntryFailure kind;
  const char* check;  // a piece of EntryCheckResult::check
  uint64_t qualification = 0;
};

std::vector<Case> cases() {
  const uint64_t WB = 6, UC = 0;
  const F EPTP = F::EPT_POINTER;
  auto eptp = [](uint64_t type, uint64_t walk_minus_1, uint64_t extra = 0) {
    return W(F::EPT_POINTER, 0x13000 | (walk_minus_1 << 3) | type | extra);
  };
  return {
      // ---- SDM 26.2.1.1: VM-execution controls -> VMfailValid(7) ----
      {"PinReserved", base64, none, Or(PIN, 1u << 31), CTL, "pin-based"},
      {"PinUndefinedBit", base64, none, Or(PIN, 1u << 8), CTL, "pin-based"},
      {"ProcReserved", base64, none, Or(PROC, proc_ctl::ACTIVATE_TERTIARY_CONTROLS), CTL, "primary processor-based"},
      {"ProcDefault1Cleared", base64, none, Clr(PROC, 1u << 1), CTL, "primary processor-based"},
      {"ProcMwaitNotOffered", base64, none, Or(PROC, proc_ctl::MWAIT_EXITING), CTL, "primary processor-based"},
      {"Proc2Reserved", base64, none, Or(PROC2, proc_ctl2::ENABLE_VM_FUNCTIONS), CTL, "secondary processor-based"},
      {"Proc2OnlyCheckedWhenActivated", base64,
       All({Clr(PROC, proc_ctl::ACTIVATE_SECONDARY_CONTROLS), Or(PROC2, proc_ctl2::ENABLE_VM_FUNCTIONS)}),
       Or(PROC, proc_ctl::ACTIVATE_SECONDARY_CONTROLS), CTL, "secondary processor-based"},
      {"Cr3TargetCount", base64, W(F::CR3_TARGET_COUNT, 4), W(F::CR3_TARGET_COUNT, 5), CTL, "CR3-target count"},
      {"IoBitmapAUnaligned", base64, none, W(F::IO_BITMAP_A, 0x10800), CTL, "I/O-bitmap A address bits 11:0"},
      {"IoBitmapABeyondMaxphyaddr", base64, none, W(F::IO_BITMAP_A, kBeyondPhys), CTL, "I/O-bitmap A address sets bits beyond"},
      {"IoBitmapBUnaligned", base64, none, W(F::IO_BITMAP_B, 0x11001), CTL, "I/O-bitmap B address bits 11:0"},
      {"IoBitmapBBeyondMaxphyaddr", base64, none, W(F::IO_BITMAP_B, 1ull << 63), CTL, "I/O-bitmap B address sets bits beyond"},
      {"IoBitmapsIgnoredWhenUnused", base64,
       All({Clr(PROC, proc_ctl::USE_IO_BITMAPS), W(F::IO_BITMAP_A, 0x123), W(F::IO_BITMAP_B, kBeyondPhys)}),
       Or(PROC, proc_ctl::USE_IO_BITMAPS), CTL, "I/O-bitmap A"},
      {"MsrBitmapUnaligned", base64, none, W(F::MSR_BITMAP, 0x12008), CTL, "MSR-bitmap address bits 11:0"},
      {"MsrBitmapBeyondMaxphyaddr", base64, none, W(F::MSR_BITMAP, kBeyondPhys | 0x12000), CTL, "MSR-bitmap address sets bits beyond"},
      {"MsrBitmapIgnoredWhenUnused", base64, All({Clr(PROC, proc_ctl::USE_MSR_BITMAPS), W(F::MSR_BITMAP, 1)}),
       Or(PROC, proc_ctl::USE_MSR_BITMAPS), CTL, "MSR-bitmap"},
      {"VirtualApicUnaligned", base64, tpr_shadow, W(F::VIRTUAL_APIC_PAGE_ADDR, kVirtualApic + 0x80), CTL,
       "virtual-APIC address bits 11:0"},
      {"VirtualApicBeyondMaxphyaddr", base64, tpr_shadow, W(F::VIRTUAL_APIC_PAGE_ADDR, kBeyondPhys | kVirtualApic),
       CTL, "virtual-APIC address sets bits beyond"},
      {"VirtualApicIgnoredWithoutTprShadow", base64,
       All({W(F::VIRTUAL_APIC_PAGE_ADDR, 0x123), W(F::TPR_THRESHOLD, 0xffffffff)}), Or(PROC, proc_ctl::USE_TPR_SHADOW),
       CTL, "virtual-APIC address bits 11:0"},
      {"TprThresholdBits31To4", base64, tpr_shadow, W(F::TPR_THRESHOLD, 0x13), CTL, "TPR threshold bits 31:4"},
      {"TprThresholdAboveVtpr", base64, tpr_shadow, W(F::TPR_THRESHOLD, 4), CTL, "exceed bits 7:4 of VTPR"},
      {"VtprLoweredBelowThreshold", base64, tpr_shadow, Mem(kVirtualApic + 0x80, 0x2f), CTL,
       "exceed bits 7:4 of VTPR"},
      {"ApicAccessUnaligned", base64,
       All({Or(PROC2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES), W(F::APIC_ACCESS_ADDR, 0x18000)}),
       W(F::APIC_ACCESS_ADDR, 0x18080), CTL, "APIC-access address bits 11:0"},
      {"ApicAccessBeyondMaxphyaddr", base64,
       All({Or(PROC2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES), W(F::APIC_ACCESS_ADDR, 0x18000)}),
       W(F::APIC_ACCESS_ADDR, kBeyondPhys | 0x18000), CTL, "APIC-access address sets bits beyond"},
      // With "virtualize APIC accesses" a low VTPR is a VM exit after entry
      // (SDM 26.6.7), not a failed check: clearing the control brings the check back.
      {"VtprCheckedOnlyWithoutApicAccessVirtualization", base64,
       All({tpr_shadow, Or(PROC2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES), W(F::APIC_ACCESS_ADDR, 0x18000),
            W(F::TPR_THRESHOLD, 9)}),
       Clr(PROC2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES), CTL, "exceed bits 7:4 of VTPR"},
      {"X2apicVirtualizationWithoutTprShadow", base64, All({tpr_shadow, Or(PROC2, proc_ctl2::VIRTUALIZE_X2APIC_MODE)}),
       Clr(PROC, proc_ctl::USE_TPR_SHADOW), CTL, "\"virtualize x2APIC mode\" is 1 without \"use TPR shadow\""},
      {"ApicRegisterVirtualizationWithoutTprShadow", base64,
       All({tpr_shadow, Or(PROC2, proc_ctl2::APIC_REGISTER_VIRTUALIZATION)}), Clr(PROC, proc_ctl::USE_TPR_SHADOW), CTL,
       "\"APIC-register virtualization\" is 1 without \"use TPR shadow\""},
      {"X2apicVirtualizationWithApicAccesses", base64, All({tpr_shadow, Or(PROC2, proc_ctl2::VIRTUALIZE_X2APIC_MODE)}),
       All({Or(PROC2, proc_ctl2::VIRTUALIZE_APIC_ACCESSES), W(F::APIC_ACCESS_ADDR, 0x18000)}), CTL,
       "\"virtualize x2APIC mode\" and \"virtualize APIC accesses\" are both 1"},
      {"VirtualInterruptDeliveryWithoutTprShadow", base64, All({tpr_shadow, virtual_interrupt_delivery}),
       Clr(PROC, proc_ctl::USE_TPR_SHADOW), CTL, "\"virtual-interrupt delivery\" is 1 without \"use TPR shadow\""},
      {"VirtualInterruptDeliveryWithoutExternalInterruptExiting", base64,
       All({tpr_shadow, virtual_interrupt_delivery}), Clr(PIN, pin_ctl::EXTERNAL_INTERRUPT_EXITING), CTL,
       "\"virtual-interrupt delivery\" is 1 without \"external-interrupt exiting\""},
      // With virtual-interrupt delivery neither TPR-threshold check applies.
      {"TprThresholdBitsCheckedOnlyWithoutVirtualInterruptDelivery", base64,
       All({tpr_shadow, virtual_interrupt_delivery, W(F::TPR_THRESHOLD, 0x13)}),
       Clr(PROC2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY), CTL, "TPR threshold bits 31:4"},
      {"VtprCheckedOnlyWithoutVirtualInterruptDelivery", base64,
       All({tpr_shadow, virtual_interrupt_delivery, W(F::TPR_THRESHOLD, 9)}),
       Clr(PROC2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY), CTL, "exceed bits 7:4 of VTPR"},
      {"PostedInterruptsWithoutVirtualInterruptDelivery", base64, All({tpr_shadow, posted_interrupts}),
       Clr(PROC2, proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY), CTL,
       "\"process posted interrupts\" is 1 without \"virtual-interrupt delivery\""},
      {"PostedInterruptsWithoutAckOnExit", base64, All({tpr_shadow, posted_interrupts}),
       Clr(EXIT, exit_ctl::ACK_INTERRUPT_ON_EXIT), CTL,
       "\"process posted interrupts\" is 1 without \"acknowledge interrupt on exit\""},
      {"PostedInterruptNotificationVectorAbove255", base64, All({tpr_shadow, posted_interrupts}),
       W(F::POSTED_INTR_NV, 0x1f2), CTL, "notification vector bits 15:8"},
      {"PostedInterruptDescriptorUnaligned", base64, All({tpr_shadow, posted_interrupts}),
       W(F::POSTED_INTR_DESC_ADDR, 0x17020), CTL, "descriptor address bits 5:0"},
      {"PostedInterruptDescriptorBeyondMaxphyaddr", base64, All({tpr_shadow, posted_interrupts}),
       W(F::POSTED_INTR_DESC_ADDR, kBeyondPhys | 0x17040), CTL, "descriptor address sets bits beyond"},
      {"PostedInterruptFieldsIgnoredWithoutTheControl", base64,
       All({tpr_shadow, virtual_interrupt_delivery, W(F::POSTED_INTR_NV, 0x1f2), W(F::POSTED_INTR_DESC_ADDR, 1)}),
       Or(PIN, pin_ctl::POSTED_INTERRUPTS), CTL, "notification vector bits 15:8"},
      {"VirtualNmisWithoutNmiExiting", base64, none, Clr(PIN, pin_ctl::NMI_EXITING), CTL, "\"virtual NMIs\" is 1 without"},
      {"NmiWindowWithoutVirtualNmis", base64, Clr(PIN, pin_ctl::VIRTUAL_NMIS), Or(PROC, proc_ctl::NMI_WINDOW_EXITING), CTL,
       "\"NMI-window exiting\" is 1 without"},
      {"NmiWindowNeedsVirtualNmisKept", base64, Or(PROC, proc_ctl::NMI_WINDOW_EXITING), Clr(PIN, pin_ctl::VIRTUAL_NMIS),
       CTL, "\"NMI-window exiting\" is 1 without"},
      {"VpidZero", base64, W(F::VIRTUAL_PROCESSOR_ID, 0xffff), W(F::VIRTUAL_PROCESSOR_ID, 0), CTL, "VPID is 0000H"},
      {"VpidZeroWithoutEnableVpid", base64, All({Clr(PROC2, proc_ctl2::ENABLE_VPID), W(F::VIRTUAL_PROCESSOR_ID, 0)}),
       Or(PROC2, proc_ctl2::ENABLE_VPID), CTL, "VPID is 0000H"},
      {"EptpMemoryTypeWc", base64, eptp(UC, 3), eptp(1, 3), CTL, "EPTP memory type"},
      {"EptpMemoryType7", base64, eptp(WB, 3), eptp(7, 3), CTL, "EPTP memory type"},
      {"EptpMemoryTypeUcNotOffered", base64,
       Caps([](VmxCapabilities& c) { c.ept_vpid_cap &= ~vmx_ept_vpid_cap::MEMTYPE_UC.mask; }), eptp(UC, 3), CTL,
       "EPTP memory type"},
      {"EptpWalkLength5NotOffered", base64, none, eptp(WB, 4), CTL, "EPTP page-walk length"},
      {"EptpWalkLength3", base64, none, eptp(WB, 2), CTL, "EPTP page-walk length"},
      {"EptpAccessedDirtyNotOffered", base64, eptp(WB, 3, 1u << 6),
       Caps([](VmxCapabilities& c) { c.ept_vpid_cap &= ~vmx_ept_vpid_cap::ACCESSED_DIRTY.mask; }), CTL,
       "EPTP enables accessed/dirty"},
      {"EptpBit7", base64, none, eptp(WB, 3, 1u << 7), CTL, "EPTP reserved bit 7"},
      {"EptpBit11", base64, eptp(WB, 3, 1u << 6), eptp(WB, 3, 1u << 11), CTL, "EPTP reserved bits 11:8"},
      {"EptpBeyondMaxphyaddr", base64, none, eptp(WB, 3, kBeyondPhys), CTL, "EPTP reserved bits 11:8 or 63:MAXPHYADDR"},
      {"EptpBit63", base64, none, eptp(WB, 3, 1ull << 63), CTL, "EPTP reserved bits"},
      {"EptpIgnoredWithoutEpt", base64, All({Clr(PROC2, proc_ctl2::ENABLE_EPT), W(EPTP, 0xfff)}),
       Or(PROC2, proc_ctl2::ENABLE_EPT), CTL, "EPTP"},
      {"PmlWithoutEpt", base64, All({Or(PROC2, proc_ctl2::ENABLE_PML), W(F::PML_ADDRESS, 0x17000)}),
       Clr(PROC2, proc_ctl2::ENABLE_EPT | proc_ctl2::UNRESTRICTED_GUEST), CTL, "\"enable PML\" is 1 without \"enable EPT\""},
      {"PmlAddressUnaligned", base64, All({Or(PROC2, proc_ctl2::ENABLE_PML), W(F::PML_ADDRESS, 0x17000)}),
       W(F::PML_ADDRESS, 0x17008), CTL, "PML address bits 11:0"},
      {"PmlAddressBeyondMaxphyaddr", base64, All({Or(PROC2, proc_ctl2::ENABLE_PML), W(F::PML_ADDRESS, 0x17000)}),
       W(F::PML_ADDRESS, kBeyondPhys | 0x17000), CTL, "PML address sets bits beyond"},
      {"PmlAddressIgnoredWithoutPml", base64, W(F::PML_ADDRESS, 0x17008), Or(PROC2, proc_ctl2::ENABLE_PML), CTL,
       "PML address bits 11:0"},
      {"UnrestrictedGuestWithoutEpt", base32, none, Clr(PROC2, proc_ctl2::ENABLE_EPT), CTL,
       "\"unrestricted guest\" is 1 without \"enable EPT\""},
      {"VmreadBitmapUnaligned", base64, shadowing, W(F::VMREAD_BITMAP, 0x14010), CTL, "VMREAD-bitmap address bits 11:0"},
      {"VmreadBitmapBeyondMaxphyaddr", base64, shadowing, W(F::VMREAD_BITMAP, kBeyondPhys), CTL, "VMREAD-bitmap address sets"},
      {"VmwriteBitmapUnaligned", base64, shadowing, W(F::VMWRITE_BITMAP, 0x15fff), CTL, "VMWRITE-bitmap address bits 11:0"},
      {"VmwriteBitmapBeyondMaxphyaddr", base64, shadowing, W(F::VMWRITE_BITMAP, 1ull << 52), CTL, "VMWRITE-bitmap address sets"},

      // ---- SDM 26.2.1.2: VM-exit controls -> VMfailValid(7) ----
      {"ExitReserved", base64, none, Or(EXIT, exit_ctl::LOAD_PERF_GLOBAL_CTRL), CTL, "VM-exit controls"},
      {"ExitDefault1Cleared", base64, none, Clr(EXIT, 1u << 0), CTL, "VM-exit controls"},
      {"SavePreemptionTimerWithoutTimer", base64,
       All({Or(PIN, pin_ctl::PREEMPTION_TIMER), Or(EXIT, exit_ctl::SAVE_PREEMPTION_TIMER)}),
       Clr(PIN, pin_ctl::PREEMPTION_TIMER), CTL, "\"save VMX-preemption timer value\""},
      {"ExitMsrStoreUnaligned", base64,
       All({W(F::VM_EXIT_MSR_STORE_COUNT, 2), W(F::VM_EXIT_MSR_STORE_ADDR, 0x20000)}),
       W(F::VM_EXIT_MSR_STORE_ADDR, 0x20008), CTL, "VM-exit MSR-store area: address bits 3:0"},
      {"ExitMsrStoreBeyondMaxphyaddr", base64, W(F::VM_EXIT_MSR_STORE_COUNT, 1),
       W(F::VM_EXIT_MSR_STORE_ADDR, kBeyondPhys), CTL, "VM-exit MSR-store area: address sets"},
      {"ExitMsrStoreLastByteBeyond", base64,
       All({W(F::VM_EXIT_MSR_STORE_COUNT, 2), W(F::VM_EXIT_MSR_STORE_ADDR, kBeyondPhys - 32)}),
       W(F::VM_EXIT_MSR_STORE_ADDR, kBeyondPhys - 16), CTL, "VM-exit MSR-store area: last byte"},
      {"ExitMsrStoreIgnoredWithCount0", base64, W(F::VM_EXIT_MSR_STORE_ADDR, 0x7),
       W(F::VM_EXIT_MSR_STORE_COUNT, 1), CTL, "VM-exit MSR-store area"},
      {"ExitMsrLoadUnaligned", base64, All({W(F::VM_EXIT_MSR_LOAD_COUNT, 3), W(F::VM_EXIT_MSR_LOAD_ADDR, 0x21000)}),
       W(F::VM_EXIT_MSR_LOAD_ADDR, 0x21004), CTL, "VM-exit MSR-load area: address bits 3:0"},
      {"ExitMsrLoadBeyondMaxphyaddr", base64, W(F::VM_EXIT_MSR_LOAD_COUNT, 1), W(F::VM_EXIT_MSR_LOAD_ADDR, 1ull << 50),
       CTL, "VM-exit MSR-load area: address sets"},
      {"ExitMsrLoadLastByteBeyond", base64,
       All({W(F::VM_EXIT_MSR_LOAD_COUNT, 1), W(F::VM_EXIT_MSR_LOAD_ADDR, kBeyondPhys - 16)}),
       W(F::VM_EXIT_MSR_LOAD_COUNT, 2), CTL, "VM-exit MSR-load area: last byte"},

      // ---- SDM 26.2.1.3: VM-entry controls -> VMfailValid(7) ----
      {"EntryReserved", base64, none, Or(ENTRY, entry_ctl::LOAD_CET_STATE), CTL, "VM-entry controls"},
      {"EntryDefault1Cleared", base64, none, Clr(ENTRY, 1u << 4), CTL, "VM-entry controls"},
      {"EntryToSmmNotOffered", base64, none, Or(ENTRY, entry_ctl::ENTRY_TO_SMM), CTL, "reserved bits in the VM-entry controls"},
      {"EntryToSmmOutsideSmm", base64, CapAllow1(&VmxCapabilities::entry, entry_ctl::ENTRY_TO_SMM),
       Or(ENTRY, entry_ctl::ENTRY_TO_SMM), CTL, "\"entry to SMM\" is 1 outside SMM"},
      {"DeactivateDualMonitorOutsideSmm", base64,
       CapAllow1(&VmxCapabilities::entry, entry_ctl::DEACTIVATE_DUAL_MONITOR), Or(ENTRY, entry_ctl::DEACTIVATE_DUAL_MONITOR),
       CTL, "\"deactivate dual-monitor treatment\" is 1 outside SMM"},
      {"InjectType1", base64, none, W(F::VM_ENTRY_INTR_INFO_FIELD, intr_info::VALID.mask | intr_info::TYPE.make(1)), CTL,
       "interruption type 1 is reserved"},
      {"InjectType7WithoutMtfSupport", base64, Inject(OTHER, 0),
       Caps([](VmxCapabilities& c) { c.procbased &= ~(uint64_t(proc_ctl::MONITOR_TRAP_FLAG) << 32); }), CTL,
       "interruption type 7 needs"},
      {"InjectNmiVector3", base64, Inject(NMI, 2), Inject(NMI, 3), CTL, "NMI with a vector other than 2"},
      {"InjectHardwareExceptionVector32", base64, Inject(HW, 31), Inject(HW, 32), CTL, "vector above 31"},
      {"InjectOtherEventVector1", base64, Inject(OTHER, 0), Inject(OTHER, 1), CTL, "other event with a vector other than 0"},
      {"InjectGpWithoutErrorCode", base64, Inject(HW, 13, true, 0x10), Inject(HW, 13, false), CTL, "deliver-error-code"},
      {"InjectPfWithoutErrorCode", base64, Inject(HW, 14, true, 0x2), Inject(HW, 14, false), CTL, "deliver-error-code"},
      {"InjectCpWithoutErrorCode", base64, Inject(HW, 21, true, 1), Inject(HW, 21, false), CTL, "deliver-error-code"},
      {"InjectUdWithErrorCode", base64, Inject(HW, 6), Inject(HW, 6, true), CTL, "deliver-error-code"},
      {"InjectErrorCodeInRealMode", base32, All({real_mode, Inject(HW, 13, false)}), Inject(HW, 13, true), CTL,
       "deliver-error-code"},
      {"InjectSoftwareInterruptWithErrorCode", base64, Inject(SWI, 0x80, false, 0, 2), Inject(SWI, 0x80, true, 0, 2), CTL,
       "deliver-error-code"},
      {"InjectErrorCodeAnyVectorWithBasic56", base64,
       All({Caps([](VmxCapabilities& c) { c.basic |= vmx_basic::NO_HW_ERROR_CODE_CHECK.mask; }), Inject(HW, 6, true)}),
       Caps([](VmxCapabilities& c) { c.basic &= ~vmx_basic::NO_HW_ERROR_CODE_CHECK.mask; }), CTL, "deliver-error-code"},
      {"InjectReservedBit12", base64, Inject(HW, 6),
       W(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(6, HW, false) | (1u << 12)), CTL, "reserved bits 30:12"},
      {"InjectReservedBit30", base64, All({Or(RFLAGS, rf::IF), Inject(EXT, 0x20)}),
       W(F::VM_ENTRY_INTR_INFO_FIELD, make_intr_info(0x20, EXT, false) | (1u << 30)), CTL, "reserved bits 30:12"},
      {"InjectErrorCodeBit16", base64, Inject(HW, 13, true, 0xffff), Inject(HW, 13, true, 0x10000), CTL,
       "error code bits 31:16"},
      {"InjectSoftwareInterruptLength16", base64, Inject(SWI, 0x80, false, 0, 15), Inject(SWI, 0x80, false, 0, 16), CTL,
       "instruction length above 15"},
      {"InjectSoftwareInterruptLength0", base64, Inject(SWI, 0x80, false, 0, 1), Inject(SWI, 0x80, false, 0, 0), CTL,
       "instruction length 0"},
      {"InjectSoftwareExceptionLength0", base64, Inject(SWE, 3, false, 0, 1), Inject(SWE, 3, false, 0, 0), CTL,
       "instruction length 0"},
      {"InjectPrivilegedSoftwareExceptionLength0", base64, Inject(PSE, 1, false, 0, 1), Inject(PSE, 1, false, 0, 0), CTL,
       "instruction length 0"},
      {"InjectLengthIgnoredForHardwareException", base64, Inject(HW, 6, false, 0, 0), Inject(SWE, 6, false, 0, 0), CTL,
       "instruction length 0"},
      {"EntryMsrLoadUnaligned", base64, All({W(F::VM_ENTRY_MSR_LOAD_COUNT, 1), W(F::VM_ENTRY_MSR_LOAD_ADDR, 0x22000)}),
       W(F::VM_ENTRY_MSR_LOAD_ADDR, 0x22001), CTL, "VM-entry MSR-load area: address bits 3:0"},
      {"EntryMsrLoadBeyondMaxphyaddr", base64, W(F::VM_ENTRY_MSR_LOAD_COUNT, 1), W(F::VM_ENTRY_MSR_LOAD_ADDR, kBeyondPhys),
       CTL, "VM-entry MSR-load area: address sets"},
      {"EntryMsrLoadLastByteBeyond", base64,
       All({W(F::VM_ENTRY_MSR_LOAD_COUNT, 0x10), W(F::VM_ENTRY_MSR_LOAD_ADDR, kBeyondPhys - 0x100)}),
       W(F::VM_ENTRY_MSR_LOAD_COUNT, 0x11), CTL, "VM-entry MSR-load area: last byte"},

      // ---- SDM 26.2.2: host control registers and MSRs -> VMfailValid(8) ----
      {"HostCr0NeClear", base64, none, Clr(F::HOST_CR0, cr0::NE), HOST, "host CR0"},
      {"HostCr0PgClear", base64, none, Clr(F::HOST_CR0, cr0::PG), HOST, "host CR0"},
      {"HostCr0Bit32", base64, none, Or(F::HOST_CR0, 1ull << 32), HOST, "host CR0"},
      {"HostCr4VmxeClear", base64, none, Clr(F::HOST_CR4, cr4::VMXE), HOST, "host CR4"},
      {"HostCr4La57NotOffered", base64, none, Or(F::HOST_CR4, cr4::LA57), HOST, "host CR4"},
      {"HostCr3BeyondMaxphyaddr", base64, W(F::HOST_CR3, 0x1018 /*PWT|PCD*/), W(F::HOST_CR3, kBeyondPhys | 0x1000),
       HOST, "host CR3"},
      {"HostSysenterEspNonCanonical", base64, W(F::HOST_IA32_SYSENTER_ESP, 0xffff800000000000ull),
       W(F::HOST_IA32_SYSENTER_ESP, kNonCanonical), HOST, "host IA32_SYSENTER_ESP"},
      {"HostSysenterEipNonCanonical", base64, W(F::HOST_IA32_SYSENTER_EIP, 0x00007fffffffffffull),
       W(F::HOST_IA32_SYSENTER_EIP, 0xfff0000000000000ull), HOST, "host IA32_SYSENTER_EIP"},
      {"HostPatType2", base64, none, W(F::HOST_IA32_PAT, 0x0007040600070402ull), HOST, "host IA32_PAT"},
      {"HostPatType8", base64, none, W(F::HOST_IA32_PAT, 0x0807040600070406ull), HOST, "host IA32_PAT"},
      {"HostPatIgnoredWithoutLoadPat", base64, All({Clr(EXIT, exit_ctl::LOAD_PAT), W(F::HOST_IA32_PAT, ~0ull)}),
       Or(EXIT, exit_ctl::LOAD_PAT), HOST, "host IA32_PAT"},
      {"HostEferReserved", base64, Or(F::HOST_IA32_EFER, efer::SCE | efer::NXE), Or(F::HOST_IA32_EFER, 1ull << 1), HOST,
       "host IA32_EFER reserved"},
      {"HostEferLmaClear", base64, none, Clr(F::HOST_IA32_EFER, efer::LMA), HOST, "host IA32_EFER.LMA"},
      {"HostEferLmeClear", base64, none, Clr(F::HOST_IA32_EFER, efer::LME), HOST, "host IA32_EFER.LME"},
      {"HostEferIgnoredWithoutLoadEfer", base64, All({Clr(EXIT, exit_ctl::LOAD_EFER), W(F::HOST_IA32_EFER, 0)}),
       Or(EXIT, exit_ctl::LOAD_EFER), HOST, "host IA32_EFER"},
      // ---- SDM 26.2.3: host segment and descriptor-table registers ----
      {"HostCsRpl", base64, none, W(F::HOST_CS_SELECTOR, 0x0b), HOST, "host CS selector RPL or TI"},
      {"HostSsTi", base64, none, W(F::HOST_SS_SELECTOR, 0x14), HOST, "host SS selector RPL or TI"},
      {"HostDsRpl", base64, none, W(F::HOST_DS_SELECTOR, 0x11), HOST, "host DS selector RPL or TI"},
      {"HostEsTi", base64, none, W(F::HOST_ES_SELECTOR, 0x04), HOST, "host ES selector RPL or TI"},
      {"HostFsRpl", base64, none, W(F::HOST_FS_SELECTOR, 0x03), HOST, "host FS selector RPL or TI"},
      {"HostGsRpl", base64, none, W(F::HOST_GS_SELECTOR, 0x12), HOST, "host GS selector RPL or TI"},
      {"HostTrTi", base64, none, W(F::HOST_TR_SELECTOR, 0x1c), HOST, "host TR selector RPL or TI"},
      {"HostCsNull", base64, none, W(F::HOST_CS_SELECTOR, 0), HOST, "host CS selector is 0000H"},
      {"HostTrNull", base64, none, W(F::HOST_TR_SELECTOR, 0), HOST, "host TR selector is 0000H"},
      {"HostSsNullWith32BitHost", base32, All({host32, W(F::HOST_SS_SELECTOR, 0x10)}), W(F::HOST_SS_SELECTOR, 0), HOST,
       "host SS selector is 0000H"},
      {"HostSsNullAllowedWith64BitHost", base64, W(F::HOST_SS_SELECTOR, 0),
       All({Clr(EXIT, exit_ctl::HOST_ADDRESS_SPACE_SIZE), W(F::HOST_IA32_EFER, 0)}), HOST, "host SS selector is 0000H"},
      {"HostFsBaseNonCanonical", base64, W(F::HOST_FS_BASE, 0xffffffffffff0000ull), W(F::HOST_FS_BASE, kNonCanonical), HOST,
       "host FS base"},
      {"HostGsBaseNonCanonical", base64, none, W(F::HOST_GS_BASE, 0x8000000000000000ull), HOST, "host GS base"},
      {"HostGdtrBaseNonCanonical", base64, none, W(F::HOST_GDTR_BASE, kNonCanonical), HOST, "host GDTR base"},
      {"HostIdtrBaseNonCanonical", base64, none, W(F::HOST_IDTR_BASE, 0x0001000000000000ull), HOST, "host IDTR base"},
      {"HostTrBaseNonCanonical", base64, none, W(F::HOST_TR_BASE, kNonCanonical), HOST, "host TR base"},
      // ---- SDM 26.2.4: address-space size ----
      {"Ia32eGuestOnCpuOutsideIa32e", base32, host32, Or(ENTRY, entry_ctl::IA32E_MODE_GUEST), HOST,
       "\"IA-32e mode guest\" is 1 while the CPU is outside IA-32e mode"},
      {"HostAddressSpaceSize1OnCpuOutsideIa32e", base32, host32,
       All({Or(EXIT, exit_ctl::HOST_ADDRESS_SPACE_SIZE), W(F::HOST_IA32_EFER, efer::LMA | efer::LME)}), HOST,
       "\"host address-space size\" is 1 while the CPU is outside IA-32e mode"},
      {"HostAddressSpaceSize0OnCpuInIa32e", base32, none,
       All({Clr(EXIT, exit_ctl::HOST_ADDRESS_SPACE_SIZE), W(F::HOST_IA32_EFER, 0)}), HOST,
       "\"host address-space size\" is 0 while the CPU is in IA-32e mode"},
      {"HostPcideWith32BitHost", base32,
       All({host32, Caps([](VmxCapabilities& c) { c.cr4_fixed1 |= cr4::PCIDE; })}), Or(F::HOST_CR4, cr4::PCIDE), HOST,
       "host CR4.PCIDE"},
      {"HostRipHighWith32BitHost", base32, All({host32, W(F::HOST_RIP, 0xfffff000)}), W(F::HOST_RIP, 1ull << 32), HOST,
       "host RIP bits 63:32"},
      {"HostPaeClearWith64BitHost", base64, none, Clr(F::HOST_CR4, cr4::PAE), HOST, "host CR4.PAE"},
      {"HostRipNonCanonical", base64, W(F::HOST_RIP, 0xffffffff81000000ull), W(F::HOST_RIP, kNonCanonical), HOST,
       "host RIP is not canonical"},

      // ---- SDM 26.3.1.1: guest control registers, debug registers, MSRs -> exit 33 ----
      {"GuestCr0NeClear", base64, none, Clr(F::GUEST_CR0, cr0::NE), GUEST, "guest CR0 has a bit fixed"},
      {"GuestCr0PgClearRestricted", base64, none, Clr(F::GUEST_CR0, cr0::PG), GUEST, "guest CR0 has a bit fixed"},
      {"GuestCr0PeClearRestricted", base64, none, Clr(F::GUEST_CR0, cr0::PE), GUEST, "guest CR0 has a bit fixed"},
      {"GuestCr0Bit63", base64, none, Or(F::GUEST_CR0, 1ull << 63), GUEST, "guest CR0 has a bit fixed"},
      {"GuestCr0NeClearUnrestricted", base32, real_mode, Clr(F::GUEST_CR0, cr0::NE), GUEST, "guest CR0 has a bit fixed"},
      {"GuestCr0PgWithoutPe", base32, real_mode, Or(F::GUEST_CR0, cr0::PG), GUEST, "guest CR0.PG is 1 with CR0.PE 0"},
      {"GuestCr4VmxeClear", base64, none, Clr(F::GUEST_CR4, cr4::VMXE), GUEST, "guest CR4"},
      {"GuestCr4SmepNotOffered", base64, none, Or(F::GUEST_CR4, cr4::SMEP), GUEST, "guest CR4"},
      {"GuestDebugctlReserved", base64, All({Or(ENTRY, entry_ctl::LOAD_DEBUG_CONTROLS), W(F::GUEST_IA32_DEBUGCTL, 0)}),
       W(F::GUEST_IA32_DEBUGCTL, 1), GUEST, "guest IA32_DEBUGCTL"},
      {"GuestDebugctlIgnoredWithoutLoadDebugControls", base64, W(F::GUEST_IA32_DEBUGCTL, 2),
       Or(ENTRY, entry_ctl::LOAD_DEBUG_CONTROLS), GUEST, "guest IA32_DEBUGCTL"},
      {"Ia32eGuestWithPagingOff", base64, Or(PROC2, proc_ctl2::UNRESTRICTED_GUEST), Clr(F::GUEST_CR0, cr0::PG), GUEST,
       "guest CR0.PG is 0 with \"IA-32e mode guest\""},
      {"Ia32eGuestWithoutPae", base64, none, Clr(F::GUEST_CR4, cr4::PAE), GUEST,
       "guest CR4.PAE is 0 with \"IA-32e mode guest\""},
      {"PcideOutsideIa32eGuest", base32, Caps([](VmxCapabilities& c) { c.cr4_fixed1 |= cr4::PCIDE; }),
       Or(F::GUEST_CR4, cr4::PCIDE), GUEST, "guest CR4.PCIDE"},
      {"PcideAllowedInIa32eGuest", base64,
       All({Caps([](VmxCapabilities& c) { c.cr4_fixed1 |= cr4::PCIDE; }), Or(F::GUEST_CR4, cr4::PCIDE)}),
       Clr(F::GUEST_CR4, cr4::PAE), GUEST, "guest CR4.PAE"},
      {"GuestCr3BeyondMaxphyaddr", base64, W(F::GUEST_CR3, 0x5fff), W(F::GUEST_CR3, kBeyondPhys), GUEST, "guest CR3"},
      {"GuestDr7High", base64, Or(ENTRY, entry_ctl::LOAD_DEBUG_CONTROLS), Or(F::GUEST_DR7, 1ull << 32), GUEST,
       "guest DR7 bits 63:32"},
      {"GuestDr7IgnoredWithoutLoadDebugControls", base64, Or(F::GUEST_DR7, 1ull << 40),
       Or(ENTRY, entry_ctl::LOAD_DEBUG_CONTROLS), GUEST, "guest DR7"},
      {"GuestSysenterEspNonCanonical", base64, none, W(F::GUEST_SYSENTER_ESP, kNonCanonical), GUEST,
       "guest IA32_SYSENTER_ESP"},
      {"GuestSysenterEipNonCanonical", base64, W(F::GUEST_SYSENTER_EIP, 0xffffffff81000000ull),
       W(F::GUEST_SYSENTER_EIP, 0x0000900000000000ull), GUEST, "guest IA32_SYSENTER_EIP"},
      {"GuestPatType3", base64, none, W(F::GUEST_IA32_PAT, 0x0007040300070406ull), GUEST, "guest IA32_PAT"},
      {"GuestPatIgnoredWithoutLoadPat", base64, All({Clr(ENTRY, entry_ctl::LOAD_PAT), W(F::GUEST_IA32_PAT, 0xff)}),
       Or(ENTRY, entry_ctl::LOAD_PAT), GUEST, "guest IA32_PAT"},
      {"GuestEferReserved", base64, Or(F::GUEST_IA32_EFER, efer::SCE | efer::NXE), Or(F::GUEST_IA32_EFER, 1ull << 9),
       GUEST, "guest IA32_EFER reserved"},
      {"GuestEferLmaWithoutIa32eGuest", base32, none, Or(F::GUEST_IA32_EFER, efer::LMA), GUEST, "guest IA32_EFER.LMA"},
      {"GuestEferLmaClearInIa32eGuest", base64, none, Clr(F::GUEST_IA32_EFER, efer::LMA), GUEST, "guest IA32_EFER.LMA"},
      {"GuestEferLmeDiffersWithPaging", base32, Or(F::GUEST_IA32_EFER, efer::LME), Or(F::GUEST_CR0, cr0::PG), GUEST,
       "guest IA32_EFER.LME differs"},
      {"GuestEferLmeClearInIa32eGuest", base64, none, Clr(F::GUEST_IA32_EFER, efer::LME), GUEST,
       "guest IA32_EFER.LME differs"},
      {"GuestEferIgnoredWithoutLoadEfer", base64, All({Clr(ENTRY, entry_ctl::LOAD_EFER), W(F::GUEST_IA32_EFER, 0)}),
       Or(ENTRY, entry_ctl::LOAD_EFER), GUEST, "guest IA32_EFER"},

      // ---- SDM 26.3.1.2: guest segment registers ----
      {"TrSelectorTi", base64, none, Or(kTR.sel, 4), GUEST, "TR selector TI"},
      {"LdtrSelectorTi", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.limit, 0xfff), W(kLDTR.ar, AR_LDT)}), Or(kLDTR.sel, 4),
       GUEST, "LDTR selector TI"},
      {"LdtrSelectorTiIgnoredWhenUnusable", base64, W(kLDTR.sel, 0x2c), W(kLDTR.ar, AR_LDT), GUEST, "LDTR selector TI"},
      {"SsRplDiffersFromCsRpl", base64, none, W(kSS.sel, 0x13), GUEST, "SS selector RPL differs"},
      {"SsRplDiffersAllowedUnrestricted", base32, W(kSS.sel, 0x1b),
       All({Clr(PROC2, proc_ctl2::UNRESTRICTED_GUEST), Or(F::GUEST_CR0, cr0::PG)}), GUEST, "SS selector RPL differs"},
      {"V86CsBase", base32, v86_mode, W(kCS.base, 0x10010), GUEST, "CS base is not the selector shifted"},
      {"V86GsBase", base32, v86_mode, W(kGS.base, 0), GUEST, "GS base is not the selector shifted"},
      {"TrBaseNonCanonical", base64, W(kTR.base, 0xffff800000001000ull), W(kTR.base, kNonCanonical), GUEST,
       "TR base is not canonical"},
      {"FsBaseNonCanonical", base64, W(kFS.base, 0x00007ffff7fd0000ull), W(kFS.base, kNonCanonical), GUEST,
       "FS base is not canonical"},
      {"GsBaseNonCanonical", base64, W(kGS.base, 0xffff888000000000ull), W(kGS.base, 0x7fff888000000000ull), GUEST,
       "GS base is not canonical"},
      {"LdtrBaseNonCanonical", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.base, kNonCanonical)}), W(kLDTR.ar, AR_LDT),
       GUEST, "LDTR base is not canonical"},
      {"CsBaseHigh", base64, none, W(kCS.base, 1ull << 32), GUEST, "CS base bits 63:32"},
      {"SsBaseHigh", base64, none, W(kSS.base, 1ull << 32), GUEST, "SS base bits 63:32"},
      {"DsBaseHigh", base64, none, W(kDS.base, 1ull << 40), GUEST, "DS base bits 63:32"},
      {"EsBaseHighIgnoredWhenUnusable", base64, All({W(kES.ar, AR_UNUSABLE), W(kES.base, 1ull << 32)}),
       W(kES.ar, AR_DATA32), GUEST, "ES base bits 63:32"},
      {"V86CsLimit", base32, v86_mode, W(kCS.limit, 0xfffff), GUEST, "CS limit is not FFFFH"},
      {"V86EsLimit", base32, v86_mode, W(kES.limit, 0xfff), GUEST, "ES limit is not FFFFH"},
      {"V86SsAccessRights", base32, v86_mode, W(kSS.ar, 0xf7), GUEST, "SS access rights are not F3H"},
      {"V86FsAccessRights", base32, v86_mode, W(kFS.ar, AR_DATA16), GUEST, "FS access rights are not F3H"},
      {"CsTypeData", base64, none, SetType(kCS.ar, 3), GUEST, "CS access rights: type"},
      {"CsTypeNotAccessed", base64, none, SetType(kCS.ar, 10), GUEST, "CS access rights: type"},
      {"CsType3DplNot0Unrestricted", base32, W(kCS.ar, AR_DATA32), SetDpl(kCS.ar, 1), GUEST,
       "CS access rights: DPL is not 0 for type 3"},
      {"CsTypeExpandDownData", base32, W(kCS.ar, AR_DATA32), SetType(kCS.ar, 7), GUEST, "CS access rights: type"},
      {"CsSystem", base64, none, Clr(kCS.ar, arch::seg::ar::S), GUEST, "CS access rights: S is 0"},
      {"CsNonConformingDplDiffersFromSs", base64, none, SetDpl(kCS.ar, 3), GUEST, "non-conforming code DPL differs"},
      {"CsConformingDplAboveSs", base64, SetType(kCS.ar, 15), SetDpl(kCS.ar, 2), GUEST,
       "conforming code DPL is greater"},
      {"CsNotPresent", base64, none, Clr(kCS.ar, arch::seg::ar::P), GUEST, "CS access rights: P is 0"},
      {"CsBits11To8", base64, none, Or(kCS.ar, 1u << 8), GUEST, "CS access rights: reserved bits 11:8"},
      {"CsLongAndDb", base64, none, Or(kCS.ar, arch::seg::ar::DB), GUEST, "D/B is 1 with L = 1"},
      {"CsLongAndDbAllowedOutsideIa32eGuest", base32, Or(kCS.ar, arch::seg::ar::L),
       All({Or(ENTRY, entry_ctl::IA32E_MODE_GUEST), Or(F::GUEST_CR0, cr0::PG), Or(F::GUEST_CR4, cr4::PAE),
            W(F::GUEST_IA32_EFER, efer::LMA | efer::LME)}),
       GUEST, "D/B is 1 with L = 1"},
      {"CsGranularityLimitLow", base64, none, W(kCS.limit, 0xfffff000), GUEST, "CS access rights: G is inconsistent"},
      {"CsGranularityLimitHigh", base64, All({Clr(kCS.ar, arch::seg::ar::G), W(kCS.limit, 0xfffff)}),
       W(kCS.limit, 0x100000), GUEST, "CS access rights: G is inconsistent"},
      {"CsBits31To17", base64, none, Or(kCS.ar, 1u << 17), GUEST, "CS access rights: reserved bits 31:17"},
      {"CsBit20", base64, none, Or(kCS.ar, 1u << 20), GUEST, "CS access rights: reserved bits 31:17"},
      {"SsTypeCode", base64, none, SetType(kSS.ar, 11), GUEST, "SS access rights: type is not 3 or 7"},
      {"SsTypeReadOnly", base64, SetType(kSS.ar, 7), SetType(kSS.ar, 1), GUEST, "SS access rights: type is not 3 or 7"},
      {"SsDplDiffersFromRpl", base64, SetType(kCS.ar, 15), SetDpl(kSS.ar, 3), GUEST,
       "SS access rights: DPL differs from the selector's RPL"},
      {"SsDplNot0InRealMode", base32, All({real_mode, SetType(kCS.ar, 15)}), SetDpl(kSS.ar, 3), GUEST,
       "SS access rights: DPL is not 0 with CS type 3 or CR0.PE = 0"},
      {"SsDplNot0WithCsType3", base32, All({W(kCS.ar, AR_DATA32)}), SetDpl(kSS.ar, 3), GUEST,
       "SS access rights: DPL is not 0 with CS type 3"},
      {"SsSystem", base64, none, Clr(kSS.ar, arch::seg::ar::S), GUEST, "SS access rights: S is 0"},
      {"SsNotPresent", base64, none, Clr(kSS.ar, arch::seg::ar::P), GUEST, "SS access rights: P is 0"},
      {"SsUnusableSkipsTypeChecks", base64, W(kSS.ar, AR_UNUSABLE | 0xb), W(kSS.ar, 0xb | 0x90), GUEST,
       "SS access rights: type"},
      {"DsTypeNotAccessed", base64, none, SetType(kDS.ar, 2), GUEST, "DS access rights: type is not accessed"},
      {"DsExecuteOnlyCode", base64, SetType(kDS.ar, 11), SetType(kDS.ar, 9), GUEST, "DS access rights: code segment type is not readable"},
      {"DsSystem", base64, none, Clr(kDS.ar, arch::seg::ar::S), GUEST, "DS access rights: S is 0"},
      {"DsDplBelowRpl", base64, All({W(kDS.sel, 0x13), SetDpl(kDS.ar, 3)}), SetDpl(kDS.ar, 2), GUEST,
       "DS access rights: DPL is less than the selector's RPL"},
      {"DsDplBelowRplAllowedUnrestricted", base32, W(kDS.sel, 0x1b),
       All({Clr(PROC2, proc_ctl2::UNRESTRICTED_GUEST), Or(F::GUEST_CR0, cr0::PG)}), GUEST,
       "DS access rights: DPL is less than the selector's RPL"},
      {"DsConformingCodeDplBelowRplAllowed", base64, All({SetType(kDS.ar, 15), W(kDS.sel, 0x13)}), SetType(kDS.ar, 11),
       GUEST, "DS access rights: DPL is less than the selector's RPL"},
      {"EsNotPresent", base64, none, Clr(kES.ar, arch::seg::ar::P), GUEST, "ES access rights: P is 0"},
      {"FsBits11To8", base64, none, Or(kFS.ar, 1u << 11), GUEST, "FS access rights: reserved bits 11:8"},
      {"GsGranularity", base64, W(kGS.limit, 0xfffff), W(kGS.limit, 0xffff0), GUEST, "GS access rights: G is inconsistent"},
      {"GsBits31To17", base64, none, Or(kGS.ar, 1u << 31), GUEST, "GS access rights: reserved bits 31:17"},
      {"FsUnusableSkipsChecks", base64, W(kFS.ar, AR_UNUSABLE | (1u << 31) | (1u << 8)), W(kFS.ar, (1u << 8) | 0xc093),
       GUEST, "FS access rights: reserved bits 11:8"},
      {"TrTypeAvailableTss", base64, none, SetType(kTR.ar, 9), GUEST, "TR access rights: type"},
      {"TrType16BitBusyInIa32eGuest", base64, none, SetType(kTR.ar, 3), GUEST, "TR access rights: type"},
      {"TrType16BitBusyOutsideIa32e", base32, SetType(kTR.ar, 3), SetType(kTR.ar, 1), GUEST, "TR access rights: type"},
      {"TrCodeDataSegment", base64, none, Or(kTR.ar, arch::seg::ar::S), GUEST, "TR access rights: S is 1"},
      {"TrNotPresent", base64, none, Clr(kTR.ar, arch::seg::ar::P), GUEST, "TR access rights: P is 0"},
      {"TrBits11To8", base64, none, Or(kTR.ar, 1u << 9), GUEST, "TR access rights: reserved bits 11:8"},
      {"TrGranularity", base64, All({Or(kTR.ar, arch::seg::ar::G), W(kTR.limit, 0xfff)}), W(kTR.limit, 0x67), GUEST,
       "TR access rights: G is inconsistent"},
      {"TrUnusable", base64, none, Or(kTR.ar, AR_UNUSABLE), GUEST, "TR access rights: unusable"},
      {"TrBits31To17", base64, none, Or(kTR.ar, 1u << 17), GUEST, "TR access rights: reserved bits 31:17"},
      {"LdtrType", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), SetType(kLDTR.ar, 3), GUEST,
       "LDTR access rights: type is not 2"},
      {"LdtrCodeDataSegment", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), Or(kLDTR.ar, arch::seg::ar::S), GUEST,
       "LDTR access rights: S is 1"},
      {"LdtrNotPresent", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), Clr(kLDTR.ar, arch::seg::ar::P), GUEST,
       "LDTR access rights: P is 0"},
      {"LdtrBits11To8", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), Or(kLDTR.ar, 1u << 10), GUEST,
       "LDTR access rights: reserved bits 11:8"},
      {"LdtrGranularity", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), W(kLDTR.limit, 0x100000), GUEST,
       "LDTR access rights: G is inconsistent"},
      {"LdtrBits31To17", base64, All({W(kLDTR.sel, 0x28), W(kLDTR.ar, AR_LDT)}), Or(kLDTR.ar, 1u << 24), GUEST,
       "LDTR access rights: reserved bits 31:17"},

      // ---- SDM 26.3.1.3: descriptor-table registers ----
      {"GdtrBaseNonCanonical", base64, W(F::GUEST_GDTR_BASE, 0xfffffe0000000000ull), W(F::GUEST_GDTR_BASE, kNonCanonical),
       GUEST, "GDTR base"},
      {"IdtrBaseNonCanonical", base64, none, W(F::GUEST_IDTR_BASE, 0x8000000000000000ull), GUEST, "IDTR base"},
      {"GdtrLimitHigh", base64, W(F::GUEST_GDTR_LIMIT, 0xffff), W(F::GUEST_GDTR_LIMIT, 0x10000), GUEST, "GDTR limit"},
      {"IdtrLimitHigh", base64, W(F::GUEST_IDTR_LIMIT, 0xffff), W(F::GUEST_IDTR_LIMIT, 0x80000000), GUEST, "IDTR limit"},

      // ---- SDM 26.3.1.4: RIP and RFLAGS ----
      {"RipHighOutsideIa32eGuest", base32, W(F::GUEST_RIP, 0xffffffff), W(F::GUEST_RIP, 1ull << 32), GUEST,
       "guest RIP bits 63:32"},
      {"RipHighInCompatibilityMode", base64,
       All({Clr(kCS.ar, arch::seg::ar::L), Or(kCS.ar, arch::seg::ar::DB)}), W(F::GUEST_RIP, 0x100000000ull), GUEST,
       "guest RIP bits 63:32"},
      {"RipNonCanonicalIn64BitMode", base64, W(F::GUEST_RIP, 0xffffffff81000000ull), W(F::GUEST_RIP, kNonCanonical), GUEST,
       "guest RIP is not canonical"},
      {"RflagsBit3", base64, Or(RFLAGS, rf::STATUS | rf::IF | rf::ID | rf::AC), Or(RFLAGS, 1u << 3), GUEST, "guest RFLAGS reserved"},
      {"RflagsBit5", base64, none, Or(RFLAGS, 1u << 5), GUEST, "guest RFLAGS reserved"},
      {"RflagsBit15", base64, none, Or(RFLAGS, 1u << 15), GUEST, "guest RFLAGS reserved"},
      {"RflagsBit22", base64, none, Or(RFLAGS, 1u << 22), GUEST, "guest RFLAGS reserved"},
      {"RflagsBit63", base64, none, Or(RFLAGS, 1ull << 63), GUEST, "guest RFLAGS reserved"},
      {"RflagsBit1Clear", base64, none, Clr(RFLAGS, rf::FIXED1), GUEST, "guest RFLAGS reserved"},
      {"RflagsVmInIa32eGuest", base32, v86_mode,
       All({Or(ENTRY, entry_ctl::IA32E_MODE_GUEST), Or(F::GUEST_CR0, cr0::PG), Or(F::GUEST_CR4, cr4::PAE),
            W(F::GUEST_IA32_EFER, efer::LMA | efer::LME)}),
       GUEST, "guest RFLAGS.VM is 1 with \"IA-32e mode guest\" or CR0.PE 0"},
      {"RflagsVmWithPeClear", base32, v86_mode, Clr(F::GUEST_CR0, cr0::PE), GUEST, "guest RFLAGS.VM is 1"},
      {"RflagsIfClearInjectingExternalInterrupt", base64, All({Or(RFLAGS, rf::IF), Inject(EXT, 0x20)}),
       Clr(RFLAGS, rf::IF), GUEST, "guest RFLAGS.IF is 0 while injecting an external interrupt"},

      // ---- SDM 26.3.1.5: non-register state ----
      {"ActivityShutdownNotOffered", base64, W(ACT, activity_state::HLT), W(ACT, activity_state::SHUTDOWN), GUEST,
       "activity state is not one IA32_VMX_MISC reports"},
      {"ActivityWaitForSipiNotOffered", base64, none, W(ACT, activity_state::WAIT_FOR_SIPI), GUEST,
       "activity state is not one"},
      {"ActivityState4", base64, none, W(ACT, 4), GUEST, "activity state is not one"},
      {"ActivityHltNotOffered", base64, W(ACT, activity_state::HLT),
       Caps([](VmxCapabilities& c) { c.misc &= ~vmx_misc::ACTIVITY_HLT.mask; }), GUEST, "activity state is not one"},
      {"ActivityHltAtCpl3", base64, All({W(ACT, activity_state::HLT)}), cpl3, GUEST, "HLT with SS.DPL not 0"},
      {"ActivityHltWithStiBlocking", base64, All({W(ACT, activity_state::HLT), Or(RFLAGS, rf::IF)}),
       W(INTR, interruptibility::BLOCKING_BY_STI.mask), GUEST, "activity state is not active with blocking"},
      {"ActivityHltWithMovSsBlocking", base64, W(ACT, activity_state::HLT),
       W(INTR, interruptibility::BLOCKING_BY_MOV_SS.mask), GUEST, "activity state is not active with blocking"},
      {"HltInjectGp", base64, All({W(ACT, activity_state::HLT), Or(RFLAGS, rf::IF), Inject(EXT, 0x30)}),
       Inject(HW, 13, true, 0), GUEST, "would be blocked in the guest activity state"},
      {"HltInjectSoftwareInterrupt", base64, All({W(ACT, activity_state::HLT), Inject(NMI, 2)}),
       Inject(SWI, 0x80, false, 0, 2), GUEST, "would be blocked"},
      {"HltInjectOtherEventVector0Allowed", base64, All({W(ACT, activity_state::HLT), Inject(OTHER, 0)}),
       W(ACT, 4), GUEST, "activity state is not one"},
      {"HltInjectDbAndMcAllowed", base64, All({W(ACT, activity_state::HLT), Inject(HW, 1)}), Inject(HW, 3), GUEST,
       "would be blocked"},
      {"ShutdownInjectExternalInterrupt", base64,
       All({Caps([](VmxCapabilities& c) { c.misc |= vmx_misc::ACTIVITY_SHUTDOWN.mask; }), W(ACT, activity_state::SHUTDOWN),
            Or(RFLAGS, rf::IF), Inject(NMI, 2)}),
       Inject(EXT, 0x20), GUEST, "would be blocked"},
      {"ShutdownInjectMcAllowed", base64,
       All({Caps([](VmxCapabilities& c) { c.misc |= vmx_misc::ACTIVITY_SHUTDOWN.mask; }), W(ACT, activity_state::SHUTDOWN),
            Inject(HW, 18)}),
       Inject(HW, 1), GUEST, "would be blocked"},
      {"WaitForSipiInjectNmi", base64,
       All({Caps([](VmxCapabilities& c) { c.misc |= vmx_misc::ACTIVITY_WAIT_FOR_SIPI.mask; }),
            W(ACT, activity_state::WAIT_FOR_SIPI)}),
       Inject(NMI, 2), GUEST, "would be blocked"},
      {"InterruptibilityBit5", base64, none, W(INTR, 1u << 5), GUEST, "interruptibility-state reserved bits 31:5"},
      {"InterruptibilityBit31", base64, none, W(INTR, 1u << 31), GUEST, "interruptibility-state reserved bits 31:5"},
      {"StiAndMovSsBlocking", base64, All({Or(RFLAGS, rf::IF), W(INTR, 1)}), W(INTR, 3), GUEST,
       "blocking by both STI and MOV SS"},
      {"StiBlockingWithIfClear", base64, All({Or(RFLAGS, rf::IF), W(INTR, 1)}), Clr(RFLAGS, rf::IF), GUEST,
       "blocking by STI with RFLAGS.IF 0"},
      {"StiBlockingInjectingExternalInterrupt", base64, All({Or(RFLAGS, rf::IF), Inject(EXT, 0x20)}), W(INTR, 1), GUEST,
       "blocking by STI or MOV SS while injecting an external interrupt"},
      {"MovSsBlockingInjectingExternalInterrupt", base64, All({Or(RFLAGS, rf::IF), Inject(EXT, 0x20)}), W(INTR, 2), GUEST,
       "blocking by STI or MOV SS while injecting an external interrupt"},
      {"MovSsBlockingInjectingNmi", base64, All({Or(RFLAGS, rf::IF), Inject(NMI, 2), W(INTR, 1) /*STI: allowed*/}),
       W(INTR, 2), GUEST, "blocking by MOV SS while injecting an NMI"},
      {"SmiBlocking", base64, none, W(INTR, interruptibility::BLOCKING_BY_SMI.mask), GUEST, "blocking by SMI outside SMM"},
      {"NmiBlockingInjectingNmiWithVirtualNmis", base64,
       All({Inject(NMI, 2), Clr(PIN, pin_ctl::VIRTUAL_NMIS), W(INTR, interruptibility::BLOCKING_BY_NMI.mask)}),
       Or(PIN, pin_ctl::VIRTUAL_NMIS), GUEST, "blocking by NMI while injecting an NMI"},
      {"EnclaveInterruption", base64, none, W(INTR, interruptibility::ENCLAVE_INTERRUPTION.mask), GUEST,
       "enclave interruption"},
      {"PendingDebugBit4", base64, W(PDBG, 0xf | (1u << 12)), Or(PDBG, 1u << 4), GUEST,
       "pending debug exceptions reserved bits"},
      {"PendingDebugBit13", base64, none, W(PDBG, 1u << 13), GUEST, "pending debug exceptions reserved bits"},
      {"PendingDebugBit15", base64, none, W(PDBG, 1u << 15), GUEST, "pending debug exceptions reserved bits"},
      {"PendingDebugRtmNotOffered", base64, none, W(PDBG, 1u << 16), GUEST, "pending debug exceptions reserved bits"},
      {"PendingDebugBit63", base64, W(PDBG, pending_dbg::BS.mask), W(PDBG, 1ull << 63), GUEST,
       "pending debug exceptions reserved bits"},
      {"PendingBsMissingWithTf", base64,
       All({Or(RFLAGS, rf::IF | rf::TF), W(INTR, 1), W(PDBG, pending_dbg::BS.mask)}), W(PDBG, 0), GUEST,
       "BS is 0 with RFLAGS.TF 1"},
      {"PendingBsWithoutTf", base64, All({Or(RFLAGS, rf::IF), W(INTR, 1)}), W(PDBG, pending_dbg::BS.mask), GUEST,
       "BS is 1 with RFLAGS.TF 0"},
      {"PendingBsWithBtf", base64, All({Or(RFLAGS, rf::TF), W(ACT, activity_state::HLT), W(F::GUEST_IA32_DEBUGCTL, 2)}),
       W(PDBG, pending_dbg::BS.mask), GUEST, "BS is 1 with RFLAGS.TF 0 or DEBUGCTL.BTF 1"},
      {"PendingBsNotCheckedWithoutBlocking", base64, All({Or(RFLAGS, rf::TF), W(PDBG, 0)}), W(ACT, activity_state::HLT),
       GUEST, "BS is 0 with RFLAGS.TF 1"},
      {"LinkPointerUnaligned", base64, link_vmcs, W(F::VMCS_LINK_POINTER, kLinkVmcs + 8), GUEST,
       "VMCS link pointer bits 11:0", kQualLink},
      {"LinkPointerBeyondMaxphyaddr", base64, link_vmcs, W(F::VMCS_LINK_POINTER, kBeyondPhys | kLinkVmcs), GUEST,
       "VMCS link pointer sets bits beyond", kQualLink},
      {"LinkPointerWrongRevision", base64, link_vmcs, Mem(kLinkVmcs, kVmcsRevision + 1), GUEST,
       "referenced revision identifier", kQualLink},
      {"LinkPointerOutsideRam", base64, link_vmcs, W(F::VMCS_LINK_POINTER, 0x3000000), GUEST,
       "referenced revision identifier", kQualLink},
      {"LinkPointerShadowIndicatorWithoutShadowing", base64, link_vmcs, Mem(kLinkVmcs, kVmcsRevision | (1u << 31)), GUEST,
       "shadow-VMCS indicator differs", kQualLink},
      {"LinkPointerShadowingWithoutIndicator", base64,
       All({shadowing, link_vmcs, Mem(kLinkVmcs, kVmcsRevision | (1u << 31))}), Mem(kLinkVmcs, kVmcsRevision), GUEST,
       "shadow-VMCS indicator differs", kQualLink},
      {"LinkPointerIsCurrentVmcs", base64, link_vmcs,
       All({W(F::VMCS_LINK_POINTER, kCurrentVmcs), Mem(kCurrentVmcs, kVmcsRevision)}), GUEST,
       "VMCS link pointer is the current-VMCS pointer", kQualLink},

      // ---- SDM 26.3.1.6: PDPTEs of a PAE-paging guest ----
      {"PdpteReservedBit1Ept", base32, pae_paging, W(F::GUEST_PDPTR2, 0x52001 | (1u << 1)), GUEST, "PDPTE2",
       kQualPdpte},
      {"PdpteReservedBit8Ept", base32, pae_paging, W(F::GUEST_PDPTR0, 0x50001 | (1u << 8)), GUEST, "PDPTE0", kQualPdpte},
      {"PdpteNxEpt", base32, pae_paging, W(F::GUEST_PDPTR1, 0x51001 | (1ull << 63)), GUEST, "PDPTE1", kQualPdpte},
      {"PdpteBeyondMaxphyaddrEpt", base32, pae_paging, W(F::GUEST_PDPTR3, 0x53001 | kBeyondPhys), GUEST, "PDPTE3",
       kQualPdpte},
      {"PdpteEptUsesVmcsNotMemory", base32, All({pae_paging, Mem(kPdpt, ~0ull)}), W(F::GUEST_PDPTR0, 0x50001 | 0x20),
       GUEST, "PDPTE0", kQualPdpte},
      {"PdpteReservedBit5NoEpt", base32, pae_paging_no_ept, Mem(kPdpt + 8, 0x51001 | (1u << 5)), GUEST, "PDPTE1",
       kQualPdpte},
      {"PdpteBit52NoEpt", base32, pae_paging_no_ept, Mem(kPdpt, 0x50001 | (1ull << 52)), GUEST, "PDPTE0", kQualPdpte},
      {"PdpteOutsideRamNoEpt", base32, pae_paging_no_ept, W(F::GUEST_CR3, 0x4000000), GUEST, "PDPTE0", kQualPdpte},
      {"PdpteNotCheckedInIa32eGuest", base64, W(F::GUEST_PDPTR0, ~0ull),
       All({Clr(ENTRY, entry_ctl::IA32E_MODE_GUEST), W(F::GUEST_IA32_EFER, 0)}), GUEST, "PDPTE0", kQualPdpte},
  };
}

// Each test below runs every row of the table (one process for all rows: a
// failure names its row through SCOPED_TRACE).
template <class Fn>
void for_every_row(Fn check_row) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_row(c);
  }
}

void setup_passes_and_breaking_fails(const Case& c) {
  Env e = c.base();
  ASSERT_TRUE(run(e).ok()) << "baseline: " << run(e).check;
  c.setup(e);
  const EntryCheckResult pass = run(e);
  ASSERT_TRUE(pass.ok()) << "setup should be valid, failed: " << pass.check;
  c.breaks(e);
  const EntryCheckResult r = run(e);
  EXPECT_EQ(r.failure, c.kind) << r.check;
  EXPECT_EQ(r.qualification, c.qualification) << r.check;
  EXPECT_NE(std::string_view(r.check).find(c.check), std::string_view::npos)
      << "got: " << r.check << "\nwanted: " << c.check;
  EXPECT_EQ(std::string_view(r.check).rfind("SDM 26.", 0), 0u) << "cites its section: " << r.check;
}

TEST(VmEntryCheckTable, SetupPassesAndBreakingFails) { for_every_row(setup_passes_and_breaking_fails); }

// EntryCheckCache (common/vmx/entry_check_cache.h), which the sim's VM
// entry and l1-vmm's nested entry use: with the valid VMCS's checks passed
// and remembered, every way the table breaks it (a VMCS write through the
// sim's Vmcs, which counts its changes; memory; the processor's mode) gives
// exactly check_vm_entry's failure; and undoing nothing, a second check
// gives it again.
void cache_agrees_with_the_whole_check(const Case& c) {
  Env e = c.base();
  c.setup(e);
  auto read = [&e](uint64_t pa, unsigned size) { return read_fake_phys(e, pa, size); };
  auto check_cached = [&](EntryCheckCache& cache) {
    EntryCheckContext ctx = context(e.caps, read, 0x00800000, e.current_vmcs);
    ctx.cpu_in_ia32e_mode = e.cpu_in_ia32e;
    return cache.check(view(e.vmcs), ctx, e.vmcs.versions());
  };
  EntryCheckCache cache;
  ASSERT_TRUE(check_cached(cache).ok());
  ASSERT_TRUE(check_cached(cache).ok()) << "passes again, from what it remembered";
  const VmxCapabilities caps = e.caps;
  c.breaks(e);
  // The capabilities are the VMM's own and never change while it runs: a
  // row that changes them starts a new cache.
  if (std::memcmp(&caps, &e.caps, sizeof caps) != 0) cache = EntryCheckCache{};
  const EntryCheckResult whole = run(e);
  for (int again = 0; again < 2; again++) {
    const EntryCheckResult cached = check_cached(cache);
    EXPECT_EQ(cached.failure, whole.failure) << cached.check;
    EXPECT_STREQ(cached.check, whole.check);
    EXPECT_EQ(cached.qualification, whole.qualification);
  }
}

TEST(VmEntryCheckTable, CacheAgreesWithTheWholeCheck) { for_every_row(cache_agrees_with_the_whole_check); }

// check_guest_state is check_guest_registers, then, if that passed,
// check_guest_non_register_state; and check_guest_registers reads no guest
// field outside kGuestRegisterFields but RFLAGS.VM (so l1-vmm may skip it
// while those are unchanged): scrambling every other guest field leaves its
// result as it was, on every VMCS of the table, valid and broken.
void guest_registers_part_reads_only_its_fields(const Case& c) {
  Env e = c.base();
  c.setup(e);
  for (int broken = 0; broken < 2; broken++) {
    if (broken) c.breaks(e);
    auto read = [&e](uint64_t pa, unsigned size) { return read_fake_phys(e, pa, size); };
    EntryCheckContext ctx = context(e.caps, read, 0x00800000, e.current_vmcs);
    ctx.cpu_in_ia32e_mode = e.cpu_in_ia32e;
    const EntryCheckResult regs = check_guest_registers(view(e.vmcs), ctx);
    const EntryCheckResult whole = check_guest_state(view(e.vmcs), ctx);
    const EntryCheckResult expected = regs.ok() ? check_guest_non_register_state(view(e.vmcs), ctx) : regs;
    EXPECT_STREQ(whole.check, expected.check);
    EXPECT_EQ(whole.qualification, expected.qualification);

    Vmcs scrambled = e.vmcs;
    for (unsigned s = 0; s < kVmcsFieldCount; s++) {
      const VmcsField f = VmcsField(kVmcsFieldEncodings[s]);
      bool listed = false;
      for (VmcsField r : kGuestRegisterFields) listed |= r == f;
      if (vmcs_field_type(f) != VmcsType::GUEST || listed) continue;
      const uint64_t keep = f == F::GUEST_RFLAGS ? uint64_t(rf::VM) : 0;
      scrambled.write(f, (e.vmcs.read(f) & keep) | (~e.vmcs.read(f) & ~keep));
    }
    EXPECT_STREQ(check_guest_registers(view(scrambled), ctx).check, regs.check) << (broken ? "broken" : "set up");
  }
}

TEST(VmEntryCheckTable, GuestRegistersPartReadsOnlyItsFields) {
  for_every_row(guest_registers_part_reads_only_its_fields);
}

// ---- Whole-VMCS tests ------------------------------------------------------------

TEST(VmEntryCheck, BaselinesPassEverySection) {
  for (Env (*base)() : {base64, base32}) {
    Env e = base();
    auto read = [&e](uint64_t pa, unsigned size) { return read_fake_phys(e, pa, size); };
    const EntryCheckContext ctx = context(e.caps, read);
    EXPECT_TRUE(check_vm_execution_controls(view(e.vmcs), ctx).ok());
    EXPECT_TRUE(check_vm_exit_controls(view(e.vmcs), ctx).ok());
    EXPECT_TRUE(check_vm_entry_controls(view(e.vmcs), ctx).ok());
    EXPECT_TRUE(check_host_state(view(e.vmcs), ctx).ok());
    EXPECT_TRUE(check_guest_state(view(e.vmcs), ctx).ok());
    const EntryCheckResult r = check_vm_entry(view(e.vmcs), ctx);
    EXPECT_TRUE(r.ok()) << r.check;
    EXPECT_EQ(r.failure, EntryFailure::None);
    EXPECT_STREQ(r.check, "");
  }
}

// Other valid guests: each must pass as a whole.
TEST(VmEntryCheck, ValidVariantsPass) {
  struct Variant {
    const char* name;
    Env (*base)();
    Mut change;
  };
  const Variant variants[] = {
      {"real mode (unrestricted guest)", base32, real_mode},
      {"virtual-8086 mode", base32, v86_mode},
      {"virtual-8086 mode, restricted guest", base32,
       All({v86_mode, Clr(PROC2, proc_ctl2::UNRESTRICTED_GUEST), Or(F::GUEST_CR0, cr0::PG)})},
      {"PAE paging with EPT (PDPTE fields)", base32, pae_paging},
      {"PAE paging without EPT (PDPTEs at CR3)", base32, pae_paging_no_ept},
      {"32-bit paging, restricted guest", base32,
       All({Clr(PROC2, proc_ctl2::UNRESTRICTED_GUEST), Or(F::GUEST_CR0, cr0::PG), W(F::GUEST_CR3, 0x9018)})},
      {"32-bit host on a CPU outside IA-32e mode", base32, host32},
      {"CPL 3 64-bit guest", base64, All({cpl3, W(kDS.sel, 0x13), SetDpl(kDS.ar, 3)})},
      {"64-bit guest in compatibility mode", base64, All({Clr(kCS.ar, arch::seg::ar::L), Or(kCS.ar, arch::seg::ar::DB)})},
      {"secondary controls off: EPT, VPID ignored", base64,
       All({Clr(PROC, proc_ctl::ACTIVATE_SECONDARY_CONTROLS), W(F::VIRTUAL_PROCESSOR_ID, 0), W(F::EPT_POINTER, 0)})},
      {"unrestricted 64-bit guest", base64, Or(PROC2, proc_ctl2::UNRESTRICTED_GUEST)},
      {"EPT with accessed/dirty flags and UC paging structures", base64, W(F::EPT_POINTER, 0x13000 | (3 << 3) | (1 << 6))},
      // "Virtualize x2APIC mode" and "virtualize APIC accesses" exclude each other.
      {"everything exiting that the CPU offers", base64,
       All({W(PIN, ctls_allowed1(sim_vmx_capabilities().pinbased)),
            W(PROC, ctls_allowed1(sim_vmx_capabilities().procbased)),
            W(PROC2, ctls_allowed1(sim_vmx_capabilities().procbased2) & ~proc_ctl2::VIRTUALIZE_X2APIC_MODE),
            W(F::VMREAD_BITMAP, 0x14000), W(F::VMWRITE_BITMAP, 0x15000)})},
      {"everything the CPU offers, x2APIC virtualization instead of the APIC-access page", base64,
       All({W(PIN, ctls_allowed1(sim_vmx_capabilities().pinbased)),
            W(PROC, ctls_allowed1(sim_vmx_capabilities().procbased)),
            W(PROC2, ctls_allowed1(sim_vmx_capabilities().procbased2) & ~proc_ctl2::VIRTUALIZE_APIC_ACCESSES),
            W(F::VMREAD_BITMAP, 0x14000), W(F::VMWRITE_BITMAP, 0x15000)})},
      {"VMCS shadowing with a shadow VMCS linked", base64,
       All({shadowing, W(F::VMCS_LINK_POINTER, kLinkVmcs), Mem(kLinkVmcs, kVmcsRevision | (1u << 31))})},
      {"STI blocking while injecting an NMI (not refused by the sim)", base64,
       All({Or(RFLAGS, rf::IF), W(INTR, 1), Inject(NMI, 2)})},
      {"NMI blocking injecting an NMI without virtual NMIs", base64,
       All({Clr(PIN, pin_ctl::VIRTUAL_NMIS), W(INTR, interruptibility::BLOCKING_BY_NMI.mask), Inject(NMI, 2)})},
      {"HLT with an injected #MC", base64, All({W(ACT, activity_state::HLT), Inject(HW, 18)})},
      {"pending debug exceptions B0-B3, enabled breakpoint, BS", base64,
       W(PDBG, 0xf | pending_dbg::ENABLED_BREAKPOINT.mask | pending_dbg::BS.mask)},
      {"unusable DS with garbage", base64, W(kDS.ar, AR_UNUSABLE | 0xfffe0f00u)},
      {"injected #PF with error code 0xffff (bit 15 allowed)", base64, Inject(HW, 14, true, 0xffff)},
      {"MSR areas ending at the last physical byte", base64,
       All({W(F::VM_EXIT_MSR_STORE_COUNT, 1), W(F::VM_EXIT_MSR_STORE_ADDR, kBeyondPhys - 16),
            W(F::VM_EXIT_MSR_LOAD_COUNT, 1), W(F::VM_EXIT_MSR_LOAD_ADDR, kBeyondPhys - 16),
            W(F::VM_ENTRY_MSR_LOAD_COUNT, 1), W(F::VM_ENTRY_MSR_LOAD_ADDR, kBeyondPhys - 16)})},
      {"link pointer to a VMCS other than the current one", base64, link_vmcs},
  };
  for (const Variant& var : variants) {
    SCOPED_TRACE(var.name);
    Env e = var.base();
    var.change(e);
    const EntryCheckResult r = run(e);
    EXPECT_TRUE(r.ok()) << r.check;
  }
}

// SDM order: controls (VMfailValid 7), then host state (8), then guest state
// (exit reason 33); the first failure wins.
TEST(VmEntryCheck, ControlsBeforeHostBeforeGuest) {
  Env e = base64();
  Clr(F::GUEST_CR0, cr0::NE)(e);
  EXPECT_EQ(run(e).failure, GUEST);
  Clr(F::HOST_CR0, cr0::NE)(e);
  EXPECT_EQ(run(e).failure, HOST);
  W(F::CR3_TARGET_COUNT, 9)(e);
  EXPECT_EQ(run(e).failure, CTL);
  // A link-pointer failure and a plain guest-state failure: the link pointer
  // (26.3.1.5) comes after CR0 (26.3.1.1), so qualification 0.
  Env g = base64();
  W(F::VMCS_LINK_POINTER, 0x123)(g);
  EXPECT_EQ(run(g).qualification, kQualLink);
  Clr(F::GUEST_CR0, cr0::NE)(g);
  EXPECT_EQ(run(g).failure, GUEST);
  EXPECT_EQ(run(g).qualification, 0u);
}

// The link pointer's header is read through read_phys: 4 bytes at the
// pointer, nothing else.
TEST(VmEntryCheck, LinkPointerReadsFourBytesOfTheRegion) {
  Env e = base64();
  link_vmcs(e);
  std::vector<std::pair<uint64_t, unsigned>> reads;
  auto read = [&](uint64_t pa, unsigned size) {
    reads.push_back({pa, size});
    return read_fake_phys(e, pa, size);
  };
  const EntryCheckContext ctx = context(e.caps, read, ~0ull, kCurrentVmcs);
  EXPECT_TRUE(check_vm_entry(view(e.vmcs), ctx).ok());
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].first, kLinkVmcs);
  EXPECT_EQ(reads[0].second, 4u);
  // An upper dword of garbage does not matter (the abort indicator).
  e.mem[kLinkVmcs] = 0xdeadbeef00000000ull | kVmcsRevision;
  reads.clear();
  EXPECT_TRUE(check_vm_entry(view(e.vmcs), ctx).ok());
}

// The table covers each check once; names are unique (gtest needs it too).
TEST(VmEntryCheck, TableNamesAreUnique) {
  std::set<std::string> names;
  for (const Case& c : cases()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  EXPECT_GE(names.size(), 200u);
}

}  // namespace
}  // namespace nestbed::sim::vmx
