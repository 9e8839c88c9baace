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
#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>
#include <xmmintrin.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/paging.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "tests/support/sim_harness.h"
#include "tests/support/x86_encoder.h"

// ------------------------------------------------------------------------
// The native trampoline. NativeRegs layout: r[16] in encoding order at
// offsets 0..120, rflags at 128.
//
// nb_diff_native_enter(NativeRegs* regs, const void* code): saves the
// callee-saved registers and the host RSP, loads RFLAGS and all 16 GPRs
// (RSP last but RDI) and jumps to `code`. The snippet ends with
// `jmp *slot(%rip)` into nb_diff_native_exit, which stores all GPRs and
// RFLAGS back, restores the host stack and returns. Nothing between the
// snippet and the stores changes a flag (MOV and JMP do not).
extern "C" {
void nb_diff_native_enter(void* regs, const void* code);
void nb_diff_native_exit();
}

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

namespace fl = arch::rflags;
namespace pte = arch::pte;

struct Regs {
  uint64_t r[16];
  uint64_t rflags;
};
static_assert(offsetof(Regs, rflags) == 128, "the trampoline's layout");

const char* const kRegNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

// Flags compared: the status flags and DF. (IF differs by design: the host
// runs the snippet at CPL 3 with IF = 1, the sim at CPL 0 with IF = 0.)
constexpr uint64_t kCompared = fl::STATUS | fl::DF;

// ------------------------------------------------------------------------
// Flags the SDM leaves undefined, per instruction (Intel SDM vol. 2,
// "Flags Affected" of each instruction). The sim writes them as 0 by
// design (l0/sim/cpu/exec_common.h); the host may leave anything, so they
// are masked out of the comparison.
//   ADD ADC SUB SBB CMP NEG INC DEC XADD CMPXCHG CMPS SCAS: none
//   AND OR XOR TEST: "The state of the AF flag is undefined."
//   SAL/SAR/SHL/SHR: count 0: flags unaffected (compared). Otherwise AF
//     undefined; OF undefined unless the count is 1 ("The OF flag is
//     affected only on 1-bit shifts"); for SHL and SHR, CF undefined when
//     the count is >= the operand width.
//   ROL/ROR/RCL/RCR: masked count 0: unaffected; masked count > 1: OF
//     undefined.
//   SHLD/SHRD: count 0: unaffected; count 1: AF undefined; count > 1: AF
//     and OF undefined; count > operand size: the result and CF, OF, SF,
//     ZF, AF, PF undefined.
//   MUL, IMUL: "The SF, ZF, AF, and PF flags are undefined."
//   DIV, IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."
//   BT/BTS/BTR/BTC: "The OF, SF, AF, and PF flags are undefined."
//   BSF/BSR: "The CF, OF, SF, AF, and PF flags are undefined."
//   BSWAP with a 16-bit register: the result is undefined (not tested).
//   MOV, MOVZX, MOVSX(D), LEA, XCHG, BSWAP, CMOVcc, SETcc, CBW..CQO,
//   PUSH, POP, LAHF, MOVS, STOS, LODS, XLAT, ENTER, LEAVE: flags
//   unaffected.
namespace undefined_flags {
constexpr uint64_t kLogic = fl::AF;
constexpr uint64_t kMul = fl::SF | fl::ZF | fl::AF | fl::PF;
constexpr uint64_t kDiv = fl::STATUS;
constexpr uint64_t kBitTest = fl::OF | fl::SF | fl::AF | fl::PF;
constexpr uint64_t kBitScan = fl::CF | fl::OF | fl::SF | fl::AF | fl::PF;

uint64_t shift(bool rotate, bool sar, unsigned size, unsigned count) {
  const unsigned masked = count & (size == 8 ? 0x3f : 0x1f);
  if (masked == 0) return 0;
  uint64_t u = masked == 1 ? 0 : fl::OF;
  if (!rotate) {
    u |= fl::AF;
    if (!sar && masked >= 8 * size) u |= fl::CF;
  }
  return u;
}

uint64_t double_shift(unsigned size, unsigned count) {
  const unsigned masked = count & (size == 8 ? 0x3f : 0x1f);
  if (masked == 0) return 0;
  if (masked > 8 * size) return fl::STATUS;
  return fl::AF | (masked == 1 ? 0 : fl::OF);
}
}  // namespace undefined_flags

// ------------------------------------------------------------------------
// The shared region: host addresses == guest linear addresses.
constexpr uint64_t kPage = 4096;
constexpr uint64_t kCodeOff = 0;
constexpr uint64_t kDataOff = 1 * kPage;
constexpr uint64_t kDataSize = 4 * kPage;
constexpr uint64_t kStackOff = 5 * kPage;
constexpr uint64_t kStackSize = 4 * kPage;
constexpr uint64_t kRegionSize = 9 * kPage;
constexpr uint64_t kStackStart = kStackOff + kStackSize / 2;  // RSP: room to push and to pop
constexpr uint64_t kMemOff = kDataOff;                        // compared bytes: data and stack
constexpr uint64_t kMemSize = kDataSize + kStackSize;
constexpr uint64_t kSimPhys = 0x800000;  // guest-physical home of the region

struct MemPatch {
  uint64_t off;  // from the region base
  std::vector<uint8_t> bytes;
};

struct Case {
  std::string name;
  std::vector<uint8_t> code;
  Regs in{};
  uint64_t undefined = 0;       // RFLAGS bits not compared
  uint16_t undefined_regs = 0;  // GPRs not compared (bit per register)
  uint16_t low32_regs = 0;      // GPRs compared in bits 31:0 only
  bool memory = false;          // reads or writes the data/stack bytes
  std::vector<MemPatch> patches;
};

// ------------------------------------------------------------ native side

sigjmp_buf g_native_jmp;
volatile sig_atomic_t g_in_native = 0;
volatile sig_atomic_t g_native_signal = 0;

// What the host's state was when a snippet trapped (the SSE cases with
// unmasked exceptions compare it with the sim's).
struct NativeTrap {
  uint64_t rip = 0;
  uint32_t mxcsr = 0;
  uint64_t xmm0[2] = {}, xmm1[2] = {};
} g_native_trap;

void on_native_signal(int sig, siginfo_t*, void* context) {
  if (g_in_native) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    g_native_trap.rip = uint64_t(uc->uc_mcontext.gregs[REG_RIP]);
    g_native_trap.mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    std::memcpy(g_native_trap.xmm0, &uc->uc_mcontext.fpregs->_xmm[0], 16);
    std::memcpy(g_native_trap.xmm1, &uc->uc_mcontext.fpregs->_xmm[1], 16);
    g_in_native = 0;
    g_native_signal = sig;
    siglongjmp(g_native_jmp, 1);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

class NativeRunner {
 public:
  NativeRunner() {
    // Below 2 GiB if possible, so 32-bit address-size forms (67h) and
    // absolute [disp32] operands reach the region too; never under the
    // sim harness's 16 MiB identity map.
    void* p = MAP_FAILED;
    for (uint64_t hint : {0x5e000000ull, 0x6d000000ull, 0x3c000000ull}) {
      for (int prot : {PROT_READ | PROT_WRITE | PROT_EXEC, PROT_READ | PROT_WRITE}) {
        p = mmap(reinterpret_cast<void*>(hint), kRegionSize, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && p != reinterpret_cast<void*>(hint)) {  // kernels before 4.17 treat it as a hint
          munmap(p, kRegionSize);
          p = MAP_FAILED;
        }
        if (p != MAP_FAILED) {
          toggle_ = !(prot & PROT_EXEC);
          break;
        }
      }
      if (p != MAP_FAILED) break;
    }
    if (p == MAP_FAILED) {
      p = mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        // No RWX mappings here: write the code page, then flip it to R+X.
        p = mmap(nullptr, kRegionSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        toggle_ = true;
      }
    }
    if (p == MAP_FAILED) throw std::runtime_error("differential: mmap failed");
    base_ = static_cast<uint8_t*>(p);
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base_);
    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs_base_);
    // A fault in a snippet is reported as a failed case, not a crash.
    alt_stack_.resize(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt_stack_.data();
    ss.ss_size = alt_stack_.size();
    sigaltstack(&ss, &old_alt_);
    struct sigaction sa {};
    sa.sa_sigaction = &on_native_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (unsigned k = 0; k < kSignals; ++k) sigaction(kSignalList[k], &sa, &old_[k]);
  }
  ~NativeRunner() {
    for (unsigned k = 0; k < kSignals; ++k) sigaction(kSignalList[k], &old_[k], nullptr);
    sigaltstack(&old_alt_, nullptr);
    munmap(base_, kRegionSize);
  }
  uint8_t* base() const { return base_; }
  // The region lies below 2 GiB: 32-bit addresses reach it.
  bool low() const { return reinterpret_cast<uint64_t>(base_) + kRegionSize < (1ull << 31); }
  uint64_t fs_base() const { return fs_base_; }
  uint64_t gs_base() const { return gs_base_; }

  // Runs `code` with `regs`; returns 0, or the signal the snippet raised.
  int run(const std::vector<uint8_t>& code, Regs& regs) {
    uint8_t* page = base_ + kCodeOff;
    if (toggle_) mprotect(page, kPage, PROT_READ | PROT_WRITE);
    std::memcpy(page, code.data(), code.size());
    // jmp *slot(%rip), the slot holding nb_diff_native_exit.
    const uint64_t slot = kPage - 8;
    uint8_t* j = page + code.size();
    const int32_t rel = int32_t(int64_t(slot) - int64_t(code.size() + 6));
    j[0] = 0xff;
    j[1] = 0x25;
    std::memcpy(j + 2, &rel, 4);
    const uint64_t exit = reinterpret_cast<uint64_t>(&nb_diff_native_exit);
    std::memcpy(page + slot, &exit, 8);
    if (toggle_) mprotect(page, kPage, PROT_READ | PROT_EXEC);
    g_native_signal = 0;
    if (sigsetjmp(g_native_jmp, 1) == 0) {
      g_in_native = 1;
      nb_diff_native_enter(&regs, page);
      g_in_native = 0;
      return 0;
    }
    return g_native_signal;
  }

 private:
  static constexpr unsigned kSignals = 5;
  static constexpr int kSignalList[kSignals] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
  uint8_t* base_ = nullptr;
  bool toggle_ = false;
  uint64_t fs_base_ = 0, gs_base_ = 0;
  std::vector<uint8_t> alt_stack_;
  stack_t old_alt_{};
  struct sigaction old_[kSignals] {};
};

