// Translated code (l0/sim/jit/) against the interpreter. Random programs
// of the forms the translator writes inline (MOV, LEA, the ALU group,
// INC/DEC, CMP/TEST with memory, PUSH, POP, CALL, RET, Jcc and JMP), mixed with forms it leaves
// to their handlers, run in a loop so that their blocks are translated
// after one interpreted run. With translation on and off the registers,
// RFLAGS, RIP, memory, modeled cycles and instruction count must be the
// same: memory operands hit and miss the TLB, cross pages, and fault.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/apic.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "l0/sim/cpu/cpu.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

namespace nestbed::testing {
namespace {

using sim::CpuStop;
namespace L = sim_layout;

// RBX: the data pointer (DATA + 0xf80, so disp8 operands straddle a page
// boundary); R14: a small index (8); R15: the loop counter; RSP: the
// stack. The generator never writes them. RBP walks pages in the fault
// test only.
constexpr uint64_t kDataBase = L::DATA + 0xf80;
constexpr unsigned kWritable[] = {rAX, rCX, rDX, rSI, rDI, r8, r9, r10, r11, r12, r13};
constexpr unsigned kReadable[] = {rAX, rCX, rDX, rBX, rSI, rDI, r8, r9, r10, r11, r12, r13, r14, r15};

struct Outcome {
  uint64_t r[16] = {};
  uint64_t rflags = 0, rip = 0, cycles = 0, instructions = 0;
  CpuStop stop = CpuStop::None;
  std::vector<uint8_t> data;
  uint64_t translated = 0;
  uint64_t pairs = 0;  // translations of a loop of two blocks
  uint64_t interrupts = 0;
};

class Generator {
 public:
  // `inline_only`: only forms the translator writes inline, so that whole
  // loops are translated blocks that call no handler, which keep guest
  // registers in host registers (translator.cpp, "guest registers in host
  // registers").
  explicit Generator(uint32_t seed, bool inline_only = false) : rng_(seed), inline_only_(inline_only) {}

  unsigned pick(unsigned n) { return unsigned(rng_() % n); }
  unsigned writable() { return kWritable[pick(sizeof kWritable / sizeof kWritable[0])]; }
  unsigned readable() { return kReadable[pick(sizeof kReadable / sizeof kReadable[0])]; }
  unsigned size() { return (unsigned[]){1, 2, 4, 8, 8, 4}[pick(6)]; }
  // The operand size of an ALU write to a register: 8- and 16-bit writes
  // go to their handlers.
  unsigned alu_size(unsigned op) { return inline_only_ && op != 7 ? (pick(2) ? 8 : 4) : size(); }
  Rm memory() {
    switch (pick(4)) {
      case 0: return mem_op(rBX, int32_t(pick(256)) - 128);
      case 1: return mem_op(rBX, int32_t(pick(64)) - 32, r14, 1u << pick(4));
      case 2: return Asm::abs(L::DATA + 0x1800 + pick(512));
      default: return mem_op(rBX, int32_t(pick(16)) + 0x7a);  // crosses into the next page
    }
  }
  uint64_t value() {
    switch (pick(4)) {
      case 0: return pick(4);
      case 1: return uint64_t(int64_t(int32_t(rng_())));
      case 2: return 0x7fffffffull + pick(3);
      default: return (uint64_t(rng_()) << 32) | rng_();
    }
  }

