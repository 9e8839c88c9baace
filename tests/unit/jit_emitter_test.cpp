// The translator's x86-64 emitter (l0/sim/jit/x86_emitter.h): encodings
// checked byte for byte against the SDM's opcode tables (vol. 2), and code
// longer than the emitter's first 4 KiB, whose labels are bound across the
// growth.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "l0/sim/jit/x86_emitter.h"

namespace nestbed::sim::jit {
namespace {

std::vector<uint8_t> bytes(const Emitter& e) { return std::vector<uint8_t>(e.data(), e.data() + e.size()); }

TEST(JitEmitter, EncodesTheFormsThePendingFlagsUse) {
  Emitter e;
  e.lahf_seto();                  // 9F; 0F 90 /0 (seto al)
  e.mov_imm(HR11, 0x8d50000);     // REX.B B8+3 id: mov r11d, imm32
  e.mov16_rr(HR11, HRAX);         // 66 REX.B 89 /r: mov r11w, ax
  e.alu_rr(AluOp::Xor, 4, HR11, HR11);  // REX.RB 31 /r: xor r11d, r11d
  e.movzx16_rr(HR11, HRAX);       // REX.R 0F B7 /r: movzx r11d, ax
  e.not32(HRDX);                  // F7 /2: not edx
  const std::vector<uint8_t> want = {0x9f, 0x0f, 0x90, 0xc0, 0x41, 0xbb, 0x00, 0x00, 0xd5, 0x08,
                                     0x66, 0x41, 0x89, 0xc3, 0x45, 0x31, 0xdb, 0x44, 0x0f, 0xb7,
                                     0xd8, 0xf7, 0xd2};
  EXPECT_EQ(bytes(e), want);
}

// The TLB hit's access at [addend + linear address]: SIB, scale 1.
TEST(JitEmitter, EncodesTheIndexedLoadsAndStores) {
  Emitter e;
  e.store_sized(8, HRCX, HRAX, HRBX);  // REX.W 89 /r: mov [rcx+rax], rbx
  e.store_sized(4, HRCX, HRAX, HR9);   // REX.R 89 /r: mov [rcx+rax], r9d
  e.store_sized(2, HRCX, HRAX, HRDX);  // 66 89 /r: mov [rcx+rax], dx
  e.store_sized(1, HRCX, HRAX, HRDI);  // REX 88 /r: mov [rcx+rax], dil
  e.load_zx(8, HRDI, HRCX, HRAX);      // REX.W 8B /r: mov rdi, [rcx+rax]
  e.load_zx(4, HR10, HRCX, HRAX);      // REX.R 8B /r: mov r10d, [rcx+rax]
  e.load_zx(1, HRDX, HRCX, HRAX);      // 0F B6 /r: movzx edx, byte [rcx+rax]
  e.load_zx(2, HRDX, HRBP, HR8);       // REX.X 0F B7 /r, mod 1: movzx edx, word [rbp+r8+0]
  const std::vector<uint8_t> want = {0x48, 0x89, 0x1c, 0x01, 0x44, 0x89, 0x0c, 0x01, 0x66, 0x89, 0x14, 0x01,
                                     0x40, 0x88, 0x3c, 0x01, 0x48, 0x8b, 0x3c, 0x01, 0x44, 0x8b, 0x14, 0x01,
                                     0x0f, 0xb6, 0x14, 0x01, 0x42, 0x0f, 0xb7, 0x54, 0x05, 0x00};
  EXPECT_EQ(bytes(e), want);
}

// The store that resets Cpu::jit_edge_limit_ (translator.cpp, loop edges).
TEST(JitEmitter, EncodesTheStoreOfAnImmediate) {
  Emitter e;
  e.store64_imm32(HR15, -0x28, 0);      // REX.WB C7 /0 id, mod 1: mov qword [r15-0x28], 0
  e.store64_imm32(HRAX, 0x200, 0x7f);   // REX.W C7 /0 id, mod 2: mov qword [rax+0x200], 0x7f
  const std::vector<uint8_t> want = {0x49, 0xc7, 0x47, 0xd8, 0x00, 0x00, 0x00, 0x00,
                                     0x48, 0xc7, 0x80, 0x00, 0x02, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x00};
  EXPECT_EQ(bytes(e), want);
}

// An address of base, index and displacement in one LEA (translator.cpp,
// effective_address): SIB with each scale, and RBP/R13 as the base taking
// a zero disp8.
// A store of an immediate through the TLB hit's [addend + linear address].
TEST(JitEmitter, EncodesTheIndexedStoresOfAnImmediate) {
  Emitter e;
  e.store_imm_sized(1, HRCX, HRAX, 0x1ff);         // C6 /0 ib: mov byte [rcx+rax], 0xff
  e.store_imm_sized(2, HRCX, HRAX, 0x12345);       // 66 C7 /0 iw: mov word [rcx+rax], 0x2345
  e.store_imm_sized(4, HRBP, HR8, 0x89abcdef);     // REX.X C7 /0 id, mod 1: mov dword [rbp+r8+0], ...
  e.store_imm_sized(8, HRCX, HRAX, ~uint64_t(0));  // REX.W C7 /0 id: mov qword [rcx+rax], -1
  const std::vector<uint8_t> want = {0xc6, 0x04, 0x01, 0xff, 0x66, 0xc7, 0x04, 0x01, 0x45, 0x23,
                                     0x42, 0xc7, 0x44, 0x05, 0x00, 0xef, 0xcd, 0xab, 0x89,
                                     0x48, 0xc7, 0x04, 0x01, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(bytes(e), want);
}

TEST(JitEmitter, EncodesTheIndexedLea) {
  Emitter e;
  e.lea(HRAX, HR8, HRBX, 0, 0);         // REX.WB 8D /r, mod 0: lea rax, [r8+rbx]
  e.lea(HRAX, HRAX, HRCX, 3, 0x10);     // REX.W 8D /r, mod 1: lea rax, [rax+rcx*8+0x10]
  e.lea(HRAX, HR13, HR9, 2, 0);         // REX.WXB 8D /r, mod 1: lea rax, [r13+r9*4+0]
  e.lea(HRAX, HRDI, HR10, 1, -0x1000);  // REX.WX 8D /r, mod 2: lea rax, [rdi+r10*2-0x1000]
  const std::vector<uint8_t> want = {0x49, 0x8d, 0x04, 0x18, 0x48, 0x8d, 0x44, 0xc8, 0x10, 0x4b, 0x8d,
                                     0x44, 0x8d, 0x00, 0x4a, 0x8d, 0x84, 0x57, 0x00, 0xf0, 0xff, 0xff};
  EXPECT_EQ(bytes(e), want);
}

TEST(JitEmitter, CodeLongerThanItsFirstBufferKeepsEveryByteAndLabel) {
  Emitter e;
  Label end;
  e.jmp(end);  // E9 rel32, bound 20,000 bytes later
  for (unsigned k = 0; k < 4000; ++k) e.mov_imm(HRCX, 0x11223344 + k);  // B9 id: 5 bytes each
  e.bind(end);
  Label back;
  e.bind(back);
  e.lahf_seto();
  e.jcc(Cond(0x5), back);  // 0F 85 rel32, backwards
  ASSERT_EQ(e.size(), 5u + 4000 * 5 + 4 + 6);
  const std::vector<uint8_t> code = bytes(e);
  int32_t rel;
  std::memcpy(&rel, &code[1], 4);
  EXPECT_EQ(rel, 4000 * 5);
  for (unsigned k = 0; k < 4000; ++k) {
    uint32_t imm;
    std::memcpy(&imm, &code[5 + 5 * k + 1], 4);
    ASSERT_EQ(code[5 + 5 * k], 0xb9) << k;
    ASSERT_EQ(imm, 0x11223344u + k) << k;
  }
  std::memcpy(&rel, &code[code.size() - 4], 4);
  EXPECT_EQ(rel, -10);  // to the LAHF, from the end of the JNE
}

}  // namespace
}  // namespace nestbed::sim::jit
