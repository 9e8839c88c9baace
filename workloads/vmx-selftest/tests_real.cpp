// An unrestricted guest in real-address mode (SDM 26.3.1.1: with
// "unrestricted guest" CR0.PE and CR0.PG may be 0; 26.3.1.2: its segment
// state; 20.1 real-address mode itself) and in virtual-8086 mode (20.2).
#include "arch/vmx/exit_qualification.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace cap = arch::vmx::vmx_ept_vpid_cap;

namespace {

// Guest-physical layout: page 0 holds the IVT (0-3FFH) and, below 1000H,
// the stack; page 1000H the code, CS = 0100H.
constexpr uint64_t IVT_GPA = 0x0000, CODE_GPA = 0x1000;
constexpr uint16_t CODE_SEGMENT = CODE_GPA >> 4;
constexpr uint16_t STACK_TOP = 0x1000;
constexpr uint8_t VECTOR = 0x21;

uint16_t& word(uint64_t page, unsigned offset) { return *reinterpret_cast<uint16_t*>(page + offset); }
uint16_t offset_of(const char* label) { return uint16_t(addr(label) - addr(guest_real)); }

// The guest for both tests: guest_real copied to CODE_GPA, the IVT entry
// for VECTOR, an EPT that maps only those two pages, unrestricted guest
// with CR0.PG = 0 and CR0.PE as `pe` says, no IA-32e mode, 16-bit segments
// of 64 KiB at selector << 4 with access rights `seg_ar` (CS code unless
// they are the virtual-8086 ones), SP = STACK_TOP, IP = 0, RFLAGS `rflags`.
bool setup_low_guest(vmx::Ept& ept, bool pe, uint32_t seg_ar, uint64_t rflags) {
  const uint64_t low = pages.scratch[0], code = pages.scratch[1];
  clear_page(low);
  clear_page(code);
  memcpy(reinterpret_cast<void*>(code), guest_real, size_t(guest_real_end - guest_real));
  word(low, VECTOR * 4) = offset_of(guest_real_handler);  // IVT entry: offset, segment
  word(low, VECTOR * 4 + 2) = CODE_SEGMENT;

  if (!setup_guest(0) || !set_proc2(proc_ctl2::UNRESTRICTED_GUEST) ||
      !require_ept_cap(cap::PAGE_WALK_4.mask | cap::MEMTYPE_WB.mask, "4-level EPT with write-back tables"))
    return false;
  if (!ept.init() || !ept.map(IVT_GPA, low, PAGE, vmx::EPT_RWX | vmx::EPT_WB) ||
      !ept.map(CODE_GPA, code, PAGE, vmx::EPT_RWX | vmx::EPT_WB)) {
    fail("out of memory for the EPT tables");
    return false;
  }
  if (!set_proc2(proc_ctl2::ENABLE_EPT)) return false;
  vwrite(VmcsField::EPT_POINTER, ept.eptp());

  const uint64_t cr0_clear = arch::cr0::PG | (pe ? 0 : arch::cr0::PE);
  const uint64_t guest_cr0 = ((caps.cr0_fixed0 | arch::cr0::ET) & ~cr0_clear) & caps.cr0_fixed1;
  vwrite(VmcsField::GUEST_CR0, guest_cr0);
  vwrite(VmcsField::GUEST_CR4, caps.cr4_fixed0);
  vwrite(VmcsField::CR0_READ_SHADOW, guest_cr0);
  vwrite(VmcsField::CR4_READ_SHADOW, caps.cr4_fixed0);
  vclear_bits(VmcsField::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
  struct {
    VmcsField sel, base, limit, rights;
  } const data[] = {
      {VmcsField::GUEST_SS_SELECTOR, VmcsField::GUEST_SS_BASE, VmcsField::GUEST_SS_LIMIT, VmcsField::GUEST_SS_AR_BYTES},
      {VmcsField::GUEST_DS_SELECTOR, VmcsField::GUEST_DS_BASE, VmcsField::GUEST_DS_LIMIT, VmcsField::GUEST_DS_AR_BYTES},
      {VmcsField::GUEST_ES_SELECTOR, VmcsField::GUEST_ES_BASE, VmcsField::GUEST_ES_LIMIT, VmcsField::GUEST_ES_AR_BYTES},
      {VmcsField::GUEST_FS_SELECTOR, VmcsField::GUEST_FS_BASE, VmcsField::GUEST_FS_LIMIT, VmcsField::GUEST_FS_AR_BYTES},
      {VmcsField::GUEST_GS_SELECTOR, VmcsField::GUEST_GS_BASE, VmcsField::GUEST_GS_LIMIT, VmcsField::GUEST_GS_AR_BYTES},
  };
  for (const auto& f : data) {
    vwrite(f.sel, 0);
    vwrite(f.base, 0);
    vwrite(f.limit, 0xffff);
    vwrite(f.rights, seg_ar);
  }
  vwrite(VmcsField::GUEST_CS_SELECTOR, CODE_SEGMENT);
  vwrite(VmcsField::GUEST_CS_BASE, CODE_GPA);
  vwrite(VmcsField::GUEST_CS_LIMIT, 0xffff);
  vwrite(VmcsField::GUEST_CS_AR_BYTES, seg_ar == arch::seg::ar::V86 ? seg_ar : seg_ar | arch::seg::ar::TYPE_CODE);
  vwrite(VmcsField::GUEST_IDTR_BASE, IVT_GPA);
  vwrite(VmcsField::GUEST_IDTR_LIMIT, 0x3ff);
  vwrite(VmcsField::GUEST_RFLAGS, rflags);
  vwrite(VmcsField::GUEST_RIP, 0);
  vwrite(VmcsField::GUEST_RSP, STACK_TOP);
  return !test_failed();
}

}  // namespace

void test_unrestricted_guest_real_mode() {
  // Real-address mode: CR0.PE = PG = 0, present accessed segments (CS
  // code, the others read/write data), CPL 0 (SS.DPL), the IVT at
  // IDTR.base 0.
  namespace ar = arch::seg::ar;
  vmx::Ept ept;
  REQUIRE(setup_low_guest(ept, false, ar::P | ar::S | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED, arch::rflags::FIXED1));
  const uint64_t low = pages.scratch[0];

  const Exit e = run();
  CHECK_EXIT(e, ExitReason::VMCALL);
  CHECK_EQ(e.rip, offset_of(guest_real_vmcall), "guest IP of the VMCALL");
  CHECK_EQ(e.length, 3, "VMCALL's length");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RAX]), 0x2468, "AX after MOV AX, 1234H; ADD AX, AX");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RBX]), CODE_SEGMENT, "MOV BX, CS");
  CHECK_EQ(uint32_t(regs.gpr[vmx::RSI]), 0x12345678, "ESI after MOV with a 66H prefix");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RCX]), 0x55aa, "CX set by the INT 21H handler");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RDX]), STACK_TOP - 6, "SP in the handler: FLAGS, CS, IP");
  CHECK_EQ(word(low, STACK_TOP - 6), offset_of(guest_real_vmcall), "IP in the interrupt frame");
  CHECK_EQ(word(low, STACK_TOP - 4), CODE_SEGMENT, "CS in the interrupt frame");
  CHECK_EQ(word(low, STACK_TOP - 2), arch::rflags::FIXED1, "FLAGS in the interrupt frame");
  // VM exit saved the real-mode state.
  CHECK_EQ(vread(VmcsField::GUEST_RSP), STACK_TOP, "guest SP after IRET");
  CHECK_EQ(vread(VmcsField::GUEST_CS_SELECTOR), CODE_SEGMENT, "guest CS selector");
  CHECK_EQ(vread(VmcsField::GUEST_CS_BASE), CODE_GPA, "guest CS base");
  CHECK_EQ(vread(VmcsField::GUEST_CR0) & arch::cr0::PE, 0, "guest CR0.PE");
  CHECK(!(vread(VmcsField::VM_ENTRY_CONTROLS) & entry_ctl::IA32E_MODE_GUEST), "\"IA-32e mode guest\" set at the exit");
}

