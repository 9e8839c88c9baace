// vmx-fuzz [CASES] [SEED] [first=N] [verbose] [noclasses] [skip=CLASS]... [only=CLASS]... [avoid-<word>=MASK]...
//
// See fuzz.h. CASES (default 3000) PRNG-mutated VMCSs after the fixed
// classes, from SEED (default 1); case n's mutations depend only on SEED
// and n, so `vmx-fuzz 1 SEED first=n verbose` replays case n alone and
// prints every digested field. avoid-pin/proc/proc2/exit/entry=MASK: the
// mutations never set those control bits (for a platform pair that offers
// different controls; tests/vmx_fuzz.cmake says which and why).
// skip=CLASS: that fixed class is not run (to look past one that ends the
// run on one platform); only=CLASS: only the classes named so are run.
#include "workloads/vmx-fuzz/fuzz.h"

#include "arch/x86/control_regs.h"
#include "arch/x86/msr.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "runtime/boot_layout.h"
#include "runtime/libc.h"

namespace fuzz {

using namespace arch::vmx;
namespace msr = arch::msr;
namespace pte = arch::pte;
using selftest::caps;
using selftest::pages;
using selftest::regs;

World world;
MsrAreas msr_areas;
unsigned maxphyaddr = 36;
bool verbose = false;

// ---- Output ------------------------------------------------------------------------------

namespace {
uint64_t hash_state = 0xcbf29ce484222325ull;  // FNV-1a offset basis

void hash_bytes(const char* p, unsigned n) {
  for (unsigned i = 0; i < n; i++) hash_state = (hash_state ^ uint8_t(p[i])) * 0x100000001b3ull;
}
}  // namespace

uint64_t output_hash() { return hash_state; }

Line& Line::s(const char* text) {
  while (*text && len_ + 1 < sizeof buf_) buf_[len_++] = *text++;
  buf_[len_] = 0;
  return *this;
}

Line& Line::x(uint64_t v) {
  char tmp[19];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  s("0x");
  while (n && len_ + 1 < sizeof buf_) buf_[len_++] = tmp[--n];
  buf_[len_] = 0;
  return *this;
}

Line& Line::u(uint64_t v) {
  char tmp[21];
  int n = 0;
  do {
    tmp[n++] = char('0' + v % 10);
    v /= 10;
  } while (v);
  while (n && len_ + 1 < sizeof buf_) buf_[len_++] = tmp[--n];
  buf_[len_] = 0;
  return *this;
}

void Line::emit() {
  buf_[len_] = 0;
  hash_bytes(buf_, len_);
  hash_bytes("\n", 1);
  rt::console_write(buf_);
  rt::console_write("\n");
}

namespace {

// ---- Digests -------------------------------------------------------------------------------
// FNV-1a over 64-bit values; with `verbose` each value is printed too.
struct Digest {
  const char* what;
  uint64_t h = 0xcbf29ce484222325ull;
  explicit Digest(const char* w) : what(w) {}
  void add(const char* name, uint64_t v) {
    if (verbose) rt::printf("  %s %s = 0x%lx\n", what, name, v);
    for (int i = 0; i < 8; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
  // A page as one value: FNV-1a over its 64-bit words (bytes would cost
  // the guest eight times the instructions, and pages are most of a case).
  void add_page(const char* name, uint64_t page) {
    const auto* q = reinterpret_cast<const uint64_t*>(page);
    uint64_t local = 0xcbf29ce484222325ull;
    for (unsigned i = 0; i < 512; i++) {
      if (verbose && q[i]) rt::printf("  %s %s[%u] = 0x%lx\n", what, name, i, q[i]);
      local = (local ^ q[i]) * 0x100000001b3ull;
      local ^= local >> 29;
    }
    for (int i = 0; i < 8; i++) h = (h ^ ((local >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  }
  uint32_t value() const { return uint32_t(h ^ (h >> 32)); }
};

// ---- PRNG: splitmix64 ------------------------------------------------------------------------
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};
// Case n's stream starts at a state mixed from (seed, n), so the streams
// of neighbouring cases do not overlap.
Rng case_rng(uint64_t seed, uint64_t n) {
  Rng mixer{seed};
  Rng r{mixer.next() ^ (n * 0xd1342543de82ef95ull)};
  r.s = r.next();
  return r;
}

// ---- The saved good state ------------------------------------------------------------------
struct SavedField {
  uint32_t encoding;
  uint64_t value;
};
SavedField good_table[kVmcsFieldCount];
unsigned good_count = 0;

// ---- The host's own state, as the exit leaves it and as it must be ------------------------------
struct HostSnap {
  uint64_t cr0, cr3, cr4, dr7;
  uint64_t efer, pat, fs_base, gs_base, kernel_gs_base, sysenter_cs, sysenter_esp, sysenter_eip, lstar, star,
      debugctl;
  uint16_t cs, ss, ds, es, fs, gs, tr;
  rt::DescriptorTableRegister gdtr, idtr;
};
HostSnap good_host;

HostSnap capture_host() {
  HostSnap h;
  h.cr0 = rt::read_cr0();
  h.cr3 = rt::read_cr3();
  h.cr4 = rt::read_cr4();
  asm volatile("movq %%dr7, %0" : "=r"(h.dr7));
  asm volatile("movw %%cs, %0" : "=r"(h.cs));
  asm volatile("movw %%ss, %0" : "=r"(h.ss));
  asm volatile("movw %%ds, %0" : "=r"(h.ds));
  asm volatile("movw %%es, %0" : "=r"(h.es));
  asm volatile("movw %%fs, %0" : "=r"(h.fs));
  asm volatile("movw %%gs, %0" : "=r"(h.gs));
  asm volatile("str %0" : "=r"(h.tr));
  h.gdtr = rt::sgdt();
  h.idtr = rt::sidt();
  h.efer = rt::rdmsr(msr::IA32_EFER);
  h.pat = rt::rdmsr(msr::IA32_PAT);
  h.fs_base = rt::rdmsr(msr::IA32_FS_BASE);
  h.gs_base = rt::rdmsr(msr::IA32_GS_BASE);
  h.kernel_gs_base = rt::rdmsr(msr::IA32_KERNEL_GS_BASE);
  h.sysenter_cs = rt::rdmsr(msr::IA32_SYSENTER_CS);
  h.sysenter_esp = rt::rdmsr(msr::IA32_SYSENTER_ESP);
  h.sysenter_eip = rt::rdmsr(msr::IA32_SYSENTER_EIP);
  h.lstar = rt::rdmsr(msr::IA32_LSTAR);
  h.star = rt::rdmsr(msr::IA32_STAR);
  h.debugctl = rt::rdmsr(msr::IA32_DEBUGCTL);
  return h;
}

uint32_t host_digest(const HostSnap& h) {
  Digest d("host");
  d.add("CR0", h.cr0);
  d.add("CR3", h.cr3);
  d.add("CR4", h.cr4);
  d.add("DR7", h.dr7);
  d.add("CS", h.cs);
  d.add("SS", h.ss);
  d.add("DS", h.ds);
  d.add("ES", h.es);
  d.add("FS", h.fs);
  d.add("GS", h.gs);
  d.add("TR", h.tr);
  d.add("GDTR.base", h.gdtr.base);
  d.add("GDTR.limit", h.gdtr.limit);
  d.add("IDTR.base", h.idtr.base);
  d.add("IDTR.limit", h.idtr.limit);
  d.add("EFER", h.efer);
  d.add("PAT", h.pat);
  d.add("FS_BASE", h.fs_base);
  d.add("GS_BASE", h.gs_base);
  d.add("KERNEL_GS_BASE", h.kernel_gs_base);
  d.add("SYSENTER_CS", h.sysenter_cs);
  d.add("SYSENTER_ESP", h.sysenter_esp);
  d.add("SYSENTER_EIP", h.sysenter_eip);
  d.add("LSTAR", h.lstar);
  d.add("STAR", h.star);
  d.add("DEBUGCTL", h.debugctl);
  return d.value();
}

// Puts back everything a VM exit may have loaded from mutated host-state
// fields or MSR lists (HOST_CR3, HOST_RSP and HOST_RIP are never given a
// value that could pass the checks, so the exit always lands here on the
// harness's own stack and page tables). Nothing before this point loads a
// segment or takes an exception: RFLAGS.IF is 0 after an exit.
void repair_host() {
  const HostSnap& g = good_host;
  asm volatile("lgdt %0" : : "m"(g.gdtr) : "memory");
  asm volatile("lidt %0" : : "m"(g.idtr) : "memory");
  // LTR needs the TSS descriptor not busy; the exit did not touch the GDT.
  auto* gdt = reinterpret_cast<uint64_t*>(g.gdtr.base);
  gdt[g.tr / 8] &= ~(uint64_t(2) << 40);  // type 1011b (busy) -> 1001b
  asm volatile("ltr %w0" : : "r"(g.tr) : "memory");
  asm volatile(
      "movw %[ds], %%ds\n\t"
      "movw %[es], %%es\n\t"
      "movw %[ss], %%ss\n\t"
      "movw %[fs], %%fs\n\t"
      "movw %[gs], %%gs\n\t"
      "pushq %[cs]\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:"
      :
      : [ds] "r"(g.ds), [es] "r"(g.es), [ss] "r"(g.ss), [fs] "r"(g.fs), [gs] "r"(g.gs), [cs] "r"(uint64_t(g.cs))
      : "rax", "memory");
  const struct {
    uint32_t index;
    uint64_t value;
  } msrs[] = {
      {msr::IA32_EFER, g.efer},
      {msr::IA32_PAT, g.pat},
      {msr::IA32_FS_BASE, g.fs_base},
      {msr::IA32_GS_BASE, g.gs_base},
      {msr::IA32_KERNEL_GS_BASE, g.kernel_gs_base},
      {msr::IA32_SYSENTER_CS, g.sysenter_cs},
      {msr::IA32_SYSENTER_ESP, g.sysenter_esp},
      {msr::IA32_SYSENTER_EIP, g.sysenter_eip},
      {msr::IA32_LSTAR, g.lstar},
      {msr::IA32_STAR, g.star},
      {msr::IA32_DEBUGCTL, g.debugctl},
  };
  for (const auto& m : msrs)
    if (rt::rdmsr(m.index) != m.value) rt::wrmsr(m.index, m.value);
  if (rt::read_cr0() != g.cr0) rt::write_cr0(g.cr0);
  if (rt::read_cr4() != g.cr4) rt::write_cr4(g.cr4);
  uint64_t dr7;
  asm volatile("movq %%dr7, %0" : "=r"(dr7));
  if (dr7 != g.dr7) asm volatile("movq %0, %%dr7" : : "r"(g.dr7) : "memory");
}

// ---- The world ------------------------------------------------------------------------------

// A 64-bit interrupt gate (SDM 6.14.1).
uint64_t gate_low(uint64_t target) {
  return (target & 0xffff) | (uint64_t(rt::KERNEL_CS) << 16) |
         (uint64_t(arch::seg::sys_type::INTERRUPT_GATE | arch::seg::ar::P) << 40) | (((target >> 16) & 0xffff) << 48);
}

void build_world() {
  const World& w = world;
  for (unsigned i = 0; i < WORLD_PAGES; i++) selftest::clear_page(w.code + i * 4096);
  // Code: INT3 everywhere (one byte: any RIP inside decodes to it), VMCALL
  // at the entry point and at the IDT handler.
  memset(reinterpret_cast<void*>(w.code), 0xcc, 4096);
  static const uint8_t vmcall[3] = {0x0f, 0x01, 0xc1};
  memcpy(reinterpret_cast<void*>(w.code), vmcall, 3);
  memcpy(reinterpret_cast<void*>(w.code + HANDLER_OFFSET), vmcall, 3);
  auto* idt = reinterpret_cast<uint64_t*>(w.idt);
  for (unsigned v = 0; v < 256; v++) {
    idt[2 * v] = gate_low(w.code + HANDLER_OFFSET);
    idt[2 * v + 1] = (w.code + HANDLER_OFFSET) >> 32;
  }
  auto* gdt = reinterpret_cast<uint64_t*>(w.gdt);
  const auto* host_gdt = reinterpret_cast<const uint64_t*>(good_host.gdtr.base);
  gdt[1] = host_gdt[rt::KERNEL_CS / 8];
  gdt[2] = host_gdt[rt::KERNEL_DS / 8];
  const uint64_t tss = w.gdt + TSS_OFFSET, limit = 0x67;
  gdt[GUEST_TR_SELECTOR / 8] = (limit & 0xffff) | ((tss & 0xffffff) << 16) |
                               (uint64_t(arch::seg::sys_type::TSS_BUSY | arch::seg::ar::P) << 40) |
                               (((tss >> 24) & 0xff) << 56);
  gdt[GUEST_TR_SELECTOR / 8 + 1] = tss >> 32;

  // The guest's paging and EPT: the same pages, guest-linear = guest-physical.
  const uint64_t at = w.code;
  reinterpret_cast<uint64_t*>(w.gpml4)[pte::index(at, 4)] = w.gpdpt | pte::P | pte::RW;
  reinterpret_cast<uint64_t*>(w.gpdpt)[pte::index(at, 3)] = w.gpd | pte::P | pte::RW;
  reinterpret_cast<uint64_t*>(w.gpd)[pte::index(at, 2)] = w.gpt | pte::P | pte::RW;
  auto* gpt = reinterpret_cast<uint64_t*>(w.gpt);
  gpt[pte::index(w.code, 1)] = w.code | pte::P;
  gpt[pte::index(w.stack, 1)] = w.stack | pte::P | pte::RW;
  gpt[pte::index(w.idt, 1)] = w.idt | pte::P;
  gpt[pte::index(w.gdt, 1)] = w.gdt | pte::P | pte::RW;

  const uint64_t wb = ept_entry::MEMORY_TYPE.make(ept_memory_type::WB);
  const uint64_t R = ept_entry::READ.mask, W = ept_entry::WRITE.mask, X = ept_entry::EXECUTE.mask;
  reinterpret_cast<uint64_t*>(w.epml4)[pte::index(at, 4)] = w.epdpt | R | W | X;
  reinterpret_cast<uint64_t*>(w.epdpt)[pte::index(at, 3)] = w.epd | R | W | X;
  reinterpret_cast<uint64_t*>(w.epd)[pte::index(at, 2)] = w.ept | R | W | X;
  auto* ept = reinterpret_cast<uint64_t*>(w.ept);
  ept[pte::index(w.code, 1)] = w.code | R | X | wb;
  ept[pte::index(w.stack, 1)] = w.stack | R | W | wb;
  ept[pte::index(w.idt, 1)] = w.idt | R | wb;
  ept[pte::index(w.gdt, 1)] = w.gdt | R | W | wb;
  const uint64_t tables[] = {w.gpml4, w.gpdpt, w.gpd, w.gpt};
  for (uint64_t p : tables) ept[pte::index(p, 1)] = p | R | W | wb;

  // The MSR areas (fuzz.h): the VM-entry MSR-load list loads MSRs the VMCS
  // also switches, so the order of the two is visible (SDM 26.4 after 26.3).
  auto* load = reinterpret_cast<MsrEntry*>(msr_areas.entry_load);
  const MsrEntry entry_list[ENTRY_LOAD_BAD_INDEX + 1] = {
      {msr::IA32_KERNEL_GS_BASE, 0, 0x1111000},
      {msr::IA32_SYSENTER_CS, 0, 0x23},
      {msr::IA32_SYSENTER_ESP, 0, 0xffff800000002000ull},
      {msr::IA32_PAT, 0, 0x0606060606060606ull},
      {msr::IA32_SYSENTER_EIP, 0, 0xffff800000004000ull},
      {msr::IA32_LSTAR, 0, 0xffff800000005000ull},
      {msr::IA32_KERNEL_GS_BASE, 0, 0x6666000},
      {msr::IA32_FS_BASE, 0, 0},  // may not be loaded this way (SDM 26.4): qualification 8
  };
  for (unsigned i = 0; i < MSR_AREA_ENTRIES; i++)
    load[i] = i <= ENTRY_LOAD_BAD_INDEX ? entry_list[i] : MsrEntry{msr::IA32_KERNEL_GS_BASE, 0, i * 0x1000ull};
  auto* store = reinterpret_cast<MsrEntry*>(msr_areas.exit_store);
  const uint32_t stored[] = {msr::IA32_KERNEL_GS_BASE, msr::IA32_SYSENTER_CS, msr::IA32_SYSENTER_ESP,
                             msr::IA32_SYSENTER_EIP,   msr::IA32_PAT,         msr::IA32_LSTAR,
                             msr::IA32_EFER,           msr::IA32_STAR};
  for (unsigned i = 0; i < MSR_AREA_ENTRIES; i++) store[i] = MsrEntry{stored[i % 8], 0, 0};
  auto* host_load = reinterpret_cast<MsrEntry*>(msr_areas.exit_load);
  for (unsigned i = 0; i < MSR_AREA_ENTRIES; i++) {
    switch (i % 3) {
      case 0: host_load[i] = MsrEntry{msr::IA32_KERNEL_GS_BASE, 0, 0xabc000 + i * 0x10ull}; break;
      case 1: host_load[i] = MsrEntry{msr::IA32_LSTAR, 0, 0xffff800000100000ull + i * 0x1000ull}; break;
      default: host_load[i] = MsrEntry{msr::IA32_STAR, 0, uint64_t(i) << 32}; break;
    }
  }
}

bool allocate_world() {
  // One 2 MiB region, so one page table of each kind maps it all.
  const uint64_t bytes = WORLD_PAGES * 4096ull;
  uint64_t start = rt::alloc_pages(WORLD_PAGES);
  if (!start) return false;
  if ((start >> 21) != ((start + bytes - 1) >> 21)) {
    const uint64_t pad = (((start >> 21) + 1) << 21) - (start + bytes);
    if (pad && !rt::alloc_pages(pad / 4096)) return false;
    start = rt::alloc_pages(WORLD_PAGES);
    if (!start || (start >> 21) != ((start + bytes - 1) >> 21)) return false;
  }
  uint64_t* slots[WORLD_PAGES] = {&world.code,  &world.stack, &world.idt,   &world.gdt,
                                  &world.gpml4, &world.gpdpt, &world.gpd,   &world.gpt,
                                  &world.epml4, &world.epdpt, &world.epd,   &world.ept};
  for (unsigned i = 0; i < WORLD_PAGES; i++) *slots[i] = start + i * 4096ull;
  msr_areas.entry_load = rt::alloc_pages(MSR_AREA_PAGES);
  msr_areas.exit_store = rt::alloc_pages(MSR_AREA_PAGES);
  msr_areas.exit_load = rt::alloc_pages(MSR_AREA_PAGES);
  return msr_areas.entry_load && msr_areas.exit_store && msr_areas.exit_load;
}

uint64_t good_eptp() {
  return world.epml4 | eptp::MEMORY_TYPE.make(ept_memory_type::WB) | eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS);
}

// The known-good VMCS: vmx-selftest's 64-bit guest (init_guest_vmcs), moved
// into the world, with every exception exiting, the preemption timer, EPT,
// unrestricted guest, VPID, the EFER/PAT/debug switches and the MSR-list
// and bitmap addresses set (counts 0, bitmaps off), so that a mutation of
// one bit or count makes them live.
bool build_good_vmcs() {
  using namespace selftest;
  if (!vmx_on() || !load_vmcs(pages.vmcs)) return false;
  build_world();
  init_guest_vmcs(world.code);
  if (test_failed()) return false;
  const bool timer = allowed1(caps.pinbased, pin_ctl::PREEMPTION_TIMER);
  vwrite(F::PIN_BASED_VM_EXEC_CONTROL, ctls_adjust(caps.pinbased, timer ? pin_ctl::PREEMPTION_TIMER : 0));
  vwrite(F::CPU_BASED_VM_EXEC_CONTROL, ctls_adjust(caps.procbased, proc_ctl::ACTIVATE_SECONDARY_CONTROLS));
  const uint32_t proc2 = proc_ctl2::ENABLE_EPT | proc_ctl2::UNRESTRICTED_GUEST | proc_ctl2::ENABLE_VPID;
  if (!allowed1(caps.procbased2, proc2)) {
    rt::printf("vmx-fuzz: EPT, unrestricted guest and VPID are needed (IA32_VMX_PROCBASED_CTLS2 0x%lx)\n",
               caps.procbased2);
    return false;
  }
  vwrite(F::SECONDARY_VM_EXEC_CONTROL, proc2);
  vwrite(F::VM_EXIT_CONTROLS,
         ctls_adjust(caps.exit, exit_ctl::HOST_ADDRESS_SPACE_SIZE | exit_ctl::ACK_INTERRUPT_ON_EXIT |
                                    (ctls_allowed1(caps.exit) & (exit_ctl::SAVE_EFER | exit_ctl::LOAD_EFER |
                                                                 exit_ctl::SAVE_PAT | exit_ctl::LOAD_PAT |
                                                                 exit_ctl::SAVE_DEBUG_CONTROLS))));
  vwrite(F::VM_ENTRY_CONTROLS,
         ctls_adjust(caps.entry, entry_ctl::IA32E_MODE_GUEST |
                                     (ctls_allowed1(caps.entry) & (entry_ctl::LOAD_EFER | entry_ctl::LOAD_PAT |
                                                                   entry_ctl::LOAD_DEBUG_CONTROLS))));
  vwrite(F::EXCEPTION_BITMAP, 0xffffffff);
  if (timer) vwrite(F::VMX_PREEMPTION_TIMER_VALUE, 10000);
  vwrite(F::EPT_POINTER, good_eptp());
  vwrite(F::VIRTUAL_PROCESSOR_ID, 1);
  clear_page(pages.io_bitmap_a);
  clear_page(pages.io_bitmap_b);
  clear_page(pages.msr_bitmap);
  vwrite(F::IO_BITMAP_A, pages.io_bitmap_a);
  vwrite(F::IO_BITMAP_B, pages.io_bitmap_b);
  vwrite(F::MSR_BITMAP, pages.msr_bitmap);
  vwrite(F::VM_ENTRY_MSR_LOAD_ADDR, msr_areas.entry_load);
  vwrite(F::VM_EXIT_MSR_STORE_ADDR, msr_areas.exit_store);
  vwrite(F::VM_EXIT_MSR_LOAD_ADDR, msr_areas.exit_load);
  vwrite(F::GUEST_CR3, world.gpml4);
  vwrite(F::GUEST_RSP, world.stack + 4096);
  vwrite(F::GUEST_RIP, world.code);
  vwrite(F::GUEST_GDTR_BASE, world.gdt);
  vwrite(F::GUEST_GDTR_LIMIT, GUEST_TR_SELECTOR + 15);
  vwrite(F::GUEST_IDTR_BASE, world.idt);
  vwrite(F::GUEST_IDTR_LIMIT, 0xfff);
  vwrite(F::GUEST_TR_SELECTOR, GUEST_TR_SELECTOR);
  vwrite(F::GUEST_TR_BASE, world.gdt + TSS_OFFSET);
  vwrite(F::GUEST_IA32_EFER, good_host.efer);
  vwrite(F::GUEST_IA32_PAT, good_host.pat);
  vwrite(F::HOST_IA32_EFER, good_host.efer);
  vwrite(F::HOST_IA32_PAT, good_host.pat);
  if (test_failed()) return false;
  // The table every case starts from: every field but the read-only ones.
  good_count = 0;
  for (const VmcsFieldInfo& f : kVmcsFields) {
    if (f.type == VmcsType::EXIT_INFO) continue;
    uint64_t v;
    if (vmx::vmread(f.encoding, v) != vmx::Status::Ok) {
      rt::printf("vmx-fuzz: VMREAD %s failed\n", f.name);
      return false;
    }
    good_table[good_count++] = SavedField{f.encoding, v};
  }
  return true;
}

}  // namespace

void fresh_state() {
  build_world();
  vmx::vmclear(pages.vmcs);
  selftest::clear_page(pages.vmcs);
  selftest::write_revision(pages.vmcs, caps.revision());
  vmx::vmptrld(pages.vmcs);
  for (unsigned i = 0; i < good_count; i++) vmx::vmwrite(good_table[i].encoding, good_table[i].value);
  vmx::rt_vmx_host_rsp = 0;  // enter() writes HOST_RSP again
  vmx::invept(invept_type::ALL_CONTEXT, 0);
  vmx::invvpid(invvpid_type::ALL_CONTEXT, 0, 0);
  memset(&regs, 0, sizeof regs);
}

namespace {

// ---- Describing an outcome --------------------------------------------------------------------

// Exits whose VM-exit instruction length the SDM defines (27.2.5): those
// caused by an instruction, and those during delivery of a software event.
bool instruction_length_defined(uint32_t basic, uint32_t intr, uint32_t idt) {
  auto software = [](uint32_t info) {
    const uint64_t type = intr_info::TYPE.get(info);
    return intr_info::VALID.test(info) &&
           (type == intr_info::TYPE_SOFTWARE_INTERRUPT || type == intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION ||
            type == intr_info::TYPE_SOFTWARE_EXCEPTION);
  };
  if (software(idt)) return true;
  switch (ExitReason(basic)) {
    case ExitReason::EXCEPTION_NMI: return software(intr);
    case ExitReason::CPUID: case ExitReason::GETSEC: case ExitReason::HLT: case ExitReason::INVD:
    case ExitReason::INVLPG: case ExitReason::RDPMC: case ExitReason::RDTSC: case ExitReason::RSM:
    case ExitReason::VMCALL: case ExitReason::VMCLEAR: case ExitReason::VMLAUNCH: case ExitReason::VMPTRLD:
    case ExitReason::VMPTRST: case ExitReason::VMREAD: case ExitReason::VMRESUME: case ExitReason::VMWRITE:
    case ExitReason::VMXOFF: case ExitReason::VMXON: case ExitReason::CR_ACCESS: case ExitReason::DR_ACCESS:
    case ExitReason::IO_INSTRUCTION: case ExitReason::MSR_READ: case ExitReason::MSR_WRITE:
    case ExitReason::MWAIT: case ExitReason::MONITOR: case ExitReason::PAUSE: case ExitReason::GDTR_IDTR:
    case ExitReason::LDTR_TR: case ExitReason::INVEPT: case ExitReason::RDTSCP: case ExitReason::INVVPID:
    case ExitReason::WBINVD: case ExitReason::XSETBV: case ExitReason::RDRAND: case ExitReason::INVPCID:
    case ExitReason::VMFUNC: case ExitReason::RDSEED: case ExitReason::XSAVES: case ExitReason::XRSTORS:
      return true;
    default: return false;
  }
}

// The guest state a VM exit saves (SDM 27.3), GPRs, and the memory the
// guest and its EPT walks may write (A/D flags, the stack, the MSR-store
// list). Not the preemption-timer value (timing); for unusable segments
// only what 27.3.2 defines (selector, the unusable bit, SS.DPL).
uint32_t guest_digest() {
  Digest d("guest");
  const F fields[] = {F::GUEST_RSP, F::GUEST_RFLAGS, F::GUEST_CR0, F::GUEST_CR3, F::GUEST_CR4, F::GUEST_DR7,
                      F::GUEST_IA32_DEBUGCTL, F::GUEST_SYSENTER_CS, F::GUEST_SYSENTER_ESP, F::GUEST_SYSENTER_EIP,
                      F::GUEST_IA32_EFER, F::GUEST_IA32_PAT, F::GUEST_GDTR_BASE, F::GUEST_GDTR_LIMIT,
                      F::GUEST_IDTR_BASE, F::GUEST_IDTR_LIMIT, F::GUEST_INTERRUPTIBILITY_INFO,
                      F::GUEST_ACTIVITY_STATE, F::GUEST_PENDING_DBG_EXCEPTIONS, F::VM_ENTRY_CONTROLS,
                      F::VM_ENTRY_INTR_INFO_FIELD};
  for (F f : fields) d.add(vmcs_field_name(f), vmx::read(f));
  const F segs[][4] = {
      {F::GUEST_ES_SELECTOR, F::GUEST_ES_BASE, F::GUEST_ES_LIMIT, F::GUEST_ES_AR_BYTES},
      {F::GUEST_CS_SELECTOR, F::GUEST_CS_BASE, F::GUEST_CS_LIMIT, F::GUEST_CS_AR_BYTES},
      {F::GUEST_SS_SELECTOR, F::GUEST_SS_BASE, F::GUEST_SS_LIMIT, F::GUEST_SS_AR_BYTES},
      {F::GUEST_DS_SELECTOR, F::GUEST_DS_BASE, F::GUEST_DS_LIMIT, F::GUEST_DS_AR_BYTES},
      {F::GUEST_FS_SELECTOR, F::GUEST_FS_BASE, F::GUEST_FS_LIMIT, F::GUEST_FS_AR_BYTES},
      {F::GUEST_GS_SELECTOR, F::GUEST_GS_BASE, F::GUEST_GS_LIMIT, F::GUEST_GS_AR_BYTES},
      {F::GUEST_LDTR_SELECTOR, F::GUEST_LDTR_BASE, F::GUEST_LDTR_LIMIT, F::GUEST_LDTR_AR_BYTES},
      {F::GUEST_TR_SELECTOR, F::GUEST_TR_BASE, F::GUEST_TR_LIMIT, F::GUEST_TR_AR_BYTES},
  };
  for (const auto& s : segs) {
    const uint64_t ar = vmx::read(s[3]);
    d.add(vmcs_field_name(s[0]), vmx::read(s[0]));
    if (ar & arch::seg::ar::UNUSABLE) {
      d.add(vmcs_field_name(s[3]), ar & (arch::seg::ar::UNUSABLE | (s[0] == F::GUEST_SS_SELECTOR ? arch::seg::ar::DPL_MASK : 0)));
      continue;
    }
    d.add(vmcs_field_name(s[1]), vmx::read(s[1]));
    d.add(vmcs_field_name(s[2]), vmx::read(s[2]));
    d.add(vmcs_field_name(s[3]), ar);
  }
  static const char* const gpr_names[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                            "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};
  for (unsigned i = 0; i < 16; i++)
    if (i != vmx::RSP) d.add(gpr_names[i], regs.gpr[i]);
  d.add_page("stack", world.stack);
  d.add_page("gdt", world.gdt);
  d.add_page("guest PML4", world.gpml4);
  d.add_page("guest PDPT", world.gpdpt);
  d.add_page("guest PD", world.gpd);
  d.add_page("guest PT", world.gpt);
  d.add_page("EPT PML4", world.epml4);
  d.add_page("EPT PDPT", world.epdpt);
  d.add_page("EPT PD", world.epd);
  d.add_page("EPT PT", world.ept);
  const uint64_t count = vmx::read(F::VM_EXIT_MSR_STORE_COUNT), addr = vmx::read(F::VM_EXIT_MSR_STORE_ADDR);
  if (count && count <= MSR_AREA_ENTRIES && addr >= msr_areas.exit_store &&
      addr + 16 * count <= msr_areas.exit_store + MSR_AREA_PAGES * 4096ull) {
    const auto* e = reinterpret_cast<const MsrEntry*>(addr);
    for (uint64_t i = 0; i < count; i++) d.add("MSR-store value", e[i].value);
  }
  return d.value();
}

}  // namespace

void launch_and_describe(Line& L, bool resume) {
  memset(&regs, 0, sizeof regs);
  const vmx::EnterResult result = vmx::enter(regs, resume);
  const HostSnap after = capture_host();
  repair_host();
  switch (result) {
    case vmx::EnterResult::FailInvalid: L.s("VMfailInvalid"); return;
    case vmx::EnterResult::FailValid: L.s("VMfailValid ").u(vmx::instruction_error()); return;
    case vmx::EnterResult::NoEntry: L.s("no VM entry and no VMfail"); return;
    case vmx::EnterResult::VmExit: break;
  }
  const uint32_t reason = uint32_t(vmx::read(F::VM_EXIT_REASON));
  const uint64_t qual = vmx::read(F::EXIT_QUALIFICATION);
  if (exit_reason_is_entry_failure(reason)) {
    // SDM 26.8: the reason and qualification; host state loaded.
    L.s("entry-fail ").x(reason).s(" qual ").x(qual).s(" host ").x(host_digest(after));
    return;
  }
  const uint32_t basic = reason & 0xffff;
  const uint32_t intr = uint32_t(vmx::read(F::VM_EXIT_INTR_INFO));
  const uint32_t idt = uint32_t(vmx::read(F::IDT_VECTORING_INFO_FIELD));
  L.s("exit ").x(reason).s(" qual ").x(qual);
  if (intr_info::VALID.test(intr)) {
    L.s(" intr ").x(intr);
    if (intr_info::ERROR_CODE_VALID.test(intr)) L.s(" err ").x(vmx::read(F::VM_EXIT_INTR_ERROR_CODE));
  }
  if (intr_info::VALID.test(idt)) {
    L.s(" idt ").x(idt);
    if (intr_info::ERROR_CODE_VALID.test(idt)) L.s(" idt-err ").x(vmx::read(F::IDT_VECTORING_ERROR_CODE));
  }
  if (instruction_length_defined(basic, intr, idt)) L.s(" len ").u(vmx::read(F::VM_EXIT_INSTRUCTION_LEN));
  if (basic == uint32_t(ExitReason::EPT_VIOLATION) || basic == uint32_t(ExitReason::EPT_MISCONFIG))
    L.s(" gpa ").x(vmx::read(F::GUEST_PHYSICAL_ADDRESS));
  if (basic == uint32_t(ExitReason::EPT_VIOLATION) && qual_ept_violation::GLA_VALID.test(qual))
    L.s(" gla ").x(vmx::read(F::GUEST_LINEAR_ADDRESS));
  L.s(" rip ").x(vmx::read(F::GUEST_RIP));
  L.s(" guest ").x(guest_digest()).s(" host ").x(host_digest(after));
}

namespace {

// ---- Mutations --------------------------------------------------------------------------------

// Fields the mutations pick from: every field but the read-only ones and
// HOST_RSP (enter() writes it). Half of the picks come from the fields
// the good VMCS actually uses.
uint32_t mutable_fields[kVmcsFieldCount];
unsigned mutable_count = 0;
uint32_t hot_fields[kVmcsFieldCount];
unsigned hot_count = 0;

bool is_hot(uint32_t enc) {
  const VmcsType t = vmcs_field_type(enc);
  if (t == VmcsType::GUEST || t == VmcsType::HOST) return true;
  const F hot_controls[] = {F::PIN_BASED_VM_EXEC_CONTROL, F::CPU_BASED_VM_EXEC_CONTROL, F::SECONDARY_VM_EXEC_CONTROL,
                            F::VM_EXIT_CONTROLS, F::VM_ENTRY_CONTROLS, F::EXCEPTION_BITMAP,
                            F::PAGE_FAULT_ERROR_CODE_MASK, F::PAGE_FAULT_ERROR_CODE_MATCH, F::CR3_TARGET_COUNT,
                            F::VM_EXIT_MSR_STORE_COUNT, F::VM_EXIT_MSR_LOAD_COUNT, F::VM_ENTRY_MSR_LOAD_COUNT,
                            F::VM_EXIT_MSR_STORE_ADDR, F::VM_EXIT_MSR_LOAD_ADDR, F::VM_ENTRY_MSR_LOAD_ADDR,
                            F::VM_ENTRY_INTR_INFO_FIELD, F::VM_ENTRY_EXCEPTION_ERROR_CODE,
                            F::VM_ENTRY_INSTRUCTION_LEN, F::EPT_POINTER, F::VIRTUAL_PROCESSOR_ID, F::IO_BITMAP_A,
                            F::IO_BITMAP_B, F::MSR_BITMAP, F::CR0_GUEST_HOST_MASK, F::CR4_GUEST_HOST_MASK,
                            F::CR0_READ_SHADOW, F::CR4_READ_SHADOW, F::TSC_OFFSET};
  for (F f : hot_controls)
    if (uint32_t(f) == enc) return true;
  return false;
}

void init_field_lists() {
  for (const VmcsFieldInfo& f : kVmcsFields) {
    if (f.type == VmcsType::EXIT_INFO || f.encoding == uint32_t(F::HOST_RSP)) continue;
    mutable_fields[mutable_count++] = f.encoding;
    if (is_hot(f.encoding)) hot_fields[hot_count++] = f.encoding;
  }
}

// Avoided control bits, per control word (cmdline avoid-<word>=MASK).
struct Avoid {
  F field;
  const char* word;
  uint32_t mask;
} avoid[] = {
    {F::PIN_BASED_VM_EXEC_CONTROL, "pin", 0},  {F::CPU_BASED_VM_EXEC_CONTROL, "proc", 0},
    {F::SECONDARY_VM_EXEC_CONTROL, "proc2", 0}, {F::VM_EXIT_CONTROLS, "exit", 0},
    {F::VM_ENTRY_CONTROLS, "entry", 0},
};

void mutate(Rng& r, Line& L) {
  const bool hot = r.below(2) == 0;
  uint32_t enc = hot ? hot_fields[r.below(hot_count)] : mutable_fields[r.below(mutable_count)];
  const VmcsWidth width = vmcs_field_width(enc);
  unsigned bits = width_bits(width);
  // A 64-bit field through its HIGH encoding now and then (SDM 24.11.2).
  if (width == VmcsWidth::BITS64 && r.below(8) == 0) {
    enc |= 1;
    bits = 32;
  }
  const uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
  uint64_t value;
  const char* name = vmcs_field_name(enc);
  L.s(" ").s(name ? name : "?");
  if (enc == uint32_t(F::HOST_RIP)) {
    // Only values the checks refuse: a non-canonical RIP (SDM 26.2.4).
    value = r.next();
    if (arch::is_canonical(value)) value ^= 1ull << 62;
    L.s("=").x(value);
  } else if (enc == uint32_t(F::HOST_CR3)) {
    // Only values the checks refuse: a bit beyond the physical-address width.
    value = vmx::read(F::HOST_CR3) | (1ull << (maxphyaddr + r.below(64 - maxphyaddr)));
    L.s("=").x(value);
  } else {
    uint64_t current = 0;
    vmx::vmread(enc, current);
    const unsigned kind = unsigned(r.below(8));
    if (kind < 4) {
      const unsigned bit = unsigned(r.below(bits));
      value = current ^ (1ull << bit);
      L.s("^").u(bit);
    } else if (kind < 6) {
      value = r.next() & mask;
      L.s("=").x(value);
    } else {
      const uint64_t interesting[] = {0,
                                      ~0ull,
                                      1,
                                      0x10,
                                      0xfff,
                                      0x1000,
                                      0x80000000ull,
                                      0x8000000000000000ull,
                                      0x0000800000000000ull,
                                      0xffff800000000000ull,
                                      1ull << maxphyaddr,
                                      current + 0x1000,
                                      current - 8};
      value = interesting[r.below(sizeof interesting / sizeof interesting[0])] & mask;
      L.s("=").x(value);
    }
  }
  vmx::vmwrite(enc, value);
  for (const Avoid& a : avoid) {
    if (!a.mask || (enc & ~1u) != uint32_t(a.field)) continue;
    const uint64_t v = vmx::read(a.field);
    if (v & a.mask) vmx::vmwrite(a.field, v & ~uint64_t(a.mask));
  }
}

// ---- SKIP RULES: variants not run -----------------------------------------------------------------
// nullptr: run it. Otherwise why not: the variant would reach memory
// outside the harness's areas, halt the processor for good, or depend on
// what the SDM leaves to the implementation.
const char* skip_reason() {
  const uint64_t pin = vmx::read(F::PIN_BASED_VM_EXEC_CONTROL);
  const uint64_t max_list = vmx_misc_max_msr_list(caps.misc);
  const struct {
    F count, addr;
    uint64_t area;
  } lists[] = {
      {F::VM_ENTRY_MSR_LOAD_COUNT, F::VM_ENTRY_MSR_LOAD_ADDR, msr_areas.entry_load},
      {F::VM_EXIT_MSR_STORE_COUNT, F::VM_EXIT_MSR_STORE_ADDR, msr_areas.exit_store},
      {F::VM_EXIT_MSR_LOAD_COUNT, F::VM_EXIT_MSR_LOAD_ADDR, msr_areas.exit_load},
  };
  for (const auto& l : lists) {
    const uint64_t count = vmx::read(l.count), addr = vmx::read(l.addr);
    // SDM A.6: past 512 * (N + 1) entries "undefined processor behavior may result".
    if (count > max_list) return "MSR-list count above IA32_VMX_MISC's maximum (undefined, SDM A.6)";
    if (!count) continue;
    const bool checks_refuse = (addr & 15) || (addr >> maxphyaddr) || ((addr + 16 * count - 1) >> maxphyaddr);
    const bool inside = addr >= l.area && addr + 16 * count <= l.area + MSR_AREA_PAGES * 4096ull;
    if (!checks_refuse && !inside) return "MSR list outside the harness's list area";
  }
  const bool timer = pin & pin_ctl::PREEMPTION_TIMER;
  const uint64_t activity = vmx::read(F::GUEST_ACTIVITY_STATE);
  if (activity == activity_state::HLT && !timer) return "HLT activity state without the preemption timer";
  const uint64_t timer_value = uint32_t(vmx::read(F::VMX_PREEMPTION_TIMER_VALUE));
  // The timer counts TSC bit X transitions (SDM 25.5.1): where a small
  // value expires within a running guest depends on the TSC at entry.
  if (timer && activity == activity_state::ACTIVE && timer_value > 0 && timer_value < 16)
    return "preemption-timer value 1..15 with an active guest (expiry depends on the TSC)";
  return nullptr;
}

uint64_t skipped_cases = 0;

void run_case(uint64_t seed, uint64_t n) {
  Rng r = case_rng(seed, n);
  fresh_state();
  Line L;
  L.s("case ").u(n);
  const bool resume = r.below(4) == 0;
  if (resume) {
    // Launch the good state first; the mutations then meet a launched VMCS.
    Line first;
    launch_and_describe(first, false);
    if (uint32_t(vmx::read(F::VM_EXIT_REASON)) != uint32_t(ExitReason::VMCALL)) {
      L.s(" launch of the good state: ").s(first.text());
      L.emit();
      return;
    }
    L.s(" resume");
  }
  L.s(":");
  const unsigned count = 1 + unsigned(r.below(3));
  for (unsigned i = 0; i < count; i++) mutate(r, L);
  L.s(" -> ");
  if (const char* why = skip_reason()) {
    skipped_cases++;
    L.s("skipped: ").s(why);
    L.emit();
    return;
  }
  launch_and_describe(L, resume);
  L.emit();
}

// A whole word as a number (runtime/cmdline.h: decimal or 0x hex, no overflow).
bool parse_number(const char* p, const char* end, uint64_t& out) {
  return rt::parse_number(p, end, out) == rt::Parse::Number;
}

bool word_is(const char* p, const char* end, const char* w) {
  const unsigned n = unsigned(strlen(w));
  return unsigned(end - p) >= n && memcmp(p, w, n) == 0;
}

const char* skip_words[32];
unsigned skip_word_count = 0;
const char* only_words[32];
unsigned only_word_count = 0;

bool in_words(const char* const* words, unsigned count, const char* name) {
  const unsigned n = unsigned(strlen(name));
  for (unsigned i = 0; i < count; i++)
    if (memcmp(words[i], name, n) == 0 && (words[i][n] == ' ' || words[i][n] == 0)) return true;
  return false;
}

struct Options {
  uint64_t cases = 3000, seed = 1, first = 0;
  bool classes = true;
};

bool parse_options(const char* cmdline, Options& o) {
  const char* p = cmdline;
  unsigned numbers = 0;
  bool first_word = true;
  while (*p) {
    while (*p == ' ') p++;
    const char* w = p;
    while (*p && *p != ' ') p++;
    if (w == p) break;
    if (first_word) {  // the image's name
      first_word = false;
      continue;
    }
    uint64_t v;
    if (parse_number(w, p, v)) {
      if (numbers == 0) o.cases = v;
      else if (numbers == 1) o.seed = v;
      else return false;
      numbers++;
    } else if (word_is(w, p, "first=") && parse_number(w + 6, p, v)) {
      o.first = v;
    } else if (unsigned(p - w) == 7 && word_is(w, p, "verbose")) {
      verbose = true;
    } else if (unsigned(p - w) == 9 && word_is(w, p, "noclasses")) {
      o.classes = false;
    } else if (word_is(w, p, "skip=") && skip_word_count < 32) {
      skip_words[skip_word_count++] = w + 5;
    } else if (word_is(w, p, "only=") && only_word_count < 32) {
      only_words[only_word_count++] = w + 5;
    } else {
      bool matched = false;
      for (Avoid& a : avoid) {
        char key[16] = "avoid-";
        memcpy(key + 6, a.word, strlen(a.word) + 1);
        const unsigned n = unsigned(strlen(key));
        if (word_is(w, p, key) && w[n] == '=' && parse_number(w + n + 1, p, v)) {
          a.mask = uint32_t(v);
          matched = true;
        }
      }
      if (!matched) return false;
    }
  }
  return true;
}

}  // namespace

bool class_skipped(const char* name) { return in_words(skip_words, skip_word_count, name); }
bool class_selected(const char* name) { return !only_word_count || in_words(only_words, only_word_count, name); }

}  // namespace fuzz

int kmain(const rt::BootInfo& boot) {
  using namespace fuzz;
  Options o;
  if (!parse_options(boot.cmdline, o)) {
    rt::printf("vmx-fuzz: usage: vmx-fuzz [CASES] [SEED] [first=N] [verbose] [noclasses] [skip=CLASS]... [only=CLASS]... [avoid-WORD=MASK]... "
               "(WORD: pin proc proc2 exit entry); cmdline '%s'\n",
               boot.cmdline);
    return rt::EXIT_USAGE;
  }
  if (const int code = selftest::harness_start("vmx-fuzz"); code >= 0) return code;
  selftest::begin_test("vmx-fuzz");
  // Firmware's job (SDM 23.7): lock IA32_FEATURE_CONTROL with VMX allowed
  // outside SMX if nobody has (the sim starts unlocked, as at reset).
  const uint64_t fc = rt::rdmsr(arch::msr::IA32_FEATURE_CONTROL);
  if (!(fc & arch::msr::FEATURE_CONTROL_LOCK))
    rt::wrmsr(arch::msr::IA32_FEATURE_CONTROL,
              fc | arch::msr::FEATURE_CONTROL_LOCK | arch::msr::FEATURE_CONTROL_VMX_OUTSIDE_SMX);
  if (!selftest::vmx_usable()) {
    rt::printf("vmx-fuzz: VMX disabled by IA32_FEATURE_CONTROL (0x%lx)\n", rt::rdmsr(arch::msr::IA32_FEATURE_CONTROL));
    return selftest::EXIT_VMX_UNAVAILABLE;
  }
  maxphyaddr = rt::cpuid(0x80000008).eax & 0xff;
  if (!allocate_world()) {
    rt::printf("vmx-fuzz: not enough memory for the guest's world\n");
    return rt::EXIT_NO_MEMORY;
  }
  init_field_lists();
  {
    Line L;
    L.s("vmx-fuzz: seed ").u(o.seed).s(", cases ").u(o.first).s("..").u(o.first + o.cases);
    for (const Avoid& a : avoid)
      if (a.mask) L.s(", avoid-").s(a.word).s(" ").x(a.mask);
    L.emit();
  }
  // The host state every exit must be repaired back to (in VMX operation:
  // CR4.VMXE and CR0's fixed bits as vmx_on() sets them).
  rt::write_cr4(selftest::baseline_cr4 | caps.cr4_fixed0);
  good_host = capture_host();
  if (!build_good_vmcs()) {
    rt::printf("vmx-fuzz: could not build the good VMCS\n");
    return rt::EXIT_FAILURE;
  }
  good_host = capture_host();
  {
    fresh_state();
    Line L;
    L.s("good: ");
    launch_and_describe(L, false);
    L.emit();
    if (uint32_t(vmx::read(F::VM_EXIT_REASON)) != uint32_t(arch::vmx::ExitReason::VMCALL) ||
        vmx::read(F::GUEST_RIP) != world.code) {
      rt::printf("vmx-fuzz: the good VMCS does not run to its VMCALL\n");
      return rt::EXIT_FAILURE;
    }
  }
  if (o.classes) run_classes();
  for (uint64_t n = o.first; n < o.first + o.cases; n++) run_case(o.seed, n);
  const uint64_t hash = output_hash();
  rt::printf("vmx-fuzz: %lu cases, %lu skipped, hash 0x%016lx\n", o.cases, skipped_cases, hash);
  return rt::EXIT_OK;
}