  // One random instruction into `a`.
  // `stack`: PUSH/POP/CALL may be chosen (not inside a CALL's body, whose
  // RET must find its return address).
  void instruction(Asm& a, bool stack = true) {
    static constexpr uint8_t kAluRm[] = {0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39};  // op r/m, reg
    const unsigned op = pick(8);
    unsigned form = pick(19);
    if (!stack && (form == 15 || form == 16)) form = 18;
    if (inline_only_ && form == 11) form = 10;  // read-modify-write: its handler
    switch (form) {
      case 0: {  // mov r, r
        const unsigned s = pick(2) ? 8 : 4;
        a.modrm({0x89}, s, readable(), reg_op(writable()));
        break;
      }
      case 1:  // mov r, imm
        if (pick(2)) a.mov_imm64(writable(), value());
        else a.modrm({0xc7}, 8, 0, reg_op(writable())).imm(uint32_t(value()), 4);
        break;
      case 2:  // mov r, [m]
        a.modrm({0x8b}, pick(2) ? 8 : 4, writable(), memory());
        break;
      case 3: {  // mov [m], r / imm
        const unsigned s = size();
        if (pick(2)) a.modrm({uint8_t(s == 1 ? 0x88 : 0x89)}, s, readable(), memory(), {.reg_byte = s == 1});
        else if (s == 1) a.modrm({0xc6}, 1, 0, memory()).imm(value(), 1);
        else a.modrm({0xc7}, s, 0, memory()).imm(value(), s == 2 ? 2 : 4);
        break;
      }
      case 4: case 5: {  // op r, r (any size: 8/16-bit writes go to their handlers)
        const unsigned s = alu_size(op);
        const unsigned d = op == 7 ? readable() : writable();
        a.modrm({uint8_t(kAluRm[op] - (s == 1 ? 1 : 0))}, s, readable(), reg_op(d), {.reg_byte = s == 1});
        break;
      }
      case 6: {  // op r, imm
        const unsigned s = alu_size(op);
        const unsigned d = op == 7 ? readable() : writable();
        if (s == 1) a.modrm({0x80}, 1, op, reg_op(d)).imm(value(), 1);
        else if (pick(2)) a.modrm({0x83}, s, op, reg_op(d)).imm(value(), 1);
        else a.modrm({0x81}, s, op, reg_op(d)).imm(value(), s == 2 ? 2 : 4);
        break;
      }
      case 7:  // op r, [m]
        a.modrm({uint8_t(kAluRm[op] + 2)}, pick(2) ? 8 : 4, op == 7 ? readable() : writable(), memory());
        break;
      case 8: {  // cmp [m], imm / test [m], reg / test r, r
        const unsigned s = size();
        if (pick(2)) a.modrm({uint8_t(s == 1 ? 0x80 : 0x81)}, s, 7, memory()).imm(value(), s == 1 ? 1 : s == 2 ? 2 : 4);
        else if (pick(2)) a.modrm({uint8_t(s == 1 ? 0x84 : 0x85)}, s, readable(), memory(), {.reg_byte = s == 1});
        else a.modrm({uint8_t(s == 1 ? 0x84 : 0x85)}, s, readable(), reg_op(readable()), {.reg_byte = s == 1});
        break;
      }
      case 9:  // inc/dec r
        a.modrm({0xff}, pick(2) ? 8 : 4, pick(2), reg_op(writable()));
        break;
      case 10:  // lea r, [m]
        a.modrm({0x8d}, pick(2) ? 8 : 4, writable(), memory());
        break;
      case 11:  // op [m], r: read-modify-write (its handler)
        a.modrm({kAluRm[op]}, pick(2) ? 8 : 4, readable(), memory());
        break;
      case 12: {  // shl/shr/sar r, imm; imul r, r/m; imul r, r/m, imm
        const unsigned s = pick(2) ? 8 : 4;
        const Rm src = pick(2) ? memory() : reg_op(readable());
        switch (pick(4)) {
          case 0: a.modrm({0xc1}, s, (unsigned[]){4, 5, 7}[pick(3)], reg_op(writable())).imm(pick(70), 1); break;
          case 1: a.modrm({0x0f, 0xaf}, s, writable(), src); break;
          case 2: a.modrm({0x6b}, s, writable(), src).imm(value(), 1); break;
          default: a.modrm({0x69}, s, writable(), src).imm(value(), 4); break;
        }
        break;
      }
      case 13: {  // Jcc over one instruction: a block ends, two follow
        const size_t at = a.jcc_forward(pick(16));
        instruction(a, stack);
        a.bind(at);
        break;
      }
      case 14:  // adc/sbb r, imm
        a.modrm({0x83}, pick(2) ? 8 : 4, pick(2) ? 2 : 3, reg_op(writable())).imm(value(), 1);
        break;
      case 15:  // push r / push imm / pop r
        if (pick(3) == 0) a.push_imm32(int32_t(value()));
        else if (pick(2)) a.push(readable());
        else a.pop(writable());
        break;
      case 16: {  // call L; jmp over; L: one instruction; ret; over:
        a.db({0xe8});
        const size_t call = a.size();
        a.imm(0, 4);
        const size_t over = a.jmp_forward();
        a.bind(call);
        instruction(a, false);
        a.db({0xc3});
        a.bind(over);
        break;
      }
      case 17: {  // movzx/movsx r, r8/r16/[m]; movsxd r64, r32/[m]
        const unsigned d = writable(), s = pick(2) ? 8 : 4;
        const Rm src = pick(2) ? memory() : reg_op(readable());
        switch (pick(5)) {
          case 0: a.modrm({0x0f, 0xb6}, s, d, src, {.rm_byte = true}); break;
          case 1: a.modrm({0x0f, 0xb7}, s, d, src); break;
          case 2: a.modrm({0x0f, 0xbe}, s, d, src, {.rm_byte = true}); break;
          case 3: a.modrm({0x0f, 0xbf}, s, d, src); break;
          default: a.modrm({0x63}, 8, d, src); break;
        }
        break;
      }
      default:  // nop
        a.nop();
        break;
    }
  }

  // A loop of `length` random instructions run `iterations` times, then HLT.
  // `cli`: CLI before the final HLT (runs with interrupts on).
  Asm program(unsigned length, unsigned iterations, bool cli = false) {
    Asm a(L::CODE);
    a.mov_imm64(rBX, kDataBase).mov_imm64(r14, 8).mov_imm64(r15, iterations);
    const uint64_t top = a.here();
    for (unsigned k = 0; k < length; ++k) {
      instruction(a);
      // Often the flags go to memory (PUSHFQ; POP [m]), so that every
      // flag an instruction leaves is compared, not only the last ones.
      if (!inline_only_ && pick(2)) a.pushfq().modrm({0x8f}, 8, 0, Asm::abs(L::DATA + 0x1c00 + 8 * (k % 64)));
    }
    a.modrm({0xff}, 8, 1, reg_op(r15));  // dec r15
    a.jcc(0x5, top);                     // jnz
    if (cli) a.cli();
    a.hlt();
    return a;
  }