void test_unrestricted_guest_v8086() {
  // Virtual-8086 mode (SDM 20.2, 26.3.1.2): RFLAGS.VM = 1 with CR0.PE = 1
  // (paging off: unrestricted guest), every segment at selector << 4 with
  // limit FFFFH and access rights F3H, CPL 3. At IOPL 0 the INT 21H is
  // #GP(0) (IOPL-sensitive, no CR4.VME), which the exception bitmap turns
  // into a VM exit at the INT.
  vmx::Ept ept;
  REQUIRE(setup_low_guest(ept, true, arch::seg::ar::V86, arch::rflags::FIXED1 | arch::rflags::VM));
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << uint8_t(arch::Vector::GP));
  const Exit e = run();
  CHECK_EXIT(e, ExitReason::EXCEPTION_NMI);
  CHECK_EQ(e.intr_info, make_intr_info(uint8_t(arch::Vector::GP), intr_info::TYPE_HARDWARE_EXCEPTION, true),
           "VM-exit interruption information");
  CHECK_EQ(e.intr_error, 0, "#GP error code");
  CHECK_EQ(e.rip, offset_of(guest_real_int), "guest IP of the INT 21H");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RAX]), 0x2468, "AX after MOV AX, 1234H; ADD AX, AX");
  CHECK_EQ(uint16_t(regs.gpr[vmx::RBX]), CODE_SEGMENT, "MOV BX, CS");
  CHECK_EQ(uint32_t(regs.gpr[vmx::RSI]), 0x12345678, "ESI after MOV with a 66H prefix");
  CHECK(vread(VmcsField::GUEST_RFLAGS) & arch::rflags::VM, "guest RFLAGS.VM saved");
  CHECK_EQ(vread(VmcsField::GUEST_CS_AR_BYTES), arch::seg::ar::V86, "guest CS access rights");
  CHECK_EQ(vread(VmcsField::GUEST_RSP), STACK_TOP, "guest SP");
}

}  // namespace selftest
