// The run loop, the block cache and guest-memory slow paths.
#include "l0/sim/cpu/cpu.h"

#include <capstone/capstone.h>

#include <cinttypes>
#include <cstdio>
#include <utility>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "l0/sim/cpu/block.h"
#include "l0/sim/jit/code_buffer.h"
#include "l0/sim/jit/translator.h"
#include "l0/sim/cpu/decoder.h"
#include "l0/sim/cpu/exec_select.h"
#include "arch/vmx/vmx.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch;

void raise_fault(uint8_t vector) { throw GuestFault{vector, false, 0}; }
void raise_fault(uint8_t vector, uint32_t error_code) { throw GuestFault{vector, true, error_code}; }

Cpu::Cpu(GuestMemory& memory, PlatformDevices& devices, const CostModel& costs)
    : mem_(memory), dev_(devices), costs_(costs), decoder_(std::make_unique<Decoder>(costs)) {
  code_page_.assign_zero((mem_.size() + 0xfff) >> 12);
  tlb_writable_.assign_zero(code_page_.size());
  switch_tlb_context(0, true);
  vmx_ = std::make_unique<vmx::Vmx>(*this);
  dev_.apic.set_clock(this);
  set_translation(true);
}

void Cpu::set_translation(bool on, uint32_t after_runs) {
  translate_after_ = after_runs;
  if (!on) {
    jit_.reset();
  } else if (!jit_) {
    // Without executable memory (a system that forbids writable and
    // executable mappings) every block is interpreted, with the same results.
    try {
      jit_ = std::make_unique<jit::CodeBuffer>(
          int32_t(reinterpret_cast<const char*>(&cycles_) - reinterpret_cast<const char*>(this)),
          int32_t(offsetof(CpuState, rflags)) - jit::kStateBias);
    } catch (const std::bad_alloc&) {
      jit_.reset();
    }
  }
}

void Cpu::translate_block(Block* b) {
  Block* partner = loop_partner(*b);
  bool with_partner = false;
  b->jit_code = jit::translate_block(*this, *b, partner, *jit_, &b->jit_warm, &with_partner);
  b->jit_epoch = b->jit_code ? jit_->epoch() : 0;
  if (with_partner) {
    b->partner = partner;
    partner->partner = b;
    ++loop_pairs_translated_;
  }
  ++blocks_translated_;
}

// The other block of a loop of two that `b` begins: a block its final
// branch (either way) goes to, whose own final branch (either way) comes
// back to b. Both must lie wholly on one page, so that b's linear page
// maps the other's too, at the same distance as on the physical page (the
// translation finds it at R12 plus that distance). A block has at most
// one partner.
int Block::branch_targets(int64_t out[2]) const {
  const DecodedInsn& d = insns.back();
  if (d.op[0].kind != OpKind::Imm) return 0;
  if (d.id == X86_INS_JMP) {
    out[0] = int64_t(bytes) + int64_t(d.imm);
    return 1;
  }
  if (jcc_condition(d.id) < 0) return 0;
  out[0] = int64_t(bytes) + int64_t(d.imm);
  out[1] = int64_t(bytes);
  return 2;
}

Block* Cpu::loop_partner(const Block& b) const {
  auto one_page = [](const Block& x) { return x.pages[1] == ~0ull && (x.pa & 0xfff) + x.bytes <= 0x1000; };
  if (b.mode != CpuMode::Bits64 || !one_page(b) || b.insns.empty()) return nullptr;
  int64_t out[2];
  const int n = b.branch_targets(out);
  for (int k = 0; k < n; ++k) {
    const int64_t at = int64_t(b.pa & 0xfff) + out[k];
    if (out[k] == 0 || at < 0 || at >= 0x1000) continue;
    auto it = blocks_.find(((b.pa + uint64_t(out[k])) << 2) | uint64_t(b.mode));
    if (it == blocks_.end()) continue;
    Block* q = it->second;
    if (q->dead || !one_page(*q) || q->insns.empty() || (q->partner && q->partner != &b) ||
        (b.partner && b.partner != q))
      continue;
    int64_t back[2];
    const int m = q->branch_targets(back);
    for (int j = 0; j < m; ++j)
      if (back[j] == -out[k]) return q;
  }
  return nullptr;
}

