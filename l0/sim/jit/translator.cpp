#include "l0/sim/jit/translator.h"

#include <capstone/capstone.h>

#include <cstddef>
#include <cstring>
#include <deque>

#include "arch/x86/rflags.h"
#include "l0/sim/cpu/block.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/jit/code_buffer.h"
#include "l0/sim/jit/x86_emitter.h"

namespace nestbed::sim {
int jcc_condition(unsigned id);  // exec_control.cpp
}

namespace nestbed::sim::jit {

namespace fl = arch::rflags;

// The base and displacement of a Cpu member (Translator::cpu_base).
#define CPU_FIELD(m) cpu_base(c_.m), cpu_disp(c_.m)

// Register use in translated code: R15 = the Cpu + CodeBuffer::hot_bias(),
// R13 = its CpuState + kStateBias, R12 = the RIP of the translation's
// first block (a pair's second part is at a fixed distance: rip_bias), R14 = the
// instruction count (once the block has run), RBP = the cycle count. R14
// and RBP carry the counters from block to chained block, and the Cpu's
// own counters are brought up to date (sync_counters) only where C++ code
// may look: a call, and every way out. So no block waits on the store of
// the one before it. R11 holds the status flags an instruction left, not
// yet in RFLAGS (pending flags, below). In a block that calls no handler,
// RBX, RDI and R8-R10 hold guest registers (kCacheRegs). RAX, RCX, RDX and
// RSI are scratch: a linear address in RAX, a TLB entry or host pointer in
// RCX, operand values in RDX and RSI; RDI is a call's first argument, the
// Cpu. The entry stub saves the callee-saved ones (RBX, RBP, R12-R15).
class Translator {
 public:
  // `partner`, if not null: a block on the same page that b's final branch
  // may go to and whose own final branch may come back to b (a loop of two
  // blocks, Cpu::loop_partner): the translation runs both, going from one
  // to the other without leaving it (parts).
  Translator(Cpu& c, const Block& b, const Block* partner, bool cache)
      : c_(c), parts_{&b, partner}, nparts_(partner ? 2 : 1), cache_allowed_(cache) {}
  const uint8_t* run(CodeBuffer& buf);
  // The block calls a handler: translate it again without cached
  // registers.
  bool retry_without_cache() const { return retry_; }
  // Where chained blocks enter the code run() returned (Block::jit_warm).
  size_t warm_offset() const { return warm_; }

 private:
  Cpu& c_;
  // The blocks translated, one after the other; b_ is the one being written.
  const Block* const parts_[2];
  const unsigned nparts_;
  const Block* b_ = nullptr;
  Label starts_[2];  // where part p's instruction-budget check begins
  Label bodies_[2];  // past it
  Label stops_before_[2];  // part p did not run: the way out
  unsigned part_ = 0;  // the part being written
  // Part b's RIP less R12 (the first part's), both on one page (loop_partner):
  // so going from part to part leaves R12 as it is.
  int32_t rip_bias(const Block* b) const { return int32_t(int64_t(b->pa) - int64_t(parts_[0]->pa)); }
  // r = the RIP of b_ plus off.
  void rip_plus(HostReg r, int64_t off) { e_.lea(r, HR12, int32_t(rip_bias(b_) + off)); }
  bool emit_part(unsigned p);
  // An ALU operation as the host runs it (alu_on_rdx): on `dst` and `src`
  // or the immediate.
  struct HostAlu {
    unsigned id = 0;
    AluOp op = AluOp::Cmp;
    unsigned size = 8;
    HostReg dst = HRDX, src = HRSI;
    bool use_imm = false;
    uint64_t imm = 0;
  };
  void emit_alu(const HostAlu& a);
  // The status flags of a loop's final CMP or TEST, made only where a
  // loop edge leaves the translation (lazy edge flags): on the way round
  // they are dead, since the next part overwrites them all before anything
  // can look. The compare is written again there (make_edge_flags), on the
  // same host registers, which nothing between touches.
  //
  // They may also be left unmade when the next part reads or writes
  // memory before it overwrites them (moves only): then each of those
  // accesses' TLB misses makes them (emit_slow_paths), from the compare's
  // registers, which no entry before the overwrite writes. Except in the
  // first round after the translation is entered, whose flags are those it
  // came with: R14 then equals Cpu::jit_entry_count_, which the entry sets
  // to R14 plus the first part's count. edge_flags_[p]: the edge into part
  // p, if it is such a one.
  bool lazy_edge_flags(const DecodedInsn& d, int64_t off, const HostAlu& alu);
  bool edge_flags_on_misses(const DecodedInsn& d, unsigned next, unsigned* until) const;
  struct EdgeFlags {
    bool on = false;
    unsigned until = 0;  // the overwrite's index: entries before it make the flags on a miss
    HostAlu compare;
  };
  EdgeFlags edge_flags_[2];
  void make_edge_flags(const HostAlu& compare);
  // One way out of the block's final branch, to `off` from the block's
  // start: RAX = RIP for finish_block, or, if `off` is where the next part
  // (this one, with one part) starts, a loop edge: the block retired and
  // the next one begun (its instructions counted) and run, past its
  // budget check (emit_part).
  //
  // An edge looks at events and the budget, as the run loop would, only
  // once the instruction count passes Cpu::jit_edge_limit_ (edge_checks_,
  // out of line), which it then sets as far as later edges surely find
  // neither an event due nor the budget short (edge_limit). C++ code may
  // change both, so the limit is 0 after every call from a translation
  // with loop edges (may_loop_), every way out to C++ and every jump to
  // another translation. With `lazy` (lazy edge flags), the edge's ways out
  // make the flags.
  void end_path(int64_t off, const HostAlu* lazy = nullptr);
  bool is_loop_edge(int64_t off) const;
  struct EdgeCheck {
    Label at, back;
    int64_t off;
    bool lazy = false;  // its ways out make the flags of `compare` first
    HostAlu compare;
  };
  std::deque<EdgeCheck> edge_checks_;
  unsigned edges_ = 0;  // loop edges written
  // Whether a part's final branch may go to the next part's start, found
  // before anything is written (an edge's jit_edge_limit_ must be reset on
  // every way to other code).
  bool may_loop_ = false;
  bool may_loop() const;
  uint64_t min_count_ = 0, max_cost_ = 0;  // over the parts
  void emit_edge_checks(unsigned p, Label& rip_stored);
  void call_edge_limit();
  // ---- loop slots (Cpu::JitSlot)
  // In a translation that may loop and calls no handler, the first
  // kJitSlots memory operands each keep the page they last reached in a
  // slot of the Cpu: on the same page again, with the access aligned, the
  // slot's compare and addend stand for the TLB probe's index, compare and
  // addend. The TLB changes only in C++ code, so the slots hold from where
  // the translation is entered (where it empties them) to its next call.
  unsigned slots_ = 0;       // the slots this translation may use (emptied on entry)
  unsigned slots_used_ = 0;  // given out so far
  unsigned count_slots() const;
  void forget_slots() {
    for (unsigned i = 0; i < slots_; ++i) e_.store64_imm32(CPU_FIELD(jit_slots_[i].tag), int32_t(Cpu::kJitSlotEmpty));
  }
  // After C++ code ran or before other code runs: the next edge looks.
  void forget_edge_limit() {
    if (may_loop_) e_.store64_imm32(CPU_FIELD(jit_edge_limit_), 0);
  }
  // The Cpu's jit_edge_limit_: edge k after this one (R14 = `instructions`
  // with the next part counted, RBP = `cycles`) comes k parts on, which
  // count at least k * min_count instructions and at most k * max_cost
  // cycles. So an edge whose count is within the limit finds no event due
  // (RBP < next_event_) and the budget enough (R14 <= jit_limit_).
  static void edge_limit(Cpu* c, uint64_t instructions, uint64_t cycles, uint64_t min_count, uint64_t max_cost) {
    const uint64_t edges_without_event = (c->next_event_ - cycles - 1) / max_cost;  // (next_event_ > cycles here)
    const unsigned __int128 limit =
        (unsigned __int128)instructions + (unsigned __int128)(edges_without_event + 1) * min_count - 1;
    c->jit_edge_limit_ = limit < c->jit_limit_ ? uint64_t(limit) : c->jit_limit_;
  }
  Emitter e_;
  CodeBuffer* buf_ = nullptr;
  // Out-of-line code, emitted after the block's main line: early exits
  // (one per entry, bound only if used) and TLB misses.
  // (one per entry of every part, in order: an entry's is exit_base_, its
  // part's first, plus its own index)
  std::deque<Label> early_exit_;
  std::vector<const DecodedInsn*> early_exit_insn_;
  unsigned exit_base_ = 0;
  // IMUL's flags made again on the next entry's TLB miss, and only there
  // (lazy_imul_flags): the multiplicand in RSI, the multiplier in `src`
  // (or the immediate).
  struct LazyImul {
    bool on = false;
    bool three = false;  // IMUL r, r, imm: RSI * imm
    unsigned size = 8;
    HostReg src = HRSI;
    uint32_t imm = 0;
  };
  struct SlowPath {
    Label at{}, done{};
    unsigned k;  // the entry's early exit (an index into early_exit_)
    const DecodedInsn* d;
    bool write;
    unsigned size;
    int tail;  // what follows the access (see emit_tail)
    int value;  // a write's value (see write_value)
    const Block* block;  // the part it belongs to
    LazyImul imul;  // the flags of the IMUL before it, to make on a miss
    int slot = -1;  // its loop slot, if it has one: then `probe` looks at the TLB
    Label probe{}, hit{};
    unsigned part = 0, entry = 0;  // its part, and its entry's index there
    HostReg addr = HRAX;  // the linear address (the slow path's RAX)
  };
  std::deque<SlowPath> slow_;
  void probe_tlb(const SlowPath& s);

