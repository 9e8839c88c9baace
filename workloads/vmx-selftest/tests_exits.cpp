// Tests of instruction-caused VM exits and their exit information (SDM
// 25.1, 27.2): unconditional exits, the processor-based controls, the I/O
// and MSR bitmaps, CR access with guest/host masks and read shadows, the
// exception bitmap and TSC offsetting.
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/libc.h"
#include "workloads/vmx-selftest/selftest.h"

namespace selftest {

using namespace arch::vmx;
namespace msr = arch::msr;
namespace cr0 = arch::cr0;

namespace {

uint64_t io_qual(uint16_t port, uint64_t size, uint64_t direction, bool string, bool rep, bool immediate) {
  return qual_io::PORT.make(port) | qual_io::SIZE.make(size) | qual_io::DIRECTION.make(direction) |
         qual_io::STRING.make(string) | qual_io::REP.make(rep) |
         qual_io::OPERAND_ENCODING.make(immediate ? qual_io::PORT_IMMEDIATE : qual_io::PORT_IN_DX);
}

uint64_t cr_qual(unsigned cr, uint64_t access, unsigned gpr) {
  return qual_cr_access::CR.make(cr) | qual_cr_access::ACCESS_TYPE.make(access) | qual_cr_access::GPR.make(gpr);
}

void set_bit(uint64_t page, unsigned bit) { reinterpret_cast<uint8_t*>(page)[bit / 8] |= uint8_t(1u << (bit % 8)); }

void set_msr_bitmap(uint32_t index, bool write) {
  const int byte = msr_bitmap::byte_offset(index, write);
  reinterpret_cast<uint8_t*>(pages.msr_bitmap)[byte] |= uint8_t(1u << msr_bitmap::bit_in_byte(index));
}

}  // namespace

void test_cpuid_exit() {
  // CPUID exits unconditionally (SDM 25.1.2): reason 10, length 2, RIP at
  // the CPUID; GPRs the guest did not touch survive the round trip.
  REQUIRE(setup_guest(addr(guest_cpuid)));
  for (unsigned r = vmx::R8; r <= vmx::R15; r++) regs.gpr[r] = 0x1111111111111111ull * (r - 7);
  regs.gpr[vmx::RAX] = 0;
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::CPUID, guest_cpuid, 2);
  CHECK_QUAL(e, 0);
  for (unsigned r = vmx::R8; r <= vmx::R15; r++)
    CHECK(regs.gpr[r] == 0x1111111111111111ull * (r - 7), "guest R%u = 0x%lx after the exit", r, regs.gpr[r]);
  skip_instruction(e);
  e = resume();
  CHECK_VMCALL_AT(e, guest_cpuid_vmcall, 0);
}

void test_hlt_exit() {
  REQUIRE(setup_guest(addr(guest_hlt)));
  REQUIRE(set_proc(proc_ctl::HLT_EXITING));
  // A watchdog: were HLT not to exit, the guest would halt with IF = 0 for good.
  if (allowed1(caps.pinbased, pin_ctl::PREEMPTION_TIMER)) {
    vset_bits(VmcsField::PIN_BASED_VM_EXEC_CONTROL, pin_ctl::PREEMPTION_TIMER);
    vwrite(VmcsField::VMX_PREEMPTION_TIMER_VALUE, 1u << 20);
  }
  const Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::HLT, guest_hlt, 1);
  CHECK_EQ(vread(VmcsField::GUEST_ACTIVITY_STATE), activity_state::ACTIVE, "guest activity state after the HLT exit");
}

void test_vmcall_exit() {
  REQUIRE(setup_guest(addr(guest_vmcall)));
  const Exit e = run();
  CHECK_VMCALL_AT(e, guest_vmcall, 0);
  CHECK_QUAL(e, 0);
  // In VMX root operation (no dual-monitor treatment) VMCALL is VMfail(1) (SDM 30.3).
  bool cf, zf;
  asm volatile("vmcall" : "=@ccc"(cf), "=@ccz"(zf) : : "memory");
  CHECK(!cf && zf, "VMCALL in VMX root operation: expected VMfailValid, got CF=%d ZF=%d", cf, zf);
  CHECK_EQ(vmx::instruction_error(), VmInstructionError::VMCALL_IN_VMX_ROOT, "VM-instruction error of VMCALL");
}