Cpu::~Cpu() {
  for (auto& [key, b] : blocks_) delete b;
  for (Block* b : dead_blocks_) delete b;
  dev_.apic.set_clock(nullptr);
}

// Multiboot spec 3.2 "Machine state": CS a 32-bit read/execute code segment
// with offset 0 and limit 0xFFFFFFFF, the data segments likewise read/write,
// A20 enabled, CR0.PG = 0, CR0.PE = 1, EFLAGS.VM = 0, EFLAGS.IF = 0.
void Cpu::reset_to_multiboot(uint32_t entry, uint32_t eax, uint32_t ebx) {
  s_ = CpuState{};
  const uint32_t code_ar = seg::ar::P | seg::ar::S | seg::ar::DB | seg::ar::G | 0xb;  // exec/read, accessed
  const uint32_t data_ar = seg::ar::P | seg::ar::S | seg::ar::DB | seg::ar::G | 0x3;  // read/write, accessed
  for (unsigned i = 0; i < 6; ++i) s_.seg[i] = Segment{0x10, 0, 0xffffffff, data_ar};
  s_.seg[seg::CS] = Segment{0x08, 0, 0xffffffff, code_ar};
  s_.seg[SEG_NONE] = Segment{0, 0, 0xffffffff, data_ar};
  s_.ldtr = Segment{0, 0, 0xffff, 0x82};
  s_.tr = Segment{0, 0, 0xffff, 0x8b};
  s_.cr0 = cr0::PE | cr0::ET;
  s_.rflags = rflags::FIXED1;
  s_.r[RAX] = eax;
  s_.r[RBX] = ebx;
  s_.rip() = entry;
  s_.cpl = 0;
  halted_ = false;
  dbg_pending_ = dbg_hits_ = 0;
  recompute_mode();
  flush_tlb(true);
  flush_ept_cache();
  debug_registers_changed();
  update_alignment_check();
}

void Cpu::enter_long_mode_flat(uint64_t cr3) {
  const uint32_t code_ar = seg::ar::P | seg::ar::S | seg::ar::L | seg::ar::G | 0xb;
  const uint32_t data_ar = seg::ar::P | seg::ar::S | seg::ar::DB | seg::ar::G | 0x3;
  s_.seg[seg::CS] = Segment{0x08, 0, 0xffffffff, code_ar};
  for (unsigned i : {seg::DS, seg::ES, seg::SS, seg::FS, seg::GS}) s_.seg[i] = Segment{0x10, 0, 0xffffffff, data_ar};
  s_.cr0 = cr0::PE | cr0::ET | cr0::PG | cr0::WP | cr0::NE;
  s_.cr4 = cr4::PAE;
  s_.cr3 = cr3;
  s_.efer = efer::LME | efer::LMA | efer::NXE | efer::SCE;
  s_.cpl = 0;
  halted_ = false;
  recompute_mode();
  flush_tlb(true);
}

void Cpu::recompute_mode() {
  CpuMode m;
  const uint32_t cs_ar = s_.seg[seg::CS].ar;
  if ((s_.efer & efer::LMA) && (cs_ar & seg::ar::L))
    m = CpuMode::Bits64;
  else
    m = (cs_ar & seg::ar::DB) ? CpuMode::Bits32 : CpuMode::Bits16;
  if (m != mode_) new_fetch_generation();
  mode_ = m;
  exit_block_ = true;
}

void Cpu::stop(CpuStop why, std::string message) {
  if (stop_ != CpuStop::None) return;
  stop_ = why;
  stop_message_ = std::move(message);
  exit_block_ = true;
}

// ---------------------------------------------------------------- run loop