  std::mt19937 rng_;
  bool inline_only_;
};

// The log of timer interrupts (timer_handler): their count, and the sum
// of the RIPs they came at.
constexpr uint64_t kTimerLog = L::DATA + 0x1800;

// Vector 0x40: the interrupted RIP added to the log, EOI, IRETQ; no
// register changed.
void load_timer_handler(SimMachine& m) {
  Asm h(L::HANDLERS);
  h.push(rAX).push(rCX);
  h.raw({0x48, 0x8b, 0x44, 0x24, 0x10});  // mov rax, [rsp + 16]: the RIP interrupted
  h.modrm({0x01}, 8, rAX, Asm::abs(kTimerLog + 8));  // add [log + 8], rax
  h.modrm({0xff}, 8, 0, Asm::abs(kTimerLog));        // inc qword [log]
  h.mov_imm64(rCX, 0xfee00000);
  h.store_imm32(mem_op(rCX, arch::apic::EOI), 0);
  h.pop(rCX).pop(rAX);
  h.iretq();
  m.load_code(h);
  m.set_gate64(0x40, L::HANDLERS);
}

// `timer_period`: the xAPIC timer interrupts every so many cycles (SDM
// 11.5.4, periodic, divide by 1), with IF set.
Outcome run(const Asm& program, bool translate, uint32_t seed, uint64_t rbp = 0, uint64_t limit = 200000,
            uint32_t translate_after = 1, uint32_t timer_period = 0) {
  SimMachine m;
  m.setup_long_mode();
  m.cpu.set_translation(translate, translate_after);
  m.load_code(program);
  std::mt19937_64 rng(seed);
  for (unsigned r = 0; r < 16; ++r)
    if (r != rSP) m.reg(r) = rng();
  if (rbp) m.reg(rBP) = rbp;
  m.s().rflags = arch::rflags::FIXED1 | (rng() & 0x8d5);
  for (uint64_t a = L::DATA; a < L::DATA + 0x2000; a += 8) m.poke<uint64_t>(a, rng());
  if (timer_period) {
    namespace apic = arch::apic;
    load_timer_handler(m);
    m.poke<uint64_t>(kTimerLog, 0);
    m.poke<uint64_t>(kTimerLog + 8, 0);
    m.dev.apic.mmio_write(apic::SVR, 4, apic::SVR_ENABLE | 0xff);
    m.dev.apic.mmio_write(apic::LVT_TIMER, 4, 0x40 | apic::LVT_TIMER_PERIODIC);
    m.dev.apic.mmio_write(apic::TIMER_DIVIDE_CONFIG, 4, 0xb);
    m.dev.apic.mmio_write(apic::TIMER_INITIAL_COUNT, 4, timer_period);
    m.s().rflags |= arch::rflags::IF;
  }
  Outcome o;
  o.stop = m.run(limit);
  for (unsigned r = 0; r < 16; ++r) o.r[r] = m.reg(r);
  o.rflags = m.s().rflags;
  o.rip = m.rip();
  o.cycles = m.cpu.cycles();
  o.instructions = m.cpu.counters().instructions;
  o.data.resize(0x2000);
  m.mem.read(L::DATA, o.data.data(), o.data.size());
  o.translated = m.cpu.blocks_translated();
  o.pairs = m.cpu.loop_pairs_translated();
  o.interrupts = m.cpu.counters().interrupts;
  return o;
}

void expect_same(const Outcome& on, const Outcome& off, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(on.stop, off.stop);
  for (unsigned r = 0; r < 16; ++r) EXPECT_EQ(on.r[r], off.r[r]) << "register " << r;
  EXPECT_EQ(on.rflags, off.rflags);
  EXPECT_EQ(on.rip, off.rip);
  EXPECT_EQ(on.cycles, off.cycles);
  EXPECT_EQ(on.instructions, off.instructions);
  EXPECT_EQ(on.interrupts, off.interrupts);
  EXPECT_TRUE(on.data == off.data) << "memory differs";
}

// The program stopped by an instruction limit (translating a block after
// `translate_after` runs): the same outcome translated and interpreted.
// Returns the interpreted one.
Outcome expect_same_at_limit(const Asm& program, uint32_t seed, uint64_t limit, uint32_t translate_after = 1) {
  const Outcome off = run(program, false, seed, 0, limit);
  const Outcome on = run(program, true, seed, 0, limit, translate_after);
  expect_same(on, off, "seed " + std::to_string(seed) + " limit " + std::to_string(limit));
  return off;
}

TEST(SimJit, RandomProgramsMatchTheInterpreter) {
  uint64_t translated = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    Generator g(seed);
    const Asm program = g.program(4 + seed % 24, 6);
    const Outcome off = run(program, false, seed);
    const Outcome on = run(program, true, seed);
    EXPECT_EQ(off.translated, 0u);
    translated += on.translated;
    expect_same(on, off, "seed " + std::to_string(seed));
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(translated, 300u) << "the programs' blocks were translated";
}

// Translation turned off and on again between runs on one CPU (a new code
// buffer): no block runs a translation of the old buffer, and the results
// are the interpreter's.
TEST(SimJit, TranslationOffAndOnAgainBetweenRuns) {
  Generator g(7);
  const Asm program = g.program(12, 40);
  const Outcome off = run(program, false, 7);
  SimMachine m;
  m.setup_long_mode();
  m.cpu.set_translation(true, 1);
  m.load_code(program);
  std::mt19937_64 rng(7);
  for (unsigned r = 0; r < 16; ++r)
    if (r != rSP) m.reg(r) = rng();
  m.s().rflags = arch::rflags::FIXED1 | (rng() & 0x8d5);
  for (uint64_t a = L::DATA; a < L::DATA + 0x2000; a += 8) m.poke<uint64_t>(a, rng());
  // A third of the way with translation, then off, then on again.
  ASSERT_EQ(m.run(off.instructions / 3), CpuStop::InstructionLimit);
  EXPECT_GT(m.cpu.blocks_translated(), 0u);
  m.cpu.set_translation(false);
  ASSERT_EQ(m.run(off.instructions / 3), CpuStop::InstructionLimit);
  m.cpu.set_translation(true, 1);
  EXPECT_EQ(m.run(200000), off.stop);
  for (unsigned r = 0; r < 16; ++r) EXPECT_EQ(m.reg(r), off.r[r]) << "register " << r;
  EXPECT_EQ(m.s().rflags, off.rflags);
  EXPECT_EQ(m.cpu.cycles(), off.cycles);
  EXPECT_EQ(m.cpu.counters().instructions, off.instructions);
}

// An instruction limit that ends inside a block or a chain of translated
// blocks stops both at the same instruction.
TEST(SimJit, InstructionLimitsStopAtTheSameInstruction) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    Generator g(seed);
    const Asm program = g.program(8 + seed % 16, 20);
    const uint64_t total = run(program, false, seed).instructions;
    for (uint64_t limit : {total / 3, total / 2 + 1, total - 7})
      EXPECT_EQ(expect_same_at_limit(program, seed, limit).stop, CpuStop::InstructionLimit);
  }
}

