// The EPT walk (SDM 28.2): a guest-physical address to the address the EPT
// maps it to, with the EPT violation's permission bits (28.2.3.2), the
// misconfigurations (28.2.3.1) and the accessed/dirty flags (28.2.4).
//
// One implementation for the sim's MMU (EPT in VMX non-root operation) and
// l1-vmm's nested EPT (the walk of the guest hypervisor's EPT12):
// freestanding, no VMX instructions, memory reached through callbacks.
#pragma once
#include <stdint.h>

namespace nestbed::common::vmx {

enum class EptAccess : uint8_t { Read, Write, Exec };

// The paging-structure memory the walk reads (and, with A/D flags, writes):
// 8-byte entries at physical addresses. read() false: the address is not
// memory the walker can reach (the caller decides what that means).
struct EptMemory {
  void* ctx;
  bool (*read)(void* ctx, uint64_t pa, uint64_t& value);
  void (*write)(void* ctx, uint64_t pa, uint64_t value);
  // Page-modification logging (SDM 28.2.5), if not null: called before the
  // walk sets a leaf's dirty flag from 0 to 1, with the guest-physical
  // address; false means the log is full: the walk ends with LogFull and
  // sets no flag of the leaf.
  bool (*log_dirty)(void* ctx, uint64_t gpa) = nullptr;
};

enum class EptWalkStatus : uint8_t {
  Ok,
  Violation,     // EPT violation: `qualification` bits 5:0 are set
  Misconfig,     // EPT misconfiguration
  NoMemory,      // a paging structure outside what EptMemory reaches
  LogFull,       // the page-modification log is full (EptMemory::log_dirty)
};

struct EptWalkResult {
  EptWalkStatus status = EptWalkStatus::Ok;
  uint64_t address = 0;        // Ok: the translated address
  uint64_t leaf = 0;           // Ok: the leaf entry (after A/D updates)
  unsigned leaf_level = 0;     // Ok: 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB)
  // The AND of bits 0, 1, 2 of the entries walked (SDM table 27-7 bits 3-5):
  // all false when an entry was not present.
  bool readable = false, writable = false, executable = false;
  // Violation: the access bits (0-2) and the permission bits (3-5) of the
  // exit qualification; the caller adds the linear-address bits (7, 8)
  // and NMI unblocking (12), which the walk cannot know.
  uint64_t qualification = 0;
};

struct EptWalkOptions {
  bool execute_only = true;     // IA32_VMX_EPT_VPID_CAP bit 0: execute-only entries are legal
  bool paging_structure = false;  // the access is to a guest paging-structure entry
};

// Walks the 4-level EPT that `eptp` points to for an access of kind `a` to
// `gpa`. With EPTP bit 6 (A/D), sets the accessed flag of every entry used
// and the dirty flag of the leaf on a write.
EptWalkResult ept_walk(uint64_t eptp, uint64_t gpa, EptAccess a, const EptMemory& mem,
                       const EptWalkOptions& opt = {});

}  // namespace nestbed::common::vmx