void test_io_unconditional() {
  // Every I/O instruction exits; the qualification gives size, direction,
  // string, REP, operand encoding and port (SDM 27.2.1, table 27-5).
  REQUIRE(setup_guest(addr(guest_io)));
  if (allowed1(caps.procbased, proc_ctl::USE_IO_BITMAPS) && !(ctls_allowed0(caps.procbased) & proc_ctl::USE_IO_BITMAPS))
    vclear_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::USE_IO_BITMAPS);
  REQUIRE(set_proc(proc_ctl::UNCONDITIONAL_IO_EXITING));
  static const char buffer[4] = {'x', 'y', 'z', 0};
  regs.gpr[vmx::RAX] = 0x55;
  regs.gpr[vmx::RDX] = 0x1234;
  regs.gpr[vmx::RCX] = 1;
  regs.gpr[vmx::RSI] = addr(buffer);

  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io, 2);
  CHECK_QUAL(e, io_qual(0x80, qual_io::SIZE_1, qual_io::OUT, false, false, true));

  skip_instruction(e);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io_inw, 2);
  CHECK_QUAL(e, io_qual(0x1234, qual_io::SIZE_2, qual_io::IN, false, false, false));

  skip_instruction(e);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io_outsb, 2);
  CHECK_QUAL(e, io_qual(0x1234, qual_io::SIZE_1, qual_io::OUT, true, true, false));
  // OUTS: the guest-linear address of the source (SDM 27.2.1) and, where
  // IA32_VMX_BASIC bit 54 says so, address size and segment (table 27-8).
  CHECK_EQ(e.gla, addr(buffer), "guest-linear address of OUTS");
  if (vmx_basic::INS_OUTS_INFO.test(caps.basic)) {
    CHECK_EQ(insn_info_ins_outs::ADDRESS_SIZE.get(e.insn_info), insn_info_ins_outs::ADDR64, "OUTS address size");
    CHECK_EQ(insn_info_ins_outs::SEGMENT.get(e.insn_info), arch::seg::DS, "OUTS segment");
  }
  CHECK_EQ(regs.gpr[vmx::RCX], 1, "RCX after the OUTS exit (not executed)");

  skip_instruction(e);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io_inl, 2);
  CHECK_QUAL(e, io_qual(0x71, qual_io::SIZE_4, qual_io::IN, false, false, true));

  skip_instruction(e);
  CHECK_VMCALL_AT(resume(), guest_io_vmcall, 0);
}

void test_io_bitmap() {
  // With I/O bitmaps, an access exits if the bit of any port it touches is
  // set, and "unconditional I/O exiting" is ignored (SDM 25.1.3).
  REQUIRE(setup_guest(addr(guest_io_bitmap)));
  REQUIRE(set_proc(proc_ctl::USE_IO_BITMAPS));
  if (allowed1(caps.procbased, proc_ctl::UNCONDITIONAL_IO_EXITING))
    vset_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::UNCONDITIONAL_IO_EXITING);
  clear_page(pages.io_bitmap_a);
  clear_page(pages.io_bitmap_b);
  set_bit(pages.io_bitmap_a, io_bitmap::bit_index(0x80));
  set_bit(pages.io_bitmap_b, io_bitmap::bit_index(0x8000));
  vwrite(VmcsField::IO_BITMAP_A, pages.io_bitmap_a);
  vwrite(VmcsField::IO_BITMAP_B, pages.io_bitmap_b);
  regs.gpr[vmx::RDX] = 0x7fff;

  Exit e = run();  // OUT to 81H has its bit clear: no exit
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io_bitmap_80, 2);
  CHECK_QUAL(e, io_qual(0x80, qual_io::SIZE_1, qual_io::OUT, false, false, true));
  skip_instruction(e);
  e = resume();  // a word at 7FFFH also touches 8000H, in bitmap B
  CHECK_EXIT_AT(e, ExitReason::IO_INSTRUCTION, guest_io_bitmap_7fff, 2);
  CHECK_QUAL(e, io_qual(0x7fff, qual_io::SIZE_2, qual_io::OUT, false, false, false));
  skip_instruction(e);
  CHECK_VMCALL_AT(resume(), guest_io_bitmap_vmcall, 0);
}

