#include "l1-vmm/nested/shadow_vmcs.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/rflags.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/nested/guest_access.h"
#include "l1-vmm/nested/nested_internal.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1::nested {
namespace {

using namespace arch::vmx;
using F = VmcsField;
using E = VmInstructionError;
namespace rw = insn_info_vmread_vmwrite;

// Whether shadowing is in use, and whether a shadow VMCS is linked. Each
// vmcs12 l1-vmm holds has its own shadow VMCS and mirror of what that
// holds (VmcsSlot, nested.h), so switching vmcs12 copies nothing.
struct ShadowVmcs {
  bool enabled = false;   // the platform offers shadowing and shadow_vmcs=1
  bool active = false;    // linked from vmcs01: a vmcs12 is current
};
ShadowVmcs shadow;

uint64_t new_shadow_vmcs(const Vcpu& v) {
  const uint64_t page = mm::alloc_page_or_die("a shadow VMCS");
  *reinterpret_cast<uint32_t*>(page) = v.config.revision() | vmcs_region::SHADOW_VMCS_INDICATOR;
  if (rt::vmx::vmclear(page) != rt::vmx::Status::Ok) fatal(L1_PANIC, "VMCLEAR of a shadow VMCS failed");
  return page;
}

// Each shadowed field's slot in vmcs12 (arch::vmx::vmcs_field_slot).
struct ShadowSlots {
  uint16_t slot[kShadowFieldCount];
};
constexpr ShadowSlots make_shadow_slots() {
  ShadowSlots t{};
  for (unsigned i = 0; i < kShadowFieldCount; i++) t.slot[i] = uint16_t(vmcs_field_slot(kShadowFields[i].field));
  return t;
}
constexpr ShadowSlots kShadowSlots = make_shadow_slots();

// The other way: each vmcs12 slot's index in kShadowFields, -1 if the
// field is not shadowed.
struct ShadowIndexOfSlot {
  int16_t index[kVmcsFieldCount];
};
constexpr ShadowIndexOfSlot make_shadow_index_of_slot() {
  ShadowIndexOfSlot t{};
  for (unsigned s = 0; s < kVmcsFieldCount; s++) t.index[s] = -1;
  for (unsigned i = 0; i < kShadowFieldCount; i++) t.index[kShadowSlots.slot[i]] = int16_t(i);
  return t;
}
constexpr ShadowIndexOfSlot kShadowIndexOfSlot = make_shadow_index_of_slot();

// The read-write shadowed fields' indices in kShadowFields: the ones the
// guest hypervisor can change without an exit.
struct ShadowRwFields {
  uint8_t index[kShadowFieldCount];
  unsigned count;
};
constexpr ShadowRwFields make_shadow_rw_fields() {
  ShadowRwFields t{};
  for (unsigned i = 0; i < kShadowFieldCount; i++)
    if (kShadowFields[i].access == ShadowAccess::RW) t.index[t.count++] = uint8_t(i);
  return t;
}
constexpr ShadowRwFields kShadowRw = make_shadow_rw_fields();
static_assert(kShadowFieldCount <= 256, "indices fit uint8_t");

// The VMCS to make current again after touching the shadow VMCS.
uint64_t current_vmcs(const Vcpu& v) { return v.nested.guest_mode ? v.nested.cur->vmcs02 : v.vmcs01; }

uint64_t bitmap_page(bool write) {
  const uint64_t page = mm::alloc_page_or_die(write ? "the VMWRITE bitmap" : "the VMREAD bitmap");
  auto* bits = reinterpret_cast<uint8_t*>(page);
  __builtin_memset(bits, 0xff, 4096);  // everything exits ...
  clear_shadow_bitmap_bits(bits, write);  // ... but the shadowed fields
  return page;
}

// Level k+2's memory operand is in level k+2's address space; l1-vmm's
// shadowed VMREAD/VMWRITE takes register operands only and leaves memory
// operands to the guest hypervisor (the exit is reflected).
bool register_operand(uint32_t insn) { return rw::MEM_REG.test(insn); }

}  // namespace

