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
  // Everything after a load, else what changed. (If level k+2 VMWRITEs
  // through vmcs02's link are still only in the shadow VMCS, shadow_ahead,
  // they stay there: the guest hypervisor reads them there.)
  copy_vmcs12_to_shadow(v);
  vmcs_write(F::VMCS_LINK_POINTER, slot.shadow_vmcs);
}

void shadow_vmcs_deactivate(Vcpu& v) {
  if (!shadow.active) return;
  (void)v;
  shadow.active = false;
  vmcs_write(F::VMCS_LINK_POINTER, VMCS_POINTER_NONE);
}

namespace {

// The read-write fields the guest hypervisor (or, through vmcs02's link,
// its guest) may have VMWRITten in `slot`'s shadow VMCS, which is current,
// into its vmcs12.
// Unrolled at compile time: a VMREAD, a compare and a branch per field.
template <unsigned K>
[[gnu::always_inline]] inline void read_back_rw_fields_from(VmcsSlot& slot) {
  if constexpr (K < kShadowRw.count) {
    constexpr unsigned i = kShadowRw.index[K];
    const uint64_t value = vmcs_read(kShadowFields[i].field);
    if (value != slot.mirror[i]) {
      slot.mirror[i] = value;
      slot.vmcs12.vmwrite(uint32_t(kShadowFields[i].field), value);  // a guest VMWRITE: dirty for prepare_vmcs02
    }
    read_back_rw_fields_from<K + 1>(slot);
  }
}
void read_back_rw_fields(VmcsSlot& slot) { read_back_rw_fields_from<0>(slot); }

// vmcs12's changes into `slot`'s shadow VMCS: only the fields vmcs12
// changed since the last copy (Vmcs12's change set), or every field while
// the shadow VMCS holds nothing known yet. Then `next` is current (0: the
// VMCS current before, `restore`). True if the shadow VMCS was loaded.
void copy_slot_to_shadow(VmcsSlot& slot, uint64_t next, uint64_t restore) {
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
  else if (loaded) vmptrld_or_die(restore, "the current VMCS");
}

}  // namespace

void shadow_vmcs_sync_slot(Vcpu& v, VmcsSlot& slot) {
  if (!slot.shadow_ahead || !slot.shadow_vmcs) return;
  slot.shadow_ahead = false;
  vmptrld_or_die(slot.shadow_vmcs, "a shadow VMCS");
  read_back_rw_fields(slot);
  vmptrld_or_die(current_vmcs(v), "the current VMCS");
}

bool copy_shadow_to_vmcs12(Vcpu& v, bool keep_shadow_current) {
  if (!shadow.active) return false;
  VmcsSlot& slot = *v.nested.cur;
  if (!slot.shadow_ahead) return false;
  vmptrld_or_die(slot.shadow_vmcs, "the shadow VMCS");
  read_back_rw_fields(slot);
  slot.shadow_ahead = false;
  if (keep_shadow_current) return true;
  vmptrld_or_die(current_vmcs(v), "the current VMCS");
  return false;
}

void copy_vmcs12_to_shadow(Vcpu& v, uint64_t next) {
  if (!shadow.active) {
    if (next) vmptrld_or_die(next, "the next VMCS");
    return;
  }
  copy_slot_to_shadow(*v.nested.cur, next, current_vmcs(v));
  // The guest hypervisor runs next, its shadow VMCS linked from vmcs01:
  // its VMWRITEs of read-write fields land there.
  v.nested.cur->shadow_ahead = true;
}

// ---- level k+2's VMREAD/VMWRITE on level k+1's shadow VMCS, by the platform --
//
// vmcs12 uses VMCS shadowing with a shadow VMCS that l1-vmm holds in a
// slot: that slot's platform shadow VMCS (which mirrors it for level k+1's
// own VMREAD/VMWRITE while it is current) is linked from vmcs02, with
// bitmaps that let through exactly the fields it mirrors and vmcs12's
// bitmaps let through (read-write ones only for VMWRITE). Level k+2's
// VMREAD/VMWRITE of those then run without exits, as on a processor with
// shadowing; the rest exit and are emulated (nested_shadowed_vmread_vmwrite)
// or reflected. What level k+2 VMWRITEs there is read back into the slot's
// vmcs12 before l1-vmm next uses it (shadow_ahead, shadow_vmcs_sync_slot).