void test_msr_bitmap() {
  // Without MSR bitmaps every RDMSR exits; with them, the bit for the MSR
  // and access decides, and MSRs outside both ranges always exit (SDM 25.1.3).
  REQUIRE(setup_guest(addr(guest_rdmsr)));
  regs.gpr[vmx::RCX] = msr::IA32_SYSENTER_ESP;
  CHECK_EXIT_AT(run(), ExitReason::MSR_READ, guest_rdmsr, 2);

  REQUIRE(set_proc(proc_ctl::USE_MSR_BITMAPS));
  clear_page(pages.msr_bitmap);
  set_msr_bitmap(msr::IA32_SYSENTER_CS, false);
  set_msr_bitmap(msr::IA32_KERNEL_GS_BASE, true);
  vwrite(VmcsField::MSR_BITMAP, pages.msr_bitmap);

  struct Case {
    const char* rip;
    uint32_t msr;
    bool exits;
    ExitReason reason;
  } cases[] = {
      {guest_rdmsr, msr::IA32_SYSENTER_CS, true, ExitReason::MSR_READ},       // read bit set
      {guest_rdmsr, msr::IA32_SYSENTER_ESP, false, ExitReason::MSR_READ},     // read bit clear
      {guest_wrmsr, msr::IA32_KERNEL_GS_BASE, true, ExitReason::MSR_WRITE},   // high write bit set
      {guest_rdmsr, msr::IA32_KERNEL_GS_BASE, false, ExitReason::MSR_READ},   // high read bit clear
      {guest_wrmsr, msr::IA32_SYSENTER_CS, false, ExitReason::MSR_WRITE},     // low write bit clear
      {guest_rdmsr, 0x40000000, true, ExitReason::MSR_READ},                  // outside both ranges
  };
  for (const Case& c : cases) {
    restart_at(c.rip);
    regs.gpr[vmx::RCX] = c.msr;
    regs.gpr[vmx::RAX] = c.exits ? 0x1234 : (c.rip == guest_wrmsr ? rt::rdmsr(c.msr) : 0);
    regs.gpr[vmx::RDX] = 0;
    const Exit e = resume();
    if (c.exits) {
      CHECK_EXIT_AT(e, c.reason, c.rip, 2);
      CHECK_QUAL(e, 0);
    } else {
      if (!expect_exit_at(e, ExitReason::VMCALL, c.rip + 2, 3)) return;
      if (c.rip == guest_rdmsr) {
        const uint64_t value = (regs.gpr[vmx::RDX] << 32) | uint32_t(regs.gpr[vmx::RAX]);
        CHECK(value == rt::rdmsr(c.msr), "guest RDMSR 0x%x read 0x%lx, the MSR holds 0x%lx", c.msr, value,
              rt::rdmsr(c.msr));
      }
    }
  }
}

void test_cr0_guest_host_mask() {
  // CR0.TS owned by the host (SDM 25.1.3, 25.3): reads see the shadow, a
  // write exits if it differs from the shadow in an owned bit and otherwise
  // leaves the owned bits alone, CLTS follows the mask and shadow.
  REQUIRE(setup_guest(addr(guest_mov_from_cr0)));
  const uint64_t guest_cr0 = vread(VmcsField::GUEST_CR0) & ~cr0::TS;
  vwrite(VmcsField::GUEST_CR0, guest_cr0);
  vwrite(VmcsField::CR0_GUEST_HOST_MASK, cr0::TS);
  vwrite(VmcsField::CR0_READ_SHADOW, guest_cr0 | cr0::TS);

  CHECK_VMCALL_AT(run(), guest_mov_from_cr0, 3);
  CHECK_EQ(regs.gpr[vmx::RAX], guest_cr0 | cr0::TS, "MOV from CR0 with TS owned by the host");

  // Owned bits as in the shadow: no exit; the guest-owned AM is loaded,
  // the host-owned TS is left unmodified.
  const uint64_t guest_bit = (caps.cr0_fixed1 & cr0::AM) ? cr0::AM : 0;
  restart_at(guest_mov_to_cr0);
  regs.gpr[vmx::RBX] = guest_cr0 | cr0::TS | guest_bit;
  CHECK_VMCALL_AT(resume(), guest_mov_to_cr0, 3);
  CHECK_EQ(vread(VmcsField::GUEST_CR0), guest_cr0 | guest_bit, "GUEST_CR0 after MOV to CR0 matching the shadow");

  // Owned bits unlike the shadow: exit, qualification CR 0, MOV to CR, RBX.
  restart_at(guest_mov_to_cr0);
  regs.gpr[vmx::RBX] = guest_cr0;
  Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_mov_to_cr0, 3);
  CHECK_QUAL(e, cr_qual(0, qual_cr_access::MOV_TO_CR, vmx::RBX));
  CHECK_EQ(vread(VmcsField::GUEST_CR0), guest_cr0 | guest_bit, "GUEST_CR0 after the exiting MOV to CR0");

  // CLTS with TS set in mask and shadow: exit.
  restart_at(guest_clts);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_clts, 2);
  CHECK_QUAL(e, qual_cr_access::ACCESS_TYPE.make(qual_cr_access::CLTS));

  // Mask 1, shadow 0: CLTS completes without changing CR0.TS.
  vwrite(VmcsField::GUEST_CR0, guest_cr0 | cr0::TS);
  vwrite(VmcsField::CR0_READ_SHADOW, guest_cr0);
  restart_at(guest_clts);
  CHECK_VMCALL_AT(resume(), guest_clts, 2);
  CHECK(vread(VmcsField::GUEST_CR0) & cr0::TS, "CLTS cleared CR0.TS although the mask has TS and the shadow not");

  // Mask 0: CLTS clears CR0.TS.
  vwrite(VmcsField::CR0_GUEST_HOST_MASK, 0);
  restart_at(guest_clts);
  CHECK_VMCALL_AT(resume(), guest_clts, 2);
  CHECK(!(vread(VmcsField::GUEST_CR0) & cr0::TS), "CLTS did not clear CR0.TS with TS not in the mask");
}

