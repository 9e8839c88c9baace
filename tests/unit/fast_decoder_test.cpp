// The fast decoder (l0/sim/cpu/fast_decoder.h) against Capstone: wherever
// the fast decoder takes an instruction, Capstone must decode the same
// bytes to the same length and Decoder must give the same DecodedInsn
// (every field decode_one fills; the fast-path fields are prepare_fast_path's).
// Random instructions biased to the forms the fast decoder knows, and every
// instruction of the guest images' code.
#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "l0/sim/cost_model.h"
#include "l0/sim/cpu/decoder.h"

#ifndef NESTBED_KVM_TEST_IMAGES
#error "tests/kvm.cmake defines NESTBED_KVM_TEST_IMAGES (the workload images)"
#endif

namespace nestbed::sim {
namespace {

std::string hex(const uint8_t* bytes, size_t n) {
  std::string s;
  char buf[4];
  for (size_t k = 0; k < n; ++k) {
    std::snprintf(buf, sizeof buf, "%02x", bytes[k]);
    s += buf;
  }
  return s;
}

// The first field in which the two differ ("" if none), with both values.
std::string first_difference(const DecodedInsn& a, const DecodedInsn& b) {
#define NB_FIELD(f)                                                                                    \
  if (a.f != b.f)                                                                                      \
    return std::string(#f) + ": fast " + std::to_string(uint64_t(a.f)) + ", capstone " + std::to_string(uint64_t(b.f));
  if (a.fn != b.fn) return "fn";
  NB_FIELD(len) NB_FIELD(opsize) NB_FIELD(addrsize) NB_FIELD(flags) NB_FIELD(cond) NB_FIELD(nops)
  NB_FIELD(mem_seg) NB_FIELD(mem_base) NB_FIELD(mem_index) NB_FIELD(mem_scale) NB_FIELD(mem_seg_arch)
  NB_FIELD(cost) NB_FIELD(id) NB_FIELD(disp) NB_FIELD(imm) NB_FIELD(imm2)
  for (int k = 0; k < 3; ++k) {
    NB_FIELD(op[k].kind) NB_FIELD(op[k].size) NB_FIELD(op[k].reg) NB_FIELD(op[k].high8)
  }
#undef NB_FIELD
  return "";
}

const char* mode_name(CpuMode mode) { return mode == CpuMode::Bits64 ? "64-bit" : "32-bit"; }

class FastDecoder : public ::testing::Test {
 public:
  // Decodes `bytes` both ways; true if the fast decoder took them. A
  // mismatch is a test failure naming the bytes and the field.
  bool check(CpuMode mode, const uint8_t* bytes, size_t n, uint64_t address) {
    DecodedInsn fast, slow;
    if (!decoder.decode_fast(mode, bytes, n, address, fast)) return false;
    if (!decoder.decode_with_capstone(mode, bytes, n, address, slow)) {
      ADD_FAILURE() << mode_name(mode) << " " << hex(bytes, n) << ": fast decoder accepts what Capstone refuses";
      return true;
    }
    const std::string diff = first_difference(fast, slow);
    if (!diff.empty())
      ADD_FAILURE() << mode_name(mode) << " " << hex(bytes, slow.len) << " ("
                    << decoder.disassemble(mode, bytes, n, address) << ") at 0x" << std::hex << address << std::dec
                    << ": " << diff;
    return true;
  }

  CostModel costs;
  Decoder decoder{costs};
};

// Opcodes the fast decoder knows (and a few neighbours it leaves to Capstone).
const std::vector<uint8_t>& one_byte_opcodes() {
  static const std::vector<uint8_t> v = [] {
    std::vector<uint8_t> o;
    for (int k = 0; k < 0x40; ++k) o.push_back(uint8_t(k));
    for (int k = 0x40; k < 0x60; ++k) o.push_back(uint8_t(k));
    for (int k = 0x70; k < 0x80; ++k) o.push_back(uint8_t(k));
    for (int k = 0x80; k < 0xa0; ++k) o.push_back(uint8_t(k));
    for (int k = 0xb0; k < 0xc0; ++k) o.push_back(uint8_t(k));
    for (uint8_t b : {0x63, 0x68, 0x69, 0x6a, 0x6b, 0xa8, 0xa9, 0xc0, 0xc1, 0xc2, 0xc3, 0xc6, 0xc7, 0xc9, 0xcc,
                      0xd0, 0xd1, 0xd2, 0xd3, 0xe8, 0xe9, 0xeb, 0xf4, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc,
                      0xfd, 0xfe, 0xff})
      o.push_back(b);
    return o;
  }();
  return v;
}
const std::vector<uint8_t>& two_byte_opcodes() {
  static const std::vector<uint8_t> v = [] {
    std::vector<uint8_t> o;
    for (int k = 0x40; k < 0x50; ++k) o.push_back(uint8_t(k));
    for (int k = 0x80; k < 0xa0; ++k) o.push_back(uint8_t(k));
    for (uint8_t b : {0x1f, 0xa2, 0xa3, 0xab, 0xaf, 0xb0, 0xb1, 0xb3, 0xb6, 0xb7, 0xba, 0xbb, 0xbe, 0xbf, 0xc0, 0xc1})
      o.push_back(b);
    return o;
  }();
  return v;
}

// Random bytes shaped like an instruction: prefixes, REX, a known opcode
// (sometimes any byte), then random ModR/M, SIB, displacement and
// immediate bytes; sometimes cut short.
size_t random_instruction(std::mt19937_64& rng, CpuMode mode, uint8_t* out) {
  static const uint8_t prefixes[] = {0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf0, 0xf2, 0xf3};
  auto pick = [&rng](size_t n) { return size_t(rng() % n); };
  size_t n = 0;
  const unsigned prefix_count = pick(4) == 0 ? unsigned(1 + pick(3)) : 0;
  for (unsigned k = 0; k < prefix_count; ++k) out[n++] = prefixes[pick(sizeof prefixes)];
  if (pick(3) == 0) out[n++] = prefixes[pick(3)];  // the common ones, 66 and 67, more often
  if (mode == CpuMode::Bits64 && pick(2) == 0) out[n++] = uint8_t(0x40 | pick(16));
  const unsigned what = unsigned(pick(16));
  if (what == 0) {
    out[n++] = uint8_t(rng());
  } else if (what < 4) {
    out[n++] = 0x0f;
    out[n++] = two_byte_opcodes()[pick(two_byte_opcodes().size())];
  } else {
    out[n++] = one_byte_opcodes()[pick(one_byte_opcodes().size())];
  }
  // ModR/M biased to memory forms with a SIB or displacement now and then.
  while (n < 15) out[n++] = uint8_t(rng());
  if (pick(8) == 0) n = 1 + pick(15);
  return n;
}

void random_differential(FastDecoder& t, std::mt19937_64& rng, CpuMode mode, unsigned count, unsigned* taken) {
  uint8_t bytes[16];
  for (unsigned k = 0; k < count && !::testing::Test::HasFailure(); ++k) {
    const size_t n = random_instruction(rng, mode, bytes);
    uint64_t address = rng();
    if (mode == CpuMode::Bits32) address &= 0xffffffffu;
    if (k % 4 == 0) address = (k % 8 == 0) ? uint64_t(rng() % 64) : (mode == CpuMode::Bits32 ? 0xffffffc0u : ~uint64_t(63)) + rng() % 64;
    if (t.check(mode, bytes, n, address)) ++*taken;
  }
}

TEST_F(FastDecoder, MatchesCapstoneOnRandom64BitInstructions) {
  std::mt19937_64 rng(0x5eed64);
  unsigned taken = 0;
  random_differential(*this, rng, CpuMode::Bits64, 1000000, &taken);
  std::printf("64-bit: %u taken\n", taken);
  EXPECT_GT(taken, 400000u);  // the test exercises the fast decoder
}

TEST_F(FastDecoder, MatchesCapstoneOnRandom32BitInstructions) {
  std::mt19937_64 rng(0x5eed32);
  unsigned taken = 0;
  random_differential(*this, rng, CpuMode::Bits32, 1000000, &taken);
  std::printf("32-bit: %u taken\n", taken);
  EXPECT_GT(taken, 400000u);
}

// Hand-picked forms whose Capstone quirks matter (sign extension, sizes,
// RIP-relative and absolute addressing, byte registers, wrap-around).
TEST_F(FastDecoder, TakesAndMatchesCommonForms) {
  const std::vector<std::vector<uint8_t>> cases64 = {
      {0x48, 0x83, 0xc0, 0xff},                          // add rax, -1
      {0x48, 0x81, 0xc0, 0xff, 0xff, 0xff, 0xff},        // add rax, -1 (imm32)
      {0x81, 0xc0, 0xff, 0xff, 0xff, 0xff},              // add eax, 0xffffffff
      {0x66, 0x83, 0xc0, 0xff},                          // add ax, -1
      {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 0x88},           // movabs rax, imm64
      {0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff},        // mov rax, -1
      {0x6a, 0x80},                                      // push -0x80
      {0x68, 0xff, 0xff, 0xff, 0xff},                    // push -1
      {0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00},        // mov rax, [rip + 0x10]
      {0x67, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00},        // mov eax, [eip + 0x10]
      {0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00},        // mov eax, [0x1000]
      {0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0},     // mov rax, fs:[0x28]
      {0x8b, 0x44, 0x24, 0x08},                          // mov eax, [rsp + 8]
      {0x42, 0x8b, 0x44, 0xe5, 0x80},                    // mov eax, [rbp + r12*8 - 0x80]
      {0x88, 0xe0},                                      // mov al, ah
      {0x40, 0x88, 0xe0},                                // mov al, spl
      {0x0f, 0xb6, 0xc4},                                // movzx eax, ah
      {0x48, 0x63, 0xc8},                                // movsxd rcx, eax
      {0xe8, 0x00, 0x00, 0x00, 0x80},                    // call far below
      {0x74, 0xfe},                                      // je self
      {0x0f, 0x85, 0x00, 0x01, 0x00, 0x00},              // jne +0x100
      {0xff, 0x15, 0x10, 0x00, 0x00, 0x00},              // call [rip + 0x10]
      {0xf0, 0x0f, 0xb1, 0x0a},                          // lock cmpxchg [rdx], ecx
      {0xf0, 0x48, 0x0f, 0xc1, 0x07},                    // lock xadd [rdi], rax
      {0x0f, 0x1f, 0x44, 0x00, 0x00},                    // nop dword ptr [rax + rax]
      {0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},              // nop word ptr [rax + rax]
      {0xd1, 0xe0},                                      // shl eax, 1
      {0x48, 0xc1, 0xf8, 0x3f},                          // sar rax, 63
      {0x48, 0x0f, 0xba, 0xe8, 0x3f},                    // bts rax, 63
      {0xf3, 0xc3},                                      // rep ret
      {0x48, 0x99},                                      // cqo
  };
  for (const auto& c : cases64) {
    EXPECT_TRUE(check(CpuMode::Bits64, c.data(), c.size(), 0x1000)) << "64-bit " << hex(c.data(), c.size());
    EXPECT_TRUE(check(CpuMode::Bits64, c.data(), c.size(), 0)) << "64-bit " << hex(c.data(), c.size());
  }
  const std::vector<std::vector<uint8_t>> cases32 = {
      {0x83, 0xc0, 0xff},                    // add eax, -1
      {0x8b, 0x05, 0xff, 0xff, 0xff, 0xff},  // mov eax, [0xffffffff]
      {0x40},                                // inc eax
      {0x66, 0x4f},                          // dec di
      {0xe9, 0x00, 0x00, 0x00, 0xf0},        // jmp, wrapping
      {0xeb, 0x80},                          // jmp -0x80, wrapping below 0
      {0x68, 0xff, 0xff, 0xff, 0xff},        // push 0xffffffff
      {0xc2, 0x08, 0x00},                    // ret 8
  };
  for (const auto& c : cases32) {
    EXPECT_TRUE(check(CpuMode::Bits32, c.data(), c.size(), 0x10)) << "32-bit " << hex(c.data(), c.size());
    EXPECT_TRUE(check(CpuMode::Bits32, c.data(), c.size(), 0xfffffff0u)) << "32-bit " << hex(c.data(), c.size());
  }
}

// Left to Capstone: 16-bit code and addressing, and forms Capstone gets
// wrong (taking them would change what the sim runs).
TEST_F(FastDecoder, LeavesOtherFormsToCapstone) {
  DecodedInsn d;
  const uint8_t add[] = {0x01, 0xc0};
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits16, add, sizeof add, 0, d));
  const uint8_t add16[] = {0x67, 0x01, 0x00};
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits32, add16, sizeof add16, 0, d));
  const uint8_t call16[] = {0x66, 0xe8, 0xfb, 0xff};  // Capstone: a 16-bit call in 64-bit mode
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits64, call16, sizeof call16, 0, d));
  const uint8_t movsxd32[] = {0x63, 0xc0};  // Capstone: movsxd rax, eax
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits64, movsxd32, sizeof movsxd32, 0, d));
  const uint8_t lea_reg[] = {0x8d, 0xc0};
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits64, lea_reg, sizeof lea_reg, 0, d));
  const uint8_t cut[] = {0x48, 0x81, 0xc0, 0xff};
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits64, cut, sizeof cut, 0, d));
  // lock add qword ptr fs:[esp + disp32], imm32: 16 bytes
  const uint8_t too_long[16] = {0x64, 0x66, 0x67, 0xf0, 0x48, 0x81, 0x84, 0x24, 0, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_FALSE(decoder.decode_fast(CpuMode::Bits64, too_long, sizeof too_long, 0, d));
}

