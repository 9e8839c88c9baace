// Differential tests of XSAVE, XSAVEOPT, XRSTOR and XGETBV (see
// differential_test.cpp for the harness). The host runs with CR4.OSXSAVE
// set and an XCR0 that has at least x87 | SSE; the sim runs with XCR0 = 3.
// Every request mask here is a subset of 3, so RFBM is the same both ways
// whatever else (AVX, AVX-512) the host's XCR0 has.
//
// Each case restores the initial configuration from an area Z (XSTATE_BV
// = 0, MXCSR 1F80H), restores a random x87/SSE state from area A with a
// given XSTATE_BV and request mask (so some components are loaded, some
// initialized, some left alone), saves with XSAVE64, XSAVEOPT64 or the
// 32-bit-pointer XSAVE into area B (which starts out with random bytes, so
// every byte the instruction must not write is compared too), and ends by
// restoring Z again so the host returns to C++ with the ABI's FPU state.
//
// What is not compared, and why (the snippet zeroes it on both sides):
//   - FOP, FIP, FDP, and FCS/FDS of the 32-bit format in B: AMD processors
//     save them only while an unmasked x87 exception is pending (see
//     differential_x87_test.cpp), and XRSTOR on AMD loads them only then.
//   - MXCSR_MASK in B: the processor's own (AMD reports bit 17 too).
//   - XSTATE_BV's bit for a component the case leaves in its initial
//     configuration (initialized by XRSTOR, or left as Z set it): XSAVE
//     writes 0 there only if the processor's XINUSE bit is 0, which the
//     SDM lets a processor keep at 1 (SDM vol. 1 13.6); the host's goes to
//     1 after a context switch restores the task's state with MXCSR other
//     than 1F80H (seen once in a loaded ctest -j2 run), the sim's follows
//     the values. The bits of components loaded from A are compared: the
//     states A holds are never in their initial configuration.
#include "tests/support/differential.h"

#include "arch/x86/sse.h"
#include "arch/x86/xsave.h"

