// A small x86-64 machine-code emitter for the block translator
// (translator.cpp): only the instruction forms it needs, each written out
// from the SDM's opcode tables (vol. 2, chapter 2 for REX/ModRM/SIB).
// Memory operands are [base + disp8] or [base + disp32] (ModRM mod = 01
// or 10, with a SIB byte when the base is RSP or R12).
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace nestbed::sim::jit {

// Host registers by encoding number.
enum HostReg : uint8_t {
  HRAX, HRCX, HRDX, HRBX, HRSP, HRBP, HRSI, HRDI, HR8, HR9, HR10, HR11, HR12, HR13, HR14, HR15
};

// The group-1 ALU operations by their ModRM reg field (/digit) and their
// "r/m, reg" opcode's base (SDM vol. 2, table A-6: ADD 00, OR 08, ... CMP 38).
enum class AluOp : uint8_t { Add = 0, Or = 1, Adc = 2, Sbb = 3, And = 4, Sub = 5, Xor = 6, Cmp = 7 };

// Condition codes in encoding order (Jcc = 0F 80+cc).
using Cond = uint8_t;

struct Label {
  int32_t pos = -1;                 // code offset once bound
  std::vector<uint32_t> fixups;     // offsets of rel32 fields that jump here
};

class Emitter {
 public:
  // The code so far: size() bytes from data().
  const uint8_t* data() const { return code_.data(); }
  size_t size() const { return size_; }

  // ---- labels (rel32 jumps within one translation)
  void bind(Label& l) {
    l.pos = int32_t(size_);
    for (uint32_t f : l.fixups) patch_rel32(f, l.pos);
    l.fixups.clear();
  }
  void jmp(Label& l) {
    byte(0xe9);
    rel32_to(l);
  }
  void jcc(Cond cc, Label& l) {
    byte(0x0f);
    byte(uint8_t(0x80 | cc));
    rel32_to(l);
  }

  // ---- moves
  // mov r64, [base + disp]
  void load64(HostReg r, HostReg base, int32_t disp) { mem_op(true, 0x8b, r, base, disp); }
  // mov [base + disp], r64
  void store64(HostReg base, int32_t disp, HostReg r) { mem_op(true, 0x89, r, base, disp); }
  // Loads of `size` bytes from [base + disp], zero-extended into r (32-bit
  // loads zero-extend architecturally).
  void load_zx(unsigned size, HostReg r, HostReg base, int32_t disp) {
    if (size == 8) return load64(r, base, disp);
    if (size == 4) return mem_op(false, 0x8b, r, base, disp);
    mem_op(false, size == 1 ? 0xb6 : 0xb7, r, base, disp, /*two_byte=*/true);  // movzx r32, r/m8|16
  }
  // Stores of the low `size` bytes of r to [base + disp].
  void store_sized(unsigned size, HostReg base, int32_t disp, HostReg r) {
    if (size == 8) return store64(base, disp, r);
    if (size == 2) byte(0x66);
    mem_op(false, size == 1 ? 0x88 : 0x89, r, base, disp, false, /*byte_regs=*/size == 1);
  }
  // The same two at [base + index] (a TLB entry's addend plus the linear
  // address; index is not RSP).
  void load_zx(unsigned size, HostReg r, HostReg base, HostReg index) {
    if (size == 1 || size == 2) return indexed_op(false, size == 1 ? 0xb6 : 0xb7, r, base, index, true);
    indexed_op(size == 8, 0x8b, r, base, index);
  }
  void store_sized(unsigned size, HostReg base, HostReg index, HostReg r) {
    if (size == 2) byte(0x66);
    indexed_op(size == 8, size == 1 ? 0x88 : 0x89, r, base, index, false, /*byte_regs=*/size == 1);
  }
  // mov [base + index], imm (C6 /0 ib, C7 /0 iw/id; 8 bytes: the imm32 sign-extended)
  void store_imm_sized(unsigned size, HostReg base, HostReg index, uint64_t v) {
    if (size == 2) byte(0x66);
    indexed_op(size == 8, size == 1 ? 0xc6 : 0xc7, HRAX, base, index);
    if (size == 1) byte(uint8_t(v));
    else if (size == 2) imm16(uint16_t(v));
    else imm32(uint32_t(v));
  }
  // mov r64, imm64 (the short forms when the value allows).
  void mov_imm(HostReg r, uint64_t v) {
    if (v <= 0xffffffffull) {  // mov r32, imm32 zero-extends
      rex(false, 0, 0, r, false);
      byte(uint8_t(0xb8 | (r & 7)));
      imm32(uint32_t(v));
    } else if (int64_t(v) == int64_t(int32_t(v))) {  // mov r/m64, imm32 sign-extends
      rex(true, 0, 0, r, true);
      byte(0xc7);
      modrm(3, 0, r);
      imm32(uint32_t(v));
    } else {
      rex(true, 0, 0, r, true);
      byte(uint8_t(0xb8 | (r & 7)));
      imm64(v);
    }
  }
  // mov dst, src (64-bit; mov32_rr: 32-bit, zero-extending)
  void mov_rr(HostReg dst, HostReg src) { rr_op(true, 0x89, src, dst); }
  void mov32_rr(HostReg dst, HostReg src) { rr_op(false, 0x89, src, dst); }
  // not r32 (F7 /2)
  void not32(HostReg r) {
    rex(false, 0, 0, r, false);
    byte(0xf7);
    modrm(3, 2, r);
  }
  // movzx dst32, src16 (0F B7 /r; no flag changes)
  void movzx16_rr(HostReg dst, HostReg src) {
    rex(false, dst, 0, src, false);
    byte(0x0f);
    byte(0xb7);
    modrm(3, dst, src);
  }
  // mov dst16, src16 (the upper bits of dst kept; no flag changes)
  void mov16_rr(HostReg dst, HostReg src) {
    byte(0x66);
    rr_op(false, 0x89, src, dst);
  }
  // r = r's low src_size bytes zero- or sign-extended to dst_size (4 or
  // 8; a 32-bit result zero-extends to 64 bits): MOVZX, MOVSX, MOVSXD.
  void extend(bool sign, unsigned dst_size, unsigned src_size, HostReg r) {
    if (src_size >= dst_size) return mov32_rr(r, r);  // dst 4: keep the low 32 bits
    if (!sign && src_size == 4) return mov32_rr(r, r);
    const bool w = sign && dst_size == 8;
    rex(w, r, 0, r, src_size == 1);
    if (src_size == 4) {
      byte(0x63);  // movsxd r64, r/m32
    } else {
      byte(0x0f);
      byte(uint8_t((sign ? 0xbe : 0xb6) + (src_size == 2 ? 1 : 0)));
    }
    modrm(3, r, r);
  }
  // lea r64, [base + disp]
  void lea(HostReg r, HostReg base, int32_t disp) { mem_op(true, 0x8d, r, base, disp); }
  // lea r, [base + index * 2^scale + disp] (index is not RSP)
  void lea(HostReg r, HostReg base, HostReg index, unsigned scale, int32_t disp) {
    rex(true, r, index, base, false);
    byte(0x8d);
    const bool short_disp = disp >= -128 && disp <= 127;
    const uint8_t mod = disp == 0 && (base & 7) != 5 ? 0 : short_disp ? 1 : 2;  // (mod 0, base 5: no base)
    modrm(mod, r, 4);
    byte(uint8_t((scale << 6) | ((index & 7) << 3) | (base & 7)));
    if (mod == 1) byte(uint8_t(int8_t(disp)));
    if (mod == 2) imm32(uint32_t(disp));
  }

  // ---- arithmetic on host registers, `size` bytes wide (1, 2, 4, 8)
  // op dst, src
  void alu_rr(AluOp op, unsigned size, HostReg dst, HostReg src) {
    sized_rr(size, uint8_t(uint8_t(op) << 3), src, dst);
  }
  // op dst, imm (sign-extended imm32 for 8-byte operations)
  void alu_ri(AluOp op, unsigned size, HostReg dst, uint64_t imm) {
    if (size == 2) byte(0x66);
    rex(size == 8, 0, 0, dst, size == 8 || size == 1);
    byte(size == 1 ? 0x80 : 0x81);
    modrm(3, uint8_t(op), dst);
    if (size == 1) byte(uint8_t(imm));
    else if (size == 2) imm16(uint16_t(imm));
    else imm32(uint32_t(imm));
  }
  // test dst, src
  void test_rr(unsigned size, HostReg dst, HostReg src) { sized_rr(size, 0x84, src, dst); }
  void test_ri(unsigned size, HostReg dst, uint64_t imm) {
    if (size == 2) byte(0x66);
    rex(size == 8, 0, 0, dst, size == 8 || size == 1);
    byte(size == 1 ? 0xf6 : 0xf7);
    modrm(3, 0, dst);
    if (size == 1) byte(uint8_t(imm));
    else if (size == 2) imm16(uint16_t(imm));
    else imm32(uint32_t(imm));
  }
  // imul dst, src (0F AF /r) and imul dst, src, imm32 (69 /r id); 4 or 8 bytes
  void imul_rr(unsigned size, HostReg dst, HostReg src) {
    rex(size == 8, dst, 0, src, false);
    byte(0x0f);
    byte(0xaf);
    modrm(3, dst, src);
  }
  void imul_rri(unsigned size, HostReg dst, HostReg src, uint32_t imm) {
    rex(size == 8, dst, 0, src, false);
    byte(0x69);
    modrm(3, dst, src);
    imm32(imm);
  }
  // inc/dec dst (FE/FF /0, /1)
  void incdec(bool dec, unsigned size, HostReg dst) {
    if (size == 2) byte(0x66);
    rex(size == 8, 0, 0, dst, size == 8 || size == 1);
    byte(size == 1 ? 0xfe : 0xff);
    modrm(3, dec ? 1 : 0, dst);
  }
  // add r64, [base + disp]
  void add_mem64(HostReg r, HostReg base, int32_t disp) { mem_op(true, 0x03, r, base, disp); }
  // shl r64, imm8
  void shl_ri(HostReg r, uint8_t n) { shift_sized(4, 8, r, n); }
  void shr_ri(HostReg r, uint8_t n) { shift_sized(5, 8, r, n); }
  // and r32, imm32 / and r64, sign-extended imm32
  void and32_ri(HostReg r, uint32_t imm) { alu_ri(AluOp::And, 4, r, imm); }
  void and64_ri(HostReg r, int32_t imm) { alu_ri(AluOp::And, 8, r, uint64_t(int64_t(imm))); }
  // cmp r64, [base + disp]
  void cmp_mem64(HostReg r, HostReg base, int32_t disp) { mem_op(true, 0x3b, r, base, disp); }
  // cmp byte [base + disp], imm8
  void cmp_mem8_imm(HostReg base, int32_t disp, uint8_t imm) {
    mem_op(false, 0x80, HostReg(7), base, disp);
    byte(imm);
  }
  // mov qword [base + disp], sign-extended imm32
  void store64_imm32(HostReg base, int32_t disp, uint32_t imm) {
    mem_op(true, 0xc7, HostReg(0), base, disp);
    imm32(imm);
  }
  // cmp qword [base + disp], sign-extended imm32
  void cmp_mem_imm32(HostReg base, int32_t disp, uint32_t imm) {
    mem_op(true, 0x81, HostReg(7), base, disp);
    imm32(imm);
  }
  // jmp qword [base + disp] (FF /4)
  void jmp_mem(HostReg base, int32_t disp) { mem_op(false, 0xff, HostReg(4), base, disp); }
  // bt dword [base + disp], imm8 (CF = the bit)
  void bt_mem_imm(HostReg base, int32_t disp, uint8_t bit) {
    mem_op(false, 0xba, HostReg(4), base, disp, /*two_byte=*/true);
    byte(bit);
  }
  // lahf; seto al
  void lahf_seto() { raw("\x9f\x0f\x90\xc0", 4); }
  // r = RFLAGS status bits from AX as lahf_seto left it, masked: (AH &
  // 0xd5) | (AL << 11). Clobbers EAX.
  void status_from_ax(HostReg r, uint32_t mask) {
    // movzx r32, ah (0F B6 /r, r/m = 4 = AH without REX; r < 8 here)
    byte(0x0f); byte(0xb6); modrm(3, r, 4);
    alu_ri(AluOp::And, 4, r, mask & 0xff);
    if (mask & 0x800) {
      byte(0x0f); byte(0xb6); modrm(3, HRAX, HRAX);  // movzx eax, al
      shift_sized(4, 4, HRAX, 11);  // shl eax, 11
      alu_rr(AluOp::Or, 4, r, HRAX);
    }
  }
  // [base + disp] = ([base + disp] & ~written) | bits, through temp: the
  // guest's RFLAGS given the status flags in `bits` (translator.cpp and the
  // code buffer's materialize stub).
  void merge_into(HostReg base, int32_t disp, uint32_t written, HostReg bits, HostReg temp) {
    load64(temp, base, disp);
    and64_ri(temp, int32_t(~written));
    alu_rr(AluOp::Or, 8, temp, bits);
    store64(base, disp, temp);
  }
  // shl/shr/sar r, imm8 at 4 or 8 bytes (C1 /4, /5, /7)
  void shift_sized(uint8_t ext, unsigned size, HostReg r, uint8_t n) {
    rex(size == 8, 0, 0, r, false);
    byte(0xc1);
    modrm(3, ext, r);
    byte(n);
  }
  void pop(HostReg r) {
    rex(false, 0, 0, r, false);
    byte(uint8_t(0x58 | (r & 7)));
  }
  // call r64 (FF /2)
  void call_r(HostReg r) {
    rex(false, 0, 0, r, false);
    byte(0xff);
    modrm(3, 2, r);
  }
  // jmp r64 (FF /4)
  void jmp_r(HostReg r) {
    rex(false, 0, 0, r, false);
    byte(0xff);
    modrm(3, 4, r);
  }
  // Absolute jump or call through rax to a host address.
  void call_abs(const void* target) {
    mov_imm(HRAX, uint64_t(reinterpret_cast<uintptr_t>(target)));
    call_r(HRAX);
  }
  void ret() { byte(0xc3); }
  // call/jmp rel32 to an absolute host address, patched by relocate() once
  // the code's address is known (the caller checks it is within reach).
  void call_rel(const void* target) {
    byte(0xe8);
    relocs_.push_back({uint32_t(size_), reinterpret_cast<uintptr_t>(target)});
    imm32(0);
  }
  void jmp_rel(const void* target) {
    byte(0xe9);
    relocs_.push_back({uint32_t(size_), reinterpret_cast<uintptr_t>(target)});
    imm32(0);
  }
  // lea r64, [rip + rel32] to an absolute address (patched like call_rel).
  void lea_rip(HostReg r, const void* target) {
    rex(true, r, 0, 0, true);
    byte(0x8d);
    modrm(0, r, 5);
    relocs_.push_back({uint32_t(size_), reinterpret_cast<uintptr_t>(target)});
    imm32(0);
  }
  // Writes the code to `at` with its rel32 fields to absolute targets.
  void copy_to(uint8_t* at) const {
    std::memcpy(at, code_.data(), size_);
    for (const Reloc& r : relocs_) {
      const int64_t rel = int64_t(r.target) - int64_t(reinterpret_cast<uintptr_t>(at) + r.at + 4);
      const int32_t rel32 = int32_t(rel);
      std::memcpy(at + r.at, &rel32, 4);
    }
  }
  void push(HostReg r) {
    rex(false, 0, 0, r, false);
    byte(uint8_t(0x50 | (r & 7)));
  }
  // add rsp, imm8 / sub rsp, imm8
  void adjust_rsp(int8_t delta) {
    byte(0x48);
    byte(0x83);
    modrm(3, delta < 0 ? 5 : 0, HRSP);
    byte(uint8_t(delta < 0 ? -delta : delta));
  }

 private:
  // Room ahead of the code (size_ bytes used), so that writing a byte is a
  // compare and a store (translation is a tenth of a short nested run).
  std::vector<uint8_t> code_ = std::vector<uint8_t>(4096);
  size_t size_ = 0;
  struct Reloc {
    uint32_t at;
    uintptr_t target;
  };
  std::vector<Reloc> relocs_;

  void byte(uint8_t b) {
    if (size_ == code_.size()) code_.resize(2 * code_.size());
    code_[size_++] = b;
  }
  void imm16(uint16_t v) { raw(&v, 2); }
  void imm32(uint32_t v) { raw(&v, 4); }
  void imm64(uint64_t v) { raw(&v, 8); }
  void raw(const void* p, size_t n) {
    if (size_ + n > code_.size()) code_.resize(2 * (size_ + n));
    std::memcpy(&code_[size_], p, n);
    size_ += n;
  }
  void modrm(uint8_t mod, uint8_t reg, uint8_t rm) { byte(uint8_t((mod << 6) | ((reg & 7) << 3) | (rm & 7))); }
  // REX when needed: W, or an extended register, or (force) byte registers
  // SPL..DIL / a plain REX for uniformity.
  void rex(bool w, uint8_t reg, uint8_t index, uint8_t base, bool force) {
    const uint8_t r = uint8_t(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index & 8) ? 2 : 0) | ((base & 8) ? 1 : 0));
    if (r != 0x40 || force) byte(r);
  }
  // opcode reg, [base + index]: SIB with scale 1; RBP/R13 as the base
  // take a zero disp8 (mod 0 with base 5 means no base).
  void indexed_op(bool w, uint8_t opcode, HostReg reg, HostReg base, HostReg index, bool two_byte = false,
                  bool byte_regs = false) {
    rex(w, reg, index, base, byte_regs && reg >= 4);
    if (two_byte) byte(0x0f);
    byte(opcode);
    const bool disp8 = (base & 7) == 5;
    modrm(disp8 ? 1 : 0, reg, 4);
    byte(uint8_t(((index & 7) << 3) | (base & 7)));
    if (disp8) byte(0);
  }
  // opcode reg, [base + disp8/disp32]
  void mem_op(bool w, uint8_t opcode, HostReg reg, HostReg base, int32_t disp, bool two_byte = false,
              bool byte_regs = false) {
    rex(w, reg, 0, base, byte_regs && reg >= 4);
    if (two_byte) byte(0x0f);
    byte(opcode);
    const bool short_disp = disp >= -128 && disp <= 127;
    modrm(short_disp ? 1 : 2, reg, base);
    if ((base & 7) == 4) byte(0x24);  // SIB: no index, base = RSP/R12
    if (short_disp)
      byte(uint8_t(int8_t(disp)));
    else
      imm32(uint32_t(disp));
  }
  // opcode rm, reg (register direct)
  void rr_op(bool w, uint8_t opcode, HostReg reg, HostReg rm) {
    rex(w, reg, 0, rm, false);
    byte(opcode);
    modrm(3, reg, rm);
  }
  // The "r/m, reg" form of an ALU/TEST opcode at `size`: base + 0 for byte
  // operands, base + 1 otherwise.
  void sized_rr(unsigned size, uint8_t base_opcode, HostReg reg, HostReg rm) {
    if (size == 2) byte(0x66);
    rex(size == 8, reg, 0, rm, size == 1);  // REX for byte ops: SPL..DIL, never AH..BH
    byte(uint8_t(base_opcode + (size == 1 ? 0 : 1)));
    modrm(3, reg, rm);
  }
  void rel32_to(Label& l) {
    const uint32_t at = uint32_t(size_);
    imm32(0);
    if (l.pos >= 0)
      patch_rel32(at, l.pos);
    else
      l.fixups.push_back(at);
  }
  void patch_rel32(uint32_t at, int32_t target) {
    const int32_t rel = target - int32_t(at + 4);
    std::memcpy(&code_[at], &rel, 4);
  }
};

}  // namespace nestbed::sim::jit