// A program whose RBP-relative access walks out of RAM (RBP starts 12 pages
// below its end): run without and with translation (after
// `translate_after` runs of a block), it halts in the #PF stub, some of it
// translated, with the same state. Returns the translated run.
Outcome expect_fault_in_stub_matches(const Asm& a, uint32_t seed, const std::string& what, uint32_t translate_after = 1) {
  const uint64_t rbp = SimMachine::kDefaultRam - 12 * 0x1000;
  const Outcome off = run(a, false, seed, rbp);
  const Outcome on = run(a, true, seed, rbp, 200000, translate_after);
  EXPECT_EQ(off.stop, CpuStop::Halted) << what;
  EXPECT_EQ(off.rip, SimMachine::stub(14) + 1) << "halted in the #PF stub: " << what;
  EXPECT_GT(on.translated, 0u) << what;
  expect_same(on, off, what);
  return on;
}

// Each iteration stores to the next page through RBP (`before` random
// instructions of `g`, the store, three more); the pages run out of RAM
// after a few iterations (setup_long_mode maps RAM only): the #PF is taken
// from translated code with the same state as from the interpreter.
void expect_store_fault_matches(Generator& g, uint32_t seed, unsigned before, bool stack) {
  Asm a(L::CODE);
  a.mov_imm64(rBX, kDataBase).mov_imm64(r14, 8).mov_imm64(r15, 100);
  const uint64_t top = a.here();
  for (unsigned k = 0; k < before; ++k) g.instruction(a, stack);
  a.modrm({0x89}, 8, rAX, mem_op(rBP, 8));        // mov [rbp + 8], rax
  for (unsigned k = 0; k < 3; ++k) g.instruction(a, stack);
  a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);  // add rbp, 0x1000
  a.modrm({0xff}, 8, 1, reg_op(r15));
  a.jcc(0x5, top);
  a.hlt();
  expect_fault_in_stub_matches(a, seed, "seed " + std::to_string(seed));
}

TEST(SimJit, PageFaultFromTranslatedCodeMatchesTheInterpreter) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Generator g(seed);
    expect_store_fault_matches(g, seed, 6, /*stack=*/true);
  }
}

// The stack walks up out of RAM (two pops and a push per iteration): the
// #PF of a POP in translated code is the interpreter's.
TEST(SimJit, StackFaultFromTranslatedCodeMatchesTheInterpreter) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    Generator g(seed);
    Asm a(L::CODE);
    a.mov_imm64(rBX, kDataBase).mov_imm64(r14, 8).mov_imm64(r15, 100);
    a.mov_imm64(rSP, SimMachine::kDefaultRam - 8 * (20 + seed));
    const uint64_t top = a.here();
    for (unsigned k = 0; k < 3; ++k) g.instruction(a, false);
    a.pop(rAX).pop(rCX).push(rDX);
    a.modrm({0xff}, 8, 1, reg_op(r15));
    a.jcc(0x5, top);
    a.hlt();
    const Outcome off = run(a, false, seed);
    const Outcome on = run(a, true, seed);
    ASSERT_EQ(off.stop, CpuStop::Halted);
    EXPECT_GT(on.translated, 0u);
    expect_same(on, off, "seed " + std::to_string(seed));
  }
}

// Loops of inline forms only: their blocks call no handler, so the guest
// registers they use live in host registers, written back at every exit,
// TLB miss and chained jump. Limits stop them mid-loop too.
TEST(SimJit, InlineLoopsWithCachedRegistersMatchTheInterpreter) {
  uint64_t translated = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    const Asm program = g.program(3 + seed % 20, 12);
    const Outcome off = run(program, false, seed);
    const Outcome on = run(program, true, seed);
    translated += on.translated;
    expect_same(on, off, "seed " + std::to_string(seed));
    for (uint64_t limit : {off.instructions / 2 + 1, off.instructions - 5}) expect_same_at_limit(program, seed, limit);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(translated, 300u) << "the programs' blocks were translated";
}

// A #PF from a store in a loop of inline forms (cached registers): the
// registers the loop changed reach the fault handler's state.
TEST(SimJit, PageFaultFromALoopWithCachedRegistersMatchesTheInterpreter) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    expect_store_fault_matches(g, seed, 5, /*stack=*/false);
  }
}

// A block that names no general register and whose instructions all have
// inline forms, but one not in this form (JMP through memory: its handler),
// after an instruction that sets flags: the block it jumps to, a lone Jcc,
// must find those flags, not lose them in a host register across the call.
TEST(SimJit, FlagsSetBeforeAHandlerCallInABlockWithoutRegistersSurviveIt) {
  for (uint8_t value : {0x00, 0x7f, 0x80, 0xff}) {
    Asm a(L::CODE);
    a.mov_imm64(rAX, 0);
    const size_t target_imm = a.bytes.size() - 8;  // patched below: the address of `lone_jcc`
    a.modrm({0x89}, 8, rAX, Asm::abs(L::DATA + 0x30));  // mov [abs], rax
    a.mov_imm64(r15, 40);
    const uint64_t top = a.here();
    a.modrm({0x80}, 1, 7, Asm::abs(L::DATA + 0x10)).imm(value, 1);  // cmp byte [abs], value
    a.modrm({0xff}, 8, 4, Asm::abs(L::DATA + 0x30));                  // jmp [abs]: its handler
    const uint64_t lone_jcc = a.here();
    const size_t skip = a.jcc_forward(0x2);                            // jb: CMP's CF
    a.modrm({0x80}, 1, 0, Asm::abs(L::DATA + 0x28)).imm(1, 1);        // add byte [abs], 1
    a.bind(skip);
    a.modrm({0x80}, 1, 0, Asm::abs(L::DATA + 0x10)).imm(0x35, 1);     // add byte [abs], 0x35
    a.modrm({0xff}, 8, 1, reg_op(r15));                               // dec r15
    a.jcc(0x5, top);
    a.hlt();
    for (unsigned n = 0; n < 8; ++n) a.bytes[target_imm + n] = uint8_t(lone_jcc >> (8 * n));
    const Outcome off = run(a, false, 3);
    const Outcome on = run(a, true, 3);
    ASSERT_EQ(off.stop, CpuStop::Halted);
    EXPECT_GT(on.translated, 0u);
    expect_same(on, off, "cmp with " + std::to_string(value));
  }
}

