// The sim engine's CPU: an interpreter for x86-64 (32-bit protected mode,
// compatibility mode and 64-bit mode) over blocks of pre-decoded
// instructions, with a software TLB giving host pointers for guest RAM.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "l0/devices/platform_devices.h"
#include "l0/machine/guest_memory.h"
#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/cpu_state.h"
#include "l0/sim/cpu/decoded_insn.h"
#include "l0/sim/cpu/guest_fault.h"
#include "l0/sim/cpu/lbr.h"
#include "l0/sim/mmu/ept_cache.h"
#include "l0/sim/zeroed_array.h"
#include "l0/sim/trace_hooks.h"

#define NB_LIKELY(x) __builtin_expect(!!(x), 1)
#define NB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NB_INLINE inline __attribute__((always_inline))

namespace nestbed::sim {

class Decoder;
struct Block;
namespace jit {
class CodeBuffer;
class Translator;
}  // namespace jit
namespace vmx {
class Vmx;
struct VmExitRequest;
}  // namespace vmx

enum class Access : uint8_t { Read = 0, Write = 1, Exec = 2 };

// Why run() returned.
enum class CpuStop : uint8_t { None, DebugExit, Halted, TripleFault, InstructionLimit };

// Decode mode: what Capstone is asked to decode.
enum class CpuMode : uint8_t { Bits16 = 0, Bits32 = 1, Bits64 = 2 };

struct CpuCounters {
  uint64_t instructions = 0;
  uint64_t exceptions = 0;
  uint64_t interrupts = 0;
  uint64_t blocks_decoded = 0;
  uint64_t code_invalidations = 0;
  uint64_t vm_exits = 0;    // VM exits and VM-entry failures
  uint64_t vm_entries = 0;  // successful VM entries
};

class Cpu : public Clock {
 public:
  Cpu(GuestMemory& memory, PlatformDevices& devices, const CostModel& costs);
  ~Cpu() override;
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  // Multiboot entry state (Multiboot spec 3.2).
  void reset_to_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx);
  // Puts the CPU in 64-bit mode at CPL 0 with flat segments and the given
  // CR3 (tests and tools; real guests get there by their own boot code).
  void enter_long_mode_flat(uint64_t cr3);

  // Runs until a stop condition. `max_instructions` caps the CPU's lifetime
  // count of retired instructions (counters().instructions); 0: no limit.
  CpuStop run(uint64_t max_instructions);
  std::string stop_message() const { return stop_message_; }

  // Block translation (l0/sim/jit/translator.h): on by default; a block of
  // 64-bit code runs translated once it has run `after_runs` times
  // interpreted. Off, every block is interpreted. Either way a run gives
  // the same state, cycles and counts.
  static constexpr uint32_t kTranslateAfter = 16;
  void set_translation(bool on, uint32_t after_runs = kTranslateAfter);
  bool translation() const { return jit_ != nullptr; }
  uint64_t blocks_translated() const { return blocks_translated_; }
  uint64_t loop_pairs_translated() const { return loop_pairs_translated_; }  // of them, loops of two

  CpuState& state() { return s_; }
  const CpuState& state() const { return s_; }
  const CpuCounters& counters() const { return counters_; }
  CpuCounters& counters() { return counters_; }
  // Modeled cycles and retired instructions so far. While a block runs on
  // the fast path (fast_entry_ set), cycles_ and counters_.instructions
  // lag: the entries before the current one in its block are added here
  // and retired together when the block ends (Cpu::execute_block).
  uint64_t cycles() const { return fast_entry_ ? cycles_ + fast_entry_->before_cost - folded_cost_ : cycles_; }
  uint64_t instructions() const {
    return fast_entry_ ? counters_.instructions + fast_entry_->before_count - folded_count_ : counters_.instructions;
  }
  uint64_t now() const override { return cycles(); }  // the APIC timer's clock

  // ---- used by the instruction handlers ----
  uint64_t& reg(unsigned i) { return s_.r[i]; }
  CpuMode mode() const { return mode_; }
  bool long_mode_64() const { return mode_ == CpuMode::Bits64; }

  // Effective address of the instruction's memory operand, then its linear
  // address (segment base and, outside 64-bit mode, limit checks).
  uint64_t effective_address(const DecodedInsn& i) const {
    uint64_t ea = s_.r[i.mem_base] + (s_.r[i.mem_index] << i.mem_scale) + uint64_t(i.disp);
    return i.addrsize == 8 ? ea : (i.addrsize == 4 ? uint32_t(ea) : uint16_t(ea));
  }
  NB_INLINE uint64_t linear(const DecodedInsn& i, unsigned size, Access a) {
    uint64_t ea = effective_address(i);
    if (NB_LIKELY(mode_ == CpuMode::Bits64)) return ea + s_.seg[i.mem_seg].base;
    return segment_linear(i.mem_seg, ea, size, a);
  }
  // The same for an instruction decoded in 64-bit mode with a 64-bit
  // address size: no limit checks, no wrap, a base only for FS and GS
  // (SDM 3.3.7). A block decoded in 64-bit mode only runs in 64-bit mode.
  NB_INLINE uint64_t linear64(const DecodedInsn& i) const {
    return s_.r[i.mem_base] + (s_.r[i.mem_index] << i.mem_scale) + uint64_t(i.disp) + s_.seg[i.mem_seg].base;
  }
  // linear64 of an operand with no index and no segment base (Form::MB).
  NB_INLINE uint64_t linear_base_disp(const DecodedInsn& i) const { return s_.r[i.mem_base] + uint64_t(i.disp); }
  __attribute__((noinline)) uint64_t segment_linear(unsigned seg, uint64_t ea, unsigned size, Access a);

