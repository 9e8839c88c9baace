// The nestbed exit trace file, version 1.0: the on-disk layouts.
// TRACE_FORMAT.md beside this file is the specification; the structs here
// are that specification in C++ and are written and read as they are
// (little-endian x86-64, naturally aligned, no padding the compiler adds:
// the static_asserts hold the sizes to the document).
//
// The kvm engine writes it today; exit-tracer/ (issue #3) is meant to adopt
// this header unchanged, adding record types for the sim's exits under a new
// minor version: readers skip record types they do not know.
#pragma once
#include <cstdint>

namespace nestbed::trace {

inline constexpr char MAGIC[8] = {'N', 'B', 'T', 'R', 'A', 'C', 'E', '\0'};
inline constexpr uint16_t VERSION_MAJOR = 1;  // a reader refuses another major version
inline constexpr uint16_t VERSION_MINOR = 0;  // minor versions only add record types or notes

struct FileHeader {
  char magic[8];
  uint16_t version_major;
  uint16_t version_minor;
  uint32_t header_bytes;  // sizeof(FileHeader) for 1.0; records start here
  uint64_t tsc_hz;        // TSC ticks per second, to turn cycles into time (0: unknown)
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
};

// Name records give each code its text, so a reader needs no tables.
enum class NameSpace : uint32_t {
  KvmExitReason = 1,     // code: KVM_EXIT_* (<linux/kvm.h>), e.g. 2 = "KVM_EXIT_IO"
  KernelExitReason = 2,  // code: a file-local number for the kernel's reason text, e.g. "IO_INSTRUCTION"
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

struct End {
  uint64_t user_exits;          // UserExit records in the file
  uint64_t kernel_events;       // KernelEvent records in the file
  uint64_t kernel_events_lost;  // events tracefs dropped (its ring buffer overflowed)
  uint64_t reserved;            // 0
};
static_assert(sizeof(End) == 32);

}  // namespace nestbed::trace