void test_cr_read_shadow() {
  // MOV from CR0/CR4 and SMSW return the read shadow for host-owned bits (SDM 25.3).
  REQUIRE(setup_guest(addr(guest_mov_from_cr4)));
  const uint64_t guest_cr4 = vread(VmcsField::GUEST_CR4);
  vwrite(VmcsField::CR4_GUEST_HOST_MASK, arch::cr4::VMXE);
  vwrite(VmcsField::CR4_READ_SHADOW, guest_cr4 & ~arch::cr4::VMXE);
  CHECK_VMCALL_AT(run(), guest_mov_from_cr4, 3);
  CHECK_EQ(regs.gpr[vmx::RAX], guest_cr4 & ~arch::cr4::VMXE, "MOV from CR4 with VMXE owned by the host");

  const uint64_t guest_cr0 = vread(VmcsField::GUEST_CR0);
  const uint64_t mask = cr0::AM | cr0::WP;
  const uint64_t shadow = (guest_cr0 & ~mask) | (~guest_cr0 & mask);  // both owned bits flipped
  vwrite(VmcsField::CR0_GUEST_HOST_MASK, mask);
  vwrite(VmcsField::CR0_READ_SHADOW, shadow);
  restart_at(guest_mov_from_cr0);
  CHECK_VMCALL_AT(resume(), guest_mov_from_cr0, 3);
  CHECK_EQ(regs.gpr[vmx::RAX], (guest_cr0 & ~mask) | (shadow & mask), "MOV from CR0 with AM and WP owned by the host");

  // SMSW reads the same view of CR0's low bits.
  vwrite(VmcsField::CR0_GUEST_HOST_MASK, cr0::TS | cr0::MP);
  vwrite(VmcsField::CR0_READ_SHADOW, (guest_cr0 & ~(cr0::TS | cr0::MP)) | (~guest_cr0 & (cr0::TS | cr0::MP)));
  restart_at(guest_smsw);
  CHECK_VMCALL_AT(resume(), guest_smsw, 4);
  CHECK_EQ(regs.gpr[vmx::RAX] & 0xffff, (guest_cr0 ^ (cr0::TS | cr0::MP)) & 0xffff,
           "SMSW with TS and MP owned by the host");

  // MOV to CR4 setting the host-owned VMXE that the shadow has clear: exit.
  restart_at(guest_mov_to_cr4);
  regs.gpr[vmx::RBX] = guest_cr4;
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_mov_to_cr4, 3);
  CHECK_QUAL(e, cr_qual(4, qual_cr_access::MOV_TO_CR, vmx::RBX));
}

void test_guest_cr_fixed_bits() {
  // In VMX non-root operation too, CR0 and CR4 keep the bits VMX fixes:
  // a MOV to CR that does not exit and would change one is #GP in the
  // guest; a host-owned bit is left alone instead (SDM 25.3, 23.8).
  REQUIRE(setup_guest(addr(guest_mov_to_cr4)));
  const uint64_t guest_cr4 = vread(VmcsField::GUEST_CR4), guest_cr0 = vread(VmcsField::GUEST_CR0);
  regs.gpr[vmx::RBX] = guest_cr4 & ~arch::cr4::VMXE;
  CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::GP));
  CHECK_EQ(vread(VmcsField::GUEST_CR4), guest_cr4, "GUEST_CR4 after the faulting MOV to CR4");

  if (caps.cr0_fixed0 & cr0::NE) {
    restart_at(guest_mov_to_cr0);
    regs.gpr[vmx::RBX] = guest_cr0 & ~cr0::NE;
    CHECK_GUEST_VECTOR(resume(), uint8_t(arch::Vector::GP));
    CHECK_EQ(vread(VmcsField::GUEST_CR0), guest_cr0, "GUEST_CR0 after the faulting MOV to CR0");
  }

  // VMXE owned by the host with a shadow of 0 (as a VMM hides VMX): the
  // guest writes 0 there without an exit or a fault, and VMXE stays 1.
  vwrite(VmcsField::CR4_GUEST_HOST_MASK, arch::cr4::VMXE);
  vwrite(VmcsField::CR4_READ_SHADOW, guest_cr4 & ~arch::cr4::VMXE);
  restart_at(guest_mov_to_cr4);
  regs.gpr[vmx::RBX] = guest_cr4 & ~arch::cr4::VMXE;
  CHECK_VMCALL_AT(resume(), guest_mov_to_cr4, 3);
  CHECK_EQ(vread(VmcsField::GUEST_CR4), guest_cr4, "GUEST_CR4 after MOV to CR4 of the shadow's value");
}

