#include "workloads/pg-probe/protected_mode.h"

#include "arch/platform.h"
#include "arch/x86/apic.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"
#include "workloads/pg-probe/runner.h"

// A run in 32-bit protected mode (pg_enter_protected, below):
//   64-bit mode: save the callee-saved registers, RSP, IDTR and CR3 (as
//     pg_enter does), far-return to the 32-bit kernel code segment;
//   compatibility mode: clear CR0.PG, which clears EFER.LMA, then EFER.LME
//     (SDM vol. 3, 10.8.5.4, leaving IA-32e mode; paging stays off, the
//     probe's code and data are identity-mapped below 4 GiB);
//   legacy protected mode: load this world's IDT and a 32-bit TSS, the
//     launch's data segments, take the "before" snapshot, IRETD to the
//     snippet (CPL 0 or 3).
// The snippet's UD2, or a fault before it, enters pg32_exception through a
// 32-bit gate (from CPL 3 on the TSS's SS0:ESP0), which saves the frame and
// the registers, takes the "after" snapshot, and goes back: CR3, EFER.LME,
// CR0.PG (IA-32e mode active, compatibility mode; SDM 10.8.5), a far jump to
// the 64-bit code segment, the 64-bit IDTR, and pg_resume (runner.cpp) with
// the saved RSP. The C++ side reads what the asm stored.
namespace {

// What pg_enter_protected reads (offsets used by the asm).
struct Launch32 {
  uint32_t idtr;       // 0: the address of the 6-byte IDTR pseudo-descriptor to load
  uint32_t tr;         // 4: the TSS selector to load
  uint32_t data_sel;   // 8: DS, ES, FS, GS
  uint32_t frame_esp;  // 12: the IRETD frame, written on the CPL-0 stack
  uint32_t regs[6];    // 16: eax, ecx, edx, ebx, esi, edi
};
static_assert(__builtin_offsetof(Launch32, frame_esp) == 12 && __builtin_offsetof(Launch32, regs) == 16);

// The privileged state as pg32_snapshot stores it (offsets used by the asm).
struct [[gnu::packed]] Raw32 {
  uint32_t cr0, cr3, cr4, dr7;                          // 0
  uint32_t efer[2], sysenter_esp[2], gs_base[2], kernel_gs_base[2];  // 16: each EDX:EAX of RDMSR
  uint16_t gdtr_limit;                                  // 48: SGDT's 6 bytes
  uint32_t gdtr_base;
  uint16_t pad0;
  uint16_t idtr_limit;                                  // 56: SIDT's
  uint32_t idtr_base;
  uint16_t pad1;
  uint16_t ldtr, tr, ds, es, fs, gs;                    // 64
  uint32_t uart_scr;                                    // 76
};
static_assert(__builtin_offsetof(Raw32, gdtr_limit) == 48 && __builtin_offsetof(Raw32, idtr_limit) == 56 &&
              __builtin_offsetof(Raw32, ldtr) == 64 && __builtin_offsetof(Raw32, uart_scr) == 76);

// pg32_exception's stack, copied: PUSHAD, DS ES FS GS, the vector and error
// code its stub pushed, then the CPU's EIP CS EFLAGS (and ESP SS from CPL 3;
// SDM vol. 3, 6.12.1, figure 6-4).
enum Frame : unsigned {
  F_EDI, F_ESI, F_EBP, F_ESP_PUSHAD, F_EBX, F_EDX, F_ECX, F_EAX, F_DS, F_ES, F_FS, F_GS,
  F_VECTOR, F_ERROR, F_EIP, F_CS, F_EFLAGS, F_ESP, F_SS, FRAME_WORDS
};

struct [[gnu::packed]] PseudoDescriptor32 {
  uint16_t limit;
  uint32_t base;
};

constexpr unsigned GATES = 256;
constexpr unsigned STUB_SIZE = 16;                              // pg32_stubs: one per exception vector

// Error-code vectors as a mask, for the stubs (SDM vol. 3, 6.13).
constexpr uint32_t error_code_mask() {
  uint32_t m = 0;
  for (unsigned v = 0; v < 32; v++)
    if (arch::exception_has_error_code(uint8_t(v))) m |= 1u << v;
  return m;
}
constexpr uint32_t ERROR_CODES = error_code_mask();
constexpr uint32_t APIC_EOI = uint32_t(arch::apic::DEFAULT_BASE + arch::apic::EOI);

}  // namespace

