// VMX control words (pin-based, primary/secondary/tertiary processor-based,
// VM-exit, secondary VM-exit, VM-entry, VM-function), generated from
// controls.def into namespaces arch::vmx::<word>:
//
//   proc_ctl::HLT_EXITING       the control's bit, as the word's type
//   proc_ctl::DEFAULT1          the default1 class (SDM A.2)
//   proc_ctl::DEFINED           every control the table names
//   proc_ctl::VMCS_FIELD        where the word lives in the VMCS
//   proc_ctl::CAPABILITY_MSR    its capability MSR (arch/x86/msr.def index)
//
// plus the MSR-load/store entry and the MSR and I/O bitmap layouts.
#pragma once
#include <stdint.h>

#include "arch/vmx/vmcs_fields.h"
#include "arch/x86/msr.h"

namespace arch::vmx {

enum class ControlWord : uint8_t {
#define CONTROL_WORD(word, field, bits, cap, true_cap, default1, title) word,
#include "arch/vmx/controls.def"
};

template <unsigned Bits>
struct ControlWordType {
  using type = uint32_t;
};
template <>
struct ControlWordType<64> {
  using type = uint64_t;
};

#define CONTROL_WORD(word, field, bits, cap, true_cap, default1, title)                       \
  namespace word {                                                                           \
  static_assert((bits) == 32 || (bits) == 64, #word ": 32- or 64-bit");                      \
  using Word = ControlWordType<bits>::type;                                                  \
  inline constexpr unsigned BITS = bits;                                                     \
  inline constexpr VmcsField VMCS_FIELD = VmcsField::field;                                  \
  static_assert(width_bits(vmcs_field_width(VMCS_FIELD)) == BITS, #word ": field width");    \
  inline constexpr uint32_t CAPABILITY_MSR = cap;                                            \
  inline constexpr uint32_t TRUE_CAPABILITY_MSR = true_cap;                                  \
  inline constexpr Word DEFAULT1 = default1;                                                 \
  }
#define CONTROL(word, name, bit, text)                                  \
  namespace word {                                                      \
  static_assert((bit) < BITS, #word "::" #name ": bit out of range");   \
  inline constexpr Word name = Word(1) << (bit);                        \
  }
#include "arch/vmx/controls.def"

struct ControlWordInfo {
  ControlWord word;
  const char* name;  // "proc_ctl"
  uint32_t vmcs_field;
  uint8_t bits;
  uint32_t capability_msr;       // 0: none listed
  uint32_t true_capability_msr;  // 0: none
  uint64_t default1;
  const char* title;
};
struct ControlInfo {
  ControlWord word;
  uint8_t bit;
  const char* name;         // "HLT_EXITING"
  const char* description;  // "HLT exiting"
};

inline constexpr ControlWordInfo kControlWords[] = {
#define CONTROL_WORD(word, field, bits, cap, true_cap, default1, title) \
  {ControlWord::word, #word, uint32_t(VmcsField::field), bits, cap, true_cap, default1, title},
#include "arch/vmx/controls.def"
};
inline constexpr ControlInfo kControls[] = {
#define CONTROL(word, name, bit, text) {ControlWord::word, bit, #name, text},
#include "arch/vmx/controls.def"
};
inline constexpr unsigned kControlWordCount = sizeof(kControlWords) / sizeof(kControlWords[0]);
inline constexpr unsigned kControlCount = sizeof(kControls) / sizeof(kControls[0]);

// Every control of the word the table names, as a mask.
constexpr uint64_t control_word_defined(ControlWord w) {
  uint64_t m = 0;
  for (const ControlInfo& c : kControls)
    if (c.word == w) m |= 1ull << c.bit;
  return m;
}

namespace detail {
constexpr bool control_bits_unique(ControlWord w) {
  uint64_t m = 0;
  for (const ControlInfo& c : kControls) {
    if (c.word != w) continue;
    if (m & (1ull << c.bit)) return false;
    m |= 1ull << c.bit;
  }
  return true;
}
}  // namespace detail

#define CONTROL_WORD(word, field, bits, cap, true_cap, default1, title)                  \
  namespace word {                                                                      \
  static_assert(detail::control_bits_unique(ControlWord::word), #word ": duplicate bit"); \
  inline constexpr Word DEFINED = Word(control_word_defined(ControlWord::word)); \
  }
#include "arch/vmx/controls.def"

constexpr const ControlWordInfo& control_word_info(ControlWord w) { return kControlWords[unsigned(w)]; }

// "HLT_EXITING"; nullptr for a bit the table does not name.
constexpr const char* control_name(ControlWord w, unsigned bit) {
  for (const ControlInfo& c : kControls)
    if (c.word == w && c.bit == bit) return c.name;
  return nullptr;
}

// VM-exit MSR-store, VM-exit MSR-load and VM-entry MSR-load areas: arrays of
// 16-byte entries, 16-byte aligned (SDM 24.7.2, 24.8.2).
struct MsrEntry {
  uint32_t index;
  uint32_t reserved;  // must be 0
  uint64_t value;
};
static_assert(sizeof(MsrEntry) == 16, "MSR-load/store entries are 16 bytes");

// The 4-KiB MSR bitmap (SDM 24.6.9): four 1-KiB bitmaps, for reads and
// writes of the low (0..1FFFH) and high (C0000000H..C0001FFFH) MSRs. RDMSR
// and WRMSR of an MSR outside both ranges always exit.
namespace msr_bitmap {
inline constexpr unsigned READ_LOW = 0;
inline constexpr unsigned READ_HIGH = 1024;
inline constexpr unsigned WRITE_LOW = 2048;
inline constexpr unsigned WRITE_HIGH = 3072;
inline constexpr uint32_t LOW_FIRST = 0x00000000u;
inline constexpr uint32_t LOW_LAST = 0x00001fffu;
inline constexpr uint32_t HIGH_FIRST = 0xc0000000u;
inline constexpr uint32_t HIGH_LAST = 0xc0001fffu;
// The byte of the bitmap holding msr's bit; -1 if no bit controls it.
constexpr int byte_offset(uint32_t msr, bool write) {
  if (msr <= LOW_LAST) return int((write ? WRITE_LOW : READ_LOW) + msr / 8);
  if (msr >= HIGH_FIRST && msr <= HIGH_LAST) return int((write ? WRITE_HIGH : READ_HIGH) + (msr - HIGH_FIRST) / 8);
  return -1;
}
constexpr unsigned bit_in_byte(uint32_t msr) { return msr & 7u; }
}  // namespace msr_bitmap

// I/O bitmaps A (ports 0..7FFFH) and B (8000H..FFFFH), 4 KiB each, one bit
// per port (SDM 24.6.4).
namespace io_bitmap {
inline constexpr unsigned PORTS_PER_BITMAP = 0x8000;
constexpr bool in_bitmap_b(uint16_t port) { return port >= PORTS_PER_BITMAP; }
constexpr unsigned bit_index(uint16_t port) { return port & (PORTS_PER_BITMAP - 1); }
}  // namespace io_bitmap

// The TPR shadow (SDM 29.1.1-29.1.2): VTPR is the 32 bits at offset 80H of
// the virtual-APIC page; without virtual-interrupt delivery, VTPR[7:4]
// below TPR threshold[3:0] is what the entry check refuses (26.2.1.1) and
// what makes TPR virtualization exit.
namespace tpr_shadow {
constexpr bool below_threshold(uint64_t vtpr, uint64_t tpr_threshold) {
  return ((vtpr >> 4) & 0xf) < (tpr_threshold & 0xf);
}
}  // namespace tpr_shadow

// The page-modification log (SDM 28.2.5; "enable PML"): one 4-KiB page at
// the PML address, 512 guest-physical addresses of 8 bytes (bits 11:0
// clear), filled from the guest PML index downwards; an index outside
// 0-511 means the log is full.
namespace pml {
inline constexpr unsigned ENTRIES = 512;
inline constexpr uint64_t ENTRY_BYTES = 8;
inline constexpr uint64_t GPA_MASK = ~0xfffull;
}  // namespace pml

// The posted-interrupt descriptor (SDM 29.6, table 29-1; "process posted
// interrupts"): 64 bytes at a 64-byte aligned address, the posted-interrupt
// requests (PIR, one bit per vector) in bits 255:0, the outstanding-
// notification bit (ON) at bit 256.
namespace posted_interrupt_desc {
inline constexpr uint64_t SIZE = 64;
inline constexpr uint64_t ALIGN_MASK = SIZE - 1;
inline constexpr unsigned PIR_WORDS = 8;  // 32-bit words of PIR, vector v in word v / 32
inline constexpr unsigned ON_BYTE = 32;   // ON is bit 0 of byte 32
inline constexpr uint8_t ON = 1u << 0;
}  // namespace posted_interrupt_desc

}  // namespace arch::vmx