void test_cr3_exiting() {
  // CR3-load exiting spares the CR3-target values; CR3-store exiting
  // traps reads (SDM 25.1.3); more targets than IA32_VMX_MISC reports is
  // an invalid control (SDM 26.2.1.1).
  REQUIRE(setup_guest(addr(guest_mov_to_cr3)));
  REQUIRE(set_proc(proc_ctl::CR3_LOAD_EXITING | proc_ctl::CR3_STORE_EXITING));
  const unsigned targets = unsigned(vmx_misc::CR3_TARGETS.get(caps.misc));
  const uint64_t cr3 = rt::read_cr3();
  vwrite(VmcsField::CR3_TARGET_COUNT, targets + 1);
  CHECK_ENTRY_FAIL(run(), Status::FailValid, VmInstructionError::ENTRY_INVALID_CONTROL_FIELD);

  // Another CR3 with the same tables, so a wrong load would not crash.
  const uint64_t other = pages.scratch[0];
  memcpy(reinterpret_cast<void*>(other), reinterpret_cast<const void*>(cr3 & arch::pte::ADDR_MASK), PAGE);
  vwrite(VmcsField::CR3_TARGET_COUNT, targets ? 1 : 0);
  if (targets) {
    vwrite(VmcsField::CR3_TARGET_VALUE0, cr3);
    regs.gpr[vmx::RAX] = cr3;
    CHECK_VMCALL_AT(run(), guest_mov_to_cr3, 3);
    restart_at(guest_mov_to_cr3);
  }
  regs.gpr[vmx::RAX] = other;
  Exit e = targets ? resume() : run();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_mov_to_cr3, 3);
  CHECK_QUAL(e, cr_qual(3, qual_cr_access::MOV_TO_CR, vmx::RAX));
  CHECK_EQ(vread(VmcsField::GUEST_CR3), cr3, "GUEST_CR3 after the exiting MOV to CR3");

  restart_at(guest_mov_from_cr3);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_mov_from_cr3, 3);
  CHECK_QUAL(e, cr_qual(3, qual_cr_access::MOV_FROM_CR, vmx::RAX));
}

void test_exception_bitmap_ud() {
  // #UD goes to the guest's IDT unless its bit is set in the exception
  // bitmap; then exit reason 0 with the vector in the interruption
  // information (SDM 25.2, 27.2.2).
  REQUIRE(setup_guest(addr(guest_ud2)));
  CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::UD));
  CHECK_EQ(reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX])[0], addr(guest_ud2), "RIP in the guest's #UD frame");

  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << uint8_t(arch::Vector::UD));
  restart_at(guest_ud2);
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::EXCEPTION_NMI, guest_ud2, 0);
  CHECK_EQ(e.intr_info, make_intr_info(uint8_t(arch::Vector::UD), intr_info::TYPE_HARDWARE_EXCEPTION, false),
           "VM-exit interruption information");
  CHECK_QUAL(e, 0);
  CHECK(!intr_info::VALID.test(e.idt_vectoring), "IDT-vectoring information valid: 0x%x", e.idt_vectoring);
}

void test_exception_bitmap_pf() {
  // #PF exits when bit 14 of the exception bitmap equals whether
  // (error code & PFEC_MASK) == PFEC_MATCH (SDM 25.2); the qualification is
  // the faulting address and CR2 is not written (SDM 27.1, 27.2.1).
  constexpr uint64_t NOT_PRESENT = 3ull << 39;  // PML4 slot 3, which nothing maps
  const uint64_t* pml4 = reinterpret_cast<const uint64_t*>(rt::read_cr3() & arch::pte::ADDR_MASK);
  if (pml4[arch::pte::index(NOT_PRESENT, 4)] & arch::pte::P) return skip("PML4 slot 3 is in use");
  const uint64_t target = NOT_PRESENT + 0x18;
  constexpr uint32_t PF_BIT = 1u << uint8_t(arch::Vector::PF);
  constexpr uint32_t PFEC_W = 1u << 1;  // error code bit 1: write access (SDM 4.7)
  REQUIRE(setup_guest(addr(guest_read)));
  bool launched = false;

  struct Case {
    const char* rip;
    uint32_t bitmap, mask, match;
    bool exits;
    uint32_t error_code;
  } cases[] = {
      {guest_read, PF_BIT, 0, 0, true, 0},             // match, bit 1: exit
      {guest_read, PF_BIT, PFEC_W, PFEC_W, false, 0},  // no match, bit 1: no exit
      {guest_read, 0, PFEC_W, PFEC_W, true, 0},        // no match, bit 0: exit
      {guest_read, 0, 0, 0, false, 0},                 // match, bit 0: no exit
      {guest_write, PF_BIT, PFEC_W, PFEC_W, true, PFEC_W},  // a write matches
  };
  for (const Case& c : cases) {
    restart_at(c.rip);
    vwrite(VmcsField::EXCEPTION_BITMAP, c.bitmap);
    vwrite(VmcsField::PAGE_FAULT_ERROR_CODE_MASK, c.mask);
    vwrite(VmcsField::PAGE_FAULT_ERROR_CODE_MATCH, c.match);
    regs.gpr[vmx::RDI] = target;
    regs.gpr[vmx::RDX] = 0;
    const Exit e = run(launched);
    launched = true;
    if (c.exits) {
      CHECK_EXIT_AT(e, ExitReason::EXCEPTION_NMI, c.rip, 0);
      CHECK_EQ(e.intr_info, make_intr_info(uint8_t(arch::Vector::PF), intr_info::TYPE_HARDWARE_EXCEPTION, true),
               "VM-exit interruption information of the #PF");
      CHECK_EQ(e.intr_error, c.error_code, "VM-exit interruption error code of the #PF");
      CHECK_QUAL(e, target);
    } else {
      CHECK_GUEST_VECTOR(e, uint8_t(arch::Vector::PF));
      const uint64_t* frame = reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX]);
      CHECK_EQ(frame[0], c.error_code, "error code in the guest's #PF frame");
      CHECK_EQ(frame[1], addr(c.rip), "RIP in the guest's #PF frame");
      CHECK_EQ(regs.gpr[vmx::RDX], target, "the guest's CR2 in its #PF handler");
    }
  }
}

