// Architectural state of the simulated CPU (SDM vol. 3, chapter 2).
#pragma once
#include <cstdint>

#include "arch/x86/debug.h"
#include "arch/x86/msr.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "arch/x86/sse.h"
#include "arch/x86/xsave.h"

namespace nestbed::sim {

// General-purpose register numbers (the encoding order), plus two slots that
// let an effective-address computation run without branches: RIP (so
// RIP-relative operands are `base = REG_RIP`) and a register that always reads
// zero (an absent base or index).
enum Reg : uint8_t {
  RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
  REG_RIP = 16,
  REG_ZERO = 17,
  REG_COUNT = 18,
};

// A segment register with its hidden descriptor cache. Access rights use the
// VMX layout (arch::seg::ar), so the VMCS guest-state area maps onto it 1:1.
struct Segment {
  uint16_t selector = 0;
  uint64_t base = 0;
  uint32_t limit = 0xffff;
  uint32_t ar = 0;
};

struct TableRegister {
  uint64_t base = 0;
  uint16_t limit = 0xffff;
};

// The segment slots: ES, CS, SS, DS, FS, GS (arch::seg order), then a slot
// whose base is always 0, used for memory operands that have no segment base
// in 64-bit mode.
inline constexpr uint8_t SEG_NONE = 6;

// An XMM register (SDM vol. 1, 10.2.2), as two quadwords, low first.
struct alignas(16) Xmm {
  uint64_t q[2] = {0, 0};
};

// The x87 FPU state (SDM vol. 1, 8.1), held as FXSAVE stores it (table
// 10-2): the abridged tag word (one bit per physical register R0-R7, 1 =
// occupied; the full tags follow from the contents, 8.1.7) and ST0-ST7 in
// stack order (ST(i) is physical register (TOP + i) mod 8, TOP in FSW).
// exec_x87.cpp loads it into the host FPU for each instruction.
struct X87State {
  uint16_t fcw = arch::x87::FCW_INIT;
  uint16_t fsw = 0;
  uint8_t ftw = arch::x87::FTW_ABRIDGED_EMPTY;  // abridged, as FXSAVE stores it
  uint16_t fop = 0;
  uint64_t fip = 0, fdp = 0;
  uint16_t fcs = 0, fds = 0;
  uint8_t st[8][10] = {};  // ST0-ST7 (80-bit), as stored in the FXSAVE area
};

// Variable-range MTRR pairs the sim implements (IA32_MTRRCAP.VCNT).
inline constexpr unsigned MTRR_VARIABLE_COUNT = 8;

struct CpuState {
  uint64_t r[REG_COUNT] = {};  // r[REG_RIP] is RIP, r[REG_ZERO] stays 0
  uint64_t rflags = arch::rflags::FIXED1;
  Segment seg[7];
  Segment ldtr, tr;
  TableRegister gdtr, idtr;
  uint64_t cr0 = 0x60000010, cr2 = 0, cr3 = 0, cr4 = 0;
  uint64_t dr[8] = {0, 0, 0, 0, arch::debug::DR6_INIT, arch::debug::DR7_INIT, arch::debug::DR6_INIT, arch::debug::DR7_INIT};
  uint64_t efer = 0;
  uint8_t cpl = 0;
  // PAE paging's four page-directory-pointer-table entries, held in the
  // processor as SDM 4.4.1 describes (loaded by MOV to CR3/CR0/CR4).
  uint64_t pdpte[4] = {};
  // SSE state (SDM vol. 1, 10.2): XMM0-XMM15 and MXCSR, and the x87 state.
  Xmm xmm[16];
  uint32_t mxcsr = arch::mxcsr::RESET;
  X87State x87;

  // MSRs that live in the core.
  uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0;
  uint64_t kernel_gs_base = 0;
  uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
  uint64_t pat = 0x0007040600070406ull;
  uint64_t tsc_aux = 0;
  uint64_t tsc_offset = 0;  // IA32_TSC writes set TSC = cycles + offset
  uint64_t tsc_adjust = 0;  // IA32_TSC_ADJUST (SDM 17.17.3): 0 at reset
  uint64_t feature_control = 0;
  // IA32_MISC_ENABLE: fast strings, automatic thermal control, BTS and
  // PEBS unavailable (SDM vol. 4, table 2-2).
  uint64_t misc_enable = arch::msr::MISC_ENABLE_FAST_STRINGS | arch::msr::MISC_ENABLE_AUTO_THERMAL_CONTROL |
                         arch::msr::MISC_ENABLE_BTS_UNAVAILABLE | arch::msr::MISC_ENABLE_PEBS_UNAVAILABLE;
  uint64_t debugctl = 0;
  // MTRRs (SDM 11.11): reset clears E, FE and every valid bit (11.11.5).
  // The sim models no caches, so the types are only stored and read back.
  uint64_t mtrr_def_type = 0;
  uint64_t mtrr_fixed[arch::msr::MTRR_FIXED_COUNT] = {};
  uint64_t mtrr_var[2 * MTRR_VARIABLE_COUNT] = {};  // PHYSBASE0, PHYSMASK0, PHYSBASE1, ...
  // XCR0, the XSAVE feature set's enabled state components (SDM vol. 1,
  // 13.3): x87 only at reset; XSETBV writes it. VMX transitions leave it.
  uint64_t xcr0 = arch::xcr0::RESET;

  uint64_t& rip() { return r[REG_RIP]; }
  uint64_t rip() const { return r[REG_RIP]; }
};

}  // namespace nestbed::sim
