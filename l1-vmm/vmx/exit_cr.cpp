// Control-register accesses (SDM 25.1.3, qualification table 27-3). The
// guest owns CR0 and CR4 but for the bits VMX fixes (CR0.NE and CR4.VMXE
// read from the read shadows) and the ones the processor cannot set in VMX
// operation (vmcs01.h, cr*_guest_host_mask); a MOV that changes one of
// those exits, and l1-vmm does what the MOV would have done natively:
// the #GP checks of MOV CR (SDM vol. 2B), EFER.LMA and "IA-32e mode guest"
// on a paging change (SDM 10.8.5), the PDPTEs of PAE paging (SDM 4.4.1),
// and a flush of the guest's TLB where the instruction would flush.
// CR3 and CR8 exit only where the processor forces their exiting on.
//
// With nested VMX, CR4.VMXE is the guest's to set, and in VMX operation
// (after its VMXON) CR0 and CR4 keep the values VMX requires: a MOV that
// would leave them is #GP (SDM 23.8). While level + 2 runs, these handlers
// act for it on vmcs02, for the bits only l1-vmm intercepts
// (nested/nested.h, nested_after_own_handler).
#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/vmx/exit_handlers.h"
#include "l1-vmm/vmx/vmcs01.h"

namespace l1 {
namespace {

using namespace arch::vmx;
using F = VmcsField;
namespace q = qual_cr_access;
namespace cr0 = arch::cr0;
namespace cr4 = arch::cr4;
namespace efer = arch::efer;

// The architectural CR0 bits (SDM 2.5); setting another of bits 31:0 is ignored.
constexpr uint64_t CR0_DEFINED = cr0::PE | cr0::MP | cr0::EM | cr0::TS | cr0::ET | cr0::NE | cr0::WP | cr0::AM |
                                 cr0::NW | cr0::CD | cr0::PG;
constexpr uint64_t LMSW_BITS = cr0::PE | cr0::MP | cr0::EM | cr0::TS;  // what LMSW writes (SDM vol. 2A, LMSW)
// Changing these flushes the TLB (SDM 4.10.4.1).
constexpr uint64_t CR0_FLUSH_BITS = cr0::PG | cr0::WP | cr0::PE;
constexpr uint64_t CR4_FLUSH_BITS = cr4::PAE | cr4::PSE | cr4::PGE | cr4::PCIDE | cr4::SMEP | cr4::SMAP;

// The guest hypervisor (not its guest) is in VMX operation: its CR0/CR4
// are held to VMX's fixed bits.
bool in_guest_vmx_operation(const Vcpu& v) { return v.nested.vmxon && !v.nested.guest_mode; }

void flush_guest_tlb(const Vcpu& v) {
  // Without VPID every VM entry flushes the guest's linear mappings (SDM
  // 28.3.3.3); with it, l1-vmm has to.
  if (v.config.vpid()) rt::vmx::invvpid(invvpid_type::SINGLE_CONTEXT, vmcs_read(F::VIRTUAL_PROCESSOR_ID), 0);
}

// PAE paging outside IA-32e mode: with EPT the PDPTEs live in the VMCS and
// are loaded when the instruction that enables or reloads them runs.
bool pae_paging(uint64_t cr0_value, uint64_t cr4_value, uint64_t efer_value) {
  return (cr0_value & cr0::PG) && (cr4_value & cr4::PAE) && !(efer_value & efer::LMA);
}

// False: a PDPTE sets reserved bits (or the table is not RAM), #GP.
[[nodiscard]] bool load_pdptrs(uint64_t cr3) {
  const uint64_t gpa = cr3 & arch::pte::PAE_PDPT_ADDR_MASK;
  const auto* pdpt = static_cast<const uint64_t*>(guest_memory.hva(gpa, 4 * sizeof(uint64_t)));
  if (!pdpt) return false;
  for (unsigned i = 0; i < 4; i++)
    if ((pdpt[i] & arch::pte::P) && (pdpt[i] & arch::pte::PAE_PDPTE_RSVD)) return false;
  for (unsigned i = 0; i < 4; i++) vmcs_write(kGuestPdpteFields[i], pdpt[i]);
  return true;
}

void set_ia32e_mode(bool on) {
  uint64_t e = vmcs_read(F::GUEST_IA32_EFER);
  e = on ? (e | efer::LMA) : (e & ~efer::LMA);
  vmcs_write(F::GUEST_IA32_EFER, e);
  on ? vmcs_set_bits(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST)
     : vmcs_clear_bits(F::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
}

// MOV to CR0 (SDM vol. 2B, MOV-Move to/from Control Registers; vol. 3,
// 2.5). These return false where the instruction raises #GP(0), having
// changed nothing.
[[nodiscard]] bool set_cr0(const Vcpu& v, uint64_t value) {
  const VmcsConfig& c = v.config;
  if (value >> 32) return false;
  value = (value & CR0_DEFINED) | cr0::ET;  // reserved bits 31:0 are ignored, ET is hardwired to 1 (SDM 2.5)
  if ((value & cr0::PG) && !(value & cr0::PE)) return false;
  if ((value & cr0::NW) && !(value & cr0::CD)) return false;
  if (value & ~(c.caps.cr0_fixed1 | cr0::PE | cr0::PG)) return false;  // a bit VMX cannot run the guest with
  if (in_guest_vmx_operation(v) && !nested::nested_cr0_valid_in_vmx(v, value)) return false;
  if (v.nested.guest_mode && !nested::nested_l2_cr0_allowed(v, value)) return false;
  const uint64_t old = guest_cr0_view();
  const uint64_t e = vmcs_read(F::GUEST_IA32_EFER);
  const uint64_t cr4_value = guest_cr4_view();
  if (!(old & cr0::PG) && (value & cr0::PG)) {
    if (e & efer::LME) {
      if (!(cr4_value & cr4::PAE)) return false;  // IA-32e mode needs PAE
      set_ia32e_mode(true);
    } else if (cr4_value & cr4::PAE) {
      if (!load_pdptrs(vmcs_read(F::GUEST_CR3))) return false;
    }
  } else if ((old & cr0::PG) && !(value & cr0::PG) && (e & efer::LMA)) {
    if (vmcs_read(F::GUEST_CS_AR_BYTES) & arch::seg::ar::L) return false;  // only from compatibility mode
    set_ia32e_mode(false);
  }
  vmcs_write(F::GUEST_CR0, cr0_for_guest(c, value));
  vmcs_write(F::CR0_READ_SHADOW, value);
  if ((old ^ value) & CR0_FLUSH_BITS) flush_guest_tlb(v);
  return true;
}

// MOV to CR4. CR4.VMXE is refused unless VMX is offered (nested=1).
[[nodiscard]] bool set_cr4(const Vcpu& v, uint64_t value) {
  const VmcsConfig& c = v.config;
  const uint64_t vmxe = v.nested.enabled ? 0 : cr4::VMXE;
  if (value & ~(c.caps.cr4_fixed1 & ~vmxe)) return false;
  if (in_guest_vmx_operation(v) && !nested::nested_cr4_valid_in_vmx(v, value)) return false;
  if (v.nested.guest_mode && !nested::nested_l2_cr4_allowed(v, value)) return false;
  const uint64_t old = guest_cr4_view();
  const uint64_t e = vmcs_read(F::GUEST_IA32_EFER);
  if ((e & efer::LMA) && !(value & cr4::PAE)) return false;  // PAE stays on in IA-32e mode
  const uint64_t cr0_value = guest_cr0_view();
  if (pae_paging(cr0_value, value, e) && ((old ^ value) & (cr4::PAE | cr4::PSE | cr4::PGE)) &&
      !load_pdptrs(vmcs_read(F::GUEST_CR3)))
    return false;
  vmcs_write(F::GUEST_CR4, cr4_for_guest(c, value));
  vmcs_write(F::CR4_READ_SHADOW, value);
  if ((old ^ value) & CR4_FLUSH_BITS) flush_guest_tlb(v);
  return true;
}

[[nodiscard]] bool set_cr3(const Vcpu& v, uint64_t value) {
  if (pae_paging(guest_cr0_view(), guest_cr4_view(), vmcs_read(F::GUEST_IA32_EFER)) && !load_pdptrs(value)) return false;
  vmcs_write(F::GUEST_CR3, value);
  flush_guest_tlb(v);
  return true;
}

// The MOV's register operand: 64 bits in 64-bit code, else 32.
uint64_t operand(const Vcpu& v, unsigned gpr) {
  const uint64_t value = v.gpr(gpr);
  return guest_64bit_code() ? value : uint32_t(value);
}

[[nodiscard]] bool mov_to_cr(Vcpu& v, unsigned cr, unsigned gpr) {
  const uint64_t value = operand(v, gpr);
  switch (cr) {
    case 0: return set_cr0(v, value);
    case 3: return set_cr3(v, value);
    case 4: return set_cr4(v, value);
    case 8: asm volatile("mov %0, %%cr8" : : "r"(value)); return true;  // the guest owns the APIC and its TPR
    default: guest_failed(v, "MOV to an unexpected control register");
  }
}

bool mov_from_cr(Vcpu& v, unsigned cr, unsigned gpr) {
  uint64_t value;
  if (cr == 3) value = vmcs_read(F::GUEST_CR3);
  else if (cr == 8) asm volatile("mov %%cr8, %0" : "=r"(value));
  else guest_failed(v, "MOV from an unexpected control register");
  v.set_gpr(gpr, guest_64bit_code() ? value : uint32_t(value));
  return true;
}

// LMSW writes PE, MP, EM and TS, and sets PE but never clears it (SDM vol. 2A, LMSW).
bool lmsw(const Vcpu& v, uint64_t source) {
  const uint64_t old = guest_cr0_view();
  return set_cr0(v, (old & ~(LMSW_BITS & ~cr0::PE)) | (source & LMSW_BITS) | (old & cr0::PE));
}

}  // namespace

void handle_cr(Vcpu& v) {
  const uint64_t qual = v.exit.qualification;
  const unsigned cr = unsigned(q::CR.get(qual));
  const unsigned gpr = unsigned(q::GPR.get(qual));
  bool done = false;
  switch (q::ACCESS_TYPE.get(qual)) {
    case q::MOV_TO_CR: done = mov_to_cr(v, cr, gpr); break;
    case q::MOV_FROM_CR: done = mov_from_cr(v, cr, gpr); break;
    case q::CLTS: done = set_cr0(v, guest_cr0_view() & ~cr0::TS); break;
    case q::LMSW: done = lmsw(v, q::LMSW_SOURCE.get(qual)); break;
  }
  if (!done) return inject_exception(v, uint8_t(arch::Vector::GP), 0);  // a fault: RIP stays
  skip_emulated_instruction(v);
}

}  // namespace l1