void test_rdtsc_exiting() {
  REQUIRE(setup_guest(addr(guest_rdtsc)));
  REQUIRE(set_proc(proc_ctl::RDTSC_EXITING));
  const Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::RDTSC, guest_rdtsc, 2);
  CHECK_QUAL(e, 0);
}

void test_tsc_offsetting() {
  // The guest reads the TSC plus TSC_OFFSET (SDM 25.3, RDTSC), for a
  // positive and a negative offset.
  REQUIRE(setup_guest(addr(guest_rdtsc)));
  REQUIRE(set_proc(proc_ctl::USE_TSC_OFFSETTING));
  const uint64_t offsets[] = {1ull << 40, 0 - (rt::rdtsc() / 2)};
  bool launched = false;
  for (uint64_t offset : offsets) {
    vwrite(VmcsField::TSC_OFFSET, offset);
    restart_at(guest_rdtsc);
    const uint64_t before = rt::rdtsc();
    const Exit e = run(launched);
    const uint64_t after = rt::rdtsc();
    launched = true;
    CHECK_VMCALL_AT(e, guest_rdtsc, 2);
    const uint64_t guest = (regs.gpr[vmx::RDX] << 32) | uint32_t(regs.gpr[vmx::RAX]);
    CHECK(guest - (before + offset) <= after - before,
          "offset 0x%lx: the guest read 0x%lx, outside [0x%lx, 0x%lx] (host TSC + offset)", offset, guest,
          before + offset, after + offset);
  }
}

void test_invlpg_exiting() {
  REQUIRE(setup_guest(addr(guest_invlpg)));
  REQUIRE(set_proc(proc_ctl::INVLPG_EXITING));
  regs.gpr[vmx::RAX] = 0x12345678;
  const Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::INVLPG, guest_invlpg, 3);
  CHECK_QUAL(e, 0x12345678);  // the linear-address operand (SDM 27.2.1)
}

void test_mov_dr_exiting() {
  REQUIRE(setup_guest(addr(guest_mov_dr)));
  REQUIRE(set_proc(proc_ctl::MOV_DR_EXITING));
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::DR_ACCESS, guest_mov_dr, 3);
  CHECK_QUAL(e, qual_mov_dr::DR.make(7) | qual_mov_dr::DIRECTION.make(qual_mov_dr::MOV_FROM_DR) |
                    qual_mov_dr::GPR.make(vmx::RAX));
  skip_instruction(e);
  e = resume();
  CHECK_EXIT_AT(e, ExitReason::DR_ACCESS, guest_mov_dr_2, 3);
  CHECK_QUAL(e, qual_mov_dr::DR.make(0) | qual_mov_dr::DIRECTION.make(qual_mov_dr::MOV_TO_DR) |
                    qual_mov_dr::GPR.make(vmx::RCX));
}