CpuStop Cpu::run(uint64_t max_instructions) {
  stop_ = CpuStop::None;
  stop_message_.clear();
  const uint64_t limit = max_instructions ? max_instructions : ~0ull;
  limit_ = limit;
  string_iterations_ = 0;
  check_events_soon();
  while (stop_ == CpuStop::None) {
    // Debug traps of the last instruction (or loaded by VM entry) come
    // first at the boundary, before NMIs and interrupts (SDM 6.9, table
    // 6-2), unless MOV SS / POP SS holds them over the next instruction
    // (SDM 6.8.3).
    if (NB_UNLIKELY(dbg_pending_) && !shadow_by_mov_ss()) {
      deliver_debug_trap();
      continue;
    }
    if (NB_UNLIKELY(cycles_ >= next_event_ || halted_)) {
      service_events();
      if (stop_ != CpuStop::None) break;
      if (halted_) continue;
    }
    if (counters_.instructions + string_iterations_ >= limit) {
      char msg[96];
      std::snprintf(msg, sizeof msg, "instruction limit reached (%" PRIu64 " instructions)", limit);
      stop(CpuStop::InstructionLimit, msg);
      break;
    }
    if (NB_UNLIKELY(!dead_blocks_.empty())) free_dead_blocks();
    const bool in_shadow = shadow_;
    // Monitor trap flag: one guest instruction, then an exit (SDM 25.5.2).
    const bool mtf = non_root_ && vmx_->mtf_pending();
    const bool debug = debug_stepping();
    uint64_t budget = (in_shadow || mtf || debug) ? 1 : limit - counters_.instructions - string_iterations_;
    fault_rip_ = s_.rip();
    string_interrupted_ = false;
    const DebugStep step{s_.rflags, event_count()};
    try {
      if (NB_UNLIKELY(debug)) check_instruction_breakpoint();
      Block* b = lookup_block();
      if (NB_UNLIKELY(debug)) {  // for DEBUGCTL.BTF and LBR
        dbg_fallthrough_ = fault_rip_ + b->insns[0].len;
        dbg_branch_ = lbr_branch_class(b->insns[0]);
      }
      execute_block(b, budget);
    } catch (const GuestFault& f) {
      abandon_fast_path();
      tpr_shadow_update_ = false;  // the instruction did not complete
      apic_write_offset_ = kNoApicWrite;
      s_.rip() = fault_rip_;
      ++counters_.exceptions;
      deliver_event(f.vector, f.has_error_code, f.error_code, false, false, 0);
    } catch (const vmx::VmExitRequest& r) {
      abandon_fast_path();
      tpr_shadow_update_ = false;
      apic_write_offset_ = kNoApicWrite;
      s_.rip() = fault_rip_;
      deliver_vm_exit(r);
    } catch (const X87Freeze&) {
      // Frozen before the instruction until an interrupt (exec_x87.cpp):
      // halted with RIP on it, so the interrupt returns to it.
      abandon_fast_path();
      tpr_shadow_update_ = false;
      apic_write_offset_ = kNoApicWrite;
      s_.rip() = fault_rip_;
      restart_ = true;
      halted_ = true;
    }
    if (NB_UNLIKELY(pending_exit_.valid)) {
      tpr_shadow_update_ = false;  // the instruction did not complete
      apic_write_offset_ = kNoApicWrite;
      deliver_pending_exit();
    }
    if (in_shadow) {
      shadow_ = false;
      check_events_soon();
    }
    if (NB_UNLIKELY(debug || dbg_hits_)) end_debug_step(step);
    restart_ = false;
    // After the instruction retired (so a blocking by STI or MOV SS it ran
    // under has ended), before an MTF exit and any pending event: a
    // TPR-shadow update has priority over SMIs, INIT and lower-priority
    // events (SDM 29.1.2).
    if (NB_UNLIKELY(tpr_shadow_update_ || apic_write_offset_ != kNoApicWrite)) after_apic_virtualization();
    if (mtf && non_root_ && vmx_->mtf_pending() && stop_ == CpuStop::None) {
      vmx_->clear_mtf();
      deliver_vm_exit(vmx::VmExitRequest{uint32_t(arch::vmx::ExitReason::MONITOR_TRAP_FLAG)});
    }
  }
  return stop_;
}

