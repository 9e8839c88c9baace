#include "workloads/pg-probe/world.h"

#include "arch/platform.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "arch/x86/tss.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"

namespace pg {
namespace {

namespace ar = arch::seg::ar;
namespace pte = arch::pte;

constexpr unsigned GDT_ENTRIES = TSS32_B / 8 + 1;
constexpr uint16_t COM1_SCR = arch::platform::COM1 + arch::platform::UART_SCR;
// Values the base state gives the MSRs the catalogue reads or swaps, so that
// a change is visible.
constexpr uint64_t BASE_SYSENTER_ESP = 0x1111000, BASE_KERNEL_GS_BASE = 0x2222000;

// A code/data descriptor from VMX-layout access rights (bits 7:0 and 15:12
// are descriptor bits 47:40 and 55:52, SDM vol. 3, 3.4.5).
constexpr uint64_t descriptor(uint32_t base, uint32_t limit, uint32_t rights) {
  return (limit & 0xffff) | (uint64_t(base & 0xffffff) << 16) | (uint64_t(rights & 0xff) << 40) |
         (uint64_t((limit >> 16) & 0xf) << 48) | (uint64_t((rights >> 12) & 0xf) << 52) |
         (uint64_t(base >> 24) << 56);
}
constexpr uint32_t CODE = ar::TYPE_CODE | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::G;
constexpr uint32_t DATA = ar::TYPE_WRITABLE | ar::TYPE_ACCESSED | ar::S | ar::P | ar::DB | ar::G;
constexpr uint32_t DPL3 = 3u << ar::DPL_SHIFT;

// RSP0 (ESP0) of the TSS is where a fault at CPL 3 lands; io_map_base past
// the limit: no I/O permission bitmap, so IN/OUT obey IOPL only.
using arch::Tss32;
using arch::Tss64;
constexpr uint64_t TSS_BUSY = uint64_t(0x2) << 40;  // type 9 -> B (SDM vol. 3, 8.2.2)

struct [[gnu::packed]] PseudoDescriptor {
  uint16_t limit;
  uint64_t base;
};

alignas(16) uint64_t gdt[GDT_ENTRIES];
alignas(4096) uint64_t alt_gdt[GDT_ENTRIES];
alignas(4096) uint8_t alt_idt[4096];
alignas(4096) uint64_t alt_pml4[512];
alignas(16) Tss64 tss[2];
alignas(16) Tss32 tss32[2];
alignas(16) uint64_t ldt[2][2];
alignas(16) PseudoDescriptor gdtr_base_pd, gdtr_alt_pd, idtr_base_pd, idtr_alt_pd;
alignas(4096) uint8_t interrupt_stack[16384];
alignas(4096) uint8_t kernel_stack[8192];
alignas(4096) uint8_t user_stack[8192];
alignas(4096) uint8_t buffer[4096];
Alternates alts;
uint64_t cr0_base, cr3_base, cr4_base;
bool has_umip = false;

// A 16-byte system descriptor (SDM vol. 3, 8.2.3) at gdt[index], index+1.
void set_system_descriptor(uint64_t* table, unsigned index, uint64_t base, uint32_t limit, uint32_t type) {
  table[index] = descriptor(uint32_t(base), limit, type | ar::P);
  table[index + 1] = base >> 32;
}

void load_gdtr(const PseudoDescriptor& pd) { asm volatile("lgdt %0" : : "m"(pd) : "memory"); }
void load_idtr(const PseudoDescriptor& pd) { asm volatile("lidt %0" : : "m"(pd) : "memory"); }
void load_ldtr(uint16_t sel) { asm volatile("lldt %0" : : "r"(sel) : "memory"); }
// LTR needs an available TSS: clear both busy bits first (SDM LTR).
void load_tr(uint64_t* table, uint16_t sel) {
  table[TSS_A / 8] &= ~TSS_BUSY;
  table[TSS_B / 8] &= ~TSS_BUSY;
  asm volatile("ltr %0" : : "r"(sel) : "memory");
}
uint64_t read_dr7() {
  uint64_t v;
  asm volatile("mov %%dr7, %0" : "=r"(v));
  return v;
}

// Every level of the boot identity map gets U/S, so CPL 3 reaches the
// probe's code, stacks and buffer (no SMEP/SMAP: CPL 0 still reaches all).
void make_user_accessible() {
  uint64_t* pml4 = reinterpret_cast<uint64_t*>(rt::read_cr3() & pte::ADDR_MASK);
  for (unsigned i = 0; i < 512; i++) {
    if (!(pml4[i] & pte::P)) continue;
    pml4[i] |= pte::US;
    uint64_t* pdpt = reinterpret_cast<uint64_t*>(pml4[i] & pte::ADDR_MASK);
    for (unsigned j = 0; j < 512; j++) {
      if (!(pdpt[j] & pte::P)) continue;
      pdpt[j] |= pte::US;
      if (pdpt[j] & pte::PS) continue;
      uint64_t* pd = reinterpret_cast<uint64_t*>(pdpt[j] & pte::ADDR_MASK);
      for (unsigned k = 0; k < 512; k++)
        if (pd[k] & pte::P) pd[k] |= pte::US;  // 2 MiB pages: the leaves
    }
  }
  rt::write_cr<3>(rt::read_cr3());
}

void build_gdt() {
  const rt::DescriptorTableRegister boot = rt::sgdt();
  memcpy(gdt, reinterpret_cast<const void*>(boot.base), 3 * 8);  // null, KERNEL_CS, KERNEL_DS
  gdt[KCODE32 / 8] = descriptor(0, 0xfffff, CODE | ar::DB);
  gdt[UCODE32 / 8] = descriptor(0, 0xfffff, CODE | ar::DB | DPL3);
  gdt[UDATA / 8] = descriptor(0, 0xfffff, DATA | DPL3);
  gdt[UCODE64 / 8] = descriptor(0, 0xfffff, CODE | ar::L | DPL3);
  for (unsigned t = 0; t < 2; t++) {
    tss[t].rsp[0] = reinterpret_cast<uint64_t>(interrupt_stack + sizeof(interrupt_stack));
    tss[t].io_map_base = sizeof(Tss64);
    set_system_descriptor(gdt, (t ? TSS_B : TSS_A) / 8, reinterpret_cast<uint64_t>(&tss[t]), sizeof(Tss64) - 1,
                          arch::seg::sys_type::TSS_AVAILABLE);
    tss32[t].esp0 = uint32_t(reinterpret_cast<uint64_t>(interrupt_stack + sizeof(interrupt_stack)));
    tss32[t].ss0 = KDATA;
    tss32[t].io_map_base = sizeof(Tss32);
    gdt[(t ? TSS32_B : TSS32_A) / 8] = descriptor(uint32_t(reinterpret_cast<uint64_t>(&tss32[t])),
                                                  sizeof(Tss32) - 1, arch::seg::sys_type::TSS_AVAILABLE | ar::P);
    ldt[t][0] = ldt[t][1] = descriptor(0, 0xfffff, DATA);
    set_system_descriptor(gdt, (t ? LDT_B : LDT_A) / 8, reinterpret_cast<uint64_t>(&ldt[t]), sizeof(ldt[t]) - 1,
                          arch::seg::sys_type::LDT);
  }
  gdtr_base_pd = {uint16_t(sizeof(gdt) - 1), reinterpret_cast<uint64_t>(gdt)};
  gdtr_alt_pd = {uint16_t(sizeof(gdt) - 1), reinterpret_cast<uint64_t>(alt_gdt)};
}

}  // namespace

const char* config_name(Config c) {
  switch (c) {
    case Config::BASE: return "base";
    case Config::GDTR: return "gdtr";
    case Config::IDTR: return "idtr";
    case Config::LDTR: return "ldtr";
    case Config::TR: return "tr";
    case Config::CR0_TS: return "cr0.ts";
    case Config::CR3: return "cr3";
    case Config::IOPL3: return "iopl3";
    case Config::IF: return "if";
    case Config::UMIP: return "cr4.umip";
    case Config::TSD: return "cr4.tsd";
    case Config::COUNT: break;
  }
  return "?";
}

bool config_supported(Config c) { return c != Config::UMIP || has_umip; }

void world_init() {
  build_gdt();
  load_gdtr(gdtr_base_pd);
  load_tr(gdt, TSS_A);
  load_ldtr(LDT_A);
  make_user_accessible();
  const rt::DescriptorTableRegister idt = rt::sidt();
  idtr_base_pd = {idt.limit, idt.base};
  idtr_alt_pd = {idt.limit, reinterpret_cast<uint64_t>(alt_idt)};
  cr0_base = rt::read_cr0() & ~arch::cr0::TS;
  cr3_base = rt::read_cr3();
  cr4_base = rt::read_cr4() & ~(arch::cr4::UMIP | arch::cr4::TSD);
  memcpy(alt_pml4, reinterpret_cast<const void*>(cr3_base & pte::ADDR_MASK), sizeof(alt_pml4));
  alts = {reinterpret_cast<uint64_t>(&gdtr_alt_pd), reinterpret_cast<uint64_t>(&idtr_alt_pd),
          reinterpret_cast<uint64_t>(alt_pml4)};
  // CPUID.(EAX=7,ECX=0):ECX[2] (SDM vol. 2A, CPUID).
  has_umip = rt::cpuid(0).eax >= 7 && (rt::cpuid(7, 0).ecx & (1u << 2));
  restore_base();
}

void restore_base() {
  load_gdtr(gdtr_base_pd);
  load_idtr(idtr_base_pd);
  load_tr(gdt, TSS_A);
  load_ldtr(LDT_A);
  rt::write_cr0(cr0_base);
  rt::write_cr<3>(cr3_base);
  rt::write_cr4(cr4_base);
  load_data_segments(KDATA);
  rt::wrmsr(arch::msr::IA32_SYSENTER_ESP, BASE_SYSENTER_ESP);
  rt::wrmsr(arch::msr::IA32_GS_BASE, 0);
  rt::wrmsr(arch::msr::IA32_KERNEL_GS_BASE, BASE_KERNEL_GS_BASE);
  rt::outb(COM1_SCR, 0);
}

uint64_t apply_config(Config c) {
  // The copies LGDT/LIDT load (as a configuration or as the probed
  // instruction's operand) are refreshed every time: a run may have written
  // a busy bit into the GDT.
  memcpy(alt_gdt, gdt, sizeof(gdt));
  memcpy(alt_idt, reinterpret_cast<const void*>(idtr_base_pd.base), idtr_base_pd.limit + 1u);
  switch (c) {
    case Config::GDTR: load_gdtr(gdtr_alt_pd); break;
    case Config::IDTR: load_idtr(idtr_alt_pd); break;
    case Config::LDTR: load_ldtr(LDT_B); break;
    case Config::TR: load_tr(gdt, TSS_B); break;
    case Config::CR0_TS: rt::write_cr0(cr0_base | arch::cr0::TS); break;
    case Config::CR3: rt::write_cr<3>(reinterpret_cast<uint64_t>(alt_pml4)); break;
    case Config::IOPL3: return arch::rflags::IOPL;
    case Config::IF: return arch::rflags::IF;
    case Config::UMIP: rt::write_cr4(cr4_base | arch::cr4::UMIP); break;
    case Config::TSD: rt::write_cr4(cr4_base | arch::cr4::TSD); break;
    case Config::BASE:
    case Config::COUNT: break;
  }
  return 0;
}

Snapshot take_snapshot(uint64_t rflags) {
  Snapshot s{};
  s.cr0 = rt::read_cr0();
  s.cr3 = rt::read_cr3();
  s.cr4 = rt::read_cr4();
  s.efer = rt::rdmsr(arch::msr::IA32_EFER);
  s.dr7 = read_dr7();
  const rt::DescriptorTableRegister g = rt::sgdt(), i = rt::sidt();
  s.gdtr_base = g.base;
  s.gdtr_limit = g.limit;
  s.idtr_base = i.base;
  s.idtr_limit = i.limit;
  asm volatile("sldt %0; str %1" : "=r"(s.ldtr), "=r"(s.tr));
  asm volatile("mov %%ds, %0; mov %%es, %1; mov %%fs, %2; mov %%gs, %3"
               : "=r"(s.ds), "=r"(s.es), "=r"(s.fs), "=r"(s.gs));
  s.rflags_sys = rflags & (arch::rflags::IF | arch::rflags::IOPL | arch::rflags::AC);
  s.sysenter_esp = rt::rdmsr(arch::msr::IA32_SYSENTER_ESP);
  s.gs_base = rt::rdmsr(arch::msr::IA32_GS_BASE);
  s.kernel_gs_base = rt::rdmsr(arch::msr::IA32_KERNEL_GS_BASE);
  s.uart_scr = rt::inb(COM1_SCR);
  return s;
}

void print_diff(const Snapshot& a, const Snapshot& b) {
  bool any = false;
  auto field = [&](const char* name, uint64_t x, uint64_t y) {
    if (x == y) return;
    rt::printf("%s%s:%lx:%lx", any ? "," : "", name, x, y);
    any = true;
  };
  field("cr0", a.cr0, b.cr0);
  field("cr3", a.cr3, b.cr3);
  field("cr4", a.cr4, b.cr4);
  field("efer", a.efer, b.efer);
  field("dr7", a.dr7, b.dr7);
  field("gdtr.base", a.gdtr_base, b.gdtr_base);
  field("gdtr.limit", a.gdtr_limit, b.gdtr_limit);
  field("idtr.base", a.idtr_base, b.idtr_base);
  field("idtr.limit", a.idtr_limit, b.idtr_limit);
  field("ldtr", a.ldtr, b.ldtr);
  field("tr", a.tr, b.tr);
  field("ds", a.ds, b.ds);
  field("es", a.es, b.es);
  field("fs", a.fs, b.fs);
  field("gs", a.gs, b.gs);
  field("rflags.if_iopl_ac", a.rflags_sys, b.rflags_sys);
  field("msr.sysenter_esp", a.sysenter_esp, b.sysenter_esp);
  field("msr.gs_base", a.gs_base, b.gs_base);
  field("msr.kernel_gs_base", a.kernel_gs_base, b.kernel_gs_base);
  field("io.com1_scr", a.uart_scr, b.uart_scr);
  if (!any) rt::printf("-");
}

void load_data_segments(uint16_t sel) {
  asm volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%fs; mov %0, %%gs" : : "r"(uint32_t(sel)) : "memory");
}

void make_tss32_available() {
  uint64_t* table = reinterpret_cast<uint64_t*>(rt::sgdt().base);
  table[TSS32_A / 8] &= ~TSS_BUSY;
  table[TSS32_B / 8] &= ~TSS_BUSY;
}

const Alternates& alternates() { return alts; }
uint64_t base_cr0() { return cr0_base; }
uint64_t base_cr4() { return cr4_base; }
uint64_t kernel_probe_stack_top() { return reinterpret_cast<uint64_t>(kernel_stack + sizeof(kernel_stack)); }
uint64_t user_stack_top() { return reinterpret_cast<uint64_t>(user_stack + sizeof(user_stack)); }
uint8_t* result_buffer() { return buffer; }

}  // namespace pg