// The code section of an ELF image (the images are ELF32 files holding
// 64-bit code after a short 32-bit boot stub; all of .text is walked as
// 64-bit code: the stub's bytes are instructions of some kind either way).
std::vector<uint8_t> text_section(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<uint8_t> text;
  if (file.size() < sizeof(Elf32_Ehdr) || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) return text;
  Elf32_Ehdr eh;
  std::memcpy(&eh, file.data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_shoff + size_t(eh.e_shnum) * sizeof(Elf32_Shdr) > file.size())
    return text;
  std::vector<Elf32_Shdr> sh(eh.e_shnum);
  std::memcpy(sh.data(), file.data() + eh.e_shoff, sh.size() * sizeof(Elf32_Shdr));
  if (eh.e_shstrndx >= sh.size()) return text;
  const Elf32_Shdr& names = sh[eh.e_shstrndx];
  for (const Elf32_Shdr& s : sh) {
    if (s.sh_type != SHT_PROGBITS || s.sh_offset + s.sh_size > file.size()) continue;
    if (std::strcmp(reinterpret_cast<const char*>(file.data() + names.sh_offset + s.sh_name), ".text") != 0) continue;
    text.assign(file.begin() + s.sh_offset, file.begin() + s.sh_offset + s.sh_size);
  }
  return text;
}