  template <typename T>
  NB_INLINE T read(uint64_t la) {
    const TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
    if (NB_LIKELY(e.tag_r == ((la + sizeof(T) - 1) & ~0xfffull))) {
      T v;
      std::memcpy(&v, reinterpret_cast<const uint8_t*>(e.addend + la), sizeof(T));
      return v;
    }
    return T(read_slow(la, sizeof(T), Access::Read));
  }
  template <typename T>
  NB_INLINE void write(uint64_t la, T v) {
    const TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
    if (NB_LIKELY(e.tag_w == ((la + sizeof(T) - 1) & ~0xfffull))) {
      std::memcpy(reinterpret_cast<uint8_t*>(e.addend + la), &v, sizeof(T));
      return;
    }
    write_slow(la, sizeof(T), uint64_t(v));
  }
  // Host pointer for a read-modify-write of sizeof(T) bytes at la, or nullptr
  // (then use rmw_read/rmw_write): checks write permission first, as the
  // SDM reports a locked/RMW access to a read-only page as a write fault.
  template <typename T>
  T* rmw_ptr(uint64_t la) {
    const TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
    if (NB_LIKELY(e.tag_w == ((la + sizeof(T) - 1) & ~0xfffull) && e.tag_r == e.tag_w))
      return reinterpret_cast<T*>(e.addend + la);
    return nullptr;
  }
  uint64_t rmw_read(uint64_t la, unsigned size);  // translates for write, then reads
  // Host pointer to `len` bytes at la when they lie within one RAM page with
  // the given access allowed (string fast paths), else nullptr.
  uint8_t* host_span(uint64_t la, uint64_t len, Access a);

  // Stack (SS-relative, stack-address-size aware). In 64-bit mode a
  // non-canonical stack address is #SS(0), not #GP(0) (SDM vol. 2 PUSH,
  // POP, CALL, RET: "#SS(0) If a memory address referencing the SS segment
  // is in a non-canonical form"): checked where the TLB misses, as no
  // TLB entry holds a non-canonical page. The probe is read<T>/write<T>'s,
  // written out: sharing it through a helper that returns the host pointer
  // cost 1.7 % of sieve's host instructions (callgrind; the compiler must
  // then test the pointer for null too).
  template <typename T>
  void push(T v) {
    uint64_t rsp = s_.r[RSP] - sizeof(T);
    if (NB_LIKELY(mode_ == CpuMode::Bits64)) {
      const TlbEntry& e = tlb_[(rsp >> 12) & TLB_MASK];
      if (NB_LIKELY(e.tag_w == ((rsp + sizeof(T) - 1) & ~0xfffull)))
        std::memcpy(reinterpret_cast<uint8_t*>(e.addend + rsp), &v, sizeof(T));
      else
        write_slow(check_stack_canonical(rsp, sizeof(T)), sizeof(T), uint64_t(v));
      s_.r[RSP] = rsp;
    } else {
      push_legacy(uint64_t(v), sizeof(T));
    }
  }
  template <typename T>
  T pop() {
    if (NB_LIKELY(mode_ == CpuMode::Bits64)) {
      const uint64_t rsp = s_.r[RSP];
      const TlbEntry& e = tlb_[(rsp >> 12) & TLB_MASK];
      T v;
      if (NB_LIKELY(e.tag_r == ((rsp + sizeof(T) - 1) & ~0xfffull)))
        std::memcpy(&v, reinterpret_cast<const uint8_t*>(e.addend + rsp), sizeof(T));
      else
        v = T(read_slow(check_stack_canonical(rsp, sizeof(T)), sizeof(T), Access::Read));
      s_.r[RSP] = rsp + sizeof(T);
      return v;
    }
    return T(pop_legacy(sizeof(T)));
  }
  // `la`, or #SS(0) if a byte of [la, la + size) is non-canonical (64-bit mode).
  uint64_t check_stack_canonical(uint64_t la, unsigned size) const;
  void push_legacy(uint64_t v, unsigned size);
  uint64_t pop_legacy(unsigned size);
  uint64_t stack_pointer_mask() const;

  // Ends the current block after this instruction (state that decoding or
  // translation depends on has changed).
  void end_block() { exit_block_ = true; }