NB_INLINE Block* Cpu::chained_successor(Block* b, uint64_t la) {
  for (const Block::Successor& s : b->successors)
    if (s.la == la && s.generation == code_generation_) return s.block;
  const JumpCacheEntry& jc = jump_cache_slot(la);
  if (jc.la != la || jc.generation != code_generation_ || jc.block->mode != mode_) return nullptr;
  b->successors[b->next_successor] = Block::Successor{la, code_generation_, jc.block};
  b->next_successor ^= 1;
  return jc.block;
}

// Runs `b` and, while nothing needs the run loop (no event due, no state
// change, budget left), the blocks that follow it: a successor is found
// through the block's own successor cache or the jump cache, never by a
// page walk or a decode. An entry costs a store of its position, RIP and
// the handler's call: cycles and instructions are retired per block
// (DecodedInsn::before_cost), and fault_rip() is worked out from the
// position only when something asks.
void Cpu::execute_block(Block* b, uint64_t budget) {
  // Blocks chain by RIP, which is the linear address only in 64-bit mode
  // (CS has no base there). A mode change ends the block it happens in.
  const bool chain = mode_ == CpuMode::Bits64;
  // Set by a handler that ends its block, which then returns: false
  // again whenever the loop reaches the next block.
  exit_block_ = false;
  for (;;) {
    const size_t n = b->count;
    // A budget that ends inside the block (an instruction limit, one step
    // for an interrupt shadow or the monitor trap flag) runs it one
    // instruction at a time: fused pairs would overshoot.
    if (NB_UNLIKELY(budget < n)) return execute_steps(b, budget);
    const uint64_t base = s_.r[REG_RIP];
    block_rip_ = base;
    if (b->jit_code && jit_ && b->jit_epoch == jit_->epoch()) {
      // The translation runs this block and those that follow it, retiring
      // each (jit/translator.h).
      jit_limit_ = counters_.instructions + budget;
      const uint64_t r = jit_->entry()(this, reinterpret_cast<char*>(&s_) + jit::kStateBias, b->jit_code);
      jit_edge_limit_ = 0;
      if (NB_UNLIKELY(r > jit::kChainMiss)) return retire_early(reinterpret_cast<const DecodedInsn*>(r));
      fast_entry_ = nullptr;
      if (r == jit::kStop) return;
      budget = jit_limit_ - counters_.instructions;
      if (budget == 0) return;
      b = chained_successor(jit_block_, s_.r[REG_RIP]);
      if (!b) return;
      continue;
    } else {
      const DecodedInsn* i = b->insns.data();
      const DecodedInsn* const end = b->fast_end;  // a fused pair is the last entry
      for (; i != end; ++i) {
        fast_entry_ = i;
        s_.r[REG_RIP] = base + i->end_off;
        i->fast(*this, *i);
        if (NB_UNLIKELY(exit_block_)) return retire_early(i);
      }
      if (jit_ && b->mode == CpuMode::Bits64 && ++b->runs >= translate_after_) translate_block(b);
    }
    fast_entry_ = nullptr;
    uint64_t cost = b->total_cost, count = b->total_count;
    if (NB_UNLIKELY(folded_count_ != 0)) {
      cost -= folded_cost_;
      count -= folded_count_;
      folded_cost_ = folded_count_ = 0;
    }
    cycles_ += cost;
    counters_.instructions += count;
    budget -= n;
    if (budget == 0 || cycles_ >= next_event_ || !chain) return;
    b = chained_successor(b, s_.r[REG_RIP]);
    if (!b) return;
  }
}

// The fast path's entry `i` ended the block: it retired, or (a VM exit
// instead of the instruction) it did not and RIP goes back to it.
void Cpu::retire_early(const DecodedInsn* i) {
  settle_fast_path();  // the entries before `i`
  if (!pending_exit_.valid && !restart_) {
    cycles_ += i->fast_cost;
    counters_.instructions += i->fast_count;
  } else {
    fault_rip_ = block_rip_ + i->start_off;
  }
  folded_cost_ = folded_count_ = 0;
}

