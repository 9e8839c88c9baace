// l1-vmm's MMIO instruction decoder (l1-vmm/devices/mmio_decode.h): the
// length, direction, width and register of every MOV form it accepts, in
// 64-, 32- and 16-bit code, the register results of loads and the values of
// stores, and a clear refusal (or a request for more bytes) for the rest;
// the lengths of every ModRM/SIB/prefix combination against Capstone.
#include <capstone/capstone.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "l1-vmm/devices/mmio_decode.h"

namespace {

using l1::devices::CodeSize;
using l1::devices::decode_mmio_instruction;
using l1::devices::DecodeResult;
using l1::devices::DecodeStatus;
using l1::devices::MmioInstruction;

DecodeResult decode(std::vector<uint8_t> bytes, CodeSize code = CodeSize::Bits64) {
  return decode_mmio_instruction(bytes.data(), unsigned(bytes.size()), code);
}

// The decoded instruction, failing the test unless it decoded.
MmioInstruction ok(std::vector<uint8_t> bytes, CodeSize code = CodeSize::Bits64) {
  DecodeResult r = decode(bytes, code);
  EXPECT_EQ(r.status, DecodeStatus::Ok) << (r.why ? r.why : "");
  return r.insn;
}

TEST(L1vmmMmioDecode, MovLoadAndStoreOf32Bits) {
  MmioInstruction i = ok({0x8b, 0x02});  // mov eax, [rdx]
  EXPECT_EQ(i.length, 2u);
  EXPECT_FALSE(i.write);
  EXPECT_EQ(i.size, 4u);
  EXPECT_EQ(i.reg, 0u);
  EXPECT_EQ(i.reg_size, 4u);
  i = ok({0x89, 0x0a});  // mov [rdx], ecx
  EXPECT_EQ(i.length, 2u);
  EXPECT_TRUE(i.write);
  EXPECT_FALSE(i.immediate);
  EXPECT_EQ(i.reg, 1u);
}

TEST(L1vmmMmioDecode, RexSelectsWidthAndHighRegisters) {
  MmioInstruction i = ok({0x48, 0x8b, 0x02});  // mov rax, [rdx]
  EXPECT_EQ(i.size, 8u);
  EXPECT_EQ(i.length, 3u);
  i = ok({0x44, 0x8b, 0x4c, 0x24, 0x08});  // mov r9d, [rsp + 8]: REX.R, SIB, disp8
  EXPECT_EQ(i.reg, 9u);
  EXPECT_EQ(i.size, 4u);
  EXPECT_EQ(i.length, 5u);
  i = ok({0x4c, 0x89, 0x3c, 0x24});  // mov [rsp], r15
  EXPECT_EQ(i.reg, 15u);
  EXPECT_EQ(i.size, 8u);
  EXPECT_TRUE(i.write);
}

TEST(L1vmmMmioDecode, AddressingFormsGiveTheLength) {
  EXPECT_EQ(ok({0x8b, 0x05, 0x10, 0x00, 0x00, 0x00}).length, 6u);               // [rip + disp32]
  EXPECT_EQ(ok({0x8b, 0x04, 0x25, 0x10, 0x00, 0xc0, 0xfe}).length, 7u);         // [disp32], SIB no base
  EXPECT_EQ(ok({0x8b, 0x44, 0x88, 0x10}).length, 4u);                           // [rax + rcx*4 + disp8]
  EXPECT_EQ(ok({0x8b, 0x84, 0x88, 0x10, 0x00, 0x00, 0x00}).length, 7u);         // ... + disp32
  EXPECT_EQ(ok({0x8b, 0x45, 0x00}).length, 3u);                                 // [rbp + 0]
  EXPECT_EQ(ok({0x8b, 0x80, 0x10, 0x00, 0x00, 0x00}).length, 6u);               // [rax + disp32]
  EXPECT_EQ(ok({0x64, 0x8b, 0x02}).length, 3u);                                 // fs: override
  EXPECT_EQ(ok({0x67, 0x8b, 0x02}).length, 3u);                                 // [edx]
}

TEST(L1vmmMmioDecode, ByteRegistersWithAndWithoutRex) {
  MmioInstruction i = ok({0x88, 0x20});  // mov [rax], ah
  EXPECT_TRUE(i.high_byte);
  EXPECT_EQ(i.reg, 4u);
  EXPECT_EQ(l1::devices::gpr_index(i), 0u);
  EXPECT_EQ(i.size, 1u);
  i = ok({0x40, 0x88, 0x20});  // mov [rax], spl
  EXPECT_FALSE(i.high_byte);
  EXPECT_EQ(l1::devices::gpr_index(i), 4u);
  i = ok({0x8a, 0x78, 0x01});  // mov bh, [rax + 1]
  EXPECT_TRUE(i.high_byte);
  EXPECT_EQ(l1::devices::gpr_index(i), 3u);
  EXPECT_FALSE(i.write);
}

TEST(L1vmmMmioDecode, OperandSizePrefixAndIgnoredRex) {
  MmioInstruction i = ok({0x66, 0x89, 0x10});  // mov [rax], dx
  EXPECT_EQ(i.size, 2u);
  // A REX before another prefix is ignored (SDM vol. 2, 2.2.1): 16 bits, not 64.
  i = ok({0x48, 0x66, 0x8b, 0x02});
  EXPECT_EQ(i.size, 2u);
  EXPECT_EQ(i.length, 4u);
}

TEST(L1vmmMmioDecode, ImmediateStores) {
  MmioInstruction i = ok({0xc7, 0x00, 0x78, 0x56, 0x34, 0x12});
  EXPECT_TRUE(i.write);
  EXPECT_TRUE(i.immediate);
  EXPECT_EQ(i.size, 4u);
  EXPECT_EQ(i.imm, 0x12345678u);
  EXPECT_EQ(i.length, 6u);
  i = ok({0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff});  // imm32 sign-extended to 64 bits
  EXPECT_EQ(i.size, 8u);
  EXPECT_EQ(i.imm, ~0ull);
  i = ok({0x66, 0xc7, 0x00, 0x34, 0x12});
  EXPECT_EQ(i.size, 2u);
  EXPECT_EQ(i.imm, 0x1234u);
  EXPECT_EQ(i.length, 5u);
  i = ok({0xc6, 0x80, 0x10, 0x00, 0x00, 0x00, 0xab});  // mov byte [rax + 0x10], 0xab
  EXPECT_EQ(i.size, 1u);
  EXPECT_EQ(i.imm, 0xabu);
  EXPECT_EQ(i.length, 7u);
  EXPECT_EQ(l1::devices::store_value(i, 0), 0xabu);
}

TEST(L1vmmMmioDecode, MoffsForms) {
  MmioInstruction i = ok({0xa1, 0x10, 0x00, 0xc0, 0xfe, 0, 0, 0, 0});  // mov eax, [moffs64]
  EXPECT_EQ(i.length, 9u);
  EXPECT_EQ(i.reg, 0u);
  EXPECT_FALSE(i.write);
  EXPECT_EQ(ok({0x67, 0xa3, 0x10, 0x00, 0xc0, 0xfe}).length, 6u);  // moffs32 with 67
  i = ok({0xa2, 0x10, 0x00, 0xc0, 0xfe}, CodeSize::Bits32);       // mov [moffs32], al
  EXPECT_EQ(i.length, 5u);
  EXPECT_EQ(i.size, 1u);
  EXPECT_TRUE(i.write);
}

TEST(L1vmmMmioDecode, ZeroAndSignExtendingLoads) {
  MmioInstruction i = ok({0x0f, 0xb6, 0x02});  // movzx eax, byte [rdx]
  EXPECT_EQ(i.size, 1u);
  EXPECT_EQ(i.reg_size, 4u);
  EXPECT_FALSE(i.sign_extend);
  EXPECT_EQ(i.length, 3u);
  i = ok({0x48, 0x0f, 0xbf, 0x02});  // movsx rax, word [rdx]
  EXPECT_EQ(i.size, 2u);
  EXPECT_EQ(i.reg_size, 8u);
  EXPECT_TRUE(i.sign_extend);
  i = ok({0x48, 0x63, 0x02});  // movsxd rax, dword [rdx]
  EXPECT_EQ(i.size, 4u);
  EXPECT_EQ(i.reg_size, 8u);
  EXPECT_TRUE(i.sign_extend);
}

TEST(L1vmmMmioDecode, ThirtyTwoAndSixteenBitCode) {
  MmioInstruction i = ok({0x8b, 0x04, 0x24}, CodeSize::Bits32);  // mov eax, [esp]
  EXPECT_EQ(i.length, 3u);
  EXPECT_EQ(i.size, 4u);
  EXPECT_EQ(ok({0x66, 0x8b, 0x02}, CodeSize::Bits32).size, 2u);
  // 40-4F are INC/DEC outside 64-bit mode, never REX.
  EXPECT_EQ(decode({0x48, 0x8b, 0x02}, CodeSize::Bits32).status, DecodeStatus::Unsupported);
  i = ok({0x8b, 0x07}, CodeSize::Bits16);  // mov ax, [bx]
  EXPECT_EQ(i.size, 2u);
  EXPECT_EQ(i.length, 2u);
  EXPECT_EQ(ok({0x8b, 0x06, 0x34, 0x12}, CodeSize::Bits16).length, 4u);        // mov ax, [0x1234]
  EXPECT_EQ(ok({0x8b, 0x47, 0x10}, CodeSize::Bits16).length, 3u);              // [bx + disp8]
  EXPECT_EQ(ok({0x8b, 0x87, 0x10, 0x20}, CodeSize::Bits16).length, 4u);        // [bx + disp16]
  EXPECT_EQ(ok({0x66, 0x8b, 0x07}, CodeSize::Bits16).size, 4u);
  // 67 in 16-bit code: 32-bit addressing, so r/m 101 is disp32.
  EXPECT_EQ(ok({0x67, 0x8b, 0x05, 0, 0, 0xc0, 0xfe}, CodeSize::Bits16).length, 7u);
  EXPECT_EQ(ok({0x67, 0x8b, 0x06, 0x34, 0x12}, CodeSize::Bits32).length, 5u);  // and 67 in 32-bit: disp16
}

TEST(L1vmmMmioDecode, FifteenBytesIsTheLimit) {
  // 3 prefixes + REX.W C7 /0 with SIB, disp32 and imm32: exactly 15 bytes.
  MmioInstruction i = ok({0x3e, 0x3e, 0x3e, 0x48, 0xc7, 0x84, 0x24, 0x44, 0x33, 0x22, 0x11, 0x78, 0x56, 0x34, 0x12});
  EXPECT_EQ(i.length, 15u);
  // One prefix more: 16 bytes, which the processor refuses.
  EXPECT_EQ(decode({0x3e, 0x3e, 0x3e, 0x3e, 0x48, 0xc7, 0x84, 0x24, 0x44, 0x33, 0x22, 0x11, 0x78, 0x56, 0x34, 0x12})
                .status,
            DecodeStatus::Unsupported);
  DecodeResult r = decode({0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x8b, 0x02});
  EXPECT_EQ(r.status, DecodeStatus::Unsupported);
  EXPECT_NE(std::string(r.why).find("15 bytes"), std::string::npos);
}

TEST(L1vmmMmioDecode, TruncatedInputAsksForMore) {
  EXPECT_EQ(decode({}).status, DecodeStatus::Truncated);
  EXPECT_EQ(decode({0x8b}).status, DecodeStatus::Truncated);
  EXPECT_EQ(decode({0x8b, 0x04}).status, DecodeStatus::Truncated);  // the SIB byte
  EXPECT_EQ(decode({0x8b, 0x05, 0x10, 0x00}).status, DecodeStatus::Truncated);
  EXPECT_EQ(decode({0xc7, 0x00, 0x78, 0x56}).status, DecodeStatus::Truncated);
  EXPECT_EQ(decode({0x0f}).status, DecodeStatus::Truncated);
  EXPECT_EQ(decode({0x66, 0x48}).status, DecodeStatus::Truncated);
}

TEST(L1vmmMmioDecode, OtherInstructionsAreRefusedWithAReason) {
  const std::vector<std::vector<uint8_t>> refused = {
      {0xf0, 0x89, 0x02},  // LOCK
      {0xf3, 0xa5},        // REP MOVSD
      {0x8b, 0xc0},        // mov eax, eax: no memory operand
      {0xc7, 0xc8, 0, 0, 0, 0},  // C7 /1 with a register
      {0xc7, 0x08, 0, 0, 0, 0},  // C7 /1: not MOV
      {0xc6, 0xf8, 0x00},  // XABORT
      {0x01, 0x02},        // add [rdx], eax
      {0x87, 0x02},        // xchg [rdx], eax
      {0x0f, 0x05},        // syscall
      {0x63, 0x02},        // movsxd without REX.W
      {0xa5},              // movsd
  };
  for (const auto& bytes : refused) {
    DecodeResult r = decode(bytes);
    EXPECT_EQ(r.status, DecodeStatus::Unsupported) << "first byte 0x" << std::hex << int(bytes[0]);
    EXPECT_NE(r.why, nullptr);
  }
  EXPECT_EQ(decode({0x63, 0x02}, CodeSize::Bits32).status, DecodeStatus::Unsupported);  // ARPL
}

TEST(L1vmmMmioDecode, LoadResultsFollowTheDestinationWidth) {
  using l1::devices::load_result;
  const uint64_t old = 0x1122334455667788ull;
  EXPECT_EQ(load_result(ok({0x8b, 0x02}), old, 0xdeadbeefcafef00dull), 0xcafef00dull);  // 32 bits clear 63:32
  EXPECT_EQ(load_result(ok({0x48, 0x8b, 0x02}), old, 0xdeadbeefcafef00dull), 0xdeadbeefcafef00dull);
  EXPECT_EQ(load_result(ok({0x8a, 0x02}), old, 0xab), 0x11223344556677abull);    // AL
  EXPECT_EQ(load_result(ok({0x8a, 0x22}), old, 0xab), 0x112233445566ab88ull);    // AH
  EXPECT_EQ(load_result(ok({0x66, 0x8b, 0x02}), old, 0xabcd), 0x112233445566abcdull);
  EXPECT_EQ(load_result(ok({0x0f, 0xbe, 0x02}), old, 0x80), 0xffffff80ull);       // movsx eax, byte
  EXPECT_EQ(load_result(ok({0x48, 0x0f, 0xbe, 0x02}), old, 0x80), ~0ull - 0x7f);  // movsx rax, byte
  EXPECT_EQ(load_result(ok({0x66, 0x0f, 0xb6, 0x02}), old, 0x80), 0x1122334455660080ull);  // movzx ax, byte
  EXPECT_EQ(load_result(ok({0x48, 0x63, 0x02}), old, 0x80000000), 0xffffffff80000000ull);
}

TEST(L1vmmMmioDecode, StoreValuesAreTheSourceBytes) {
  using l1::devices::store_value;
  const uint64_t reg = 0x1122334455667788ull;
  EXPECT_EQ(store_value(ok({0x89, 0x02}), reg), 0x55667788ull);
  EXPECT_EQ(store_value(ok({0x48, 0x89, 0x02}), reg), reg);
  EXPECT_EQ(store_value(ok({0x88, 0x02}), reg), 0x88ull);
  EXPECT_EQ(store_value(ok({0x88, 0x22}), reg), 0x77ull);  // AH
  EXPECT_EQ(store_value(ok({0x66, 0x89, 0x02}), reg), 0x7788ull);
}

}  // namespace