  // REP string instructions are interruptible between iterations (SDM
  // vol. 1 7.3.9.2, vol. 2 "REP"): how many more iterations this one may
  // run before it must stop, at least 1. One under the monitor trap flag
  // (SDM 25.5.2: the MTF VM exit follows the first iteration); otherwise
  // what is left of the run's instruction limit, each iteration of a
  // string instruction that stopped counting as an instruction would.
  uint64_t string_iteration_allowance() const;
  // Whether an event (interrupt, timer, VMX-preemption timer) is due, so
  // a string instruction should stop between iterations and let it in.
  // A data or I/O breakpoint hit ends it after the iteration too (the trap
  // is reported with RIP still on the instruction, SDM 18.3.1.2).
  bool event_due() const { return (!shadow_ && cycles() >= next_event_) || dbg_hits_; }
  // Stops the running string instruction after `iterations` iterations:
  // it is not retired, RIP stays on it and RCX/RSI/RDI show its progress,
  // so it resumes where it stopped once the run loop has done its work.
  void stop_string_instruction(uint64_t iterations);
  // Everything cached from the current translation regime is stale.
  void flush_tlb(bool include_global);
  void invlpg(uint64_t la);
  void recompute_mode();
  // Forces an event check (interrupts, APIC timer) at the next instruction
  // boundary: something may have made an event deliverable (an APIC write
  // that sent an IPI or an NMI, IF set), which the SDM recognizes before
  // the next instruction, not at the end of the block.
  void check_events_soon() {
    next_event_ = 0;
    exit_block_ = true;
  }
  uint64_t next_event() const { return next_event_; }

  // Loads a segment register from a selector with the checks of MOV/POP
  // Sreg (SDM vol. 2, MOV) or of a far transfer for CS.
  void load_segment(unsigned seg, uint16_t selector);
  void load_cs_for_far_transfer(uint16_t selector, bool is_call);
  // Real-address mode (CR0.PE = 0, SDM 20.1): CPL 0, no paging, segments
  // are selector << 4 with the limit and attributes they had.
  bool real_mode() const { return !(s_.cr0 & arch::cr0::PE); }
  // Virtual-8086 mode (EFLAGS.VM = 1, SDM 20.2): real-mode segments at CPL 3.
  bool v8086() const { return s_.rflags & arch::rflags::VM; }
  void load_segment_real(unsigned seg, uint16_t selector);
  uint64_t read_descriptor(uint16_t selector, uint32_t error_code);
  // The linear address of the descriptor `selector` names, false when it is
  // past the GDT's or LDT's limit or the LDT is unusable (read_descriptor's
  // #GP; LAR, LSL, VERR and VERW clear ZF instead).
  bool descriptor_address(uint16_t selector, uint64_t& la) const;
  // Loads CS for a return to `new_cpl` (IRET, RETF) after the checks of SDM vol. 2 IRET/RET.
  void load_cs_checked(uint16_t selector, unsigned new_cpl);
  // Implicit supervisor-mode accesses (descriptor tables, TSS, event frames; SDM 4.6).
  uint64_t read_system(uint64_t la, unsigned size);
  // The physical address of `la` as the TLB holds it for fetches or reads,
  // without a walk or any other effect (the trace's copy of an exiting
  // instruction's bytes, which the fetch has just translated): false when
  // the TLB holds no such entry.
  bool tlb_peek(uint64_t la, uint64_t* pa) const;
  void write_system(uint64_t la, unsigned size, uint64_t value, bool supervisor);
  // Reads at SS:sp honouring the stack-address size (IRET, RETF).
  uint64_t read_stack(uint64_t sp, unsigned size);
  void set_cpl(uint8_t cpl);

  // Control registers and MSRs with their architectural checks.
  void write_cr0(uint64_t v);
  void write_cr3(uint64_t v);
  void write_cr4(uint64_t v);
  void write_cr8(uint64_t v);
  // PAE paging without IA-32e mode (SDM 4.4)?
  bool pae_paging() const;
  // Reads the four PDPTEs at `cr3` (guest-physical under EPT); false if a
  // present one has reserved bits set (then MOV to CRn raises #GP, SDM 4.4.1).
  bool read_pdptes(uint64_t cr3, uint64_t out[4]);
  // Loads them into the processor, #GP(0) on reserved bits.
  void load_pdptes(uint64_t cr3);
  uint64_t read_cr8();
  uint64_t read_msr(uint32_t index);  // #GP for unknown MSRs
  void write_msr(uint32_t index, uint64_t value);
  uint64_t read_tsc() const { return cycles() + s_.tsc_offset; }

  // Port I/O through the shared device layer, with the I/O permission check.
  uint32_t io_in(uint16_t port, unsigned size);
  void io_out(uint16_t port, unsigned size, uint32_t value);
  void check_io_permission(uint16_t port, unsigned size);

  void halt();                      // HLT
  // The logical processor shuts down (VMX abort): the run ends like a triple fault.
  void shutdown(std::string why) { stop(CpuStop::TripleFault, std::move(why)); }
  // STI / MOV SS: block interrupts for one instruction (SDM 6.8.3).
  void interrupt_shadow(bool by_mov_ss = false);
  void software_interrupt(uint8_t vector, unsigned insn_len);  // INT n, INT3, INTO
  void iret(unsigned opsize);
  void far_return(unsigned opsize, uint16_t pop_bytes);
  struct ReturnFrame;
  void load_return_segments(uint16_t cs, unsigned new_cpl, bool load_ss, uint16_t ss, bool null_ss_allowed);
  void iret_real(unsigned opsize);
  void iret_to_v8086(ReturnFrame& frame, uint64_t new_ip, uint16_t new_cs, uint64_t new_flags);
  void return_real_mode(uint64_t new_ip, uint16_t new_cs, uint64_t new_sp, unsigned opsize);

