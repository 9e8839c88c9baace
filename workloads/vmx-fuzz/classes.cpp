// The fixed classes of vmx-fuzz, before the random cases: one variant of
// the good VMCS per class of bad vmcs12 (controls, host state, guest state,
// MSR lists, the VMCS link pointer, EPT) and per class of bad VMX-instruction
// operand, plus a few valid-but-unusual ones whose exits show what was
// loaded and saved. Each prints "class <name>: <outcome>" (fuzz.cpp's
// format for VM entries; VMsucceed/VMfailInvalid/VMfailValid <n> or the
// exception the instruction raised, for the other VMX instructions).
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/libc.h"
#include "workloads/vmx-fuzz/fuzz.h"

namespace fuzz {
namespace {

using namespace arch::vmx;
namespace ar = arch::seg::ar;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace efer = arch::efer;
namespace msr = arch::msr;
namespace pte = arch::pte;
using selftest::caps;
using selftest::pages;
using vmx::Status;

void w(F f, uint64_t v) { vmx::vmwrite(f, v); }
uint64_t rd(F f) { return vmx::read(f); }
void set_bits(F f, uint64_t b) { w(f, rd(f) | b); }
void clear_bits(F f, uint64_t b) { w(f, rd(f) & ~b); }
uint64_t lowest(uint64_t m) { return m & (0 - m); }
uint64_t beyond_width(uint64_t pa) { return pa | (1ull << maxphyaddr); }
// Far above any RAM nestbed gives (at most 3584 MiB) and below the APIC.
constexpr uint64_t NOT_RAM = 0xf0000000ull;
// Canonical, and not mapped by the runtime's page tables (4 GiB identity map).
constexpr uint64_t UNMAPPED = 0x100000000ull;
constexpr uint64_t NON_CANONICAL = 0x0000800000000000ull;
uint64_t* ept_pte(uint64_t page) { return &reinterpret_cast<uint64_t*>(world.ept)[pte::index(page, 1)]; }
MsrEntry* entry_list() { return reinterpret_cast<MsrEntry*>(msr_areas.entry_load); }

void header(Line& L, const char* name) { L.s("class ").s(name).s(": "); }
bool skipped(const char* name) {
  if (!class_selected(name)) return true;
  if (!class_skipped(name)) return false;
  Line L;
  header(L, name);
  L.s("not run (skip=)");
  L.emit();
  return true;
}

// ---- VM-entry classes ----------------------------------------------------------------------

struct EntryClass {
  const char* name;
  void (*setup)();
};

// The VM-entry interruption-information field (SDM 24.8.3).
uint32_t event(uint8_t vector, uint64_t type, bool error_code) { return make_intr_info(vector, type, error_code); }

// 32-bit protected-mode guest with paging off (unrestricted guest).
void protected_mode_guest() {
  clear_bits(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
  clear_bits(F::GUEST_IA32_EFER, efer::LMA | efer::LME);
  clear_bits(F::GUEST_CR0, cr0::PG);
  w(F::GUEST_CS_AR_BYTES, (rd(F::GUEST_CS_AR_BYTES) & ~ar::L) | ar::DB);
}

const EntryClass kEntryClasses[] = {
    // VM-execution, VM-exit and VM-entry control fields (SDM 26.2.1): VMfailValid(7).
    {"ctl-pin-reserved-bit", [] { set_bits(F::PIN_BASED_VM_EXEC_CONTROL, lowest(~uint64_t(ctls_allowed1(caps.pinbased)) & 0xffffffff)); }},
    {"ctl-pin-default1-clear", [] { clear_bits(F::PIN_BASED_VM_EXEC_CONTROL, lowest(ctls_allowed0(caps.pinbased))); }},
    {"ctl-proc-reserved-bit", [] { set_bits(F::CPU_BASED_VM_EXEC_CONTROL, lowest(~uint64_t(ctls_allowed1(caps.procbased)) & 0xffffffff)); }},
    {"ctl-proc-default1-clear", [] { clear_bits(F::CPU_BASED_VM_EXEC_CONTROL, lowest(ctls_allowed0(caps.procbased))); }},
    {"ctl-proc2-reserved-bit", [] { set_bits(F::SECONDARY_VM_EXEC_CONTROL, lowest(~uint64_t(ctls_allowed1(caps.procbased2)) & 0xffffffff)); }},
    {"ctl-proc2-ignored-without-activate", [] {
       clear_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
       set_bits(F::SECONDARY_VM_EXEC_CONTROL, lowest(~uint64_t(ctls_allowed1(caps.procbased2)) & 0xffffffff));
       clear_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::UNRESTRICTED_GUEST);
     }},
    {"ctl-exit-reserved-bit", [] { set_bits(F::VM_EXIT_CONTROLS, lowest(~uint64_t(ctls_allowed1(caps.exit)) & 0xffffffff)); }},
    {"ctl-exit-default1-clear", [] { clear_bits(F::VM_EXIT_CONTROLS, lowest(ctls_allowed0(caps.exit))); }},
    {"ctl-entry-reserved-bit", [] { set_bits(F::VM_ENTRY_CONTROLS, lowest(~uint64_t(ctls_allowed1(caps.entry)) & 0xffffffff)); }},
    {"ctl-entry-default1-clear", [] { clear_bits(F::VM_ENTRY_CONTROLS, lowest(ctls_allowed0(caps.entry))); }},
    {"ctl-cr3-target-count", [] { w(F::CR3_TARGET_COUNT, vmx_misc::CR3_TARGETS.get(caps.misc) + 1); }},
    {"ctl-io-bitmap-a-unaligned", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_IO_BITMAPS);
       w(F::IO_BITMAP_A, pages.io_bitmap_a + 0x10);
     }},
    {"ctl-io-bitmap-b-beyond-width", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_IO_BITMAPS);
       w(F::IO_BITMAP_B, beyond_width(pages.io_bitmap_b));
     }},
    {"ctl-msr-bitmap-unaligned", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_MSR_BITMAPS);
       w(F::MSR_BITMAP, pages.msr_bitmap + 0x800);
     }},
    {"ctl-msr-bitmap-beyond-width", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_MSR_BITMAPS);
       w(F::MSR_BITMAP, beyond_width(pages.msr_bitmap));
     }},
    {"ctl-virtual-nmis-without-nmi-exiting", [] { set_bits(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::VIRTUAL_NMIS); }},
    {"ctl-nmi-window-without-virtual-nmis", [] { set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::NMI_WINDOW_EXITING); }},
    {"ctl-save-timer-without-timer", [] {
       clear_bits(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::PREEMPTION_TIMER);
       set_bits(F::VM_EXIT_CONTROLS, exit_ctl::SAVE_PREEMPTION_TIMER);
     }},
    {"ctl-eptp-memory-type-2", [] { w(F::EPT_POINTER, eptp::MEMORY_TYPE.set(rd(F::EPT_POINTER), 2)); }},
    {"ctl-eptp-walk-length-3", [] { w(F::EPT_POINTER, eptp::PAGE_WALK_LENGTH.set(rd(F::EPT_POINTER), 2)); }},
    {"ctl-eptp-bit-7", [] { set_bits(F::EPT_POINTER, 1ull << 7); }},
    {"ctl-eptp-bit-8", [] { set_bits(F::EPT_POINTER, 1ull << 8); }},
    {"ctl-eptp-beyond-width", [] { w(F::EPT_POINTER, beyond_width(rd(F::EPT_POINTER))); }},
    {"ctl-unrestricted-without-ept", [] { clear_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::ENABLE_EPT); }},
    {"ctl-vpid-0", [] { w(F::VIRTUAL_PROCESSOR_ID, 0); }},
    {"ctl-inject-reserved-type", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, intr_info::VALID.mask | intr_info::TYPE.make(1) | 0x20); }},
    {"ctl-inject-nmi-vector-3", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, intr_info::VALID.mask | intr_info::TYPE.make(intr_info::TYPE_NMI) | 3); }},
    {"ctl-inject-exception-vector-32", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(32, intr_info::TYPE_HARDWARE_EXCEPTION, false)); }},
    {"ctl-inject-ud-with-error-code", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(6, intr_info::TYPE_HARDWARE_EXCEPTION, true)); }},
    {"ctl-inject-gp-without-error-code", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(13, intr_info::TYPE_HARDWARE_EXCEPTION, false)); }},
    {"ctl-inject-reserved-bit-12", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(6, intr_info::TYPE_HARDWARE_EXCEPTION, false) | (1u << 12)); }},
    {"ctl-inject-error-code-bit-16", [] {  // bits 31:16 must be 0 (SDM 26.2.1.3)
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(13, intr_info::TYPE_HARDWARE_EXCEPTION, true));
       w(F::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x10000);
     }},
    {"ctl-inject-software-int-length-16", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(0x41, intr_info::TYPE_SOFTWARE_INTERRUPT, false));
       w(F::VM_ENTRY_INSTRUCTION_LEN, 16);
     }},
    {"ctl-inject-reserved-type-and-bad-host-state", [] {  // 26.2.1.3 comes before 26.2.2
       w(F::VM_ENTRY_INTR_INFO_FIELD, intr_info::VALID.mask | intr_info::TYPE.make(1) | 0x20);
       w(F::HOST_GS_BASE, NON_CANONICAL);
     }},
    {"ctl-entry-msr-load-unaligned", [] {
       w(F::VM_ENTRY_MSR_LOAD_ADDR, msr_areas.entry_load + 8);
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 1);
     }},
    {"ctl-entry-msr-load-beyond-width", [] {
       w(F::VM_ENTRY_MSR_LOAD_ADDR, (1ull << maxphyaddr) - 16);
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 2);
     }},
    {"ctl-exit-msr-store-unaligned", [] {
       w(F::VM_EXIT_MSR_STORE_ADDR, msr_areas.exit_store + 4);
       w(F::VM_EXIT_MSR_STORE_COUNT, 1);
     }},
    {"ctl-exit-msr-store-beyond-width", [] {
       w(F::VM_EXIT_MSR_STORE_ADDR, (1ull << maxphyaddr) - 16);
       w(F::VM_EXIT_MSR_STORE_COUNT, 2);
     }},
    {"ctl-exit-msr-load-unaligned", [] {
       w(F::VM_EXIT_MSR_LOAD_ADDR, msr_areas.exit_load + 8);
       w(F::VM_EXIT_MSR_LOAD_COUNT, 1);
     }},
    {"ctl-exit-msr-load-beyond-width", [] {
       w(F::VM_EXIT_MSR_LOAD_ADDR, beyond_width(msr_areas.exit_load));
       w(F::VM_EXIT_MSR_LOAD_COUNT, 1);
     }},

    // Host-state fields (SDM 26.2.2-26.2.4): VMfailValid(8).
    {"host-cr0-pg-clear", [] { clear_bits(F::HOST_CR0, cr0::PG); }},
    {"host-cr0-ne-clear", [] { clear_bits(F::HOST_CR0, caps.cr0_fixed0 & cr0::NE); }},
    {"host-cr0-bit-32", [] { set_bits(F::HOST_CR0, 1ull << 32); }},
    {"host-cr4-vmxe-clear", [] { clear_bits(F::HOST_CR4, cr4::VMXE); }},
    {"host-cr4-pae-clear", [] { clear_bits(F::HOST_CR4, cr4::PAE); }},
    {"host-cr4-unsupported-bit", [] { set_bits(F::HOST_CR4, lowest(~caps.cr4_fixed1 & 0xffffffffull)); }},
    {"host-cr3-beyond-width", [] { w(F::HOST_CR3, beyond_width(rd(F::HOST_CR3))); }},
    {"host-cs-null", [] { w(F::HOST_CS_SELECTOR, 0); }},
    {"host-cs-rpl-1", [] { set_bits(F::HOST_CS_SELECTOR, 1); }},
    {"host-tr-null", [] { w(F::HOST_TR_SELECTOR, 0); }},
    {"host-tr-ti", [] { set_bits(F::HOST_TR_SELECTOR, 4); }},
    {"host-ss-rpl-3", [] { set_bits(F::HOST_SS_SELECTOR, 3); }},
    {"host-ds-ti", [] { set_bits(F::HOST_DS_SELECTOR, 4); }},
    {"host-fs-base-non-canonical", [] { w(F::HOST_FS_BASE, NON_CANONICAL); }},
    {"host-gs-base-non-canonical", [] { w(F::HOST_GS_BASE, NON_CANONICAL); }},
    {"host-gdtr-base-non-canonical", [] { w(F::HOST_GDTR_BASE, NON_CANONICAL); }},
    {"host-idtr-base-non-canonical", [] { w(F::HOST_IDTR_BASE, NON_CANONICAL); }},
    {"host-tr-base-non-canonical", [] { w(F::HOST_TR_BASE, NON_CANONICAL); }},
    {"host-sysenter-esp-non-canonical", [] { w(F::HOST_IA32_SYSENTER_ESP, NON_CANONICAL); }},
    {"host-sysenter-eip-non-canonical", [] { w(F::HOST_IA32_SYSENTER_EIP, NON_CANONICAL); }},
    {"host-rip-non-canonical", [] { w(F::HOST_RIP, NON_CANONICAL); }},
    {"host-efer-reserved-bit", [] { set_bits(F::HOST_IA32_EFER, 1ull << 1); }},
    {"host-efer-lma-clear", [] { clear_bits(F::HOST_IA32_EFER, efer::LMA); }},
    {"host-pat-type-2", [] { w(F::HOST_IA32_PAT, (rd(F::HOST_IA32_PAT) & ~0xffull) | 2); }},
    {"host-address-space-size-clear", [] { clear_bits(F::VM_EXIT_CONTROLS, exit_ctl::HOST_ADDRESS_SPACE_SIZE); }},
    // ... and host state the checks accept: the exit loads it (SDM 27.5).
    {"host-ss-null", [] { w(F::HOST_SS_SELECTOR, 0); }},
    {"host-fs-selector-tss", [] { w(F::HOST_FS_SELECTOR, vmx::HOST_TR_SELECTOR); }},
    {"host-gdtr-idtr-elsewhere", [] {
       w(F::HOST_GDTR_BASE, world.gdt);
       w(F::HOST_IDTR_BASE, world.idt);
     }},
    {"host-fs-gs-base", [] {
       w(F::HOST_FS_BASE, 0xffff800000123000ull);
       w(F::HOST_GS_BASE, 0x456000);
     }},
    {"host-sysenter", [] {
       w(F::HOST_IA32_SYSENTER_CS, 0x99);
       w(F::HOST_IA32_SYSENTER_ESP, 0xffff800000777000ull);
       w(F::HOST_IA32_SYSENTER_EIP, 0x888000);
     }},
    {"host-cr0-ts-wp", [] { w(F::HOST_CR0, rd(F::HOST_CR0) ^ (cr0::TS | cr0::WP)); }},
    {"host-cr4-pge-pce", [] { w(F::HOST_CR4, rd(F::HOST_CR4) ^ ((cr4::PGE | cr4::PCE) & caps.cr4_fixed1)); }},
    {"host-efer-sce", [] { w(F::HOST_IA32_EFER, rd(F::HOST_IA32_EFER) ^ efer::SCE); }},
    {"host-pat-other", [] { w(F::HOST_IA32_PAT, 0x0000000600000006ull); }},
    {"host-load-efer-pat-off", [] {
       clear_bits(F::VM_EXIT_CONTROLS, exit_ctl::LOAD_EFER | exit_ctl::LOAD_PAT);
       w(F::GUEST_IA32_EFER, rd(F::GUEST_IA32_EFER) ^ efer::SCE);
       w(F::GUEST_IA32_PAT, 0x0404040404040404ull);
     }},

    // Guest-state fields (SDM 26.3.1): entry failure, reason 33.
    {"guest-rflags-bit-1-clear", [] { w(F::GUEST_RFLAGS, 0); }},
    {"guest-rflags-reserved-bit-15", [] { set_bits(F::GUEST_RFLAGS, 1ull << 15); }},
    {"guest-rflags-vm-in-ia32e", [] { set_bits(F::GUEST_RFLAGS, arch::rflags::VM); }},
    {"guest-cr0-ne-clear", [] { clear_bits(F::GUEST_CR0, caps.cr0_fixed0 & cr0::NE); }},
    {"guest-cr0-pg-without-pe", [] { clear_bits(F::GUEST_CR0, cr0::PE); }},
    {"guest-cr0-bit-32", [] { set_bits(F::GUEST_CR0, 1ull << 32); }},
    {"guest-cr4-vmxe-clear", [] { clear_bits(F::GUEST_CR4, cr4::VMXE); }},
    {"guest-cr4-pae-clear-in-ia32e", [] { clear_bits(F::GUEST_CR4, cr4::PAE); }},
    {"guest-cr3-beyond-width", [] { w(F::GUEST_CR3, beyond_width(rd(F::GUEST_CR3))); }},
    {"guest-dr7-bit-32", [] { set_bits(F::GUEST_DR7, 1ull << 32); }},
    {"guest-debugctl-reserved-bit", [] { set_bits(F::GUEST_IA32_DEBUGCTL, 1ull << 2); }},
    {"guest-efer-lma-clear", [] { clear_bits(F::GUEST_IA32_EFER, efer::LMA); }},
    {"guest-efer-reserved-bit", [] { set_bits(F::GUEST_IA32_EFER, 1ull << 1); }},
    {"guest-pat-type-3", [] { w(F::GUEST_IA32_PAT, (rd(F::GUEST_IA32_PAT) & ~0xffull) | 3); }},
    {"guest-sysenter-esp-non-canonical", [] { w(F::GUEST_SYSENTER_ESP, NON_CANONICAL); }},
    {"guest-cs-data-segment", [] { w(F::GUEST_CS_AR_BYTES, ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G); }},
    {"guest-cs-l-and-db", [] { set_bits(F::GUEST_CS_AR_BYTES, ar::DB); }},
    {"guest-ss-code-segment", [] { set_bits(F::GUEST_SS_AR_BYTES, ar::TYPE_CODE); }},
    {"guest-ss-dpl-3", [] { set_bits(F::GUEST_SS_AR_BYTES, ar::DPL_MASK); }},
    {"guest-ds-ar-reserved-bit-8", [] { set_bits(F::GUEST_DS_AR_BYTES, 1u << 8); }},
    {"guest-ds-not-present", [] { clear_bits(F::GUEST_DS_AR_BYTES, ar::P); }},
    {"guest-es-limit-granularity", [] {
       w(F::GUEST_ES_LIMIT, 0xffff0);  // G = 1 needs limit bits 11:0 all ones
     }},
    {"guest-tr-unusable", [] { w(F::GUEST_TR_AR_BYTES, ar::UNUSABLE); }},
    {"guest-tr-16-bit-busy-tss", [] { w(F::GUEST_TR_AR_BYTES, arch::seg::sys_type::TSS16_BUSY | ar::P); }},
    {"guest-ldtr-usable-bad-type", [] { w(F::GUEST_LDTR_AR_BYTES, 5 | ar::P); }},
    {"guest-ldtr-ti", [] { w(F::GUEST_LDTR_SELECTOR, 4); w(F::GUEST_LDTR_AR_BYTES, arch::seg::sys_type::LDT | ar::P); }},
    {"guest-gdtr-limit-above-ffff", [] { w(F::GUEST_GDTR_LIMIT, 0x10000); }},
    {"guest-gdtr-base-non-canonical", [] { w(F::GUEST_GDTR_BASE, NON_CANONICAL); }},
    {"guest-idtr-base-non-canonical", [] { w(F::GUEST_IDTR_BASE, NON_CANONICAL); }},
    {"guest-rip-non-canonical", [] { w(F::GUEST_RIP, NON_CANONICAL); }},
    {"guest-activity-4", [] { w(F::GUEST_ACTIVITY_STATE, 4); }},
    {"guest-activity-shutdown", [] { w(F::GUEST_ACTIVITY_STATE, activity_state::SHUTDOWN); }},
    {"guest-activity-wait-for-sipi", [] { w(F::GUEST_ACTIVITY_STATE, activity_state::WAIT_FOR_SIPI); }},
    {"guest-interruptibility-sti-and-mov-ss", [] {
       set_bits(F::GUEST_RFLAGS, arch::rflags::IF);
       w(F::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_STI.mask | interruptibility::BLOCKING_BY_MOV_SS.mask);
     }},
    {"guest-interruptibility-sti-if-0", [] { w(F::GUEST_INTERRUPTIBILITY_INFO, interruptibility::BLOCKING_BY_STI.mask); }},
    {"guest-interruptibility-reserved-bit-5", [] { w(F::GUEST_INTERRUPTIBILITY_INFO, 1u << 5); }},
    {"guest-pending-dbg-reserved-bit-4", [] { w(F::GUEST_PENDING_DBG_EXCEPTIONS, 1u << 4); }},
    {"guest-inject-external-interrupt-if-0", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(0x40, intr_info::TYPE_EXTERNAL_INTERRUPT, false)); }},
    {"guest-activity-hlt-inject-nmi", [] {
       w(F::GUEST_ACTIVITY_STATE, activity_state::HLT);
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(2, intr_info::TYPE_NMI, false));
     }},
    {"guest-pae-pdpte-reserved-bit", [] {
       protected_mode_guest();
       set_bits(F::GUEST_CR0, cr0::PG);
       w(F::GUEST_PDPTR0, pte::P | (1ull << 1));
     }},
    // The VMCS link pointer (SDM 26.3.1.5): qualification 4.
    {"link-pointer-unaligned", [] {
       selftest::clear_page(pages.vmcs2);
       selftest::write_revision(pages.vmcs2, caps.revision());
       w(F::VMCS_LINK_POINTER, pages.vmcs2 + 0x800);
     }},
    {"link-pointer-wrong-revision", [] {
       selftest::clear_page(pages.vmcs2);
       selftest::write_revision(pages.vmcs2, caps.revision() ^ 1);
       w(F::VMCS_LINK_POINTER, pages.vmcs2);
     }},
    {"link-pointer-beyond-width", [] { w(F::VMCS_LINK_POINTER, beyond_width(pages.vmcs2)); }},
    {"link-pointer-not-ram", [] { w(F::VMCS_LINK_POINTER, NOT_RAM); }},
    {"link-pointer-current-vmcs", [] { w(F::VMCS_LINK_POINTER, pages.vmcs); }},

    // MSR lists (SDM 26.4, 27.4, 27.6).
    {"msr-load-7-valid", [] { w(F::VM_ENTRY_MSR_LOAD_COUNT, ENTRY_LOAD_BAD_INDEX); }},
    {"msr-load-8th-is-fs-base", [] { w(F::VM_ENTRY_MSR_LOAD_COUNT, ENTRY_LOAD_BAD_INDEX + 1); }},
    {"msr-load-x2apic", [] {
       entry_list()[0] = MsrEntry{msr::IA32_X2APIC_TPR, 0, 0};
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 1);
     }},
    {"msr-load-reserved-field", [] {
       entry_list()[1].reserved = 1;
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 2);
     }},
    {"msr-load-non-canonical-value", [] {
       entry_list()[2].value = NON_CANONICAL;  // IA32_SYSENTER_ESP
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 3);
     }},
    {"msr-load-unknown-msr", [] {
       entry_list()[0] = MsrEntry{0x12345678, 0, 0};
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 1);
     }},
    {"msr-load-after-guest-state-failure", [] {
       w(F::GUEST_RFLAGS, 0);
       w(F::VM_ENTRY_MSR_LOAD_COUNT, ENTRY_LOAD_BAD_INDEX + 1);
     }},
    {"msr-load-not-ram", [] {
       w(F::VM_ENTRY_MSR_LOAD_ADDR, NOT_RAM);
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 1);
     }},
    {"msr-store-9-and-load-5", [] {
       w(F::VM_ENTRY_MSR_LOAD_COUNT, 5);
       w(F::VM_EXIT_MSR_STORE_COUNT, 9);
       w(F::VM_EXIT_MSR_LOAD_COUNT, 5);
     }},
    {"msr-store-512", [] { w(F::VM_EXIT_MSR_STORE_COUNT, 512); }},

    // What the guest does with unusual but valid state.
    {"guest-activity-hlt", [] { w(F::GUEST_ACTIVITY_STATE, activity_state::HLT); }},
    {"guest-timer-0", [] { w(F::VMX_PREEMPTION_TIMER_VALUE, 0); }},
    {"guest-rip-inside-vmcall", [] { w(F::GUEST_RIP, world.code + 1); }},
    {"guest-rip-ror", [] { w(F::GUEST_RIP, world.code + 2); }},
    {"guest-rip-stack-page", [] { w(F::GUEST_RIP, world.stack); }},
    {"guest-rip-unmapped", [] { w(F::GUEST_RIP, world.code + 0x100000); }},
    {"guest-cr3-unmapped", [] { w(F::GUEST_CR3, world.code + 0x100000); }},
    {"guest-paging-off", [] { protected_mode_guest(); }},
    {"guest-pae-paging", [] {
       protected_mode_guest();
       set_bits(F::GUEST_CR0, cr0::PG);
       w(F::GUEST_PDPTR0, pte::P | world.gpd);
     }},
    {"guest-tf-single-step", [] {
       w(F::GUEST_RIP, world.code + 1);
       set_bits(F::GUEST_RFLAGS, arch::rflags::TF);
     }},
    {"guest-mtf", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::MONITOR_TRAP_FLAG);
       w(F::GUEST_RIP, world.code + 1);
     }},
    {"guest-interrupt-window", [] {
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::INTERRUPT_WINDOW_EXITING);
       set_bits(F::GUEST_RFLAGS, arch::rflags::IF);
     }},
    {"guest-nmi-window", [] {
       set_bits(F::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::NMI_EXITING | pin_ctl::VIRTUAL_NMIS);
       set_bits(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::NMI_WINDOW_EXITING);
     }},
    {"guest-exception-bitmap-0-int3", [] {
       w(F::EXCEPTION_BITMAP, 0);
       w(F::GUEST_RIP, world.code + 3);
     }},
    {"guest-pf-not-intercepted", [] {
       w(F::EXCEPTION_BITMAP, ~(1u << 14));
       w(F::GUEST_RIP, world.code + 0x100000);
     }},
    {"guest-pf-delivery-faults", [] {
       w(F::EXCEPTION_BITMAP, 1u << 8);  // #DF only
       w(F::GUEST_RIP, world.code + 0x100000);
       w(F::GUEST_IDTR_BASE, world.code + 0x200000);
     }},
    {"guest-triple-fault", [] {
       w(F::EXCEPTION_BITMAP, 0);
       w(F::GUEST_RIP, world.code + 0x100000);
       w(F::GUEST_IDTR_BASE, world.code + 0x200000);
     }},
    {"inject-gp-error-code-bit-15", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(13, intr_info::TYPE_HARDWARE_EXCEPTION, true));
       w(F::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x8000);
     }},
    {"inject-ud", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(6, intr_info::TYPE_HARDWARE_EXCEPTION, false)); }},
    {"inject-pf-error-code", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(14, intr_info::TYPE_HARDWARE_EXCEPTION, true));
       w(F::VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1b);
     }},
    {"inject-software-interrupt", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(0x80, intr_info::TYPE_SOFTWARE_INTERRUPT, false));
       w(F::VM_ENTRY_INSTRUCTION_LEN, 2);
     }},
    {"inject-nmi", [] { w(F::VM_ENTRY_INTR_INFO_FIELD, event(2, intr_info::TYPE_NMI, false)); }},
    {"inject-external-interrupt", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(0x40, intr_info::TYPE_EXTERNAL_INTERRUPT, false));
       set_bits(F::GUEST_RFLAGS, arch::rflags::IF);
     }},
    {"inject-stack-read-only", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(6, intr_info::TYPE_HARDWARE_EXCEPTION, false));
       w(F::GUEST_RSP, world.code + 0x800);
     }},
    {"inject-idt-limit", [] {
       w(F::VM_ENTRY_INTR_INFO_FIELD, event(6, intr_info::TYPE_HARDWARE_EXCEPTION, false));
       w(F::GUEST_IDTR_LIMIT, 0x5f);
     }},
    {"ept-ad-flags", [] { set_bits(F::EPT_POINTER, eptp::ENABLE_AD.mask); }},
    {"ept-code-not-executable", [] { *ept_pte(world.code) &= ~ept_entry::EXECUTE.mask; }},
    {"ept-guest-pt-unmapped", [] { *ept_pte(world.gpt) = 0; }},
    {"ept-misconfig-write-only", [] { *ept_pte(world.code) = world.code | ept_entry::WRITE.mask | ept_entry::EXECUTE.mask | ept_entry::MEMORY_TYPE.make(6); }},
    {"ept-misconfig-memory-type-2", [] { *ept_pte(world.code) = (*ept_pte(world.code) & ~ept_entry::MEMORY_TYPE.mask) | ept_entry::MEMORY_TYPE.make(2); }},
    {"ept-misconfig-reserved-bit", [] { *ept_pte(world.code) |= 1ull << 51; }},
    {"ept-leaf-beyond-ram", [] { *ept_pte(world.code) = NOT_RAM | ept_entry::READ.mask | ept_entry::EXECUTE.mask | ept_entry::MEMORY_TYPE.make(6); }},
    {"ept-table-beyond-ram", [] { reinterpret_cast<uint64_t*>(world.epd)[pte::index(world.code, 2)] = NOT_RAM | 7; }},
    {"eptp-beyond-ram", [] { w(F::EPT_POINTER, (rd(F::EPT_POINTER) & 0xfff) | NOT_RAM); }},
    {"vpid-other", [] { w(F::VIRTUAL_PROCESSOR_ID, 0x1234); }},
    {"cr-masks-and-shadows", [] {
       w(F::CR0_GUEST_HOST_MASK, ~0ull);
       w(F::CR4_GUEST_HOST_MASK, ~0ull);
       w(F::CR0_READ_SHADOW, 0x12345);
       w(F::CR4_READ_SHADOW, 0x6789);
     }},
};