uint64_t Cpu::string_iteration_allowance() const {
  // Single-step traps after each iteration (SDM 18.3.1.4), as MTF exits.
  if ((non_root_ && vmx_->mtf_pending()) ||
      ((s_.rflags & arch::rflags::TF) && !(s_.debugctl & arch::msr::DEBUGCTL_BTF)))
    return 1;
  const uint64_t used = instructions() + string_iterations_;
  return limit_ > used ? limit_ - used : 1;
}

void Cpu::stop_string_instruction(uint64_t iterations) {
  string_iterations_ += iterations;
  string_interrupted_ = true;
  s_.rip() = fault_rip();
  restart_ = true;
  exit_block_ = true;
}

void Cpu::settle_fast_path() {
  const DecodedInsn* i = fast_entry_;
  if (!i) return;
  cycles_ += i->before_cost - folded_cost_;
  counters_.instructions += i->before_count - folded_count_;
  folded_cost_ = i->before_cost;
  folded_count_ = i->before_count;
  fault_rip_ = block_rip_ + i->start_off;
  fast_entry_ = nullptr;
}

// The first `budget` instructions of `b`, each on its own (no fused pairs).
void Cpu::execute_steps(Block* b, uint64_t budget) {
  const DecodedInsn* i = b->insns.data();
  const DecodedInsn* end = i + budget;
  for (; i != end; ++i) {
    const uint64_t rip = s_.r[REG_RIP];
    fault_rip_ = rip;
    s_.r[REG_RIP] = rip + i->len;
    step_insn_ = i;
    i->fn(*this, *i);
    step_insn_ = nullptr;
    if (NB_UNLIKELY(exit_block_)) {
      if (pending_exit_.valid || restart_) return;
      cycles_ += i->cost;
      ++counters_.instructions;
      return;
    }
    cycles_ += i->cost;
    ++counters_.instructions;
  }
}

// ------------------------------------------------------------- block cache

Block* Cpu::lookup_block() {
  uint64_t la = s_.rip();
  if (mode_ != CpuMode::Bits64) {
    const Segment& cs = s_.seg[seg::CS];
    if (la > cs.limit) raise_gp(0);  // SDM 5.3: fetch beyond the CS limit
    la = uint32_t(cs.base + la);
  }
  JumpCacheEntry& jc = jump_cache_slot(la);
  if (NB_LIKELY(jc.la == la && jc.generation == code_generation_ && jc.block->mode == mode_)) return jc.block;

  const uint64_t pa = translate(la, Access::Exec);
  Block* b;
  auto it = blocks_.find((pa << 2) | uint64_t(mode_));
  if (it != blocks_.end()) {
    b = it->second;
  } else {
    b = decode_block(la, pa);
  }
  jc = JumpCacheEntry{la, code_generation_, b};
  return b;
}

Block* Cpu::decode_block(uint64_t la, uint64_t pa) {
  if (!mem_.contains(pa)) {
    // Fetching from outside RAM reads all-ones bytes: 0xFF 0xFF is an
    // invalid encoding, so the architectural result is #UD.
    std::fprintf(stderr, "nestbed: guest fetched code from non-RAM physical address 0x%" PRIx64 " (rip 0x%" PRIx64 ")\n", pa, s_.rip());
    raise_ud();
  }
  // Owned until it is cached: decoding can raise a guest fault (#PF on the
  // second page of an instruction that straddles two).
  auto owned = std::make_unique<Block>();
  owned->pa = pa;
  owned->mode = mode_;
  decoder_->decode_block(*this, la, pa, *owned);
  owned->count = uint32_t(owned->insns.size());
  owned->fast_end = owned->insns.data() + owned->fast_entries;  // insns is never resized again
  for (const DecodedInsn& i : owned->insns) owned->bytes += i.len;
  // An undecodable instruction depends on up to 15 bytes (the longest
  // instruction): a write to any of them may make it valid.
  if (owned->insns.back().fn == &h_invalid_opcode) owned->bytes += 14;
  Block* b = owned.release();
  ++counters_.blocks_decoded;
  blocks_[(pa << 2) | uint64_t(mode_)] = b;
  for (uint64_t page : b->pages)
    if (page != ~0ull) mark_code_page(page, b);
  return b;
}