// --------------------------------------------------------------- sim side

class SimRunner {
 public:
  SimRunner(uint64_t base, uint64_t fs_base, uint64_t gs_base) : base_(base), fs_base_(fs_base), gs_base_(gs_base) {
    m_.setup_long_mode();
    for (uint64_t off = 0; off < kRegionSize; off += kPage) m_.map(base + off, kSimPhys + off, pte::P | pte::RW | pte::US);
  }
  // Returns an empty string, or why the run did not end at the HLT after the snippet.
  std::string run(const std::vector<uint8_t>& code, Regs& regs) {
    m_.enter_long_mode();
    m_.s().cr4 |= arch::cr4::OSFXSR | arch::cr4::OSXMMEXCPT;  // SSE available, as on the host
    std::vector<uint8_t> bytes = code;
    bytes.push_back(0xf4);  // HLT; IF = 0, so the run stops there
    m_.load_code(kSimPhys + kCodeOff, bytes);
    sim::CpuState& s = m_.s();
    for (unsigned k = 0; k < 16; ++k) s.r[k] = regs.r[k];
    s.rflags = fl::FIXED1 | (regs.rflags & kCompared);
    s.rip() = base_ + kCodeOff;
    // FS and GS bases as the host's, so FS:/GS: operands agree.
    s.seg[arch::seg::FS].base = fs_base_;
    s.seg[arch::seg::GS].base = gs_base_;
    const sim::CpuStop stop = m_.run(100000);
    for (unsigned k = 0; k < 16; ++k) regs.r[k] = s.r[k];
    regs.rflags = s.rflags;
    const uint64_t want_rip = base_ + kCodeOff + bytes.size();
    if (stop != sim::CpuStop::Halted || s.rip() != want_rip) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "sim stopped (%d) at rip %+" PRId64 " from the snippet's end: %s", int(stop),
                    int64_t(s.rip() - want_rip), m_.cpu.stop_message().c_str());
      return msg;
    }
    return "";
  }
  void write_memory(const uint8_t* image) { m_.mem.write(kSimPhys + kMemOff, image, kMemSize); }
  // After a run that ended in an exception's default handler: its vector
  // (-1 if none) and the RIP in its frame (the stack is in the region).
  int vector() { return m_.stub_vector(); }
  uint64_t frame_rip() {
    const uint64_t rsp = m_.s().r[sim::RSP];
    return m_.mem.read_obj<uint64_t>(kSimPhys + (rsp - base_));
  }
  const sim::CpuState& state() { return m_.s(); }
  void read_memory(uint8_t* out) { m_.mem.read(kSimPhys + kMemOff, out, kMemSize); }

 private:
  uint64_t base_, fs_base_, gs_base_;
  SimMachine m_;
};

// ------------------------------------------------------------ the fixture

std::string hex_bytes(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[4];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x ", x);
    s += buf;
  }
  if (!s.empty()) s.pop_back();
  return s;
}

class Differential : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    native_ = new NativeRunner;
    sim_ = new SimRunner(reinterpret_cast<uint64_t>(native_->base()), native_->fs_base(), native_->gs_base());
    pristine_.resize(kMemSize);
    std::mt19937_64 rng(0x6e657374626564);  // "nestbed"
    for (size_t k = 0; k < kMemSize; k += 8) {
      const uint64_t v = rng();
      std::memcpy(&pristine_[k], &v, 8);
    }
  }
  static void TearDownTestSuite() {
    delete sim_;
    delete native_;
    sim_ = nullptr;
    native_ = nullptr;
  }

  static uint64_t base() { return reinterpret_cast<uint64_t>(native_->base()); }

  // Runs every case both ways; reports the first mismatches in detail.
  void check(const std::vector<Case>& cases) {
    ASSERT_FALSE(cases.empty());
    unsigned failures = 0;
    std::vector<uint8_t> image(kMemSize), sim_mem(kMemSize);
    for (const Case& c : cases) {
      if (c.memory) {
        image = pristine_;
        for (const MemPatch& p : c.patches) {
          if (p.off < kMemOff || p.off + p.bytes.size() > kMemOff + kMemSize) {
            ADD_FAILURE() << c.name << ": patch outside the compared area";
            continue;
          }
          std::memcpy(&image[p.off - kMemOff], p.bytes.data(), p.bytes.size());
        }
        std::memcpy(native_->base() + kMemOff, image.data(), kMemSize);
        sim_->write_memory(image.data());
      }
      Regs host = c.in, sim = c.in;
      host.rflags = fl::FIXED1 | (c.in.rflags & kCompared);
      const int sig = native_->run(c.code, host);
      const std::string sim_error = sim_->run(c.code, sim);
      std::string diff;
      char line[200];
      if (sig) {
        std::snprintf(line, sizeof line, "  host raised signal %d (a bad test case)\n", sig);
        diff += line;
      }
      if (!sim_error.empty()) diff += "  " + sim_error + "\n";
      if (!sig && sim_error.empty()) {
        for (unsigned k = 0; k < 16; ++k) {
          if ((c.undefined_regs >> k) & 1) continue;
          const uint64_t mask = (c.low32_regs >> k) & 1 ? 0xffffffffull : ~0ull;
          if ((host.r[k] ^ sim.r[k]) & mask) {
            std::snprintf(line, sizeof line, "  %-4s in 0x%016" PRIx64 "  host 0x%016" PRIx64 "  sim 0x%016" PRIx64 "\n",
                          kRegNames[k], c.in.r[k], host.r[k], sim.r[k]);
            diff += line;
          }
        }
        const uint64_t cmp = kCompared & ~c.undefined;
        if ((host.rflags & cmp) != (sim.rflags & cmp)) {
          std::snprintf(line, sizeof line,
                        "  rflags in 0x%03" PRIx64 "  host 0x%03" PRIx64 "  sim 0x%03" PRIx64 "  (compared bits 0x%03" PRIx64 ")\n",
                        c.in.rflags & kCompared, host.rflags & kCompared, sim.rflags & kCompared, cmp);
          diff += line;
        }
        if (c.memory) {
          sim_->read_memory(sim_mem.data());
          const uint8_t* h = native_->base() + kMemOff;
          for (uint64_t k = 0; k < kMemSize; ++k) {
            if (h[k] != sim_mem[k]) {
              std::snprintf(line, sizeof line, "  memory differs from region offset 0x%" PRIx64 ": host %02x sim %02x\n",
                            k + kMemOff, h[k], sim_mem[k]);
              diff += line;
              break;
            }
          }
        }
      }
      if (!diff.empty()) {
        if (++failures <= 20) {
          std::string regs;
          for (unsigned k = 0; k < 16; ++k) {
            std::snprintf(line, sizeof line, "%s=%" PRIx64 " ", kRegNames[k], c.in.r[k]);
            regs += line;
          }
          ADD_FAILURE() << c.name << "  [" << hex_bytes(c.code) << "]\n" << diff << "  inputs: " << regs;
        }
      }
    }
    ++families_;
    cases_ += cases.size();
    EXPECT_EQ(failures, 0u) << failures << " of " << cases.size() << " cases differ";
    std::printf("  %zu cases\n", cases.size());
  }

  static NativeRunner* native_;
  static SimRunner* sim_;
  static std::vector<uint8_t> pristine_;
  static size_t cases_;
  static unsigned families_;
};

NativeRunner* Differential::native_ = nullptr;
SimRunner* Differential::sim_ = nullptr;
std::vector<uint8_t> Differential::pristine_;
size_t Differential::cases_ = 0;
unsigned Differential::families_ = 0;