// A loop of two blocks (Cpu::loop_partner): A = `na` random instructions,
// DEC R15 and JZ out; B = `nb` more and a way back to A, a JMP or a Jcc
// taken (TEST R15, R15; JNZ). One translation then runs both, going from
// one to the other inside it. RBP-relative stores walk pages when `rbp` is
// set (a #PF from either block).
Asm two_block_loop(Generator& g, unsigned na, unsigned nb, unsigned iterations, bool jcc_back, bool store = false,
                   bool cli = false) {
  Asm a(L::CODE);
  a.mov_imm64(rBX, kDataBase).mov_imm64(r14, 8).mov_imm64(r15, iterations);
  const uint64_t top = a.here();
  for (unsigned k = 0; k < na; ++k) g.instruction(a, false);
  a.modrm({0xff}, 8, 1, reg_op(r15));    // dec r15
  const size_t out = a.jcc_forward(0x4);  // jz out
  for (unsigned k = 0; k < nb; ++k) g.instruction(a, false);
  if (store) {
    a.modrm({0x89}, 8, rAX, mem_op(rBP, 8));            // mov [rbp + 8], rax
    a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);  // add rbp, 0x1000
  }
  if (jcc_back) {
    a.modrm({0x85}, 8, r15, reg_op(r15));  // test r15, r15
    a.jcc(0x5, top);                       // jnz
  } else {
    a.jmp(top);
  }
  a.bind(out);
  if (cli) a.cli();
  a.hlt();
  return a;
}

TEST(SimJit, LoopsOfTwoBlocksMatchTheInterpreter) {
  uint64_t pairs = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    const Asm program = two_block_loop(g, 1 + seed % 7, seed % 9, 20, seed % 2);
    // (B has run once when A is translated on its second run.)
    const Outcome off = run(program, false, seed);
    const Outcome on = run(program, true, seed, 0, 200000, 2);
    pairs += on.pairs;
    expect_same(on, off, "seed " + std::to_string(seed));
    // Limits that stop the loop in either block.
    for (uint64_t limit : {off.instructions / 2 + 1, off.instructions / 3, off.instructions - 4})
      expect_same_at_limit(program, seed, limit, 2);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(pairs, 100u) << "loops of two blocks were translated as pairs";
}

