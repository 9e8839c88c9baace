// Bit-field layouts of VMX registers, VMCS field contents and EPT entries.
//
// The layouts themselves are tables (arch/vmx/exit_qualification.def,
// ept.def, capability_msrs.def) of three kinds of rows:
//
//   LAYOUT(layout, width, "title, SDM reference")
//   FIELD(layout, NAME, lsb, bits, "meaning")
//   VALUE(layout, FIELD, NAME, value, "meaning")   -- a named value of FIELD
//
// Each header expands them, with the NESTBED_LAYOUT_CXX_* macros below, into
//
//   namespace arch::vmx::<layout> {
//     inline constexpr unsigned WIDTH = width;
//     inline constexpr BitField NAME{lsb, bits};   // .mask .get() .make() ...
//     inline constexpr uint64_t VALUE_NAME = value;
//   }
//
// and the JSON generator (arch/gen/) prints the same rows for analysis/.
// Every table ends by #undef-ing LAYOUT, FIELD and VALUE; a row kind an
// includer leaves undefined expands to nothing.
#pragma once
#include <stdint.h>

namespace arch::vmx {

struct BitField {
  uint8_t lsb;
  uint8_t bits;
  uint64_t mask;  // the field in place

  constexpr BitField(unsigned lsb_, unsigned bits_)
      : lsb(uint8_t(lsb_)),
        bits(uint8_t(bits_)),
        mask((bits_ >= 64 ? ~0ull : (1ull << bits_) - 1) << lsb_) {}

  // The field's value, shifted down.
  constexpr uint64_t get(uint64_t word) const { return (word & mask) >> lsb; }
  // Is any bit of the field set? (For one-bit fields: is the flag set?)
  constexpr bool test(uint64_t word) const { return (word & mask) != 0; }
  // x placed in the field (bits of x that do not fit are dropped).
  constexpr uint64_t make(uint64_t x) const { return (x << lsb) & mask; }
  // word with the field replaced by x.
  constexpr uint64_t set(uint64_t word, uint64_t x) const { return (word & ~mask) | make(x); }
  constexpr unsigned msb() const { return lsb + bits - 1u; }
  // Does x fit in the field?
  constexpr bool fits(uint64_t x) const { return bits >= 64 || (x >> bits) == 0; }
};

}  // namespace arch::vmx

// Expansion of the layout rows into C++ (see above). The static_asserts keep
// every table honest: fields lie inside their layout's width and values fit
// their field.
#define NESTBED_LAYOUT_CXX_LAYOUT(layout, width, title)                          \
  namespace layout {                                                             \
  inline constexpr unsigned WIDTH = width;                                       \
  static_assert(WIDTH == 16 || WIDTH == 32 || WIDTH == 64, #layout ": width"); \
  }
#define NESTBED_LAYOUT_CXX_FIELD(layout, name, lsb, bits, text)                         \
  namespace layout {                                                                    \
  inline constexpr ::arch::vmx::BitField name{lsb, bits};                               \
  static_assert((bits) >= 1 && (lsb) + (bits) <= WIDTH, #layout "::" #name ": range"); \
  }
#define NESTBED_LAYOUT_CXX_VALUE(layout, field, name, value, text)                \
  namespace layout {                                                              \
  inline constexpr uint64_t name = value;                                         \
  static_assert(field.fits(value), #layout "::" #name ": value does not fit " #field); \
  }