  // Reports an instruction the CPU does not implement and raises #UD.
  [[noreturn]] void unimplemented(const DecodedInsn& i);

  // ---- debug exceptions (SDM vol. 3, chapter 18; debug.cpp) ----
  // DR0-DR3 or DR7 changed (MOV DR, VM entry and exit, reset): re-arms the
  // breakpoints. Pages a data breakpoint watches get no fast-path TLB tags,
  // so every access to them reaches the checks in the slow paths.
  void debug_registers_changed();
  // A data access of `size` bytes at `la` (slow paths only: see above).
  NB_INLINE void watch_data(uint64_t la, unsigned size, Access a) {
    if (NB_UNLIKELY(data_breakpoints_)) data_breakpoint_access(la, size, a);
  }
  // IN/OUT/INS/OUTS at `port` (I/O breakpoints, CR4.DE = 1).
  NB_INLINE void watch_io(uint16_t port, unsigned size) {
    if (NB_UNLIKELY(io_breakpoints_)) io_breakpoint_access(port, size);
  }
  // A fault-class #DB now (general detect): DR6 gets `dr6_bits`, or the
  // VM exit that intercepts it its exit qualification.
  [[noreturn]] void raise_debug_fault(uint64_t dr6_bits);
  // ICEBP (INT1, F1): a trap-like #DB, delivered as a privileged software
  // exception (SDM 24.8.3: interruption type 5; no gate DPL check).
  void icebp(unsigned insn_len);
  // Alignment checking (SDM 6.15, interrupt 17): CR0.AM, RFLAGS.AC and
  // CPL 3 make a misaligned data access #AC(0). Called wherever one of the
  // three changes; while it is on, no TLB entry has fast-path tags, so
  // every access reaches the check in the slow paths.
  void update_alignment_check();
  // IRET, SYSRET or VM entry loaded RFLAGS: RF stays as loaded after the
  // instruction instead of being cleared (SDM 18.3.1.1).
  void rflags_loaded() { rf_loaded_ = true; }
  // Debug traps pending at this instruction boundary, in the format of
  // the VMCS pending-debug-exceptions field (SDM 24.4.2): what a VM exit
  // saves there (then they are the VMM's), and what VM entry loads.
  uint64_t take_pending_debug_exceptions();
  void set_pending_debug_exceptions(uint64_t bits) { dbg_pending_ = bits; }