// A loop whose last compare's flags are dead on the way round (the next
// round's SUB overwrites them all first) leaves them unmade there, and
// makes them only where the loop edge leaves the translation: the next
// round's instruction-budget check, which limits stop at (lazy edge
// flags). CMP with a register or an immediate, TEST; the way round taken,
// or not taken to a second block (a loop of two).
TEST(SimJit, FlagsOfALoopsLastCompareAreMadeWhereItsEdgeLeaves) {
  uint64_t translated = 0;
  for (uint32_t seed = 1; seed <= 96; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    Asm a(L::CODE);
    a.mov_imm64(rBX, kDataBase).mov_imm64(r14, 8).mov_imm64(r15, 30);
    const uint64_t top = a.here();
    if (seed % 2) a.modrm({0x89}, 8, rCX, reg_op(rDX));    // mov rdx, rcx (flag-neutral)
    a.modrm({0x83}, 8, 5, reg_op(r15)).imm(1, 1);          // sub r15, 1
    for (unsigned k = 0; k < seed % 6; ++k) g.instruction(a, false);
    switch (seed % 3) {
      case 0: a.modrm({0x83}, 8, 7, reg_op(r15)).imm(0, 1); break;  // cmp r15, 0
      case 1: a.modrm({0x85}, 8, r15, reg_op(r15)); break;          // test r15, r15
      default: a.modrm({0x39}, 8, r14, reg_op(r15)); break;         // cmp r15, r14
    }
    if (seed % 4 < 2) {
      a.jcc(seed % 3 == 2 ? 0x7 : 0x5, top);  // ja / jnz: round the loop when taken
      a.hlt();
    } else {  // on when not taken, to a block that overwrites the flags (a loop of two)
      const size_t out = a.jcc_forward(seed % 3 == 2 ? 0x6 : 0x4);  // jbe / jz
      a.modrm({0x83}, 8, 0, reg_op(rDX)).imm(1, 1);                  // add rdx, 1
      a.jmp(top);
      a.bind(out);
      a.hlt();
    }
    const Outcome off = run(a, false, seed);
    const Outcome on = run(a, true, seed);
    translated += on.translated;
    expect_same(on, off, "seed " + std::to_string(seed));
    for (uint64_t limit : {off.instructions / 2 + 1, off.instructions / 3, off.instructions - 3})
      expect_same_at_limit(a, seed, limit);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(translated, 96u) << "the loops were translated";
}

// Timer interrupts while loops go round their edges, which look at
// events only once the instruction count passes Cpu::jit_edge_limit_
// (translator.cpp, loop edges): each is taken at the instruction and cycle
// the interpreter takes it (the handler logs the RIPs). Loops of one block
// and of two, with a period shorter and longer than a round.
TEST(SimJit, TimerInterruptsInLoopsComeWhereTheInterpreterTakesThem) {
  uint64_t interrupts = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    const Asm program = seed % 2 ? g.program(2 + seed % 9, 4000, /*cli=*/true)
                                 : two_block_loop(g, 1 + seed % 5, seed % 6, 4000, seed % 4 < 2, false, /*cli=*/true);
    const uint32_t period = seed % 3 == 0 ? 1200 + seed : 2000 + 97 * seed;
    const Outcome off = run(program, false, seed, 0, 200000, 1, period);
    const Outcome on = run(program, true, seed, 0, 200000, 2, period);
    ASSERT_EQ(off.stop, CpuStop::Halted);
    EXPECT_GT(on.translated, 0u);
    interrupts += off.interrupts;
    expect_same(on, off, "seed " + std::to_string(seed));
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(interrupts, 1000u);
}

// A loop that re-arms the one-shot timer every round with another count
// (an MMIO store, on the TLB-miss path), some shorter than a round: a
// deadline sooner than the one the loop's edges last looked at must stop
// them in time. (An APIC write ends the run of translated code
// (Cpu::check_events_soon), and so resets Cpu::jit_edge_limit_ itself;
// the translator's reset after every call does not depend on that.)
TEST(SimJit, ALoopThatMovesTheTimersDeadlineIsInterruptedInTime) {
  Asm a(L::CODE);
  a.mov_imm64(rSI, 0xfee00000).mov_imm64(r15, 3000);
  a.store_imm32(mem_op(rSI, arch::apic::LVT_TIMER), 0x40);  // one-shot
  const uint64_t top = a.here();
  a.modrm({0x89}, 4, r15, reg_op(rCX));                     // mov ecx, r15d
  a.modrm({0x83}, 4, 4, reg_op(rCX)).imm(0x1f, 1);          // and ecx, 0x1f
  a.modrm({0x83}, 4, 0, reg_op(rCX)).imm(2, 1);             // add ecx, 2: 2 to 33 cycles
  a.modrm({0x89}, 4, rCX, mem_op(rSI, arch::apic::TIMER_INITIAL_COUNT));  // the timer's count
  a.modrm({0x01}, 8, rCX, reg_op(rAX));                     // add rax, rcx
  a.modrm({0x83}, 8, 5, reg_op(r15)).imm(1, 1);             // sub r15, 1
  a.jcc(0x5, top);                                          // jnz
  a.cli().hlt();
  const Outcome off = run(a, false, 5, 0, 200000, 1, 4000);
  const Outcome on = run(a, true, 5, 0, 200000, 1, 4000);
  ASSERT_EQ(off.stop, CpuStop::Halted);
  EXPECT_GT(on.translated, 0u);
  EXPECT_GT(off.interrupts, 10u);
  expect_same(on, off, "re-armed every round");
}

// A store in the second block faults when RBP walks out of RAM: the #PF
// is taken from inside a pair's translation with the interpreter's state.
TEST(SimJit, PageFaultFromALoopOfTwoBlocksMatchesTheInterpreter) {
  uint64_t pairs = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Generator g(seed, /*inline_only=*/true);
    const Asm program = two_block_loop(g, 1 + seed % 5, seed % 4, 100, seed % 2, /*store=*/true);
    pairs += expect_fault_in_stub_matches(program, seed, "seed " + std::to_string(seed), 2).pairs;
  }
  EXPECT_GT(pairs, 10u);
}

// Block A writes the immediate of B's ADD every round, a new value every
// 16 rounds: each change drops B and, with it, A, whose translation holds
// B's code (Block::partner); translated and interpreted runs agree.
TEST(SimJit, CodeWrittenInOneBlockOfAPairDropsBoth) {
  Asm a(L::CODE);
  a.mov_imm64(r15, 200).mov_imm64(rCX, 0);
  const uint64_t top = a.here();
  a.modrm({0x89}, 8, r15, reg_op(rAX));              // mov rax, r15
  a.modrm({0xc1}, 8, 5, reg_op(rAX)).imm(4, 1);      // shr rax, 4
  const size_t imm_store = a.bytes.size();
  a.modrm({0x89}, 4, rAX, Asm::abs(0));              // mov [B's imm32], eax (patched below)
  a.modrm({0xff}, 8, 1, reg_op(r15));                // dec r15
  const size_t out = a.jcc_forward(0x4);             // jz out
  a.modrm({0x81}, 8, 0, reg_op(rCX)).imm(0, 4);      // B: add rcx, imm32
  const uint64_t imm_at = a.here() - 4;
  a.modrm({0x01}, 8, rCX, reg_op(rDX));              // add rdx, rcx
  a.jmp(top);
  a.bind(out);
  a.hlt();
  // The store's disp32 (its last four bytes): B's immediate.
  for (unsigned n = 0; n < 4; ++n) a.bytes[imm_store + 3 + n] = uint8_t(imm_at >> (8 * n));
  const Outcome off = run(a, false, 5);
  const Outcome on = run(a, true, 5, 0, 200000, 2);
  ASSERT_EQ(off.stop, CpuStop::Halted);
  EXPECT_GT(on.pairs, 1u) << "the pair was translated again after each change";
  expect_same(on, off, "self-modifying pair");
}