extern "C" {
Raw32 pg32_before, pg32_after;
uint32_t pg32_frame[FRAME_WORDS];
uint32_t pg32_long_cr3;
uint8_t pg32_long_idtr[10];
void pg_enter_protected(const Launch32* launch);
extern const char pg32_stubs[], pg32_timer_entry[], pg32_spurious_entry[];
}

[[gnu::used]] static void define_protected_mode_code() {
  asm volatile(R"(
    .pushsection .text.pg_protected, "ax"
    .code64
    .global pg_enter_protected
pg_enter_protected:
    push %%rbx
    push %%rbp
    push %%r12
    push %%r13
    push %%r14
    push %%r15
    mov %%rsp, pg_kernel_rsp(%%rip)
    sidt pg32_long_idtr(%%rip)
    mov %%cr3, %%rax
    mov %%eax, pg32_long_cr3(%%rip)
    mov %%rdi, %%rbx
    pushq %[kcode32]
    lea 1f(%%rip), %%rax
    pushq %%rax
    lretq

    .code32
1:  mov %[kdata], %%eax
    mov %%eax, %%ds
    mov %%eax, %%es
    mov %%eax, %%ss
    mov %%cr0, %%eax
    and %[not_pg], %%eax
    mov %%eax, %%cr0
    mov %[efer], %%ecx
    rdmsr
    and %[not_lme], %%eax
    wrmsr
    mov 0(%%ebx), %%eax
    lidt (%%eax)
    ltr 4(%%ebx)
    mov 8(%%ebx), %%eax
    mov %%eax, %%ds
    mov %%eax, %%es
    mov %%eax, %%fs
    mov %%eax, %%gs
    mov $pg32_before, %%edi
    call pg32_snapshot
    mov 12(%%ebx), %%esp
    mov 16(%%ebx), %%eax
    mov 20(%%ebx), %%ecx
    mov 24(%%ebx), %%edx
    mov 32(%%ebx), %%esi
    mov 36(%%ebx), %%edi
    mov 28(%%ebx), %%ebx
    iretl

    .global pg32_stubs, pg32_timer_entry, pg32_spurious_entry
    .balign 16
pg32_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .balign 16
    .if ((%c[error_codes] >> \v) & 1) == 0
    pushl $0
    .endif
    pushl $\v
    jmp pg32_exception
    .endr

pg32_exception:
    pushl %%gs
    pushl %%fs
    pushl %%es
    pushl %%ds
    pushal
    mov %[kdata], %%eax
    mov %%eax, %%ds
    mov %%eax, %%es
    cld
    mov %%esp, %%esi
    mov $pg32_frame, %%edi
    mov %[frame_words], %%ecx
    rep movsl
    mov $pg32_after, %%edi
    call pg32_snapshot
    mov pg32_long_cr3, %%eax
    mov %%eax, %%cr3
    mov %[efer], %%ecx
    rdmsr
    or %[lme], %%eax
    wrmsr
    mov %%cr0, %%eax
    or %[pg], %%eax
    mov %%eax, %%cr0
    ljmp %[kcode64], $2f

    .code64
2:  lidt pg32_long_idtr(%%rip)
    mov %[kdata], %%eax
    mov %%eax, %%ds
    mov %%eax, %%es
    mov %%eax, %%ss
    mov pg_kernel_rsp(%%rip), %%rsp
    jmp pg_resume

    .code32
# The APIC timer that wakes HLT (runner.cpp's arm_wakeup): counted as the
# 64-bit handler counts it. DS may be anything here; SS is the kernel's.
pg32_timer_entry:
    incl %%ss:pg_timer_ticks
    movl $0, %%ss:%c[apic_eoi]
    iretl
pg32_spurious_entry:
    iretl

# EDI = a Raw32 to fill; clobbers EAX, ECX, EDX.
pg32_snapshot:
    mov %%cr0, %%eax
    mov %%eax, 0(%%edi)
    mov %%cr3, %%eax
    mov %%eax, 4(%%edi)
    mov %%cr4, %%eax
    mov %%eax, 8(%%edi)
    mov %%dr7, %%eax
    mov %%eax, 12(%%edi)
    mov %[efer], %%ecx
    rdmsr
    mov %%eax, 16(%%edi)
    mov %%edx, 20(%%edi)
    mov %[sysenter_esp], %%ecx
    rdmsr
    mov %%eax, 24(%%edi)
    mov %%edx, 28(%%edi)
    mov %[gs_base], %%ecx
    rdmsr
    mov %%eax, 32(%%edi)
    mov %%edx, 36(%%edi)
    mov %[kernel_gs_base], %%ecx
    rdmsr
    mov %%eax, 40(%%edi)
    mov %%edx, 44(%%edi)
    sgdt 48(%%edi)
    sidt 56(%%edi)
    sldt 64(%%edi)
    str 66(%%edi)
    mov %%ds, 68(%%edi)
    mov %%es, 70(%%edi)
    mov %%fs, 72(%%edi)
    mov %%gs, 74(%%edi)
    mov %[com1_scr], %%dx
    inb %%dx, %%al
    movzbl %%al, %%eax
    mov %%eax, 76(%%edi)
    ret
    .code64
    .popsection
  )"
               :
               : [kcode32] "i"(pg::KCODE32), [kcode64] "i"(pg::KCODE64), [kdata] "i"(pg::KDATA),
                 [not_pg] "i"(uint32_t(~arch::cr0::PG)), [pg] "i"(uint32_t(arch::cr0::PG)),
                 [efer] "i"(arch::msr::IA32_EFER), [not_lme] "i"(uint32_t(~arch::efer::LME)),
                 [lme] "i"(uint32_t(arch::efer::LME)), [error_codes] "i"(ERROR_CODES),
                 [frame_words] "i"(unsigned(FRAME_WORDS)), [apic_eoi] "i"(APIC_EOI),
                 [sysenter_esp] "i"(arch::msr::IA32_SYSENTER_ESP), [gs_base] "i"(arch::msr::IA32_GS_BASE),
                 [kernel_gs_base] "i"(arch::msr::IA32_KERNEL_GS_BASE),
                 [com1_scr] "i"(arch::platform::COM1 + arch::platform::UART_SCR));
}

