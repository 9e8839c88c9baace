// The checks of VM entry on the VMX controls, the host-state area and the
// guest-state area (Intel SDM vol. 3, 26.2 and 26.3.1; chapter numbers of the
// 2016-2022 editions, see arch/vmx/vmcs_fields.def). Each check cites its
// section in EntryCheckResult::check, a static string: a failing entry
// costs no allocation, and the code runs freestanding (common/README.md).
//
// Scope: every check that applies to the VMX the sim CPU advertises
// (l0/sim/vmx/capabilities.cpp); a VMM using these checks offers its guest
// a subset of it. Controls outside it (virtual-interrupt delivery,
// posted interrupts, VM functions, #VE, tertiary controls,
// SMM/dual-monitor, CET, PKRS, FRED, perf-global-ctrl, BNDCFGS, RTIT, LBR)
// cannot be 1 once the reserved-bit checks against the capability MSRs
// pass, so the checks that depend on them being 1 are not written out. The
// processor is nestbed's (arch/): no SMM, no SGX, no RTM, no bus-lock
// detection, MAXPHYADDR 46 and 48-bit linear addresses (no LA57).
#include "common/vmx/entry_checks.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"

namespace nestbed::common::vmx {

namespace {

using F = arch::vmx::VmcsField;
using namespace arch::vmx;
namespace ar = arch::seg::ar;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace efer = arch::efer;
namespace rf = arch::rflags;

// A field's index in VmcsView::fields, for the tables of fields below
// (constexpr tables: computed at compile time, so reading a field through a
// table is one load too). Every VmcsField has a slot.
constexpr uint16_t slot(F f) { return uint16_t(vmcs_field_slot(uint32_t(f))); }

// Physical addresses in VMCS fields may not set bits at or above MAXPHYADDR.
constexpr bool phys_in_range(uint64_t pa) { return (pa >> arch::pte::MAXPHYADDR) == 0; }
constexpr bool page_aligned(uint64_t pa) { return (pa & (arch::pte::PAGE_SIZE - 1)) == 0; }

// The RFLAGS bits that exist; the rest (63:22, 15, 5, 3) are reserved.
constexpr uint64_t kRflagsDefined = rf::CF | rf::FIXED1 | rf::PF | rf::AF | rf::ZF | rf::SF | rf::TF | rf::IF |
                                    rf::DF | rf::OF | rf::IOPL | rf::NT | rf::RF | rf::VM | rf::AC | rf::VIF |
                                    rf::VIP | rf::ID;

// Pending debug exceptions the processor can hold: B3:0, enabled
// breakpoint, BS. BLD (bit 11) and RTM (bit 16) need bus-lock detection and
// RTM, which it does not offer, so they are reserved with the rest (SDM
// 26.3.1.5).
constexpr uint64_t kPendingDbgDefined = pending_dbg::B0.mask | pending_dbg::B1.mask | pending_dbg::B2.mask |
                                        pending_dbg::B3.mask | pending_dbg::ENABLED_BREAKPOINT.mask |
                                        pending_dbg::BS.mask;

// Bits 30:12 of the VM-entry interruption-information field (SDM 24.8.3).
constexpr uint64_t kIntrInfoReserved =
    0xffffffffull & ~(intr_info::VECTOR.mask | intr_info::TYPE.mask | intr_info::ERROR_CODE_VALID.mask |
                      intr_info::VALID.mask);

// The access rights of every segment register in virtual-8086 mode:
// present, DPL 3, read/write accessed data (SDM 26.3.1.2).
constexpr uint32_t kV86AccessRights = ar::V86;

constexpr EntryCheckResult control(const char* check) { return {EntryFailure::Control, 0, check}; }
constexpr EntryCheckResult host(const char* check) { return {EntryFailure::HostState, 0, check}; }
constexpr EntryCheckResult guest(const char* check, uint64_t qualification = qual_entry_failure::ENTRY_FAIL_DEFAULT) {
  return {EntryFailure::GuestState, qualification, check};
}

// The control words as VM entry sees them: without "activate secondary
// controls" the secondary controls act as 0 (SDM 26.2.1.1).
struct Controls {
  uint32_t pin, proc, proc2_raw, proc2, exit, entry;
  explicit Controls(VmcsView v)
      : pin(uint32_t(v.read<F::PIN_BASED_VM_EXEC_CONTROL>())),
        proc(uint32_t(v.read<F::CPU_BASED_VM_EXEC_CONTROL>())),
        proc2_raw(uint32_t(v.read<F::SECONDARY_VM_EXEC_CONTROL>())),
        proc2((proc & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) ? proc2_raw : 0),
        exit(uint32_t(v.read<F::VM_EXIT_CONTROLS>())),
        entry(uint32_t(v.read<F::VM_ENTRY_CONTROLS>())) {}
  bool unrestricted_guest() const { return proc2 & proc_ctl2::UNRESTRICTED_GUEST; }
  bool ia32e_guest() const { return entry & entry_ctl::IA32E_MODE_GUEST; }
  bool host_64() const { return exit & exit_ctl::HOST_ADDRESS_SPACE_SIZE; }
};

// A 4-KiB structure referenced by a control (bitmaps): bits 11:0 zero and no
// bit at or above MAXPHYADDR (SDM 26.2.1.1). One message per way to fail,
// per structure.
struct PageAddressChecks {
  const char* unaligned;
  const char* beyond_width;
};
#define NESTBED_PAGE_ADDRESS_CHECKS(what)                                            \
  PageAddressChecks {                                                                \
    "SDM 26.2.1.1: " what " address bits 11:0 are not 0",                            \
        "SDM 26.2.1.1: " what " address sets bits beyond the physical-address width" \
  }
constexpr PageAddressChecks kIoBitmapA = NESTBED_PAGE_ADDRESS_CHECKS("I/O-bitmap A");
constexpr PageAddressChecks kIoBitmapB = NESTBED_PAGE_ADDRESS_CHECKS("I/O-bitmap B");
constexpr PageAddressChecks kMsrBitmap = NESTBED_PAGE_ADDRESS_CHECKS("MSR-bitmap");
constexpr PageAddressChecks kVmreadBitmap = NESTBED_PAGE_ADDRESS_CHECKS("VMREAD-bitmap");
constexpr PageAddressChecks kVmwriteBitmap = NESTBED_PAGE_ADDRESS_CHECKS("VMWRITE-bitmap");
constexpr PageAddressChecks kVirtualApic = NESTBED_PAGE_ADDRESS_CHECKS("virtual-APIC");
constexpr PageAddressChecks kPmlAddress = NESTBED_PAGE_ADDRESS_CHECKS("PML");
constexpr PageAddressChecks kApicAccess = NESTBED_PAGE_ADDRESS_CHECKS("APIC-access");
#undef NESTBED_PAGE_ADDRESS_CHECKS

// The failed check, or null.
constexpr const char* page_address_problem(uint64_t pa, const PageAddressChecks& checks) {
  if (!page_aligned(pa)) return checks.unaligned;
  if (!phys_in_range(pa)) return checks.beyond_width;
  return nullptr;
}

// An MSR-load/store area (SDM 26.2.1.2, 26.2.1.3): 16-byte aligned, and
// neither its first nor its last byte beyond the physical-address width.
struct MsrAreaChecks {
  const char* unaligned;
  const char* beyond_width;
  const char* last_beyond_width;
};
#define NESTBED_MSR_AREA_CHECKS(section, area)                                                  \
  MsrAreaChecks {                                                                               \
    "SDM " section ": " area ": address bits 3:0 are not 0",                                    \
        "SDM " section ": " area ": address sets bits beyond the physical-address width",       \
        "SDM " section ": " area ": last byte of the area is beyond the physical-address width" \
  }
constexpr MsrAreaChecks kExitMsrStore = NESTBED_MSR_AREA_CHECKS("26.2.1.2", "VM-exit MSR-store area");
constexpr MsrAreaChecks kExitMsrLoad = NESTBED_MSR_AREA_CHECKS("26.2.1.2", "VM-exit MSR-load area");
constexpr MsrAreaChecks kEntryMsrLoad = NESTBED_MSR_AREA_CHECKS("26.2.1.3", "VM-entry MSR-load area");
#undef NESTBED_MSR_AREA_CHECKS

// The failed check, or null.
constexpr const char* msr_area_problem(uint64_t pa, uint32_t count, const MsrAreaChecks& checks) {
  if (count == 0) return nullptr;
  if (pa & (sizeof(MsrEntry) - 1)) return checks.unaligned;
  if (!phys_in_range(pa)) return checks.beyond_width;
  const uint64_t last = pa + uint64_t(count) * sizeof(MsrEntry) - 1;  // pa < 2^46: no overflow
  if (!phys_in_range(last)) return checks.last_beyond_width;
  return nullptr;
}

// A G bit consistent with the limit: limit bits 11:0 all 1 if G is 1, limit
// bits 31:20 all 0 if G is 0 (SDM 26.3.1.2).
constexpr bool granularity_consistent(uint32_t limit, uint32_t access_rights) {
  const bool g = access_rights & ar::G;
  if ((limit & 0xfff) != 0xfff && g) return false;
  if ((limit >> 20) != 0 && !g) return false;
  return true;
}

// ---- Guest segment registers ------------------------------------------------

enum SegIndex : unsigned { ES, CS, SS, DS, FS, GS, LDTR, TR, kSegCount };
static_assert(unsigned(ES) == arch::seg::ES && unsigned(GS) == arch::seg::GS, "VMX segment order");

// The checks that apply to several segment registers, one message per
// register ("SDM 26.3.1.2: SS access rights: P is 0"), so that a failure
// names its register without building a string. CS, TR and LDTR's own
// checks have plain messages below.
struct SegChecks {
  // Bases.
  const char* v86_base;
  const char* base_not_canonical;
  const char* base_high;
  // Limits and access rights in virtual-8086 mode.
  const char* v86_limit;
  const char* v86_access_rights;
  // Access rights of SS and the data segments (check_data_segment).
  const char* type_not_accessed;
  const char* code_not_readable;
  const char* s_zero;
  const char* dpl_below_rpl;
  const char* p_zero;
  const char* reserved_11_8;
  const char* g_inconsistent;
  const char* reserved_31_17;
};
#define NESTBED_SEG_CHECK(seg, what) "SDM 26.3.1.2: " seg " " what
#define NESTBED_SEG_CHECKS(seg)                                                                \
  SegChecks {                                                                                  \
    NESTBED_SEG_CHECK(seg, "base is not the selector shifted left 4 bits (virtual-8086 mode)"), \
        NESTBED_SEG_CHECK(seg, "base is not canonical"),                                       \
        NESTBED_SEG_CHECK(seg, "base bits 63:32 are not 0"),                                   \
        NESTBED_SEG_CHECK(seg, "limit is not FFFFH (virtual-8086 mode)"),                      \
        NESTBED_SEG_CHECK(seg, "access rights are not F3H (virtual-8086 mode)"),               \
        NESTBED_SEG_CHECK(seg, "access rights: type is not accessed"),                         \
        NESTBED_SEG_CHECK(seg, "access rights: code segment type is not readable"),            \
        NESTBED_SEG_CHECK(seg, "access rights: S is 0"),                                       \
        NESTBED_SEG_CHECK(seg, "access rights: DPL is less than the selector's RPL"),          \
        NESTBED_SEG_CHECK(seg, "access rights: P is 0"),                                       \
        NESTBED_SEG_CHECK(seg, "access rights: reserved bits 11:8 are not 0"),                 \
        NESTBED_SEG_CHECK(seg, "access rights: G is inconsistent with the limit"),             \
        NESTBED_SEG_CHECK(seg, "access rights: reserved bits 31:17 are not 0")                 \
  }

struct SegFields {
  SegChecks checks;
  uint16_t selector, base, limit, access_rights;  // slots
};
#define NESTBED_SEG_FIELDS(seg)                                                             \
  SegFields {                                                                               \
    NESTBED_SEG_CHECKS(#seg), slot(F::GUEST_##seg##_SELECTOR), slot(F::GUEST_##seg##_BASE), \
        slot(F::GUEST_##seg##_LIMIT), slot(F::GUEST_##seg##_AR_BYTES)                       \
  }
constexpr SegFields kSegFields[kSegCount] = {
    NESTBED_SEG_FIELDS(ES), NESTBED_SEG_FIELDS(CS), NESTBED_SEG_FIELDS(SS),   NESTBED_SEG_FIELDS(DS),
    NESTBED_SEG_FIELDS(FS), NESTBED_SEG_FIELDS(GS), NESTBED_SEG_FIELDS(LDTR), NESTBED_SEG_FIELDS(TR),
};
#undef NESTBED_SEG_FIELDS
#undef NESTBED_SEG_CHECKS
#undef NESTBED_SEG_CHECK

struct GuestSeg {
  const SegChecks* checks;
  uint16_t sel;
  uint64_t base;
  uint32_t limit;
  uint32_t ar;
  bool usable() const { return !(ar & ar::UNUSABLE); }
  unsigned type() const { return ar & ar::TYPE_MASK; }
  unsigned dpl() const { return (ar & ar::DPL_MASK) >> ar::DPL_SHIFT; }
  unsigned rpl() const { return arch::seg::selector_rpl(sel); }
};

// Checks on CS, SS, DS, ES, FS and GS outside virtual-8086 mode that are
// common to SS and the data segments: type, S, DPL-vs-RPL, P, reserved bits,
// G. CS has its own type and DPL rules.
EntryCheckResult check_data_segment(const GuestSeg& s, bool unrestricted) {
  if (!s.usable()) return {};
  const unsigned type = s.type();
  if (!(type & ar::TYPE_ACCESSED)) return guest(s.checks->type_not_accessed);
  if ((type & ar::TYPE_CODE) && !(type & ar::TYPE_WRITABLE)) return guest(s.checks->code_not_readable);
  if (!(s.ar & ar::S)) return guest(s.checks->s_zero);
  // DPL >= RPL for data and non-conforming code (types 0-11) without unrestricted guest.
  if (!unrestricted && type <= 11 && s.dpl() < s.rpl()) return guest(s.checks->dpl_below_rpl);
  if (!(s.ar & ar::P)) return guest(s.checks->p_zero);
  if (s.ar & ar::RESERVED_11_8) return guest(s.checks->reserved_11_8);
  if (!granularity_consistent(s.limit, s.ar)) return guest(s.checks->g_inconsistent);
  if (s.ar & ar::RESERVED_31_17) return guest(s.checks->reserved_31_17);
  return {};
}

EntryCheckResult check_guest_segments(VmcsView v, const Controls& c) {
  GuestSeg seg[kSegCount];
  for (unsigned i = 0; i < kSegCount; ++i) {
    const SegFields& f = kSegFields[i];
    seg[i] = GuestSeg{&f.checks, uint16_t(v.fields[f.selector]), v.fields[f.base], uint32_t(v.fields[f.limit]),
                      uint32_t(v.fields[f.access_rights])};
  }
  const bool v86 = v.read<F::GUEST_RFLAGS>() & rf::VM;
  const bool ug = c.unrestricted_guest();
  const bool ia32e = c.ia32e_guest();
  const bool pe = v.read<F::GUEST_CR0>() & cr0::PE;
  const GuestSeg &cs = seg[CS], &ss = seg[SS], &tr = seg[TR], &ldtr = seg[LDTR];
  static constexpr SegIndex kSix[] = {CS, SS, DS, ES, FS, GS};
  static constexpr SegIndex kTrFsGs[] = {TR, FS, GS};
  static constexpr SegIndex kSsDsEs[] = {SS, DS, ES};
  static constexpr SegIndex kDsEsFsGs[] = {DS, ES, FS, GS};

  // Selectors.
  if (arch::seg::selector_ti(tr.sel)) return guest("SDM 26.3.1.2: TR selector TI flag is not 0");
  if (ldtr.usable() && arch::seg::selector_ti(ldtr.sel)) return guest("SDM 26.3.1.2: LDTR selector TI flag is not 0");
  if (!v86 && !ug && ss.rpl() != cs.rpl()) return guest("SDM 26.3.1.2: SS selector RPL differs from CS selector RPL");

  // Bases.
  if (v86) {
    for (SegIndex i : kSix)
      if (seg[i].base != uint64_t(seg[i].sel) << 4) return guest(seg[i].checks->v86_base);
  }
  for (SegIndex i : kTrFsGs)
    if (!arch::is_canonical(seg[i].base)) return guest(seg[i].checks->base_not_canonical);
  if (ldtr.usable() && !arch::is_canonical(ldtr.base)) return guest(ldtr.checks->base_not_canonical);
  if (cs.base >> 32) return guest(cs.checks->base_high);
  for (SegIndex i : kSsDsEs)
    if (seg[i].usable() && (seg[i].base >> 32)) return guest(seg[i].checks->base_high);

  // Limits.
  if (v86) {
    for (SegIndex i : kSix)
      if (seg[i].limit != 0xffff) return guest(seg[i].checks->v86_limit);
  }

  // Access rights of CS, SS, DS, ES, FS, GS.
  if (v86) {
    for (SegIndex i : kSix)
      if (seg[i].ar != kV86AccessRights) return guest(seg[i].checks->v86_access_rights);
  } else {
    // CS: accessed code (types 9, 11, 13, 15), or read/write accessed data
    // (type 3) with unrestricted guest.
    const unsigned cs_type = cs.type();
    const bool cs_code = (cs_type & ar::TYPE_CODE) && (cs_type & ar::TYPE_ACCESSED);
    const bool cs_data3 = cs_type == (ar::TYPE_ACCESSED | ar::TYPE_WRITABLE);
    if (!cs_code && !(ug && cs_data3)) return guest("SDM 26.3.1.2: CS access rights: type is not 9, 11, 13 or 15 (or 3 with unrestricted guest)");
    if (!(cs.ar & ar::S)) return guest("SDM 26.3.1.2: CS access rights: S is 0");
    if (cs_data3 && cs.dpl() != 0) return guest("SDM 26.3.1.2: CS access rights: DPL is not 0 for type 3");
    if (cs_code && !(cs_type & ar::TYPE_CONFORMING) && cs.dpl() != ss.dpl())
      return guest("SDM 26.3.1.2: CS access rights: non-conforming code DPL differs from SS DPL");
    if (cs_code && (cs_type & ar::TYPE_CONFORMING) && cs.dpl() > ss.dpl())
      return guest("SDM 26.3.1.2: CS access rights: conforming code DPL is greater than SS DPL");
    if (!(cs.ar & ar::P)) return guest("SDM 26.3.1.2: CS access rights: P is 0");
    if (cs.ar & ar::RESERVED_11_8) return guest("SDM 26.3.1.2: CS access rights: reserved bits 11:8 are not 0");
    if (ia32e && (cs.ar & ar::L) && (cs.ar & ar::DB))
      return guest("SDM 26.3.1.2: CS access rights: D/B is 1 with L = 1 in an IA-32e mode guest");
    if (!granularity_consistent(cs.limit, cs.ar)) return guest("SDM 26.3.1.2: CS access rights: G is inconsistent with the limit");
    if (cs.ar & ar::RESERVED_31_17) return guest("SDM 26.3.1.2: CS access rights: reserved bits 31:17 are not 0");

    // SS: read/write accessed data (types 3, 7) when usable; its DPL is the CPL.
    if (ss.usable()) {
      const unsigned t = ss.type();
      if ((t & ar::TYPE_CODE) || !(t & ar::TYPE_WRITABLE) || !(t & ar::TYPE_ACCESSED))
        return guest("SDM 26.3.1.2: SS access rights: type is not 3 or 7");
    }
    if (!ug && ss.dpl() != ss.rpl()) return guest("SDM 26.3.1.2: SS access rights: DPL differs from the selector's RPL");
    if ((cs_data3 || !pe) && ss.dpl() != 0)
      return guest("SDM 26.3.1.2: SS access rights: DPL is not 0 with CS type 3 or CR0.PE = 0");
    if (EntryCheckResult r = check_data_segment(ss, /*DPL vs RPL checked above*/ true); !r.ok()) return r;
    for (SegIndex i : kDsEsFsGs)
      if (EntryCheckResult r = check_data_segment(seg[i], ug); !r.ok()) return r;
  }

  // TR: a busy TSS, 32/64-bit (type 11), or 16-bit (type 3) outside IA-32e mode.
  {
    const unsigned t = tr.type();
    const bool ok_type = t == arch::seg::sys_type::TSS_BUSY || (!ia32e && t == arch::seg::sys_type::TSS16_BUSY);
    if (!ok_type) return guest("SDM 26.3.1.2: TR access rights: type is not a busy TSS (11, or 3 outside IA-32e mode)");
    if (tr.ar & ar::S) return guest("SDM 26.3.1.2: TR access rights: S is 1");
    if (!(tr.ar & ar::P)) return guest("SDM 26.3.1.2: TR access rights: P is 0");
    if (tr.ar & ar::RESERVED_11_8) return guest("SDM 26.3.1.2: TR access rights: reserved bits 11:8 are not 0");
    if (!granularity_consistent(tr.limit, tr.ar)) return guest("SDM 26.3.1.2: TR access rights: G is inconsistent with the limit");
    if (tr.ar & ar::UNUSABLE) return guest("SDM 26.3.1.2: TR access rights: unusable");
    if (tr.ar & ar::RESERVED_31_17) return guest("SDM 26.3.1.2: TR access rights: reserved bits 31:17 are not 0");
  }

  // LDTR, when usable: an LDT (type 2).
  if (ldtr.usable()) {
    if (ldtr.type() != arch::seg::sys_type::LDT) return guest("SDM 26.3.1.2: LDTR access rights: type is not 2");
    if (ldtr.ar & ar::S) return guest("SDM 26.3.1.2: LDTR access rights: S is 1");
    if (!(ldtr.ar & ar::P)) return guest("SDM 26.3.1.2: LDTR access rights: P is 0");
    if (ldtr.ar & ar::RESERVED_11_8) return guest("SDM 26.3.1.2: LDTR access rights: reserved bits 11:8 are not 0");
    if (!granularity_consistent(ldtr.limit, ldtr.ar))
      return guest("SDM 26.3.1.2: LDTR access rights: G is inconsistent with the limit");
    if (ldtr.ar & ar::RESERVED_31_17) return guest("SDM 26.3.1.2: LDTR access rights: reserved bits 31:17 are not 0");
  }
  return {};
}

}  // namespace

// ---- SDM 26.2.1.1: VM-execution control fields --------------------------------

namespace {
// "Process posted interrupts" (SDM 26.2.1.1).
EntryCheckResult check_posted_interrupts(VmcsView v, const Controls& c) {
  namespace pid = posted_interrupt_desc;
  if (!(c.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY))
    return control("SDM 26.2.1.1: \"process posted interrupts\" is 1 without \"virtual-interrupt delivery\"");
  if (!(c.exit & exit_ctl::ACK_INTERRUPT_ON_EXIT))
    return control("SDM 26.2.1.1: \"process posted interrupts\" is 1 without \"acknowledge interrupt on exit\"");
  if (v.read<F::POSTED_INTR_NV>() >> 8)
    return control("SDM 26.2.1.1: posted-interrupt notification vector bits 15:8 are not 0");
  const uint64_t desc = v.read<F::POSTED_INTR_DESC_ADDR>();
  if (desc & pid::ALIGN_MASK) return control("SDM 26.2.1.1: posted-interrupt descriptor address bits 5:0 are not 0");
  if (!phys_in_range(desc))
    return control("SDM 26.2.1.1: posted-interrupt descriptor address sets bits beyond the physical-address width");
  return {};
}
}  // namespace

EntryCheckResult check_vm_execution_controls(VmcsView v, const EntryCheckContext& ctx) {
  const VmxCapabilities& caps = ctx.caps;
  const Controls c(v);

  if (!ctls_valid(caps.pinbased, c.pin))
    return control("SDM 26.2.1.1: reserved bits in the pin-based VM-execution controls (IA32_VMX_TRUE_PINBASED_CTLS)");
  if (!ctls_valid(caps.procbased, c.proc))
    return control("SDM 26.2.1.1: reserved bits in the primary processor-based VM-execution controls (IA32_VMX_TRUE_PROCBASED_CTLS)");
  // Secondary controls are checked only when activated.
  if ((c.proc & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) && !ctls_valid(caps.procbased2, c.proc2_raw))
    return control("SDM 26.2.1.1: reserved bits in the secondary processor-based VM-execution controls (IA32_VMX_PROCBASED_CTLS2)");
  // Tertiary controls, VM functions, EPT-violation #VE, sub-page
  // permissions, PT: not offered, so rejected above as reserved bits.

  if (v.read<F::CR3_TARGET_COUNT>() > vmx_misc::CR3_TARGETS.get(caps.misc))
    return control("SDM 26.2.1.1: CR3-target count exceeds IA32_VMX_MISC[24:16]");

  if (c.proc & proc_ctl::USE_IO_BITMAPS) {
    if (const char* p = page_address_problem(v.read<F::IO_BITMAP_A>(), kIoBitmapA)) return control(p);
    if (const char* p = page_address_problem(v.read<F::IO_BITMAP_B>(), kIoBitmapB)) return control(p);
  }
  if (c.proc & proc_ctl::USE_MSR_BITMAPS) {
    if (const char* p = page_address_problem(v.read<F::MSR_BITMAP>(), kMsrBitmap)) return control(p);
  }

  if (c.proc & proc_ctl::USE_TPR_SHADOW) {
    if (const char* p = page_address_problem(v.read<F::VIRTUAL_APIC_PAGE_ADDR>(), kVirtualApic)) return control(p);
    if (!(c.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY) && (v.read<F::TPR_THRESHOLD>() >> 4))
      return control("SDM 26.2.1.1: TPR threshold bits 31:4 are not 0");
    EntryCheckResult r = check_tpr_threshold_vtpr(v, ctx);
    if (!r.ok()) return r;
  }

  if (!(c.pin & pin_ctl::NMI_EXITING) && (c.pin & pin_ctl::VIRTUAL_NMIS))
    return control("SDM 26.2.1.1: \"virtual NMIs\" is 1 without \"NMI exiting\"");
  if (!(c.pin & pin_ctl::VIRTUAL_NMIS) && (c.proc & proc_ctl::NMI_WINDOW_EXITING))
    return control("SDM 26.2.1.1: \"NMI-window exiting\" is 1 without \"virtual NMIs\"");

  if (c.proc2 & proc_ctl2::VIRTUALIZE_APIC_ACCESSES) {
    if (const char* p = page_address_problem(v.read<F::APIC_ACCESS_ADDR>(), kApicAccess)) return control(p);
  }
  if (!(c.proc & proc_ctl::USE_TPR_SHADOW) && (c.proc2 & proc_ctl2::VIRTUALIZE_X2APIC_MODE))
    return control("SDM 26.2.1.1: \"virtualize x2APIC mode\" is 1 without \"use TPR shadow\"");
  if (!(c.proc & proc_ctl::USE_TPR_SHADOW) && (c.proc2 & proc_ctl2::APIC_REGISTER_VIRTUALIZATION))
    return control("SDM 26.2.1.1: \"APIC-register virtualization\" is 1 without \"use TPR shadow\"");
  if ((c.proc2 & proc_ctl2::VIRTUALIZE_X2APIC_MODE) && (c.proc2 & proc_ctl2::VIRTUALIZE_APIC_ACCESSES))
    return control("SDM 26.2.1.1: \"virtualize x2APIC mode\" and \"virtualize APIC accesses\" are both 1");
  if (!(c.proc & proc_ctl::USE_TPR_SHADOW) && (c.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY))
    return control("SDM 26.2.1.1: \"virtual-interrupt delivery\" is 1 without \"use TPR shadow\"");
  if ((c.proc2 & proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY) && !(c.pin & pin_ctl::EXTERNAL_INTERRUPT_EXITING))
    return control("SDM 26.2.1.1: \"virtual-interrupt delivery\" is 1 without \"external-interrupt exiting\"");
  if (c.pin & pin_ctl::POSTED_INTERRUPTS) {
    EntryCheckResult r = check_posted_interrupts(v, c);
    if (!r.ok()) return r;
  }

  if ((c.proc2 & proc_ctl2::ENABLE_VPID) && v.read<F::VIRTUAL_PROCESSOR_ID>() == 0)
    return control("SDM 26.2.1.1: VPID is 0000H with \"enable VPID\"");

  if (c.proc2 & proc_ctl2::ENABLE_EPT) {
    EntryCheckResult r = check_eptp(v.read<F::EPT_POINTER>(), caps);
    if (!r.ok()) return r;
  }

  if (c.proc2 & proc_ctl2::ENABLE_PML) {
    if (!(c.proc2 & proc_ctl2::ENABLE_EPT)) return control("SDM 26.2.1.1: \"enable PML\" is 1 without \"enable EPT\"");
    if (const char* p = page_address_problem(v.read<F::PML_ADDRESS>(), kPmlAddress)) return control(p);
  }

  if ((c.proc2 & proc_ctl2::UNRESTRICTED_GUEST) && !(c.proc2 & proc_ctl2::ENABLE_EPT))
    return control("SDM 26.2.1.1: \"unrestricted guest\" is 1 without \"enable EPT\"");

  if (c.proc2 & proc_ctl2::VMCS_SHADOWING) {
    if (const char* p = page_address_problem(v.read<F::VMREAD_BITMAP>(), kVmreadBitmap)) return control(p);
    if (const char* p = page_address_problem(v.read<F::VMWRITE_BITMAP>(), kVmwriteBitmap)) return control(p);
  }
  return {};
}

EntryCheckResult check_tpr_threshold_vtpr(VmcsView v, const EntryCheckContext& ctx) {
  // With "use TPR shadow" and neither "virtualize APIC accesses" nor
  // "virtual-interrupt delivery": TPR threshold[3:0] may not
  // exceed VTPR[7:4], byte 80H of the virtual-APIC page (SDM 26.2.1.1).
  // With "virtualize APIC accesses" a VM exit follows the entry instead
  // (SDM 26.6.7).
  const Controls c(v);
  if (!(c.proc & proc_ctl::USE_TPR_SHADOW) ||
      (c.proc2 & (proc_ctl2::VIRTUALIZE_APIC_ACCESSES | proc_ctl2::VIRTUAL_INTERRUPT_DELIVERY)))
    return {};
  const uint64_t vtpr = ctx.read_phys(ctx.read_phys_opaque, v.read<F::VIRTUAL_APIC_PAGE_ADDR>() + arch::apic::TPR, 4);
  if (tpr_shadow::below_threshold(vtpr, v.read<F::TPR_THRESHOLD>()))
    return control("SDM 26.2.1.1: TPR threshold bits 3:0 exceed bits 7:4 of VTPR");
  return {};
}

// ---- SDM 26.2.1.2: VM-exit control fields ---------------------------------------

EntryCheckResult check_vm_exit_controls(VmcsView v, const EntryCheckContext& ctx) {
  const Controls c(v);
  if (!ctls_valid(ctx.caps.exit, c.exit))
    return control("SDM 26.2.1.2: reserved bits in the VM-exit controls (IA32_VMX_TRUE_EXIT_CTLS)");
  if (!(c.pin & pin_ctl::PREEMPTION_TIMER) && (c.exit & exit_ctl::SAVE_PREEMPTION_TIMER))
    return control("SDM 26.2.1.2: \"save VMX-preemption timer value\" is 1 without \"activate VMX-preemption timer\"");
  if (const char* p = msr_area_problem(v.read<F::VM_EXIT_MSR_STORE_ADDR>(),
                                       uint32_t(v.read<F::VM_EXIT_MSR_STORE_COUNT>()), kExitMsrStore))
    return control(p);
  if (const char* p = msr_area_problem(v.read<F::VM_EXIT_MSR_LOAD_ADDR>(),
                                       uint32_t(v.read<F::VM_EXIT_MSR_LOAD_COUNT>()), kExitMsrLoad))
    return control(p);
  return {};
}

// ---- SDM 26.2.1.3: VM-entry control fields --------------------------------------

EntryCheckResult check_vm_entry_controls(VmcsView v, const EntryCheckContext& ctx) {
  const VmxCapabilities& caps = ctx.caps;
  const Controls c(v);
  if (!ctls_valid(caps.entry, c.entry))
    return control("SDM 26.2.1.3: reserved bits in the VM-entry controls (IA32_VMX_TRUE_ENTRY_CTLS)");

  // Event injection.
  const uint64_t info = v.read<F::VM_ENTRY_INTR_INFO_FIELD>();
  if (intr_info::VALID.test(info)) {
    const uint64_t type = intr_info::TYPE.get(info);
    const uint64_t vector = intr_info::VECTOR.get(info);
    const bool deliver_ec = intr_info::ERROR_CODE_VALID.test(info);
    const bool mtf_supported = ctls_allowed1(caps.procbased) & proc_ctl::MONITOR_TRAP_FLAG;
    if (type == 1) return control("SDM 26.2.1.3: event injection: interruption type 1 is reserved");
    if (type == intr_info::TYPE_OTHER_EVENT && !mtf_supported)
      return control("SDM 26.2.1.3: event injection: interruption type 7 needs \"monitor trap flag\" support");
    if (type == intr_info::TYPE_NMI && vector != uint8_t(arch::Vector::NMI))
      return control("SDM 26.2.1.3: event injection: NMI with a vector other than 2");
    if (type == intr_info::TYPE_HARDWARE_EXCEPTION && vector > 31)
      return control("SDM 26.2.1.3: event injection: hardware exception with a vector above 31");
    if (type == intr_info::TYPE_OTHER_EVENT && vector != 0)
      return control("SDM 26.2.1.3: event injection: other event with a vector other than 0");
    // Deliver-error-code: only hardware exceptions in protected mode (CR0.PE
    // of the guest, or no unrestricted guest), and, unless
    // IA32_VMX_BASIC[56], exactly for the vectors that push one (#DF, #TS,
    // #NP, #SS, #GP, #PF, #AC, #CP).
    const bool prot_mode = !c.unrestricted_guest() || (v.read<F::GUEST_CR0>() & cr0::PE);
    const bool may_deliver = type == intr_info::TYPE_HARDWARE_EXCEPTION && prot_mode;
    const bool any_vector = vmx_basic::NO_HW_ERROR_CODE_CHECK.test(caps.basic);
    const bool ec_ok = any_vector ? (!deliver_ec || may_deliver)
                                  : deliver_ec == (may_deliver && arch::exception_has_error_code(uint8_t(vector)));
    if (!ec_ok) return control("SDM 26.2.1.3: event injection: deliver-error-code bit inconsistent with type, vector and CR0.PE");
    if (info & kIntrInfoReserved) return control("SDM 26.2.1.3: event injection: reserved bits 30:12 are not 0");
    // Error codes are 16 bits (the SDM once said 31:15; hardware and current
    // editions use 31:16).
    if (deliver_ec && (v.read<F::VM_ENTRY_EXCEPTION_ERROR_CODE>() >> 16))
      return control("SDM 26.2.1.3: event injection: error code bits 31:16 are not 0");
    if (type == intr_info::TYPE_SOFTWARE_INTERRUPT || type == intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION ||
        type == intr_info::TYPE_SOFTWARE_EXCEPTION) {
      const uint64_t len = v.read<F::VM_ENTRY_INSTRUCTION_LEN>();
      if (len > 15) return control("SDM 26.2.1.3: event injection: instruction length above 15");
      if (len == 0 && !vmx_misc::ZERO_LENGTH_INJECTION.test(caps.misc))
        return control("SDM 26.2.1.3: event injection: instruction length 0 without IA32_VMX_MISC[30]");
    }
  }

  if (const char* p = msr_area_problem(v.read<F::VM_ENTRY_MSR_LOAD_ADDR>(),
                                       uint32_t(v.read<F::VM_ENTRY_MSR_LOAD_COUNT>()), kEntryMsrLoad))
    return control(p);

  // The sim CPU is never in SMM.
  if (c.entry & entry_ctl::ENTRY_TO_SMM) return control("SDM 26.2.1.3: \"entry to SMM\" is 1 outside SMM");
  if (c.entry & entry_ctl::DEACTIVATE_DUAL_MONITOR)
    return control("SDM 26.2.1.3: \"deactivate dual-monitor treatment\" is 1 outside SMM");
  return {};
}

// ---- SDM 26.2.2-26.2.4: host-state area -----------------------------------------

EntryCheckResult check_host_state(VmcsView v, const EntryCheckContext& ctx) {
  const VmxCapabilities& caps = ctx.caps;
  const Controls c(v);

  // 26.2.2: control registers and MSRs. CR0.NW and CR0.CD are never checked
  // (VM exit does not change them).
  const uint64_t nw_cd = cr0::NW | cr0::CD;
  if (!cr_fixed_valid(v.read<F::HOST_CR0>() & ~nw_cd, caps.cr0_fixed0 & ~nw_cd, caps.cr0_fixed1))
    return host("SDM 26.2.2: host CR0 has a bit fixed by IA32_VMX_CR0_FIXED0/1 at the wrong value");
  const uint64_t host_cr4 = v.read<F::HOST_CR4>();
  if (!cr_fixed_valid(host_cr4, caps.cr4_fixed0, caps.cr4_fixed1))
    return host("SDM 26.2.2: host CR4 has a bit fixed by IA32_VMX_CR4_FIXED0/1 at the wrong value");
  if (!phys_in_range(v.read<F::HOST_CR3>())) return host("SDM 26.2.2: host CR3 sets bits beyond the physical-address width");
  if (!arch::is_canonical(v.read<F::HOST_IA32_SYSENTER_ESP>()))
    return host("SDM 26.2.2: host IA32_SYSENTER_ESP is not canonical");
  if (!arch::is_canonical(v.read<F::HOST_IA32_SYSENTER_EIP>()))
    return host("SDM 26.2.2: host IA32_SYSENTER_EIP is not canonical");
  if ((c.exit & exit_ctl::LOAD_PAT) && !arch::msr::pat_valid(v.read<F::HOST_IA32_PAT>()))
    return host("SDM 26.2.2: host IA32_PAT holds a reserved memory type");
  if (c.exit & exit_ctl::LOAD_EFER) {
    const uint64_t e = v.read<F::HOST_IA32_EFER>();
    if (e & efer::RESERVED) return host("SDM 26.2.2: host IA32_EFER reserved bits are not 0");
    if (bool(e & efer::LMA) != c.host_64())
      return host("SDM 26.2.2: host IA32_EFER.LMA differs from \"host address-space size\"");
    if (bool(e & efer::LME) != c.host_64())
      return host("SDM 26.2.2: host IA32_EFER.LME differs from \"host address-space size\"");
  }

  // 26.2.3: segment and descriptor-table registers.
  static constexpr struct {
    uint16_t slot;
    const char* check;
  } kSelectors[] = {
#define NESTBED_HOST_SELECTOR(seg) {slot(F::HOST_##seg##_SELECTOR), "SDM 26.2.3: host " #seg " selector RPL or TI is not 0"}
      NESTBED_HOST_SELECTOR(ES), NESTBED_HOST_SELECTOR(CS), NESTBED_HOST_SELECTOR(SS), NESTBED_HOST_SELECTOR(DS),
      NESTBED_HOST_SELECTOR(FS), NESTBED_HOST_SELECTOR(GS), NESTBED_HOST_SELECTOR(TR),
#undef NESTBED_HOST_SELECTOR
  };
  for (const auto& s : kSelectors) {
    const uint16_t sel = uint16_t(v.fields[s.slot]);
    if (arch::seg::selector_rpl(sel) != 0 || arch::seg::selector_ti(sel)) return host(s.check);
  }
  if (v.read<F::HOST_CS_SELECTOR>() == 0) return host("SDM 26.2.3: host CS selector is 0000H");
  if (v.read<F::HOST_TR_SELECTOR>() == 0) return host("SDM 26.2.3: host TR selector is 0000H");
  if (v.read<F::HOST_SS_SELECTOR>() == 0 && !c.host_64())
    return host("SDM 26.2.3: host SS selector is 0000H with \"host address-space size\" 0");
  static constexpr struct {
    uint16_t slot;
    const char* check;
  } kBases[] = {
#define NESTBED_HOST_BASE(reg) {slot(F::HOST_##reg##_BASE), "SDM 26.2.3: host " #reg " base is not canonical"}
      NESTBED_HOST_BASE(FS), NESTBED_HOST_BASE(GS), NESTBED_HOST_BASE(GDTR), NESTBED_HOST_BASE(IDTR),
      NESTBED_HOST_BASE(TR),
#undef NESTBED_HOST_BASE
  };
  for (const auto& b : kBases)
    if (!arch::is_canonical(v.fields[b.slot])) return host(b.check);

  // 26.2.4: address-space size.
  if (!ctx.cpu_in_ia32e_mode) {
    if (c.ia32e_guest()) return host("SDM 26.2.4: \"IA-32e mode guest\" is 1 while the CPU is outside IA-32e mode");
    if (c.host_64()) return host("SDM 26.2.4: \"host address-space size\" is 1 while the CPU is outside IA-32e mode");
  } else if (!c.host_64()) {
    return host("SDM 26.2.4: \"host address-space size\" is 0 while the CPU is in IA-32e mode");
  }
  const uint64_t host_rip = v.read<F::HOST_RIP>();
  if (!c.host_64()) {
    // (Implied by the two checks above on a CPU that supports Intel 64; kept
    // because the SDM lists it.)
    if (c.ia32e_guest()) return host("SDM 26.2.4: \"IA-32e mode guest\" is 1 with \"host address-space size\" 0");
    if (host_cr4 & cr4::PCIDE) return host("SDM 26.2.4: host CR4.PCIDE is 1 with \"host address-space size\" 0");
    if (host_rip >> 32) return host("SDM 26.2.4: host RIP bits 63:32 are not 0 with \"host address-space size\" 0");
  } else {
    if (!(host_cr4 & cr4::PAE)) return host("SDM 26.2.4: host CR4.PAE is 0 with \"host address-space size\" 1");
    if (!arch::is_canonical(host_rip)) return host("SDM 26.2.4: host RIP is not canonical");
  }
  return {};
}

// ---- SDM 26.3.1: guest-state area -------------------------------------------------

// 26.3.1.1-26.3.1.3: only the control fields, kGuestRegisterFields and
// RFLAGS.VM are read here (entry_checks.h; tests/unit check it).
EntryCheckResult check_guest_registers(VmcsView v, const EntryCheckContext& ctx) {
  const VmxCapabilities& caps = ctx.caps;
  const Controls c(v);
  const bool ug = c.unrestricted_guest();
  const bool ia32e = c.ia32e_guest();
  const uint64_t g_cr0 = v.read<F::GUEST_CR0>();
  const uint64_t g_cr4 = v.read<F::GUEST_CR4>();
  const uint64_t debugctl = v.read<F::GUEST_IA32_DEBUGCTL>();

  // ---- 26.3.1.1: control registers, debug registers and MSRs ----
  {
    // NW and CD are never checked (VM entry does not change them); PE and
    // PG are exempt with unrestricted guest.
    const uint64_t exempt = cr0::NW | cr0::CD | (ug ? cr0::PE | cr0::PG : 0);
    if (!cr_fixed_valid(g_cr0 & ~exempt, caps.cr0_fixed0 & ~exempt, caps.cr0_fixed1))
      return guest("SDM 26.3.1.1: guest CR0 has a bit fixed by IA32_VMX_CR0_FIXED0/1 at the wrong value");
  }
  if ((g_cr0 & cr0::PG) && !(g_cr0 & cr0::PE)) return guest("SDM 26.3.1.1: guest CR0.PG is 1 with CR0.PE 0");
  if (!cr_fixed_valid(g_cr4, caps.cr4_fixed0, caps.cr4_fixed1))
    return guest("SDM 26.3.1.1: guest CR4 has a bit fixed by IA32_VMX_CR4_FIXED0/1 at the wrong value");
  if ((c.entry & entry_ctl::LOAD_DEBUG_CONTROLS) && (debugctl & ~ctx.debugctl_supported))
    return guest("SDM 26.3.1.1: guest IA32_DEBUGCTL sets bits this CPU reserves");
  if (ia32e && !(g_cr0 & cr0::PG)) return guest("SDM 26.3.1.1: guest CR0.PG is 0 with \"IA-32e mode guest\"");
  if (ia32e && !(g_cr4 & cr4::PAE)) return guest("SDM 26.3.1.1: guest CR4.PAE is 0 with \"IA-32e mode guest\"");
  if (!ia32e && (g_cr4 & cr4::PCIDE)) return guest("SDM 26.3.1.1: guest CR4.PCIDE is 1 without \"IA-32e mode guest\"");
  if (!phys_in_range(v.read<F::GUEST_CR3>())) return guest("SDM 26.3.1.1: guest CR3 sets bits beyond the physical-address width");
  if ((c.entry & entry_ctl::LOAD_DEBUG_CONTROLS) && (v.read<F::GUEST_DR7>() >> 32))
    return guest("SDM 26.3.1.1: guest DR7 bits 63:32 are not 0");
  if (!arch::is_canonical(v.read<F::GUEST_SYSENTER_ESP>()))
    return guest("SDM 26.3.1.1: guest IA32_SYSENTER_ESP is not canonical");
  if (!arch::is_canonical(v.read<F::GUEST_SYSENTER_EIP>()))
    return guest("SDM 26.3.1.1: guest IA32_SYSENTER_EIP is not canonical");
  if ((c.entry & entry_ctl::LOAD_PAT) && !arch::msr::pat_valid(v.read<F::GUEST_IA32_PAT>()))
    return guest("SDM 26.3.1.1: guest IA32_PAT holds a reserved memory type");
  if (c.entry & entry_ctl::LOAD_EFER) {
    const uint64_t e = v.read<F::GUEST_IA32_EFER>();
    if (e & efer::RESERVED) return guest("SDM 26.3.1.1: guest IA32_EFER reserved bits are not 0");
    if (bool(e & efer::LMA) != ia32e) return guest("SDM 26.3.1.1: guest IA32_EFER.LMA differs from \"IA-32e mode guest\"");
    if ((g_cr0 & cr0::PG) && bool(e & efer::LME) != bool(e & efer::LMA))
      return guest("SDM 26.3.1.1: guest IA32_EFER.LME differs from LMA with CR0.PG 1");
  }

  // ---- 26.3.1.2: segment registers ----
  if (EntryCheckResult r = check_guest_segments(v, c); !r.ok()) return r;

  // ---- 26.3.1.3: descriptor-table registers ----
  if (!arch::is_canonical(v.read<F::GUEST_GDTR_BASE>())) return guest("SDM 26.3.1.3: guest GDTR base is not canonical");
  if (!arch::is_canonical(v.read<F::GUEST_IDTR_BASE>())) return guest("SDM 26.3.1.3: guest IDTR base is not canonical");
  if (v.read<F::GUEST_GDTR_LIMIT>() >> 16) return guest("SDM 26.3.1.3: guest GDTR limit bits 31:16 are not 0");
  if (v.read<F::GUEST_IDTR_LIMIT>() >> 16) return guest("SDM 26.3.1.3: guest IDTR limit bits 31:16 are not 0");
  return {};
}

// 26.3.1.4-26.3.1.6.
EntryCheckResult check_guest_non_register_state(VmcsView v, const EntryCheckContext& ctx) {
  const VmxCapabilities& caps = ctx.caps;
  const Controls c(v);
  const bool ia32e = c.ia32e_guest();
  const uint64_t g_cr0 = v.read<F::GUEST_CR0>();
  const uint64_t g_cr4 = v.read<F::GUEST_CR4>();
  const uint64_t rflags = v.read<F::GUEST_RFLAGS>();
  const uint64_t debugctl = v.read<F::GUEST_IA32_DEBUGCTL>();

  // ---- 26.3.1.4: RIP and RFLAGS ----
  const uint64_t info = v.read<F::VM_ENTRY_INTR_INFO_FIELD>();
  const bool injecting = intr_info::VALID.test(info);
  const uint64_t inj_type = intr_info::TYPE.get(info);
  const uint64_t inj_vector = intr_info::VECTOR.get(info);
  {
    const uint64_t rip = v.read<F::GUEST_RIP>();
    const bool long_cs = ia32e && (v.read<F::GUEST_CS_AR_BYTES>() & ar::L);
    if (!long_cs && (rip >> 32)) return guest("SDM 26.3.1.4: guest RIP bits 63:32 are not 0 outside 64-bit mode");
    if (long_cs && !arch::is_canonical(rip)) return guest("SDM 26.3.1.4: guest RIP is not canonical in 64-bit mode");
  }
  if ((rflags & ~kRflagsDefined) || !(rflags & rf::FIXED1))
    return guest("SDM 26.3.1.4: guest RFLAGS reserved bits are not 0 or bit 1 is not 1");
  if ((rflags & rf::VM) && (ia32e || !(g_cr0 & cr0::PE)))
    return guest("SDM 26.3.1.4: guest RFLAGS.VM is 1 with \"IA-32e mode guest\" or CR0.PE 0");
  if (injecting && inj_type == intr_info::TYPE_EXTERNAL_INTERRUPT && !(rflags & rf::IF))
    return guest("SDM 26.3.1.4: guest RFLAGS.IF is 0 while injecting an external interrupt");

  // ---- 26.3.1.5: non-register state ----
  const uint64_t activity = v.read<F::GUEST_ACTIVITY_STATE>();
  const uint64_t intr = v.read<F::GUEST_INTERRUPTIBILITY_INFO>();
  const bool sti = interruptibility::BLOCKING_BY_STI.test(intr);
  const bool mov_ss = interruptibility::BLOCKING_BY_MOV_SS.test(intr);
  const unsigned ss_dpl = (v.read<F::GUEST_SS_AR_BYTES>() & ar::DPL_MASK) >> ar::DPL_SHIFT;

  // Activity state.
  if (!vmx_misc_activity_supported(caps.misc, activity))
    return guest("SDM 26.3.1.5: guest activity state is not one IA32_VMX_MISC reports");
  if (activity == activity_state::HLT && ss_dpl != 0) return guest("SDM 26.3.1.5: guest activity state HLT with SS.DPL not 0");
  if ((sti || mov_ss) && activity != activity_state::ACTIVE)
    return guest("SDM 26.3.1.5: guest activity state is not active with blocking by STI or MOV SS");
  if (injecting && activity != activity_state::ACTIVE) {
    const bool mc = inj_type == intr_info::TYPE_HARDWARE_EXCEPTION && inj_vector == uint8_t(arch::Vector::MC);
    bool allowed = false;
    if (activity == activity_state::HLT) {
      allowed = inj_type == intr_info::TYPE_EXTERNAL_INTERRUPT || inj_type == intr_info::TYPE_NMI || mc ||
                (inj_type == intr_info::TYPE_HARDWARE_EXCEPTION && inj_vector == uint8_t(arch::Vector::DB)) ||
                (inj_type == intr_info::TYPE_OTHER_EVENT && inj_vector == 0);
    } else if (activity == activity_state::SHUTDOWN) {
      allowed = inj_type == intr_info::TYPE_NMI || mc;
    }  // wait-for-SIPI: nothing
    if (!allowed) return guest("SDM 26.3.1.5: injected event would be blocked in the guest activity state");
  }
  // ("entry to SMM" with wait-for-SIPI: entry to SMM is already rejected.)

  // Interruptibility state.
  if (intr & ~(interruptibility::BLOCKING_BY_STI.mask | interruptibility::BLOCKING_BY_MOV_SS.mask |
               interruptibility::BLOCKING_BY_SMI.mask | interruptibility::BLOCKING_BY_NMI.mask |
               interruptibility::ENCLAVE_INTERRUPTION.mask))
    return guest("SDM 26.3.1.5: guest interruptibility-state reserved bits 31:5 are not 0");
  if (sti && mov_ss) return guest("SDM 26.3.1.5: guest interruptibility state has blocking by both STI and MOV SS");
  if (sti && !(rflags & rf::IF)) return guest("SDM 26.3.1.5: guest blocking by STI with RFLAGS.IF 0");
  if (injecting && inj_type == intr_info::TYPE_EXTERNAL_INTERRUPT && (sti || mov_ss))
    return guest("SDM 26.3.1.5: blocking by STI or MOV SS while injecting an external interrupt");
  if (injecting && inj_type == intr_info::TYPE_NMI && mov_ss)
    return guest("SDM 26.3.1.5: blocking by MOV SS while injecting an NMI");
  if (interruptibility::BLOCKING_BY_SMI.test(intr)) return guest("SDM 26.3.1.5: guest blocking by SMI outside SMM");
  // (Some processors also refuse blocking by STI with an injected NMI; the sim does not.)
  if ((c.pin & pin_ctl::VIRTUAL_NMIS) && injecting && inj_type == intr_info::TYPE_NMI &&
      interruptibility::BLOCKING_BY_NMI.test(intr))
    return guest("SDM 26.3.1.5: blocking by NMI while injecting an NMI with \"virtual NMIs\"");
  if (interruptibility::ENCLAVE_INTERRUPTION.test(intr))
    return guest("SDM 26.3.1.5: guest enclave interruption is 1 but SGX is not supported");

  // Pending debug exceptions.
  const uint64_t pending = v.read<F::GUEST_PENDING_DBG_EXCEPTIONS>();
  if (pending & ~kPendingDbgDefined) return guest("SDM 26.3.1.5: guest pending debug exceptions reserved bits are not 0");
  if (sti || mov_ss || activity == activity_state::HLT) {
    const bool tf = rflags & rf::TF;
    const bool btf = debugctl & arch::msr::DEBUGCTL_BTF;
    const bool bs = pending_dbg::BS.test(pending);
    if (tf && !btf && !bs) return guest("SDM 26.3.1.5: pending debug exceptions BS is 0 with RFLAGS.TF 1 and DEBUGCTL.BTF 0");
    if ((!tf || btf) && bs) return guest("SDM 26.3.1.5: pending debug exceptions BS is 1 with RFLAGS.TF 0 or DEBUGCTL.BTF 1");
  }

  // VMCS link pointer (failure qualification 4).
  const uint64_t link = v.read<F::VMCS_LINK_POINTER>();
  if (link != VMCS_POINTER_NONE) {
    const uint64_t q = qual_entry_failure::ENTRY_FAIL_VMCS_LINK_POINTER;
    if (!page_aligned(link)) return guest("SDM 26.3.1.5: VMCS link pointer bits 11:0 are not 0", q);
    if (!phys_in_range(link)) return guest("SDM 26.3.1.5: VMCS link pointer sets bits beyond the physical-address width", q);
    const uint32_t header = uint32_t(ctx.read_phys(ctx.read_phys_opaque, link + vmcs_region::REVISION_OFFSET, 4));
    if ((header & vmcs_region::REVISION_ID_MASK) != vmx_basic::REVISION_ID.get(caps.basic))
      return guest("SDM 26.3.1.5: VMCS link pointer: referenced revision identifier is not this CPU's", q);
    if (bool(header & vmcs_region::SHADOW_VMCS_INDICATOR) != bool(c.proc2 & proc_ctl2::VMCS_SHADOWING))
      return guest("SDM 26.3.1.5: VMCS link pointer: shadow-VMCS indicator differs from \"VMCS shadowing\"", q);
    if (link == ctx.current_vmcs_pointer) return guest("SDM 26.3.1.5: VMCS link pointer is the current-VMCS pointer", q);
  }

  // ---- 26.3.1.6: PDPTEs of a PAE-paging guest (failure qualification 2) ----
  // With EPT, the PDPTE fields of the VMCS; without, the entries CR3 points at.
  if ((g_cr0 & cr0::PG) && (g_cr4 & cr4::PAE) && !ia32e) {
    static constexpr struct {
      uint16_t slot;
      const char* check;
    } kPdptes[4] = {
#define NESTBED_PDPTE(i) {slot(F::GUEST_PDPTR##i), "SDM 26.3.1.6: guest PDPTE" #i " sets reserved bits"}
        NESTBED_PDPTE(0), NESTBED_PDPTE(1), NESTBED_PDPTE(2), NESTBED_PDPTE(3),
#undef NESTBED_PDPTE
    };
    const bool ept = c.proc2 & proc_ctl2::ENABLE_EPT;
    const uint64_t pdpt = v.read<F::GUEST_CR3>() & arch::pte::PAE_PDPT_ADDR_MASK;
    for (unsigned i = 0; i < 4; ++i) {
      const uint64_t e = ept ? v.fields[kPdptes[i].slot] : ctx.read_phys(ctx.read_phys_opaque, pdpt + 8 * i, 8);
      if ((e & arch::pte::P) && (e & arch::pte::PAE_PDPTE_RSVD))
        return guest(kPdptes[i].check, qual_entry_failure::ENTRY_FAIL_PDPTE);
    }
  }
  return {};
}

// The EPTP checks of SDM 26.2.1.1, also applied by INVEPT (SDM 30.3).
EntryCheckResult check_eptp(uint64_t eptp_v, const VmxCapabilities& caps) {
  const uint64_t cap = caps.ept_vpid_cap;
  const uint64_t type = eptp::MEMORY_TYPE.get(eptp_v);
  const bool type_ok = (type == ept_memory_type::UC && vmx_ept_vpid_cap::MEMTYPE_UC.test(cap)) ||
                       (type == ept_memory_type::WB && vmx_ept_vpid_cap::MEMTYPE_WB.test(cap));
  if (!type_ok) return control("SDM 26.2.1.1: EPTP memory type is not one IA32_VMX_EPT_VPID_CAP allows");
  const uint64_t walk = eptp::PAGE_WALK_LENGTH.get(eptp_v);
  const bool walk_ok = (walk == eptp::WALK_4_LEVELS && vmx_ept_vpid_cap::PAGE_WALK_4.test(cap)) ||
                       (walk == eptp::WALK_5_LEVELS && vmx_ept_vpid_cap::PAGE_WALK_5.test(cap));
  if (!walk_ok) return control("SDM 26.2.1.1: EPTP page-walk length is not one IA32_VMX_EPT_VPID_CAP allows");
  if (eptp::ENABLE_AD.test(eptp_v) && !vmx_ept_vpid_cap::ACCESSED_DIRTY.test(cap))
    return control("SDM 26.2.1.1: EPTP enables accessed/dirty flags, which IA32_VMX_EPT_VPID_CAP[21] does not offer");
  if (eptp::ENABLE_SSS.test(eptp_v) && !vmx_ept_vpid_cap::SUPERVISOR_SHADOW_STACK.test(cap))
    return control("SDM 26.2.1.1: EPTP reserved bit 7 (supervisor shadow stack, not offered) is 1");
  const uint64_t eptp_defined = eptp::MEMORY_TYPE.mask | eptp::PAGE_WALK_LENGTH.mask | eptp::ENABLE_AD.mask |
                                eptp::ENABLE_SSS.mask | arch::pte::ADDR_MASK;
  if (eptp_v & ~eptp_defined) return control("SDM 26.2.1.1: EPTP reserved bits 11:8 or 63:MAXPHYADDR are not 0");
  return {};
}

EntryCheckResult check_guest_state(VmcsView v, const EntryCheckContext& ctx) {
  EntryCheckResult r = check_guest_registers(v, ctx);
  if (r.ok()) r = check_guest_non_register_state(v, ctx);
  return r;
}

EntryCheckResult check_vm_entry(VmcsView v, const EntryCheckContext& ctx) {
  EntryCheckResult r = check_vm_execution_controls(v, ctx);
  if (r.ok()) r = check_vm_exit_controls(v, ctx);
  if (r.ok()) r = check_vm_entry_controls(v, ctx);
  if (r.ok()) r = check_host_state(v, ctx);
  if (r.ok()) r = check_guest_state(v, ctx);
  return r;
}

}  // namespace nestbed::common::vmx