void shadow_vmcs_setup(Vcpu& v) {
  const bool platform = ctls_allowed1(v.config.caps.procbased2) & proc_ctl2::VMCS_SHADOWING;
  shadow.enabled = v.nested.enabled && v.options.shadow_vmcs && platform;
  if (!shadow.enabled) return;
  // vmcs01 is current (init_vmcs01 ran). Shadowing is switched on by the
  // guest's VMXON: outside VMX operation its VMREAD/VMWRITE must exit (#UD).
  vmcs_write(F::VMREAD_BITMAP, bitmap_page(false));
  vmcs_write(F::VMWRITE_BITMAP, bitmap_page(true));
}

void shadow_vmcs_vmx_operation(Vcpu& v, bool on) {
  (void)v;
  if (!shadow.enabled) return;
  // In VMX operation without a current VMCS, a shadowed VMREAD/VMWRITE
  // finds the link pointer all-ones and fails with VMfailInvalid (SDM
  // 30.3), as the emulated one would.
  on ? vmcs_set_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING)
     : vmcs_clear_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING);
}

void shadow_vmcs_activate(Vcpu& v) {
  if (!shadow.enabled) return;
  VmcsSlot& slot = *v.nested.cur;
  if (!slot.shadow_vmcs) slot.shadow_vmcs = new_shadow_vmcs(v);
  shadow.active = true;
  copy_vmcs12_to_shadow(v);  // everything after a load, else what changed
  vmcs_write(F::VMCS_LINK_POINTER, slot.shadow_vmcs);
}