// ---- VMLAUNCH/VMRESUME sequences -------------------------------------------------------------

void sequence_classes() {
  if (!skipped("vmlaunch-launched")) {
    // VMLAUNCH of a launched VMCS: VMfailValid(4); VMRESUME of it runs.
    fresh_state();
    Line L;
    header(L, "vmlaunch-launched");
    launch_and_describe(L, false);
    L.s(" / ");
    launch_and_describe(L, false);
    L.s(" / ");
    launch_and_describe(L, true);
    L.emit();
  }
  if (!skipped("vmresume-clear")) {
    // VMRESUME of a clear VMCS: VMfailValid(5).
    fresh_state();
    Line L;
    header(L, "vmresume-clear");
    launch_and_describe(L, true);
    L.emit();
  }
  if (!skipped("relaunch-after-entry-failure")) {
    // An entry that failed on guest state leaves the VMCS clear (SDM 26.8?
    // the launch state changes only on a successful VMLAUNCH): VMRESUME
    // then fails with 5, VMLAUNCH runs.
    fresh_state();
    Line L;
    header(L, "relaunch-after-entry-failure");
    w(F::GUEST_RFLAGS, 0);
    launch_and_describe(L, false);
    w(F::GUEST_RFLAGS, arch::rflags::FIXED1);
    L.s(" / ");
    launch_and_describe(L, true);
    L.s(" / ");
    launch_and_describe(L, false);
    L.emit();
  }
  if (!skipped("vmresume-after-vmclear")) {
    // VMCLEAR and VMPTRLD between VMLAUNCH and VMRESUME: VMfailValid(5).
    fresh_state();
    Line L;
    header(L, "vmresume-after-vmclear");
    launch_and_describe(L, false);
    vmx::vmclear(pages.vmcs);
    vmx::vmptrld(pages.vmcs);
    L.s(" / ");
    launch_and_describe(L, true);
    L.emit();
  }
  if (!skipped("resume-cs-unusable")) {
    // CS with the unusable bit but otherwise valid passes the entry checks
    // (SDM 26.3.1.2 checks CS's access rights whether usable or not); the
    // state the exit saves must let VMRESUME enter again.
    fresh_state();
    Line L;
    header(L, "resume-cs-unusable");
    set_bits(F::GUEST_CS_AR_BYTES, ar::UNUSABLE);
    launch_and_describe(L, false);
    L.s(" / ");
    launch_and_describe(L, true);
    L.emit();
  }
  if (!skipped("resume-after-exception-exit")) {
    // The guest state an exit saved is what the next VMRESUME loads: a
    // resume after an INT3 exit at the stack page continues there.
    fresh_state();
    Line L;
    header(L, "resume-after-exception-exit");
    w(F::GUEST_RIP, world.code + 3);
    launch_and_describe(L, false);
    L.s(" / ");
    w(F::GUEST_RIP, world.code);
    launch_and_describe(L, true);
    L.emit();
  }
}