// IMUL right before a MOV to or from memory, whose flags the next
// instruction overwrites: translated code makes IMUL's flags only if the
// MOV misses the TLB (lazy_imul_flags). The MOV faults once RBP walks out
// of RAM; the #PF handler's RFLAGS must hold IMUL's CF and OF, in each
// form: two registers, a square, an immediate, 32 bits, and a load.
TEST(SimJit, ImulFlagsBeforeAFaultingAccessAreMadeOnTheMiss) {
  for (unsigned form = 0; form < 5; ++form) {
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      Asm a(L::CODE);
      a.mov_imm64(r15, 100).mov_imm64(rDI, seed % 3 == 0 ? 3 : seed % 3 == 1 ? 0x123456789ull : 0x7fffffffffffull);
      const uint64_t top = a.here();
      a.modrm({0x01}, 8, r15, reg_op(rDX));  // add rdx, r15
      switch (form) {
        case 0: a.modrm({0x0f, 0xaf}, 8, rDX, reg_op(rDI)); break;                // imul rdx, rdi
        case 1: a.modrm({0x0f, 0xaf}, 8, rDX, reg_op(rDX)); break;                // imul rdx, rdx
        case 2: a.modrm({0x69}, 8, rDX, reg_op(rDI)).imm(0x7fff1234, 4); break;  // imul rdx, rdi, imm32
        default: a.modrm({0x0f, 0xaf}, 4, rDX, reg_op(rDI)); break;               // imul edx, edi
      }
      if (form == 4) a.modrm({0x8b}, 8, rAX, mem_op(rBP, 8));  // mov rax, [rbp + 8]
      else a.modrm({0x89}, 8, rDX, mem_op(rBP, 8));            // mov [rbp + 8], rdx
      a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);      // add rbp, 0x1000
      a.modrm({0xff}, 8, 1, reg_op(r15));
      a.jcc(0x5, top);
      a.hlt();
      expect_fault_in_stub_matches(a, seed, "form " + std::to_string(form) + " seed " + std::to_string(seed));
    }
  }
}

// A loop whose first entry reads or writes memory, before anything
// overwrites the flags of its final compare: translated code leaves those
// flags unmade on the way round and makes them only on that access's TLB
// miss (lazy edge flags). When the access faults (RBP runs out of RAM), the
// #PF handler must see the compare's flags, in each form of the access
// (the last one, [reg], addressed by the guest register's host register).
TEST(SimJit, FlagsOfALoopsCompareReachAFaultAtTheNextRoundsFirstAccess) {
  for (unsigned form = 0; form < 4; ++form) {
    for (uint32_t seed = 1; seed <= 16; ++seed) {
      Asm a(L::CODE);
      const uint64_t top = a.here();
      if (form == 0) a.modrm({0x8b}, 8, rAX, mem_op(rBP, 8));             // mov rax, [rbp + 8]
      else if (form == 1) a.modrm({0x89}, 8, rAX, mem_op(rBP, 8));        // mov [rbp + 8], rax
      else if (form == 2) a.modrm({0x0f, 0xb6}, 4, rAX, mem_op(rBP, 8));  // movzx eax, byte [rbp + 8]
      else a.modrm({0x8b}, 8, rAX, mem_op(rBP));                          // mov rax, [rbp]
      a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);                  // add rbp, 0x1000
      a.modrm({0x81}, 8, 0, reg_op(r15)).imm(0x3fffffff, 4);              // add r15, 0x3fffffff
      a.modrm({0x39}, 8, rBX, reg_op(r15));                               // cmp r15, rbx
      a.jcc(0x5, top);                                                    // jne
      a.hlt();
      expect_fault_in_stub_matches(a, seed, "form " + std::to_string(form) + " seed " + std::to_string(seed));
    }
  }
}

// The same loop, run to its end once (so translated), then entered again
// from outside with its first access faulting: that first round's flags
// are those the code before it left (CMP RSI, RDI), not the loop's compare.
TEST(SimJit, FlagsAtAFaultInALoopsFirstRoundAreThoseItWasEnteredWith) {
  for (uint32_t seed = 1; seed <= 16; ++seed) {
    Asm a(L::CODE);
    const uint64_t end = SimMachine::kDefaultRam;
    a.mov_imm64(rBP, end - 12 * 0x1000).mov_imm64(r15, end - 6 * 0x1000).mov_imm64(r9, 0);
    const uint64_t top = a.here();
    a.modrm({0x8b}, 8, rAX, mem_op(rBP, 8));            // mov rax, [rbp + 8]
    a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);  // add rbp, 0x1000
    a.modrm({0x39}, 8, rBP, reg_op(r15));               // cmp r15, rbp
    a.jcc(0x5, top);                                    // jne
    a.modrm({0x85}, 8, r9, reg_op(r9));                 // test r9, r9
    const size_t again = a.jcc_forward(0x4);            // jz again: the second time, stop
    a.hlt();
    a.bind(again);
    a.mov_imm64(r9, 1).mov_imm64(rBP, end - 8);         // [rbp + 8]: past RAM
    a.modrm({0x39}, 8, rDI, reg_op(rSI));               // cmp rsi, rdi
    a.jmp(top);
    const Outcome off = run(a, false, seed);
    const Outcome on = run(a, true, seed);
    EXPECT_EQ(off.rip, SimMachine::stub(14) + 1) << "halted in the #PF stub";
    EXPECT_GT(on.translated, 0u);
    expect_same(on, off, "seed " + std::to_string(seed));
  }
}

// ---- loop slots (translator.cpp): a translated loop's memory operand
// remembers its page's addend only while no C++ code has run.

// W, mapped with a 4 KiB PTE to frame F1, then to F2 (words 0x11 and
// 0x22) by the program itself; its TLB index is 5, that of RAM page 0x5000.
constexpr uint64_t kRemapped = 0x40005000;
constexpr uint64_t kFrame1 = L::SCRATCH, kFrame2 = L::SCRATCH + 0x1000, kFrame3 = L::SCRATCH + 0x3000;

struct RemapOutcome {
  uint64_t rdx = 0, translated = 0;
  CpuStop stop = CpuStop::None;
};