void Cpu::mark_code_page(uint64_t page, Block* b) {
  CodePage& cp = page_blocks_[page];
  cp.blocks.push_back(b);
  unsigned first, end;
  if (b->range_on(page, &first, &end)) cp.chunks |= chunk_mask(first, end);
  if (code_page_[page]) return;
  code_page_[page] = 1;
  // Writes to this page must now take the slow path, which checks them
  // against the code chunks (translations stay cached in tag_wc). The
  // contexts are searched only if some entry may give the page a write tag:
  // at depth 1 they are two of 512 KiB, and a boot marks hundreds of pages.
  if (!tlb_writable_[page]) return;
  tlb_writable_[page] = 0;
  for (auto& [key, context] : tlb_contexts_)
    context.for_each_used([page](TlbEntry& e) {
      if (e.pa_page == (page << 12) && e.tag_w != TAG_INVALID) {
        e.tag_wc = e.tag_w;
        e.tag_w = TAG_INVALID;
      }
    });
}

// A guest write changes bytes [first, end) of a page holding decoded code:
// drop the blocks decoded from those bytes (self-modifying code), keep the
// others, and recompute which chunks still hold code.
void Cpu::invalidate_code_bytes(uint64_t page, unsigned first, unsigned end) {
  auto it = page_blocks_.find(page);
  if (it == page_blocks_.end()) return;
  CodePage& cp = it->second;
  if (!(cp.chunks & chunk_mask(first, end))) return;  // data next to code
  uint64_t chunks = 0;
  bool dropped = false;
  for (size_t k = 0; k < cp.blocks.size();) {
    Block* b = cp.blocks[k];
    unsigned bf = 0, be = 0;
    const bool on_page = !b->dead && b->range_on(page, &bf, &be);
    if (on_page && (bf >= end || be <= first)) {  // untouched: keeps its chunks
      chunks |= chunk_mask(bf, be);
      ++k;
      continue;
    }
    if (on_page) {
      drop_block(b);
      dropped = true;
    }
    cp.blocks[k] = cp.blocks.back();
    cp.blocks.pop_back();
  }
  cp.chunks = chunks;
  if (cp.blocks.empty()) {
    page_blocks_.erase(it);
    code_page_[page] = 0;
  }
  if (!dropped) return;
  new_fetch_generation_all();
  ++counters_.code_invalidations;
  exit_block_ = true;  // the running block may be one of them
}

// A block whose code changed, and the other block of a loop of two whose
// translation holds its code (Block::partner; on the same page, still
// listed under it until free_dead_blocks).
void Cpu::drop_block(Block* b) {
  for (Block* x : {b, b->partner}) {
    if (!x || x->dead) continue;
    x->dead = true;
    blocks_.erase((x->pa << 2) | uint64_t(x->mode));
    dead_blocks_.push_back(x);
  }
}

void Cpu::free_dead_blocks() {
  for (Block* b : dead_blocks_) {
    // A dead block may still be listed under its other page.
    for (uint64_t page : b->pages) {
      auto it = page_blocks_.find(page);
      if (it == page_blocks_.end()) continue;
      auto& v = it->second.blocks;
      for (size_t k = 0; k < v.size();)
        if (v[k] == b) v[k] = v.back(), v.pop_back();
        else ++k;
      if (v.empty()) {
        page_blocks_.erase(it);
        if (page < code_page_.size()) code_page_[page] = 0;
      }
    }
    delete b;
  }
  dead_blocks_.clear();
}

