// vmx-fuzz: a rule-breaking guest hypervisor whose output is compared across
// depths. It builds one known-good VMCS (a tiny 64-bit guest that runs
// VMCALL), then launches many variants of it — a fixed list of classes of
// bad vmcs12 and bad VMX-instruction operands, then PRNG-mutated VMCSs —
// and prints one line per variant with the architectural outcome: the
// VMfail and its VM-instruction error, the entry-failure reason and
// qualification, or the exit's reason, qualification, the exit-information
// fields the SDM defines for that exit, the guest RIP, and digests of the
// guest state the exit saved and of the host state it loaded (SDM 27.2-27.5).
// Nothing implementation-specific is printed (addresses of the host's own
// structures only through digests of architecturally loaded state, no
// timing, no undefined fields). Natively and under l1-vmm the lines must be
// identical: tests/vmx_fuzz.cmake compares them (README.md).
//
// The guest is contained: it runs on EPT that maps only its own pages (code
// read/execute, stack, IDT, GDT, its paging structures), its paging maps the
// same pages, its code page holds VMCALLs and INT3s only, every exception
// exits, and the VMX-preemption timer ends a halted guest. Variants that
// would let the guest or the VMX transitions reach the harness's own memory,
// halt forever, or rely on behaviour the SDM leaves undefined are reported as
// skipped instead of being run (SKIP RULES in fuzz.cpp).
#pragma once
#include <stdint.h>

#include "workloads/vmx-selftest/selftest.h"

namespace fuzz {

namespace vmx = rt::vmx;
using arch::vmx::VmcsField;
using F = arch::vmx::VmcsField;

// ---- Output --------------------------------------------------------------------------
// One line, built in a buffer, then printed and folded into the run's
// FNV-1a hash (the summary line).
class Line {
 public:
  Line& s(const char* text);
  Line& x(uint64_t v);  // 0x-prefixed hex
  Line& u(uint64_t v);  // decimal
  void emit();          // prints the line and a newline; hashes both
  const char* text() const { return buf_; }

 private:
  char buf_[768];
  unsigned len_ = 0;
};
// The FNV-1a hash of every emitted line so far.
uint64_t output_hash();

// ---- The machine -------------------------------------------------------------------------
// The guest's world: pages in one 2 MiB region, guest-linear = guest-physical
// = the harness's physical address for each of them.
struct World {
  uint64_t code;   // VMCALL at +0 and at +HANDLER_OFFSET, INT3 everywhere else
  uint64_t stack;  // one page, RSP at its end
  uint64_t idt;    // 256 interrupt gates to code + HANDLER_OFFSET
  uint64_t gdt;    // null, KERNEL_CS, KERNEL_DS, a 64-bit TSS at 0x18 (TSS at +TSS_OFFSET)
  uint64_t gpml4, gpdpt, gpd, gpt;  // the guest's paging structures
  uint64_t epml4, epdpt, epd, ept;  // EPT
};
inline constexpr unsigned WORLD_PAGES = 12;
inline constexpr uint64_t HANDLER_OFFSET = 0x10;
inline constexpr uint64_t TSS_OFFSET = 0x800;
inline constexpr uint16_t GUEST_TR_SELECTOR = 0x18;
extern World world;

// MSR-list areas: each MSR_AREA_PAGES pages, pre-filled with valid entries
// (and one invalid VM-entry MSR-load entry at ENTRY_LOAD_BAD_INDEX).
inline constexpr unsigned MSR_AREA_PAGES = 2;
inline constexpr unsigned MSR_AREA_ENTRIES = MSR_AREA_PAGES * 4096 / 16;
inline constexpr unsigned ENTRY_LOAD_BAD_INDEX = 7;  // 0-based: qualification 8
struct MsrAreas {
  uint64_t entry_load, exit_store, exit_load;
};
extern MsrAreas msr_areas;

// The physical-address width (CPUID 80000008H:EAX[7:0]).
extern unsigned maxphyaddr;

// Rebuilds the world and the MSR areas, then makes pages.vmcs current again
// holding the good state (VMCLEAR, cleared region, VMPTRLD, every field of
// the saved table written back) and flushes the TLBs (INVEPT, INVVPID), so
// a variant never depends on an earlier one.
void fresh_state();

// VMLAUNCH (or VMRESUME) the current VMCS; its outcome appended to `line`.
// The host state the exit loaded is digested, then put back.
void launch_and_describe(Line& line, bool resume);

// ---- The fixed classes (classes.cpp) -----------------------------------------------------
void run_classes();

// Classes named by "skip=NAME" cmdline words are not run (for looking past
// a class that ends the run on one platform).
bool class_skipped(const char* name);
// False if "only=NAME" words exist and none names this class.
bool class_selected(const char* name);

// True if this run prints one line per field of the digests (cmdline word
// "verbose"), for reproducing a difference.
extern bool verbose;

}  // namespace fuzz