void test_descriptor_table_exiting() {
  // LGDT/SIDT exit with reason 46, the displacement as qualification and
  // the operand's form in the instruction information (SDM 27.2.4, table 27-10).
  REQUIRE(setup_guest(addr(guest_lgdt)));
  REQUIRE(set_proc2(proc_ctl2::DESCRIPTOR_TABLE_EXITING));
  const uint64_t gdtr_base = vread(VmcsField::GUEST_GDTR_BASE);
  clear_page(pages.scratch[0]);  // an LGDT operand of zeros, in case it were executed
  regs.gpr[vmx::RAX] = pages.scratch[0];
  struct Case {
    const char* rip;
    uint32_t length;
    uint64_t displacement, identity;
  } cases[] = {
      {guest_lgdt, 3, 0, insn_info_dtable::LGDT},
      {guest_sidt, 4, 0x10, insn_info_dtable::SIDT},
  };
  bool launched = false;
  for (const Case& c : cases) {
    restart_at(c.rip);
    const Exit e = run(launched);
    launched = true;
    CHECK_EXIT_AT(e, ExitReason::GDTR_IDTR, c.rip, c.length);
    CHECK_QUAL(e, c.displacement);
    const uint64_t i = e.insn_info;
    CHECK_EQ(insn_info_dtable::IDENTITY.get(i), c.identity, "instruction identity");
    CHECK_EQ(insn_info_dtable::SCALING.get(i), 0, "scaling");
    CHECK_EQ(insn_info_dtable::ADDRESS_SIZE.get(i), insn_info_dtable::ADDR64, "address size");
    CHECK_EQ(insn_info_dtable::SEGMENT.get(i), arch::seg::DS, "segment");
    CHECK_EQ(insn_info_dtable::INDEX_INVALID.get(i), 1, "index register invalid");
    CHECK_EQ(insn_info_dtable::BASE_INVALID.get(i), 0, "base register invalid");
    CHECK_EQ(insn_info_dtable::BASE_REG.get(i), vmx::RAX, "base register");
  }
  CHECK_EQ(vread(VmcsField::GUEST_GDTR_BASE), gdtr_base, "GUEST_GDTR_BASE after the exiting LGDT");
}

void test_exception_bitmap_bp() {
  // INT3 raises #BP, a software exception: with its bitmap bit, exit
  // reason 0 with interruption type 6 and the instruction's length (SDM
  // 27.2.2, 27.2.5); without it, the guest's handler sees RIP past the INT3.
  REQUIRE(setup_guest(addr(guest_int3)));
  CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::BP));
  CHECK_EQ(reinterpret_cast<const uint64_t*>(regs.gpr[vmx::RCX])[0], addr(guest_int3) + 1,
           "RIP in the guest's #BP frame");
  vwrite(VmcsField::EXCEPTION_BITMAP, 1u << uint8_t(arch::Vector::BP));
  restart_at(guest_int3);
  const Exit e = resume();
  CHECK_EXIT_AT(e, ExitReason::EXCEPTION_NMI, guest_int3, 1);
  CHECK_EQ(e.intr_info, make_intr_info(uint8_t(arch::Vector::BP), intr_info::TYPE_SOFTWARE_EXCEPTION, false),
           "VM-exit interruption information of INT3");
}

void test_instruction_exiting() {
  // One instruction per exiting control, each with its reason, length and
  // qualification (SDM 25.1.3, 27.2.1); RDTSCP without "enable RDTSCP" is #UD (SDM 25.3).
  struct Case {
    const char* what;
    uint32_t proc, proc2;
    const char* rip;
    ExitReason reason;
    uint32_t length;
    uint64_t qualification;
  } cases[] = {
      {"PAUSE", proc_ctl::PAUSE_EXITING, 0, guest_pause, ExitReason::PAUSE, 2, 0},
      {"RDPMC", proc_ctl::RDPMC_EXITING, 0, guest_rdpmc, ExitReason::RDPMC, 2, 0},
      {"WBINVD", 0, proc_ctl2::WBINVD_EXITING, guest_wbinvd, ExitReason::WBINVD, 2, 0},
      {"MOV to CR8", proc_ctl::CR8_LOAD_EXITING, 0, guest_mov_to_cr8, ExitReason::CR_ACCESS, 4,
       cr_qual(8, qual_cr_access::MOV_TO_CR, vmx::RAX)},
      {"MOV from CR8", proc_ctl::CR8_STORE_EXITING, 0, guest_mov_from_cr8, ExitReason::CR_ACCESS, 4,
       cr_qual(8, qual_cr_access::MOV_FROM_CR, vmx::RAX)},
      {"RDTSCP", proc_ctl::RDTSC_EXITING, proc_ctl2::ENABLE_RDTSCP, guest_rdtscp, ExitReason::RDTSCP, 3, 0},
  };
  REQUIRE(vmx_on());
  unsigned ran = 0;
  for (const Case& c : cases) {
    if (!allowed1(caps.procbased, c.proc) || (c.proc2 && !allowed1(caps.procbased2, c.proc2))) continue;
    REQUIRE(load_vmcs(pages.vmcs));
    init_guest_vmcs(addr(c.rip));
    if (c.proc2) vset_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, proc_ctl::ACTIVATE_SECONDARY_CONTROLS);
    vset_bits(VmcsField::CPU_BASED_VM_EXEC_CONTROL, c.proc);
    if (c.proc2) vwrite(VmcsField::SECONDARY_VM_EXEC_CONTROL, c.proc2);
    const Exit e = run();
    if (!expect_exit_at(e, c.reason, c.rip, c.length)) return;
    CHECK(e.qualification == c.qualification, "%s: qualification 0x%lx, expected 0x%lx", c.what, e.qualification,
          c.qualification);
    ran++;
  }
  if (!ran) return skip("none of the exiting controls is offered");
  if (rt::cpuid(0x80000001).edx & arch::cpuid::X1_EDX_RDTSCP) {
    REQUIRE(load_vmcs(pages.vmcs));
    init_guest_vmcs(addr(guest_rdtscp));
    CHECK_GUEST_VECTOR(run(), uint8_t(arch::Vector::UD));
  }
}

