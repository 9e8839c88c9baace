#include "l1-vmm/vmx/vmenter.h"

#include "arch/vmx/vmcs_fields.h"

namespace l1 {

static_assert(sizeof(GuestRegs) == 16 * 8);

// The last HOST_RSP written; 0 before the first entry.
extern "C" uint64_t l1_host_rsp;
uint64_t l1_host_rsp = 0;

// l1_vmx_vcpu_run(regs, launched): pushes the callee-saved registers and
// `regs`, so at a VM exit (RSP = HOST_RSP, RIP = l1_vmx_vmexit) the exit
// path finds `regs` on top of the stack, stores the guest's registers
// there and returns through the same epilogue. The guest's RAX and RDI are
// loaded last: RDI holds `regs` until then. Flags from the TEST survive the
// MOVs and pick VMLAUNCH or VMRESUME; after either fails, CF/ZF say how
// (SDM 30.2). It is an asm block in a function only to use the arch/
// encodings as operands; the function is never called.
[[gnu::used]] static void define_vcpu_run() {
  asm volatile(R"(
    .pushsection .text.l1_vmx_vcpu_run, "ax"
    .global l1_vmx_vcpu_run
    .type l1_vmx_vcpu_run, @function
l1_vmx_vcpu_run:
    pushq %%rbp
    pushq %%rbx
    pushq %%r12
    pushq %%r13
    pushq %%r14
    pushq %%r15
    pushq %%rdi
    cmpq %%rsp, l1_host_rsp(%%rip)
    je 1f
    movq %%rsp, l1_host_rsp(%%rip)
    movl %[host_rsp], %%eax
    vmwrite %%rsp, %%rax
    jbe .Ll1_vmfail
1:  testl %%esi, %%esi
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
    jmp .Ll1_vmfail
2:  vmlaunch
.Ll1_vmfail:
    movl %[fail_invalid], %%eax
    jc .Ll1_vcpu_run_return
    movl %[fail_valid], %%eax
    jz .Ll1_vcpu_run_return
    movl %[no_entry], %%eax
.Ll1_vcpu_run_return:
    popq %%rdi
    popq %%r15
    popq %%r14
    popq %%r13
    popq %%r12
    popq %%rbx
    popq %%rbp
    ret
    .size l1_vmx_vcpu_run, . - l1_vmx_vcpu_run

    .global l1_vmx_vmexit
    .type l1_vmx_vmexit, @function
l1_vmx_vmexit:
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
    movl %[exited], %%eax
    jmp .Ll1_vcpu_run_return
    .size l1_vmx_vmexit, . - l1_vmx_vmexit
    .popsection
  )"
               :
               : [host_rsp] "i"(uint32_t(arch::vmx::VmcsField::HOST_RSP)), [exited] "i"(VMENTER_EXITED),
                 [fail_invalid] "i"(VMENTER_FAIL_INVALID), [fail_valid] "i"(VMENTER_FAIL_VALID),
                 [no_entry] "i"(VMENTER_NO_ENTRY));
}

}  // namespace l1
