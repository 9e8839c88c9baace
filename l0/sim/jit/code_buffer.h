// Executable memory for translated blocks (translator.cpp), with the entry
// and exit stubs every translation runs between, and the unwind
// information that lets a C++ exception (GuestFault, VmExitRequest) thrown
// by a handler the translation calls pass through translated code to
// Cpu::run's catch, as it passes through Cpu::execute_block.
//
// Every translation runs in one frame shape, set up by the entry stub:
// six callee-saved registers pushed and RSP 16-byte aligned, unchanged
// until the exit stub. One FDE with that one rule covers the whole buffer
// (only calls can throw, and every call is made from that shape).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nestbed::sim::jit {

// Pending status flags in R11 (translator.cpp, "pending flags"): lahf/seto's
// AX in bits 0-15, the mask of the status flags the instruction leaves
// undefined (stored as 0) from this bit up; 0: none (lahf's AX is never 0:
// it sets bit 1 of AH).
inline constexpr unsigned kPendingUndefinedShift = 16;

class CodeBuffer {
 public:
  // hot_bias: where R15 points in the Cpu (its hottest fields within a
  // one-byte displacement); rflags_disp: where the guest's RFLAGS is from
  // R13 (materialize_stub).
  CodeBuffer(int32_t hot_bias, int32_t rflags_disp, size_t bytes = size_t(32) << 20);
  ~CodeBuffer();
  CodeBuffer(const CodeBuffer&) = delete;
  CodeBuffer& operator=(const CodeBuffer&) = delete;

  // The entry stub: uint64_t entry(void* cpu, void* state, const uint8_t*
  // code) saves the callee-saved registers, puts cpu in RBX, cpu +
  // hot_bias in R15 and state in R13 and jumps to code. Translations end by jumping to exit_stub() with
  // their result in RAX.
  using Entry = uint64_t (*)(void* cpu, void* state, const uint8_t* code);
  Entry entry() const { return entry_; }
  const uint8_t* exit_stub() const { return exit_; }
  // Called by translations: if R11 holds pending status flags (translator.cpp,
  // "pending flags"), writes them to the guest's RFLAGS. R11 is kept;
  // RAX, RCX and RDX are clobbered.
  const uint8_t* materialize_stub() const { return materialize_; }

  // Room for `n` bytes of code, or nullptr when the buffer is full (then
  // reset() it when no translation is running).
  uint8_t* allocate(size_t n);  // (at a multiple of kAlign)
  static constexpr size_t kAlign = 64;
  // Drops every translation: epoch() changes (to a value no buffer of the
  // process had before), so a block's translation from an earlier epoch,
  // or another buffer's, is not run.
  void reset();
  uint64_t epoch() const { return epoch_; }
  int32_t hot_bias() const { return hot_bias_; }
  // Whether code anywhere in the buffer reaches `target` with a rel32
  // call or jump (the buffer is placed near the program's code if it can).
  bool within_rel32(const void* target) const {
    const int64_t t = int64_t(reinterpret_cast<uintptr_t>(target));
    const int64_t lo = int64_t(reinterpret_cast<uintptr_t>(base_)), hi = lo + int64_t(size_);
    return t - lo < (int64_t(1) << 31) - int64_t(size_) && hi - t < (int64_t(1) << 31) - int64_t(size_);
  }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t stubs_end_ = 0;
  size_t used_ = 0;
  uint64_t epoch_;
  int32_t hot_bias_ = 0;
  Entry entry_ = nullptr;
  const uint8_t* exit_ = nullptr;
  const uint8_t* materialize_ = nullptr;
  std::vector<uint8_t> eh_frame_;  // CIE, FDE, terminator: registered with the unwinder
};

}  // namespace nestbed::sim::jit
