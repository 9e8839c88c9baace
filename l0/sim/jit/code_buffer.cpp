#include "l0/sim/jit/code_buffer.h"

#include "arch/x86/rflags.h"

#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <new>

#include "l0/sim/jit/x86_emitter.h"

// libgcc's unwinder (the one g++ programs use): registers a .eh_frame-style
// list of CIEs and FDEs, ended by a zero length.
extern "C" void __register_frame(void*);
extern "C" void __deregister_frame(void*);

namespace nestbed::sim::jit {

namespace {

// The callee-saved registers the entry stub pushes, in push order, with
// their DWARF numbers (System V x86-64 psABI, figure 3.36).
struct Saved {
  HostReg reg;
  uint8_t dwarf;
};
constexpr Saved kSaved[] = {{HRBX, 3}, {HRBP, 6}, {HR12, 12}, {HR13, 13}, {HR14, 14}, {HR15, 15}};
constexpr unsigned kSavedCount = sizeof kSaved / sizeof kSaved[0];
// Return address + pushes + 8 bytes of alignment: RSP + kFrame is the CFA.
constexpr unsigned kFrame = 8 + 8 * kSavedCount + 8;

void put32(std::vector<uint8_t>& v, uint32_t x) {
  const auto* b = reinterpret_cast<const uint8_t*>(&x);
  v.insert(v.end(), b, b + 4);
}
void put64(std::vector<uint8_t>& v, uint64_t x) {
  const auto* b = reinterpret_cast<const uint8_t*>(&x);
  v.insert(v.end(), b, b + 8);
}
// Pads a record that started at `start` (its length field) to 8 bytes with
// DW_CFA_nop and writes its length.
void finish_record(std::vector<uint8_t>& v, size_t start) {
  while ((v.size() - start) % 8) v.push_back(0);  // DW_CFA_nop
  const uint32_t len = uint32_t(v.size() - start - 4);
  std::memcpy(&v[start], &len, 4);
}

// DWARF call-frame information (DWARF 4, 6.4; the .eh_frame form of the
// LSB, "Exception Frames"): one CIE, one FDE for [base, base + size).
std::vector<uint8_t> build_eh_frame(const uint8_t* base, size_t size) {
  std::vector<uint8_t> v;
  const size_t cie = v.size();
  put32(v, 0);  // length, patched
  put32(v, 0);  // CIE id
  v.push_back(1);  // version
  v.insert(v.end(), {'z', 'R', 0});
  v.push_back(1);     // code alignment factor
  v.push_back(0x78);  // data alignment factor: -8 (SLEB128)
  v.push_back(16);    // return address register: RIP
  v.push_back(1);     // augmentation data length
  v.push_back(0x00);  // FDE pointers: DW_EH_PE_absptr
  v.insert(v.end(), {0x0c, 7, 8});  // DW_CFA_def_cfa: RSP + 8
  v.insert(v.end(), {0x90, 1});     // DW_CFA_offset: RIP at CFA - 8
  finish_record(v, cie);

  const size_t fde = v.size();
  put32(v, 0);                             // length, patched
  put32(v, uint32_t(v.size() - cie));      // CIE pointer: back to the CIE
  put64(v, reinterpret_cast<uintptr_t>(base));
  put64(v, size);
  v.push_back(0);  // augmentation data length
  v.insert(v.end(), {0x0e, uint8_t(kFrame)});  // DW_CFA_def_cfa_offset (kFrame < 128)
  for (unsigned k = 0; k < kSavedCount; ++k)  // DW_CFA_offset: reg at CFA - 8 * (2 + k)
    v.insert(v.end(), {uint8_t(0x80 | kSaved[k].dwarf), uint8_t(2 + k)});
  finish_record(v, fde);
  put32(v, 0);  // end of the list
  return v;
}

// Near the program's own code if it can (translations then call handlers
// with rel32 calls), else anywhere.
void* map_code(size_t bytes) {
  const int prot = PROT_READ | PROT_WRITE | PROT_EXEC, flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  const uintptr_t text = reinterpret_cast<uintptr_t>(&map_code) & ~uintptr_t(0xfffff);
  for (uintptr_t delta : {uintptr_t(256) << 20, uintptr_t(768) << 20}) {
    for (uintptr_t hint : {text + delta, text > delta + bytes ? text - delta - bytes : 0}) {
      if (!hint) continue;
      void* p = mmap(reinterpret_cast<void*>(hint), bytes, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
      if (p != MAP_FAILED) return p;
    }
  }
  return mmap(nullptr, bytes, prot, flags, -1, 0);
}

// Epochs are unique in the process, so that a block translated into a
// buffer since destroyed never matches a newer buffer's epoch.
std::atomic<uint64_t> next_epoch{1};

}  // namespace

CodeBuffer::CodeBuffer(int32_t hot_bias, int32_t rflags_disp, size_t bytes)
    : size_(bytes), epoch_(next_epoch++), hot_bias_(hot_bias) {
  void* p = map_code(bytes);
  if (p == MAP_FAILED) throw std::bad_alloc();
  base_ = static_cast<uint8_t*>(p);

  Emitter e;
  for (const Saved& s : kSaved) e.push(s.reg);
  e.adjust_rsp(-8);
  e.mov_rr(HRBX, HRDI);
  e.lea(HR15, HRDI, hot_bias);
  e.mov_rr(HR13, HRSI);
  e.jmp_r(HRDX);
  const size_t exit_at = e.size();
  e.adjust_rsp(8);
  for (unsigned k = kSavedCount; k-- > 0;) e.pop(kSaved[k].reg);
  e.ret();
  // RFLAGS = (RFLAGS & ~STATUS) | ((AH & 0xd5 | AL << 11) & defined), R11
  // holding AX and the undefined flags (kPendingUndefinedShift): defined =
  // STATUS & ~undefined; nothing if R11 = 0.
  const size_t materialize_at = e.size();
  Label none;
  e.test_rr(8, HR11, HR11);
  e.jcc(0x4, none);  // jz
  e.mov32_rr(HRAX, HR11);
  e.status_from_ax(HRCX, uint32_t(arch::rflags::STATUS));
  e.mov_rr(HRDX, HR11);
  e.shr_ri(HRDX, kPendingUndefinedShift);
  e.not32(HRDX);
  e.alu_rr(AluOp::And, 4, HRCX, HRDX);
  e.merge_into(HR13, rflags_disp, uint32_t(arch::rflags::STATUS), HRCX, HRDX);
  e.bind(none);
  e.ret();
  std::memcpy(base_, e.data(), e.size());
  entry_ = reinterpret_cast<Entry>(base_);
  exit_ = base_ + exit_at;
  materialize_ = base_ + materialize_at;
  stubs_end_ = used_ = (e.size() + 63) & ~size_t(63);

  eh_frame_ = build_eh_frame(base_, size_);
  __register_frame(eh_frame_.data());
}

CodeBuffer::~CodeBuffer() {
  __deregister_frame(eh_frame_.data());
  munmap(base_, size_);
}

// Each translation starts on a 64-byte line, so its code meets the host's
// fetch and branch-prediction boundaries the same way wherever it lands:
// a loop then runs as fast whatever was translated before it. (With 16-byte
// starts, sieve's inner loop ran 13 % slower at depth 1, after l1-vmm's
// translations, than at depth 0, with the same code and instruction count.)
uint8_t* CodeBuffer::allocate(size_t n) {
  n = (n + kAlign - 1) & ~(kAlign - 1);
  used_ = (used_ + kAlign - 1) & ~(kAlign - 1);
  if (used_ > size_ || size_ - used_ < n) return nullptr;
  uint8_t* p = base_ + used_;
  used_ += n;
  return p;
}

void CodeBuffer::reset() {
  used_ = stubs_end_;
  epoch_ = next_epoch++;
}

}  // namespace nestbed::sim::jit