void test_lmsw_exiting() {
  // LMSW exits if it would give a host-owned bit of CR0[3:0] a value unlike
  // the shadow's; otherwise it leaves host-owned bits alone (SDM 25.1.3,
  // 25.3). It never clears PE. Qualification: type 3, the source data.
  REQUIRE(setup_guest(addr(guest_lmsw)));
  const uint64_t base = vread(VmcsField::GUEST_CR0) & ~(cr0::MP | cr0::TS | cr0::EM);
  vwrite(VmcsField::GUEST_CR0, base | cr0::MP | cr0::TS);
  vwrite(VmcsField::CR0_GUEST_HOST_MASK, cr0::MP);
  vwrite(VmcsField::CR0_READ_SHADOW, base);

  regs.gpr[vmx::RAX] = cr0::PE | cr0::MP;
  Exit e = run();
  CHECK_EXIT_AT(e, ExitReason::CR_ACCESS, guest_lmsw, 3);
  CHECK_QUAL(e, qual_cr_access::ACCESS_TYPE.make(qual_cr_access::LMSW) |
                    qual_cr_access::LMSW_OPERAND.make(qual_cr_access::LMSW_REGISTER) |
                    qual_cr_access::LMSW_SOURCE.make(cr0::PE | cr0::MP));

  restart_at(guest_lmsw);
  regs.gpr[vmx::RAX] = cr0::PE;
  CHECK_VMCALL_AT(resume(), guest_lmsw, 3);
  CHECK_EQ(vread(VmcsField::GUEST_CR0), base | cr0::MP, "GUEST_CR0 after LMSW (MP host-owned, TS cleared)");

  vwrite(VmcsField::CR0_GUEST_HOST_MASK, 0);
  restart_at(guest_lmsw);
  regs.gpr[vmx::RAX] = 0;
  CHECK_VMCALL_AT(resume(), guest_lmsw, 3);
  CHECK_EQ(vread(VmcsField::GUEST_CR0), base, "GUEST_CR0 after LMSW 0 (PE stays set)");
}

void test_vmx_instruction_exits() {
  // Every VMX instruction exits in VMX non-root operation (SDM 25.1.2), with
  // the memory operand's displacement as qualification and its form in the
  // instruction information (SDM 27.2.1, table 27-13).
  REQUIRE(setup_guest(addr(guest_vmxon)));
  regs.gpr[vmx::RAX] = pages.scratch[0];
  struct Case {
    const char* rip;
    ExitReason reason;
    uint32_t length;
    bool memory;
    uint64_t displacement;
  } cases[] = {
      {guest_vmxon, ExitReason::VMXON, 4, true, 0},     {guest_vmclear, ExitReason::VMCLEAR, 5, true, 8},
      {guest_vmptrld, ExitReason::VMPTRLD, 3, true, 0}, {guest_vmptrst, ExitReason::VMPTRST, 4, true, 0x10},
      {guest_vmlaunch, ExitReason::VMLAUNCH, 3, false, 0}, {guest_vmresume, ExitReason::VMRESUME, 3, false, 0},
      {guest_vmxoff, ExitReason::VMXOFF, 3, false, 0},
  };
  bool launched = false;
  for (const Case& c : cases) {
    const Exit e = run(launched);
    launched = true;
    CHECK_EXIT_AT(e, c.reason, c.rip, c.length);
    skip_instruction(e);
    if (!c.memory) continue;
    CHECK_QUAL(e, c.displacement);
    const uint64_t i = e.insn_info;
    CHECK_EQ(insn_info_vmx::SCALING.get(i), 0, "scaling");
    CHECK_EQ(insn_info_vmx::ADDRESS_SIZE.get(i), insn_info_vmx::ADDR64, "address size");
    CHECK_EQ(insn_info_vmx::SEGMENT.get(i), arch::seg::DS, "segment");
    CHECK_EQ(insn_info_vmx::INDEX_INVALID.get(i), 1, "index register invalid");
    CHECK_EQ(insn_info_vmx::BASE_INVALID.get(i), 0, "base register invalid");
    CHECK_EQ(insn_info_vmx::BASE_REG.get(i), vmx::RAX, "base register");
  }
  CHECK_VMCALL_AT(resume(), guest_vmx_insns_end, 0);
}

}  // namespace selftest