namespace nestbed::testing {
namespace {
using namespace differential;

namespace fx = arch::fxsave;
namespace xs = arch::xsave;

// Areas, from the region base (64-byte aligned; the data area is 4 pages).
constexpr uint64_t kAreaA = kDataOff + 0x000, kAreaB = kDataOff + 0x400, kAreaZ = kDataOff + 0x800;

uint64_t host_xcr0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

bool host_has_xsave() {
  uint32_t a, b, c, d;
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  return (c & (1u << 27)) && (host_xcr0() & 3) == 3;  // OSXSAVE, and XCR0 has x87 | SSE
}

// A random x87/SSE legacy region and header. Every exception is masked in
// FCW (so FSW.ES and B stay 0 and nothing is pending) and MXCSR; FOP and
// the pointers are 0 (not compared; see above); the registers are random,
// so neither component is in its initial configuration.
std::vector<uint8_t> random_area(std::mt19937_64& rng, uint64_t xstate_bv) {
  std::vector<uint8_t> a(xs::SIZE_X87_SSE, 0);
  auto put = [&](unsigned off, auto v) { std::memcpy(&a[off], &v, sizeof v); };
  put(fx::FCW, uint16_t(0x007f | (rng() & 0x0f00)));  // precision and rounding control
  put(fx::FSW, uint16_t(rng() & 0x7f7f & ~0x80u));     // TOP, C0-C3, sticky flags, not ES
  put(fx::FTW, uint8_t(rng() | 1));
  put(fx::MXCSR, uint32_t(0x1f80 | (rng() & 0xe07f)));  // flags, DAZ, RC, FZ
  for (unsigned k = 0; k < 8; ++k) {
    put(fx::ST0 + fx::SLOT * k, uint64_t(rng()));
    put(fx::ST0 + fx::SLOT * k + 8, uint16_t(rng()));
  }
  for (unsigned k = 0; k < 16; ++k) {
    put(fx::XMM0 + fx::SLOT * k, uint64_t(rng() | 1));
    put(fx::XMM0 + fx::SLOT * k + 8, uint64_t(rng()));
  }
  put(xs::XSTATE_BV, xstate_bv);
  return a;
}

std::vector<uint8_t> init_area() {
  std::vector<uint8_t> a(xs::SIZE_X87_SSE, 0);
  const uint32_t mxcsr = arch::mxcsr::RESET;
  std::memcpy(&a[fx::MXCSR], &mxcsr, 4);
  return a;  // XSTATE_BV = 0: both components initialized
}

// Code pieces (RBX = A, RCX = B, RSI = Z; R8D/R9D the restore/save masks).
const std::vector<uint8_t> kRestoreZ = {0xb8, 3, 0, 0, 0, 0x31, 0xd2, 0x48, 0x0f, 0xae, 0x2e};  // mov eax,3; xor edx,edx; xrstor64 [rsi]
const std::vector<uint8_t> kRestoreA = {0x44, 0x89, 0xc0, 0x48, 0x0f, 0xae, 0x2b};              // mov eax,r8d; xrstor64 [rbx]
// The pointers and MXCSR_MASK in B: mov qword [rcx+8], 0; mov qword [rcx+16], 0; mov word [rcx+6], 0; mov dword [rcx+28], 0
const std::vector<uint8_t> kZeroUncompared = {0x48, 0xc7, 0x41, 0x08, 0, 0, 0, 0, 0x48, 0xc7, 0x41, 0x10, 0, 0, 0, 0,
                                              0x66, 0xc7, 0x41, 0x06, 0, 0,  0x48, 0xc7, 0x41, 0x1c, 0, 0, 0, 0};
enum class Save { Xsave64, Xsaveopt64, Xsave32 };
std::vector<uint8_t> save_code(Save s) {
  std::vector<uint8_t> c = {0x44, 0x89, 0xc8};  // mov eax, r9d
  if (s != Save::Xsave32) c.push_back(0x48);
  c.insert(c.end(), {0x0f, 0xae, uint8_t(s == Save::Xsaveopt64 ? 0x31 : 0x21)});  // [rcx], /6 or /4
  return c;
}
const char* save_name(Save s) { return s == Save::Xsave64 ? "xsave64" : s == Save::Xsaveopt64 ? "xsaveopt64" : "xsave"; }

class DifferentialXsave : public Differential {
 protected:
  void SetUp() override {
    if (!host_has_xsave()) GTEST_SKIP() << "the host has no XSAVE enabled for x87 | SSE";
  }
  Case make(const std::string& name, const std::vector<uint8_t>& area, uint64_t restore_mask, uint64_t save_mask,
            Save s) {
    Case c;
    c.name = name;
    for (const auto* piece : {&kRestoreZ, &kRestoreA}) c.code.insert(c.code.end(), piece->begin(), piece->end());
    const std::vector<uint8_t> save = save_code(s);
    c.code.insert(c.code.end(), save.begin(), save.end());
    c.code.insert(c.code.end(), kZeroUncompared.begin(), kZeroUncompared.end());
    // and byte [rcx + 512], ~(the saved components not loaded from A): their XSTATE_BV bits
    const uint64_t bv = area[arch::xsave::XSTATE_BV];
    const uint8_t init = uint8_t(save_mask & ~(restore_mask & bv));
    c.code.insert(c.code.end(), {0x80, 0xa1, 0x00, 0x02, 0x00, 0x00, uint8_t(~init)});
    c.code.insert(c.code.end(), kRestoreZ.begin(), kRestoreZ.end());
    c.in.r[rSP] = base() + kStackStart;
    c.in.r[rBX] = base() + kAreaA;
    c.in.r[rCX] = base() + kAreaB;
    c.in.r[rSI] = base() + kAreaZ;
    c.in.r[r8] = restore_mask;
    c.in.r[r9] = save_mask;
    c.memory = true;
    c.patches = {{kAreaA, area}, {kAreaZ, init_area()}};
    return c;
  }
};

// XRSTOR with every XSTATE_BV and request mask over x87 | SSE, then each
// save form with each mask: loaded, initialized and untouched components,
// XSTATE_BV bits in and outside RFBM, MXCSR's own rule, the bytes no
// instruction writes, XSAVEOPT's init optimization.
TEST_F(DifferentialXsave, SaveRestoreImages) {
  std::mt19937_64 rng(0x78736176);
  std::vector<Case> cases;
  for (unsigned n = 0; n < 6; ++n) {
    for (uint64_t bv = 0; bv < 4; ++bv) {
      const std::vector<uint8_t> area = random_area(rng, bv);
      for (uint64_t restore : {1u, 2u, 3u}) {
        for (Save s : {Save::Xsave64, Save::Xsaveopt64, Save::Xsave32}) {
          for (uint64_t save : {1u, 2u, 3u}) {
            char name[96];
            std::snprintf(name, sizeof name, "#%u xstate_bv %lu xrstor mask %lu, %s mask %lu", n, bv, restore,
                          save_name(s), save);
            cases.push_back(make(name, area, restore, save, s));
          }
        }
      }
    }
  }
  check(cases);
}

// XGETBV with ECX = 0: the x87 | SSE bits of XCR0 (the host may have more).
TEST_F(DifferentialXsave, Xgetbv) {
  Case c;
  c.name = "xgetbv; and eax, 3; xor edx, edx";
  c.code = {0x0f, 0x01, 0xd0, 0x83, 0xe0, 0x03, 0x31, 0xd2};
  c.in.r[rCX] = 0;
  c.in.r[rAX] = c.in.r[rDX] = 0x5555555555555555ull;
  check({c});
}

// XRSTOR's #GP(0) for a bad header or MXCSR, on both sides (a host #GP is
// SIGSEGV); and no fault for header bytes 63:24.
TEST_F(DifferentialXsave, XrstorFaults) {
  std::mt19937_64 rng(0x6670);
  struct Bad {
    const char* what;
    unsigned off;
    uint64_t value;
    bool faults;
  } bad[] = {
      {"XCOMP_BV bit 63", xs::XCOMP_BV, 1ull << 63, true},
      {"XCOMP_BV bit 0", xs::XCOMP_BV, 1, true},
      {"header bytes 23:16", xs::XCOMP_BV + 8, 1ull << 40, true},
      {"XSTATE_BV bit 63", xs::XSTATE_BV, (1ull << 63) | 3, true},
      {"header bytes 31:24", xs::HEADER + 24, 1, false},
      {"header bytes 63:56", xs::HEADER + 56, 1ull << 63, false},
      {"MXCSR bit 16", fx::MXCSR, 0x10000 | 0x1f80, true},
  };
  unsigned failures = 0;
  for (const Bad& b : bad) {
    std::vector<uint8_t> area = random_area(rng, 3);
    if (b.off == fx::MXCSR) {
      const uint32_t v = uint32_t(b.value);
      std::memcpy(&area[b.off], &v, 4);
    } else {
      std::memcpy(&area[b.off], &b.value, 8);
    }
    Case c = make(b.what, area, 3, 3, Save::Xsave64);
    std::vector<uint8_t> image = pristine_;
    for (const MemPatch& p : c.patches) std::memcpy(&image[p.off - kMemOff], p.bytes.data(), p.bytes.size());
    std::memcpy(native_->base() + kMemOff, image.data(), kMemSize);
    sim_->write_memory(image.data());
    Regs host = c.in, sim = c.in;
    host.rflags = sim.rflags = fl::FIXED1;
    const uint32_t host_mxcsr = _mm_getcsr();
    const int sig = native_->run(c.code, host);
    _mm_setcsr(host_mxcsr);
    const std::string sim_error = sim_->run(c.code, sim);
    const bool host_faulted = sig == SIGSEGV, sim_faulted = sim_->vector() == 13;
    if (host_faulted != b.faults || sim_faulted != b.faults || (sig && !host_faulted)) {
      ++failures;
      ADD_FAILURE() << b.what << ": host signal " << sig << ", sim vector " << sim_->vector() << " (" << sim_error
                    << "), expected " << (b.faults ? "#GP" : "no fault");
    }
  }
  EXPECT_EQ(failures, 0u);
}

}  // namespace
}  // namespace nestbed::testing