  // ---- VMX (l0/sim/vmx) ----
  vmx::Vmx& vmx() { return *vmx_; }
  bool non_root() const { return non_root_; }
  void set_non_root(bool v) { non_root_ = v; }
  // An instruction-caused VM exit (SDM 25.1.2): nothing of the instruction
  // is committed; the exit saves its RIP and length.
  [[noreturn]] void vm_exit_insn(const DecodedInsn& i, uint32_t reason, uint64_t qualification = 0,
                                 uint32_t insn_info = 0);
  // The same exit without unwinding the host stack (a C++ throw costs more
  // than the rest of a VM exit): for handlers that find the exit before any
  // side effect and return at once, as in `return c.vm_exit_pending(...)`.
  // The run loop delivers it exactly as it delivers a thrown request: the
  // instruction is not retired and RIP is rewound to it.
  void vm_exit_pending(const DecodedInsn& i, uint32_t reason, uint64_t qualification = 0, uint32_t insn_info = 0);
  // A TPR-shadow update happened (MOV to CR8, or a write to VTPR through
  // the APIC-access page; SDM 29.1.2): once the instruction has completed
  // and retired, the run loop compares VTPR with the TPR threshold and
  // makes the trap-like "TPR below threshold" VM exit if it is below.
  void tpr_shadow_updated() {
    tpr_shadow_update_ = true;
    exit_block_ = true;
  }
  // A write to the APIC-access page that was virtualized (the data went to
  // the virtual-APIC page at `offset`): APIC-write emulation follows once
  // the instruction has completed (SDM 29.4.3.2), in the run loop.
  void apic_write_virtualized(unsigned offset) {
    apic_write_offset_ = uint16_t(offset);
    exit_block_ = true;
  }
  // "Virtualize APIC accesses" (SDM 29.4): the physical page whose accesses
  // exit or are virtualized, or kNoApicAccessPage. Setting one drops the
  // current TLB context's translations to it.
  static constexpr uint64_t kNoApicAccessPage = ~0ull;
  void set_apic_access_page(uint64_t page);
  // Translates a guest-physical address through EPT in non-root operation
  // (SDM 28.2), raising EPT-violation / misconfiguration exits. `la` is the
  // guest-linear address when `la_valid`; `paging_structure` marks accesses
  // to the guest's own page tables.
  // `writable_now` (if given): whether a later write may reuse the
  // translation without a walk — EPT permits writes and, with EPT A/D
  // flags, the leaf's dirty flag is already set (SDM 28.2.4).
  uint64_t ept_translate(uint64_t gpa, Access a, uint64_t la, bool la_valid, bool paging_structure,
                         bool* writable_now = nullptr);
  bool ept_active() const { return ept_active_; }
  void set_ept_active(bool v) { ept_active_ = v; }
  // Drops every cached guest-physical mapping (INVEPT, VMXON, VMXOFF).
  void flush_ept_cache() { ept_cache_.flush(); }
  // Selects the TLB for a (VPID, EPT) context; `flush` empties it first
  // (every PCID of it). With CR4.PCIDE the TLB is further tagged by the
  // current PCID (CR3[11:0], SDM 4.10.1): the context key carries it in
  // bits 63:52 (tlb_vmx_key() strips it).
  void switch_tlb_context(uint64_t key, bool flush);
  static constexpr unsigned TLB_KEY_PCID_SHIFT = 52;
  static constexpr uint64_t tlb_vmx_key(uint64_t key) { return key & ((1ull << TLB_KEY_PCID_SHIFT) - 1); }
  uint16_t current_pcid() const;
  // INVPCID (SDM vol. 2): type 0 one address of `pcid`, 1 all of `pcid`'s
  // non-global entries, 2 everything, 3 everything but global entries —
  // in the current (VPID, EPT) context.
  void invpcid(uint64_t type, uint16_t pcid, uint64_t la);
  // Empties every TLB context whose key satisfies `match` (INVEPT/INVVPID).
  template <typename Match>
  void flush_tlb_contexts(Match match, bool include_global = true) {
    for (auto& [key, context] : tlb_contexts_)
      if (match(key)) context.clear(include_global);
    new_fetch_generation_all();
  }
  void invlpg_in_context(uint64_t key, uint64_t la);
  // Blocking by NMI (SDM 6.7.1): from an NMI's delivery to the next IRET
  // (with "NMI exiting", IRET leaves it alone: SDM 25.3).
  bool nmi_blocked() const { return nmi_blocked_; }
  void set_nmi_blocked(bool v) { nmi_blocked_ = v; }
  bool halted() const { return halted_; }
  void set_halted(bool v) { halted_ = v; }
  bool in_interrupt_shadow() const { return shadow_; }
  bool shadow_by_mov_ss() const { return shadow_ && shadow_mov_ss_; }
  void set_interrupt_shadow(bool v, bool by_mov_ss = false) {
    shadow_ = v;
    shadow_mov_ss_ = v && by_mov_ss;
  }
  // RIP of the instruction being executed.
  uint64_t fault_rip() const { return fast_entry_ ? block_rip_ + fast_entry_->start_off : fault_rip_; }
  // Folds the fast path's lag into cycles_, counters_.instructions and
  // fault_rip_ (the current instruction not retired), for code that sets
  // them outright rather than reading them.
  void settle_fast_path();
  // VM-entry event injection (SDM 26.6); `report_rip` is the RIP a fault
  // during delivery reports.
  void inject(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external,
              uint64_t report_rip, unsigned insn_len);
  // The event whose delivery a VM exit interrupted (SDM 27.2.4), then cleared.
  uint32_t take_idt_vectoring_info();
  uint32_t idt_vectoring_error() const { return idt_vectoring_error_; }
  std::vector<uint64_t> tlb_context_keys() const {
    std::vector<uint64_t> keys;
    for (const auto& [key, context] : tlb_contexts_) keys.push_back(key);
    return keys;
  }

  // ---- exit recording ----
  void set_trace_sink(CpuTraceSink* sink) { trace_ = sink; }
  CpuTraceSink* trace_sink() const { return trace_; }
  // The magic-NOP annotation (trace_hooks.h): a record, no architectural effect.
  void annotate();

  GuestMemory& memory() { return mem_; }
  PlatformDevices& devices() { return dev_; }
  const CostModel& costs() const { return costs_; }

  // Charges extra modeled cycles (per-iteration string costs, I/O, delivery).
  void charge(uint64_t cycles) { cycles_ += cycles; }

  // Physical-memory helpers for page walks and descriptor tables.
  uint64_t phys_read(uint64_t pa, unsigned size);
  void phys_write(uint64_t pa, unsigned size, uint64_t value);

  // Translates a linear address for an access at the current CPL or as a
  // supervisor access (descriptor tables), filling the TLB. Throws #PF.
  // `size`: the bytes accessed from `la` (all in its page), if known; only
  // accesses to the APIC-access page need it (0 for a fetch).
  uint64_t translate(uint64_t la, Access a, bool supervisor_override = false, unsigned size = 0);

 private:
  friend class Decoder;
  friend class jit::Translator;
  static constexpr unsigned TLB_SIZE = 8192;
  static constexpr unsigned TLB_MASK = TLB_SIZE - 1;
  static constexpr uint64_t TAG_INVALID = 1;  // odd: never equals a page address

  struct alignas(64) TlbEntry {  // one cache line; indexing is a shift
    uint64_t tag_r = TAG_INVALID, tag_w = TAG_INVALID, tag_x = TAG_INVALID;
    // The page is writable and dirty but tag_w is off because the page holds
    // decoded code: writes take the slow path (which checks the code chunks)
    // without walking the tables again.
    uint64_t tag_wc = TAG_INVALID;
    intptr_t addend = 0;  // host pointer = addend + linear address
    uint64_t pa_page = 0;
    bool global = false;
  };