  // ---- guest registers in host registers
  // A block that calls no handler (most inner loops) keeps the guest
  // registers it names most in host registers from its entry to its exit:
  // loaded once, operated on in place, and written back (flush) before
  // anything can look at CpuState: a TLB-miss call, which may fault, and
  // every way out of the block. A block that loops to itself goes round
  // with them in place. A block that turns out to call a handler is
  // translated again without (retry_without_cache): each call would have to
  // write them back and reload them. A call clobbers RDI and R8-R10, so a
  // TLB-miss path reloads them.
  static constexpr HostReg kCacheRegs[] = {HRBX, HRDI, HR8, HR9, HR10};
  const bool cache_allowed_;
  bool retry_ = false;
  uint16_t cached_ = 0;   // guest GPRs (bit g) held in host registers
  uint16_t written_ = 0;  // those of them the code emitted so far writes
  HostReg host_of_[16] = {};
  bool is_cached(unsigned g) const { return g < 16 && (cached_ >> g & 1); }
  void choose_cached();
  void load_gpr(HostReg r, unsigned g);
  void load_gpr_zx(unsigned size, HostReg r, unsigned g);
  void store_gpr(unsigned g, HostReg r);
  // The host register an instruction may compute guest register g in:
  // g's own if cached, else `scratch`, loaded with g if `load`.
  HostReg gpr_in(unsigned g, HostReg scratch, bool load);
  // After computing guest register g in r (from gpr_in): CpuState, or
  // nothing more if r is g's host register.
  void gpr_done(unsigned g, HostReg r);
  void flush(uint16_t guest_regs);
  void reload_cached();

  // ---- pending flags
  // In a block that calls no handler, an instruction that writes every
  // status flag leaves them in R11, not in RFLAGS: AX as lahf/seto set it
  // in bits 0-15, the mask of those it leaves undefined (stored as 0) in
  // bits 16-31 — so one MOVZX when it defines them all; R11 = 0: none
  // pending. They reach RFLAGS (materialize) only
  // where something may read them: an instruction that reads flags or
  // writes only some (Jcc alone, ADC/SBB, INC/DEC), a call, an exit; a
  // chained block gets R11 as it is. So the flags of a compare that ends a
  // loop are never written when the next iteration overwrites them first.
  // A block that calls handlers writes its flags at once, and brings in
  // those pending from the block before at its start.
  enum class Pending { None, Own, Unknown };  // what R11 holds here
  Pending pending_ = Pending::None;
  uint32_t pending_defined_ = 0;  // with Own
  void defer_flags(uint32_t defined);
  // RFLAGS = the flags R11 holds, if any, with R11 cleared (keep: left
  // as it is, for a call that returns to code that still counts on it).
  // Clobbers RAX, RCX and RDX.
  void materialize(bool keep = false);

  // ---- offsets
  // R13 points kStateBias bytes into the CpuState, so that the registers
  // and RFLAGS are all within a one-byte displacement.
  static int32_t reg_off(unsigned r) { return int32_t(offsetof(CpuState, r) + 8 * r) - kStateBias; }
  static int32_t rflags_off() { return int32_t(offsetof(CpuState, rflags)) - kStateBias; }
  static int32_t seg_base_off(unsigned s) {
    return int32_t(offsetof(CpuState, seg) + s * sizeof(Segment) + offsetof(Segment, base)) - kStateBias;
  }
  template <typename M>
  int32_t cpu_off(const M& member) const {
    return int32_t(reinterpret_cast<const char*>(&member) - reinterpret_cast<const char*>(&c_));
  }
  // A Cpu member as a memory operand: through R15 (the Cpu plus
  // CodeBuffer::hot_bias(), near the run loop's counters, so that they
  // take a one-byte displacement).
  template <typename M>
  HostReg cpu_base(const M&) const {
    return HR15;
  }
  template <typename M>
  int32_t cpu_disp(const M& member) const {
    return cpu_off(member) - buf_->hot_bias();
  }
  // RDI = the Cpu (a handler's first argument).
  void cpu_to_rdi() { e_.lea(HRDI, HR15, -buf_->hot_bias()); }

  // Whether the status flags the entry being written sets can be read:
  // false when a later entry surely overwrites them all before anything
  // can look (flags_dead_after).
  bool flags_live_ = true;
  // Whether any entry calls its handler (which may change the TLB or the
  // code generation).
  bool calls_ = false;
  bool calls_last_ = false;  // the last entry calls its handler

  // ---- pieces
  enum class Inlined { No, Yes, SetsRip };
  static constexpr unsigned kAlways = 16;
  Inlined inline_entry(unsigned k, const DecodedInsn& d);
  bool inline_pair(unsigned k, const DecodedInsn& alu, const DecodedInsn& jcc);
  void alu_on_rdx(const DecodedInsn& d, HostReg src = HRSI);
  void finish_alu(const DecodedInsn& d, HostReg dst);
  void merge_status(uint32_t written, HostReg temp = HRSI);
  // Set while the ALU half of a fused ALU + Jcc pair is written: the Jcc's
  // condition, the pair's end and the branch's displacement.
  int branch_cc_ = -1;
  uint32_t branch_end_ = 0;
  uint64_t branch_rel_ = 0;
  void imul_rdx(const DecodedInsn& d);
  void imul_registers(unsigned k, const DecodedInsn& d);
  LazyImul lazy_next_;  // for the next memory_access
  bool lazy_imul_flags(unsigned k, const DecodedInsn& d) const;
  Inlined operand1_then(unsigned k, const DecodedInsn& d, bool reg_ok, unsigned size, int tail);
  void branch(unsigned cc, uint32_t end_off, uint64_t rel);
  void effective_address(const DecodedInsn& d);
  void emit_slow_paths();
  void finish_block(Label& stop, unsigned part, bool last_calls);
  static bool overwrites_flags(const DecodedInsn& n);
  static bool flag_neutral(const DecodedInsn& n);
  static bool memory_move(const DecodedInsn& n);
  bool flags_dead_after(unsigned k) const;
  static bool flags_dead_from(const Block& b, unsigned j);
  void exit_with(uint64_t result);
  // The Cpu's cycles and instructions = RBP and R14 (less this block's
  // count if it has not run, `ran` false); clobbers RDX.
  void sync_counters(bool ran);
  // On a way out to C++: the pending flags (whatever R11 holds on the
  // paths that meet here) into RFLAGS, and the counters (sync_counters).
  void state_to_cpu(bool ran) {
    pending_ = Pending::Unknown;
    materialize();
    sync_counters(ran);
  }
  // The offset chained blocks enter at, past the loads of R12, R14 and RBP.
  size_t warm_ = 0;
  // Whether RAX holds RIP when the block's last entry is done.
  bool rip_in_rax_ = false;
  void call_entry(unsigned k, const DecodedInsn& d);
  void set_rip(int64_t end_off);
  // RAX = the RIP at the block's end, stored only where it leaves to C++
  // code (finish_block): a chained block or another round of this one
  // needs it only in R12.
  void next_rip(int64_t end_off) { rip_plus(HRAX, end_off); }
  void set_fast_entry(const DecodedInsn& d);
  void store_block_rip(HostReg temp);
  void address_of(HostReg r, const void* p);
  void call_host(const void* target);
  void check_exit(unsigned exit);  // an index into early_exit_
  void capture_flags(unsigned id);
  void capture_flags(uint32_t defined, uint32_t written);
  // RAX = the linear address of d's memory operand, or, for [reg] with the
  // register in a host register, nothing: addr_ = that register (the next
  // memory_access's address, then RAX again).
  void linear_address(const DecodedInsn& d);
  HostReg addr_ = HRAX;
  void load_operand(HostReg r, const DecodedInsn& d, unsigned n);
  // A write's value: operand 1 (MOV), or a push's: operand 0 or the
  // return address (CALL).
  enum { kValueOperand1, kValuePushOperand0, kValueReturnAddress };
  void write_value(HostReg r, const DecodedInsn& d, int value) {
    if (value == kValueOperand1) load_operand(r, d, 1);
    else if (value == kValueReturnAddress) rip_plus(r, d.end_off);
    else if (d.op[0].kind == OpKind::Reg) load_gpr(r, d.op[0].reg);
    else e_.mov_imm(r, d.imm);
  }
  void memory_access(unsigned k, const DecodedInsn& d, bool write, unsigned size, int tail, int value = kValueOperand1);
  // The stack accesses of PUSH, POP, CALL and RET in 64-bit mode (Cpu::push/pop).
  static void slow_push(Cpu* c, uint64_t la, uint64_t size, uint64_t value) {
    c->write_slow(c->check_stack_canonical(la, unsigned(size)), size, value);
    c->s_.r[RSP] = la;
  }
  static uint64_t slow_pop(Cpu* c, uint64_t la, uint64_t size) {
    return c->read_slow(c->check_stack_canonical(la, unsigned(size)), unsigned(size), Access::Read);
  }
  void emit_tail(const DecodedInsn& d, int tail);
  void condition_jump(unsigned cc, Label& taken);

