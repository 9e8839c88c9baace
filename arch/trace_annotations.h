// Trace annotations (DESIGN.md §4 "Trace"): a VMM or workload tells the
// exit tracer what it is doing with a magic NOP,
//
//   nopl 0x4e455354(%rax,%rax,1)      0F 1F 84 00 54 53 45 4E
//
// executed with the event in registers (RAX = kind, RDI, RSI, RDX, RCX =
// arguments, trace_annotations.def). On hardware and under KVM it is a
// multi-byte NOP (SDM vol. 2, NOP: 0F 1F /0) that costs what a NOP costs;
// under the sim engine it is a zero-cost trace record (exit-tracer's
// Annotation record). The displacement spells "TSEN" in memory, "NEST" read
// as a little-endian number, so no compiler emits it by accident.
//
// Freestanding: l1-vmm and the workloads include this header.
#pragma once
#include <stdint.h>

namespace arch::trace {

// The annotation's bytes, and the displacement that marks it.
inline constexpr uint8_t kAnnotationBytes[8] = {0x0F, 0x1F, 0x84, 0x00, 0x54, 0x53, 0x45, 0x4E};
inline constexpr uint32_t kAnnotationDisplacement = 0x4e455354;
inline constexpr unsigned kAnnotationLength = sizeof(kAnnotationBytes);

enum class AnnotationKind : uint64_t {
#define X(name, kind, text) name = kind,
#include "arch/trace_annotations.def"
#undef X
};

// "LOGICAL_EXIT"; nullptr for a kind the table does not have.
constexpr const char* annotation_kind_name(uint64_t kind) {
  switch (kind) {
#define X(name, number, text) \
  case number:                \
    return #name;
#include "arch/trace_annotations.def"
#undef X
    default:
      return nullptr;
  }
}

// What the kind's argument registers mean; nullptr for an unknown kind.
constexpr const char* annotation_kind_description(uint64_t kind) {
  switch (kind) {
#define X(name, number, text) \
  case number:                \
    return text;
#include "arch/trace_annotations.def"
#undef X
    default:
      return nullptr;
  }
}

// Is this instruction (at least kAnnotationLength bytes) the annotation?
constexpr bool is_annotation(const uint8_t* bytes) {
  for (unsigned i = 0; i < kAnnotationLength; i++)
    if (bytes[i] != kAnnotationBytes[i]) return false;
  return true;
}

}  // namespace arch::trace

#if defined(__x86_64__)
// Emits the annotation. The bytes are spelled out rather than left to the
// assembler so that the encoding is exactly the one l0 matches; the
// "memory" clobber keeps the compiler from moving memory accesses across
// it, so the record lands where the source put it. Always inlined, also
// unoptimised, so that the record's RIP is the caller's.
__attribute__((always_inline)) static inline void nestbed_annotate(uint64_t kind, uint64_t a, uint64_t b,
                                                                   uint64_t c, uint64_t d) {
  asm volatile(".byte 0x0f, 0x1f, 0x84, 0x00, 0x54, 0x53, 0x45, 0x4e  # nopl 0x4e455354(%%rax,%%rax,1)"
               :
               : "a"(kind), "D"(a), "S"(b), "d"(c), "c"(d)
               : "memory");
}

__attribute__((always_inline)) static inline void nestbed_annotate(arch::trace::AnnotationKind kind, uint64_t a,
                                                                   uint64_t b, uint64_t c, uint64_t d) {
  nestbed_annotate(uint64_t(kind), a, b, c, d);
}
#endif