namespace pg {
namespace {

alignas(8) uint64_t idt32[2][GATES];  // the base IDT and the `idtr` configuration's copy
PseudoDescriptor32 idtr32[2];

// A 32-bit interrupt gate (SDM vol. 3, 6.11, figure 6-2) to `handler` in
// the 32-bit kernel code segment.
uint64_t interrupt_gate32(uint32_t handler) {
  namespace ar = arch::seg::ar;
  return (handler & 0xffff) | (uint64_t(KCODE32) << 16) |
         (uint64_t(arch::seg::sys_type::INTERRUPT_GATE | ar::P) << 40) | (uint64_t(handler >> 16) << 48);
}

uint32_t address32(const void* p) { return uint32_t(reinterpret_cast<uint64_t>(p)); }

Snapshot from_raw(const Raw32& r, uint32_t eflags) {
  auto msr = [](const uint32_t (&v)[2]) { return v[0] | (uint64_t(v[1]) << 32); };
  Snapshot s{};
  s.cr0 = r.cr0;
  s.cr3 = r.cr3;
  s.cr4 = r.cr4;
  s.dr7 = r.dr7;
  s.efer = msr(r.efer);
  s.gdtr_base = r.gdtr_base;
  s.gdtr_limit = r.gdtr_limit;
  s.idtr_base = r.idtr_base;
  s.idtr_limit = r.idtr_limit;
  s.ldtr = r.ldtr;
  s.tr = r.tr;
  s.ds = r.ds;
  s.es = r.es;
  s.fs = r.fs;
  s.gs = r.gs;
  s.rflags_sys = eflags & (arch::rflags::IF | arch::rflags::IOPL | arch::rflags::AC);
  s.sysenter_esp = msr(r.sysenter_esp);
  s.gs_base = msr(r.gs_base);
  s.kernel_gs_base = msr(r.kernel_gs_base);
  s.uart_scr = uint8_t(r.uart_scr);
  return s;
}

}  // namespace

void protected_mode_init() {
  for (unsigned v = 0; v < 32; v++) idt32[0][v] = interrupt_gate32(address32(pg32_stubs + v * STUB_SIZE));
  idt32[0][TIMER_VECTOR] = interrupt_gate32(address32(pg32_timer_entry));
  idt32[0][SPURIOUS_VECTOR] = interrupt_gate32(address32(pg32_spurious_entry));
  memcpy(idt32[1], idt32[0], sizeof(idt32[0]));
  for (unsigned k = 0; k < 2; k++) idtr32[k] = {uint16_t(sizeof(idt32[k]) - 1), address32(idt32[k])};
}

uint64_t protected_mode_alt_idtr() { return reinterpret_cast<uint64_t>(&idtr32[1]); }

ProtectedExit run_in_protected_mode(const ProtectedLaunch& l) {
  make_tss32_available();
  // The IRETD frame: EIP, CS, EFLAGS, and ESP, SS for a return to CPL 3
  // (SDM vol. 2A, IRET), on the CPL-0 probe stack.
  uint32_t* frame = reinterpret_cast<uint32_t*>(kernel_probe_stack_top()) - ((l.cs & 3) ? 5 : 3);
  frame[0] = l.eip;
  frame[1] = l.cs;
  frame[2] = l.eflags;
  if (l.cs & 3) {
    frame[3] = l.esp;
    frame[4] = l.ss;
  }
  Launch32 launch{};
  launch.idtr = address32(&idtr32[l.config == Config::IDTR ? 1 : 0]);
  launch.tr = l.config == Config::TR ? TSS32_B : TSS32_A;
  launch.data_sel = l.data_selector;
  launch.frame_esp = address32(frame);
  memcpy(launch.regs, l.regs, sizeof(launch.regs));
  pg_enter_protected(&launch);

  ProtectedExit x{};
  x.vector = pg32_frame[F_VECTOR];
  x.error_code = pg32_frame[F_ERROR];
  x.eip = pg32_frame[F_EIP];
  x.eflags = pg32_frame[F_EFLAGS];
  const unsigned regs[6] = {F_EAX, F_ECX, F_EDX, F_EBX, F_ESI, F_EDI};
  for (unsigned r = 0; r < 6; r++) x.regs[r] = pg32_frame[regs[r]];
  x.before = from_raw(pg32_before, l.eflags);
  x.after = from_raw(pg32_after, x.eflags);
  // The handler reloads DS and ES before its snapshot: the segment
  // registers at the exception are the ones it pushed.
  x.after.ds = uint16_t(pg32_frame[F_DS]);
  x.after.es = uint16_t(pg32_frame[F_ES]);
  x.after.fs = uint16_t(pg32_frame[F_FS]);
  x.after.gs = uint16_t(pg32_frame[F_GS]);
  return x;
}

}  // namespace pg