  // The TLB-miss paths, as Cpu::read/write's.
  static uint64_t slow_read(Cpu* c, uint64_t la, uint64_t size) { return c->read_slow(la, unsigned(size), Access::Read); }
  static void slow_write(Cpu* c, uint64_t la, uint64_t size, uint64_t value) { c->write_slow(la, size, value); }
};

namespace {

// The instructions written inline and their operand forms.
enum Tail { kTailNone, kTailLoadReg, kTailAluMem, kTailAluRegMem, kTailPop, kTailExtend, kTailImul };

bool is_gpr(const Operand& o, bool allow_small = false) {
  return o.kind == OpKind::Reg && !o.high8 && (o.size == 8 || o.size == 4 || (allow_small && (o.size == 1 || o.size == 2)));
}
// A memory operand the translator computes: 64-bit mode, 64-bit address.
bool is_mem64(const DecodedInsn& d, const Operand& o) { return o.kind == OpKind::Mem && d.addrsize == 8; }

AluOp alu_op_of(unsigned id, bool* ok) {
  *ok = true;
  switch (id) {
    case X86_INS_ADD: return AluOp::Add;
    case X86_INS_OR: return AluOp::Or;
    case X86_INS_ADC: return AluOp::Adc;
    case X86_INS_SBB: return AluOp::Sbb;
    case X86_INS_AND: return AluOp::And;
    case X86_INS_SUB: return AluOp::Sub;
    case X86_INS_XOR: return AluOp::Xor;
    case X86_INS_CMP: return AluOp::Cmp;
    default: *ok = false; return AluOp::Add;
  }
}

// The status flags an operation defines, as the handlers store them (the
// rest of those it writes are 0): arch/x86/rflags.h.
uint32_t status_mask(unsigned id) {
  switch (id) {
    case X86_INS_AND: case X86_INS_OR: case X86_INS_XOR: case X86_INS_TEST:
      return uint32_t(fl::LOGIC_DEFINED);
    case X86_INS_INC: case X86_INS_DEC:
      return uint32_t(fl::INC_DEC_WRITTEN);
    case X86_INS_IMUL:
      return uint32_t(fl::MULTIPLY_DEFINED);
    default:
      return uint32_t(fl::STATUS);
  }
}

}  // namespace

// The guest GPRs the block (both blocks of a pair) names most (operands,
// addresses, RSP of the stack instructions), one host register each while
// they last.
void Translator::choose_cached() {
  unsigned uses[16] = {};
  auto use = [&](unsigned g) {
    if (g < 16) uses[g]++;
  };
  for (unsigned p = 0; p < nparts_; ++p) {
    for (unsigned k = 0; k < parts_[p]->count; ++k) {
      const DecodedInsn& d = parts_[p]->insns[k];
      for (unsigned n = 0; n < d.nops && n < 3; ++n)
        if (d.op[n].kind == OpKind::Reg) use(d.op[n].reg);
      if (d.op[0].kind == OpKind::Mem || d.op[1].kind == OpKind::Mem) {
        use(d.mem_base);
        use(d.mem_index);
      }
      if (d.id == X86_INS_PUSH || d.id == X86_INS_POP || d.id == X86_INS_CALL || d.id == X86_INS_RET) use(RSP);
    }
  }
  for (HostReg h : kCacheRegs) {
    unsigned best = 16;
    for (unsigned g = 0; g < 16; ++g)
      if (uses[g] && (best == 16 || uses[g] > uses[best])) best = g;
    if (best == 16) break;
    cached_ |= uint16_t(1u << best);
    host_of_[best] = h;
    uses[best] = 0;
  }
}

// r = guest register g (all 64 bits), from its host register if cached.
void Translator::load_gpr(HostReg r, unsigned g) {
  if (is_cached(g)) e_.mov_rr(r, host_of_[g]);
  else e_.load64(r, HR13, reg_off(g));
}

// r = the low `size` (4 or 8) bytes of guest register g, zero-extended.
void Translator::load_gpr_zx(unsigned size, HostReg r, unsigned g) {
  if (!is_cached(g)) return e_.load_zx(size, r, HR13, reg_off(g));
  if (size == 8) e_.mov_rr(r, host_of_[g]);
  else e_.mov32_rr(r, host_of_[g]);
}

void Translator::store_gpr(unsigned g, HostReg r) {
  if (!is_cached(g)) return e_.store64(HR13, reg_off(g), r);
  e_.mov_rr(host_of_[g], r);
  written_ |= uint16_t(1u << g);
}

HostReg Translator::gpr_in(unsigned g, HostReg scratch, bool load) {
  if (is_cached(g)) return host_of_[g];
  if (load) e_.load64(scratch, HR13, reg_off(g));
  return scratch;
}

void Translator::gpr_done(unsigned g, HostReg r) {
  if (is_cached(g) && r == host_of_[g]) written_ |= uint16_t(1u << g);
  else store_gpr(g, r);
}

// CpuState = the cached registers among `guest_regs`.
void Translator::flush(uint16_t guest_regs) {
  for (unsigned g = 0; g < 16; ++g)
    if (guest_regs & cached_ & (1u << g)) e_.store64(HR13, reg_off(g), host_of_[g]);
}

void Translator::reload_cached() {
  for (unsigned g = 0; g < 16; ++g)
    if (is_cached(g)) e_.load64(host_of_[g], HR13, reg_off(g));
}

void Translator::set_rip(int64_t end_off) {
  rip_plus(HRAX, end_off);
  e_.store64(HR13, reg_off(REG_RIP), HRAX);
}

// Where a call is made from, for fault_rip() and cycles(): the entry and
// its block.
void Translator::set_fast_entry(const DecodedInsn& d) {
  address_of(HRAX, &d);
  e_.store64(CPU_FIELD(fast_entry_), HRAX);
  store_block_rip(HRAX);
}

// Cpu::block_rip_ = the RIP of b_ (through `temp` in a pair's second part).
void Translator::store_block_rip(HostReg temp) {
  if (rip_bias(b_) == 0) return e_.store64(CPU_FIELD(block_rip_), HR12);
  rip_plus(temp, 0);
  e_.store64(CPU_FIELD(block_rip_), temp);
}

// r = a host address: RIP-relative when the buffer reaches it (7 bytes
// instead of 10).
void Translator::address_of(HostReg r, const void* p) {
  if (buf_->within_rel32(p))
    e_.lea_rip(r, p);
  else
    e_.mov_imm(r, uint64_t(reinterpret_cast<uintptr_t>(p)));
}

void Translator::call_host(const void* target) {
  if (buf_->within_rel32(target))
    e_.call_rel(target);
  else
    e_.call_abs(target);
  forget_slots();  // C++ code may have changed the TLB
}

void Translator::check_exit(unsigned exit) {
  e_.cmp_mem8_imm(CPU_FIELD(exit_block_), 0);
  e_.jcc(0x5, early_exit_[exit]);  // jne
}

// Guest status flags from the host's flags after the same operation:
// RFLAGS = (RFLAGS & ~written) | (host & defined), where `written` is every
// status flag the instruction writes (STATUS, less CF for INC/DEC) and
// `defined` those of them the SDM defines for it (the others are 0).
void Translator::capture_flags(unsigned id) {
  capture_flags(status_mask(id),
                id == X86_INS_INC || id == X86_INS_DEC ? uint32_t(fl::INC_DEC_WRITTEN) : uint32_t(fl::STATUS));
}

void Translator::capture_flags(uint32_t defined, uint32_t written) {
  e_.lahf_seto();  // AH = SF:ZF:0:AF:0:PF:1:CF, AL = OF
  if (cache_allowed_ && written == uint32_t(fl::STATUS)) return defer_flags(defined);
  e_.status_from_ax(HRCX, defined);
  merge_status(written);
}

// R11 = AX (from lahf_seto) and `defined`, with no change to the host's
// flags (a fused Jcc may still test them).
void Translator::defer_flags(uint32_t defined) {
  const uint32_t undefined = uint32_t(fl::STATUS) & ~defined;
  if (undefined) {
    e_.mov_imm(HR11, uint64_t(undefined) << kPendingUndefinedShift);
    e_.mov16_rr(HR11, HRAX);
  } else {
    e_.movzx16_rr(HR11, HRAX);
  }
  pending_ = Pending::Own;
  pending_defined_ = defined;
}

void Translator::materialize(bool keep) {
  if (pending_ == Pending::None && !keep) return;
  if (!keep && pending_ == Pending::Own) {  // the mask known here
    e_.mov32_rr(HRAX, HR11);
    e_.status_from_ax(HRCX, pending_defined_);
    merge_status(uint32_t(fl::STATUS), HRDX);
  } else {
    e_.call_rel(buf_->materialize_stub());  // (out of line: exits and TLB misses)
  }
  if (!keep) e_.alu_rr(AluOp::Xor, 4, HR11, HR11);
  if (!keep) pending_ = Pending::None;
}

// RFLAGS = (RFLAGS & ~written) | RCX.
void Translator::merge_status(uint32_t written, HostReg temp) {
  e_.merge_into(HR13, rflags_off(), written, HRCX, temp);
}

// RAX = the effective address of d's memory operand (64-bit address size).
void Translator::effective_address(const DecodedInsn& d) {
  const bool indexed = d.mem_index != REG_ZERO;
  if (indexed && d.mem_base != REG_RIP && d.mem_base != REG_ZERO) {  // one LEA
    const HostReg index = is_cached(d.mem_index) ? host_of_[d.mem_index] : HRCX;
    if (index == HRCX) load_gpr(HRCX, d.mem_index);
    const HostReg base = is_cached(d.mem_base) ? host_of_[d.mem_base] : HRAX;
    if (base == HRAX) load_gpr(HRAX, d.mem_base);
    e_.lea(HRAX, base, index, d.mem_scale, int32_t(d.disp));
    return;
  }
  if (d.mem_base == REG_RIP) {
    rip_plus(HRAX, int64_t(d.end_off) + d.disp);
  } else if (d.mem_base == REG_ZERO) {
    e_.mov_imm(HRAX, uint64_t(d.disp));
  } else if (is_cached(d.mem_base)) {
    e_.lea(HRAX, host_of_[d.mem_base], int32_t(d.disp));
  } else {
    load_gpr(HRAX, d.mem_base);
    if (d.disp) e_.lea(HRAX, HRAX, int32_t(d.disp));
  }
  if (indexed) {
    load_gpr(HRCX, d.mem_index);
    e_.lea(HRAX, HRAX, HRCX, d.mem_scale, 0);
  }
}

// RAX = the linear address of d's memory operand, as Cpu::linear64, or
// addr_ = the host register of [reg] (see the declaration).
void Translator::linear_address(const DecodedInsn& d) {
  // [reg] with the register in a host register: that register.
  if (d.mem_seg == SEG_NONE && d.mem_index == REG_ZERO && d.disp == 0 && d.mem_base != REG_RIP &&
      d.mem_base != REG_ZERO && is_cached(d.mem_base)) {
    addr_ = host_of_[d.mem_base];
    return;
  }
  effective_address(d);
  if (d.mem_seg != SEG_NONE) e_.add_mem64(HRAX, HR13, seg_base_off(d.mem_seg));
}

// r = operand n (register or immediate), zero-extended from its size.
void Translator::load_operand(HostReg r, const DecodedInsn& d, unsigned n) {
  const Operand& o = d.op[n];
  if (o.kind == OpKind::Reg)
    load_gpr(r, o.reg);
  else
    e_.mov_imm(r, d.op[0].size == 8 || o.size == 8 ? d.imm : d.imm & 0xffffffffull);
}

// What follows a memory read (the value zero-extended in RDX).
void Translator::emit_tail(const DecodedInsn& d, int tail) {
  if (tail == kTailLoadReg) {  // mov r32/r64, [mem]
    store_gpr(d.op[0].reg, HRDX);
    return;
  }
  if (tail == kTailAluMem) {  // cmp/test [mem], reg/imm: op0 is the memory
    const unsigned size = d.op[0].size;
    const bool test = d.id == X86_INS_TEST;
    if (d.op[1].kind == OpKind::Reg) {
      load_gpr(HRSI, d.op[1].reg);
      if (test) e_.test_rr(size, HRDX, HRSI);
      else e_.alu_rr(AluOp::Cmp, size, HRDX, HRSI);
    } else {
      if (test) e_.test_ri(size, HRDX, d.imm);
      else e_.alu_ri(AluOp::Cmp, size, HRDX, d.imm);
    }
    capture_flags(d.id);
  }
  if (tail == kTailImul) imul_rdx(d);
  if (tail == kTailExtend) {  // movzx/movsx/movsxd r, r/m
    e_.extend(d.id != X86_INS_MOVZX, d.op[0].size, d.op[1].size, HRDX);
    store_gpr(d.op[0].reg, HRDX);
  }
  if (tail == kTailPop) {  // RSP += 8, then the destination (POP RSP loads RSP), or RIP for RET
    load_gpr(HRCX, RSP);
    e_.lea(HRCX, HRCX, 8);
    store_gpr(RSP, HRCX);
    if (d.id == X86_INS_RET) e_.store64(HR13, reg_off(REG_RIP), HRDX);
    else store_gpr(d.op[0].reg, HRDX);
  }
  if (tail == kTailAluRegMem) {  // op r32/r64, [mem]
    e_.mov_rr(HRSI, HRDX);
    alu_on_rdx(d);
  }
}

// A memory access of d at RAX through the TLB, as Cpu::read/write: a read
// leaves the value zero-extended in RDX for `tail`; a write stores the
// value write_value gives. A miss goes to the slow path (emit_slow_paths).
void Translator::memory_access(unsigned k, const DecodedInsn& d, bool write, unsigned size, int tail, int value) {
  slow_.push_back(SlowPath{.k = exit_base_ + k, .d = &d, .write = write, .size = size, .tail = tail, .value = value,
                           .block = b_, .imul = lazy_next_, .part = part_, .entry = k, .addr = addr_});
  addr_ = HRAX;
  lazy_next_ = LazyImul{};
  SlowPath& s = slow_.back();
  if (slots_used_ < slots_) {
    // RDX = the page with the access's misalignment: the slot's tag only
    // if aligned on the slot's page (so within it).
    s.slot = int(slots_used_++);
    e_.mov_rr(HRDX, s.addr);
    e_.and64_ri(HRDX, int32_t(-4096 | int32_t(size - 1)));
    e_.cmp_mem64(HRDX, CPU_FIELD(jit_slots_[s.slot].tag));
    e_.jcc(0x5, s.probe);  // jne: the TLB, out of line
    e_.load64(HRCX, CPU_FIELD(jit_slots_[s.slot].addend));
    e_.bind(s.hit);
  } else {
    probe_tlb(s);
  }
  if (write) {
    // A register's value straight from its host register if cached.
    // An immediate stored as one (if an 8-byte one is its imm32 sign-extended).
    const Operand& source = value == kValueOperand1 ? d.op[1] : d.op[0];
    HostReg v = HRDX;
    if (value != kValueReturnAddress && source.kind == OpKind::Imm &&
        (size < 8 || int64_t(d.imm) == int64_t(int32_t(d.imm)))) {
      e_.store_imm_sized(size, HRCX, s.addr, d.imm);
    } else {
      if (value != kValueReturnAddress && source.kind == OpKind::Reg && is_cached(source.reg)) v = host_of_[source.reg];
      else write_value(HRDX, d, value);
      e_.store_sized(size, HRCX, s.addr, v);
    }
    if (value != kValueOperand1) store_gpr(RSP, HRAX);  // a push: RSP after the write
  } else if (tail == kTailLoadReg && is_cached(d.op[0].reg)) {
    e_.load_zx(size, host_of_[d.op[0].reg], HRCX, s.addr);
    written_ |= uint16_t(1u << d.op[0].reg);
  } else {
    e_.load_zx(size, HRDX, HRCX, s.addr);
    emit_tail(d, tail);
  }
  e_.bind(s.done);
}

// RCX = the TLB entry's addend for the access of s at s.addr, or to s's
// slow path on a miss.
void Translator::probe_tlb(const SlowPath& s) {
  static_assert(sizeof(Cpu::TlbEntry) == 64, "the probe indexes the TLB with a shift by 6");
  // RCX = &tlb_[(la >> 12) & TLB_MASK], the index times 64 being
  // (la >> 6) & (TLB_MASK << 6)
  e_.mov_rr(HRCX, s.addr);
  e_.shr_ri(HRCX, 6);
  e_.and32_ri(HRCX, uint32_t(Cpu::TLB_MASK) << 6);
  e_.add_mem64(HRCX, CPU_FIELD(tlb_));
  // the tag of the access's last byte's page (a hit: the first byte's too,
  // whose entry it is)
  e_.lea(HRDX, s.addr, int32_t(s.size - 1));
  e_.and64_ri(HRDX, -4096);
  e_.cmp_mem64(HRDX, HRCX, int32_t(s.write ? offsetof(Cpu::TlbEntry, tag_w) : offsetof(Cpu::TlbEntry, tag_r)));
  e_.jcc(0x5, const_cast<Label&>(s.at));  // jne: miss
  e_.load64(HRCX, HRCX, int32_t(offsetof(Cpu::TlbEntry, addend)));  // host pointer: RCX + s.addr
}

// An upper bound on the memory operands memory_access will write (one
// each at most), if the translation may use slots at all.
unsigned Translator::count_slots() const {
  if (!may_loop_ || !cache_allowed_) return 0;
  unsigned n = 0;
  for (unsigned p = 0; p < nparts_; ++p) {
    const Block& b = *parts_[p];
    for (unsigned k = 0; k < b.fast_entries; ++k) {
      const DecodedInsn& d = b.insns[k];
      bool memory = d.id == X86_INS_PUSH || d.id == X86_INS_POP || d.id == X86_INS_CALL || d.id == X86_INS_RET;
      for (unsigned i = 0; i < d.nops; ++i) memory |= d.op[i].kind == OpKind::Mem;
      n += memory;
    }
  }
  return n < Cpu::kJitSlots ? n : Cpu::kJitSlots;
}

void Translator::call_entry(unsigned k, const DecodedInsn& d) {
  calls_ = true;
  address_of(HRSI, &d);
  e_.store64(CPU_FIELD(fast_entry_), HRSI);
  store_block_rip(HRSI);
  set_rip(d.end_off);
  cpu_to_rdi();
  sync_counters(false);
  call_host(reinterpret_cast<const void*>(d.fast));
  forget_edge_limit();
  e_.alu_rr(AluOp::Xor, 4, HR11, HR11);  // none pending in such a block; the call clobbered it
  e_.load64(HRBP, CPU_FIELD(cycles_));  // a handler may add cycles
  check_exit(exit_base_ + k);
}

// Jumps to `taken` if condition cc holds on the guest's RFLAGS (SDM vol. 1,
// B.1; as condition() in exec_common.h).
void Translator::condition_jump(unsigned cc, Label& taken) {
  materialize();
  e_.load_zx(4, HRAX, HR13, rflags_off());
  switch (cc >> 1) {
    case 0: e_.test_ri(4, HRAX, fl::OF); break;
    case 1: e_.test_ri(4, HRAX, fl::CF); break;
    case 2: e_.test_ri(4, HRAX, fl::ZF); break;
    case 3: e_.test_ri(4, HRAX, fl::CF | fl::ZF); break;
    case 4: e_.test_ri(4, HRAX, fl::SF); break;
    case 5: e_.test_ri(4, HRAX, fl::PF); break;
    case 6:  // SF != OF: OF (bit 11) moved onto SF (bit 7)
      e_.mov_rr(HRCX, HRAX);
      e_.shr_ri(HRCX, 4);
      e_.alu_rr(AluOp::Xor, 4, HRAX, HRCX);
      e_.test_ri(4, HRAX, fl::SF);
      break;
    default:  // ZF or SF != OF
      e_.mov_rr(HRCX, HRAX);
      e_.shr_ri(HRCX, 4);
      e_.and32_ri(HRCX, fl::SF);
      e_.alu_rr(AluOp::Xor, 4, HRAX, HRCX);
      e_.test_ri(4, HRAX, fl::SF | fl::ZF);
      break;
  }
  e_.jcc((cc & 1) ? 0x4 : 0x5, taken);  // jz if negated, else jnz
}

// Writes entry k inline if its form is one the translator knows.
Translator::Inlined Translator::inline_entry(unsigned k, const DecodedInsn& d) {
  if (d.flags & (insn_flag::LOCK | insn_flag::REP | insn_flag::REPNE)) return Inlined::No;
  const Operand& o0 = d.op[0];
  const Operand& o1 = d.op[1];
  const unsigned id = d.id;

  // A NOP with an operand may be the magic annotation NOP
  // (trace_hooks.h), which its handler records.
  if (id == X86_INS_NOP && d.nops == 0) return Inlined::Yes;

  // ADC/SBB read CF, INC/DEC keep it: the pending flags first (a Jcc:
  // condition_jump).
  if (id == X86_INS_ADC || id == X86_INS_SBB || ((id == X86_INS_INC || id == X86_INS_DEC) && flags_live_))
    materialize();

  if ((id == X86_INS_MOV || id == X86_INS_MOVABS) && d.nops == 2) {
    if (is_gpr(o0) && o1.kind == OpKind::Reg && is_gpr(o1)) {  // 32-bit writes zero-extend
      const HostReg r = gpr_in(o0.reg, HRDX, false);
      load_gpr_zx(o0.size, r, o1.reg);
      gpr_done(o0.reg, r);
      return Inlined::Yes;
    }
    if (is_gpr(o0) && o1.kind == OpKind::Imm) {
      const HostReg r = gpr_in(o0.reg, HRDX, false);
      e_.mov_imm(r, o0.size == 8 ? d.imm : d.imm & 0xffffffffull);
      gpr_done(o0.reg, r);
      return Inlined::Yes;
    }
    if (is_gpr(o0) && is_mem64(d, o1)) {
      linear_address(d);
      memory_access(k, d, false, o0.size, kTailLoadReg);
      return Inlined::Yes;
    }
    if (is_mem64(d, o0) && (o1.kind == OpKind::Imm || is_gpr(o1, true))) {
      linear_address(d);
      memory_access(k, d, true, o0.size, kTailNone);
      return Inlined::Yes;
    }
    return Inlined::No;
  }

  if ((id == X86_INS_MOVZX || id == X86_INS_MOVSX || id == X86_INS_MOVSXD) && d.nops == 2 && is_gpr(o0) &&
      (o1.size == 1 || o1.size == 2 || o1.size == 4)) {
    return operand1_then(k, d, !o1.high8, o1.size, kTailExtend);
  }

  // SHL/SHR/SAR r32/r64 by an immediate, as h_shift: the count masked to
  // 5 or 6 bits; 0 changes no flag (a 32-bit register is still
  // zero-extended); AF, and OF unless the count is 1, are 0.
  if ((id == X86_INS_SHL || id == X86_INS_SAL || id == X86_INS_SHR || id == X86_INS_SAR) && d.nops == 2 &&
      is_gpr(o0) && o1.kind == OpKind::Imm) {
    const uint8_t count = uint8_t(d.imm) & (o0.size == 8 ? 0x3f : 0x1f);
    const HostReg r = gpr_in(o0.reg, HRDX, true);
    if (count == 0) {
      if (o0.size == 4) e_.mov32_rr(r, r);
    } else {
      e_.shift_sized(id == X86_INS_SHR ? 5 : id == X86_INS_SAR ? 7 : 4, o0.size, r, count);
      if (flags_live_)
        capture_flags(uint32_t(fl::CF | fl::ZF | fl::SF | fl::PF | (count == 1 ? fl::OF : 0)), uint32_t(fl::STATUS));
    }
    gpr_done(o0.reg, r);
    return Inlined::Yes;
  }

  // IMUL r, r/m and IMUL r, r/m, imm (the truncated product).
  if (id == X86_INS_IMUL && (d.nops == 2 || (d.nops == 3 && d.op[2].kind == OpKind::Imm)) && is_gpr(o0)) {
    if (o1.kind == OpKind::Reg && is_gpr(o1) && (is_cached(o0.reg) || is_cached(o1.reg))) {
      imul_registers(k, d);
      return Inlined::Yes;
    }
    return operand1_then(k, d, is_gpr(o1), o0.size, kTailImul);
  }

  if (id == X86_INS_LEA && is_gpr(o0) && is_mem64(d, o1)) {
    effective_address(d);
    if (o0.size == 4) e_.mov32_rr(HRAX, HRAX);
    store_gpr(o0.reg, HRAX);
    return Inlined::Yes;
  }

  if ((id == X86_INS_INC || id == X86_INS_DEC) && d.nops == 1 && is_gpr(o0)) {
    const HostReg r = gpr_in(o0.reg, HRDX, true);
    e_.incdec(id == X86_INS_DEC, o0.size, r);
    if (flags_live_) capture_flags(id);
    gpr_done(o0.reg, r);
    return Inlined::Yes;
  }

  bool is_alu = false;
  alu_op_of(id, &is_alu);
  if ((is_alu || id == X86_INS_TEST) && d.nops == 2) {
    const bool compare = id == X86_INS_CMP || id == X86_INS_TEST;
    // Register destination: 32/64-bit, or any size for CMP/TEST (no write).
    if (is_gpr(o0, compare)) {
      if (o1.kind == OpKind::Reg && is_gpr(o1, true)) {
        alu_on_rdx(d, gpr_in(o1.reg, HRSI, true));
        return Inlined::Yes;
      }
      if (o1.kind == OpKind::Imm) {
        alu_on_rdx(d);
        return Inlined::Yes;
      }
      if (is_mem64(d, o1) && o0.size >= 4) {
        linear_address(d);
        memory_access(k, d, false, o0.size, kTailAluRegMem);
        return Inlined::Yes;
      }
      return Inlined::No;
    }
    // CMP/TEST with a memory destination: a read.
    if (compare && is_mem64(d, o0) && (o1.kind == OpKind::Imm || is_gpr(o1, true))) {
      linear_address(d);
      memory_access(k, d, false, o0.size, kTailAluMem);
      return Inlined::Yes;
    }
    return Inlined::No;
  }

  // The stack in 64-bit mode: 8-byte pushes and pops at RSP (no SS base).
  if (id == X86_INS_PUSH && d.nops == 1 && ((o0.kind == OpKind::Reg && is_gpr(o0) && o0.size == 8) ||
                                            (o0.kind == OpKind::Imm && d.opsize != 2))) {
    load_gpr(HRAX, RSP);
    e_.lea(HRAX, HRAX, -8);
    memory_access(k, d, true, 8, kTailNone, kValuePushOperand0);
    return Inlined::Yes;
  }
  if (id == X86_INS_POP && d.nops == 1 && is_gpr(o0) && o0.size == 8) {
    load_gpr(HRAX, RSP);
    memory_access(k, d, false, 8, kTailPop);
    return Inlined::Yes;
  }
  if (id == X86_INS_CALL && d.nops == 1 && o0.kind == OpKind::Imm) {
    load_gpr(HRAX, RSP);
    e_.lea(HRAX, HRAX, -8);
    memory_access(k, d, true, 8, kTailNone, kValueReturnAddress);
    next_rip(int64_t(d.end_off) + int64_t(d.imm));
    return Inlined::SetsRip;
  }
  if (id == X86_INS_RET && d.nops == 0) {
    load_gpr(HRAX, RSP);
    memory_access(k, d, false, 8, kTailPop);
    return Inlined::SetsRip;
  }

  const int cc = jcc_condition(id);
  if (cc >= 0 && o0.kind == OpKind::Imm) {
    branch(unsigned(cc), d.end_off, d.imm);
    return Inlined::SetsRip;
  }
  if (id == X86_INS_JMP && o0.kind == OpKind::Imm) {
    branch(kAlways, d.end_off, d.imm);
    return Inlined::SetsRip;
  }
  return Inlined::No;
}

// RDX = op0 `op` source (RSI, or the immediate; op0 is loaded here), the
// flags taken, and op0 written unless the operation is CMP or TEST.
void Translator::alu_on_rdx(const DecodedInsn& d, HostReg src) {
  const unsigned size = d.op[0].size;
  const unsigned id = d.id;
  const bool imm = d.op[1].kind == OpKind::Imm;
  bool ok = false;
  const AluOp op = alu_op_of(id, &ok);
  const HostReg dst = gpr_in(d.op[0].reg, HRDX, true);
  const bool imm_fits = size < 8 || int64_t(d.imm) == int64_t(int32_t(d.imm));
  if (imm && !imm_fits) {
    e_.mov_imm(HRSI, d.imm);
    src = HRSI;
  }
  const bool use_imm = imm && imm_fits;
  if (id == X86_INS_ADC || id == X86_INS_SBB) e_.bt_mem_imm(HR13, rflags_off(), 0);  // CF in
  const HostAlu alu{id, op, size, dst, src, use_imm, d.imm};
  emit_alu(alu);
  if (branch_cc_ >= 0) {
    // The fused pair's Jcc on the host's flags, which lahf/seto keep: the
    // host ran the same operation, whose flags the SDM defines as the
    // handler stores them (CMP, TEST, ADD, SUB, AND: fuse_alu_jcc). A way
    // that is a lazy loop edge takes none (make_edge_flags).
    const int64_t not_taken = branch_end_, taken_off = int64_t(branch_end_) + int64_t(branch_rel_);
    const bool lazy_nt = lazy_edge_flags(d, not_taken, alu), lazy_t = lazy_edge_flags(d, taken_off, alu);
    auto take_flags = [&] {
      e_.lahf_seto();
      if (cache_allowed_) defer_flags(status_mask(id));
    };
    Label taken, done;
    if (!lazy_nt && !lazy_t) take_flags();
    e_.jcc(Cond(branch_cc_), taken);
    if (lazy_t && !lazy_nt) take_flags();
    finish_alu(d, dst);
    end_path(not_taken, lazy_nt ? &alu : nullptr);
    e_.jmp(done);
    e_.bind(taken);
    if (lazy_nt && !lazy_t) take_flags();
    finish_alu(d, dst);
    end_path(taken_off, lazy_t ? &alu : nullptr);
    e_.bind(done);
    return;
  }
  if (flags_live_) capture_flags(id);
  if (id != X86_INS_CMP && id != X86_INS_TEST) gpr_done(d.op[0].reg, dst);
}

// The rest of an ALU operation whose flags lahf/seto took: RFLAGS, then op0.
void Translator::finish_alu(const DecodedInsn& d, HostReg dst) {
  if (!cache_allowed_) {
    e_.status_from_ax(HRCX, status_mask(d.id));
    merge_status(uint32_t(fl::STATUS));
  }
  if (d.id != X86_INS_CMP && d.id != X86_INS_TEST) gpr_done(d.op[0].reg, dst);
}

// op0 = RDX (operand 1's value) times op0 or the immediate, as h_imul_n.
void Translator::imul_rdx(const DecodedInsn& d) {
  const unsigned size = d.op[0].size;
  if (d.nops == 3) {
    e_.imul_rri(size, HRDX, HRDX, uint32_t(d.imm));
  } else {
    e_.imul_rr(size, HRDX, gpr_in(d.op[0].reg, HRSI, true));
  }
  if (flags_live_) capture_flags(X86_INS_IMUL);
  store_gpr(d.op[0].reg, HRDX);
}

// IMUL r, r (, imm) with a cached register: in host registers.
void Translator::imul_registers(unsigned k, const DecodedInsn& d) {
  const unsigned size = d.op[0].size;
  const HostReg src = gpr_in(d.op[1].reg, HRSI, true);
  const HostReg dst = gpr_in(d.op[0].reg, HRDX, d.nops == 2);
  const bool lazy = flags_live_ && lazy_imul_flags(k, d);
  if (lazy) {
    // The operands the flags are made from again, if ever: RSI = the
    // multiplicand (the source with an immediate), kept to the next entry.
    lazy_next_ = LazyImul{true, d.nops == 3, size, d.op[1].reg == d.op[0].reg ? HRSI : src, uint32_t(d.imm)};
    const HostReg multiplicand = d.nops == 3 ? src : dst;
    if (multiplicand != HRSI) e_.mov_rr(HRSI, multiplicand);
  }
  if (d.nops == 3) e_.imul_rri(size, dst, src, uint32_t(d.imm));
  else e_.imul_rr(size, dst, src);
  if (flags_live_ && !lazy) capture_flags(X86_INS_IMUL);
  gpr_done(d.op[0].reg, dst);
}

// Whether IMUL r, r (, imm) at entry k may leave its flags unmade: they
// are live only because the next entry, a MOV to or from memory, may take
// its TLB miss path (and fault, exit or end the block there), after which
// they are surely overwritten (flags_dead_after). That path makes them
// again from the operands (emit_slow_paths), which must still be where
// they were: the multiplier in a cached register the MOV does not write
// (or the multiplicand's own, RSI), the multiplicand in RSI, which
// nothing between touches. (Pending flags: blocks that call no handler.)
bool Translator::lazy_imul_flags(unsigned k, const DecodedInsn& d) const {
  if (!cache_allowed_ || k + 1 >= b_->fast_entries) return false;
  const DecodedInsn& n = b_->insns[k + 1];
  if (n.fast_count != 1 || n.id != X86_INS_MOV || n.nops != 2 || !flags_dead_after(k + 1)) return false;
  if (n.flags & (insn_flag::LOCK | insn_flag::REP | insn_flag::REPNE)) return false;
  const bool load = n.op[0].kind == OpKind::Reg && is_gpr(n.op[0]) && is_mem64(n, n.op[1]);
  const bool store = is_mem64(n, n.op[0]) && (n.op[1].kind == OpKind::Imm || is_gpr(n.op[1]));
  if (!load && !store) return false;
  if (d.nops == 3) return true;  // the multiplicand is copied to RSI
  const unsigned mult = d.op[1].reg;
  if (mult == d.op[0].reg) return true;  // a square: RSI * RSI
  return is_cached(mult) && !(load && n.op[0].reg == mult);
}

// Operand 1 (a register, if `reg_ok` allows it, or a 64-bit-address
// memory operand of `size` bytes) zero-extended into RDX, then `tail`.
Translator::Inlined Translator::operand1_then(unsigned k, const DecodedInsn& d, bool reg_ok, unsigned size, int tail) {
  const Operand& o1 = d.op[1];
  if (o1.kind == OpKind::Reg && reg_ok) {
    load_gpr(HRDX, o1.reg);
    emit_tail(d, tail);
    return Inlined::Yes;
  }
  if (!is_mem64(d, o1)) return Inlined::No;
  linear_address(d);
  memory_access(k, d, false, size, tail);
  return Inlined::Yes;
}

// RIP = the block's + end_off (+ rel if condition cc holds).
void Translator::branch(unsigned cc, uint32_t end_off, uint64_t rel) {
  if (cc == kAlways) {
    end_path(int64_t(end_off) + int64_t(rel));
    return;
  }
  Label taken, done;
  condition_jump(cc, taken);
  end_path(end_off);
  e_.jmp(done);
  e_.bind(taken);
  end_path(int64_t(end_off) + int64_t(rel));
  e_.bind(done);
}

// Whether `off` from the block's start is where the next part (this one,
// with one part) starts: a loop edge, as finish_block's own loop test, if
// no handler call may have changed the translation of the RIP.
bool Translator::is_loop_edge(int64_t off) const {
  const unsigned next = (part_ + 1) % nparts_;
  return !calls_ && off == int64_t(parts_[next]->pa) - int64_t(b_->pa);
}

void Translator::end_path(int64_t off, const HostAlu* lazy) {
  if (!is_loop_edge(off)) return next_rip(off);
  const unsigned next = (part_ + 1) % nparts_;
  ++edges_;
  e_.lea(HRBP, HRBP, int32_t(b_->total_cost));
  e_.lea(HR14, HR14, int32_t(parts_[next]->count));
  edge_checks_.push_back(EdgeCheck{Label{}, Label{}, off, lazy != nullptr, lazy ? *lazy : HostAlu{}});
  e_.cmp_mem64(HR14, CPU_FIELD(jit_edge_limit_));
  e_.jcc(0x7, edge_checks_.back().at);  // ja: look at events and the budget
  e_.bind(edge_checks_.back().back);
  e_.jmp(bodies_[next]);
}

// The edges' look at events and the budget, as the run loop's after a
// block: an event due stops there, with the block run (R14 less the next
// part's count again); the next part not within the budget stops before
// it (emit_part's stop_before). Else the edge goes round, with a new
// jit_edge_limit_.
void Translator::emit_edge_checks(unsigned p, Label& rip_stored) {
  const unsigned next = (p + 1) % nparts_;
  for (EdgeCheck& ec : edge_checks_) {
    Label event, before;
    e_.bind(ec.at);
    e_.cmp_mem64(HRBP, CPU_FIELD(next_event_));
    e_.jcc(0x3, event);  // jae
    e_.cmp_mem64(HR14, CPU_FIELD(jit_limit_));
    e_.jcc(0x7, before);  // ja
    call_edge_limit();
    e_.jmp(ec.back);
    e_.bind(event);
    e_.lea(HR14, HR14, -int32_t(parts_[next]->count));
    if (ec.lazy) make_edge_flags(ec.compare);
    rip_plus(HRAX, ec.off);
    e_.store64(HR13, reg_off(REG_RIP), HRAX);
    e_.jmp(rip_stored);
    e_.bind(before);
    if (ec.lazy) make_edge_flags(ec.compare);
    e_.jmp(stops_before_[next]);
  }
}

// Cpu::jit_edge_limit_ = edge_limit(R14, RBP), the guest registers and
// the pending flags kept across the call.
void Translator::call_edge_limit() {
  flush(written_);
  e_.store64(CPU_FIELD(jit_saved_flags_), HR11);
  e_.mov_rr(HRSI, HR14);
  e_.mov_rr(HRDX, HRBP);
  e_.mov_imm(HRCX, min_count_);
  e_.mov_imm(HR8, max_cost_);
  cpu_to_rdi();
  call_host(reinterpret_cast<const void*>(&Translator::edge_limit));
  reload_cached();
  e_.load64(HR11, CPU_FIELD(jit_saved_flags_));
}

// (A loop edge is a way of a final branch, branch(), to the next part.)
bool Translator::may_loop() const {
  for (unsigned p = 0; p < nparts_; ++p) {
    const Block& b = *parts_[p];
    const int64_t next = int64_t(parts_[(p + 1) % nparts_]->pa) - int64_t(b.pa);
    int64_t out[2];
    const int n = b.branch_targets(out);
    for (int k = 0; k < n; ++k)
      if (out[k] == next) return true;
  }
  return false;
}

// Whether the flags of the fused pair's compare `d` may be left unmade on
// the way to `off`: a loop edge to a part that overwrites them all before
// anything can look (flags_dead_from), from a CMP or TEST, whose operands
// stay where they are until the edge's ways out (make_edge_flags).
bool Translator::lazy_edge_flags(const DecodedInsn& d, int64_t off, const HostAlu& alu) {
  if (!cache_allowed_ || (d.id != X86_INS_CMP && d.id != X86_INS_TEST) || !is_loop_edge(off)) return false;
  const unsigned next = (part_ + 1) % nparts_;
  if (flags_dead_from(*parts_[next], 0)) return true;
  // (Not an immediate too wide for the compare's, which is in RSI.)
  unsigned until = 0;
  if ((!alu.use_imm && d.op[1].kind == OpKind::Imm) || !edge_flags_on_misses(d, next, &until)) return false;
  edge_flags_[next] = EdgeFlags{true, until, alu};
  return true;
}

// The compare's operands must be guest registers held in host registers
// (a miss's probe clobbers the scratch ones), and the entries of part
// `next` before the overwrite flag-neutral or moves between memory and a
// register, none of them writing those. (Only with jit_entry_count_ set
// on entry: slots_.)
bool Translator::edge_flags_on_misses(const DecodedInsn& d, unsigned next, unsigned* until) const {
  const Operand& a = d.op[0];
  const Operand& b = d.op[1];
  if (slots_ == 0 || a.kind != OpKind::Reg || !is_cached(a.reg) ||
      (b.kind != OpKind::Imm && (b.kind != OpKind::Reg || !is_cached(b.reg))))
    return false;
  const Block& n = *parts_[next];
  for (unsigned j = 0; j < n.fast_entries; ++j) {
    const DecodedInsn& e = n.insns[j];
    if (overwrites_flags(e)) {
      *until = j;
      return true;
    }
    if (!flag_neutral(e) && !memory_move(e)) return false;
    const Operand& w = e.op[0];  // what it writes, if a register
    if (w.kind == OpKind::Reg && (w.reg == a.reg || (b.kind == OpKind::Reg && w.reg == b.reg))) return false;
  }
  return false;
}

void Translator::emit_alu(const HostAlu& a) {
  if (a.id == X86_INS_TEST) {
    if (a.use_imm) e_.test_ri(a.size, a.dst, a.imm);
    else e_.test_rr(a.size, a.dst, a.src);
  } else {
    if (a.use_imm) e_.alu_ri(a.op, a.size, a.dst, a.imm);
    else e_.alu_rr(a.op, a.size, a.dst, a.src);
  }
}

// R11 = the flags of `compare` (defer_flags), made again.
void Translator::make_edge_flags(const HostAlu& compare) {
  const Pending was = pending_;
  const uint32_t was_defined = pending_defined_;
  emit_alu(compare);
  e_.lahf_seto();
  defer_flags(status_mask(compare.id));
  pending_ = was;
  pending_defined_ = was_defined;
}

// An entry of two instructions (an ALU operation on registers and the
// block's final Jcc, Decoder::prepare_fast_path), inline if the ALU half is.
bool Translator::inline_pair(unsigned k, const DecodedInsn& alu, const DecodedInsn& jcc) {
  const int cc = jcc_condition(jcc.id);
  if (cc < 0 || jcc.op[0].kind != OpKind::Imm) return false;
  // The fused forms (fuse_alu_jcc): the ALU on registers or an immediate,
  // so alu_on_rdx writes it, with the branch on the host's flags.
  switch (alu.id) {
    case X86_INS_CMP: case X86_INS_TEST: case X86_INS_ADD: case X86_INS_SUB: case X86_INS_AND:
      if (overwrites_flags(alu)) {
        const HostReg src = alu.op[1].kind == OpKind::Reg ? gpr_in(alu.op[1].reg, HRSI, true) : HRSI;
        branch_cc_ = cc;
        branch_end_ = alu.end_off;
        branch_rel_ = jcc.imm;
        alu_on_rdx(alu, src);
        branch_cc_ = -1;
        return true;
      }
      break;
    default:
      break;
  }
  if (inline_entry(k, alu) != Inlined::Yes) return false;
  branch(unsigned(cc), alu.end_off, jcc.imm);
  return true;
}

const uint8_t* Translator::run(CodeBuffer& buf) {
  buf_ = &buf;
  // (Always so: every instruction is one entry but a fused pair, which
  // counts two; a block's cost is a few thousand cycles at most; the
  // epoch counts buffer resets.)
  for (unsigned p = 0; p < nparts_; ++p)
    if (parts_[p]->count != parts_[p]->total_count || parts_[p]->total_cost > 0x7fffffff) return nullptr;
  if (buf.epoch() > 0x7fffffff) return nullptr;
  may_loop_ = may_loop();
  min_count_ = parts_[0]->count;
  for (unsigned p = 0; p < nparts_; ++p) {
    if (parts_[p]->count < min_count_) min_count_ = parts_[p]->count;
    if (parts_[p]->total_cost > max_cost_) max_cost_ = parts_[p]->total_cost;
  }
  if (min_count_ == 0 || max_cost_ == 0) return nullptr;
  // Entered from the run loop: R12, R14 and RBP from the Cpu. A chained
  // block enters at warm_ with them set.
  e_.load64(HR12, HR13, reg_off(REG_RIP));
  e_.load64(HR14, CPU_FIELD(counters_.instructions));
  e_.load64(HRBP, CPU_FIELD(cycles_));
  e_.alu_rr(AluOp::Xor, 4, HR11, HR11);  // no flags pending
  warm_ = e_.size();
  slots_ = count_slots();
  forget_slots();  // (code before this translation may have called C++)
  if (slots_) {  // the first round's count (edge_flags_on_misses)
    e_.lea(HRDX, HR14, int32_t(parts_[0]->count));
    e_.store64(CPU_FIELD(jit_entry_count_), HRDX);
  }
  pending_ = Pending::Unknown;  // those of the block before
  if (cache_allowed_) choose_cached();  // undone by a retry if the block calls
  else materialize();
  // Every way out of one part writes back what the other part may have
  // written in an earlier round.
  if (nparts_ > 1) written_ = cached_;
  reload_cached();
  for (unsigned p = 0; p < nparts_; ++p) {
    b_ = parts_[p];
    exit_base_ = unsigned(early_exit_.size());
    for (unsigned k = 0; k < b_->fast_entries; ++k) {
      early_exit_.emplace_back();
      early_exit_insn_.push_back(&b_->insns[k]);
    }
    if (!emit_part(p)) return nullptr;
  }
  if (edges_ && !may_loop_) return nullptr;  // (may_loop must see every edge)
  flags_live_ = true;  // a slow path's tail always takes its flags (harmless if dead)
  emit_slow_paths();
  // Early exits: return the entry.
  for (size_t k = 0; k < early_exit_.size(); ++k) {
    if (early_exit_[k].fixups.empty()) continue;
    e_.bind(early_exit_[k]);
    exit_with(uint64_t(reinterpret_cast<uintptr_t>(early_exit_insn_[k])));
  }
  uint8_t* code = buf.allocate(e_.size());
  if (!code) {
    buf.reset();
    code = buf.allocate(e_.size());
    if (!code) return nullptr;
  }
  e_.copy_to(code);
  return code;
}

// Part p (b_): from the instruction-budget check to every way out of it.
// Returns false if the translation must be made again without cached
// registers.
bool Translator::emit_part(unsigned p) {
  const unsigned entries = b_->fast_entries;
  Label stop;
  Label& stop_before = stops_before_[p];
  // The block must fit the budget (execute_block: budget >= count), else
  // nothing of it runs and execute_block returns.
  // R12 = the first part's RIP (this part's less rip_bias); R14 = the
  // instruction count, and from the part's start (where a loop comes
  // back, with R14 right) the count once the block has run.
  pending_ = Pending::Unknown;  // (entered from the end of a part too)
  part_ = p;
  edge_checks_.clear();
  e_.bind(starts_[p]);
  e_.lea(HR14, HR14, int32_t(b_->count));
  e_.cmp_mem64(HR14, CPU_FIELD(jit_limit_));
  e_.jcc(0x7, stop_before);  // ja
  e_.bind(bodies_[p]);
  for (unsigned k = 0; k < entries; ++k) {
    const DecodedInsn& d = b_->insns[k];
    const bool last = k + 1 == entries;
    flags_live_ = !flags_dead_after(k);
    if (d.fast_count == 2) {
      calls_last_ = !inline_pair(k, d, b_->insns[k + 1]);
      if (calls_last_) call_entry(k, d);
      continue;
    }
    // A branch is always last (it ends its block).
    const Inlined how = inline_entry(k, d);
    calls_last_ = how == Inlined::No;
    if (how == Inlined::No)
      call_entry(k, d);
    else if (how == Inlined::Yes && last)
      next_rip(d.end_off);
  }
  // Cached registers and pending flags are for blocks that call no handler
  // (a handler would see neither).
  if (cache_allowed_ && calls_) {
    retry_ = true;
    return false;
  }
  const bool last_calls = entries && b_->insns[entries - 1].fast_count == 1 && calls_last_;
  // Every inline way to the block's end sets RIP with set_rip (RAX), but
  // an inline RET's, which pops it.
  rip_in_rax_ = entries && !calls_last_ && b_->insns[entries - 1].id != X86_INS_RET;
  finish_block(stop, p, last_calls);
  Label rip_stored;
  emit_edge_checks(p, rip_stored);
  e_.bind(stop);  // the block ran
  if (rip_in_rax_) e_.store64(HR13, reg_off(REG_RIP), HRAX);
  e_.bind(rip_stored);
  flush(written_);
  state_to_cpu(true);
  exit_with(kStop);
  e_.bind(stop_before);  // the block did not run: cached registers as they came
  if (rip_bias(b_) == 0) {
    e_.store64(HR13, reg_off(REG_RIP), HR12);  // (a chained block's is in R12 alone)
  } else {
    rip_plus(HRAX, 0);
    e_.store64(HR13, reg_off(REG_RIP), HRAX);
  }
  flush(written_);
  state_to_cpu(false);
  exit_with(kStop);
  return true;
}

void Translator::sync_counters(bool ran) {
  e_.store64(CPU_FIELD(cycles_), HRBP);
  if (ran) {
    e_.store64(CPU_FIELD(counters_.instructions), HR14);
  } else {
    e_.lea(HRDX, HR14, -int32_t(b_->count));
    e_.store64(CPU_FIELD(counters_.instructions), HRDX);
  }
}

void Translator::exit_with(uint64_t result) {
  e_.mov_imm(HRAX, result);
  e_.jmp_rel(buf_->exit_stub());
}

// The block ran to its end: retire it as execute_block does (less what
// settle_fast_path already retired), then go on to the next block's
// translation if no event is due and the successor cache has it.
void Translator::finish_block(Label& stop, unsigned part, bool last_calls) {
  Label folded, retired;
  // Only VM entry settles part of a block and goes on (events.cpp), from
  // VMLAUNCH/VMRESUME, which end their block: a block whose last entry is
  // inline has nothing folded.
  if (last_calls) {
    e_.load64(HRDX, CPU_FIELD(folded_count_));
    e_.test_rr(8, HRDX, HRDX);
    e_.jcc(0x5, folded);
  }
  e_.lea(HRBP, HRBP, int32_t(b_->total_cost));  // R14 is already the count after it
  e_.bind(retired);
  e_.cmp_mem64(HRBP, CPU_FIELD(next_event_));
  e_.jcc(0x3, stop);  // jae: an event is due
  if (!rip_in_rax_ || last_calls) e_.load64(HRAX, HR13, reg_off(REG_RIP));
  // A loop back to this block's own start that no final branch wrote out
  // (end_path), an inline RET's, with no handler call that could have
  // changed the translation of its RIP: run it again directly. (The way to
  // a pair's other part is always a branch's, written out by end_path.)
  if (!calls_ && nparts_ == 1) {
    e_.alu_rr(AluOp::Cmp, 8, HRAX, HR12);
    e_.jcc(0x4, starts_[part]);  // je
  }
  flush(written_);
  // The successor cache, as Cpu::chained_successor (whose jump-cache
  // fallback is the loop's, after kChainMiss): a slot whose RIP matches,
  // of this code generation, holding a block translated in this epoch
  // (the epoch cannot change while translated code runs).
  Label miss, found, second;
  constexpr int32_t kSlot = int32_t(sizeof(Block::Successor));
  constexpr int32_t kLa = int32_t(offsetof(Block::Successor, la)), kGen = int32_t(offsetof(Block::Successor, generation));
  e_.mov_imm(HRCX, uint64_t(reinterpret_cast<uintptr_t>(&b_->successors[0])));
  e_.load64(HRDX, CPU_FIELD(code_generation_));
  e_.cmp_mem64(HRAX, HRCX, kLa);
  e_.jcc(0x5, second);
  e_.cmp_mem64(HRDX, HRCX, kGen);
  e_.jcc(0x4, found);  // je
  e_.bind(second);
  e_.cmp_mem64(HRAX, HRCX, kSlot + kLa);
  e_.jcc(0x5, miss);
  e_.cmp_mem64(HRDX, HRCX, kSlot + kGen);
  e_.jcc(0x5, miss);
  e_.lea(HRCX, HRCX, kSlot);
  e_.bind(found);
  e_.load64(HRCX, HRCX, int32_t(offsetof(Block::Successor, block)));
  e_.cmp_mem_imm32(HRCX, int32_t(offsetof(Block, jit_epoch)), uint32_t(buf_->epoch()));
  e_.jcc(0x5, miss);  // not translated (yet): the loop runs it
  e_.mov_rr(HR12, HRAX);
  forget_edge_limit();
  e_.jmp_mem(HRCX, int32_t(offsetof(Block, jit_warm)));
  e_.bind(miss);
  e_.store64(HR13, reg_off(REG_RIP), HRAX);
  state_to_cpu(true);
  e_.mov_imm(HRAX, uint64_t(reinterpret_cast<uintptr_t>(b_)));
  e_.store64(CPU_FIELD(jit_block_), HRAX);
  exit_with(kChainMiss);

  if (!last_calls) return;
  // folded_count_ != 0: settle_fast_path retired part of the block.
  // RBP and the Cpu's instruction count are as the last call left them.
  e_.bind(folded);
  e_.lea(HRBP, HRBP, int32_t(b_->total_cost));
  e_.load64(HRCX, CPU_FIELD(folded_cost_));
  e_.alu_rr(AluOp::Sub, 8, HRBP, HRCX);
  e_.load64(HR14, CPU_FIELD(counters_.instructions));
  e_.lea(HR14, HR14, int32_t(b_->total_count));
  e_.load64(HRDX, CPU_FIELD(folded_count_));
  e_.alu_rr(AluOp::Sub, 8, HR14, HRDX);
  e_.alu_rr(AluOp::Xor, 4, HRCX, HRCX);
  e_.store64(CPU_FIELD(folded_cost_), HRCX);
  e_.store64(CPU_FIELD(folded_count_), HRCX);
  e_.jmp(retired);
}

// Whether entry n is written inline, touches no memory, calls nothing and
// sets every status flag without reading any: the ALU group on registers
// and immediates (not ADC/SBB), IMUL between registers, and shifts of a
// register by a nonzero count. Then the flags of the entries before it are
// never seen.
bool Translator::overwrites_flags(const DecodedInsn& n) {
  if (n.flags & (insn_flag::LOCK | insn_flag::REP | insn_flag::REPNE)) return false;
  const Operand& o0 = n.op[0];
  const Operand& o1 = n.op[1];
  switch (n.id) {
    case X86_INS_ADD: case X86_INS_OR: case X86_INS_AND: case X86_INS_SUB: case X86_INS_XOR:
    case X86_INS_CMP: case X86_INS_TEST: {
      const bool compare = n.id == X86_INS_CMP || n.id == X86_INS_TEST;
      return n.nops == 2 && is_gpr(o0, compare) && (o1.kind == OpKind::Imm || is_gpr(o1, true));
    }
    case X86_INS_IMUL:
      return (n.nops == 2 || (n.nops == 3 && n.op[2].kind == OpKind::Imm)) && is_gpr(o0) &&
             o1.kind == OpKind::Reg && is_gpr(o1);
    case X86_INS_SHL: case X86_INS_SAL: case X86_INS_SHR: case X86_INS_SAR:
      return n.nops == 2 && is_gpr(o0) && o1.kind == OpKind::Imm && (uint8_t(n.imm) & (o0.size == 8 ? 0x3f : 0x1f)) != 0;
    default:
      return false;
  }
}

// Whether entry n moves between memory and a register or from an
// immediate to memory, touching no status flag: MOV, and MOVZX, MOVSX and
// MOVSXD from memory, with a 64-bit address. (Written inline, or the
// translation, which may loop, is dropped: it calls no handler.)
bool Translator::memory_move(const DecodedInsn& n) {
  if ((n.flags & (insn_flag::LOCK | insn_flag::REP | insn_flag::REPNE)) || n.nops != 2) return false;
  const Operand& o0 = n.op[0];
  const Operand& o1 = n.op[1];
  switch (n.id) {
    case X86_INS_MOV:
      return (is_gpr(o0, true) && is_mem64(n, o1)) || (is_mem64(n, o0) && (is_gpr(o1, true) || o1.kind == OpKind::Imm));
    case X86_INS_MOVZX: case X86_INS_MOVSX: case X86_INS_MOVSXD:
      return is_gpr(o0) && is_mem64(n, o1);
    default: return false;
  }
}

// Whether entry n is written inline, touches neither memory nor a status
// flag, and calls nothing: moves between registers or from an immediate,
// LEA, MOVZX/MOVSX/MOVSXD between registers, a NOP without operands.
bool Translator::flag_neutral(const DecodedInsn& n) {
  if (n.flags & (insn_flag::LOCK | insn_flag::REP | insn_flag::REPNE)) return false;
  const Operand& o0 = n.op[0];
  const Operand& o1 = n.op[1];
  switch (n.id) {
    case X86_INS_NOP: return n.nops == 0;
    case X86_INS_MOV: case X86_INS_MOVABS:
      return n.nops == 2 && is_gpr(o0) && ((o1.kind == OpKind::Reg && is_gpr(o1)) || o1.kind == OpKind::Imm);
    case X86_INS_LEA: return is_gpr(o0) && is_mem64(n, o1);
    case X86_INS_MOVZX: case X86_INS_MOVSX: case X86_INS_MOVSXD:
      return n.nops == 2 && is_gpr(o0) && o1.kind == OpKind::Reg && !o1.high8 && (o1.size == 1 || o1.size == 2 || o1.size == 4);
    default: return false;
  }
}

// Whether the status flags entry k leaves are never seen: a later entry of
// the block overwrites them all (overwrites_flags) with only flag-neutral
// entries between, none of which can fault, exit or call.
bool Translator::flags_dead_after(unsigned k) const { return flags_dead_from(*b_, k + 1); }

// Whether block b, from its instruction j on, overwrites every status flag
// before anything can look at them.
bool Translator::flags_dead_from(const Block& b, unsigned j) {
  for (; j < b.count; ++j) {
    const DecodedInsn& n = b.insns[j];
    if (overwrites_flags(n)) return true;
    if (!flag_neutral(n)) return false;
  }
  return false;  // live out of the block
}

// TLB misses: the access through Cpu's slow path, with the entry's
// position stored first (a fault or VM exit there is the instruction's),
// then the rest of the instruction, then the early-exit check a handler
// call would have (a write to code ends the block).
void Translator::emit_slow_paths() {
  for (SlowPath& s : slow_) {
    const DecodedInsn& d = *s.d;
    b_ = s.block;
    if (s.slot >= 0) {  // the slot missed: the TLB, and on a hit the slot from it
      e_.bind(s.probe);
      probe_tlb(s);
      e_.store64(CPU_FIELD(jit_slots_[s.slot].tag), HRDX);
      e_.store64(CPU_FIELD(jit_slots_[s.slot].addend), HRCX);
      e_.jmp(s.hit);
    }
    e_.bind(s.at);
    if (s.addr != HRAX) e_.mov_rr(HRAX, s.addr);  // la
    const EdgeFlags& edge = edge_flags_[s.part];
    if (edge.on && s.entry < edge.until) {  // the flags of the edge into this part, into R11
      Label first;
      e_.cmp_mem64(HR14, CPU_FIELD(jit_entry_count_));
      e_.jcc(0x4, first);  // je: the first round, with the flags it came with
      e_.mov_rr(HRCX, HRAX);  // la
      make_edge_flags(edge.compare);
      e_.mov_rr(HRAX, HRCX);
      e_.bind(first);
    }
    if (s.imul.on) {  // the IMUL before this entry's flags, into R11 (lazy_imul_flags)
      const Pending was = pending_;
      e_.mov_rr(HRCX, HRAX);  // la
      if (s.imul.three) {
        e_.imul_rri(s.imul.size, HRDX, HRSI, s.imul.imm);
      } else {
        e_.mov_rr(HRDX, HRSI);
        e_.imul_rr(s.imul.size, HRDX, s.imul.src);
      }
      e_.lahf_seto();
      defer_flags(status_mask(X86_INS_IMUL));
      pending_ = was;
      e_.mov_rr(HRAX, HRCX);
    }
    flush(written_);  // the call may fault, or the access exit the block
    e_.mov_rr(HRSI, HRAX);  // la (set_fast_entry and set_rip use only RAX)
    materialize(/*keep=*/true);  // the access may fault
    e_.store64(CPU_FIELD(jit_saved_flags_), HR11);
    sync_counters(false);
    set_fast_entry(d);
    set_rip(d.end_off);
    e_.mov_imm(HRDX, s.size);
    if (s.write) {
      write_value(HRCX, d, s.value);
      cpu_to_rdi();  // (after the value, which may be a guest register in RDI)
      call_host(s.value == kValueOperand1 ? reinterpret_cast<const void*>(&Translator::slow_write)
                                          : reinterpret_cast<const void*>(&Translator::slow_push));
      reload_cached();  // the call clobbered RDI and R8-R10 (and a push wrote RSP)
      forget_edge_limit();
      e_.load64(HR11, CPU_FIELD(jit_saved_flags_));
      e_.load64(HRBP, CPU_FIELD(cycles_));
    } else {
      cpu_to_rdi();
      call_host(s.tail == kTailPop ? reinterpret_cast<const void*>(&Translator::slow_pop)
                                   : reinterpret_cast<const void*>(&Translator::slow_read));
      reload_cached();
      forget_edge_limit();
      e_.load64(HR11, CPU_FIELD(jit_saved_flags_));
      e_.load64(HRBP, CPU_FIELD(cycles_));
      e_.mov_rr(HRDX, HRAX);
      // The rest of the instruction, in CpuState too: an early exit
      // leaves from here.
      const uint16_t before = written_;
      written_ = 0;
      pending_ = Pending::None;  // (to see whether the tail defers flags)
      emit_tail(d, s.tail);
      flush(written_);
      written_ |= before;
      if (pending_ == Pending::Own) materialize(/*keep=*/true);
    }
    check_exit(s.k);
    e_.jmp(s.done);
  }
}

// Whether some form of instruction `id` is written inline (inline_entry):
// a block with an instruction that is not surely calls its handler, and is
// translated without cached registers at once rather than twice. (Only a
// filter: an inline form the list missed costs a retranslation, nothing
// else.)
static bool may_inline(unsigned id) {
  switch (id) {
    case X86_INS_NOP: case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVZX: case X86_INS_MOVSX:
    case X86_INS_MOVSXD: case X86_INS_SHL: case X86_INS_SAL: case X86_INS_SHR: case X86_INS_SAR:
    case X86_INS_IMUL: case X86_INS_LEA: case X86_INS_INC: case X86_INS_DEC: case X86_INS_ADD:
    case X86_INS_OR: case X86_INS_ADC: case X86_INS_SBB: case X86_INS_AND: case X86_INS_SUB:
    case X86_INS_XOR: case X86_INS_CMP: case X86_INS_TEST: case X86_INS_PUSH: case X86_INS_POP:
    case X86_INS_CALL: case X86_INS_RET: case X86_INS_JMP:
      return true;
    default:
      return jcc_condition(id) >= 0;
  }
}

const uint8_t* translate_block(Cpu& cpu, const Block& b, const Block* partner, CodeBuffer& buf, const uint8_t** warm,
                               bool* with_partner) {
  bool cache = true;
  for (unsigned k = 0; k < b.count && cache; ++k) cache = may_inline(b.insns[k].id);
  *with_partner = false;
  // A loop of two blocks runs as one translation only with its registers
  // in host registers: neither block may call a handler.
  for (unsigned k = 0; partner && k < partner->count; ++k)
    if (!may_inline(partner->insns[k].id)) partner = nullptr;
  if (cache && partner) {
    Translator pair(cpu, b, partner, /*cache=*/true);
    if (const uint8_t* code = pair.run(buf)) {
      *warm = code + pair.warm_offset();
      *with_partner = true;
      return code;
    }
  }
  Translator t(cpu, b, nullptr, cache);
  const uint8_t* code = t.run(buf);
  if (t.retry_without_cache()) {
    Translator plain(cpu, b, nullptr, /*cache=*/false);
    code = plain.run(buf);
    *warm = code ? code + plain.warm_offset() : nullptr;
    return code;
  }
  *warm = code ? code + t.warm_offset() : nullptr;
  return code;
}

#undef CPU_FIELD

}  // namespace nestbed::sim::jit
