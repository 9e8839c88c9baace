// The differential harness (tests/unit/differential*_test.cpp): the sim CPU
// against the host CPU. What a case is and how it runs both ways is
// described in tests/unit/differential_test.cpp, which also holds the
// native trampoline (nb_diff_native_enter/exit, assembly: one copy).
// Every family of cases lives in a differential_*_test.cpp file that
// includes this header and uses the one `Differential` fixture.
#pragma once
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
#include "arch/x86/xsave.h"
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

namespace nestbed::testing::differential {

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

inline uint64_t shift(bool rotate, bool sar, unsigned size, unsigned count) {
  const unsigned masked = count & (size == 8 ? 0x3f : 0x1f);
  if (masked == 0) return 0;
  uint64_t u = masked == 1 ? 0 : fl::OF;
  if (!rotate) {
    u |= fl::AF;
    if (!sar && masked >= 8 * size) u |= fl::CF;
  }
  return u;
}

inline uint64_t double_shift(unsigned size, unsigned count) {
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

inline sigjmp_buf g_native_jmp;
inline volatile sig_atomic_t g_in_native = 0;
inline volatile sig_atomic_t g_native_signal = 0;

// What the host's state was when a snippet trapped (the SSE cases with
// unmasked exceptions compare it with the sim's).
struct NativeTrap {
  uint64_t rip = 0;
  uint32_t mxcsr = 0;
  uint64_t xmm0[2] = {}, xmm1[2] = {};
};
inline NativeTrap g_native_trap;

inline void on_native_signal(int sig, siginfo_t*, void* context) {
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
    // SSE and XSAVE available, as on the host (whose XCR0 may have more
    // than x87 | SSE: differential_xsave_test.cpp masks the rest).
    m_.s().cr4 |= arch::cr4::OSFXSR | arch::cr4::OSXMMEXCPT | arch::cr4::OSXSAVE;
    m_.s().xcr0 = arch::xcr0::X87 | arch::xcr0::SSE;
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

inline std::string hex_bytes(const std::vector<uint8_t>& b) {
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
      Regs sim = c.in;
      const std::string sim_error = sim_->run(c.code, sim);
      if (c.memory) sim_->read_memory(sim_mem.data());
      std::string diff;
      char line[200];
      // The host's run is the oracle, but being preempted between its
      // instructions can change what it stores: on AMD the kernel's FPU
      // context switch clears the x87 instruction and data pointers. A case
      // the sim matches on one of three host runs passes.
      for (int attempt = 0; attempt < 3; ++attempt) {
        if (attempt && c.memory) std::memcpy(native_->base() + kMemOff, image.data(), kMemSize);
        diff.clear();
        Regs host = c.in;
        host.rflags = fl::FIXED1 | (c.in.rflags & kCompared);
        const int sig = native_->run(c.code, host);
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
        if (diff.empty() || sig || !sim_error.empty()) break;
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

  // SSE cases (sse::make) whose MXCSR unmasks exceptions: where the host
  // traps (#XM, SIGFPE) the sim must raise #XM at the same instruction
  // with the same MXCSR and XMM0/XMM1 unchanged; elsewhere the results
  // must agree as in check(). Returns how many cases trapped.
  unsigned check_unmasked(const std::vector<Case>& cases) {
    std::vector<uint8_t> image(kMemSize), sim_mem(kMemSize);
    unsigned failures = 0, traps = 0;
    for (const Case& c : cases) {
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
            std::snprintf(line, sizeof line, "  mxcsr host 0x%04x  sim 0x%04x\n", g_native_trap.mxcsr, s.mxcsr);
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
      if (!diff.empty() && ++failures <= 20) ADD_FAILURE() << c.name << "  [" << hex_bytes(c.code) << "]\n" << diff;
    }
    ++families_;
    cases_ += cases.size();
    EXPECT_EQ(failures, 0u) << failures << " of " << cases.size() << " cases differ";
    std::printf("  %zu cases, %u trapped\n", cases.size(), traps);
    return traps;
  }

  static NativeRunner* native_;
  static SimRunner* sim_;
  static std::vector<uint8_t> pristine_;
  static size_t cases_;
  static unsigned families_;
};

inline NativeRunner* Differential::native_ = nullptr;
inline SimRunner* Differential::sim_ = nullptr;
inline std::vector<uint8_t> Differential::pristine_;
inline size_t Differential::cases_ = 0;
inline unsigned Differential::families_ = 0;

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

inline const char* size_name(unsigned size) { return size == 1 ? "8" : size == 2 ? "16" : size == 4 ? "32" : "64"; }

inline std::string reg_name(Op o, unsigned size) {
  static const char* const r8[] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
  static const char* const r8h[] = {"ah", "ch", "dh", "bh"};
  static const char* const r16[] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"};
  if (o.reg >= 8) return std::string("r") + std::to_string(o.reg) + (size == 1 ? "b" : size == 2 ? "w" : size == 4 ? "d" : "");
  if (size == 1) return o.high8 ? r8h[o.reg] : r8[o.reg];
  if (size == 2) return r16[o.reg];
  return std::string(size == 4 ? "e" : "r") + (r16[o.reg]);
}

// Edge values of an operand size.
inline std::vector<uint64_t> edges(unsigned size) {
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

inline const std::vector<uint32_t>& float_edges() {
  static const std::vector<uint32_t> v = {
      0x00000000, 0x80000000, 0x3f800000, 0xbfc00000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc12345,
      0x7fa00000, 0xff812345, 0x00000001, 0x807fffff, 0x00800000, 0x80800001, 0x7f7fffff, 0xff7fffff,
      0x3eaaaaab, 0x4b800001, 0xcf000000, 0x4f000000, 0x5f000000, 0x0c000000, 0x72000000, 0x3f7fffff};
  return v;
}
inline const std::vector<uint64_t>& double_edges() {
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

inline std::vector<uint8_t> le(const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

// One case: `insn` (its ModRM and any immediate included) between the
// loads and the stores.
inline Case make(Gen& g, const std::string& name, const std::vector<uint8_t>& insn, const Data& d) {
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
inline std::vector<uint8_t> insn(uint8_t prefix, std::initializer_list<uint8_t> opcode, bool mem, int imm = -1,
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

}  // namespace nestbed::testing::differential
