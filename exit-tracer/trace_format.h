// The nestbed exit trace file, version 1.3: the on-disk layouts.
// TRACE_FORMAT.md beside this file is the specification; the structs here
// are that specification in C++ and are written and read as they are
// (little-endian x86-64, naturally aligned, no padding the compiler adds:
// the static_asserts hold the sizes to the document).
//
// Writers: the kvm engine (UserExit, KernelEvent) and the sim engine through
// SimTraceRecorder (l0/sim/trace_recorder.h: HwExit, HwEntry, Annotation). Readers of 1.0 skip the
// 1.1 record types and read the first 32 bytes of End, so a 1.1 file that
// holds only kvm records reads the same under both. 1.2 writes the sim's
// records in Packed records (packed_records.h), 1.3 in a shorter encoding
// of them; this reader reads 1.0, 1.1, 1.2 and 1.3 files.
#pragma once
#include <cstdint>

namespace nestbed::trace {

inline constexpr char MAGIC[8] = {'N', 'B', 'T', 'R', 'A', 'C', 'E', '\0'};
inline constexpr uint16_t VERSION_MAJOR = 1;  // a reader refuses another major version
inline constexpr uint16_t VERSION_MINOR = 3;  // minor versions only add record types, trailing fields or notes

struct FileHeader {
  char magic[8];
  uint16_t version_major;
  uint16_t version_minor;
  uint32_t header_bytes;  // sizeof(FileHeader) for 1.x; records start here
  uint64_t tsc_hz;        // cycles per second, to turn cycles into time (0: unknown, e.g. the sim's modeled cycles)
};
static_assert(sizeof(FileHeader) == 24);

// Every record starts with this; `bytes` counts the whole record, header
// included, and is a multiple of 8, so a reader can skip any record.
struct RecordHeader {
  uint32_t type;
  uint32_t bytes;
};
static_assert(sizeof(RecordHeader) == 8);

enum class RecordType : uint32_t {
  Note = 1,         // "key\0value\0", zero-padded: run metadata and plain-text remarks
  Name = 2,         // NameHeader + "text\0", zero-padded: the name of a code used in the file
  UserExit = 3,     // UserExit: an exit that reached the engine (user space under kvm)
  KernelEvent = 4,  // KernelEvent: a kernel tracepoint hit of the run's vCPU (tracefs)
  End = 5,          // End: last record; its absence means the file is truncated
  // 1.1: the sim engine's architectural VMX.
  HwExit = 6,      // HwExit: a hardware VM exit (non-root -> root) of the sim's VMX
  HwEntry = 7,     // HwEntry: a VM entry (VMLAUNCH/VMRESUME) that reached the guest
  Annotation = 8,  // Annotation: a magic-NOP annotation (arch/trace_annotations.h)
  // 1.2: the sim's records, compact (1.3: more compact, new tags inside).
  Packed = 9,  // PackedHeader + HwExit/HwEntry/Annotation records, variable-length (packed_records.h)
};

// 1.2: a block of the sim's records in the compact encoding
// (TRACE_FORMAT.md "Packed"), followed by `payload_bytes` bytes and zero
// padding to a multiple of 8.
struct PackedHeader {
  uint32_t count;          // records in the block
  uint32_t payload_bytes;  // bytes of encoded records after this header
};
static_assert(sizeof(PackedHeader) == 8);

// Name records give each code its text, so a reader needs no tables.
enum class NameSpace : uint32_t {
  KvmExitReason = 1,     // code: KVM_EXIT_* (<linux/kvm.h>), e.g. 2 = "KVM_EXIT_IO"
  KernelExitReason = 2,  // code: a file-local number for the kernel's reason text, e.g. "IO_INSTRUCTION"
  VmxExitReason = 3,     // 1.1, code: a VMX basic exit reason (arch/vmx/exit_reasons.def), e.g. 10 = "CPUID"
  AnnotationKind = 4,    // 1.1, code: an annotation kind (arch/trace_annotations.def), e.g. 1 = "LOGICAL_EXIT"
};

struct NameHeader {
  uint32_t space;  // NameSpace
  uint32_t code;
};
static_assert(sizeof(NameHeader) == 8);

enum class Access : uint8_t { None = 0, Read = 1, Write = 2 };

// One exit that reached the engine's exit loop.
struct UserExit {
  uint64_t seq;         // 0, 1, 2, ... in exit order
  uint64_t tsc_exit;    // host TSC when KVM_RUN returned
  uint64_t tsc_resume;  // host TSC when the next KVM_RUN was issued (0: never, the run ended here)
  uint32_t reason;      // KVM_EXIT_* (NameSpace::KvmExitReason)
  uint8_t access;       // Access: I/O in/out, MMIO read/write, RDMSR/WRMSR
  uint8_t size;         // bytes per access (I/O 1/2/4, MMIO 1..8, MSR 8), 0 if none
  uint16_t count;       // accesses in this exit (string I/O), 0 if none
  uint64_t address;     // port, guest-physical address or MSR index (0 if none)
  uint64_t data;        // the first value written or read (0 if none)
};
static_assert(sizeof(UserExit) == 48);

enum class KernelEventKind : uint32_t {
  Exit = 1,           // kvm:kvm_exit — a hardware VM exit of the vCPU
  NestedExit = 2,     // kvm:kvm_nested_vmexit — an exit while the vCPU ran a nested guest (L2)
  Entry = 3,          // kvm:kvm_entry — the next VM entry
  UserspaceExit = 4,  // kvm:kvm_userspace_exit — KVM_RUN about to return to user space
};

struct KernelEvent {
  uint64_t tsc;        // the tracepoint's timestamp (tracefs clock x86-tsc: host TSC)
  uint32_t kind;       // KernelEventKind
  uint32_t reason;     // Exit/NestedExit: NameSpace::KernelExitReason code;
                       // UserspaceExit: KVM_EXIT_*; Entry: 0
  uint64_t guest_rip;  // Exit/NestedExit/Entry (0 if the kernel did not print it)
  uint64_t info1;      // Exit/NestedExit: exit qualification (VMX) / EXITINFO1 (SVM)
  uint64_t info2;      // Exit/NestedExit: the second info word
  uint32_t cpu;        // host CPU the event was recorded on
  uint32_t vcpu;       // vCPU id (0 where the event does not say)
};
static_assert(sizeof(KernelEvent) == 48);

// ---- 1.1: the sim engine -----------------------------------------------------
// Times are modeled cycles (l0/sim/cost_model.def), the sim's RDTSC.

// The level of a hardware exit or entry is the level VMCS_LEVEL registered
// for its VMCS; without one it is 2 (the guest of a single VMM at level 1).
inline constexpr uint8_t DEFAULT_GUEST_LEVEL = 2;

enum HwFlags : uint8_t {
  LEVEL_REGISTERED = 1,  // `level` comes from a VMCS_LEVEL annotation (else it is DEFAULT_GUEST_LEVEL)
};

// A hardware VM exit (SDM chapter 27) with the VM-exit information fields.
// Its cost is the `cycles` of the next HwEntry minus its own `cycles`.
struct HwExit {
  uint64_t seq;                     // 0, 1, 2, ... in exit order
  uint64_t cycles;                  // modeled cycles at the exit (after its cost is charged)
  uint64_t instructions;            // instructions retired so far
  uint32_t exit_reason;             // the full exit-reason field (SDM 24.9.1); bits 15:0 NameSpace::VmxExitReason
  uint32_t intr_info;               // VM-exit interruption information (SDM 24.9.2)
  uint64_t qualification;           // exit qualification (SDM 27.2.1)
  uint64_t guest_rip;
  uint64_t guest_linear_address;    // where the SDM defines it, else 0
  uint64_t guest_physical_address;  // EPT violations and misconfigurations, else 0
  uint64_t vmcs;                    // physical address of the current VMCS
  uint8_t level;                    // the level that exited
  uint8_t flags;                    // HwFlags
  uint8_t insn_len;                 // VM-exit instruction length (0 where not defined)
  uint8_t insn_bytes[15];           // the exiting instruction (first insn_len bytes valid, the rest 0)
  uint8_t code_size;                // 1.2: the guest's code size at the exit, 16, 32 or 64 (0: unknown, as in 1.1)
  uint8_t reserved[5];              // 0
};
static_assert(sizeof(HwExit) == 96);

// A VM entry that reached the guest (a failed entry is an HwExit with the
// entry-failure bit, or no record at all when VMLAUNCH/VMRESUME VMfails).
struct HwEntry {
  uint64_t seq;           // 0, 1, 2, ... in entry order
  uint64_t cycles;        // modeled cycles when the guest starts running
  uint64_t instructions;  // instructions retired so far
  uint64_t vmcs;          // physical address of the VMCS entered
  uint64_t guest_rip;     // where the guest resumes
  uint8_t level;          // the level entered (as HwExit::level)
  uint8_t flags;          // HwFlags
  uint8_t launch;         // 1 VMLAUNCH, 0 VMRESUME
  uint8_t reserved[5];    // 0
};
static_assert(sizeof(HwEntry) == 48);

inline constexpr uint64_t NO_VMCS = ~0ull;

// The registers of an annotation (arch/trace_annotations.h): the kind in
// RAX, arguments in RDI, RSI, RDX, RCX.
struct Annotation {
  uint64_t seq;           // 0, 1, 2, ... in annotation order
  uint64_t cycles;        // modeled cycles at the annotation (it costs none)
  uint64_t instructions;  // instructions retired so far
  uint64_t rip;           // the annotation's address
  uint64_t vmcs;          // the current VMCS (NO_VMCS if none)
  uint64_t kind;          // RAX: NameSpace::AnnotationKind
  uint64_t args[4];       // RDI, RSI, RDX, RCX
  uint8_t level;          // the level that executed it: 1 in VMX root operation, else the level of `vmcs`
  uint8_t non_root;       // 1: executed in VMX non-root operation
  uint8_t reserved[6];    // 0
};
static_assert(sizeof(Annotation) == 88);

// 1.0's End is the first 32 bytes; 1.1 appends the sim's counts. A reader
// takes a field a shorter End lacks as 0.
struct End {
  uint64_t user_exits;          // UserExit records in the file
  uint64_t kernel_events;       // KernelEvent records in the file
  uint64_t kernel_events_lost;  // events tracefs dropped (its ring buffer overflowed)
  uint64_t reserved;            // 0
  uint64_t hw_exits;            // 1.1: HwExit records in the file
  uint64_t hw_entries;          // 1.1: HwEntry records in the file
  uint64_t annotations;         // 1.1: Annotation records in the file
};
static_assert(sizeof(End) == 56);
inline constexpr uint32_t END_1_0_BYTES = 32;

}  // namespace nestbed::trace
