// An unrestricted guest in real-address mode (SDM 26.3.1.1: with
// "unrestricted guest" CR0.PE and CR0.PG may be 0; 26.3.1.2: its segment
// state; 20.1 real-address mode itself).
#include "arch/x86/control_regs.h"
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

}  // namespace

void test_unrestricted_guest_real_mode() {
  // The guest's two pages, reached only through its EPT.
  const uint64_t low = pages.scratch[0], code = pages.scratch[1];
  clear_page(low);
  clear_page(code);
  memcpy(reinterpret_cast<void*>(code), guest_real, size_t(guest_real_end - guest_real));
  word(low, VECTOR * 4) = offset_of(guest_real_handler);  // IVT entry: offset, segment
  word(low, VECTOR * 4 + 2) = CODE_SEGMENT;

  REQUIRE(setup_guest(0));
  REQUIRE(set_proc2(proc_ctl2::UNRESTRICTED_GUEST));
  REQUIRE(require_ept_cap(cap::PAGE_WALK_4.mask | cap::MEMTYPE_WB.mask, "4-level EPT with write-back tables"));
  vmx::Ept ept;
  if (!ept.init() || !ept.map(IVT_GPA, low, PAGE, vmx::EPT_RWX | vmx::EPT_WB) ||
      !ept.map(CODE_GPA, code, PAGE, vmx::EPT_RWX | vmx::EPT_WB)) {
    fail("out of memory for the EPT tables");
    return;
  }
  REQUIRE(set_proc2(proc_ctl2::ENABLE_EPT));
  vwrite(VmcsField::EPT_POINTER, ept.eptp());

  // Real-address mode: CR0.PE = PG = 0, no IA-32e mode, 16-bit segments of
  // 64 KiB at selector << 4 (present, accessed; CS code, the others
  // read/write data), CPL 0 (SS.DPL), the IVT at IDTR.base 0.
  namespace ar = arch::seg::ar;
  const uint64_t guest_cr0 = ((caps.cr0_fixed0 | arch::cr0::ET) & ~(arch::cr0::PG | arch::cr0::PE)) & caps.cr0_fixed1;
  vwrite(VmcsField::GUEST_CR0, guest_cr0);
  vwrite(VmcsField::GUEST_CR4, caps.cr4_fixed0);
  vwrite(VmcsField::CR0_READ_SHADOW, guest_cr0);
  vwrite(VmcsField::CR4_READ_SHADOW, caps.cr4_fixed0);
  vclear_bits(VmcsField::VM_ENTRY_CONTROLS, entry_ctl::IA32E_MODE_GUEST);
  const uint32_t data_ar = ar::P | ar::S | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED;
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
    vwrite(f.rights, data_ar);
  }
  vwrite(VmcsField::GUEST_CS_SELECTOR, CODE_SEGMENT);
  vwrite(VmcsField::GUEST_CS_BASE, CODE_GPA);
  vwrite(VmcsField::GUEST_CS_LIMIT, 0xffff);
  vwrite(VmcsField::GUEST_CS_AR_BYTES, data_ar | ar::TYPE_CODE);
  vwrite(VmcsField::GUEST_IDTR_BASE, IVT_GPA);
  vwrite(VmcsField::GUEST_IDTR_LIMIT, 0x3ff);
  vwrite(VmcsField::GUEST_RFLAGS, arch::rflags::FIXED1);
  vwrite(VmcsField::GUEST_RIP, 0);
  vwrite(VmcsField::GUEST_RSP, STACK_TOP);

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

}  // namespace selftest
