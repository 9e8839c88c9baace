#include "l0/sim/cpu/decoder.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "arch/x86/segment.h"
#include "l0/sim/cpu/block.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/fast_decoder.h"

namespace nestbed::sim {

namespace {

struct RegInfo {
  OpKind kind = OpKind::None;
  uint8_t index = 0;
  uint8_t size = 0;
  bool high8 = false;
};

// Capstone register id → the project's register numbering, built once from
// Capstone's register names so no table of Capstone ids is written by hand.
const std::array<RegInfo, X86_REG_ENDING>& register_table(csh h) {
  static const std::array<RegInfo, X86_REG_ENDING> table = [h] {
    std::array<RegInfo, X86_REG_ENDING> t{};
    static const char* r64[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"};
    static const char* r32[] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
    static const char* r16[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
    static const char* r8[] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
    static const char* r8h[] = {"ah", "ch", "dh", "bh"};
    static const char* segs[] = {"es", "cs", "ss", "ds", "fs", "gs"};
    for (unsigned id = 1; id < X86_REG_ENDING; ++id) {
      const char* name = cs_reg_name(h, id);
      if (!name) continue;
      const std::string n = name;
      RegInfo& r = t[id];
      for (uint8_t k = 0; k < 8; ++k) {
        if (n == r64[k]) r = {OpKind::Reg, k, 8, false};
        if (n == r32[k]) r = {OpKind::Reg, k, 4, false};
        if (n == r16[k]) r = {OpKind::Reg, k, 2, false};
        if (n == r8[k]) r = {OpKind::Reg, k, 1, false};
        if (k < 4 && n == r8h[k]) r = {OpKind::Reg, k, 1, true};
        if (k < 6 && n == segs[k]) r = {OpKind::SegReg, k, 2, false};
      }
      for (uint8_t k = 0; k < 16; ++k)
        if (n == "xmm" + std::to_string(k)) r = {OpKind::Xmm, k, 16, false};
      for (uint8_t k = 0; k < 8; ++k)
        if (n == "mm" + std::to_string(k)) r = {OpKind::Mmx, k, 8, false};
      for (uint8_t k = 8; k < 16; ++k) {
        const std::string base = "r" + std::to_string(k);
        if (n == base) r = {OpKind::Reg, k, 8, false};
        if (n == base + "d") r = {OpKind::Reg, k, 4, false};
        if (n == base + "w") r = {OpKind::Reg, k, 2, false};
        if (n == base + "b") r = {OpKind::Reg, k, 1, false};
      }
      if (n == "rip" || n == "eip" || n == "ip") r = {OpKind::Reg, REG_RIP, 8, false};
      if (n.size() >= 3 && (n.compare(0, 2, "cr") == 0 || n.compare(0, 2, "dr") == 0) &&
          n.find_first_not_of("0123456789", 2) == std::string::npos) {
        r = {n[0] == 'c' ? OpKind::CtrlReg : OpKind::DebugReg, uint8_t(std::stoi(n.substr(2))), 8, false};
      }
    }
    return t;
  }();
  return table;
}

}  // namespace

Decoder::Decoder(const CostModel& costs) : costs_(costs) {
  scratch_.reserve(kMaxBlockInsns);
  const cs_mode modes[3] = {CS_MODE_16, CS_MODE_32, CS_MODE_64};
  for (int k = 0; k < 3; ++k) {
    if (cs_open(CS_ARCH_X86, modes[k], &handle_[k]) != CS_ERR_OK) throw std::runtime_error("capstone: cs_open failed");
    cs_option(handle_[k], CS_OPT_DETAIL, CS_OPT_ON);
  }
  insn_ = cs_malloc(handle_[2]);
  register_table(handle_[2]);
}

Decoder::~Decoder() {
  if (insn_) cs_free(insn_, 1);
  for (csh& h : handle_)
    if (h) cs_close(&h);
}

bool Decoder::decode_one(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d) {
  return decode_fast(mode, bytes, n, address, d) || decode_with_capstone(mode, bytes, n, address, d);
}

bool Decoder::decode_fast(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d) {
  DecodeKey key;
  if (!fast_decode(mode, bytes, n, address, d, key)) return false;
  finish(key, true, mode, d);
  return true;
}

bool Decoder::decode_with_capstone(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address, DecodedInsn& d) {
  const uint8_t* code = bytes;
  size_t size = n;
  uint64_t addr = address;
  if (!cs_disasm_iter(handle_[unsigned(mode)], &code, &size, &addr, insn_)) return false;
  const cs_x86& x = insn_->detail->x86;
  const bool operands_ok = fill_from_capstone(*insn_, mode, d);
  finish({insn_->id, {x.opcode[0], x.opcode[1]}, x.modrm}, operands_ok, mode, d);
  return true;
}

bool Decoder::convert_operand(const cs_x86_op& o, const cs_x86& x, CpuMode mode, DecodedInsn& d, unsigned n,
                              unsigned* imm_count) {
  Operand& op = d.op[n];
  op.size = o.size;
  const auto& regs = register_table(handle_[2]);
  switch (o.type) {
    case X86_OP_REG: {
      const RegInfo& r = regs[o.reg];
      if (r.kind == OpKind::None) return false;
      op.kind = r.kind;
      op.reg = r.index;
      op.high8 = r.high8;
      if (r.kind == OpKind::Reg || r.kind == OpKind::Xmm) op.size = r.size;
      return true;
    }
    case X86_OP_IMM:
      op.kind = OpKind::Imm;
      (*imm_count == 0 ? d.imm : d.imm2) = uint64_t(o.imm);
      ++*imm_count;
      return true;
    case X86_OP_MEM: {
      op.kind = OpKind::Mem;
      d.mem_base = o.mem.base == X86_REG_INVALID ? uint8_t(REG_ZERO) : regs[o.mem.base].index;
      d.mem_index = o.mem.index == X86_REG_INVALID ? uint8_t(REG_ZERO) : regs[o.mem.index].index;
      if ((o.mem.base != X86_REG_INVALID && regs[o.mem.base].kind != OpKind::Reg) ||
          (o.mem.index != X86_REG_INVALID && regs[o.mem.index].kind != OpKind::Reg))
        return false;
      d.mem_scale = o.mem.scale == 8 ? 3 : o.mem.scale == 4 ? 2 : o.mem.scale == 2 ? 1 : 0;
      d.disp = o.mem.disp;
      set_memory_segment(d, segment_from_prefix(x.prefix[1]), mode);
      return true;
    }
    default:
      return false;
  }
}

// The raw fields of `d` from Capstone's detail; false if an operand has no
// counterpart in DecodedInsn (finish then tries the x87 forms).
bool Decoder::fill_from_capstone(const cs_insn& ci, CpuMode mode, DecodedInsn& d) {
  const cs_x86& x = ci.detail->x86;
  d = DecodedInsn{};
  d.len = uint8_t(ci.size);
  d.id = uint16_t(ci.id);
  d.addrsize = x.addr_size ? x.addr_size : (mode == CpuMode::Bits64 ? 8 : mode == CpuMode::Bits32 ? 4 : 2);
  if (x.prefix[0] == X86_PREFIX_REP) d.flags |= insn_flag::REP;
  if (x.prefix[0] == X86_PREFIX_REPNE) d.flags |= insn_flag::REPNE;
  if (x.prefix[0] == X86_PREFIX_LOCK) d.flags |= insn_flag::LOCK;
  d.opsize = default_operand_size(mode, x.prefix[2] == X86_PREFIX_OPSIZE, (x.rex & 8) != 0);
  // String instructions default to DS for their source.
  d.mem_seg = segment_from_prefix(x.prefix[1]);
  if (d.mem_seg == 0xff) d.mem_seg = arch::seg::DS;

  bool ok = x.op_count <= 3;
  unsigned imm_count = 0;
  d.nops = x.op_count;
  for (unsigned k = 0; ok && k < x.op_count; ++k) ok = convert_operand(x.operands[k], x, mode, d, k, &imm_count);
  // Capstone gives relative branches an absolute target; a block is keyed
  // by physical address and may run at another linear address, so keep the
  // displacement from the next instruction instead.
  if (ok && x.op_count == 1 && x.operands[0].type == X86_OP_IMM && ci.id != X86_INS_LJMP && ci.id != X86_INS_LCALL &&
      cs_insn_group(handle_[unsigned(mode)], &ci, CS_GRP_BRANCH_RELATIVE))
    d.imm = uint64_t(x.operands[0].imm) - (ci.address + ci.size);
  return ok;
}

// The handler, cost and the rest the select_* families set, from the raw
// fields either decoder filled in; the same for both.
void Decoder::finish(const DecodeKey& key, bool operands_ok, CpuMode mode, DecodedInsn& d) {
  const unsigned id = key.id;
  bool ok = operands_ok;
  if (ok) {
    // SSE first: Capstone gives MOVSD and CMPSD one id for the string
    // instruction and the SSE2 one; select_sse takes the forms with XMM operands.
    ok = select_mmx(id, key.opcode[1], key.modrm, d, mode, costs_) ||  // MMX registers before SSE's
         select_sse(id, d, mode, costs_) || select_alu(id, d, mode, costs_) || select_data(id, d, mode, costs_) ||
         select_control(id, d, mode, costs_) || select_string(id, d, mode, costs_) ||
         select_system(id, d, mode, costs_) || select_vmx(id, d, mode, costs_) ||
         select_xsave(id, d, mode, costs_);
  }
  if (!ok) ok = select_x87(id, key.opcode[0], key.modrm, d, mode, costs_);  // ST(i) operands are not converted
  if (!ok) {
    d.fn = &h_unimplemented;
    d.flags |= insn_flag::ENDS_BLOCK;
    return;
  }
  // LOCK is allowed only on read-modify-write instructions with a memory
  // destination; elsewhere it raises #UD (SDM vol. 2, LOCK).
  if ((d.flags & insn_flag::LOCK) && (!lockable(id) || d.op[0].kind != OpKind::Mem)) {
    d.fn = &h_invalid_opcode;
    d.flags |= insn_flag::ENDS_BLOCK;
  }
}

void Decoder::decode_block(Cpu& cpu, uint64_t la, uint64_t pa, Block& b) {
  GuestMemory& mem = cpu.memory();
  const CpuMode mode = b.mode;
  b.pages[0] = pa >> 12;
  scratch_.clear();
  for (unsigned n = 0; n < kMaxBlockInsns; ++n) {
    uint8_t buf[16] = {};
    const size_t in_page = 0x1000 - (pa & 0xfff);
    size_t take = in_page < 15 ? in_page : 15;
    std::memcpy(buf, mem.ptr(pa), take);
    DecodedInsn d;
    bool ok = decode_one(mode, buf, take, la, d);
    bool crosses = false;
    if (!ok && take < 15) {
      // The instruction may continue on the next page: fetch it (this can
      // #PF; only the block's first instruction reports it).
      uint64_t next_pa;
      try {
        next_pa = cpu.translate(la + take, Access::Exec);
      } catch (const GuestFault&) {
        if (n == 0) throw;
        break;
      }
      if (!mem.contains(next_pa, 15 - take)) {
        if (n == 0) raise_ud();
        break;
      }
      std::memcpy(buf + take, mem.ptr(next_pa), 15 - take);
      ok = decode_one(mode, buf, 15, la, d);
      if (ok) {
        crosses = true;
        b.pages[1] = next_pa >> 12;
      }
    }
    if (!ok) {
      if (n > 0) break;  // let the next block start with it and fault there
      d = DecodedInsn{};
      d.fn = &h_invalid_opcode;
      d.len = 1;
      d.flags = insn_flag::ENDS_BLOCK;
    }
    scratch_.push_back(d);
    if ((d.flags & insn_flag::ENDS_BLOCK) || crosses) break;
    la += d.len;
    pa += d.len;
    if ((pa & 0xfff) == 0) break;
  }
  b.insns.assign(scratch_.begin(), scratch_.end());
  prepare_fast_path(b);
}

// The entries Cpu::execute_block's fast loop runs: each instruction alone,
// except an ALU-on-registers + final Jcc pair, fused into one.
void Decoder::prepare_fast_path(Block& b) {
  for (DecodedInsn& d : b.insns) {
    d.fast = d.fn;
    d.fast_count = 1;
    d.fast_len = d.len;
    d.fast_cost = d.cost;
  }
  const size_t n = b.insns.size();
  b.fast_entries = uint32_t(n);
  if (n >= 2) {
    DecodedInsn& alu = b.insns[n - 2];
    const DecodedInsn& jcc = b.insns[n - 1];
    const Handler fused = alu.fn == &h_invalid_opcode || alu.fn == &h_unimplemented
                              ? nullptr
                              : fuse_alu_jcc(alu, jcc, b.mode);
    if (fused) {
      alu.fast = fused;
      alu.fast_count = 2;
      alu.fast_len = uint8_t(alu.len + jcc.len);
      alu.fast_cost = uint64_t(alu.cost) + jcc.cost;
      b.fast_entries = uint32_t(n - 1);
    }
  }
  // Where each entry sits in the block (DecodedInsn::start_off and the rest).
  uint64_t cost = 0, count = 0;
  unsigned off = 0;
  for (uint32_t k = 0; k < b.fast_entries; ++k) {
    DecodedInsn& d = b.insns[k];
    d.before_cost = cost;
    d.before_count = count;
    d.start_off = uint16_t(off);
    off += d.fast_len;
    d.end_off = uint16_t(off);
    cost += d.fast_cost;
    count += d.fast_count;
  }
  b.total_cost = cost;
  b.total_count = count;
}

std::string Decoder::disassemble(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address) {
  cs_insn* insn = nullptr;
  std::string out;
  if (cs_disasm(handle_[unsigned(mode)], bytes, n, address, 1, &insn) == 1) {
    char buf[32];
    for (unsigned k = 0; k < insn->size; ++k) {
      std::snprintf(buf, sizeof buf, "%02x", insn->bytes[k]);
      out += buf;
    }
    out += std::string("  ") + insn->mnemonic + (insn->op_str[0] ? " " : "") + insn->op_str;
    cs_free(insn, 1);
  } else {
    char buf[8];
    for (size_t k = 0; k < n && k < 8; ++k) {
      std::snprintf(buf, sizeof buf, "%02x", bytes[k]);
      out += buf;
    }
    out += "  (undecodable)";
  }
  return out;
}

std::string Decoder::describe(Cpu& cpu, uint64_t rip, const DecodedInsn& d) {
  uint8_t bytes[15] = {};
  size_t n = 0;
  try {
    const uint64_t cs_base = cpu.mode() == CpuMode::Bits64 ? 0 : cpu.state().seg[arch::seg::CS].base;
    for (; n < 15; ++n) bytes[n] = uint8_t(cpu.read_system(cs_base + rip + n, 1));
  } catch (const GuestFault&) {
  }
  (void)d;
  return disassemble(cpu.mode(), bytes, n, rip);
}

}  // namespace nestbed::sim