// Called before the bytes are stored. A write that leaves the bytes as they
// are changes no instruction, so it keeps every block (a guest storing
// zeros into zero-filled memory it executes, for one).
void Cpu::note_code_write(uint64_t pa, unsigned size, uint64_t value) {
  const uint64_t first_page = pa >> 12, last_page = (pa + size - 1) >> 12;
  if (!code_page_[first_page] && !code_page_[last_page]) return;  // the common case: no code here
  if (std::memcmp(mem_.ptr(pa), &value, size) == 0) return;
  for (uint64_t p = first_page; p <= last_page; ++p) {
    if (p >= code_page_.size() || !code_page_[p]) continue;
    const uint64_t lo = p == first_page ? pa : p << 12;
    const uint64_t hi = p == last_page ? pa + size : (p + 1) << 12;
    invalidate_code_bytes(p, unsigned(lo & 0xfff), unsigned(hi - (p << 12)));
  }
}

// ------------------------------------------------------------ VMX glue

void Cpu::after_apic_virtualization() {
  const bool tpr = std::exchange(tpr_shadow_update_, false);
  const uint16_t offset = std::exchange(apic_write_offset_, kNoApicWrite);
  if (!non_root_) return;
  vmx::VmExitRequest r{0};
  if (offset != kNoApicWrite ? vmx_->apic_write_emulation(offset, r) : tpr && vmx_->tpr_shadow_update(r))
    deliver_vm_exit(r);
}

void Cpu::deliver_vm_exit(const vmx::VmExitRequest& r) {
  const uint64_t guest_rip = r.rip_after ? s_.rip() + r.insn_len : s_.rip();
  vmx_->vm_exit(r, guest_rip);
}

void Cpu::vm_exit_pending(const DecodedInsn& i, uint32_t reason, uint64_t qualification, uint32_t insn_info) {
  pending_exit_ = PendingExit{true, reason, i.len, insn_info, qualification};
  exit_block_ = true;
}

// As the run loop's catch of a thrown VmExitRequest.
void Cpu::deliver_pending_exit() {
  vmx::VmExitRequest r{pending_exit_.reason};
  r.qualification = pending_exit_.qualification;
  r.insn_len = pending_exit_.insn_len;
  r.insn_info = pending_exit_.insn_info;
  pending_exit_.valid = false;
  s_.rip() = fault_rip_;
  deliver_vm_exit(r);
}

void Cpu::vm_exit_insn(const DecodedInsn& i, uint32_t reason, uint64_t qualification, uint32_t insn_info) {
  vmx::VmExitRequest r{reason};
  r.qualification = qualification;
  r.insn_len = i.len;
  r.insn_info = insn_info;
  throw r;
}

void Cpu::switch_tlb_context(uint64_t key, bool flush) {
  tlb_base_key_ = key;
  const uint64_t pcid_key = key | (uint64_t(current_pcid()) << TLB_KEY_PCID_SHIFT);
  if (flush) {
    for (auto& [k, context] : tlb_contexts_) {
      if (k == pcid_key || tlb_vmx_key(k) != key) continue;
      context.clear(true);
      context_generation_[k] = ++generation_counter_;
    }
  }
  select_tlb_context(pcid_key, flush);
}

uint16_t Cpu::current_pcid() const { return (s_.cr4 & arch::cr4::PCIDE) ? uint16_t(s_.cr3 & 0xfff) : 0; }

void Cpu::select_tlb_context(uint64_t key, bool flush) {
  if (key >> TLB_KEY_PCID_SHIFT) pcids_used_ = true;
  TlbContext& context = tlb_contexts_[key];  // a new one is empty
  if (flush) context.clear(true);
  tlb_context_ = &context;
  tlb_ = context.entries.data();
  tlb_key_ = key;
  jc_salt_ = (key * 0x9e3779b97f4a7c15ull) >> (64 - JC_BITS);  // a slot offset per context
  uint64_t& generation = context_generation_[key];
  if (flush || generation == 0) generation = ++generation_counter_;
  code_generation_ = generation;
}

void Cpu::new_fetch_generation() {
  code_generation_ = ++generation_counter_;
  context_generation_[tlb_key_] = code_generation_;
}

void Cpu::new_fetch_generation_all() {
  for (auto& [key, generation] : context_generation_) generation = ++generation_counter_;
  code_generation_ = context_generation_[tlb_key_];
}