namespace {

// The bytes of a VMREAD/VMWRITE bitmap that hold a shadowed field's bit
// (both halves of a 64-bit field), with those bits: vmcs12's bitmaps are
// read at every nested entry, a few dozen bytes rather than a bit at a time.
struct ShadowBitmapBytes {
  uint16_t offset[2 * kShadowFieldCount];
  uint8_t read_bits[2 * kShadowFieldCount], write_bits[2 * kShadowFieldCount];  // write: RW fields only
  unsigned count;
};
constexpr ShadowBitmapBytes make_shadow_bitmap_bytes() {
  ShadowBitmapBytes t{};
  for (const ShadowField& f : kShadowFields) {
    const bool wide = vmcs_field_width(f.field) == VmcsWidth::BITS64;
    for (unsigned half = 0; half < (wide ? 2u : 1u); half++) {
      const unsigned bit = vmcs_shadow_bitmap_bit(uint32_t(f.field) | half);
      unsigned k = 0;
      while (k < t.count && t.offset[k] != bit / 8) k++;
      if (k == t.count) t.offset[t.count++] = uint16_t(bit / 8);
      t.read_bits[k] = uint8_t(t.read_bits[k] | (1u << (bit % 8)));
      if (f.access == ShadowAccess::RW) t.write_bits[k] = uint8_t(t.write_bits[k] | (1u << (bit % 8)));
    }
  }
  return t;
}
constexpr ShadowBitmapBytes kShadowBitmapBytes = make_shadow_bitmap_bytes();

// vmcs12's bitmaps at those bytes, masked: a 1 exits (SDM 25.1.3; a bitmap
// outside the guest's RAM reads as all-ones).
struct BitmapBytes {
  uint8_t read[2 * kShadowFieldCount], write[2 * kShadowFieldCount];
  bool operator==(const BitmapBytes& o) const {
    for (unsigned k = 0; k < kShadowBitmapBytes.count; k++)
      if (read[k] != o.read[k] || write[k] != o.write[k]) return false;
    return true;
  }
};

struct Bitmaps02 {
  uint64_t read_page = 0, write_page = 0;  // vmcs02's VMREAD/VMWRITE bitmaps
  BitmapBytes holds{};                     // vmcs12's bits they were built from
  bool built = false;
};
Bitmaps02 bitmaps02;

BitmapBytes vmcs12_bitmap_bytes(const Vmcs12& c) {
  const auto* r = static_cast<const uint8_t*>(guest_memory.hva(c.get(F::VMREAD_BITMAP), 4096));
  const auto* w = static_cast<const uint8_t*>(guest_memory.hva(c.get(F::VMWRITE_BITMAP), 4096));
  BitmapBytes b{};
  for (unsigned k = 0; k < kShadowBitmapBytes.count; k++) {
    const unsigned o = kShadowBitmapBytes.offset[k];
    b.read[k] = uint8_t((r ? r[o] : 0xff) & kShadowBitmapBytes.read_bits[k]);
    b.write[k] = uint8_t((w ? w[o] : 0xff) & kShadowBitmapBytes.write_bits[k]);
  }
  return b;
}

// vmcs02's bitmaps: vmcs12's bit where l1-vmm's shadow VMCS mirrors the
// field (for VMWRITE: a read-write one), else 1 (exit).
void update_bitmaps02(const Vmcs12& c) {
  if (!bitmaps02.read_page) {
    bitmaps02.read_page = mm::alloc_page_or_die("vmcs02's VMREAD bitmap");
    bitmaps02.write_page = mm::alloc_page_or_die("vmcs02's VMWRITE bitmap");
    __builtin_memset(reinterpret_cast<void*>(bitmaps02.read_page), 0xff, 4096);  // everything exits
    __builtin_memset(reinterpret_cast<void*>(bitmaps02.write_page), 0xff, 4096);
  }
  const BitmapBytes b = vmcs12_bitmap_bytes(c);
  if (bitmaps02.built && b == bitmaps02.holds) return;
  auto* r02 = reinterpret_cast<uint8_t*>(bitmaps02.read_page);
  auto* w02 = reinterpret_cast<uint8_t*>(bitmaps02.write_page);
  for (unsigned k = 0; k < kShadowBitmapBytes.count; k++) {
    const unsigned o = kShadowBitmapBytes.offset[k];
    r02[o] = uint8_t(~kShadowBitmapBytes.read_bits[k] | b.read[k]);
    w02[o] = uint8_t(~kShadowBitmapBytes.write_bits[k] | b.write[k]);
  }
  bitmaps02.holds = b;
  bitmaps02.built = true;
}

// The slot holding vmcs12's shadow VMCS, if vmcs12 uses VMCS shadowing and
// that slot's platform shadow VMCS mirrors it.
VmcsSlot* linkable_slot(NestedVmx& n) {
  const Vmcs12& c = n.cur->vmcs12;
  const bool shadowing = c.test(F::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS) &&
                         c.test(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING);
  if (!shadowing) return nullptr;
  const uint64_t link = c.get(F::VMCS_LINK_POINTER);
  for (VmcsSlot& s : n.slots)
    if (s.vmptr == link && &s != n.cur && s.shadow_vmcs && s.mirror_valid) return &s;
  return nullptr;
}

}  // namespace