  // One TLB context's entries. They come from a ZeroedArray, so the host
  // maps the 512 KiB only where entries are filled (a context had cost 128
  // host page faults, a quarter of a depth-0 boot's). All zero is empty
  // for every entry but the first and the last: a zero tag equals the page
  // of an access whose last byte lies in linear page 0, and only an access
  // that starts in page 0 or wraps from the last page indexes those two,
  // which therefore start as TlbEntry{}. `used`: the 64-entry chunks (4 KiB
  // each) that may hold a filled entry; flushes and searches visit only
  // those.
  struct TlbContext {
    ZeroedArray<TlbEntry> entries{TLB_SIZE};
    uint64_t used[TLB_SIZE / 64 / 64] = {};
    TlbContext() {
      entries[0] = TlbEntry{};
      entries[TLB_MASK] = TlbEntry{};
    }
    void note_fill(unsigned k) { used[k >> 12] |= 1ull << ((k >> 6) & 63); }
    template <typename F>
    void for_each_used(F&& f) {
      for (unsigned w = 0; w < std::size(used); ++w)
        for (uint64_t bits = used[w]; bits; bits &= bits - 1) {
          const unsigned first = (w * 64 + unsigned(std::countr_zero(bits))) * 64;
          for (unsigned k = first; k < first + 64; ++k) f(entries[k]);
        }
    }
    // Empties the entries (but global ones unless `include_global`).
    void clear(bool include_global) {
      for_each_used([include_global](TlbEntry& e) {
        if (include_global || !e.global) e = TlbEntry{};
      });
      if (include_global) std::fill(std::begin(used), std::end(used), 0);
    }
  };

  // All zero is empty: code generations start at 1.
  struct JumpCacheEntry {
    uint64_t la;
    uint64_t generation;
    Block* block;
  };

  uint64_t read_slow(uint64_t la, unsigned size, Access a);
  void write_slow(uint64_t la, uint64_t size, uint64_t value);
  uint64_t walk(uint64_t la, Access a, bool user, bool* global, bool* writable_now, bool* large);
  void fill_tlb(uint64_t la, uint64_t pa, Access a, bool user, bool global, bool writable);
  // A write of `size` bytes of `value` at RAM address pa, before it is
  // stored: drops the decoded blocks whose bytes it changes.
  void note_code_write(uint64_t pa, unsigned size, uint64_t value);

  Block* lookup_block();
  Block* decode_block(uint64_t la, uint64_t pa);
  void invalidate_code_bytes(uint64_t page, unsigned first, unsigned end);
  void mark_code_page(uint64_t page, Block* b);
  void free_dead_blocks();
  void execute_block(Block* b, uint64_t budget);
  void abandon_fast_path() {  // a fault or exit left the block by a throw
    step_insn_ = nullptr;
    settle_fast_path();
    folded_cost_ = folded_count_ = 0;
  }
  void execute_steps(Block* b, uint64_t budget);
  inline Block* chained_successor(Block* b, uint64_t la);

  void service_events();
  // Debug exceptions (debug.cpp).
  struct DebugStep {  // what the run loop notes before an instruction
    uint64_t rflags = 0, events = 0;
  };
  uint64_t event_count() const {  // any delivery or VMX transition
    return counters_.exceptions + counters_.interrupts + counters_.vm_exits + counters_.vm_entries;
  }
  // Single-step (TF), RF and instruction breakpoints need the boundary
  // after every instruction: the run loop then runs one at a time.
  // So do last-branch records (IA32_DEBUGCTL.LBR, lbr.cpp).
  bool debug_stepping() const { return (s_.rflags & (arch::rflags::TF | arch::rflags::RF)) || step_each_; }
  void check_instruction_breakpoint();
  void end_debug_step(const DebugStep& before);
  void deliver_debug_trap();
  // Last-branch records (lbr.cpp): IA32_DEBUGCTL changed; a taken branch
  // of class `cls` (an LBR_SELECT bit); an event delivered through the IDT
  // from `from` (its handler is at RIP now); the LBR MSRs (false: not one).
  void debugctl_changed();
  void lbr_record(uint64_t from, uint64_t to, uint64_t cls);
  void lbr_event(uint64_t from, bool hardware_db);
  bool read_lbr_msr(uint32_t index, uint64_t& value);
  bool write_lbr_msr(uint32_t index, uint64_t value);
  void data_breakpoint_access(uint64_t la, unsigned size, Access a);
  void io_breakpoint_access(uint16_t port, unsigned size);
  bool data_breakpoint_on_page(uint64_t page) const;
  bool deliver_pending_interrupt();
  // Delivers an exception or interrupt through the IDT (SDM 6.12), with the
  // double-fault and triple-fault rules of SDM 6.15 (table 6-5).
  void deliver_event(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external,
                     unsigned insn_len);
  void deliver_event_long(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external);
  void deliver_event_legacy(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external);
  void deliver_event_real(uint8_t vector);
  void stop(CpuStop why, std::string message);