void shadow_vmcs_deactivate(Vcpu& v) {
  if (!shadow.active) return;
  (void)v;
  shadow.active = false;
  vmcs_write(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
}

bool copy_shadow_to_vmcs12(Vcpu& v, bool keep_shadow_current) {
  if (!shadow.active) return false;
  VmcsSlot& slot = *v.nested.cur;
  Vmcs12& c = slot.vmcs12;
  vmptrld_or_die(slot.shadow_vmcs, "the shadow VMCS");
  for (unsigned k = 0; k < kShadowRw.count; k++) {
    const unsigned i = kShadowRw.index[k];
    const uint64_t value = vmcs_read(kShadowFields[i].field);
    if (value == slot.mirror[i]) continue;
    slot.mirror[i] = value;
    c.vmwrite(uint32_t(kShadowFields[i].field), value);  // a guest VMWRITE: dirty for prepare_vmcs02
  }
  if (keep_shadow_current) return true;
  vmptrld_or_die(current_vmcs(v), "the current VMCS");
  return false;
}

// Only the fields vmcs12 changed since the last copy (Vmcs12's change
// set), or every field while the shadow VMCS holds nothing known yet.
void copy_vmcs12_to_shadow(Vcpu& v, uint64_t next) {
  if (!shadow.active) {
    if (next) vmptrld_or_die(next, "the next VMCS");
    return;
  }
  VmcsSlot& slot = *v.nested.cur;
  Vmcs12& c = slot.vmcs12;
  bool loaded = false;
  auto copy = [&](unsigned i) {
    const uint64_t value = c.fields()[kShadowSlots.slot[i]];
    if (slot.mirror_valid && value == slot.mirror[i]) return;
    if (!loaded) vmptrld_or_die(slot.shadow_vmcs, "the shadow VMCS"), loaded = true;
    vmcs_write(kShadowFields[i].field, value);
    slot.mirror[i] = value;
  };
  if (!slot.mirror_valid) {
    for (unsigned i = 0; i < kShadowFieldCount; i++) copy(i);
  } else {
    c.for_each_changed([&](unsigned s) {
      if (kShadowIndexOfSlot.index[s] >= 0) copy(unsigned(kShadowIndexOfSlot.index[s]));
    });
  }
  c.clear_changed();
  slot.mirror_valid = true;
  if (next) vmptrld_or_die(next, "the next VMCS");
  else if (loaded) vmptrld_or_die(current_vmcs(v), "the current VMCS");
}

bool nested_shadowed_vmread_vmwrite(Vcpu& v) {
  NestedVmx& n = v.nested;
  const Vmcs12& c = n.cur->vmcs12;
  const bool shadowing = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                         c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING);
  if (!shadowing) return false;
  const bool write = v.exit.basic == uint16_t(ExitReason::VMWRITE);
  const uint32_t insn = vmcs_read32(F::VMX_INSTRUCTION_INFO);
  if (!register_operand(insn)) return false;
  const uint64_t mask = guest_64bit_code() ? ~0ull : 0xffffffffull;
  const uint64_t encoding = v.gpr(unsigned(rw::REG2.get(insn))) & mask;
  // SDM 25.1.3: an encoding with bits 63:15 set always exits; else the
  // bitmap bit decides (a bitmap outside the guest's RAM reads as 1).
  if (!vmcs_shadow_bitmap_in_range(encoding)) return false;
  const uint64_t bitmap = c.get(write ? F::VMWRITE_BITMAP : F::VMREAD_BITMAP);
  const uint32_t bit = vmcs_shadow_bitmap_bit(encoding);
  if ((guest_memory.read_or_ones(bitmap + bit / 8, 1) >> (bit % 8)) & 1) return false;

  // SDM 30.3 VMREAD/VMWRITE in VMX non-root operation: on the VMCS that the
  // link pointer references; errors as VMfail (the error number into the
  // current VMCS, vmcs12, as the platform does: l0/sim/README.md).
  auto outcome = [&](uint64_t flags, uint32_t error) {
    if (error) n.cur->vmcs12.set(F::VM_INSTRUCTION_ERROR, error);
    vmcs_write(F::GUEST_RFLAGS, (vmcs_read(F::GUEST_RFLAGS) & ~arch::rflags::STATUS) | flags);
    skip_emulated_instruction(v);
    return true;
  };
  const uint64_t link = c.get(F::VMCS_LINK_POINTER);
  auto* region = static_cast<uint8_t*>(guest_memory.hva(link, vmcs12_layout::SIZE));
  if (link == VMCS_POINTER_NONE || !region) return outcome(arch::rflags::CF, 0);
  // The shadow VMCS may be one l1-vmm holds (the guest hypervisor made it
  // current to fill it): then its fields are in that slot, not yet in memory.
  Vmcs12* held = nullptr;
  for (VmcsSlot& s : n.slots)
    if (s.vmptr == link) held = &s.vmcs12;
  if (write) {
    const uint64_t value = v.gpr(unsigned(rw::REG1.get(insn))) & mask;
    if (!vmcs_field_known(encoding)) return outcome(arch::rflags::ZF, uint32_t(E::UNSUPPORTED_VMCS_COMPONENT));
    if (vmcs_field_read_only(encoding) && !vmx_misc::VMWRITE_ANY_FIELD.test(n.caps.misc()))
      return outcome(arch::rflags::ZF, uint32_t(E::VMWRITE_READ_ONLY_COMPONENT));
    held ? (void)held->vmwrite(encoding, value) : (void)Vmcs12::region_vmwrite(region, encoding, value);
    return outcome(0, 0);
  }
  uint64_t value;
  const bool known = held ? held->vmread(encoding, value) : Vmcs12::region_vmread(region, encoding, value);
  if (!known) return outcome(arch::rflags::ZF, uint32_t(E::UNSUPPORTED_VMCS_COMPONENT));
  v.set_gpr(unsigned(rw::REG1.get(insn)), value & mask);
  return outcome(0, 0);
}

}  // namespace l1::nested
