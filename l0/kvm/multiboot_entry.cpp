#include "l0/kvm/multiboot_entry.h"

#include "arch/x86/control_regs.h"
#include "arch/x86/rflags.h"

namespace nestbed::kvm {
namespace {

// Selectors as the sim uses them (GDT entries 1 and 2). Multiboot leaves
// the values undefined and the guest loads its own GDT before reloading them.
constexpr uint16_t FLAT_CODE_SELECTOR = 0x08;
constexpr uint16_t FLAT_DATA_SELECTOR = 0x10;
constexpr uint8_t TYPE_CODE_EXEC_READ_ACCESSED = 0xb;
constexpr uint8_t TYPE_DATA_READ_WRITE_ACCESSED = 0x3;

// A present, 32-bit, 4 GiB, base-0 code or data segment at DPL 0.
kvm_segment flat_segment(uint16_t selector, uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = 1;  // 32-bit
  s.s = 1;   // code/data, not system
  s.l = 0;
  s.g = 1;  // limit in 4 KiB units
  return s;
}

}  // namespace

void enter_multiboot_state(KvmVcpu& vcpu, const BootState& boot) {
  // Start from KVM's reset state, which has valid LDTR/TR/IDTR/GDTR, and
  // change what Multiboot specifies.
  kvm_sregs sregs = vcpu.sregs();
  sregs.cs = flat_segment(FLAT_CODE_SELECTOR, TYPE_CODE_EXEC_READ_ACCESSED);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(FLAT_DATA_SELECTOR, TYPE_DATA_READ_WRITE_ACCESSED);
  sregs.cr0 = arch::cr0::PE | arch::cr0::ET;  // protected mode, paging off, caches on
  sregs.cr2 = sregs.cr3 = sregs.cr4 = 0;
  sregs.efer = 0;
  vcpu.set_sregs(sregs);

  kvm_regs regs{};
  regs.rax = boot.eax;
  regs.rbx = boot.ebx;
  regs.rip = boot.entry;
  regs.rflags = arch::rflags::FIXED1;  // interrupts off
  vcpu.set_regs(regs);
}

}  // namespace nestbed::kvm