// ---- VMX instructions in VMX root operation ---------------------------------------------------

Status vmptrld_at(uint64_t la) {
  bool cf, zf;
  asm volatile("vmptrld (%[a])" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmclear_at(uint64_t la) {
  bool cf, zf;
  asm volatile("vmclear (%[a])" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmptrst_at(uint64_t la) {
  bool cf, zf;
  asm volatile("vmptrst (%[a])" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmxon_at(uint64_t la) {
  bool cf, zf;
  asm volatile("vmxon (%[a])" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmread_to(uint64_t la, uint64_t encoding) {
  bool cf, zf;
  asm volatile("vmread %[e], (%[a])" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la), [e] "r"(encoding) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmwrite_from(uint64_t la, uint64_t encoding) {
  bool cf, zf;
  asm volatile("vmwrite (%[a]), %[e]" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la), [e] "r"(encoding) : "memory");
  return vmx::status_from(cf, zf);
}
Status invept_at(uint64_t type, uint64_t la) {
  bool cf, zf;
  asm volatile("invept (%[a]), %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la), [t] "r"(type) : "memory");
  return vmx::status_from(cf, zf);
}
Status invvpid_at(uint64_t type, uint64_t la) {
  bool cf, zf;
  asm volatile("invvpid (%[a]), %[t]" : "=@ccc"(cf), "=@ccz"(zf) : [a] "r"(la), [t] "r"(type) : "memory");
  return vmx::status_from(cf, zf);
}
Status vmcall_in_root() {
  bool cf, zf;
  asm volatile("vmcall" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  return vmx::status_from(cf, zf);
}

void describe_status(Line& L, Status s) {
  if (s == Status::Ok) L.s("VMsucceed");
  else if (s == Status::FailInvalid) L.s("VMfailInvalid");
  else L.s("VMfailValid ").u(vmx::instruction_error());
}

// Runs one VMX instruction (fn returns its Status) and prints its outcome:
// the exception it raised (vector, error code, CR2 for #PF), or how it ended.
template <class Fn>
void insn_class(const char* name, Fn fn, uint64_t* show = nullptr) {
  if (skipped(name)) return;
  Line L;
  header(L, name);
  Status s = Status::Ok;
  rt::write_cr<2>(0);
  const selftest::Fault f = selftest::guarded([&] { s = fn(); });
  if (f.vector >= 0) {
    L.s("fault ").u(uint64_t(f.vector)).s(" err ").x(f.error_code);
    if (f.vector == int64_t(arch::Vector::PF)) L.s(" cr2 ").x(rt::read_cr2());
  } else {
    describe_status(L, s);
    if (show && s == Status::Ok) L.s(" value ").x(*show);
  }
  L.emit();
}

uint64_t operand;  // the memory operand of the instructions below
uint64_t* scratch() { return reinterpret_cast<uint64_t*>(pages.scratch[1]); }

void instruction_classes() {
  const uint64_t vmcs2 = pages.vmcs2;
  auto prepare_vmcs2 = [&](uint32_t revision) {
    selftest::clear_page(vmcs2);
    selftest::write_revision(vmcs2, revision);
  };
  auto ptr_op = [](uint64_t value) {
    operand = value;
    return reinterpret_cast<uint64_t>(&operand);
  };

  fresh_state();
  prepare_vmcs2(caps.revision());
  insn_class("vmptrld-unaligned", [&] { return vmptrld_at(ptr_op(vmcs2 + 0x800)); });
  insn_class("vmptrld-beyond-width", [&] { return vmptrld_at(ptr_op(beyond_width(vmcs2))); });
  insn_class("vmptrld-vmxon-pointer", [&] { return vmptrld_at(ptr_op(pages.vmxon)); });
  prepare_vmcs2(caps.revision() ^ 1);
  insn_class("vmptrld-wrong-revision", [&] { return vmptrld_at(ptr_op(vmcs2)); });
  insn_class("vmptrld-not-ram", [&] { return vmptrld_at(ptr_op(NOT_RAM)); });
  insn_class("vmptrld-operand-unmapped", [&] { return vmptrld_at(UNMAPPED); });
  insn_class("vmptrld-operand-non-canonical", [&] { return vmptrld_at(NON_CANONICAL); });
  // Mapped by the page tables, but no RAM behind it: reads all-ones.
  insn_class("vmptrld-operand-not-ram", [&] { return vmptrld_at(NOT_RAM); });
  uint64_t current = 0;
  insn_class("vmptrst-after-failed-vmptrlds", [&] { return vmptrst_at(reinterpret_cast<uint64_t>(&current)); }, &current);
  insn_class("vmptrst-operand-unmapped", [&] { return vmptrst_at(UNMAPPED); });

  insn_class("vmclear-unaligned", [&] { return vmclear_at(ptr_op(vmcs2 + 0x800)); });
  insn_class("vmclear-beyond-width", [&] { return vmclear_at(ptr_op(beyond_width(vmcs2))); });
  insn_class("vmclear-vmxon-pointer", [&] { return vmclear_at(ptr_op(pages.vmxon)); });
  insn_class("vmclear-not-ram", [&] { return vmclear_at(ptr_op(NOT_RAM)); });
  insn_class("vmclear-operand-non-canonical", [&] { return vmclear_at(NON_CANONICAL); });
  insn_class("vmclear-other", [&] { return vmclear_at(ptr_op(vmcs2)); });

  insn_class("vmxon-in-root", [&] { return vmxon_at(ptr_op(pages.vmxon)); });
  insn_class("vmxon-in-root-operand-unmapped", [&] { return vmxon_at(UNMAPPED); });
  insn_class("vmcall-in-root", [&] { return vmcall_in_root(); });

  // VMREAD/VMWRITE (SDM 30.3): unsupported encodings, read-only fields,
  // widths, memory operands.
  const unsigned max_index = unsigned(vmx_vmcs_enum::MAX_INDEX.get(caps.vmcs_enum));
  const uint64_t above_enum =
      max_index < 511 ? vmcs_encode(VmcsWidth::BITS32, VmcsType::GUEST, max_index + 1) : 0x7ffe;
  uint64_t value = 0;
  insn_class("vmread-index-above-vmcs-enum", [&] { return vmx::vmread(above_enum, value); });
  insn_class("vmwrite-index-above-vmcs-enum", [&] { return vmx::vmwrite(above_enum, 1); });
  insn_class("vmread-high-of-16-bit-field", [&] { return vmx::vmread(uint64_t(F::GUEST_ES_SELECTOR) | 1, value); });
  insn_class("vmwrite-high-of-natural-field", [&] { return vmx::vmwrite(uint64_t(F::GUEST_RIP) | 1, 1); });
  insn_class("vmread-encoding-bit-15", [&] { return vmx::vmread(uint64_t(F::GUEST_RIP) | 0x8000, value); });
  insn_class("vmread-encoding-bit-32", [&] { return vmx::vmread(uint64_t(F::GUEST_RIP) | (1ull << 32), value); });
  insn_class("vmwrite-read-only-field", [&] {
    const Status s = vmx::vmwrite(F::EXIT_QUALIFICATION, 0x1234);
    value = vmx::read(F::EXIT_QUALIFICATION);
    return s;
  }, &value);
  insn_class("vmwrite-vm-instruction-error", [&] {
    const Status s = vmx::vmwrite(F::VM_INSTRUCTION_ERROR, 0x77);
    value = vmx::read(F::VM_INSTRUCTION_ERROR);
    return s;
  }, &value);
  insn_class("vmwrite-16-bit-truncates", [&] {
    const Status s = vmx::vmwrite(F::GUEST_ES_SELECTOR, 0xabcd1234);
    value = vmx::read(F::GUEST_ES_SELECTOR);
    return s;
  }, &value);
  insn_class("vmwrite-32-bit-truncates", [&] {
    const Status s = vmx::vmwrite(F::GUEST_ES_LIMIT, 0x123456789ull);
    value = vmx::read(F::GUEST_ES_LIMIT);
    return s;
  }, &value);
  insn_class("vmwrite-high-of-64-bit-field", [&] {
    vmx::vmwrite(F::TSC_OFFSET, 0x1122334455667788ull);
    const Status s = vmx::vmwrite(uint64_t(F::TSC_OFFSET) | 1, 0xffffffffaabbccddull);
    value = vmx::read(F::TSC_OFFSET);
    return s;
  }, &value);
  insn_class("vmread-high-of-64-bit-field", [&] { return vmx::vmread(uint64_t(F::TSC_OFFSET) | 1, value); }, &value);
  insn_class("vmread-to-memory", [&] { return vmread_to(reinterpret_cast<uint64_t>(scratch()), uint64_t(F::GUEST_RIP)); },
             scratch());
  insn_class("vmwrite-from-memory", [&] {
    *scratch() = 0x0badc0de;
    const Status s = vmwrite_from(reinterpret_cast<uint64_t>(scratch()), uint64_t(F::GUEST_RSP));
    value = vmx::read(F::GUEST_RSP);
    return s;
  }, &value);
  insn_class("vmread-to-unmapped", [&] { return vmread_to(UNMAPPED, uint64_t(F::GUEST_RIP)); });
  insn_class("vmwrite-from-unmapped", [&] { return vmwrite_from(UNMAPPED, uint64_t(F::GUEST_RSP)); });
  insn_class("vmread-to-non-canonical", [&] { return vmread_to(NON_CANONICAL, uint64_t(F::GUEST_RIP)); });
  insn_class("vmwrite-from-not-ram", [&] {
    const Status s = vmwrite_from(NOT_RAM, uint64_t(F::GUEST_RSP));
    value = vmx::read(F::GUEST_RSP);
    return s;
  }, &value);

  // INVEPT and INVVPID (SDM 30.3): types, descriptors, memory operands.
  uint64_t* desc = scratch();
  auto invept_desc = [&](uint64_t eptp) {
    desc[0] = eptp;
    desc[1] = 0;
    return reinterpret_cast<uint64_t>(desc);
  };
  auto invvpid_desc = [&](uint64_t vpid, uint64_t la) {
    desc[0] = vpid;
    desc[1] = la;
    return reinterpret_cast<uint64_t>(desc);
  };
  const uint64_t eptp_good = vmx::read(F::EPT_POINTER);
  insn_class("invept-type-0", [&] { return invept_at(0, invept_desc(eptp_good)); });
  insn_class("invept-type-3", [&] { return invept_at(3, invept_desc(eptp_good)); });
  insn_class("invept-type-bit-32", [&] { return invept_at((1ull << 32) | 1, invept_desc(eptp_good)); });
  insn_class("invept-single-context", [&] { return invept_at(1, invept_desc(eptp_good)); });
  insn_class("invept-single-memory-type-2", [&] { return invept_at(1, invept_desc(eptp::MEMORY_TYPE.set(eptp_good, 2))); });
  insn_class("invept-single-walk-length-5", [&] { return invept_at(1, invept_desc(eptp::PAGE_WALK_LENGTH.set(eptp_good, 4))); });
  insn_class("invept-single-beyond-width", [&] { return invept_at(1, invept_desc(beyond_width(eptp_good))); });
  insn_class("invept-all-context", [&] { return invept_at(2, invept_desc(0x1234)); });
  insn_class("invept-descriptor-unmapped", [&] { return invept_at(2, UNMAPPED); });
  insn_class("invept-descriptor-non-canonical", [&] { return invept_at(2, NON_CANONICAL); });
  insn_class("invvpid-type-4", [&] { return invvpid_at(4, invvpid_desc(1, 0)); });
  insn_class("invvpid-individual-address", [&] { return invvpid_at(0, invvpid_desc(1, world.code)); });
  insn_class("invvpid-individual-non-canonical", [&] { return invvpid_at(0, invvpid_desc(1, NON_CANONICAL)); });
  insn_class("invvpid-individual-vpid-0", [&] { return invvpid_at(0, invvpid_desc(0, world.code)); });
  insn_class("invvpid-single-vpid-0", [&] { return invvpid_at(1, invvpid_desc(0, 0)); });
  insn_class("invvpid-single-context", [&] { return invvpid_at(1, invvpid_desc(1, 0)); });
  insn_class("invvpid-vpid-reserved-bits", [&] { return invvpid_at(1, invvpid_desc(0x10001, 0)); });
  insn_class("invvpid-all-context", [&] { return invvpid_at(2, invvpid_desc(0, 0)); });
  insn_class("invvpid-all-context-reserved-bits", [&] { return invvpid_at(2, invvpid_desc(0x10000, 0)); });
  insn_class("invvpid-retaining-globals-vpid-0", [&] { return invvpid_at(3, invvpid_desc(0, 0)); });
  insn_class("invvpid-descriptor-unmapped", [&] { return invvpid_at(2, UNMAPPED); });

  // Without a current VMCS (SDM 30.2: VMfailInvalid).
  fresh_state();
  insn_class("vmclear-current", [&] { return vmclear_at(ptr_op(pages.vmcs)); });
  insn_class("vmptrst-no-current", [&] { return vmptrst_at(reinterpret_cast<uint64_t>(&current)); }, &current);
  insn_class("vmread-no-current", [&] { return vmx::vmread(F::GUEST_RIP, value); });
  insn_class("vmwrite-no-current", [&] { return vmx::vmwrite(F::GUEST_RIP, 0); });
  insn_class("vmlaunch-no-current", [&] {
    bool cf, zf;
    asm volatile("vmlaunch" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
    return vmx::status_from(cf, zf);
  });
  insn_class("vmresume-no-current", [&] {
    bool cf, zf;
    asm volatile("vmresume" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
    return vmx::status_from(cf, zf);
  });
  insn_class("vmclear-vmxon-pointer-no-current", [&] { return vmclear_at(ptr_op(pages.vmxon)); });
  insn_class("vmxon-in-root-no-current", [&] { return vmxon_at(ptr_op(pages.vmxon)); });
  insn_class("vmcall-in-root-no-current", [&] { return vmcall_in_root(); });
  prepare_vmcs2(caps.revision());
  insn_class("vmptrld-other", [&] { return vmptrld_at(ptr_op(vmcs2)); });
  insn_class("vmptrst-other", [&] { return vmptrst_at(reinterpret_cast<uint64_t>(&current)); }, &current);
}

}  // namespace

void run_classes() {
  for (const EntryClass& c : kEntryClasses) {
    if (skipped(c.name)) continue;
    fresh_state();
    c.setup();
    Line L;
    header(L, c.name);
    launch_and_describe(L, false);
    L.emit();
  }
  sequence_classes();
  instruction_classes();
}

}  // namespace fuzz