// ---------------------------------------------------------- case builders

constexpr uint64_t mask_of(unsigned size) { return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; }
constexpr uint64_t sext(uint64_t v, unsigned from) {
  return from == 8 ? v : uint64_t(int64_t(v << (64 - 8 * from)) >> (64 - 8 * from));
}

// A register operand: number and, for bytes, whether it is AH..BH.
struct Op {
  uint8_t reg;
  bool high8 = false;
};

const char* size_name(unsigned size) { return size == 1 ? "8" : size == 2 ? "16" : size == 4 ? "32" : "64"; }

std::string reg_name(Op o, unsigned size) {
  static const char* const r8[] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
  static const char* const r8h[] = {"ah", "ch", "dh", "bh"};
  static const char* const r16[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
  if (o.reg >= 8) return std::string("r") + std::to_string(o.reg) + (size == 1 ? "b" : size == 2 ? "w" : size == 4 ? "d" : "");
  if (size == 1) return o.high8 ? r8h[o.reg] : r8[o.reg];
  if (size == 2) return r16[o.reg];
  return std::string(size == 4 ? "e" : "r") + (r16[o.reg]);
}

// Edge values of an operand size.
std::vector<uint64_t> edges(unsigned size) {
  const uint64_t m = mask_of(size), sign = 1ull << (8 * size - 1);
  return {0, 1, 2, m, m - 1, sign - 1, sign, sign + 1, 0x5555555555555555ull & m, 0xaaaaaaaaaaaaaaaaull & m,
          0x0123456789abcdefull & m};
}

class Gen {
 public:
  Gen(uint64_t seed, uint64_t base) : rng(seed), base(base), low(base + kRegionSize < (1ull << 31)) {}
  std::mt19937_64 rng;
  uint64_t base;
  bool low;  // 32-bit addresses reach the region

  uint64_t r64() { return rng(); }
  unsigned below(unsigned n) { return unsigned(rng() % n); }
  bool coin() { return rng() & 1; }
  uint64_t status() { return r64() & fl::STATUS; }

  // Random GPRs, RSP in the stack area, random status flags, DF = 0.
  Case start(std::string name) {
    rip_trailing_ = -1;
    Case c;
    c.name = std::move(name);
    for (auto& r : c.in.r) r = r64();
    c.in.r[rSP] = base + kStackStart;
    c.in.rflags = status();
    return c;
  }

  // A value: the operand bits from `v`, the rest of the register random.
  void put(Case& c, Op o, unsigned size, uint64_t v) {
    uint64_t& r = c.in.r[o.reg];
    if (o.high8)
      r = (r & ~0xff00ull) | ((v & 0xff) << 8);
    else
      r = (r & ~mask_of(size)) | (v & mask_of(size));
  }

  // Operand values: every pair of edge values, then `randoms` random pairs.
  std::vector<std::pair<uint64_t, uint64_t>> pairs(unsigned size, unsigned randoms) {
    std::vector<std::pair<uint64_t, uint64_t>> v;
    const auto e = edges(size);
    for (uint64_t a : e)
      for (uint64_t b : e) v.push_back({a, b});
    for (unsigned k = 0; k < randoms; ++k) v.push_back({r64() & mask_of(size), r64() & mask_of(size)});
    return v;
  }
  std::vector<uint64_t> values(unsigned size, unsigned randoms) {
    std::vector<uint64_t> v = edges(size);
    for (unsigned k = 0; k < randoms; ++k) v.push_back(r64() & mask_of(size));
    return v;
  }

  // The registers an operand of `size` can name (RSP excluded: it holds
  // the stack pointer), AH..BH included for bytes.
  static std::vector<Op> regs(unsigned size) {
    std::vector<Op> v;
    for (uint8_t r = 0; r < 16; ++r)
      if (r != rSP) v.push_back({r, false});
    if (size == 1)
      for (uint8_t r = 0; r < 4; ++r) v.push_back({r, true});
    return v;
  }
  Op pick_reg(unsigned size, std::initializer_list<int> avoid = {}) {
    const auto v = regs(size);
    for (;;) {
      Op o = v[below(unsigned(v.size()))];
      bool ok = true;
      for (int a : avoid) ok &= o.reg != a;
      if (ok) return o;
    }
  }
  // A pair of byte registers must not mix AH..BH with registers that need REX.
  static bool encodable(unsigned size, Op a, Op b) {
    if (size != 1 || (!a.high8 && !b.high8)) return true;
    auto needs_rex = [](Op o) { return !o.high8 && o.reg >= 4; };
    return !needs_rex(a) && !needs_rex(b);
  }
  // Two distinct, encodable registers.
  std::pair<Op, Op> pick_pair(unsigned size, std::initializer_list<int> avoid = {}) {
    for (;;) {
      Op a = pick_reg(size, avoid), b = pick_reg(size, avoid);
      if (a.reg == b.reg || !encodable(size, a, b)) continue;
      return {a, b};
    }
  }

  // A data-area offset for an access of `size` bytes (sometimes unaligned).
  uint64_t data_off(unsigned size) {
    if (size > 1 && below(8) == 0)  // straddling a page boundary
      return kDataOff + kPage * (1 + below(3)) - 1 - below(size - 1);
    uint64_t off = kDataOff + 64 + below(unsigned(kDataSize - 128 - size));
    if (below(4)) off &= ~uint64_t(size - 1);
    return off;
  }
  void patch(Case& c, uint64_t off, uint64_t v, unsigned size) {
    std::vector<uint8_t> b(size);
    std::memcpy(b.data(), &v, size);
    c.patches.push_back({off, b});
    c.memory = true;
  }

  // A memory operand addressing region offset `off`, in one of several
  // ModRM/SIB forms; the registers it uses are set and avoid `avoid`. A
  // RIP-relative form is only valid for a one-instruction snippet and is
  // fixed up by finish().
  Rm mem(Case& c, uint64_t off, std::initializer_list<int> avoid, int trailing_imm = -1) {
    c.memory = true;
    const uint64_t target = base + off;
    auto free_reg = [&](std::initializer_list<int> more) {
      for (;;) {
        int r = int(below(16));
        if (r == rSP) continue;
        bool ok = true;
        for (int a : avoid) ok &= r != a;
        for (int a : more) ok &= r != a;
        if (ok) return r;
      }
    };
    std::vector<unsigned> forms = {0, 1, 2, 3, 4, 5};
    if (trailing_imm >= 0) forms.push_back(6);
    if (low) forms.insert(forms.end(), {7, 8, 9});
    const unsigned form = forms[below(unsigned(forms.size()))];
    switch (form) {
      case 7: {  // 67h [base32 + disp]: the upper half of the base is ignored
        const int b = free_reg({});
        const int32_t d = coin() ? int32_t(below(256)) - 128 : int32_t(r64() % 2000000) - 1000000;
        c.in.r[b] = (r64() << 32) | uint32_t(target - uint64_t(int64_t(d)));
        Rm m = mem_op(b, d);
        m.addr32 = true;
        return m;
      }
      case 8:  // [disp32], no base or index
        return mem_op(NO_REG, int32_t(target));
      case 9: {  // 67h [base32 + index32*scale + disp8]
        const int b = free_reg({}), x = free_reg({b});
        const unsigned scale = 1u << below(4);
        const uint32_t idx = uint32_t(r64());
        const int32_t d = int32_t(below(256)) - 128;
        c.in.r[x] = (r64() << 32) | idx;
        c.in.r[b] = (r64() << 32) | uint32_t(target - uint64_t(int64_t(d)) - uint64_t(idx) * scale);
        Rm m = mem_op(b, d, x, scale);
        m.addr32 = true;
        return m;
      }
      case 0: {  // [base]
        const int b = free_reg({});
        c.in.r[b] = target;
        return mem_op(b, 0);
      }
      case 1: {  // [base + disp8]
        const int b = free_reg({});
        const int32_t d = int32_t(below(256)) - 128;
        c.in.r[b] = target - d;
        return mem_op(b, d);
      }
      case 2: {  // [base + disp32]
        const int b = free_reg({});
        const int32_t d = int32_t(r64() % 2000000) - 1000000;
        c.in.r[b] = target - d;
        return mem_op(b, d);
      }
      case 3: {  // [base + index*scale + disp8]
        const int b = free_reg({}), x = free_reg({b});
        const unsigned scale = 1u << below(4);
        const int64_t idx = int64_t(r64() % 4096) - 2048;
        const int32_t d = int32_t(below(256)) - 128;
        c.in.r[x] = uint64_t(idx);
        c.in.r[b] = target - d - uint64_t(idx) * scale;
        return mem_op(b, d, x, scale);
      }
      case 4: {  // [index*scale + disp32], no base
        const int x = free_reg({});
        const int32_t d = int32_t(below(1 << 20));
        c.in.r[x] = target - uint64_t(d);
        return mem_op(NO_REG, d, x, 1);
      }
      case 5: {  // base rBP/r13 or rSP/r12-like encodings (mod/rm special cases)
        static const int specials[] = {rBP, r13, r12};
        for (int b : specials) {
          bool ok = true;
          for (int a : avoid) ok &= b != a;
          if (!ok) continue;
          c.in.r[b] = target;
          return mem_op(b, 0);
        }
        const int b = free_reg({});
        c.in.r[b] = target;
        return mem_op(b, 0);
      }
      default: {  // [rip + disp32]
        rip_target_ = target;
        rip_trailing_ = trailing_imm;
        return rip_op(0);
      }
    }
  }
  // Fixes the RIP-relative displacement of a one-instruction snippet.
  void finish(Case& c) {
    if (rip_trailing_ < 0) return;
    const size_t at = c.code.size() - size_t(rip_trailing_) - 4;
    const int32_t d = int32_t(int64_t(rip_target_) - int64_t(base + kCodeOff + c.code.size()));
    std::memcpy(&c.code[at], &d, 4);
    rip_trailing_ = -1;
  }

 private:
  uint64_t rip_target_ = 0;
  int rip_trailing_ = -1;
};

// ================================================================ families

// ADD OR ADC SBB AND SUB XOR CMP (opcode rows 00-3F, 80/81/83) and TEST
// (84/85, A8/A9, F6/F7 /0), every form, all sizes, CF in both ways.
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

// ------------------------------------------------------------------ SSE
// SSE/SSE2 cases: the snippet loads MXCSR and XMM0/XMM1 from the data
// area, runs one instruction (on XMM0 and XMM1 or on an aligned m128 at
// [rbx+0x40]), stores XMM0, XMM1 and MXCSR back to the data area, where
// the memory comparison checks them, and restores the host's MXCSR
// (0x1f80). Every exception stays masked (an unmasked one would trap the
// host; those are tests/unit/sim_sse_test.cpp's); rounding control,
// DAZ, FTZ and sticky flags vary from case to case.
namespace sse {
constexpr uint8_t kMxcsrIn = 0x00, kMxcsrHost = 0x08, kXmm0In = 0x10, kXmm1In = 0x20, kXmm0Out = 0x30, kMem = 0x40,
                  kXmm1Out = 0x50, kMxcsrOut = 0x60;
// ModRM: xmm0, xmm1 / xmm0, [rbx + 0x40] (disp8 follows).
constexpr uint8_t kRegForm = 0xc1, kMemForm = 0x43;

// MXCSR values: the four rounding modes, DAZ, FTZ, both, and sticky flags
// already set; all exceptions masked.
constexpr uint32_t kMxcsrs[] = {0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x1fc0, 0x9f80, 0xffc0, 0x1fbf, 0x7fc0 | 0x21};

const std::vector<uint32_t>& float_edges() {
  static const std::vector<uint32_t> v = {
      0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc12345,
      0x7fa00000, 0xff812345, 0x00000001, 0x807fffff, 0x00800000, 0x80800001, 0x7f7fffff, 0xff7fffff,
      0x3eaaaaab, 0x4b800001, 0xcf000000, 0x4f000000, 0x5f000000, 0x0c000000, 0x72000000, 0x3f7fffff};
  return v;
}
const std::vector<uint64_t>& double_edges() {
  static const std::vector<uint64_t> v = {
      0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff8000000000000, 0x7ff0000000000000,
      0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000012345, 0x7ff4000000000000, 0xfff0000000012345,
      0x0000000000000001, 0x800fffffffffffff, 0x0010000000000000, 0x8010000000000001, 0x7fefffffffffffff,
      0xffefffffffffffff, 0x3fd5555555555555, 0x41e0000000000000, 0xc1e0000000200000, 0x43e0000000000000,
      0xc3e0000000000000, 0x01a56e1fc2f8f359, 0x7e37e43c8800759c, 0x3ff0000000000001, 0x36a0000000000000,
      0x47efffffe0000000};
  return v;
}

struct Data {
  uint32_t mxcsr = 0x1f80;
  uint64_t x0[2] = {}, x1[2] = {}, mem[2] = {};
};

std::vector<uint8_t> le(const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

// One case: `insn` (its ModRM and any immediate included) between the
// loads and the stores.
Case make(Gen& g, const std::string& name, const std::vector<uint8_t>& insn, const Data& d) {
  Case c = g.start(name);
  c.in.r[rBX] = g.base + kDataOff;
  c.memory = true;
  const uint32_t host = 0x1f80;
  c.patches = {{kDataOff + kMxcsrIn, le(&d.mxcsr, 4)}, {kDataOff + kMxcsrHost, le(&host, 4)},
               {kDataOff + kXmm0In, le(d.x0, 16)},    {kDataOff + kXmm1In, le(d.x1, 16)},
               {kDataOff + kMem, le(d.mem, 16)}};
  std::vector<uint8_t> code = {0x0f, 0xae, 0x53, kMxcsrIn,          // ldmxcsr [rbx]
                               0xf3, 0x0f, 0x6f, 0x43, kXmm0In,     // movdqu xmm0, [rbx+0x10]
                               0xf3, 0x0f, 0x6f, 0x4b, kXmm1In};    // movdqu xmm1, [rbx+0x20]
  code.insert(code.end(), insn.begin(), insn.end());
  const std::vector<uint8_t> tail = {0xf3, 0x0f, 0x7f, 0x43, kXmm0Out,  // movdqu [rbx+0x30], xmm0
                                     0xf3, 0x0f, 0x7f, 0x4b, kXmm1Out,  // movdqu [rbx+0x50], xmm1
                                     0x0f, 0xae, 0x5b, kMxcsrOut,       // stmxcsr [rbx+0x60]
                                     0x0f, 0xae, 0x53, kMxcsrHost};     // ldmxcsr [rbx+8]
  code.insert(code.end(), tail.begin(), tail.end());
  c.code = std::move(code);
  return c;
}

// The instruction bytes: prefix (0 for none), 0F, opcode, ModRM, [disp8], [imm8].
std::vector<uint8_t> insn(uint8_t prefix, std::initializer_list<uint8_t> opcode, bool mem, int imm = -1,
                          uint8_t rex = 0, uint8_t modrm_reg_form = kRegForm) {
  std::vector<uint8_t> b;
  if (prefix) b.push_back(prefix);
  if (rex) b.push_back(rex);
  b.insert(b.end(), opcode.begin(), opcode.end());
  b.push_back(mem ? kMemForm : modrm_reg_form);
  if (mem) b.push_back(kMem);
  if (imm >= 0) b.push_back(uint8_t(imm));
  return b;
}

// Floating-point operand pairs: every pair of edge values, placed in the
// lanes of XMM0 (destination) and XMM1/m128 (source); scalar forms see
// each pair in lane 0, packed forms four pairs per case.
template <typename T>
std::vector<Data> fp_pairs(Gen& g, const std::vector<T>& e, bool scalar) {
  constexpr unsigned lanes = 16 / sizeof(T);
  std::vector<std::pair<T, T>> pairs;
  for (T a : e)
    for (T b : e) pairs.push_back({a, b});
  std::vector<Data> out;
  const unsigned per_case = scalar ? 1 : lanes;
  for (size_t k = 0; k < pairs.size(); k += per_case) {
    Data d;
    d.mxcsr = kMxcsrs[out.size() % (sizeof kMxcsrs / sizeof kMxcsrs[0])];
    T x0[lanes], x1[lanes];
    for (unsigned l = 0; l < lanes; ++l) {
      const auto& p = pairs[(k + (scalar ? 0 : l)) % pairs.size()];
      x0[l] = (scalar && l) ? T(g.r64()) : p.first;
      x1[l] = (scalar && l) ? T(g.r64()) : p.second;
    }
    std::memcpy(d.x0, x0, 16);
    std::memcpy(d.x1, x1, 16);
    std::memcpy(d.mem, x1, 16);
    out.push_back(d);
  }
  return out;
}
}  // namespace sse

// SSE/SSE2 arithmetic, min/max, square root, compares with all eight
// predicates, COMIS/UCOMIS, in the PS/SS/PD/SD forms, register and memory
// source (SDM vol. 2, each instruction).
TEST_F(Differential, SseFloatingPoint) {
  Gen g(0x55e, base());
  std::vector<Case> cases;
  struct Family {
    const char* name;
    uint8_t opcode;
    int imm;
  };
  std::vector<Family> families = {{"add", 0x58, -1}, {"mul", 0x59, -1}, {"sub", 0x5c, -1}, {"min", 0x5d, -1},
                                  {"div", 0x5e, -1}, {"max", 0x5f, -1}, {"sqrt", 0x51, -1}};
  for (int p = 0; p < 8; ++p) families.push_back({"cmp", 0xc2, p});
  families.push_back({"cmp", 0xc2, 0xfd});  // imm8 bits 7:3 ignored
  const struct {
    const char* suffix;
    uint8_t prefix;
    bool dbl, scalar;
  } forms[] = {{"ps", 0, false, false}, {"ss", 0xf3, false, true}, {"pd", 0x66, true, false}, {"sd", 0xf2, true, true}};
  for (const Family& f : families) {
    for (const auto& form : forms) {
      const auto data = form.dbl ? sse::fp_pairs(g, sse::double_edges(), form.scalar)
                                 : sse::fp_pairs(g, sse::float_edges(), form.scalar);
      for (size_t k = 0; k < data.size(); ++k) {
        const bool mem = k % 3 == 1;
        const std::string name = std::string(f.name) + form.suffix + (f.imm >= 0 ? " imm " + std::to_string(f.imm) : "") +
                                 (mem ? " mem" : "") + " mxcsr " + std::to_string(data[k].mxcsr);
        cases.push_back(sse::make(g, name, sse::insn(form.prefix, {0x0f, f.opcode}, mem, f.imm), data[k]));
      }
    }
  }
  // COMISS/UCOMISS (no prefix), COMISD/UCOMISD (66): ZF, PF, CF; OF, SF, AF cleared.
  for (uint8_t op : {0x2f, 0x2e}) {
    for (bool dbl : {false, true}) {
      const auto data = dbl ? sse::fp_pairs(g, sse::double_edges(), true) : sse::fp_pairs(g, sse::float_edges(), true);
      for (size_t k = 0; k < data.size(); ++k) {
        const bool mem = k % 3 == 1;
        const std::string name = std::string(op == 0x2f ? "comis" : "ucomis") + (dbl ? "d" : "s") + (mem ? " mem" : "");
        cases.push_back(sse::make(g, name, sse::insn(dbl ? 0x66 : 0, {0x0f, op}, mem), data[k]));
      }
    }
  }
  check(cases);
}

// The conversions between integers, singles and doubles, truncating forms
// included, in every rounding mode (SDM vol. 2, CVT*).
TEST_F(Differential, SseConversions) {
  Gen g(0xc7, base());
  std::vector<Case> cases;
  // xmm <- xmm/m: (prefix, opcode, source is double)
  const struct {
    const char* name;
    uint8_t prefix, opcode;
    bool src_double;
  } vv[] = {{"cvtps2pd", 0, 0x5a, false},     {"cvtpd2ps", 0x66, 0x5a, true},   {"cvtss2sd", 0xf3, 0x5a, false},
            {"cvtsd2ss", 0xf2, 0x5a, true},   {"cvtdq2ps", 0, 0x5b, false},     {"cvtps2dq", 0x66, 0x5b, false},
            {"cvttps2dq", 0xf3, 0x5b, false}, {"cvtdq2pd", 0xf3, 0xe6, false},  {"cvtpd2dq", 0xf2, 0xe6, true},
            {"cvttpd2dq", 0x66, 0xe6, true}};
  for (const auto& c : vv) {
    const auto data = c.src_double ? sse::fp_pairs(g, sse::double_edges(), false)
                                   : sse::fp_pairs(g, sse::float_edges(), false);
    for (size_t k = 0; k < data.size(); ++k) {
      sse::Data d = data[k];
      if (c.opcode == 0x5b && c.prefix == 0) {  // cvtdq2ps: integers in
        for (auto& q : d.x1) q = g.r64() >> g.below(64);
        std::memcpy(d.mem, d.x1, 16);
      }
      const bool mem = k % 3 == 1;
      cases.push_back(sse::make(g, std::string(c.name) + (mem ? " mem" : ""), sse::insn(c.prefix, {0x0f, c.opcode}, mem), d));
    }
  }
  // GPR <- xmm/m (2D: round, 2C: truncate) and xmm <- r/m (2A), 32- and 64-bit.
  for (uint8_t prefix : {0xf3, 0xf2}) {
    const auto data = prefix == 0xf2 ? sse::fp_pairs(g, sse::double_edges(), true)
                                     : sse::fp_pairs(g, sse::float_edges(), true);
    for (uint8_t op : {0x2d, 0x2c}) {
      for (uint8_t rex : {0, 0x48}) {
        for (size_t k = 0; k < data.size(); k += 2) {
          const bool mem = k % 3 == 1;
          // cvt(t)s?2si eax/rax, xmm1 (ModRM c1) or [rbx+0x40] (ModRM 43).
          cases.push_back(sse::make(g, std::string(prefix == 0xf3 ? "cvt(t)ss2si" : "cvt(t)sd2si") + (rex ? " r64" : " r32"),
                                    sse::insn(prefix, {0x0f, op}, mem, -1, rex), data[k]));
        }
      }
    }
    const std::vector<uint64_t> ints = {0, 1, ~0ull, 0x7fffffff, 0x80000000, 0x7fffffffffffffff, 0x8000000000000000,
                                        0xffffff, 0x1000001, 0x20000000000001, 0x123456789abcdef};
    for (uint8_t rex : {0, 0x48}) {
      for (size_t k = 0; k < ints.size() * 4; ++k) {
        sse::Data d;
        d.mxcsr = sse::kMxcsrs[k % 9];
        d.x0[0] = g.r64();
        d.x0[1] = g.r64();
        const uint64_t v = k < ints.size() ? ints[k] : g.r64() >> g.below(64);
        d.mem[0] = v;
        const bool mem = k % 2 == 1;
        Case c = sse::make(g, std::string(prefix == 0xf3 ? "cvtsi2ss" : "cvtsi2sd") + (rex ? " r64" : " r32"),
                           sse::insn(prefix, {0x0f, 0x2a}, mem, -1, rex, 0xc0), d);  // xmm0, eax/rax
        c.in.r[rAX] = v;
        cases.push_back(c);
      }
    }
  }
  check(cases);
}

// Integer SIMD, bitwise logic, unpacks, shuffles and shifts (SDM vol. 2).
TEST_F(Differential, SseInteger) {
  Gen g(0x1e7, base());
  std::vector<Case> cases;
  const uint8_t ops66[] = {0xfc, 0xfd, 0xfe, 0xd4, 0xf8, 0xf9, 0xfa, 0xfb, 0xec, 0xed, 0xdc, 0xdd, 0xe8, 0xe9,
                           0xd8, 0xd9, 0x74, 0x75, 0x76, 0x64, 0x65, 0x66, 0xd5, 0xe5, 0xe4, 0xf4, 0xf5, 0xf6,
                           0xe0, 0xe3, 0xda, 0xde, 0xea, 0xee, 0xdb, 0xdf, 0xeb, 0xef, 0x60, 0x61, 0x62, 0x6c,
                           0x68, 0x69, 0x6a, 0x6d, 0x63, 0x6b, 0x67, 0xf1, 0xf2, 0xf3, 0xd1, 0xd2, 0xd3, 0xe1,
                           0xe2, 0x54, 0x55, 0x56, 0x57, 0x14, 0x15};
  const uint64_t patterns[] = {0, ~0ull, 0x8000800080008000, 0x7fff7fff7fff7fff, 0x0101010101010101,
                               0x8080808080808080, 0x00ff00ff00ff00ff, 0x0000000080000000, 0x7f807f80ff0100fe};
  auto data = [&](unsigned k) {
    sse::Data d;
    d.x0[0] = k < 9 ? patterns[k] : g.r64();
    d.x0[1] = k < 9 ? patterns[(k + 3) % 9] : g.r64();
    d.x1[0] = k < 9 ? patterns[(k + 5) % 9] : g.r64();
    d.x1[1] = g.r64();
    if (k % 4 == 3) d.x1[0] = g.below(70);  // shift counts in range
    std::memcpy(d.mem, d.x1, 16);
    return d;
  };
  for (uint8_t op : ops66) {
    for (unsigned k = 0; k < 16; ++k) {
      const bool mem = k % 3 == 1;
      char name[32];
      std::snprintf(name, sizeof name, "66 0f %02x%s", op, mem ? " mem" : "");
      cases.push_back(sse::make(g, name, sse::insn(0x66, {0x0f, op}, mem), data(k)));
      if (op >= 0x54 && op <= 0x57) cases.push_back(sse::make(g, name, sse::insn(0, {0x0f, op}, mem), data(k)));
      if (op == 0x14 || op == 0x15) cases.push_back(sse::make(g, name, sse::insn(0, {0x0f, op}, mem), data(k)));
    }
  }
  // With an immediate: PSHUFD/PSHUFHW/PSHUFLW, SHUFPS/SHUFPD, and the shifts
  // by immediate (66 0F 71-73 /r with xmm0 in ModRM.rm).
  for (unsigned k = 0; k < 24; ++k) {
    const uint8_t imm = uint8_t(k < 4 ? std::initializer_list<uint8_t>{0, 0x1b, 0xe4, 0xff}.begin()[k] : g.r64());
    const bool mem = k % 3 == 1;
    cases.push_back(sse::make(g, "pshufd", sse::insn(0x66, {0x0f, 0x70}, mem, imm), data(k)));
    cases.push_back(sse::make(g, "pshufhw", sse::insn(0xf3, {0x0f, 0x70}, mem, imm), data(k)));
    cases.push_back(sse::make(g, "pshuflw", sse::insn(0xf2, {0x0f, 0x70}, mem, imm), data(k)));
    cases.push_back(sse::make(g, "shufps", sse::insn(0, {0x0f, 0xc6}, mem, imm), data(k)));
    cases.push_back(sse::make(g, "shufpd", sse::insn(0x66, {0x0f, 0xc6}, mem, imm), data(k)));
    const uint8_t count = uint8_t(k < 12 ? k * 6 : g.r64());
    for (uint8_t modrm : {0xd0, 0xe0, 0xf0}) {  // /2 PSRL, /4 PSRA, /6 PSLL
      cases.push_back(sse::make(g, "shift w imm", sse::insn(0x66, {0x0f, 0x71}, false, count, 0, modrm), data(k)));
      cases.push_back(sse::make(g, "shift d imm", sse::insn(0x66, {0x0f, 0x72}, false, count, 0, modrm), data(k)));
    }
    for (uint8_t modrm : {0xd0, 0xd8, 0xf0, 0xf8})  // PSRLQ, PSRLDQ, PSLLQ, PSLLDQ
      cases.push_back(sse::make(g, "shift q/dq imm", sse::insn(0x66, {0x0f, 0x73}, false, count % 20, 0, modrm), data(k)));
  }
  check(cases);
}

// Data movement between XMM registers, memory and general registers.
TEST_F(Differential, SseMoves) {
  Gen g(0x3a7, base());
  std::vector<Case> cases;
  const struct {
    const char* name;
    std::vector<uint8_t> bytes;
  } moves[] = {
      {"movaps r", {0x0f, 0x28, 0xc1}},           {"movaps m", {0x0f, 0x28, 0x43, 0x40}},
      {"movaps st", {0x0f, 0x29, 0x43, 0x40}},    {"movups m", {0x0f, 0x10, 0x43, 0x40}},
      {"movupd st", {0x66, 0x0f, 0x11, 0x43, 0x40}}, {"movdqa m", {0x66, 0x0f, 0x6f, 0x43, 0x40}},
      {"movdqa st", {0x66, 0x0f, 0x7f, 0x43, 0x40}}, {"movntdq", {0x66, 0x0f, 0xe7, 0x43, 0x40}},
      {"movntps", {0x0f, 0x2b, 0x43, 0x40}},      {"movss r", {0xf3, 0x0f, 0x10, 0xc1}},
      {"movss m", {0xf3, 0x0f, 0x10, 0x43, 0x40}}, {"movss st", {0xf3, 0x0f, 0x11, 0x43, 0x40}},
      {"movsd r", {0xf2, 0x0f, 0x10, 0xc1}},      {"movsd m", {0xf2, 0x0f, 0x10, 0x43, 0x40}},
      {"movsd st", {0xf2, 0x0f, 0x11, 0x43, 0x40}}, {"movhlps", {0x0f, 0x12, 0xc1}},
      {"movlhps", {0x0f, 0x16, 0xc1}},            {"movlps m", {0x0f, 0x12, 0x43, 0x40}},
      {"movhps m", {0x0f, 0x16, 0x43, 0x40}},     {"movhpd st", {0x66, 0x0f, 0x17, 0x43, 0x40}},
      {"movlpd st", {0x66, 0x0f, 0x13, 0x43, 0x40}}, {"movq r", {0xf3, 0x0f, 0x7e, 0xc1}},
      {"movq m", {0xf3, 0x0f, 0x7e, 0x43, 0x40}}, {"movq st", {0x66, 0x0f, 0xd6, 0x43, 0x40}},
      {"movq xmm,xmm D6", {0x66, 0x0f, 0xd6, 0xc8}}, {"movd eax,xmm0", {0x66, 0x0f, 0x7e, 0xc0}},
      {"movd xmm0,eax", {0x66, 0x0f, 0x6e, 0xc0}}, {"movq rax,xmm0", {0x66, 0x48, 0x0f, 0x7e, 0xc0}},
      {"movq xmm0,rax", {0x66, 0x48, 0x0f, 0x6e, 0xc0}}, {"movd m,xmm0", {0x66, 0x0f, 0x7e, 0x43, 0x40}},
      {"movd xmm0,m", {0x66, 0x0f, 0x6e, 0x43, 0x40}}, {"movmskps", {0x0f, 0x50, 0xc1}},
      {"movmskpd", {0x66, 0x0f, 0x50, 0xc1}},     {"pmovmskb", {0x66, 0x0f, 0xd7, 0xc1}},
      {"pmovmskb r64", {0x66, 0x48, 0x0f, 0xd7, 0xc1}}, {"pextrw", {0x66, 0x0f, 0xc5, 0xc1, 0x05}},
      {"pinsrw r", {0x66, 0x0f, 0xc4, 0xc0, 0x0b}}, {"pinsrw m", {0x66, 0x0f, 0xc4, 0x43, 0x40, 0x02}},
      {"movnti", {0x0f, 0xc3, 0x43, 0x40}},       {"movnti r64", {0x48, 0x0f, 0xc3, 0x43, 0x40}},
      {"movdqu xmm9 round trip", {0xf3, 0x44, 0x0f, 0x6f, 0xc8, 0xf3, 0x41, 0x0f, 0x6f, 0xc1}},
  };
  for (const auto& mv : moves) {
    for (unsigned k = 0; k < 4; ++k) {
      sse::Data d;
      for (auto* q : {&d.x0[0], &d.x0[1], &d.x1[0], &d.x1[1], &d.mem[0], &d.mem[1]}) *q = g.r64();
      cases.push_back(sse::make(g, mv.name, mv.bytes, d));
    }
  }
  // MASKMOVDQU xmm0, xmm1: to [rdi], here an unaligned address in the data
  // area; masks all-ones, all-zeros and random.
  for (unsigned k = 0; k < 12; ++k) {
    sse::Data d;
    for (auto* q : {&d.x0[0], &d.x0[1], &d.mem[0], &d.mem[1]}) *q = g.r64();
    d.x1[0] = k == 0 ? ~0ull : k == 1 ? 0 : g.r64();
    d.x1[1] = k == 0 ? ~0ull : k == 1 ? 0 : g.r64();
    Case c = sse::make(g, "maskmovdqu", {0x66, 0x0f, 0xf7, 0xc1}, d);
    c.in.r[rDI] = base() + kDataOff + sse::kMem + k;
    cases.push_back(c);
  }
  check(cases);
}

// Unmasked SIMD floating-point exceptions (SDM vol. 1 11.5.2): where the
// host traps (#XM, SIGFPE) the sim must raise #XM at the same instruction
// with the same MXCSR and XMM0/XMM1 unchanged; where the host does not
// trap the results must agree as in the masked cases. MXCSR values unmask
// one exception at a time, then all, under each rounding mode and DAZ/FTZ.
TEST_F(Differential, SseUnmaskedExceptions) {
  Gen g(0x3c, base());
  const struct {
    const char* name;
    std::vector<uint8_t> insn;
    bool dbl, scalar;
  } ops[] = {
      {"addps", {0x0f, 0x58, 0xc1}, false, false},        {"subss", {0xf3, 0x0f, 0x5c, 0xc1}, false, true},
      {"mulps", {0x0f, 0x59, 0xc1}, false, false},        {"divss", {0xf3, 0x0f, 0x5e, 0xc1}, false, true},
      {"divpd", {0x66, 0x0f, 0x5e, 0xc1}, true, false},   {"mulsd", {0xf2, 0x0f, 0x59, 0xc1}, true, true},
      {"sqrtps", {0x0f, 0x51, 0xc1}, false, false},       {"sqrtsd", {0xf2, 0x0f, 0x51, 0xc1}, true, true},
      {"maxps", {0x0f, 0x5f, 0xc1}, false, false},        {"cmpltpd", {0x66, 0x0f, 0xc2, 0xc1, 1}, true, false},
      {"comiss", {0x0f, 0x2f, 0xc1}, false, true},        {"ucomisd", {0x66, 0x0f, 0x2e, 0xc1}, true, true},
      {"cvtpd2ps", {0x66, 0x0f, 0x5a, 0xc1}, true, false}, {"cvtps2dq", {0x66, 0x0f, 0x5b, 0xc1}, false, false},
      {"cvttsd2si", {0xf2, 0x0f, 0x2c, 0xc1}, true, true}, {"cvtsd2ss", {0xf2, 0x0f, 0x5a, 0xc1}, true, true},
  };
  std::vector<uint32_t> mxcsrs;
  for (uint32_t rc : {0x0000u, 0x2000u, 0x4000u, 0x6000u, 0x8040u})
    for (unsigned k = 0; k <= 6; ++k) mxcsrs.push_back(rc | (k < 6 ? (0x1f80 & ~(0x80u << k)) : 0));
  std::vector<uint8_t> image(kMemSize), sim_mem(kMemSize);
  unsigned failures = 0, traps = 0, cases = 0;
  for (const auto& op : ops) {
    const auto data = op.dbl ? sse::fp_pairs(g, sse::double_edges(), op.scalar)
                             : sse::fp_pairs(g, sse::float_edges(), op.scalar);
    for (size_t k = 0; k < data.size(); ++k) {
      sse::Data d = data[k];
      d.mxcsr = mxcsrs[(k * 7 + k / mxcsrs.size()) % mxcsrs.size()];
      Case c = sse::make(g, op.name, op.insn, d);
      image = pristine_;
      for (const MemPatch& p : c.patches) std::memcpy(&image[p.off - kMemOff], p.bytes.data(), p.bytes.size());
      std::memcpy(native_->base() + kMemOff, image.data(), kMemSize);
      sim_->write_memory(image.data());
      Regs host = c.in, sim = c.in;
      host.rflags = fl::FIXED1 | (c.in.rflags & kCompared);
      const uint32_t host_mxcsr = _mm_getcsr();
      const int sig = native_->run(c.code, host);
      _mm_setcsr(host_mxcsr);  // a trap leaves the kernel's initial MXCSR
      const std::string sim_error = sim_->run(c.code, sim);
      ++cases;
      std::string diff;
      char line[200];
      if (sig == SIGFPE) {
        ++traps;
        const sim::CpuState& s = sim_->state();
        if (sim_->vector() != 19) {
          std::snprintf(line, sizeof line, "  host #XM, sim vector %d (%s)\n", sim_->vector(), sim_error.c_str());
          diff += line;
        } else {
          if (sim_->frame_rip() != g_native_trap.rip) diff += "  #XM at a different RIP\n";
          if (s.mxcsr != g_native_trap.mxcsr) {
            std::snprintf(line, sizeof line, "  mxcsr in 0x%04x  host 0x%04x  sim 0x%04x\n", d.mxcsr,
                          g_native_trap.mxcsr, s.mxcsr);
            diff += line;
          }
          if (std::memcmp(s.xmm[0].q, g_native_trap.xmm0, 16) || std::memcmp(s.xmm[1].q, g_native_trap.xmm1, 16))
            diff += "  XMM0/XMM1 differ at the trap\n";
        }
      } else if (sig) {
        std::snprintf(line, sizeof line, "  host raised signal %d\n", sig);
        diff += line;
      } else if (!sim_error.empty()) {
        diff += "  host completed, sim: " + sim_error + "\n";
      } else {
        for (unsigned r = 0; r < 16; ++r)
          if (host.r[r] != sim.r[r]) diff += std::string("  ") + kRegNames[r] + " differs\n";
        if ((host.rflags ^ sim.rflags) & kCompared) diff += "  rflags differ\n";
        sim_->read_memory(sim_mem.data());
        if (std::memcmp(native_->base() + kMemOff, sim_mem.data(), kMemSize)) diff += "  memory (XMM or MXCSR out) differs\n";
      }
      if (!diff.empty() && ++failures <= 20)
        ADD_FAILURE() << op.name << " mxcsr 0x" << std::hex << d.mxcsr << " x0 " << d.x0[0] << ":" << d.x0[1]
                      << " x1 " << d.x1[0] << ":" << d.x1[1] << "\n"
                      << diff;
    }
  }
  EXPECT_EQ(failures, 0u) << failures << " of " << cases << " cases differ";
  EXPECT_GT(traps, cases / 10) << "the cases should trap often";
  EXPECT_LT(traps, cases) << "and complete sometimes";
  ++families_;
  cases_ += cases;
  std::printf("  %u cases, %u trapped\n", cases, traps);
}

// Compiler-generated SSE2 code: what an ordinary x86-64 guest runs. The
// bytes are the .text of this C file, compiled by Debian 12's GCC 12.2 with
// `gcc -O3 -ffast-math -mno-avx -msse2 -fno-math-errno
// -fno-asynchronous-unwind-tables -fcf-protection=none -c` (vectorized
// loops with peeling, horizontal sums, packed and scalar conversions, no
// RIP-relative constants), then `objcopy -O binary -j .text`:
//
//   float dot(const float* a, const float* b, int n) {            // 0x000
//     float s = 0;
//     for (int i = 0; i < n; ++i) s += a[i] * b[i];
//     return s;
//   }
//   double norm(const double* x, int n, double one, double scale) {  // 0x0d0
//     double s = 0;
//     for (int i = 0; i < n; ++i) {
//       double v = x[i] * scale;
//       s += __builtin_sqrt(v * v + one) / (one + v);
//     }
//     return s;
//   }
//   void saxpy_i(int* y, const int* x, int n, int a) {               // 0x1a0
//     for (int i = 0; i < n; ++i) y[i] = y[i] * a + (x[i] >> 3);
//   }
//   void mix(float* out, const double* in, const int* k, int n) {    // 0x2d0
//     for (int i = 0; i < n; ++i) out[i] = (float)(in[i] * (double)k[i]) + (float)(long)in[i];
//   }
//
// The snippet jumps over the functions, loads MXCSR/XMM0/XMM1 as the
// other SSE cases do, calls one function on arrays in the data area (its
// bit patterns random: NaNs, infinities and denormals included) and stores
// XMM0/XMM1/MXCSR back.
TEST_F(Differential, SseCompiledCode) {
  static const uint8_t kText[] = {
      0x48, 0x89, 0xf9, 0x85, 0xd2, 0x0f, 0x8e, 0xa5, 0x00, 0x00, 0x00, 0x8d, 0x42, 0xff, 0x83, 0xf8, 0x02, 0x0f, 0x86, 0xa2, 0x00, 0x00, 0x00, 0x89,
      0xd7, 0x31, 0xc0, 0x66, 0x0f, 0xef, 0xc9, 0xc1, 0xef, 0x02, 0x48, 0xc1, 0xe7, 0x04, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x0f, 0x10, 0x04, 0x01, 0x0f, 0x10, 0x14, 0x06, 0x48, 0x83, 0xc0, 0x10, 0x0f, 0x59, 0xc2, 0x0f, 0x58, 0xc8, 0x48, 0x39, 0xc7, 0x75, 0xe9, 0x0f,
      0x28, 0xc1, 0x89, 0xd0, 0x0f, 0x12, 0xc1, 0x83, 0xe0, 0xfc, 0x0f, 0x58, 0xc8, 0x0f, 0x28, 0xc1, 0x0f, 0xc6, 0xc1, 0x55, 0x0f, 0x58, 0xc1, 0xf6,
      0xc2, 0x03, 0x74, 0x54, 0x4c, 0x63, 0xc0, 0xf3, 0x42, 0x0f, 0x10, 0x0c, 0x81, 0xf3, 0x42, 0x0f, 0x59, 0x0c, 0x86, 0x4a, 0x8d, 0x3c, 0x85, 0x00,
      0x00, 0x00, 0x00, 0x44, 0x8d, 0x40, 0x01, 0xf3, 0x0f, 0x58, 0xc1, 0x44, 0x39, 0xc2, 0x7e, 0x2c, 0xf3, 0x0f, 0x10, 0x4c, 0x39, 0x04, 0xf3, 0x0f,
      0x59, 0x4c, 0x3e, 0x04, 0x83, 0xc0, 0x02, 0xf3, 0x0f, 0x58, 0xc1, 0x39, 0xc2, 0x7e, 0x15, 0xf3, 0x0f, 0x10, 0x4c, 0x3e, 0x08, 0xf3, 0x0f, 0x59,
      0x4c, 0x39, 0x08, 0xf3, 0x0f, 0x58, 0xc1, 0xc3, 0x66, 0x0f, 0xef, 0xc0, 0xc3, 0x0f, 0x1f, 0x00, 0xc3, 0x31, 0xc0, 0x66, 0x0f, 0xef, 0xc0, 0xeb,
      0xa3, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00, 0x66, 0x0f, 0x28, 0xd8, 0x85, 0xf6, 0x0f, 0x8e,
      0xa4, 0x00, 0x00, 0x00, 0x83, 0xfe, 0x01, 0x0f, 0x84, 0xa4, 0x00, 0x00, 0x00, 0x89, 0xf2, 0x66, 0x0f, 0x28, 0xf1, 0x66, 0x0f, 0x28, 0xe8, 0x48,
      0x89, 0xf8, 0x66, 0x0f, 0x14, 0xf6, 0xd1, 0xea, 0x66, 0x0f, 0x14, 0xed, 0x66, 0x0f, 0xef, 0xe4, 0x48, 0xc1, 0xe2, 0x04, 0x48, 0x01, 0xfa, 0x66,
      0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0x0f, 0x10, 0x10, 0x48, 0x83, 0xc0, 0x10, 0x66, 0x0f, 0x59, 0xd6, 0x66, 0x0f, 0x28, 0xc2,
      0x66, 0x0f, 0x59, 0xc2, 0x66, 0x0f, 0x58, 0xd5, 0x66, 0x0f, 0x58, 0xc5, 0x66, 0x0f, 0x51, 0xc0, 0x66, 0x0f, 0x5e, 0xc2, 0x66, 0x0f, 0x58, 0xe0,
      0x48, 0x39, 0xc2, 0x75, 0xd3, 0x66, 0x0f, 0x28, 0xd4, 0x66, 0x0f, 0x15, 0xd4, 0x66, 0x0f, 0x58, 0xd4, 0x40, 0xf6, 0xc6, 0x01, 0x74, 0x27, 0x83,
      0xe6, 0xfe, 0x48, 0x63, 0xf6, 0xf2, 0x0f, 0x59, 0x0c, 0xf7, 0x66, 0x0f, 0x28, 0xc1, 0xf2, 0x0f, 0x59, 0xc1, 0xf2, 0x0f, 0x58, 0xc3, 0xf2, 0x0f,
      0x58, 0xd9, 0xf2, 0x0f, 0x51, 0xc0, 0xf2, 0x0f, 0x5e, 0xc3, 0xf2, 0x0f, 0x58, 0xd0, 0x66, 0x0f, 0x28, 0xc2, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00,
      0x66, 0x0f, 0xef, 0xd2, 0x66, 0x0f, 0x28, 0xc2, 0xc3, 0x31, 0xf6, 0x66, 0x0f, 0xef, 0xd2, 0xeb, 0xc1, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00, 0x49, 0x89, 0xf0, 0x41, 0x89, 0xc9, 0x85, 0xd2, 0x7e, 0x42, 0x8d, 0x42, 0xff, 0x83, 0xf8, 0x02,
      0x76, 0x10, 0x48, 0x8d, 0x4e, 0x04, 0x48, 0x89, 0xf8, 0x48, 0x29, 0xc8, 0x48, 0x83, 0xf8, 0x08, 0x77, 0x2e, 0x48, 0x63, 0xd2, 0x31, 0xc0, 0x48,
      0x8d, 0x34, 0x95, 0x00, 0x00, 0x00, 0x00, 0x90, 0x8b, 0x14, 0x07, 0x41, 0x8b, 0x0c, 0x00, 0x41, 0x0f, 0xaf, 0xd1, 0xc1, 0xf9, 0x03, 0x01, 0xca,
      0x89, 0x14, 0x07, 0x48, 0x83, 0xc0, 0x04, 0x48, 0x39, 0xf0, 0x75, 0xe4, 0xc3, 0x0f, 0x1f, 0x00, 0x66, 0x41, 0x0f, 0x6e, 0xe1, 0x89, 0xd1, 0x31,
      0xc0, 0x66, 0x0f, 0x70, 0xd4, 0x00, 0xc1, 0xe9, 0x02, 0x66, 0x0f, 0x6f, 0xda, 0x48, 0xc1, 0xe1, 0x04, 0x66, 0x0f, 0x73, 0xd3, 0x20, 0x66, 0x90,
      0xf3, 0x0f, 0x6f, 0x04, 0x07, 0xf3, 0x0f, 0x6f, 0x0c, 0x07, 0x66, 0x0f, 0x73, 0xd0, 0x20, 0x66, 0x0f, 0xf4, 0xca, 0x66, 0x0f, 0xf4, 0xc3, 0x66,
      0x0f, 0x70, 0xc9, 0x08, 0x66, 0x0f, 0x70, 0xc0, 0x08, 0x66, 0x0f, 0x62, 0xc8, 0xf3, 0x41, 0x0f, 0x6f, 0x04, 0x00, 0x66, 0x0f, 0x72, 0xe0, 0x03,
      0x66, 0x0f, 0xfe, 0xc1, 0x0f, 0x11, 0x04, 0x07, 0x48, 0x83, 0xc0, 0x10, 0x48, 0x39, 0xc8, 0x75, 0xbf, 0x89, 0xd0, 0x83, 0xe0, 0xfc, 0xf6, 0xc2,
      0x03, 0x74, 0x91, 0x89, 0xc1, 0x48, 0x8d, 0x34, 0x8d, 0x00, 0x00, 0x00, 0x00, 0x41, 0x8b, 0x0c, 0x88, 0x4c, 0x8d, 0x14, 0x37, 0x45, 0x8b, 0x1a,
      0xc1, 0xf9, 0x03, 0x45, 0x0f, 0xaf, 0xd9, 0x44, 0x01, 0xd9, 0x41, 0x89, 0x0a, 0x8d, 0x48, 0x01, 0x39, 0xca, 0x0f, 0x8e, 0x64, 0xff, 0xff, 0xff,
      0x4c, 0x8d, 0x54, 0x37, 0x04, 0x41, 0x8b, 0x4c, 0x30, 0x04, 0x83, 0xc0, 0x02, 0x45, 0x8b, 0x1a, 0xc1, 0xf9, 0x03, 0x45, 0x0f, 0xaf, 0xd9, 0x44,
      0x01, 0xd9, 0x41, 0x89, 0x0a, 0x39, 0xc2, 0x0f, 0x8e, 0x3f, 0xff, 0xff, 0xff, 0x48, 0x8d, 0x54, 0x37, 0x08, 0x41, 0x8b, 0x44, 0x30, 0x08, 0x8b,
      0x0a, 0xc1, 0xf8, 0x03, 0x41, 0x0f, 0xaf, 0xc9, 0x01, 0xc8, 0x89, 0x02, 0xc3, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x49, 0x89, 0xf8, 0x85, 0xc9, 0x7e, 0x48, 0x48, 0x63, 0xc9, 0x31, 0xc0, 0x48, 0x8d, 0x3c, 0x8d, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
      0xf2, 0x0f, 0x10, 0x0c, 0x46, 0x66, 0x0f, 0xef, 0xc0, 0xf2, 0x0f, 0x2a, 0x04, 0x02, 0xf2, 0x48, 0x0f, 0x2c, 0xc9, 0xf2, 0x0f, 0x59, 0xc1, 0x66,
      0x0f, 0xef, 0xc9, 0xf3, 0x48, 0x0f, 0x2a, 0xc9, 0xf2, 0x0f, 0x5a, 0xc0, 0xf3, 0x0f, 0x58, 0xc1, 0xf3, 0x41, 0x0f, 0x11, 0x04, 0x00, 0x48, 0x83,
      0xc0, 0x04, 0x48, 0x39, 0xc7, 0x75, 0xc9, 0xc3,
  };
  static_assert(sizeof kText == 800);
  const struct {
    const char* name;
    uint32_t offset;
  } fns[] = {{"dot", 0x000}, {"norm", 0x0d0}, {"saxpy_i", 0x1a0}, {"mix", 0x2d0}};
  Gen g(0xcc, base());
  std::vector<Case> cases;
  const uint64_t data = base() + kDataOff;
  for (const auto& fn : fns) {
    for (unsigned k = 0; k < 40; ++k) {
      sse::Data d;
      d.mxcsr = sse::kMxcsrs[k % 9];
      d.x0[0] = 0x3ff0000000000000ull;  // norm's `one`
      d.x1[0] = k % 2 ? 0x3f50624dd2f1a9fcull : g.r64();  // norm's `scale`: 0.001 or any bits
      // call rel32, patched below once the position is known.
      Case c = sse::make(g, fn.name, {0xe8, 0, 0, 0, 0}, d);
      const size_t call_at = 5 + sizeof kText + 14;  // jmp, the functions, ldmxcsr + 2 movdqu
      std::vector<uint8_t> code = {0xe9};
      const uint32_t over = sizeof kText;
      code.insert(code.end(), reinterpret_cast<const uint8_t*>(&over), reinterpret_cast<const uint8_t*>(&over) + 4);
      code.insert(code.end(), kText, kText + sizeof kText);
      code.insert(code.end(), c.code.begin(), c.code.end());
      ASSERT_EQ(code[call_at], 0xe8);
      const int32_t rel = int32_t(5 + fn.offset) - int32_t(call_at + 5);
      std::memcpy(&code[call_at + 1], &rel, 4);
      c.code = std::move(code);
      // Arguments: arrays at element-aligned (not 16-byte aligned) offsets, n up to 300.
      const uint64_t n = k < 4 ? k : g.below(300);
      c.in.r[rDI] = data + 0x100 + 4 * g.below(8);
      c.in.r[rSI] = data + 0x1000 + 8 * g.below(4);
      c.in.r[rDX] = data + 0x2000 + 4 * g.below(8);
      c.in.r[rCX] = n;
      if (fn.offset == 0x0d0) c.in.r[rSI] = n;  // norm(x, n, ...)
      if (fn.offset == 0x000 || fn.offset == 0x1a0) {
        c.in.r[rDX] = n;  // dot(a, b, n), saxpy_i(y, x, n, a)
        c.in.r[rCX] = g.r64();
      }
      c.name += " n " + std::to_string(n);
      cases.push_back(std::move(c));
    }
  }
  check(cases);
}

TEST_F(Differential, Summary) {
  std::printf("  differential: %zu cases in %u families so far\n", cases_, families_);
  SUCCEED();
}

}  // namespace
}  // namespace nestbed::testing
