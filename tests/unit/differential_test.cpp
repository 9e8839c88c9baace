// Differential tests: the sim CPU against the host CPU (DESIGN.md §9,
// "instruction semantics are checked differentially against the host CPU
// for user-mode instructions (flags included)").
//
// Each case is a short snippet of hand-encoded instructions (see
// tests/support/x86_encoder.h) plus an initial state: all 16 GPRs, the six
// status flags and DF, and the bytes of a data area and a stack. The snippet
// runs twice:
//   - natively, in an mmap'ed page, entered through a trampoline that loads
//     every GPR (RSP included: it points into the case's own stack) and
//     RFLAGS from a struct and stores them back afterwards;
//   - in the sim, in 64-bit mode, at the SAME linear addresses: the sim's
//     page tables map the host region's linear addresses onto guest RAM, so
//     pointers, RIP-relative operands and pushed return addresses agree and
//     every register compares directly.
// Then all 16 GPRs, the status flags and DF, and the data and stack bytes
// must be equal, except what the SDM leaves undefined for that case (the
// table below). Values are edge values (0, 1, -1, 0x7f.., 0x80.., ...) and
// pseudo-random ones from fixed seeds, so every run checks the same cases.
#include "tests/support/differential.h"


asm(R"(
    .text
    .p2align 4
    .globl nb_diff_native_enter
    .hidden nb_diff_native_enter
    .type nb_diff_native_enter, @function
nb_diff_native_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, nb_diff_host_rsp(%rip)
    mov %rdi, nb_diff_regs(%rip)
    mov %rsi, nb_diff_code(%rip)
    pushq 128(%rdi)
    popfq
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 32(%rdi), %rsp
    mov 56(%rdi), %rdi
    jmp *nb_diff_code(%rip)
    .size nb_diff_native_enter, .-nb_diff_native_enter

    .p2align 4
    .globl nb_diff_native_exit
    .hidden nb_diff_native_exit
    .type nb_diff_native_exit, @function
nb_diff_native_exit:
    mov %rdi, nb_diff_tmp(%rip)
    mov nb_diff_regs(%rip), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rsp, 32(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    mov nb_diff_tmp(%rip), %rax
    mov %rax, 56(%rdi)
    mov nb_diff_host_rsp(%rip), %rsp
    pushfq
    popq 128(%rdi)
    cld
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size nb_diff_native_exit, .-nb_diff_native_exit

    .bss
    .p2align 3
nb_diff_host_rsp: .zero 8
nb_diff_regs: .zero 8
nb_diff_code: .zero 8
nb_diff_tmp: .zero 8
    .text
)");

namespace nestbed::testing {
namespace {
using namespace differential;

TEST_F(Differential, BinaryArithmetic) {
  struct AluOp {
    const char* name;
    unsigned ext;  // ModRM /digit in 80/81/83 and opcode row
    uint64_t undefined;
  };
  const AluOp ops[] = {{"add", 0, 0},           {"or", 1, undefined_flags::kLogic},  {"adc", 2, 0},
                       {"sbb", 3, 0},           {"and", 4, undefined_flags::kLogic}, {"sub", 5, 0},
                       {"xor", 6, undefined_flags::kLogic}, {"cmp", 7, 0}};
  Gen g(1, base());
  std::vector<Case> cases;
  for (const AluOp& op : ops) {
    for (unsigned size : {1u, 2u, 4u, 8u}) {
      const bool byte = size == 1;
      const uint8_t row = uint8_t(op.ext * 8);
      unsigned k = 0;
      for (auto [a, b] : g.pairs(size, 40)) {
        const unsigned form = k++ % 9;
        Encoder e;
        Case c = g.start("");
        if (op.ext == 2 || op.ext == 3) c.in.rflags = (c.in.rflags & ~fl::CF) | ((k / 9) & 1 ? fl::CF : 0);
        c.undefined = op.undefined;
        std::string fname;
        const unsigned isz = size == 1 ? 1 : size == 2 ? 2 : 4;  // iz
        switch (form) {
          case 0: {  // r/m, r (register form)
            auto [d, s] = g.pick_pair(size);
            g.put(c, d, size, a);
            g.put(c, s, size, b);
            e.modrm({uint8_t(row + (byte ? 0 : 1))}, size, s.reg, reg_op(d.reg, d.high8), {byte, s.high8});
            fname = reg_name(d, size) + "," + reg_name(s, size);
            break;
          }
          case 1: {  // r, r/m (register form)
            auto [d, s] = g.pick_pair(size);
            g.put(c, d, size, a);
            g.put(c, s, size, b);
            e.modrm({uint8_t(row + (byte ? 2 : 3))}, size, d.reg, reg_op(s.reg, s.high8), {byte, d.high8});
            fname = reg_name(d, size) + ",r/m:" + reg_name(s, size);
            break;
          }
          case 2: {  // r, m
            Op d = g.pick_reg(size);
            if (d.high8 && g.coin()) d = {d.reg, false};
            g.put(c, d, size, a);
            const uint64_t off = g.data_off(size);
            g.patch(c, off, b, size);
            const Rm m = g.mem(c, off, {d.reg}, 0);
            if (d.high8 && (m.base >= 8 || m.index >= 8)) continue;
            e.modrm({uint8_t(row + (byte ? 2 : 3))}, size, d.reg, m, {byte, d.high8});
            fname = reg_name(d, size) + ",mem";
            break;
          }
          case 3: {  // m, r
            Op s = g.pick_reg(size);
            g.put(c, s, size, b);
            const uint64_t off = g.data_off(size);
            g.patch(c, off, a, size);
            const Rm m = g.mem(c, off, {s.reg}, 0);
            if (s.high8 && (m.base >= 8 || m.index >= 8)) continue;
            const bool lock = op.ext != 7 && g.coin();  // LOCK: same result, one more prefix to decode
            if (lock) e.db({0xf0});
            e.modrm({uint8_t(row + (byte ? 0 : 1))}, size, s.reg, m, {byte, s.high8});
            fname = std::string(lock ? "(lock) " : "") + "mem," + reg_name(s, size);
            break;
          }
          case 4: {  // r/m, imm (80 ib / 81 iz)
            Op d = g.pick_reg(size);
            g.put(c, d, size, a);
            e.modrm({uint8_t(byte ? 0x80 : 0x81)}, size, op.ext, reg_op(d.reg, d.high8));
            e.imm(b, isz);
            fname = reg_name(d, size) + ",imm" + std::to_string(8 * isz);
            break;
          }
          case 5: {  // r/m, imm8 sign-extended (83 ib); bytes use 80 ib
            Op d = g.pick_reg(size);
            g.put(c, d, size, a);
            e.modrm({uint8_t(byte ? 0x80 : 0x83)}, size, op.ext, reg_op(d.reg, d.high8));
            e.imm(b, 1);
            fname = reg_name(d, size) + ",imm8";
            break;
          }
          case 6: {  // AL/AX/EAX/RAX, imm (04+8n / 05+8n)
            g.put(c, {rAX}, size, a);
            if (size == 2) e.db({0x66});
            if (size == 8) e.db({0x48});
            e.db({uint8_t(row + (byte ? 4 : 5))});
            e.imm(b, isz);
            fname = reg_name({rAX}, size) + ",imm (short form)";
            break;
          }
          case 7: {  // m, imm
            const uint64_t off = g.data_off(size);
            g.patch(c, off, a, size);
            const bool short_imm = !byte && g.coin();
            const Rm m = g.mem(c, off, {}, short_imm ? 1 : int(isz));
            e.modrm({uint8_t(byte ? 0x80 : short_imm ? 0x83 : 0x81)}, size, op.ext, m);
            e.imm(b, short_imm ? 1 : isz);
            fname = std::string("mem,imm") + (short_imm ? "8" : "");
            break;
          }
          default: {  // the same register on both sides (xor eax,eax; sub; cmp ...)
            Op d = g.pick_reg(size);
            g.put(c, d, size, a);
            e.modrm({uint8_t(row + (byte ? 0 : 1))}, size, d.reg, reg_op(d.reg, d.high8), {byte, d.high8});
            fname = reg_name(d, size) + "," + reg_name(d, size);
            break;
          }
        }
        c.name = std::string(op.name) + size_name(size) + " " + fname;
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  // TEST: 84/85 r/m,r; A8/A9 acc,imm; F6/F7 /0 r/m,imm.
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    const bool byte = size == 1;
    const unsigned isz = size == 1 ? 1 : size == 2 ? 2 : 4;
    unsigned k = 0;
    for (auto [a, b] : g.pairs(size, 30)) {
      Encoder e;
      Case c = g.start("");
      c.undefined = undefined_flags::kLogic;
      std::string fname;
      switch (k++ % 4) {
        case 0: {
          auto [d, s] = g.pick_pair(size);
          g.put(c, d, size, a);
          g.put(c, s, size, b);
          e.modrm({uint8_t(byte ? 0x84 : 0x85)}, size, s.reg, reg_op(d.reg, d.high8), {byte, s.high8});
          fname = reg_name(d, size) + "," + reg_name(s, size);
          break;
        }
        case 1: {
          g.put(c, {rAX}, size, a);
          if (size == 2) e.db({0x66});
          if (size == 8) e.db({0x48});
          e.db({uint8_t(byte ? 0xa8 : 0xa9)});
          e.imm(b, isz);
          fname = "acc,imm";
          break;
        }
        case 2: {
          Op d = g.pick_reg(size);
          g.put(c, d, size, a);
          e.modrm({uint8_t(byte ? 0xf6 : 0xf7)}, size, 0, reg_op(d.reg, d.high8));
          e.imm(b, isz);
          fname = reg_name(d, size) + ",imm";
          break;
        }
        default: {
          Op s = g.pick_reg(size, {});
          if (s.high8) s.high8 = false;
          g.put(c, s, size, b);
          const uint64_t off = g.data_off(size);
          g.patch(c, off, a, size);
          const Rm m = g.mem(c, off, {s.reg}, 0);
          e.modrm({uint8_t(byte ? 0x84 : 0x85)}, size, s.reg, m, {byte, false});
          fname = "mem," + reg_name(s, size);
          break;
        }
      }
      c.name = std::string("test") + size_name(size) + " " + fname;
      c.code = e.bytes;
      g.finish(c);
      cases.push_back(std::move(c));
    }
  }
  check(cases);
}

// INC DEC (FE/FF /0 /1), NEG NOT (F6/F7 /3 /2): register and memory.
TEST_F(Differential, UnaryArithmetic) {
  struct UnOp {
    const char* name;
    uint8_t op8, op;
    unsigned ext;
  };
  const UnOp ops[] = {{"inc", 0xfe, 0xff, 0}, {"dec", 0xfe, 0xff, 1}, {"neg", 0xf6, 0xf7, 3}, {"not", 0xf6, 0xf7, 2}};
  Gen g(2, base());
  std::vector<Case> cases;
  for (const UnOp& op : ops) {
    for (unsigned size : {1u, 2u, 4u, 8u}) {
      unsigned k = 0;
      for (uint64_t v : g.values(size, 30)) {
        for (bool in_mem : {false, true}) {
          Encoder e;
          Case c = g.start("");
          if (k++ & 1) c.in.rflags ^= fl::CF;  // INC/DEC must keep CF either way
          if (!in_mem) {
            Op d = g.pick_reg(size);
            g.put(c, d, size, v);
            e.modrm({size == 1 ? op.op8 : op.op}, size, op.ext, reg_op(d.reg, d.high8));
            c.name = std::string(op.name) + size_name(size) + " " + reg_name(d, size);
          } else {
            const uint64_t off = g.data_off(size);
            g.patch(c, off, v, size);
            e.modrm({size == 1 ? op.op8 : op.op}, size, op.ext, g.mem(c, off, {}, 0));
            c.name = std::string(op.name) + size_name(size) + " mem";
          }
          c.code = e.bytes;
          g.finish(c);
          cases.push_back(std::move(c));
        }
      }
    }
  }
  check(cases);
}

// ROL ROR RCL RCR SHL SHR SAR by 1 (D0/D1), by imm8 (C0/C1) and by CL
// (D2/D3), counts 0..63 and beyond the mask, CF in both ways.
TEST_F(Differential, ShiftsAndRotates) {
  struct ShiftOp {
    const char* name;
    unsigned ext;
    bool rotate, sar;
  };
  const ShiftOp ops[] = {{"rol", 0, true, false}, {"ror", 1, true, false}, {"rcl", 2, true, false},
                         {"rcr", 3, true, false}, {"shl", 4, false, false}, {"shr", 5, false, false},
                         {"sar", 7, false, true}};
  const unsigned counts[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 200, 255};
  Gen g(3, base());
  std::vector<Case> cases;
  for (const ShiftOp& op : ops) {
    for (unsigned size : {1u, 2u, 4u, 8u}) {
      const bool byte = size == 1;
      auto vals = g.values(size, 4);
      for (unsigned form = 0; form < 3; ++form) {  // 0: by 1, 1: imm8, 2: CL
        for (unsigned count : counts) {
          if (form == 0 && count != 1) continue;
          for (size_t vi = 0; vi < vals.size(); vi += (form == 0 ? 1 : 2)) {
            for (unsigned cf : {0u, 1u}) {
              if (!(op.ext == 2 || op.ext == 3) && cf && (vi & 2)) continue;  // CF in matters to RCL/RCR
              Encoder e;
              Case c = g.start("");
              c.in.rflags = (c.in.rflags & ~fl::CF) | (cf ? fl::CF : 0);
              const bool in_mem = (vi % 5) == 4;
              Rm dst;
              std::string dname;
              Op d = g.pick_reg(size, {rCX});
              if (in_mem) {
                const uint64_t off = g.data_off(size);
                g.patch(c, off, vals[vi], size);
                dst = g.mem(c, off, {rCX}, form == 1 ? 1 : 0);
                dname = "mem";
              } else {
                g.put(c, d, size, vals[vi]);
                dst = reg_op(d.reg, d.high8);
                dname = reg_name(d, size);
              }
              if (form == 0) {
                e.modrm({uint8_t(byte ? 0xd0 : 0xd1)}, size, op.ext, dst);
              } else if (form == 1) {
                e.modrm({uint8_t(byte ? 0xc0 : 0xc1)}, size, op.ext, dst);
                e.imm(count, 1);
              } else {
                c.in.r[rCX] = (c.in.r[rCX] & ~0xffull) | count;
                e.modrm({uint8_t(byte ? 0xd2 : 0xd3)}, size, op.ext, dst);
              }
              c.undefined = undefined_flags::shift(op.rotate, op.sar, size, count);
              c.name = std::string(op.name) + size_name(size) + " " + dname + "," +
                       (form == 0 ? "1" : form == 1 ? "imm " + std::to_string(count) : "cl=" + std::to_string(count));
              c.code = e.bytes;
              g.finish(c);
              cases.push_back(std::move(c));
            }
          }
        }
      }
    }
  }
  check(cases);
}

// SHLD (0F A4 ib, 0F A5 CL) and SHRD (0F AC ib, 0F AD CL).
TEST_F(Differential, DoubleShifts) {
  const unsigned counts[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
  Gen g(4, base());
  std::vector<Case> cases;
  for (bool left : {true, false}) {
    for (unsigned size : {2u, 4u, 8u}) {
      for (unsigned count : counts) {
        for (unsigned rep = 0; rep < 8; ++rep) {
          const bool by_cl = rep & 1;
          const bool in_mem = rep == 6;
          Encoder e;
          Case c = g.start("");
          auto [d, s] = g.pick_pair(size, {rCX});
          const uint64_t a = g.r64(), b = rep == 2 ? mask_of(size) : rep == 4 ? 0 : g.r64();
          g.put(c, s, size, b);
          Rm dst = reg_op(d.reg);
          if (in_mem) {
            const uint64_t off = g.data_off(size);
            g.patch(c, off, a, size);
            dst = g.mem(c, off, {rCX, s.reg}, by_cl ? 0 : 1);
          } else {
            g.put(c, d, size, a);
          }
          if (by_cl) c.in.r[rCX] = (c.in.r[rCX] & ~0xffull) | count;
          e.modrm({0x0f, uint8_t((left ? 0xa4 : 0xac) + (by_cl ? 1 : 0))}, size, s.reg, dst);
          if (!by_cl) e.imm(count, 1);
          c.undefined = undefined_flags::double_shift(size, count);
          // A count above the operand size leaves the destination undefined.
          if ((count & (size == 8 ? 0x3f : 0x1f)) > 8 * size) {
            if (in_mem) continue;
            c.undefined_regs = uint16_t(1u << d.reg);
          }
          c.name = std::string(left ? "shld" : "shrd") + size_name(size) + (in_mem ? " mem," : " reg,") +
                   reg_name(s, size) + (by_cl ? ",cl=" : ",imm ") + std::to_string(count);
          c.code = e.bytes;
          g.finish(c);
          cases.push_back(std::move(c));
        }
      }
    }
  }
  check(cases);
}

// MUL, IMUL (F6/F7 /4 /5), IMUL r,r/m (0F AF), IMUL r,r/m,imm (6B ib, 69 iz).
TEST_F(Differential, Multiply) {
  Gen g(5, base());
  std::vector<Case> cases;
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    const bool byte = size == 1;
    unsigned k = 0;
    for (auto [a, b] : g.pairs(size, 30)) {
      // One-operand MUL and IMUL: rDX:rAX (AX) = rAX * r/m.
      for (unsigned ext : {4u, 5u}) {
        Encoder e;
        Case c = g.start("");
        c.undefined = undefined_flags::kMul;
        g.put(c, {rAX}, size, a);
        const bool in_mem = (k % 4) == 3;
        std::string src;
        if (in_mem) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, b, size);
          e.modrm({uint8_t(byte ? 0xf6 : 0xf7)}, size, ext, g.mem(c, off, {rAX, rDX}, 0));
          src = "mem";
        } else {
          Op s = (k % 7 == 0) ? Op{rAX} : g.pick_reg(size, {rAX, rDX});
          if (s.reg != rAX) g.put(c, s, size, b);
          e.modrm({uint8_t(byte ? 0xf6 : 0xf7)}, size, ext, reg_op(s.reg, s.high8));
          src = reg_name(s, size);
        }
        c.name = std::string(ext == 4 ? "mul" : "imul") + size_name(size) + " " + src;
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
      ++k;
      if (byte) continue;
      // IMUL r, r/m and IMUL r, r/m, imm.
      for (unsigned form = 0; form < 3; ++form) {
        Encoder e;
        Case c = g.start("");
        c.undefined = undefined_flags::kMul;
        auto [d, s] = g.pick_pair(size);
        g.put(c, d, size, a);
        const bool in_mem = (k % 3) == 1;
        Rm src = reg_op(s.reg);
        const unsigned isz = form == 1 ? 1 : form == 2 ? (size == 2 ? 2 : 4) : 0;
        if (in_mem) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, b, size);
          src = g.mem(c, off, {d.reg}, int(isz));
        } else {
          g.put(c, s, size, b);
        }
        if (form == 0) e.modrm({0x0f, 0xaf}, size, d.reg, src);
        if (form == 1) e.modrm({0x6b}, size, d.reg, src).imm(g.r64() & 0xff, 1);
        if (form == 2) e.modrm({0x69}, size, d.reg, src).imm(k % 5 == 0 ? mask_of(isz) : g.r64(), isz);
        c.name = std::string("imul") + size_name(size) + " " + reg_name(d, size) + (in_mem ? ",mem" : ",reg") +
                 (form == 1 ? ",imm8" : form == 2 ? ",imm" : "");
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  check(cases);
}

// DIV, IDIV (F6/F7 /6 /7) with dividends whose quotient fits (no #DE).
TEST_F(Differential, Divide) {
  Gen g(6, base());
  std::vector<Case> cases;
  using u128 = unsigned __int128;
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    const unsigned bits = 8 * size;
    const uint64_t m = mask_of(size);
    for (bool is_signed : {false, true}) {
      for (unsigned k = 0; k < 160; ++k) {
        // Divisor d, quotient q, remainder r (|r| < |d|, with the
        // dividend's sign): dividend = q*d + r, so the quotient fits.
        u128 dividend;
        uint64_t divisor;
        if (!is_signed) {
          const uint64_t dv[] = {1, 2, 3, 7, m, m - 1, m >> 1, (m >> 1) + 1, 10};
          const uint64_t d = k < 9 ? dv[k] : ((g.r64() & m) | 1);
          const uint64_t qv[] = {0, 1, m, m >> 1};
          const uint64_t q = k % 5 < 4 ? qv[k % 5] : (g.r64() & m);
          uint64_t r = d > 1 ? g.r64() % d : 0;
          if (k % 3 == 0) r = d - 1;
          dividend = u128(q) * d + r;
          divisor = d;
        } else {
          const int64_t smax = int64_t(m >> 1), smin = -smax - 1;
          const int64_t dv[] = {1, -1, 2, -2, 7, -7, smax, smin, smin + 1};
          const int64_t d = k < 9 ? dv[k] : (int64_t(sext(g.r64() & m, size)) | 1);
          const int64_t qv[] = {0, 1, -1, smax, smin + 1, smin};
          const int64_t q = k % 7 < 6 ? qv[k % 7] : int64_t(sext(g.r64() & m, size));
          const __int128 ad = d < 0 ? -__int128(d) : __int128(d);
          __int128 r = ad > 1 ? __int128(g.r64() % uint64_t(ad)) : 0;
          const __int128 prod = __int128(q) * d;
          if (prod < 0 || (prod == 0 && g.coin())) r = -r;
          const __int128 sdiv = prod + r;
          // The dividend must fit 2*bits as a signed number.
          if (bits < 64) {
            const __int128 lim = __int128(1) << (2 * bits - 1);
            if (sdiv >= lim || sdiv < -lim) continue;
          }
          dividend = u128(sdiv);
          divisor = uint64_t(d) & m;
        }
        Encoder e;
        Case c = g.start("");
        c.undefined = undefined_flags::kDiv;
        if (size == 1) {
          g.put(c, {rAX}, 2, uint64_t(dividend) & 0xffff);
        } else {
          g.put(c, {rAX}, size, uint64_t(dividend) & m);
          g.put(c, {rDX}, size, uint64_t(dividend >> bits) & m);
        }
        const unsigned ext = is_signed ? 7 : 6;
        std::string src;
        if (k % 4 == 3) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, divisor, size);
          e.modrm({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, ext, g.mem(c, off, {rAX, rDX}, 0));
          src = "mem";
        } else {
          Op s = g.pick_reg(size, {rAX, rDX});
          g.put(c, s, size, divisor);
          e.modrm({uint8_t(size == 1 ? 0xf6 : 0xf7)}, size, ext, reg_op(s.reg, s.high8));
          src = reg_name(s, size);
        }
        c.name = std::string(is_signed ? "idiv" : "div") + size_name(size) + " " + src;
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  check(cases);
}

// MOV (88/89/8A/8B, C6/C7, B0+r, B8+r incl. MOVABS), MOVZX (0F B6/B7),
// MOVSX (0F BE/BF), MOVSXD (63 with and without REX.W).
TEST_F(Differential, MovesAndExtensions) {
  Gen g(7, base());
  std::vector<Case> cases;
  // MOV.
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    const bool byte = size == 1;
    for (unsigned k = 0; k < 120; ++k) {
      Encoder e;
      Case c = g.start("");
      const uint64_t v = g.r64();
      std::string fname;
      switch (k % 6) {
        case 0: {
          auto [d, s] = g.pick_pair(size);
          e.modrm({uint8_t(byte ? 0x88 : 0x89)}, size, s.reg, reg_op(d.reg, d.high8), {byte, s.high8});
          fname = reg_name(d, size) + "," + reg_name(s, size);
          break;
        }
        case 1: {
          Op d = g.pick_reg(size);
          if (d.high8) d.high8 = false;
          const uint64_t off = g.data_off(size);
          g.patch(c, off, v, size);
          e.modrm({uint8_t(byte ? 0x8a : 0x8b)}, size, d.reg, g.mem(c, off, {d.reg}, 0), {byte, false});
          fname = reg_name(d, size) + ",mem";
          break;
        }
        case 2: {
          Op s = g.pick_reg(size);
          if (s.high8) s.high8 = false;
          const uint64_t off = g.data_off(size);
          e.modrm({uint8_t(byte ? 0x88 : 0x89)}, size, s.reg, g.mem(c, off, {s.reg}, 0), {byte, false});
          fname = "mem," + reg_name(s, size);
          break;
        }
        case 3: {  // C6/C7 /0: r/m, imm (sign-extended imm32 for 64-bit)
          Op d = g.pick_reg(size);
          const unsigned isz = size == 1 ? 1 : size == 2 ? 2 : 4;
          e.modrm({uint8_t(byte ? 0xc6 : 0xc7)}, size, 0, reg_op(d.reg, d.high8)).imm(v, isz);
          fname = reg_name(d, size) + ",imm";
          break;
        }
        case 4: {  // B0+r ib / B8+r iw/id/io
          Op d = g.pick_reg(size);
          e.plus_reg({}, byte ? 0xb0 : 0xb8, size, d.reg, byte, d.high8).imm(v, size);
          fname = reg_name(d, size) + ",imm (B0/B8+r)";
          break;
        }
        default: {  // C7 to memory
          const uint64_t off = g.data_off(size);
          const unsigned isz = size == 1 ? 1 : size == 2 ? 2 : 4;
          e.modrm({uint8_t(byte ? 0xc6 : 0xc7)}, size, 0, g.mem(c, off, {}, int(isz))).imm(v, isz);
          fname = "mem,imm";
          break;
        }
      }
      c.name = std::string("mov") + size_name(size) + " " + fname;
      c.code = e.bytes;
      g.finish(c);
      cases.push_back(std::move(c));
    }
  }
  // MOVZX / MOVSX / MOVSXD.
  struct Ext {
    const char* name;
    std::initializer_list<uint8_t> opcode;
    unsigned src;
  };
  const Ext exts[] = {{"movzx", {0x0f, 0xb6}, 1}, {"movzx", {0x0f, 0xb7}, 2}, {"movsx", {0x0f, 0xbe}, 1},
                      {"movsx", {0x0f, 0xbf}, 2}, {"movsxd", {0x63}, 4}};
  for (const Ext& x : exts) {
    for (unsigned dsize : {2u, 4u, 8u}) {
      if (x.src >= dsize && !(x.src == 4 && dsize == 4)) continue;  // 63 /r without REX.W: r32, r/m32
      for (uint64_t v : g.values(x.src, 20)) {
        for (bool in_mem : {false, true}) {
          Encoder e;
          Case c = g.start("");
          Op d = g.pick_reg(8);
          std::string sname;
          if (in_mem) {
            const uint64_t off = g.data_off(x.src);
            g.patch(c, off, v, x.src);
            e.modrm(x.opcode, dsize, d.reg, g.mem(c, off, {d.reg}, 0));
            sname = "mem";
          } else {
            Op s = g.pick_reg(x.src);
            if (s.high8 && d.reg >= 8) s.high8 = false;
            if (s.high8 && dsize == 8) s.high8 = false;
            g.put(c, s, x.src, v);
            e.modrm(x.opcode, dsize, d.reg, reg_op(s.reg, s.high8), {false, false, x.src == 1});
            sname = reg_name(s, x.src);
          }
          c.name = std::string(x.name) + " " + reg_name(d, dsize) + "," + sname;
          c.code = e.bytes;
          g.finish(c);
          cases.push_back(std::move(c));
        }
      }
    }
  }
  check(cases);
}

// LEA (8D) with every addressing form, 16/32/64-bit destinations, 32-bit
// address size (67h) and RIP-relative operands. No memory is accessed, so
// base and index registers hold arbitrary values.
TEST_F(Differential, LoadEffectiveAddress) {
  Gen g(8, base());
  std::vector<Case> cases;
  for (unsigned k = 0; k < 1500; ++k) {
    const unsigned dsize = k % 3 == 0 ? 2 : k % 3 == 1 ? 4 : 8;
    Encoder e;
    Case c = g.start("");
    Op d = g.pick_reg(8);
    Rm m;
    m.mem = true;
    const unsigned form = g.below(6);
    const int32_t disps[] = {0, 1, -1, 127, -128, 128, -129, 0x7fffffff, int32_t(0x80000000u), int32_t(g.r64())};
    m.disp = disps[g.below(10)];
    if (form == 0) {
      m.rip = true;
    } else {
      if (form != 1) m.base = int(g.below(16));
      if (form >= 2 && g.coin()) {
        int x;
        do x = int(g.below(16)); while (x == rSP);
        m.index = x;
        m.scale = 1u << g.below(4);
      }
      if (form == 1) {  // no base: needs an index or is an absolute disp32
        if (g.coin()) {
          int x;
          do x = int(g.below(16)); while (x == rSP);
          m.index = x;
          m.scale = 1u << g.below(4);
        }
      }
      m.addr32 = form == 5 || (form == 4 && g.coin());
    }
    e.modrm({0x8d}, dsize, d.reg, m);
    c.name = std::string("lea") + size_name(dsize) + (m.rip ? " [rip+d]" : m.addr32 ? " addr32" : " addr64") +
             (m.base != NO_REG ? " base" : "") + (m.index != NO_REG ? " index*" + std::to_string(m.scale) : "");
    c.code = e.bytes;
    cases.push_back(std::move(c));
  }
  check(cases);
}

// XCHG (86/87, 90+r), CMPXCHG (0F B0/B1), XADD (0F C0/C1), BSWAP (0F C8+r),
// CMPXCHG8B/16B (0F C7 /1).
TEST_F(Differential, ExchangeAndCompare) {
  Gen g(9, base());
  std::vector<Case> cases;
  for (unsigned size : {1u, 2u, 4u, 8u}) {
    const bool byte = size == 1;
    for (unsigned k = 0; k < 160; ++k) {
      Encoder e;
      Case c = g.start("");
      const uint64_t a = g.r64(), b = g.r64();
      const unsigned kind = k % 8;
      const bool in_mem = (k / 8) % 3 == 2;
      std::string fname;
      if (kind <= 1) {  // XCHG
        if (in_mem) {
          Op s = g.pick_reg(size);
          s.high8 = false;
          const uint64_t off = g.data_off(size);
          g.patch(c, off, a, size);
          e.modrm({uint8_t(byte ? 0x86 : 0x87)}, size, s.reg, g.mem(c, off, {s.reg}, 0), {byte, false});
          fname = "xchg mem," + reg_name(s, size);
        } else if (kind == 1 && !byte) {  // 90+r: xchg rAX, r (REX.B 90 is xchg with r8)
          Op s = g.pick_reg(size, {rAX});
          e.plus_reg({}, 0x90, size, s.reg);
          fname = "xchg " + reg_name({rAX}, size) + "," + reg_name(s, size) + " (90+r)";
        } else {
          auto [d, s] = g.pick_pair(size);
          e.modrm({uint8_t(byte ? 0x86 : 0x87)}, size, s.reg, reg_op(d.reg, d.high8), {byte, s.high8});
          fname = "xchg " + reg_name(d, size) + "," + reg_name(s, size);
        }
      } else if (kind <= 4) {  // CMPXCHG: equal and unequal accumulators
        const bool equal = kind != 2;
        Op s = g.pick_reg(size, {rAX});
        s.high8 = false;
        if (in_mem) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, a, size);
          g.put(c, {rAX}, size, equal ? a : b);
          e.modrm({0x0f, uint8_t(byte ? 0xb0 : 0xb1)}, size, s.reg, g.mem(c, off, {s.reg, rAX}, 0), {byte, false});
          fname = "cmpxchg mem," + reg_name(s, size);
        } else {
          Op d = g.pick_reg(size, {rAX, s.reg});
          d.high8 = false;
          if (kind == 4) d = {rAX};  // the accumulator as destination
          g.put(c, d, size, a);
          if (d.reg != rAX) g.put(c, {rAX}, size, equal ? a : b);
          e.modrm({0x0f, uint8_t(byte ? 0xb0 : 0xb1)}, size, s.reg, reg_op(d.reg), {byte, false});
          fname = "cmpxchg " + reg_name(d, size) + "," + reg_name(s, size);
        }
        fname += equal ? " (equal)" : " (unequal)";
      } else if (kind <= 6) {  // XADD
        Op s = g.pick_reg(size);
        s.high8 = false;
        if (in_mem) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, a, size);
          e.modrm({0x0f, uint8_t(byte ? 0xc0 : 0xc1)}, size, s.reg, g.mem(c, off, {s.reg}, 0), {byte, false});
          fname = "xadd mem," + reg_name(s, size);
        } else {
          Op d = g.pick_reg(size, {s.reg});
          d.high8 = false;
          g.put(c, d, size, a);
          e.modrm({0x0f, uint8_t(byte ? 0xc0 : 0xc1)}, size, s.reg, reg_op(d.reg), {byte, false});
          fname = "xadd " + reg_name(d, size) + "," + reg_name(s, size);
        }
      } else {  // BSWAP r32/r64 (the 16-bit form is undefined)
        if (size < 4) continue;
        Op d = g.pick_reg(size);
        e.plus_reg({0x0f}, 0xc8, size, d.reg);
        fname = "bswap " + reg_name(d, size);
      }
      c.name = fname;
      c.code = e.bytes;
      g.finish(c);
      cases.push_back(std::move(c));
    }
  }
  // CMPXCHG8B / CMPXCHG16B (16-byte aligned operand).
  for (unsigned k = 0; k < 40; ++k) {
    const bool wide = k & 1;
    const unsigned half = wide ? 8 : 4;
    Encoder e;
    Case c = g.start("");
    uint64_t off = g.data_off(2 * half) & ~uint64_t(15);
    const uint64_t lo = g.r64(), hi = g.r64();
    g.patch(c, off, lo, half);
    g.patch(c, off + half, hi, half);
    if (k & 2) {  // equal
      g.put(c, {rAX}, half, lo);
      g.put(c, {rDX}, half, hi);
    }
    e.modrm({0x0f, 0xc7}, wide ? 8 : 4, 1, g.mem(c, off, {rAX, rBX, rCX, rDX}, 0));
    c.name = std::string(wide ? "cmpxchg16b" : "cmpxchg8b") + ((k & 2) ? " (equal)" : " (unequal)");
    c.code = e.bytes;
    g.finish(c);
    cases.push_back(std::move(c));
  }
  check(cases);
}

// BT BTS BTR BTC: r/m,r (0F A3/AB/B3/BB) and r/m,imm8 (0F BA /4-/7), with
// register bit offsets far outside the operand for memory destinations
// (SDM BT: "the bit string" addressing). BSF BSR (0F BC/BD), nonzero
// sources (TZCNT/LZCNT are F3-prefixed and differ on BMI hosts: not here).
TEST_F(Differential, BitTestAndScan) {
  Gen g(10, base());
  std::vector<Case> cases;
  const uint8_t reg_ops[4] = {0xa3, 0xab, 0xb3, 0xbb};
  const char* const names[4] = {"bt", "bts", "btr", "btc"};
  for (unsigned op = 0; op < 4; ++op) {
    for (unsigned size : {2u, 4u, 8u}) {
      for (unsigned k = 0; k < 120; ++k) {
        Encoder e;
        Case c = g.start("");
        c.undefined = undefined_flags::kBitTest;
        const unsigned form = k % 4;
        std::string fname;
        if (form == 0) {  // reg, reg
          auto [d, s] = g.pick_pair(size);
          g.put(c, d, size, g.r64());
          g.put(c, s, size, g.r64());
          e.modrm({0x0f, reg_ops[op]}, size, s.reg, reg_op(d.reg));
          fname = reg_name(d, size) + "," + reg_name(s, size);
        } else if (form == 1) {  // reg, imm8
          Op d = g.pick_reg(size);
          g.put(c, d, size, g.r64());
          e.modrm({0x0f, 0xba}, size, 4 + op, reg_op(d.reg)).imm(g.r64(), 1);
          fname = reg_name(d, size) + ",imm8";
        } else if (form == 2) {  // mem, imm8
          const uint64_t off = g.data_off(size);
          e.modrm({0x0f, 0xba}, size, 4 + op, g.mem(c, off, {}, 1)).imm(g.r64(), 1);
          fname = "mem,imm8";
        } else {  // mem, reg: a signed bit offset reaching well outside the operand
          Op s = g.pick_reg(size);
          int64_t bit = int64_t(g.r64() % 8000) - 4000;
          if (size == 2) bit = int64_t(g.r64() % 60000) - 30000;  // 16-bit offsets are sign-extended words
          const uint64_t off = kDataOff + kDataSize / 2 - 512 + g.below(64) * 8;
          g.put(c, s, size, uint64_t(bit));
          e.modrm({0x0f, reg_ops[op]}, size, s.reg, g.mem(c, off, {s.reg}, 0));
          fname = "mem," + reg_name(s, size) + " (bit offset " + std::to_string(bit) + ")";
        }
        c.name = std::string(names[op]) + size_name(size) + " " + fname;
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  for (bool reverse : {false, true}) {
    for (unsigned size : {2u, 4u, 8u}) {
      std::vector<uint64_t> vals;
      for (uint64_t v : g.values(size, 30))
        if (v) vals.push_back(v);
      for (unsigned b = 0; b < 8 * size; ++b) vals.push_back(1ull << b);
      unsigned k = 0;
      for (uint64_t v : vals) {
        Encoder e;
        Case c = g.start("");
        c.undefined = undefined_flags::kBitScan;
        Op d = g.pick_reg(size);
        if (k++ % 3 == 2) {
          const uint64_t off = g.data_off(size);
          g.patch(c, off, v, size);
          e.modrm({0x0f, uint8_t(reverse ? 0xbd : 0xbc)}, size, d.reg, g.mem(c, off, {d.reg}, 0));
        } else {
          Op s = g.pick_reg(size, {d.reg});
          g.put(c, s, size, v);
          e.modrm({0x0f, uint8_t(reverse ? 0xbd : 0xbc)}, size, d.reg, reg_op(s.reg));
        }
        c.name = std::string(reverse ? "bsr" : "bsf") + size_name(size) + " " + reg_name(d, size);
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  check(cases);
}

// CMOVcc (0F 40+cc) and SETcc (0F 90+cc) for all 16 conditions under all
// 32 combinations of CF, PF, ZF, SF, OF.
TEST_F(Differential, ConditionalMoveAndSet) {
  Gen g(11, base());
  std::vector<Case> cases;
  const uint64_t bits[5] = {fl::CF, fl::PF, fl::ZF, fl::SF, fl::OF};
  for (unsigned cc = 0; cc < 16; ++cc) {
    for (unsigned combo = 0; combo < 32; ++combo) {
      uint64_t flags = g.r64() & fl::AF;
      for (unsigned b = 0; b < 5; ++b)
        if (combo & (1u << b)) flags |= bits[b];
      {  // CMOVcc
        const unsigned size = 2u << (combo % 3);  // 2, 4, 8
        Encoder e;
        Case c = g.start("");
        c.in.rflags = flags;
        auto [d, s] = g.pick_pair(size);
        if (combo % 4 == 3) {
          const uint64_t off = g.data_off(size);
          e.modrm({0x0f, uint8_t(0x40 + cc)}, size, d.reg, g.mem(c, off, {d.reg}, 0));
        } else {
          e.modrm({0x0f, uint8_t(0x40 + cc)}, size, d.reg, reg_op(s.reg));
        }
        c.name = "cmov cc=" + std::to_string(cc) + " " + reg_name(d, size) + " flags=" + std::to_string(combo);
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
      {  // SETcc r/m8
        Encoder e;
        Case c = g.start("");
        c.in.rflags = flags;
        if (combo % 4 == 3) {
          const uint64_t off = g.data_off(1);
          e.modrm({0x0f, uint8_t(0x90 + cc)}, 1, 0, g.mem(c, off, {}, 0));
          c.name = "set cc=" + std::to_string(cc) + " mem";
        } else {
          Op d = g.pick_reg(1);
          e.modrm({0x0f, uint8_t(0x90 + cc)}, 1, 0, reg_op(d.reg, d.high8));
          c.name = "set cc=" + std::to_string(cc) + " " + reg_name(d, 1);
        }
        c.name += " flags=" + std::to_string(combo);
        c.code = e.bytes;
        g.finish(c);
        cases.push_back(std::move(c));
      }
    }
  }
  check(cases);
}

// CBW CWDE CDQE (98), CWD CDQ CQO (99), LAHF (9F), SAHF (9E), CLC STC CMC
// CLD STD (F8 F9 F5 FC FD), XLAT (D7).
TEST_F(Differential, AccumulatorAndFlags) {
  Gen g(12, base());
  std::vector<Case> cases;
  struct One {
    const char* name;
    std::vector<uint8_t> code;
  };
  const One ones[] = {{"cbw", {0x66, 0x98}}, {"cwde", {0x98}}, {"cdqe", {0x48, 0x98}}, {"cwd", {0x66, 0x99}},
                      {"cdq", {0x99}},       {"cqo", {0x48, 0x99}}, {"lahf", {0x9f}},    {"sahf", {0x9e}},
                      {"clc", {0xf8}},       {"stc", {0xf9}},       {"cmc", {0xf5}},     {"cld", {0xfc}},
                      {"std; lahf; cld", {0xfd, 0x9f, 0xfc}},
                      // 90 is NOP in 64-bit mode (RAX keeps its upper half); 87 C0 is a real
                      // XCHG EAX,EAX and zero-extends; 41 90 is XCHG R8D,EAX.
                      {"nop (90)", {0x90}}, {"xchg eax,eax (87 c0)", {0x87, 0xc0}}, {"xchg r8d,eax (41 90)", {0x41, 0x90}},
                      {"pause", {0xf3, 0x90}}, {"nopl 0(rax,rax)", {0x0f, 0x1f, 0x44, 0x00, 0x00}}};
  for (const One& o : ones) {
    for (uint64_t v : g.values(8, 40)) {
      for (unsigned n = 0; n < 2; ++n) {
        Case c = g.start(o.name);
        c.in.r[rAX] = n ? (v & 0xffffffffull) ^ (g.r64() << 32) : v;  // sign bits of each width
        if (n) c.in.r[rAX] ^= 0x8080ull << (8 * g.below(3));
        c.in.rflags = g.status() | (g.coin() ? fl::DF : 0);
        c.code = o.code;
        cases.push_back(std::move(c));
      }
    }
  }
  // PUSHFQ/POPFQ through RAX, masked to the compared bits (IF differs by design).
  for (unsigned k = 0; k < 100; ++k) {
    Case c = g.start("");
    c.memory = true;
    c.in.rflags = g.status() | (g.coin() ? fl::DF : 0);
    if (k & 1) {
      // (push rcx overwrites the stack slot that held IF.)
      c.name = "pushfq; pop rax; push rcx; pop rcx; and rax,0xcd5";
      c.code = {0x9c, 0x58, 0x51, 0x59, 0x48, 0x25, 0xd5, 0x0c, 0x00, 0x00};
    } else {
      c.name = "and rax,0xcd5; push rax; popfq";
      c.code = {0x48, 0x25, 0xd5, 0x0c, 0x00, 0x00, 0x50, 0x9d};
    }
    cases.push_back(std::move(c));
  }
  for (unsigned k = 0; k < 200; ++k) {
    Case c = g.start("xlat");
    const uint64_t off = kDataOff + 256 + g.below(2048);
    c.in.r[rBX] = base() + off;
    c.memory = true;
    c.code = {uint8_t(k & 1 ? 0x48 : 0x90), 0xd7};  // REX.W XLAT and plain XLAT (after a NOP)
    if (!(k & 1)) c.code = {0xd7};
    cases.push_back(std::move(c));
  }
  check(cases);
}

// PUSH and POP (50+r, 58+r with REX.B and 66h, 6A, 68, FF /6, 8F /0 with
// RSP-based addresses, PUSH RSP, POP RSP last), CALL rel32 + POP, ENTER
// (C8) with nesting levels, LEAVE (C9).
TEST_F(Differential, StackOperations) {
  Gen g(13, base());
  std::vector<Case> cases;
  for (unsigned k = 0; k < 1500; ++k) {
    Encoder e;
    Case c = g.start("");
    c.memory = true;
    c.in.r[r15] = base() + kDataOff + 512 + g.below(1024) * 8;  // [r15]: never popped into
    std::string name;
    const unsigned n = 1 + g.below(6);
    for (unsigned i = 0; i < n; ++i) {
      const unsigned what = g.below(i + 1 == n ? 13 : 12);
      switch (what) {
        case 0: case 1: {
          const unsigned r = g.below(16);
          e.plus_reg({}, 0x50, 4, r);
          name += "push " + reg_name({uint8_t(r)}, 8) + "; ";
          break;
        }
        case 2: case 3: {
          unsigned r;
          do r = g.below(16); while (r == rSP || r == r15);
          e.plus_reg({}, 0x58, 4, r);
          name += "pop " + reg_name({uint8_t(r)}, 8) + "; ";
          break;
        }
        case 4: e.db({0x6a}).imm(g.r64(), 1); name += "push imm8; "; break;
        case 5: e.db({0x68}).imm(g.r64(), 4); name += "push imm32; "; break;
        case 6: {  // push word / pop word
          unsigned r;
          do r = g.below(16); while (r == rSP || r == r15);
          e.plus_reg({}, g.coin() ? 0x50 : 0x58, 2, r);
          name += "push/pop r16; ";
          break;
        }
        case 7: {  // push qword [rsp + disp8]
          e.modrm({0xff}, 4, 6, mem_op(rSP, int32_t(g.below(8) * 8)));
          name += "push [rsp+d]; ";
          break;
        }
        case 8: {  // pop qword [rsp + disp8]: the address uses the incremented RSP
          e.modrm({0x8f}, 4, 0, mem_op(rSP, int32_t(g.below(8) * 8) - 16));
          name += "pop [rsp+d]; ";
          break;
        }
        case 9: {  // push / pop with a data-area address
          const int b = r15;
          if (g.coin()) {
            e.modrm({0xff}, 4, 6, mem_op(b, 0));  // PUSH r/m64: FF /6
            name += "push [reg]; ";
          } else {
            e.modrm({0x8f}, 4, 0, mem_op(b, 0));  // POP r/m64: 8F /0
            name += "pop [reg]; ";
          }
          break;
        }
        case 10: e.db({0x54}); name += "push rsp; "; break;
        case 11: e.db({0xe8, 0, 0, 0, 0}).db({0x58}); name += "call next; pop rax; "; break;
        default: e.db({0x5c}); name += "pop rsp; "; break;
      }
    }
    c.name = name;
    c.code = e.bytes;
    cases.push_back(std::move(c));
  }
  // ENTER imm16, imm8 and LEAVE, with RBP inside the stack area.
  for (unsigned k = 0; k < 200; ++k) {
    Encoder e;
    Case c = g.start("");
    c.memory = true;
    c.in.r[rBP] = base() + kStackStart + 64 + g.below(64) * 8;
    const unsigned level = k % 5 == 4 ? 31 : k % 5;
    const unsigned frame = g.below(512);
    if (k & 1) {
      e.db({0xc8}).imm(frame, 2).imm(level, 1);
      c.name = "enter " + std::to_string(frame) + "," + std::to_string(level);
    } else {
      e.db({0xc9});
      c.name = "leave";
    }
    if (k % 7 == 6) {
      e = Encoder{};
      e.db({0xc8}).imm(frame, 2).imm(level, 1).db({0xc9});
      c.name = "enter " + std::to_string(frame) + "," + std::to_string(level) + "; leave";
    }
    c.code = e.bytes;
    cases.push_back(std::move(c));
  }
  check(cases);
}

// Jcc (70+cc rel8, 0F 80+cc rel32) for all 16 conditions under all 32
// combinations of CF, PF, ZF, SF, OF; JMP rel8/rel32; LOOP LOOPE LOOPNE
// (E2 E1 E0) and JRCXZ/JECXZ (E3, 67 E3) with RCX values around 0 and
// 2^32; CALL/RET (E8, C3, C2 iw); JMP/CALL through a register or memory.
// Each skips over a MOV when taken, so RAX..RCX tell which way it went.
TEST_F(Differential, Branches) {
  Gen g(15, base());
  std::vector<Case> cases;
  const uint64_t bits[5] = {fl::CF, fl::PF, fl::ZF, fl::SF, fl::OF};
  const std::vector<uint8_t> skipped = {0xb8, 0x11, 0x22, 0x33, 0x44};  // mov eax, 0x44332211 (5 bytes)
  for (unsigned cc = 0; cc < 16; ++cc) {
    for (unsigned combo = 0; combo < 32; ++combo) {
      for (bool near32 : {false, true}) {
        Case c = g.start("");
        c.in.rflags = 0;
        for (unsigned b = 0; b < 5; ++b)
          if (combo & (1u << b)) c.in.rflags |= bits[b];
        if (near32)
          c.code = {0x0f, uint8_t(0x80 + cc), 5, 0, 0, 0};
        else
          c.code = {uint8_t(0x70 + cc), 5};
        c.code.insert(c.code.end(), skipped.begin(), skipped.end());
        c.name = std::string(near32 ? "jcc rel32" : "jcc rel8") + " cc=" + std::to_string(cc) + " flags=" + std::to_string(combo);
        cases.push_back(std::move(c));
      }
    }
  }
  const uint64_t rcx_values[] = {0, 1, 2, 3, 0x100000000ull, 0x100000001ull, 0xffffffffull, ~0ull};
  struct LoopOp {
    const char* name;
    uint8_t op;
  };
  const LoopOp loops[] = {{"loopne", 0xe0}, {"loope", 0xe1}, {"loop", 0xe2}, {"jrcxz", 0xe3}};
  for (const LoopOp& l : loops) {
    for (uint64_t rcx : rcx_values) {
      for (bool addr32 : {false, true}) {
        for (bool zf : {false, true}) {
          Case c = g.start("");
          c.in.r[rCX] = rcx;
          c.in.rflags = g.status() & ~fl::ZF;
          if (zf) c.in.rflags |= fl::ZF;
          if (addr32) c.code.push_back(0x67);  // ECX as the counter
          c.code.insert(c.code.end(), {l.op, 5});
          c.code.insert(c.code.end(), skipped.begin(), skipped.end());
          c.name = std::string(addr32 ? "addr32 " : "") + l.name + " rcx=" + std::to_string(rcx) + (zf ? " ZF=1" : " ZF=0");
          cases.push_back(std::move(c));
        }
      }
    }
  }
  {
    Case c = g.start("jmp rel8");
    c.code = {0xeb, 5};
    c.code.insert(c.code.end(), skipped.begin(), skipped.end());
    cases.push_back(c);
    c.name = "jmp rel32";
    c.code = {0xe9, 5, 0, 0, 0};
    c.code.insert(c.code.end(), skipped.begin(), skipped.end());
    cases.push_back(c);
  }
  for (unsigned k = 0; k < 40; ++k) {
    Case c = g.start("");
    c.memory = true;
    switch (k % 5) {
      case 0:  // call +3; jmp +2; nop; ret  (ret returns to the jmp)
        c.name = "call; ret";
        c.code = {0xe8, 3, 0, 0, 0, 0xeb, 2, 0x90, 0xc3};
        break;
      case 1:  // ... with ret 16
        c.name = "call; ret 16";
        c.code = {0xe8, 3, 0, 0, 0, 0xeb, 4, 0x90, 0xc2, 16, 0};
        break;
      case 2:  // jmp rax to the end, over a mov
        c.name = "jmp rax";
        c.in.r[rAX] = base() + kCodeOff + 7;
        c.code = {0xff, 0xe0};
        c.code.insert(c.code.end(), skipped.begin(), skipped.end());
        break;
      case 3:  // call r11: pushes the return address, lands at the end
        c.name = "call r11";
        c.in.r[r11] = base() + kCodeOff + 8;
        c.code = {0x41, 0xff, 0xd3};
        c.code.insert(c.code.end(), skipped.begin(), skipped.end());
        break;
      default: {  // jmp [rbx]
        c.name = "jmp [rbx]";
        const uint64_t off = kDataOff + 8 * (1 + g.below(100));
        c.in.r[rBX] = base() + off;
        g.patch(c, off, base() + kCodeOff + 7, 8);
        c.code = {0xff, 0x23};
        c.code.insert(c.code.end(), skipped.begin(), skipped.end());
        break;
      }
    }
    cases.push_back(std::move(c));
  }
  check(cases);
}

// Segment overrides in 64-bit mode (SDM vol. 1, 3.7.4.1): FS and GS add
// their bases (the sim is given the host's), ES/CS/SS/DS overrides are
// ignored. Loads, read-modify-writes and a string source.
TEST_F(Differential, SegmentOverrides) {
  Gen g(16, base());
  std::vector<Case> cases;
  const uint64_t fs = native_->fs_base(), gs = native_->gs_base();
  for (unsigned k = 0; k < 400; ++k) {
    Case c = g.start("");
    const uint64_t off = g.data_off(8);
    g.patch(c, off, g.r64(), 8);
    const uint8_t prefixes[] = {0x64, 0x65, 0x26, 0x2e, 0x36, 0x3e};
    const uint8_t prefix = prefixes[k % 6];
    const uint64_t seg_base = prefix == 0x64 ? fs : prefix == 0x65 ? gs : 0;
    Encoder e;
    switch ((k / 6) % 4) {
      case 0:  // mov rax, seg:[rbx]
        c.in.r[rBX] = base() + off - seg_base;
        e.db({prefix}).modrm({0x8b}, 8, rAX, mem_op(rBX));
        c.name = "mov rax,seg:[rbx]";
        break;
      case 1:  // add seg:[rbx + 8], ecx
        c.in.r[rBX] = base() + off - 8 - seg_base;
        e.db({prefix}).modrm({0x01}, 4, rCX, mem_op(rBX, 8));
        c.name = "add seg:[rbx+8],ecx";
        break;
      case 2:  // xchg seg:[rbx + rsi*2], dx
        c.in.r[rSI] = g.r64() % 1000;
        c.in.r[rBX] = base() + off - 2 * c.in.r[rSI] - seg_base;
        e.db({prefix}).modrm({0x87}, 2, rDX, mem_op(rBX, 0, rSI, 2));
        c.name = "xchg seg:[rbx+rsi*2],dx";
        break;
      default:  // rep movsb with a seg: source
        c.in.r[rSI] = base() + off - seg_base;
        c.in.r[rDI] = base() + kDataOff + 3 * kPage + g.below(512);
        c.in.r[rCX] = 1 + g.below(40);
        e.db({0xf3, prefix, 0xa4});
        c.name = "rep movsb seg:[rsi]";
        break;
    }
    char p[8];
    std::snprintf(p, sizeof p, " (%02x)", prefix);
    c.name += p;
    c.code = e.bytes;
    cases.push_back(std::move(c));
  }
  check(cases);
}

// MOVS STOS LODS CMPS SCAS (A4-A7, AA-AF)// MOVS STOS LODS CMPS SCAS (A4-A7, AA-AF), all element sizes, with no
// prefix, REP/REPE (F3) and REPNE (F2), DF = 0 and 1, counts from 0 to
// several pages, overlapping MOVS, and CMPS/SCAS stopping at a (mis)match.
TEST_F(Differential, StringOperations) {
  Gen g(14, base());
  std::vector<Case> cases;
  struct StrOp {
    const char* name;
    uint8_t op;  // byte form; +1 for word/dword/qword
    bool compares;
  };
  const StrOp ops[] = {{"movs", 0xa4, false}, {"stos", 0xaa, false}, {"lods", 0xac, false},
                       {"cmps", 0xa6, true},  {"scas", 0xae, true}};
  const uint64_t counts[] = {0, 1, 2, 3, 5, 16, 37, 300, 1100};
  for (const StrOp& op : ops) {
    for (unsigned size : {1u, 2u, 4u, 8u}) {
      for (uint8_t prefix : {uint8_t(0), uint8_t(0xf3), uint8_t(0xf2)}) {
        if (prefix == 0xf2 && !op.compares) continue;
        for (bool down : {false, true}) {
          for (uint64_t count : counts) {
            if (count * size > 2 * kPage) continue;
            if (!prefix && count > 2) continue;
            for (unsigned variant = 0; variant < 4; ++variant) {
              // Variant 3: 32-bit address size (67h): ESI, EDI, ECX.
              const bool a32 = variant == 3;
              if (a32 && !g.low) continue;
              Encoder e;
              Case c = g.start("");
              c.memory = true;
              c.in.rflags = g.status() | (down ? fl::DF : 0);
              const uint64_t span = count * size;
              // Source and destination areas inside the data pages; going
              // down, the pointers start at the top of their areas.
              uint64_t src = kDataOff + 8 + g.below(64), dst = kDataOff + 2 * kPage + g.below(64) + 8;
              if (variant == 1) dst = src + size * (1 + g.below(3));  // forward overlap (MOVS)
              if (variant == 2) src += 8 * g.below(4), dst = kDataOff + kPage - 40 + g.below(64);  // page crossing
              if (down) src += span, dst += span;
              c.in.r[rSI] = base() + src;
              c.in.r[rDI] = base() + dst;
              c.in.r[rCX] = count;
              if (a32) {  // garbage above bit 31: ignored as addresses, cleared by the updates
                c.in.r[rSI] |= g.r64() << 32;
                c.in.r[rDI] |= g.r64() << 32;
                c.in.r[rCX] |= g.r64() << 32;
                // With ECX = 0 no iteration runs, and the SDM's REP loop
                // writes no register. Intel hosts zero-extend RCX anyway
                // (and RSI/RDI for MOVS/STOS), a model-specific detail;
                // the sim follows the SDM. Upper halves not compared.
                if (prefix && count == 0) c.low32_regs = (1u << rCX) | (1u << rSI) | (1u << rDI);
              }
              if (op.compares) {
                // Equal elements up to a chosen position, then one that differs.
                const uint64_t stop = count ? g.below(unsigned(count) + 1) : 0;
                const uint64_t fill = g.r64();
                std::vector<uint8_t> s_bytes(span + 2 * size), d_bytes(span + 2 * size);
                for (uint64_t i = 0; i < s_bytes.size(); ++i) s_bytes[i] = d_bytes[i] = uint8_t(fill >> (8 * (i % size)));
                if (stop < count + 1) {
                  // Going down, element i is at (start - i*size).
                  const uint64_t at = down ? span + size - stop * size : stop * size;
                  if (at + size <= d_bytes.size()) d_bytes[at + g.below(size)] ^= 0x5a;
                  if (prefix == 0xf2 && at + size <= d_bytes.size()) {
                    // REPNE: everything differs except one element.
                    for (uint64_t i = 0; i < d_bytes.size(); ++i) d_bytes[i] ^= 0x33;
                    for (uint64_t i = 0; i < size && at + i < d_bytes.size(); ++i) d_bytes[at + i] = s_bytes[at + i];
                  }
                }
                const uint64_t lo_src = down ? src - span - size : src;
                const uint64_t lo_dst = down ? dst - span - size : dst;
                if (op.op == 0xa6) c.patches.push_back({lo_src, s_bytes});
                c.patches.push_back({lo_dst, d_bytes});
                if (op.op == 0xae) {  // SCAS compares rAX with ES:[rDI]
                  uint64_t acc = 0;
                  std::memcpy(&acc, s_bytes.data(), size);
                  g.put(c, {rAX}, size, acc);
                }
              }
              if (prefix) e.db({prefix});
              if (a32) e.db({0x67});
              if (size == 2) e.db({0x66});
              if (size == 8) e.db({0x48});
              e.db({uint8_t(op.op + (size == 1 ? 0 : 1))});
              c.name = std::string(prefix == 0xf3 ? "rep " : prefix == 0xf2 ? "repne " : "") + op.name + size_name(size) +
                       (down ? " DF=1" : " DF=0") + " count=" + std::to_string(count) + " variant=" + std::to_string(variant) +
                       (a32 ? " (67h)" : "");
              c.code = e.bytes;
              cases.push_back(std::move(c));
            }
          }
        }
      }
    }
  }
  check(cases);
}

// Random straight-line sequences mixing the forms above (register
// operands, any size), so flags and partial-register results flow from one
// instruction into the next inside one decoded block: ADC/SBB and RCL/RCR
// chains, CMOVcc/SETcc after arithmetic, flags kept across MOV, LEA, NOT,
// INC/DEC (CF), LAHF/SAHF. An instruction that would read a flag an
// earlier one left undefined is not generated, so every register stays
// comparable; flags still undefined at the end are masked.
TEST_F(Differential, Sequences) {
  Gen g(17, base());
  std::vector<Case> cases;
  // Flags read by condition code cc (SDM vol. 1, table B-1).
  auto cc_reads = [](unsigned cc) -> uint64_t {
    static const uint64_t r[8] = {fl::OF, fl::CF, fl::ZF, fl::CF | fl::ZF, fl::SF, fl::PF, fl::SF | fl::OF,
                                  fl::ZF | fl::SF | fl::OF};
    return r[cc >> 1];
  };
  constexpr uint64_t kLahfFlags = fl::SF | fl::ZF | fl::AF | fl::PF | fl::CF;
  for (unsigned k = 0; k < 1500; ++k) {
    Case c = g.start("");
    Encoder e;
    uint64_t undefined = 0;
    const unsigned n = 2 + g.below(12);
    std::string name;
    for (unsigned i = 0; i < n;) {
      const unsigned size = 1u << g.below(4);
      const bool byte = size == 1;
      auto [d, s2] = g.pick_pair(size);
      Encoder one;
      uint64_t reads = 0, affected = 0, u = 0;
      std::string what;
      switch (g.below(12)) {
        case 0: case 1: {  // ALU r/m, r or r/m, imm8
          const unsigned ext = g.below(8);
          if (g.coin())
            one.modrm({uint8_t(ext * 8 + (byte ? 0 : 1))}, size, s2.reg, reg_op(d.reg, d.high8), {byte, s2.high8});
          else
            one.modrm({uint8_t(byte ? 0x80 : 0x83)}, size, ext, reg_op(d.reg, d.high8)).imm(g.r64(), 1);
          affected = fl::STATUS;
          if (ext == 1 || ext == 4 || ext == 6) u = undefined_flags::kLogic;
          if (ext == 2 || ext == 3) reads = fl::CF;
          what = "alu";
          break;
        }
        case 2: {  // shift/rotate by imm8
          static const unsigned exts[] = {0, 1, 2, 3, 4, 5, 7};
          const unsigned ext = exts[g.below(7)], count = g.below(40);
          one.modrm({uint8_t(byte ? 0xc0 : 0xc1)}, size, ext, reg_op(d.reg, d.high8)).imm(count, 1);
          const bool rotate = ext < 4;
          if (count & (size == 8 ? 63 : 31)) {
            affected = rotate ? fl::CF | fl::OF : fl::STATUS;
            u = undefined_flags::shift(rotate, ext == 7, size, count);
          }
          if (ext == 2 || ext == 3) reads = fl::CF;  // RCL/RCR rotate CF in
          what = "shift";
          break;
        }
        case 3:  // INC/DEC: CF kept
          one.modrm({uint8_t(byte ? 0xfe : 0xff)}, size, g.below(2), reg_op(d.reg, d.high8));
          affected = fl::STATUS & ~fl::CF;
          what = "incdec";
          break;
        case 4:  // NOT
          one.modrm({uint8_t(byte ? 0xf6 : 0xf7)}, size, 2, reg_op(d.reg, d.high8));
          what = "not";
          break;
        case 5:  // MOV r/m, r
          one.modrm({uint8_t(byte ? 0x88 : 0x89)}, size, s2.reg, reg_op(d.reg, d.high8), {byte, s2.high8});
          what = "mov";
          break;
        case 6: {  // SETcc
          const unsigned cc = g.below(16);
          const Op b = g.pick_reg(1);
          one.modrm({0x0f, uint8_t(0x90 + cc)}, 1, 0, reg_op(b.reg, b.high8));
          reads = cc_reads(cc);
          what = "setcc";
          break;
        }
        case 7: {  // CMOVcc
          const unsigned cc = g.below(16);
          one.modrm({0x0f, uint8_t(0x40 + cc)}, byte ? 4 : size, d.reg, reg_op(s2.reg));
          reads = cc_reads(cc);
          what = "cmov";
          break;
        }
        case 8:  // LEA
          one.modrm({0x8d}, byte ? 4 : size, d.reg, mem_op(s2.reg, int32_t(g.r64() % 1000), d.reg, 1u << g.below(4)));
          what = "lea";
          break;
        case 9:  // IMUL r, r/m
          one.modrm({0x0f, 0xaf}, byte ? 4 : size, d.reg, reg_op(s2.reg));
          affected = fl::STATUS;
          u = undefined_flags::kMul;
          what = "imul";
          break;
        case 10: {  // CLC / STC / CMC
          const uint8_t op = std::initializer_list<uint8_t>{0xf8, 0xf9, 0xf5}.begin()[g.below(3)];
          one.db({op});
          if (op == 0xf5) reads = fl::CF;
          affected = fl::CF;
          what = "clc/stc/cmc";
          break;
        }
        default:  // LAHF / SAHF
          if (g.coin()) {
            one.db({0x9f});
            reads = kLahfFlags;
            what = "lahf";
          } else {
            one.db({0x9e});
            affected = kLahfFlags;
            what = "sahf";
          }
          break;
      }
      if (reads & undefined) continue;  // would consume an undefined flag: pick another
      undefined = (undefined & ~affected) | u;
      e.bytes.insert(e.bytes.end(), one.bytes.begin(), one.bytes.end());
      name += what + " ";
      ++i;
    }
    c.undefined = undefined;
    c.name = name;
    c.code = e.bytes;
    cases.push_back(std::move(c));
  }
  check(cases);
}

TEST_F(Differential, Summary) {
  std::printf("  differential: %zu cases in %u families so far\n", cases_, families_);
  SUCCEED();
}

}  // namespace
}  // namespace nestbed::testing