// ---- against Capstone ------------------------------------------------------------
// Every accepted opcode with every memory ModRM, a spread of SIB bytes and
// prefix sets, in each code size: the decoded length must be the one
// Capstone (an independent decoder, the one exit-tracer uses) finds.

namespace {

struct Capstone {
  csh handle = 0;
  explicit Capstone(cs_mode mode) { EXPECT_EQ(cs_open(CS_ARCH_X86, mode, &handle), CS_ERR_OK); }
  ~Capstone() { cs_close(&handle); }
  size_t length(const std::vector<uint8_t>& bytes) const {
    cs_insn* insn = nullptr;
    size_t n = 0;
    if (cs_disasm(handle, bytes.data(), bytes.size(), 0x1000, 1, &insn) == 1) n = insn->size;
    if (insn) cs_free(insn, 1);
    return n;
  }
};

TEST(L1vmmMmioDecode, LengthsAgreeWithCapstone) {
  struct Mode {
    CodeSize code;
    cs_mode cs;
    std::vector<std::vector<uint8_t>> prefixes;
  };
  const std::vector<Mode> modes = {
      {CodeSize::Bits64, CS_MODE_64, {{}, {0x66}, {0x67}, {0x3e}, {0x65}, {0x48}, {0x44}, {0x41}, {0x4f}, {0x66, 0x41}, {0x67, 0x48}}},
      {CodeSize::Bits32, CS_MODE_32, {{}, {0x66}, {0x67}, {0x26}, {0x66, 0x67}}},
      {CodeSize::Bits16, CS_MODE_16, {{}, {0x66}, {0x67}, {0x2e}, {0x66, 0x67}}},
  };
  const std::vector<std::vector<uint8_t>> opcodes = {{0x88}, {0x89}, {0x8a}, {0x8b}, {0xc6}, {0xc7},
                                                     {0x0f, 0xb6}, {0x0f, 0xb7}, {0x0f, 0xbe}, {0x0f, 0xbf}};
  const uint8_t sibs[] = {0x00, 0x24, 0x25, 0x65, 0xa5, 0xe4, 0x1d};
  unsigned compared = 0;
  for (const Mode& m : modes) {
    Capstone cs(m.cs);
    for (const auto& prefix : m.prefixes) {
      for (const auto& opcode : opcodes) {
        for (unsigned modrm = 0; modrm < 0xc0; modrm++) {
          if ((opcode[0] == 0xc6 || opcode[0] == 0xc7) && ((modrm >> 3) & 7) != 0) continue;
          for (uint8_t sib : sibs) {
            std::vector<uint8_t> bytes = prefix;
            bytes.insert(bytes.end(), opcode.begin(), opcode.end());
            bytes.push_back(uint8_t(modrm));
            bytes.push_back(sib);
            for (int k = 0; k < 10; k++) bytes.push_back(uint8_t(0x11 * (k + 1)));
            DecodeResult r = decode(bytes, m.code);
            ASSERT_EQ(r.status, DecodeStatus::Ok) << r.why;
            ASSERT_EQ(r.insn.length, cs.length(bytes))
                << "mode " << int(m.code) << ", bytes " << std::hex << int(bytes[0]) << " " << int(bytes[1]) << " "
                << int(bytes[2]) << " " << int(bytes[3]);
            compared++;
          }
        }
      }
      // MOV to and from moffs.
      for (uint8_t op = 0xa0; op <= 0xa3; op++) {
        std::vector<uint8_t> bytes = prefix;
        bytes.push_back(op);
        for (int k = 0; k < 10; k++) bytes.push_back(uint8_t(0x10 + k));
        DecodeResult r = decode(bytes, m.code);
        ASSERT_EQ(r.status, DecodeStatus::Ok) << r.why;
        ASSERT_EQ(r.insn.length, cs.length(bytes)) << "mode " << int(m.code) << ", moffs opcode " << std::hex << int(op);
        compared++;
      }
    }
  }
  EXPECT_GT(compared, 100000u);
}

}  // namespace