  CpuState s_;
  GuestMemory& mem_;
  PlatformDevices& dev_;
  const CostModel& costs_;
  std::unique_ptr<Decoder> decoder_;
  // Translated code for hot 64-bit blocks (l0/sim/jit/), or null when
  // translation is off (set_translation).
  std::unique_ptr<jit::CodeBuffer> jit_;
  uint32_t translate_after_ = kTranslateAfter;
  void translate_block(Block* b);  // into translated code (not Cpu::translate, which translates addresses)
  Block* loop_partner(const Block& b) const;
  void drop_block(Block* b);
  uint64_t blocks_translated_ = 0;
  uint64_t loop_pairs_translated_ = 0;
  // A translated loop's memory operands each remember the page they last
  // reached and its addend, as one TLB entry, so that going round on the
  // same page skips the probe (jit/translator.cpp, loop slots). A slot
  // holds only while translated code runs with no call to C++ in between
  // (only C++ code changes the TLB): each translation that uses slots
  // empties them where it is entered and after each call.
  struct JitSlot {
    // The page; with the access's misalignment bits (below its size) in
    // the compare, only an aligned access on the page matches.
    uint64_t tag = kJitSlotEmpty;
    intptr_t addend = 0;
  };
  static constexpr unsigned kJitSlots = 4;
  // Bit 11: no page address, and no misalignment of an access of 8 bytes or fewer.
  static constexpr uint64_t kJitSlotEmpty = 0x800;
  JitSlot jit_slots_[kJitSlots];
  // While translated code runs: the instruction count it may not pass
  // (execute_block's budget), and the block whose successor it missed.
  uint64_t jit_limit_ = 0;
  // The instruction count up to which a translation's loop edges go round
  // without looking at events or the budget (jit/translator.cpp, loop
  // edges); 0, so that the next edge looks, whenever C++ code has run.
  uint64_t jit_edge_limit_ = 0;
  uint64_t jit_saved_flags_ = 0;  // R11 across a translation's call (jit/translator.cpp)
  uint64_t jit_entry_count_ = 0;  // R14 in a translation's first round (jit/translator.cpp, lazy edge flags)
  Block* jit_block_ = nullptr;

  CpuMode mode_ = CpuMode::Bits32;
  uint64_t cycles_ = 0;
  CpuCounters counters_;
  uint64_t next_event_ = 0;  // cycle count at which to service events
  bool exit_block_ = false;
  bool restart_ = false;  // stop_string_instruction(): the instruction did not retire
  uint64_t limit_ = ~0ull;  // run()'s instruction limit
  uint64_t string_iterations_ = 0;  // iterations of stopped string instructions in this run()
  uint64_t fault_rip_ = 0;  // RIP of the instruction being executed, off the fast path (fault_rip())
  // The fast path's position: the entry running and its block's RIP, and
  // the part of the block's cycles and instructions that settle_fast_path
  // already added.
  const DecodedInsn* fast_entry_ = nullptr;
  const DecodedInsn* step_insn_ = nullptr;  // the instruction execute_steps runs
  [[noreturn]] void raise_noncanonical() const;
  uint64_t block_rip_ = 0;
  uint64_t folded_cost_ = 0, folded_count_ = 0;
  void retire_early(const DecodedInsn* i);
  bool halted_ = false;
  bool nmi_blocked_ = false;
  bool alignment_check_ = false;  // update_alignment_check()
  void check_alignment(uint64_t la, unsigned size, Access a) const {
    if (NB_UNLIKELY(alignment_check_) && a != Access::Exec && (la & (size - 1)) && !(size & (size - 1)))
      raise_fault(uint8_t(arch::Vector::AC), 0);
  }
  void deliver_nmi();
  // Debug state: breakpoints armed in DR7 (bit n for DRn), the DR6-format
  // bits (B0-B3, BS) of traps the running instruction has met and of
  // traps pending at this boundary, a #DB's DR6 bits on their way to the
  // IDT or to a VM exit's qualification, and whether a REP string
  // instruction stopped between iterations (an event then pushes RF = 1).
  uint8_t exec_breakpoints_ = 0, data_breakpoints_ = 0, io_breakpoints_ = 0;
  uint64_t armed_dr_[5] = {};  // DR0-DR3 and DR7 as last armed
  uint64_t dbg_hits_ = 0, dbg_pending_ = 0;
  uint64_t dbg_fallthrough_ = 0;  // RIP after the stepped instruction if it does not branch
  uint64_t dbg_branch_ = 0;  // the stepped instruction's lbr_branch_class
  bool step_each_ = false;  // instruction breakpoints armed, or IA32_DEBUGCTL.LBR
  LbrStack lbr_;
  uint64_t db_payload_ = 0;
  bool db_payload_valid_ = false;
  bool privileged_software_ = false;  // the event being delivered is ICEBP's
  bool rf_loaded_ = false;
  bool string_interrupted_ = false;
  bool push_rf_ = false;  // the event being delivered pushes RF = 1
  bool shadow_ = false;  // interrupt shadow for the next instruction
  bool shadow_mov_ss_ = false;  // ... caused by MOV SS / POP SS (else STI)
  CpuStop stop_ = CpuStop::None;
  std::string stop_message_;