void shadow_vmcs_on_nested_entry(Vcpu& v) {
  NestedVmx& n = v.nested;
  VmcsSlot& cur = *n.cur;
  VmcsSlot* s = shadow.enabled ? linkable_slot(n) : nullptr;
  if (s) {
    copy_slot_to_shadow(*s, 0, cur.vmcs02);  // what l1-vmm changed in it since (emulated VMWRITEs)
    update_bitmaps02(cur.vmcs12);
    s->shadow_ahead = true;  // level k+2 may VMWRITE it
  }
  const uint64_t want = s ? s->shadow_vmcs : 0;
  if (want == cur.linked_shadow) return;
  if (want && !cur.linked_shadow) {
    vmcs_write(F::VMREAD_BITMAP, bitmaps02.read_page);
    vmcs_write(F::VMWRITE_BITMAP, bitmaps02.write_page);
    vmcs_set_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING);
  } else if (!want) {
    vmcs_clear_bits(F::SECONDARY_VM_EXEC_CONTROL, proc_ctl2::VMCS_SHADOWING);
  }
  vmcs_write(F::VMCS_LINK_POINTER, want ? want : VMCS_POINTER_NONE);
  cur.linked_shadow = want;
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
  VmcsSlot* held_slot = nullptr;
  for (VmcsSlot& s : n.slots)
    if (s.vmptr == link) held_slot = &s;
  if (held_slot) shadow_vmcs_sync_slot(v, *held_slot);  // level k+2's own VMWRITEs through vmcs02's link
  Vmcs12* held = held_slot ? &held_slot->vmcs12 : nullptr;
  if (write) {
    const uint64_t value = v.gpr(unsigned(rw::REG1.get(insn))) & mask;
    if (!vmcs_field_known(encoding)) return outcome(arch::rflags::ZF, uint32_t(E::UNSUPPORTED_VMCS_COMPONENT));
    if (vmcs_field_read_only(encoding) && !vmx_misc::VMWRITE_ANY_FIELD.test(n.caps.misc()))
      return outcome(arch::rflags::ZF, uint32_t(E::VMWRITE_READ_ONLY_COMPONENT));
    held ? (void)held->vmwrite(encoding, value) : (void)Vmcs12::region_vmwrite(region, encoding, value);
    // The platform shadow VMCS mirroring it, if linked, reads the same.
    if (held_slot && held_slot->shadow_vmcs && held_slot->mirror_valid)
      copy_slot_to_shadow(*held_slot, 0, current_vmcs(v));
    return outcome(0, 0);
  }
  uint64_t value;
  const bool known = held ? held->vmread(encoding, value) : Vmcs12::region_vmread(region, encoding, value);
  if (!known) return outcome(arch::rflags::ZF, uint32_t(E::UNSUPPORTED_VMCS_COMPONENT));
  v.set_gpr(unsigned(rw::REG1.get(insn)), value & mask);
  return outcome(0, 0);
}

}  // namespace l1::nested
