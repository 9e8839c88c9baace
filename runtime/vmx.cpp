#include "runtime/vmx.h"

#include "arch/x86/msr.h"
#include "arch/x86/segment.h"
#include "arch/x86/tss.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"
#include "runtime/memory.h"
#include "runtime/x86.h"

namespace rt::vmx {

using namespace arch::vmx;
namespace msr = arch::msr;

const char* status_name(Status s) {
  switch (s) {
    case Status::Ok: return "VMsucceed";
    case Status::FailInvalid: return "VMfailInvalid";
    case Status::FailValid: return "VMfailValid";
  }
  return "?";
}

// ---- Capability MSRs ----------------------------------------------------------

Capabilities read_capabilities() {
  Capabilities c{};
  c.basic = rdmsr(msr::IA32_VMX_BASIC);
  c.true_controls = vmx_basic::TRUE_CTLS.test(c.basic);
  c.pinbased = rdmsr(c.true_controls ? msr::IA32_VMX_TRUE_PINBASED_CTLS : msr::IA32_VMX_PINBASED_CTLS);
  c.procbased = rdmsr(c.true_controls ? msr::IA32_VMX_TRUE_PROCBASED_CTLS : msr::IA32_VMX_PROCBASED_CTLS);
  c.exit = rdmsr(c.true_controls ? msr::IA32_VMX_TRUE_EXIT_CTLS : msr::IA32_VMX_EXIT_CTLS);
  c.entry = rdmsr(c.true_controls ? msr::IA32_VMX_TRUE_ENTRY_CTLS : msr::IA32_VMX_ENTRY_CTLS);
  c.misc = rdmsr(msr::IA32_VMX_MISC);
  c.cr0_fixed0 = rdmsr(msr::IA32_VMX_CR0_FIXED0);
  c.cr0_fixed1 = rdmsr(msr::IA32_VMX_CR0_FIXED1);
  c.cr4_fixed0 = rdmsr(msr::IA32_VMX_CR4_FIXED0);
  c.cr4_fixed1 = rdmsr(msr::IA32_VMX_CR4_FIXED1);
  c.vmcs_enum = rdmsr(msr::IA32_VMX_VMCS_ENUM);
  // A.3.3: IA32_VMX_PROCBASED_CTLS2 exists only if secondary controls can be 1.
  if (ctls_allowed1(c.procbased) & proc_ctl::ACTIVATE_SECONDARY_CONTROLS) {
    c.procbased2 = rdmsr(msr::IA32_VMX_PROCBASED_CTLS2);
    // A.10: IA32_VMX_EPT_VPID_CAP exists if EPT or VPID can be enabled.
    if (ctls_allowed1(c.procbased2) & (proc_ctl2::ENABLE_EPT | proc_ctl2::ENABLE_VPID))
      c.ept_vpid_cap = rdmsr(msr::IA32_VMX_EPT_VPID_CAP);
    // A.11: IA32_VMX_VMFUNC exists if VM functions can be enabled.
    if (ctls_allowed1(c.procbased2) & proc_ctl2::ENABLE_VM_FUNCTIONS) c.vmfunc = rdmsr(msr::IA32_VMX_VMFUNC);
  }
  return c;
}

// ---- Host TSS and host state ----------------------------------------------------

namespace {

// The 64-bit TSS. Nothing here ever switches stacks through it; it exists
// because VM exits load TR.
using arch::Tss64;

constexpr unsigned GDT_ENTRIES = HOST_TR_SELECTOR / 8 + 2;  // a system descriptor takes two slots
alignas(16) uint64_t host_gdt[GDT_ENTRIES];
alignas(16) Tss64 host_tss;
bool tss_installed = false;

}  // namespace

void install_host_tss() {
  if (tss_installed) return;
  // Keep the boot GDT's descriptors (null, KERNEL_CS, KERNEL_DS) below the TSS.
  const DescriptorTableRegister boot = sgdt();
  const unsigned boot_entries = (unsigned(boot.limit) + 1) / 8;
  for (unsigned i = 0; i < HOST_TR_SELECTOR / 8 && i < boot_entries; i++)
    host_gdt[i] = reinterpret_cast<const uint64_t*>(boot.base)[i];

  host_tss.io_map_base = sizeof(Tss64);  // beyond the limit: no I/O permission bitmap
  const uint64_t base = reinterpret_cast<uint64_t>(&host_tss);
  const uint64_t limit = sizeof(Tss64) - 1;
  // A 16-byte system descriptor (SDM vol. 3, 8.2.3, figure 8-4), type 9:
  // available 64-bit TSS; LTR marks it busy.
  host_gdt[HOST_TR_SELECTOR / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                                   (uint64_t(arch::seg::sys_type::TSS_AVAILABLE | arch::seg::ar::P) << 40) |
                                   (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  host_gdt[HOST_TR_SELECTOR / 8 + 1] = base >> 32;

  const DescriptorTableRegister gdtr{sizeof(host_gdt) - 1, reinterpret_cast<uint64_t>(host_gdt)};
  asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
  asm volatile("ltr %w0" : : "r"(HOST_TR_SELECTOR) : "memory");
  tss_installed = true;
}

uint64_t host_tss_base() { return reinterpret_cast<uint64_t>(&host_tss); }

Status write_host_state(const Capabilities& caps, VmcsField* failed) {
  install_host_tss();
  rt_vmx_host_rsp = 0;  // the next entry writes HOST_RSP
  const uint32_t exit_allowed1 = ctls_allowed1(caps.exit);
  const struct {
    VmcsField field;
    uint64_t value;
    bool exists;
  } fields[] = {
      {VmcsField::HOST_CR0, read_cr0(), true},
      {VmcsField::HOST_CR3, read_cr3(), true},
      {VmcsField::HOST_CR4, read_cr4(), true},
      {VmcsField::HOST_CS_SELECTOR, KERNEL_CS, true},
      {VmcsField::HOST_SS_SELECTOR, KERNEL_DS, true},
      {VmcsField::HOST_DS_SELECTOR, KERNEL_DS, true},
      {VmcsField::HOST_ES_SELECTOR, KERNEL_DS, true},
      {VmcsField::HOST_FS_SELECTOR, KERNEL_DS, true},
      {VmcsField::HOST_GS_SELECTOR, KERNEL_DS, true},
      {VmcsField::HOST_TR_SELECTOR, HOST_TR_SELECTOR, true},
      {VmcsField::HOST_FS_BASE, rdmsr(msr::IA32_FS_BASE), true},
      {VmcsField::HOST_GS_BASE, rdmsr(msr::IA32_GS_BASE), true},
      {VmcsField::HOST_TR_BASE, host_tss_base(), true},
      {VmcsField::HOST_GDTR_BASE, sgdt().base, true},
      {VmcsField::HOST_IDTR_BASE, sidt().base, true},
      {VmcsField::HOST_IA32_SYSENTER_CS, rdmsr(msr::IA32_SYSENTER_CS), true},
      {VmcsField::HOST_IA32_SYSENTER_ESP, rdmsr(msr::IA32_SYSENTER_ESP), true},
      {VmcsField::HOST_IA32_SYSENTER_EIP, rdmsr(msr::IA32_SYSENTER_EIP), true},
      {VmcsField::HOST_IA32_EFER, rdmsr(msr::IA32_EFER), (exit_allowed1 & exit_ctl::LOAD_EFER) != 0},
      {VmcsField::HOST_IA32_PAT, rdmsr(msr::IA32_PAT), (exit_allowed1 & exit_ctl::LOAD_PAT) != 0},
      {VmcsField::HOST_RIP, reinterpret_cast<uint64_t>(rt_vmx_vmexit), true},
  };
  for (const auto& f : fields) {
    if (!f.exists) continue;
    const Status s = vmwrite(f.field, f.value);
    if (s == Status::Ok) continue;
    if (failed) *failed = f.field;
    return s;
  }
  return Status::Ok;
}

// ---- VM entry and VM exit -----------------------------------------------------

static_assert(sizeof(GuestRegs) == 16 * 8);
static_assert(uint32_t(EnterResult::VmExit) == 0 && uint32_t(EnterResult::FailInvalid) == 1 &&
              uint32_t(EnterResult::FailValid) == 2 && uint32_t(EnterResult::NoEntry) == 3);

uint64_t rt_vmx_host_rsp = 0;

// rt_vmx_enter(regs, resume): RT_VMX_ENTER_FRAME pushes the callee-saved
// registers and `regs`, so at a VM exit (RSP = HOST_RSP, RIP =
// rt_vmx_vmexit) the exit path finds `regs` on top of the stack, stores the
// guest's registers there and returns through the same epilogue. The
// guest's RAX and RDI are loaded last: RDI holds `regs` until then. Flags
// from the TEST survive the MOVs and pick VMLAUNCH or VMRESUME; after
// either fails, CF/ZF say how (SDM 30.2). It is an asm block in a function
// only to use the arch/ encodings as operands; the function is never
// called.
[[gnu::used]] static void define_enter() {
  asm volatile(RT_ASM_FUNC_START(rt_vmx_enter) RT_VMX_ENTER_FRAME R"(
    testl %%esi, %%esi  # ZF = 1: VMLAUNCH
    movq 8*1(%%rdi), %%rcx
    movq 8*2(%%rdi), %%rdx
    movq 8*3(%%rdi), %%rbx
    movq 8*5(%%rdi), %%rbp
    movq 8*6(%%rdi), %%rsi
    movq 8*8(%%rdi), %%r8
    movq 8*9(%%rdi), %%r9
    movq 8*10(%%rdi), %%r10
    movq 8*11(%%rdi), %%r11
    movq 8*12(%%rdi), %%r12
    movq 8*13(%%rdi), %%r13
    movq 8*14(%%rdi), %%r14
    movq 8*15(%%rdi), %%r15
    movq 8*0(%%rdi), %%rax
    movq 8*7(%%rdi), %%rdi
    jz 2f
    vmresume
    jmp .Lrt_vmx_vmfail
2:  vmlaunch
    .global rt_vmx_vmfail
rt_vmx_vmfail:
.Lrt_vmx_vmfail:
    movl %[fail_invalid], %%eax
    jc .Lrt_vmx_return
    movl %[fail_valid], %%eax
    jz .Lrt_vmx_return
    movl %[no_entry], %%eax
.Lrt_vmx_return:
    popq %%rdi
    )" RT_ASM_POP_CALLEE_SAVED R"(
    ret
    .size rt_vmx_enter, . - rt_vmx_enter

    .global rt_vmx_vmexit
    .type rt_vmx_vmexit, @function
rt_vmx_vmexit:
    pushq %%rax
    movq 8(%%rsp), %%rax
    movq %%rcx, 8*1(%%rax)
    movq %%rdx, 8*2(%%rax)
    movq %%rbx, 8*3(%%rax)
    movq %%rbp, 8*5(%%rax)
    movq %%rsi, 8*6(%%rax)
    movq %%rdi, 8*7(%%rax)
    movq %%r8, 8*8(%%rax)
    movq %%r9, 8*9(%%rax)
    movq %%r10, 8*10(%%rax)
    movq %%r11, 8*11(%%rax)
    movq %%r12, 8*12(%%rax)
    movq %%r13, 8*13(%%rax)
    movq %%r14, 8*14(%%rax)
    movq %%r15, 8*15(%%rax)
    popq 8*0(%%rax)
    movl %[vm_exit], %%eax
    jmp .Lrt_vmx_return
    .size rt_vmx_vmexit, . - rt_vmx_vmexit
    .popsection
  )"
      :
      : RT_VMX_HOST_RSP_OPERAND, [vm_exit] "i"(uint32_t(EnterResult::VmExit)),
        [fail_invalid] "i"(uint32_t(EnterResult::FailInvalid)), [fail_valid] "i"(uint32_t(EnterResult::FailValid)),
        [no_entry] "i"(uint32_t(EnterResult::NoEntry)));
}

const char* enter_result_name(EnterResult r) {
  switch (r) {
    case EnterResult::VmExit: return "VM exit";
    case EnterResult::FailInvalid: return "VMfailInvalid";
    case EnterResult::FailValid: return "VMfailValid";
    case EnterResult::NoEntry: return "no VM entry and no VMfail";
  }
  return "?";
}

// ---- EPT --------------------------------------------------------------------------

namespace {
constexpr uint64_t PAGE_4K = 1ull << 12;
uint64_t* ept_table(uint64_t entry) { return reinterpret_cast<uint64_t*>(entry & ept_entry::ADDRESS_MASK); }
}  // namespace

bool Ept::init() {
  pml4_ = alloc_pages(1);
  if (!pml4_) return false;
  memset(reinterpret_cast<void*>(pml4_), 0, PAGE_4K);
  return true;
}

uint64_t Ept::eptp() const {
  return pml4_ | eptp::MEMORY_TYPE.make(ept_memory_type::WB) | eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS);
}

bool Ept::map(uint64_t gpa, uint64_t hpa, uint64_t page_size, uint64_t leaf) {
  unsigned leaf_level;
  if (page_size == PAGE_4K) leaf_level = 1;
  else if (page_size == PAGE_4K << EPT_LEVEL_SHIFT) leaf_level = 2;
  else if (page_size == PAGE_4K << (2 * EPT_LEVEL_SHIFT)) leaf_level = 3;
  else return false;
  uint64_t* table = ept_table(pml4_);
  for (unsigned level = 4; level > leaf_level; level--) {
    uint64_t& e = table[ept_index(gpa, level)];
    if (e == 0) {
      const uint64_t frame = alloc_pages(1);
      if (!frame) return false;
      memset(reinterpret_cast<void*>(frame), 0, PAGE_4K);
      e = frame | ept_entry::RWX;  // non-leaf entries: no memory type (SDM 28.2.2)
    } else if (ept_entry::LARGE_PAGE.test(e)) {
      return false;
    }
    table = ept_table(e);
  }
  table[ept_index(gpa, leaf_level)] = (hpa & ept_entry::ADDRESS_MASK & ~(page_size - 1)) | leaf |
                                      (leaf_level > 1 ? ept_entry::LARGE_PAGE.mask : 0);
  return true;
}

bool Ept::identity_map(uint64_t end) {
  const uint64_t size = PAGE_4K << EPT_LEVEL_SHIFT;
  for (uint64_t gpa = 0; gpa < end; gpa += size)
    if (!map(gpa, gpa, size, EPT_RWX | EPT_WB)) return false;
  return true;
}

uint64_t* Ept::leaf(uint64_t gpa) const {
  uint64_t* table = ept_table(pml4_);
  for (unsigned level = 4; level >= 1; level--) {
    uint64_t& e = table[ept_index(gpa, level)];
    if (level == 1 || (level <= 3 && ept_entry::LARGE_PAGE.test(e))) return &e;
    if (e == 0) return nullptr;
    table = ept_table(e);
  }
  return nullptr;
}

}  // namespace rt::vmx