  // The TLB of the current (VPID, EPT) context; root operation is key 0.
  TlbEntry* tlb_ = nullptr;
  TlbContext* tlb_context_ = nullptr;  // the one tlb_ points into
  uint64_t tlb_key_ = 0;
  uint64_t tlb_base_key_ = 0;  // tlb_key_ without the PCID
  bool pcids_used_ = false;    // a context with a PCID other than 0 exists
  void select_tlb_context(uint64_t key, bool flush);
  // Empties the contexts of the current (VPID, EPT) context's PCIDs.
  void flush_pcid_contexts(bool include_global);
  std::unordered_map<uint64_t, TlbContext> tlb_contexts_;  // node-based: tlb_context_ stays valid
  std::unique_ptr<vmx::Vmx> vmx_;
  bool non_root_ = false;
  bool ept_active_ = false;
  EptCache ept_cache_;  // guest-physical mappings (ept_translate)
  // ept_translate's miss: the walk, whose success fills ept_cache_.
  uint64_t ept_walk(uint64_t gpa, Access a, uint64_t la, bool la_valid, bool paging_structure, bool* writable_now);
  bool injecting_ = false;
  uint64_t pf_linear_ = 0;  // the faulting linear address of the last #PF raised
  uint32_t idt_vectoring_info_ = 0, idt_vectoring_error_ = 0;
  CpuTraceSink* trace_ = nullptr;
  void deliver_vm_exit(const vmx::VmExitRequest& r);
  // vm_exit_pending's request, delivered when the handler has returned.
  bool tpr_shadow_update_ = false;  // tpr_shadow_updated()
  static constexpr uint16_t kNoApicWrite = 0xffff;
  uint16_t apic_write_offset_ = kNoApicWrite;  // apic_write_virtualized()
  // After an instruction that updated the TPR shadow or wrote the
  // APIC-access page: TPR virtualization, APIC-write emulation, and the
  // trap-like VM exit either may end in.
  void after_apic_virtualization();
  uint64_t apic_access_page_ = kNoApicAccessPage;
  // An access whose translation ends in the APIC-access page (SDM 29.4):
  // the APIC-access VM exit, or the physical address of VTPR on the
  // virtual-APIC page where the TPR shadow virtualizes it.
  uint64_t apic_access_page_access(uint64_t pa, Access a, unsigned size);
  struct PendingExit {
    bool valid = false;
    uint32_t reason = 0, insn_len = 0, insn_info = 0;
    uint64_t qualification = 0;
  } pending_exit_;
  void deliver_pending_exit();
  bool vmx_events();
  bool tlb_has_large_ = false;
  // Cached fetch translations (the jump cache, block successors) are valid
  // while code_generation_ is unchanged. Each TLB context keeps its own
  // generation (drawn from one counter, so never equal across contexts):
  // a VM exit or entry that switches contexts without a flush keeps both
  // sides' cached fetches (issue 10 item 2). Blocks carry their decode
  // mode, checked on every jump-cache hit.
  uint64_t code_generation_ = 1;
  uint64_t generation_counter_ = 1;
  std::unordered_map<uint64_t, uint64_t> context_generation_;  // by TLB context key
  void new_fetch_generation();      // the current context's fetches are stale
  void new_fetch_generation_all();  // every context's (code changed, INVEPT/INVVPID)
  static constexpr unsigned JC_BITS = 14;
  static constexpr unsigned JC_SIZE = 1u << JC_BITS;
  ZeroedArray<JumpCacheEntry> jump_cache_{JC_SIZE};  // 384 KiB, which the host maps only where touched
  // The jump-cache slot of `la` in the current TLB context: a
  // multiplicative hash (la ^ la >> 10 made code 4 KiB apart collide, and
  // l1-vmm's exit path evicted itself at every round trip), salted by the
  // context (nested l1-vmms run the same code at the same linear addresses
  // at every level).
  uint64_t jc_salt_ = 0;
  JumpCacheEntry& jump_cache_slot(uint64_t la) {
    return jump_cache_[((la * 0x9e3779b97f4a7c15ull) >> (64 - JC_BITS)) ^ jc_salt_];
  }
  std::unordered_map<uint64_t, Block*> blocks_;  // key: pa << 2 | mode
  // Decoded code is tracked per 64-byte chunk of a page, so a write next to
  // code (data on the same page) keeps the page's blocks (issue 10 item 5).
  struct CodePage {
    std::vector<Block*> blocks;  // the blocks with bytes on this page
    uint64_t chunks = 0;         // bit k: bytes [64k, 64k + 64) hold decoded code
  };
  static uint64_t chunk_mask(unsigned first, unsigned end) {  // bytes [first, end) of a page, end > first
    const unsigned lo = first >> 6, hi = (end - 1) >> 6;
    return (hi == 63 ? ~0ull : (2ull << hi) - 1) & ~((1ull << lo) - 1);
  }
  std::unordered_map<uint64_t, CodePage> page_blocks_;
  ZeroedArray<uint8_t> code_page_;  // per RAM page: holds decoded code
  // Per RAM page: some TLB entry, in some context, may have given it a
  // fast-path write tag (tag_w) since mark_code_page last looked. Only then
  // must marking it as code search the TLB contexts for such entries.
  ZeroedArray<uint8_t> tlb_writable_;
  std::vector<Block*> dead_blocks_;
};

inline bool Cpu::tlb_peek(uint64_t la, uint64_t* pa) const {
  const TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
  const uint64_t page = la & ~0xfffull;
  if (e.tag_x != page && e.tag_r != page) return false;
  *pa = e.pa_page | (la & 0xfff);
  return true;
}

}  // namespace nestbed::sim