// Walks the image's code linearly (Capstone gives the boundaries) and
// checks every instruction; the share the fast decoder takes.
double image_share(FastDecoder& t, Decoder& decoder, const std::string& name) {
  const std::vector<uint8_t> text = text_section(std::string(NESTBED_KVM_TEST_IMAGES) + "/" + name);
  EXPECT_FALSE(text.empty()) << name << ": no .text (is the image built?)";
  unsigned total = 0, taken = 0;
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min<size_t>(15, text.size() - off);
    DecodedInsn d;
    if (!decoder.decode_with_capstone(CpuMode::Bits64, text.data() + off, n, 0x100000 + off, d)) {
      ++off;
      continue;
    }
    ++total;
    if (t.check(CpuMode::Bits64, text.data() + off, n, 0x100000 + off)) ++taken;
    off += d.len;
  }
  const double share = total ? double(taken) / total : 0;
  std::printf("%s: the fast decoder takes %u of %u instructions (%.1f %%)\n", name.c_str(), taken, total, 100 * share);
  return share;
}

TEST_F(FastDecoder, TakesMostOfL1VmmAndMatchesCapstone) { EXPECT_GT(image_share(*this, decoder, "l1-vmm"), 0.85); }

TEST_F(FastDecoder, MatchesCapstoneOnTheWorkloads) {
  for (const char* name : {"memtouch", "sieve", "vmx-selftest"}) EXPECT_GT(image_share(*this, decoder, name), 0.5);
}

}  // namespace
}  // namespace nestbed::sim
