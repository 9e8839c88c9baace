// A small machine around the sim engine's CPU for unit and system tests:
// guest RAM, the platform devices, the default cost model and one sim::Cpu,
// plus builders for the structures a test needs before its first
// instruction — 4-level page tables, a GDT with kernel and user segments,
// a TSS, an IDT whose every vector points at a HLT stub — and the 32-bit
// protected-mode variant the Multiboot entry gives.
//
// A test writes code into guest memory (load_code), sets registers and
// RFLAGS in cpu.state(), and calls run(). With RFLAGS.IF = 0, HLT ends the
// run with CpuStop::Halted; an exception whose handler is still the
// default stub ends it the same way, and stub_vector() tells which vector
// was delivered (its frame is at RSP).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "l0/devices/platform_devices.h"
#include "l0/machine/guest_memory.h"
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {

// Guest-physical layout (all of it identity-mapped in long mode).
namespace sim_layout {
inline constexpr uint64_t GDT = 0x1000;
inline constexpr uint64_t IDT = 0x2000;  // 256 gates: 4 KiB in long mode, 2 KiB in protected mode
inline constexpr uint64_t TSS = 0x3000;
inline constexpr uint64_t STUBS = 0x4000;  // vector v's default handler: HLT at STUBS + 16 * v
inline constexpr uint64_t STUB_STRIDE = 16;
inline constexpr uint64_t TABLES = 0x10000;  // page tables, bump-allocated
inline constexpr uint64_t TABLES_END = 0x80000;
inline constexpr uint64_t STACK_TOP = 0x90000;       // RSP at the start of a test (CPL 0)
inline constexpr uint64_t RSP0_TOP = 0xa0000;        // TSS.RSP0 / ESP0
inline constexpr uint64_t IST1_TOP = 0xb0000;        // TSS.IST1
inline constexpr uint64_t USER_STACK_TOP = 0xc0000;  // for tests that drop to CPL 3
inline constexpr uint64_t CODE = 0x100000;           // RIP at the start of a test
inline constexpr uint64_t HANDLERS = 0x180000;       // room for tests' own handlers
inline constexpr uint64_t DATA = 0x200000;
inline constexpr uint64_t SCRATCH = 0x400000;  // physical pages tests map where they like
// Real mode (setup_real_mode): CS = SS = 0, IVT at 0, IP = REAL_CODE, SP = REAL_STACK_TOP.
inline constexpr uint64_t REAL_CODE = 0x7c00;
inline constexpr uint64_t REAL_STACK_TOP = 0x7000;
}  // namespace sim_layout

// GDT selectors. Long mode: 0x08 64-bit kernel code, 0x10 kernel data,
// 0x18 32-bit user code, 0x20 user data, 0x28 64-bit user code (the
// SYSRET layout), 0x30 the 16-byte TSS descriptor. Protected mode: the same
// numbers with 32-bit code segments and a 32-bit TSS.
namespace sel {
inline constexpr uint16_t KCODE = 0x08;
inline constexpr uint16_t KDATA = 0x10;
inline constexpr uint16_t UCODE32 = 0x18 | 3;
inline constexpr uint16_t UDATA = 0x20 | 3;
inline constexpr uint16_t UCODE64 = 0x28 | 3;
inline constexpr uint16_t TSS = 0x30;
// The GDT of setup_real_mode: 0x08 and 0x10 as in protected mode (flat
// 32-bit code and data), then 16-bit code and data with base 0, limit FFFFH.
inline constexpr uint16_t CODE16 = 0x18;
inline constexpr uint16_t DATA16 = 0x20;
}  // namespace sel

// A code/data or system descriptor (SDM 3.4.5) from access rights in the
// VMX layout the CPU state uses (type, S, DPL, P in bits 7:0; AVL, L, D/B,
// G in bits 15:12).
inline uint64_t segment_descriptor(uint32_t base, uint32_t limit_raw, uint32_t ar) {
  return (limit_raw & 0xffff) | (uint64_t(base & 0xffffff) << 16) | (uint64_t(ar & 0xff) << 40) |
         (uint64_t((limit_raw >> 16) & 0xf) << 48) | (uint64_t((ar >> 12) & 0xf) << 52) | (uint64_t(base >> 24) << 56);
}

// IDT gate types (SDM tables 3-2, 6-2).
enum class GateType : uint8_t { Interrupt = 0xe, Trap = 0xf };

class SimMachine {
  std::FILE* console_;  // first: the devices write to it

 public:
  static constexpr uint64_t kDefaultRam = 16ull << 20;

  explicit SimMachine(uint64_t ram_size = kDefaultRam)
      : console_(std::tmpfile()), mem(ram_size), dev(PlatformConfig{ram_size, 1, console_ ? console_ : stderr}),
        cpu(mem, dev, costs) {}
  ~SimMachine() {
    if (console_) std::fclose(console_);
  }
  SimMachine(const SimMachine&) = delete;
  SimMachine& operator=(const SimMachine&) = delete;

  GuestMemory mem;
  PlatformDevices dev;
  sim::CostModel costs;
  sim::Cpu cpu;
  uint64_t cr3 = 0;  // root of the page tables setup_long_mode() built

  sim::CpuState& s() { return cpu.state(); }
  uint64_t& reg(unsigned r) { return cpu.state().r[r]; }
  uint64_t& rip() { return cpu.state().r[sim::REG_RIP]; }

  // ------------------------------------------------------------ memory
  template <typename T>
  T peek(uint64_t pa) const {
    return mem.read_obj<T>(pa);
  }
  // Data writes straight into RAM (the CPU does not see them as stores).
  template <typename T>
  void poke(uint64_t pa, T v) {
    mem.write_obj(pa, v);
  }
  // Code: written through the CPU's physical-write path, so blocks decoded
  // from an earlier test's bytes at the same address are dropped.
  void load_code(uint64_t pa, const std::vector<uint8_t>& code) {
    for (size_t k = 0; k < code.size(); ++k) cpu.phys_write(pa + k, 1, code[k]);
  }
  void load_code(const Asm& a) { load_code(a.origin, a.bytes); }

  // ------------------------------------------------------- page tables
  uint64_t alloc_table() {
    if (next_table_ + 0x1000 > sim_layout::TABLES_END) throw std::runtime_error("sim harness: out of page-table pages");
    const uint64_t pa = next_table_;
    next_table_ += 0x1000;
    static const uint8_t zero[0x1000] = {};
    mem.write(pa, zero, sizeof zero);
    return pa;
  }

  // Maps `la` to `pa` with a leaf at `leaf_level` (1: 4 KiB PTE, 2: 2 MiB
  // PDE, 3: 1 GiB PDPTE; SDM 4.5). Missing tables are created with
  // P|RW|US so the leaf's flags decide. `flags` must include P to map.
  void map(uint64_t la, uint64_t pa, uint64_t flags, int leaf_level = 1) {
    namespace pte = arch::pte;
    uint64_t table = cr3 & pte::ADDR_MASK;
    for (int level = 4; level > leaf_level; --level) {
      const uint64_t epa = table + pte::index(la, level) * 8;
      uint64_t e = peek<uint64_t>(epa);
      if (!(e & pte::P)) {
        e = alloc_table() | pte::P | pte::RW | pte::US;
        poke(epa, e);
      } else if (e & pte::PS) {
        throw std::logic_error("sim harness: map() under a large page");
      }
      table = e & pte::ADDR_MASK;
    }
    poke(table + pte::index(la, leaf_level) * 8, (pa & pte::ADDR_MASK) | flags | (leaf_level > 1 ? pte::PS : 0));
  }
  // Physical address of the paging-structure entry for `la` at `level`.
  uint64_t entry_pa(uint64_t la, int level) const {
    namespace pte = arch::pte;
    uint64_t table = cr3 & pte::ADDR_MASK;
    for (int l = 4; l > level; --l) {
      const uint64_t e = peek<uint64_t>(table + pte::index(la, l) * 8);
      if (!(e & pte::P) || (e & pte::PS)) throw std::logic_error("sim harness: no such paging entry");
      table = e & pte::ADDR_MASK;
    }
    return table + pte::index(la, level) * 8;
  }
  uint64_t entry(uint64_t la, int level) const { return peek<uint64_t>(entry_pa(la, level)); }
  void set_entry(uint64_t la, int level, uint64_t v) { poke(entry_pa(la, level), v); }

  // ------------------------------------------------------ long mode
  // 64-bit mode at CPL 0: RAM identity-mapped with 2 MiB pages (P|RW|US),
  // the xAPIC page mapped uncached, GDT/TSS/IDT loaded, every vector an
  // interrupt gate to its HLT stub, RSP = STACK_TOP, RIP = CODE, RFLAGS =
  // 2 (IF = 0).
  void setup_long_mode() {
    namespace pte = arch::pte;
    namespace ar = arch::seg::ar;
    next_table_ = sim_layout::TABLES;
    cr3 = alloc_table();
    for (uint64_t a = 0; a < mem.size(); a += pte::LARGE_PAGE_SIZE) map(a, a, pte::P | pte::RW | pte::US, 2);
    map(0xfee00000, 0xfee00000, pte::P | pte::RW | pte::PWT | pte::PCD, 1);

    const uint32_t code64 = ar::P | ar::S | ar::L | ar::G | 0xb, data = ar::P | ar::S | ar::DB | ar::G | 0x3;
    const uint32_t code32 = ar::P | ar::S | ar::DB | ar::G | 0xb, dpl3 = 3u << ar::DPL_SHIFT;
    const uint64_t gdt[8] = {0,
                             segment_descriptor(0, 0xfffff, code64),
                             segment_descriptor(0, 0xfffff, data),
                             segment_descriptor(0, 0xfffff, code32 | dpl3),
                             segment_descriptor(0, 0xfffff, data | dpl3),
                             segment_descriptor(0, 0xfffff, code64 | dpl3),
                             segment_descriptor(uint32_t(sim_layout::TSS), 0x67, ar::P | 0xb),  // 64-bit TSS, busy
                             sim_layout::TSS >> 32};
    mem.write(sim_layout::GDT, gdt, sizeof gdt);
    uint8_t tss[0x68] = {};
    put64(tss, 4, sim_layout::RSP0_TOP);
    put64(tss, 0x24, sim_layout::IST1_TOP);
    put16(tss, 0x66, 0x68);  // no I/O permission bitmap
    mem.write(sim_layout::TSS, tss, sizeof tss);
    write_stubs();
    for (unsigned v = 0; v < 256; ++v) set_gate64(uint8_t(v), stub(uint8_t(v)));
    enter_long_mode();
  }

  // Resets the CPU (a halted CPU included) to the start state of
  // setup_long_mode() over the tables it built.
  void enter_long_mode() {
    namespace ar = arch::seg::ar;
    cpu.reset_to_multiboot(uint32_t(sim_layout::CODE), 0, 0);  // clears a pending HLT and all state
    cpu.enter_long_mode_flat(cr3);
    sim::CpuState& st = s();
    st.gdtr = {sim_layout::GDT, 8 * 8 - 1};
    st.idtr = {sim_layout::IDT, 256 * 16 - 1};
    st.tr = sim::Segment{sel::TSS, sim_layout::TSS, 0x67, ar::P | 0xb};
    st.ldtr = sim::Segment{0, 0, 0, ar::UNUSABLE};
    st.r[sim::RSP] = sim_layout::STACK_TOP;
    st.rflags = arch::rflags::FIXED1;
    st.rip() = sim_layout::CODE;
  }

  // A 64-bit IDT gate (SDM 6.14.1, figure 6-8).
  void set_gate64(uint8_t vector, uint64_t handler, GateType type = GateType::Interrupt, unsigned dpl = 0,
                  unsigned ist = 0, bool present = true, uint16_t selector = sel::KCODE) {
    const uint64_t lo = (handler & 0xffff) | (uint64_t(selector) << 16) | (uint64_t(ist & 7) << 32) |
                        (uint64_t(type) << 40) | (uint64_t(dpl & 3) << 45) | (uint64_t(present) << 47) |
                        (((handler >> 16) & 0xffff) << 48);
    poke(sim_layout::IDT + vector * 16ull, lo);
    poke(sim_layout::IDT + vector * 16ull + 8, handler >> 32);
  }

  // ------------------------------------------------- protected mode
  // The Multiboot entry state (flat 32-bit protected mode, paging off,
  // IF = 0) with a GDT, a 32-bit TSS and a 32-bit IDT of interrupt gates to
  // the HLT stubs. ESP = STACK_TOP, EIP = CODE.
  void setup_protected_mode() {
    namespace ar = arch::seg::ar;
    cpu.reset_to_multiboot(uint32_t(sim_layout::CODE), 0x2badb002, 0);
    const uint32_t code32 = ar::P | ar::S | ar::DB | ar::G | 0xb, data = ar::P | ar::S | ar::DB | ar::G | 0x3;
    const uint32_t dpl3 = 3u << ar::DPL_SHIFT;
    const uint64_t gdt[7] = {0,
                             segment_descriptor(0, 0xfffff, code32),
                             segment_descriptor(0, 0xfffff, data),
                             segment_descriptor(0, 0xfffff, code32 | dpl3),
                             segment_descriptor(0, 0xfffff, data | dpl3),
                             0,
                             segment_descriptor(uint32_t(sim_layout::TSS), 0x67, ar::P | 0xb)};  // 32-bit TSS, busy
    mem.write(sim_layout::GDT, gdt, sizeof gdt);
    uint8_t tss[0x68] = {};
    put32(tss, 4, uint32_t(sim_layout::RSP0_TOP));
    put16(tss, 8, sel::KDATA);
    put16(tss, 0x66, 0x68);
    mem.write(sim_layout::TSS, tss, sizeof tss);
    write_stubs();
    for (unsigned v = 0; v < 256; ++v) set_gate32(uint8_t(v), uint32_t(stub(uint8_t(v))));
    sim::CpuState& st = s();
    st.gdtr = {sim_layout::GDT, uint16_t(sizeof gdt - 1)};
    st.idtr = {sim_layout::IDT, 256 * 8 - 1};
    st.tr = sim::Segment{sel::TSS, sim_layout::TSS, 0x67, ar::P | 0xb};
    st.r[sim::RSP] = sim_layout::STACK_TOP;
  }

  // A 32-bit interrupt or trap gate (SDM 6.11, figure 6-2).
  void set_gate32(uint8_t vector, uint32_t handler, GateType type = GateType::Interrupt, unsigned dpl = 0,
                  bool present = true, uint16_t selector = sel::KCODE) {
    const uint64_t g = (handler & 0xffff) | (uint64_t(selector) << 16) | (uint64_t(type) << 40) |
                       (uint64_t(dpl & 3) << 45) | (uint64_t(present) << 47) | (uint64_t(handler >> 16) << 48);
    poke(sim_layout::IDT + vector * 8ull, g);
  }

  // ------------------------------------------------------------ real mode
  // Real-address mode as after reset (SDM 9.1.1, table 9-1: every segment
  // present, read/write, accessed, limit FFFFH), here with selectors and
  // bases 0, CR0 = ET, IF = 0. The IVT at 0 (IDTR = {0, 3FFH}) points
  // every vector at its HLT stub (segment 0); GDTR holds the GDT of the
  // `sel` CODE16/DATA16 layout for tests that enter protected mode, and
  // the 32-bit IDT at IDT has interrupt gates to the stubs.
  // SP = REAL_STACK_TOP, IP = REAL_CODE.
  void setup_real_mode() {
    namespace ar = arch::seg::ar;
    cpu.reset_to_multiboot(uint32_t(sim_layout::REAL_CODE), 0, 0);
    const uint32_t code32 = ar::P | ar::S | ar::DB | ar::G | 0xb, data32 = ar::P | ar::S | ar::DB | ar::G | 0x3;
    const uint64_t gdt[5] = {0, segment_descriptor(0, 0xfffff, code32), segment_descriptor(0, 0xfffff, data32),
                             segment_descriptor(0, 0xffff, ar::P | ar::S | 0xb),
                             segment_descriptor(0, 0xffff, ar::P | ar::S | 0x3)};
    mem.write(sim_layout::GDT, gdt, sizeof gdt);
    write_stubs();
    for (unsigned v = 0; v < 256; ++v) {
      set_gate32(uint8_t(v), uint32_t(stub(uint8_t(v))));
      set_ivt(uint8_t(v), 0, uint16_t(stub(uint8_t(v))));
    }
    sim::CpuState& st = s();
    const uint32_t real_ar = ar::P | ar::S | ar::TYPE_WRITABLE | ar::TYPE_ACCESSED;
    for (unsigned i = 0; i < 6; ++i) st.seg[i] = sim::Segment{0, 0, 0xffff, real_ar};
    st.cr0 = arch::cr0::ET;
    st.gdtr = {sim_layout::GDT, uint16_t(sizeof gdt - 1)};
    st.idtr = {0, 0x3ff};
    st.r[sim::RSP] = sim_layout::REAL_STACK_TOP;
    cpu.recompute_mode();
    cpu.flush_tlb(true);
  }
  // A real-mode interrupt vector table entry (SDM 20.1.4): offset, segment.
  void set_ivt(uint8_t vector, uint16_t segment, uint16_t offset) {
    poke<uint32_t>(vector * 4ull, uint32_t(offset) | uint32_t(segment) << 16);
  }

  // ------------------------------------------------------------ running
  static uint64_t stub(uint8_t vector) { return sim_layout::STUBS + sim_layout::STUB_STRIDE * vector; }

  // Runs at most `max_instructions` more instructions.
  sim::CpuStop run(uint64_t max_instructions = 1000000) {
    return cpu.run(cpu.counters().instructions + max_instructions);
  }
  // The vector whose default stub the CPU halted in, or -1.
  int stub_vector() {
    const uint64_t at = rip() - 1;
    if (at < sim_layout::STUBS || at >= stub(255) + 1 || (at - sim_layout::STUBS) % sim_layout::STUB_STRIDE) return -1;
    return int((at - sim_layout::STUBS) / sim_layout::STUB_STRIDE);
  }
  // The stack at RSP, read through the identity map (RSP must be in RAM).
  uint64_t stack64(unsigned slot) { return peek<uint64_t>(reg(sim::RSP) + 8 * slot); }
  uint32_t stack32(unsigned slot) { return peek<uint32_t>(uint32_t(reg(sim::RSP)) + 4 * slot); }

 private:
  static void put16(uint8_t* p, unsigned off, uint16_t v) { std::memcpy(p + off, &v, 2); }
  static void put32(uint8_t* p, unsigned off, uint32_t v) { std::memcpy(p + off, &v, 4); }
  static void put64(uint8_t* p, unsigned off, uint64_t v) { std::memcpy(p + off, &v, 8); }
  void write_stubs() {
    // HLT; JMP back to it (a resumed run halts again).
    for (unsigned v = 0; v < 256; ++v) load_code(stub(uint8_t(v)), {0xf4, 0xeb, 0xfd});
  }

  uint64_t next_table_ = sim_layout::TABLES;
};

}  // namespace nestbed::testing