RemapOutcome run_remap(const std::function<void(Asm&, uint64_t pte)>& body, bool translate) {
  SimMachine m;
  m.setup_long_mode();
  m.cpu.set_translation(translate, 1);
  m.map(kRemapped, kFrame1, arch::pte::P | arch::pte::RW);
  m.poke<uint64_t>(kFrame1, 0x11);
  m.poke<uint64_t>(kFrame2, 0x22);
  // The page after W, on a frame that does not follow F1 (F3).
  m.map(kRemapped + 0x1000, kFrame3, arch::pte::P | arch::pte::RW);
  for (uint64_t a = 0xe00; a < 0x1000; a += 8) m.poke<uint64_t>(kFrame1 + a, 0x0101010101010101);
  m.poke<uint64_t>(kFrame3, 0x3333333333333333);
  Asm a(L::CODE);
  body(a, m.entry_pa(kRemapped, 1));  // (page tables are identity-mapped RAM)
  a.hlt();
  m.load_code(a);
  RemapOutcome o;
  o.stop = m.run(100000);
  o.rdx = m.reg(rDX);
  o.translated = m.cpu.blocks_translated();
  return o;
}

void expect_remap_same(const std::function<void(Asm&, uint64_t pte)>& body, uint64_t expected_rdx) {
  const RemapOutcome off = run_remap(body, false);
  const RemapOutcome on = run_remap(body, true);
  ASSERT_EQ(off.stop, CpuStop::Halted);
  EXPECT_EQ(off.rdx, expected_rdx);
  EXPECT_EQ(on.stop, CpuStop::Halted);
  EXPECT_EQ(on.rdx, off.rdx) << "translated: a read of W used a translation the TLB no longer held";
  EXPECT_GT(on.translated, 0u);
}

// The loop reads W 20 times a round; between rounds W is remapped and
// INVLPG'd. Each round enters the loop's translation again, which must not
// find the first round's page in its slot.
TEST(SimJit, ALoopsRememberedPageDoesNotOutliveItsTranslationsRun) {
  expect_remap_same(
      [](Asm& a, uint64_t pte) {
        a.mov_imm64(rDX, 0).mov_imm64(rBX, kRemapped).mov_imm64(rSI, pte);
        a.mov_imm64(rDI, kFrame2 | arch::pte::P | arch::pte::RW).mov_imm64(r15, 3);
        const uint64_t outer = a.here();
        a.mov_imm64(rCX, 20);
        const uint64_t inner = a.here();
        a.modrm({0x8b}, 8, rAX, mem_op(rBX));  // mov rax, [rbx]
        a.modrm({0x01}, 8, rAX, reg_op(rDX));  // add rdx, rax
        a.modrm({0xff}, 8, 1, reg_op(rCX));    // dec rcx
        a.jcc(0x5, inner);
        a.modrm({0x89}, 8, rDI, mem_op(rSI));  // mov [rsi], rdi: W -> F2
        a.invlpg(mem_op(rBX));
        a.modrm({0xff}, 8, 1, reg_op(r15));
        a.jcc(0x5, outer);
      },
      20 * 0x11 + 40 * 0x22);
}

// One loop, one run of its translation: each round reads W, sets W's PTE
// to F2 (no INVLPG: the TLB keeps F1) and reads a new RAM page. At RBP =
// 0x5000 that read's TLB miss evicts W's entry, so the next round's read
// of W walks and finds F2, as the interpreter does: a TLB miss's call
// empties the slots.
TEST(SimJit, ALoopsRememberedPageDoesNotOutliveACallToCxx) {
  expect_remap_same(
      [](Asm& a, uint64_t pte) {
        a.mov_imm64(rDX, 0).mov_imm64(rBX, kRemapped).mov_imm64(rSI, pte);
        a.mov_imm64(rDI, kFrame2 | arch::pte::P | arch::pte::RW).mov_imm64(rBP, 0x1000).mov_imm64(rCX, 8);
        const uint64_t top = a.here();
        a.modrm({0x8b}, 8, rAX, mem_op(rBX));  // mov rax, [rbx]
        a.modrm({0x01}, 8, rAX, reg_op(rDX));  // add rdx, rax
        a.modrm({0x89}, 8, rDI, mem_op(rSI));  // mov [rsi], rdi
        a.modrm({0x8b}, 8, r8, mem_op(rBP));   // mov r8, [rbp]
        a.modrm({0x81}, 8, 0, reg_op(rBP)).imm(0x1000, 4);  // add rbp, 0x1000
        a.modrm({0xff}, 8, 1, reg_op(rCX));    // dec rcx
        a.jcc(0x5, top);
      },
      5 * 0x11 + 3 * 0x22);  // RBP 0x1000..0x5000 read after W's F1 rounds
}

// A load that walks 4 bytes a round from W + 0xe00, aligned and
// misaligned by turns, its last round across into the next page, whose
// frame is not F1's neighbour. Only an aligned access may use the
// remembered page (an unaligned one may leave it).
TEST(SimJit, ALoopsRememberedPageServesOnlyAlignedAccessesWithinIt) {
  expect_remap_same(
      [](Asm& a, uint64_t) {
        a.mov_imm64(rDX, 0).mov_imm64(rBX, kRemapped + 0xe00).mov_imm64(rCX, 128);
        const uint64_t top = a.here();
        a.modrm({0x8b}, 8, rAX, mem_op(rBX));  // mov rax, [rbx]
        a.modrm({0x01}, 8, rAX, reg_op(rDX));  // add rdx, rax
        a.add_imm8(rBX, 4);
        a.modrm({0xff}, 8, 1, reg_op(rCX));    // dec rcx
        a.jcc(0x5, top);
      },
      127 * 0x0101010101010101ull + 0x3333333301010101ull);
}

}  // namespace
}  // namespace nestbed::testing