void Cpu::annotate() {
  if (!trace_) return;
  AnnotationEvent e{};
  e.cycles = cycles();
  e.instructions = instructions();
  e.rip = fault_rip();
  for (unsigned k = 0; k < 16; ++k) e.regs[k] = s_.r[k];
  e.non_root = non_root_;
  e.vmcs = vmx_->current_vmcs_pointer();
  trace_->annotation(e);
}

// ------------------------------------------------------ memory slow paths

uint64_t Cpu::phys_read(uint64_t pa, unsigned size) {
  if (mem_.contains(pa, size)) {
    uint64_t v = 0;
    std::memcpy(&v, mem_.ptr(pa), size);
    return v;
  }
  uint64_t v = dev_.bus.mmio_read(pa, size);
  check_events_soon();
  return v;
}

void Cpu::phys_write(uint64_t pa, unsigned size, uint64_t value) {
  if (mem_.contains(pa, size)) {
    note_code_write(pa, size, value);
    std::memcpy(mem_.ptr(pa), &value, size);
    return;
  }
  dev_.bus.mmio_write(pa, size, value);
  check_events_soon();  // e.g. an APIC EOI or timer write
}

uint64_t Cpu::read_slow(uint64_t la, unsigned size, Access a) {
  check_alignment(la, size, a);
  if ((la & 0xfff) + size > 0x1000) {  // split across two pages
    uint64_t v = 0;
    for (unsigned k = 0; k < size; ++k) v |= read_slow(la + k, 1, a) << (8 * k);
    return v;
  }
  const uint64_t v = phys_read(translate(la, a, false, size), size);
  watch_data(la, size, a);
  return v;
}

void Cpu::write_slow(uint64_t la, uint64_t size, uint64_t value) {
  check_alignment(la, unsigned(size), Access::Write);
  watch_data(la, unsigned(size), Access::Write);  // a trap: reported after the instruction
  if ((la & 0xfff) + size > 0x1000) {
    // Both pages must be writable before any byte is written.
    const unsigned first = unsigned(0x1000 - (la & 0xfff));
    const uint64_t pa0 = translate(la, Access::Write, false, first);
    const uint64_t pa1 = translate(la + first, Access::Write, false, unsigned(size - first));
    for (unsigned k = 0; k < size; ++k)
      phys_write(k < first ? pa0 + k : pa1 + (k - first), 1, (value >> (8 * k)) & 0xff);
    return;
  }
  const uint64_t pa = translate(la, Access::Write, false, unsigned(size));
  phys_write(pa, unsigned(size), value);
  // The page's code is gone: give its writes the fast path back.
  TlbEntry& e = tlb_[(la >> 12) & TLB_MASK];
  if (e.tag_wc == (la & ~0xfffull) && (pa >> 12) < code_page_.size() && !code_page_[pa >> 12]) {
    e.tag_w = e.tag_wc;
    e.tag_wc = TAG_INVALID;
    tlb_writable_[pa >> 12] = 1;
  }
}

uint64_t Cpu::rmw_read(uint64_t la, unsigned size) {
  const unsigned first = (la & 0xfff) + size > 0x1000 ? unsigned(0x1000 - (la & 0xfff)) : size;
  translate(la, Access::Write, false, first);
  if (first < size) translate(la + first, Access::Write, false, size - first);
  return read_slow(la, size, Access::Read);
}

uint8_t* Cpu::host_span(uint64_t la, uint64_t len, Access a) {
  if (len == 0 || (la & 0xfff) + len > 0x1000) return nullptr;
  // Watched bytes go element by element, so a hit stops the string
  // instruction after its iteration.
  if (NB_UNLIKELY(data_breakpoints_) && data_breakpoint_on_page(la & ~0xfffull)) return nullptr;
  if (NB_UNLIKELY(alignment_check_)) return nullptr;  // element by element, each checked
  const uint64_t pa = translate(la, a, false, unsigned(len));
  if (!mem_.contains(pa, len)) return nullptr;
  if (a == Access::Write && code_page_[pa >> 12]) return nullptr;
  return mem_.ptr(pa);
}

}  // namespace nestbed::sim
