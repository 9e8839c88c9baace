// The x87 FPU (SDM vol. 1, chapter 8; vol. 2, each F* instruction).
//
// Results come from the host's own x87 (the project targets x86-64 hosts),
// the way exec_sse.h runs host SSE under the guest's MXCSR: the guest's
// register stack, FCW, FSW and tags are loaded into the host FPU with
// FXRSTOR, the one instruction runs on host data, FXSAVE stores the state
// back, and the host's FPU state is restored. Neither FXSAVE nor FXRSTOR
// waits, and an x87 instruction reports an unmasked exception only at the
// NEXT waiting instruction (vol. 1, 8.6), so the host never traps: an
// unmasked exception comes back as FSW.ES, and the guest sees #MF at its
// next waiting instruction. Everything the FPU computes (stack faults,
// masked responses, C0-C3, the rounding of each precision and rounding
// control) is therefore the hardware's own, exact IEEE arithmetic. The
// transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1,
// FYL2X, FYL2XP1) are the exception to "exact": the SDM bounds their error
// (vol. 1, 8.3.10) but does not fix their bits, so their results are the
// host CPU's and reproducible only on one host CPU family.
//
// What the host cannot know is fixed up afterwards: FIP, FCS, FOP, FDP and
// FDS are the guest's (its RIP, its opcode, its operand's offset), and a
// store to guest memory happens only when the SDM says the destination is
// written (vol. 1, 8.7: not with an unmasked IE/DE/ZE/OE/UE).
//
// The instruction runs from a table of host stubs, one per x87 opcode
// (D8-DF) and ModR/M byte, each with its memory operand rewritten to [rdi]
// (the host buffer holding the guest's operand): the decoder picks the
// stub once, so the hot path is one indirect call.
//
// The control instructions (FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW,
// FNSTENV, FLDENV, FNSAVE, FRSTOR, FWAIT) are done here in software: they
// move state and carry the guest's pointers.
#include "l0/sim/cpu/exec_x87.h"

#include <capstone/capstone.h>

#include <cstring>

#include "arch/x86/control_regs.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/segment.h"
#include "arch/x86/sse.h"
#include "arch/x86/x87.h"
#include "l0/sim/cpu/exec_select.h"
#include "l0/sim/cpu/exec_sse.h"

// The host stubs: 8 x 256 entries of 32 bytes, entry (opcode - 0xd8) * 256
// + modrm. Each is a function
//   uint64_t stub(void* operand, void* guest_image, void* host_image,
//                 uint64_t guest_status_flags)
// that saves the host's FPU/SSE state to host_image, loads guest_image,
// loads the guest's status flags (FCMOVcc reads them), runs the
// instruction, returns RFLAGS (FCOMI and friends write ZF, PF, CF) and
// stores the FPU state back to guest_image before restoring the host's. A
// ModR/M byte with mod != 3 becomes mod 0, r/m 7: [rdi], reg kept. Entries
// of encodings that are not instructions are never called (the decoder
// only picks entries Capstone decoded as an x87 instruction). GAS
// comparisons yield -1 for true, so (m >= 0xc0) & m selects m.
asm(R"(
    .text
    .p2align 5
    .globl nb_x87_stubs
    .hidden nb_x87_stubs
    .type nb_x87_stubs, @function
nb_x87_stubs:
    .set nb_x87_op, 0xd8
    .rept 8
    .set nb_x87_m, 0
    .rept 256
    .p2align 5
    fxsave64 (%rdx)
    fxrstor64 (%rsi)
    push %rcx
    popfq
    .byte nb_x87_op, ((nb_x87_m >= 0xc0) & nb_x87_m) | (~(nb_x87_m >= 0xc0) & ((nb_x87_m & 0x38) | 7))
    pushfq
    pop %rax
    fxsave64 (%rsi)
    fxrstor64 (%rdx)
    ret
    .set nb_x87_m, nb_x87_m + 1
    .endr
    .set nb_x87_op, nb_x87_op + 1
    .endr
    .size nb_x87_stubs, .-nb_x87_stubs
)");

extern "C" char nb_x87_stubs[];

namespace nestbed::sim {

namespace x87 = arch::x87;
namespace fx = arch::fxsave;
namespace env = arch::fpuenv;

namespace {
constexpr unsigned kStubBytes = 32;
// The status flags a stub loads and FCOMI-family instructions return.
constexpr uint64_t kStatusFlags = fl::CF | fl::PF | fl::AF | fl::ZF | fl::SF | fl::OF;
}  // namespace

// ------------------------------------------------------------ availability

void check_fpu(Cpu& c) {
  if (c.state().cr0 & (arch::cr0::EM | arch::cr0::TS)) raise_fault(uint8_t(arch::Vector::NM));
}

namespace {

unsigned top_of(const X87State& x) { return (x.fsw & x87::FSW_TOP) >> x87::FSW_TOP_SHIFT; }

}  // namespace

void x87_set_top(X87State& x, unsigned top) {
  const unsigned old = top_of(x);
  uint8_t st[x87::REG_COUNT][x87::REG_BYTES];
  for (unsigned i = 0; i < x87::REG_COUNT; ++i) std::memcpy(st[i], x.st[(top + i - old) & 7], x87::REG_BYTES);
  std::memcpy(x.st, st, sizeof st);
  x.fsw = uint16_t((x.fsw & ~x87::FSW_TOP) | (top << x87::FSW_TOP_SHIFT));
}

// A loaded control word keeps only its defined bits (arch/x86/x87.h), and
// FSW.ES and FSW.B summarise the unmasked exception flags (vol. 1,
// 8.1.3.1): recomputed whenever FCW or FSW is loaded (FLDCW, FLDENV,
// FRSTOR, FXRSTOR; their SDM pages say an exception unmasked there is
// raised at the next waiting instruction).
void x87_loaded(X87State& x) {
  x.fcw = uint16_t((x.fcw & ~x87::FCW_RESERVED) | x87::FCW_ONE);
  if (x.fsw & ~x.fcw & x87::FSW_EXCEPTIONS)
    x.fsw |= x87::FSW_ES | x87::FSW_B;
  else
    x.fsw &= uint16_t(~(x87::FSW_ES | x87::FSW_B));
}

// A waiting instruction first reports a pending unmasked exception
// (FSW.ES): #MF with CR0.NE = 1 (vol. 1, 8.7; vol. 3, 6.15 "#MF"). With
// CR0.NE = 0 a PC reports it externally, the MS-DOS compatibility mode of
// vol. 1, 8.7.2 and appendix D:
//   - FERR# goes active as soon as an instruction leaves an unmasked
//     exception pending: the P6 family and later never defer it to the next
//     waiting instruction (D.2.2; x87_run_stub). The board latches it as
//     IRQ 13 (X87ErrorLatch, l0/devices), so with interrupts enabled the
//     handler runs right after the faulting instruction.
//   - A waiting instruction that still finds the error pending, with IGNNE#
//     deasserted, does not run: the processor freezes just before it until
//     an interrupt comes (D.2.1.1). The sim halts there with RIP on the
//     instruction; any interrupt or NMI ends the freeze, and after the
//     handler's IRET the instruction is tried again. (With IF = 0 and no
//     NMI the processor would stay frozen; the sim stops, as for HLT.) A
//     debug single-step trap is not held back by the freeze.
//   - The handler's write to port F0H clears IRQ 13 and asserts IGNNE#
//     while FERR# is active: the waiting instruction then runs and the
//     error is not reported. Clearing the error (FNCLEX, FNINIT, ...) drops
//     FERR# and with it IGNNE#; the sim sees FSW.ES clear at the next
//     waiting instruction, the first place where the difference shows.
void x87_pending_check(Cpu& c, const DecodedInsn& i) {
  (void)i;
  X87ErrorLatch& ferr = c.devices().x87_error;
  if (NB_LIKELY(!(c.state().x87.fsw & x87::FSW_ES))) {
    if (NB_UNLIKELY(ferr.ferr())) ferr.set_ferr(false);
    return;
  }
  if (c.state().cr0 & arch::cr0::NE) raise_fault(uint8_t(arch::Vector::MF));
  if (ferr.ignne()) return;
  ferr.set_ferr(true);  // FLDCW, FLDENV, FRSTOR unmasking a pending flag: FERR# goes active here
  c.check_events_soon();
  throw X87Freeze{};
}

namespace {

// The 2-bit tag of an occupied register from its contents (vol. 1, 8.1.7):
// zero, special (NaN, infinity, denormal, pseudo-denormal, unnormal) or
// valid.
uint16_t tag_of(const uint8_t* reg) {
  uint64_t mant;
  std::memcpy(&mant, reg, 8);
  const uint16_t exp = uint16_t((reg[9] << 8 | reg[8]) & x87::EXPONENT_MAX);
  if (exp == x87::EXPONENT_MAX) return x87::TAG_SPECIAL;
  if (exp == 0) return mant == 0 ? x87::TAG_ZERO : x87::TAG_SPECIAL;
  return (mant >> 63) ? x87::TAG_VALID : x87::TAG_SPECIAL;
}

// The full tag word FSTENV/FSAVE store, by physical register R0-R7; X87State
// keeps the abridged one (the FPU derives the rest from the contents).
uint16_t full_tag_word(const X87State& x) {
  uint16_t tw = 0;
  const unsigned top = top_of(x);
  for (unsigned k = 0; k < x87::REG_COUNT; ++k) {
    const uint16_t tag = (x.ftw >> k & 1) ? tag_of(x.st[(k - top) & 7]) : x87::TAG_EMPTY;
    tw |= uint16_t(tag << (2 * k));
  }
  return tw;
}
// FLDENV/FRSTOR use the loaded tags only to tell empty from occupied.
uint8_t abridged_tag_word(uint16_t tw) {
  uint8_t a = 0;
  for (unsigned k = 0; k < x87::REG_COUNT; ++k)
    if (((tw >> (2 * k)) & 3) != x87::TAG_EMPTY) a |= uint8_t(1u << k);
  return a;
}

// ---------------------------------------------------------------- memory

void read_bytes(Cpu& c, uint64_t la, uint8_t* p, unsigned n) {
  unsigned k = 0;
  for (; k + 8 <= n; k += 8) {
    const uint64_t v = c.read<uint64_t>(la + k);
    std::memcpy(p + k, &v, 8);
  }
  for (; k + 2 <= n; k += 2) {
    const uint16_t v = c.read<uint16_t>(la + k);
    std::memcpy(p + k, &v, 2);
  }
}
// Writes n bytes (a multiple of 2) after checking every page for writing,
// so a fault writes nothing (as store16 does for 16 bytes).
void write_bytes(Cpu& c, uint64_t la, const uint8_t* p, unsigned n) {
  check_writable(c, la, n);
  unsigned k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t v;
    std::memcpy(&v, p + k, 8);
    c.write<uint64_t>(la + k, v);
  }
  for (; k + 2 <= n; k += 2) {
    uint16_t v;
    std::memcpy(&v, p + k, 2);
    c.write<uint16_t>(la + k, v);
  }
}

// The operand's offset in its segment (what FDP holds, vol. 1, 8.1.8),
// from its linear address.
uint64_t operand_offset(Cpu& c, const DecodedInsn& i, uint64_t la) {
  const uint64_t off = la - c.state().seg[i.mem_seg].base;
  return i.addrsize == 8 ? off : i.addrsize == 4 ? uint32_t(off) : uint16_t(off);
}

// The pointers of a non-control instruction (vol. 1, 8.1.8-8.1.9): its RIP
// (an offset: CS's base is not included) and CS selector, its opcode, and
// its memory operand's offset and segment selector. Instructions without a
// memory operand leave FDP/FDS as they were (the SDM calls them undefined
// then; this is what the x87 of the hosts checked does).
void set_pointers(Cpu& c, const DecodedInsn& i) {
  X87State& x = c.state().x87;
  x.fip = c.fault_rip();
  if (c.mode() != CpuMode::Bits64) x.fip = uint32_t(x.fip);
  x.fcs = c.state().seg[arch::seg::CS].selector;
  x.fop = uint16_t(i.imm2);
}
void set_data_pointer(Cpu& c, const DecodedInsn& i, uint64_t la) {
  X87State& x = c.state().x87;
  x.fdp = operand_offset(c, i, la);
  x.fds = c.state().seg[i.mem_seg_arch].selector;
}

// ------------------------------------------------------------ host x87

}  // namespace

uint64_t x87_run_stub(Cpu& c, const char* stub_address, void* operand) {
  X87State& x = c.state().x87;
  alignas(16) uint8_t guest[fx::SIZE] = {}, host[fx::SIZE];
  const uint16_t held = x87_held_error(x);
  x.fsw &= uint16_t(~held);
  x87_to_fxsave(x, guest, true);
  const uint32_t mxcsr = arch::mxcsr::RESET;  // the host's SSE state is not touched: any valid MXCSR
  std::memcpy(guest + fx::MXCSR, &mxcsr, 4);
  const X87Stub stub = reinterpret_cast<X87Stub>(stub_address);
  const uint64_t flags = stub(operand, guest, host, (c.state().rflags & kStatusFlags) | fl::FIXED1);
  x87_registers_from_fxsave(x, guest);
  x.fsw |= held;
  if (NB_UNLIKELY((x.fsw & x87::FSW_ES) && !held) && !(c.state().cr0 & arch::cr0::NE)) {
    c.devices().x87_error.set_ferr(true);  // IRQ 13 (see x87_pending_check)
    c.check_events_soon();
  }
  return flags;
}

void x87_registers_from_fxsave(X87State& x, const uint8_t* img) {
  std::memcpy(&x.fcw, img + fx::FCW, 2);
  std::memcpy(&x.fsw, img + fx::FSW, 2);
  x.ftw = img[fx::FTW];
  for (unsigned k = 0; k < x87::REG_COUNT; ++k) std::memcpy(x.st[k], img + fx::ST0 + fx::SLOT * k, 10);
}

namespace {

uint64_t run_on_host(Cpu& c, const DecodedInsn& i, void* operand) {
  return x87_run_stub(c, nb_x87_stubs + kStubBytes * i.imm, operand);
}

// Whether a store's destination is written: not when the instruction
// raised an unmasked invalid-operation, denormal, zero-divide, overflow or
// underflow exception (vol. 1, 8.5 and 8.7; an unmasked precision
// exception still stores the rounded result, 8.5.6). Exception flags that
// were set before were all masked (else ES would have raised #MF first).
bool store_allowed(const X87State& x) {
  return !(x.fsw & ~x.fcw & (x87::FSW_EXCEPTIONS & ~x87::FSW_PE));
}

// An x87 instruction run on the host: N bytes of memory operand (0: none),
// loaded or (STORE) stored, in form F; FLAGS: it writes ZF, PF and CF
// (FCOMI, FCOMIP, FUCOMI, FUCOMIP; OF, SF and AF are cleared).
template <unsigned N, bool STORE, Form F, bool FLAGS>
void h_host(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  x87_pending_check(c, i);
  alignas(16) uint8_t buf[16] = {};
  uint64_t la = 0;
  if constexpr (N != 0) {
    la = form_linear<F>(c, i, N, STORE ? Access::Write : Access::Read);
    if constexpr (STORE)
      check_writable(c, la, N);
    else
      read_bytes(c, la, buf, N);
  }
  const uint64_t flags = run_on_host(c, i, buf);
  set_pointers(c, i);
  if constexpr (N != 0) set_data_pointer(c, i, la);
  if constexpr (STORE) {
    if (store_allowed(c.state().x87)) write_bytes(c, la, buf, N);
  }
  if constexpr (FLAGS) c.state().rflags = (c.state().rflags & ~kStatusFlags) | (flags & kStatusFlags);
}

// ------------------------------------------------------ control instructions

// FNINIT (and FNSAVE's final step): the state of vol. 1, 8.1.* after
// initialization (table 9-1); ST0-ST7 keep their contents, tagged empty.
void fninit(X87State& x) {
  x87_set_top(x, 0);
  x.fcw = x87::FCW_INIT;
  x.fsw = 0;
  x.ftw = x87::FTW_ABRIDGED_EMPTY;
  x.fop = 0;
  x.fip = x.fdp = 0;
  x.fcs = x.fds = 0;
}
void h_fninit(Cpu& c, const DecodedInsn&) {
  check_fpu(c);
  fninit(c.state().x87);
}

// FNCLEX: clears the exception flags, SF, ES and B (vol. 2, FCLEX).
void h_fnclex(Cpu& c, const DecodedInsn&) {
  check_fpu(c);
  c.state().x87.fsw &= uint16_t(~(x87::FSW_EXCEPTIONS | x87::FSW_SF | x87::FSW_ES | x87::FSW_B));
}

// WAIT/FWAIT: #NM only with both CR0.MP and CR0.TS (vol. 3, table 2-2),
// then the pending-exception check.
void h_fwait(Cpu& c, const DecodedInsn& i) {
  if ((c.state().cr0 & (arch::cr0::MP | arch::cr0::TS)) == (arch::cr0::MP | arch::cr0::TS))
    raise_fault(uint8_t(arch::Vector::NM));
  x87_pending_check(c, i);
}

template <Form F>
void h_fldcw(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  x87_pending_check(c, i);
  X87State& x = c.state().x87;
  x.fcw = c.read<uint16_t>(form_linear<F>(c, i, 2, Access::Read));
  x87_loaded(x);
}
template <Form F>
void h_fnstcw(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  c.write<uint16_t>(form_linear<F>(c, i, 2, Access::Write), c.state().x87.fcw);
}
template <Form F>
void h_fnstsw(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  if constexpr (F == Form::R)
    set_reg<uint16_t>(c, RAX, c.state().x87.fsw);
  else
    c.write<uint16_t>(form_linear<F>(c, i, 2, Access::Write), c.state().x87.fsw);
}

// The FSTENV image (vol. 1, figures 8-9 and 8-11): the 32-bit
// protected-mode format, also used in 64-bit mode, or with an operand-size
// prefix the 16-bit one (the reserved upper halves of the 32-bit format:
// arch::fpuenv::RESERVED_ONES32).
template <bool O16>
void env_image(const X87State& x, uint8_t* img) {
  auto put16 = [&](unsigned off, uint16_t v) { std::memcpy(img + off, &v, 2); };
  auto put32 = [&](unsigned off, uint32_t v) { std::memcpy(img + off, &v, 4); };
  const uint16_t tw = full_tag_word(x);
  if constexpr (O16) {
    put16(env::FCW16, x.fcw);
    put16(env::FSW16, x.fsw);
    put16(env::FTW16, tw);
    put16(env::FIP16, uint16_t(x.fip));
    put16(env::FCS16, x.fcs);
    put16(env::FDP16, uint16_t(x.fdp));
    put16(env::FDS16, x.fds);
  } else {
    put32(env::FCW32, env::RESERVED_ONES32 | x.fcw);
    put32(env::FSW32, env::RESERVED_ONES32 | x.fsw);
    put32(env::FTW32, env::RESERVED_ONES32 | tw);
    put32(env::FIP32, uint32_t(x.fip));
    put32(env::FCS32, x.fcs | uint32_t(x.fop & x87::FOP_MASK) << env::FOP32_SHIFT);
    put32(env::FDP32, uint32_t(x.fdp));
    put32(env::FDS32, env::RESERVED_ONES32 | x.fds);
  }
}
// FLDENV keeps the physical registers (ROTATE: a new TOP renames them);
// FRSTOR loads them after, in the new stack order.
template <bool O16, bool ROTATE>
void load_env(X87State& x, const uint8_t* img) {
  auto get16 = [&](unsigned off) { uint16_t v; std::memcpy(&v, img + off, 2); return v; };
  auto get32 = [&](unsigned off) { uint32_t v; std::memcpy(&v, img + off, 4); return v; };
  const uint16_t fsw = get16(O16 ? env::FSW16 : env::FSW32);
  if constexpr (ROTATE) x87_set_top(x, (fsw & x87::FSW_TOP) >> x87::FSW_TOP_SHIFT);
  x.fsw = fsw;
  if constexpr (O16) {
    x.fcw = get16(env::FCW16);
    x.ftw = abridged_tag_word(get16(env::FTW16));
    x.fip = get16(env::FIP16);
    x.fcs = get16(env::FCS16);
    x.fdp = get16(env::FDP16);
    x.fds = get16(env::FDS16);
  } else {
    x.fcw = get16(env::FCW32);
    x.ftw = abridged_tag_word(get16(env::FTW32));
    x.fip = get32(env::FIP32);
    const uint32_t cs_op = get32(env::FCS32);
    x.fcs = uint16_t(cs_op);
    x.fop = uint16_t(cs_op >> env::FOP32_SHIFT) & x87::FOP_MASK;
    x.fdp = get32(env::FDP32);
    x.fds = get16(env::FDS32);
  }
  x87_loaded(x);
}

constexpr unsigned env_size(bool o16) { return o16 ? env::SIZE16 : env::SIZE32; }

// FNSTENV: stores the environment, then masks every exception (vol. 2,
// FSTENV). FNSAVE: the environment and ST0-ST7, then FNINIT (vol. 2, FSAVE).
template <Form F, bool O16, bool SAVE>
void h_fnstenv(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  constexpr unsigned n = env_size(O16) + (SAVE ? x87::REG_COUNT * x87::REG_BYTES : 0);
  const uint64_t la = form_linear<F>(c, i, n, Access::Write);
  X87State& x = c.state().x87;
  uint8_t img[n];
  env_image<O16>(x, img);
  if constexpr (SAVE)
    for (unsigned k = 0; k < x87::REG_COUNT; ++k) std::memcpy(img + env_size(O16) + x87::REG_BYTES * k, x.st[k], 10);
  write_bytes(c, la, img, n);
  if constexpr (SAVE)
    fninit(x);
  else
    x.fcw |= x87::FCW_MASKS;
}

// FLDENV / FRSTOR: waiting instructions that load what FNSTENV / FNSAVE
// store. The whole image is read before anything changes.
template <Form F, bool O16, bool SAVE>
void h_fldenv(Cpu& c, const DecodedInsn& i) {
  check_fpu(c);
  x87_pending_check(c, i);
  constexpr unsigned n = env_size(O16) + (SAVE ? x87::REG_COUNT * x87::REG_BYTES : 0);
  const uint64_t la = form_linear<F>(c, i, n, Access::Read);
  uint8_t img[n];
  read_bytes(c, la, img, n);
  X87State& x = c.state().x87;
  load_env<O16, !SAVE>(x, img);
  if constexpr (SAVE)
    for (unsigned k = 0; k < x87::REG_COUNT; ++k) std::memcpy(x.st[k], img + env_size(O16) + x87::REG_BYTES * k, 10);
}

// ---------------------------------------------------------------- select

// A memory-operand handler by the operand's form: pick(FormTag<F>{}).
template <typename Pick>
Handler by_mem_form(const DecodedInsn& d, CpuMode mode, Pick pick) {
  return form_of(d, 0, mode) == Form::M64 ? pick(FormTag<Form::M64>{}) : pick(FormTag<Form::M>{});
}

// The memory operand of x87 opcode `op` with ModR/M reg field `reg` (SDM
// vol. 2, appendix A.4, tables A-7 to A-22): its size, and whether it is a
// store. Sizes of 0 are the control instructions (handled in software)
// and the reserved encodings.
struct MemOperand {
  uint8_t size;
  bool store;
};
MemOperand mem_operand(uint8_t op, unsigned reg) {
  switch (op) {
    case 0xd8: return {4, false};                       // FADD..FDIVR m32fp
    case 0xda: return {4, false};                       // FIADD..FIDIVR m32int
    case 0xdc: return {8, false};                       // m64fp
    case 0xde: return {2, false};                       // m16int
    case 0xd9: {                                        // FLD, FST, FSTP m32fp
      static constexpr MemOperand t[8] = {{4, false}, {0, false}, {4, true}, {4, true}, {}, {}, {}, {}};
      return t[reg];
    }
    case 0xdb: {  // FILD, FISTTP, FIST, FISTP m32int; FLD, FSTP m80fp
      static constexpr MemOperand t[8] = {{4, false}, {4, true}, {4, true}, {4, true}, {}, {10, false}, {}, {10, true}};
      return t[reg];
    }
    case 0xdd: {  // FLD, FISTTP, FST, FSTP m64
      static constexpr MemOperand t[8] = {{8, false}, {8, true}, {8, true}, {8, true}, {}, {}, {}, {}};
      return t[reg];
    }
    default: {  // DF: FILD, FISTTP, FIST, FISTP m16int; FBLD, FILD m64int, FBSTP, FISTP m64int
      static constexpr MemOperand t[8] = {{2, false}, {2, true}, {2, true}, {2, true},
                                          {10, false}, {8, false}, {10, true}, {8, true}};
      return t[reg];
    }
  }
}

template <unsigned N, bool STORE>
Handler host_mem(const DecodedInsn& d, CpuMode mode) {
  return by_mem_form(d, mode, [](auto f) -> Handler { return &h_host<N, STORE, decltype(f)::value, false>; });
}

// The x87 control instructions done in software.
Handler select_control_insn(unsigned id, const DecodedInsn& d, CpuMode mode, CostClass& cost) {
  const bool mem0 = d.nops == 1 && d.op[0].kind == OpKind::Mem;
  const bool o16 = d.opsize == 2;
  cost = CostClass::load_store;
  switch (id) {
    case X86_INS_FNINIT: return &h_fninit;
    case X86_INS_FNCLEX: return &h_fnclex;
    case X86_INS_WAIT: return &h_fwait;
    case X86_INS_FLDCW:
      return mem0 ? by_mem_form(d, mode, [](auto f) -> Handler { return &h_fldcw<decltype(f)::value>; }) : nullptr;
    case X86_INS_FNSTCW:
      return mem0 ? by_mem_form(d, mode, [](auto f) -> Handler { return &h_fnstcw<decltype(f)::value>; }) : nullptr;
    case X86_INS_FNSTSW:
      if (d.nops == 1 && d.op[0].kind == OpKind::Reg) return d.op[0].reg == RAX ? &h_fnstsw<Form::R> : nullptr;
      return mem0 ? by_mem_form(d, mode, [](auto f) -> Handler { return &h_fnstsw<decltype(f)::value>; }) : nullptr;
    case X86_INS_FNSTENV: case X86_INS_FLDENV: case X86_INS_FNSAVE: case X86_INS_FRSTOR: {
      if (!mem0) return nullptr;
      const bool save = id == X86_INS_FNSAVE || id == X86_INS_FRSTOR;
      const bool store = id == X86_INS_FNSTENV || id == X86_INS_FNSAVE;
      if (save) cost = CostClass::fxsave;
      return by_mem_form(d, mode, [&](auto f) -> Handler {
        constexpr Form F = decltype(f)::value;
        if (store) {
          if (save) return o16 ? &h_fnstenv<F, true, true> : &h_fnstenv<F, false, true>;
          return o16 ? &h_fnstenv<F, true, false> : &h_fnstenv<F, false, false>;
        }
        if (save) return o16 ? &h_fldenv<F, true, true> : &h_fldenv<F, false, true>;
        return o16 ? &h_fldenv<F, true, false> : &h_fldenv<F, false, false>;
      });
    }
    default: return nullptr;
  }
}

bool is_x87_opcode(uint8_t op) { return op >= 0xd8 && op <= 0xdf; }

// The modeled cost of an x87 instruction run on the host.
CostClass host_cost(unsigned id, bool mem) {
  switch (id) {
    case X86_INS_FDIV: case X86_INS_FDIVP: case X86_INS_FDIVR: case X86_INS_FDIVRP: case X86_INS_FIDIV:
    case X86_INS_FIDIVR: case X86_INS_FSQRT: case X86_INS_FPREM: case X86_INS_FPREM1: case X86_INS_FSIN:
    case X86_INS_FCOS: case X86_INS_FSINCOS: case X86_INS_FPTAN: case X86_INS_FPATAN: case X86_INS_F2XM1:
    case X86_INS_FYL2X: case X86_INS_FYL2XP1: case X86_INS_FSCALE: case X86_INS_FXTRACT: case X86_INS_FBLD:
    case X86_INS_FBSTP:
      return CostClass::divide;
    case X86_INS_FMUL: case X86_INS_FMULP: case X86_INS_FIMUL: return CostClass::multiply;
    default: return mem ? CostClass::load_store : CostClass::simple;
  }
}

bool sets_rflags(unsigned id) {
  return id == X86_INS_FCOMI || id == X86_INS_FCOMIP || id == X86_INS_FUCOMI || id == X86_INS_FUCOMIP;
}

}  // namespace

// ------------------------------------------------------------ FXSAVE image

void x87_to_fxsave(const X87State& x, uint8_t* img, bool rex_w) {
  auto put = [&](unsigned off, auto v) { std::memcpy(img + off, &v, sizeof v); };
  put(fx::FCW, x.fcw);
  put(fx::FSW, x.fsw);
  put(fx::FTW, x.ftw);
  put(fx::FTW + 1, uint8_t(0));
  put(fx::FOP, uint16_t(x.fop & x87::FOP_MASK));
  if (rex_w) {
    put(fx::FIP, x.fip);
    put(fx::FDP, x.fdp);
  } else {
    put(fx::FIP, uint32_t(x.fip));
    put(fx::FCS, uint32_t(x.fcs));
    put(fx::FDP, uint32_t(x.fdp));
    put(fx::FDS, uint32_t(x.fds));
  }
  for (unsigned k = 0; k < x87::REG_COUNT; ++k) {
    std::memcpy(img + fx::ST0 + fx::SLOT * k, x.st[k], 10);
    std::memset(img + fx::ST0 + fx::SLOT * k + 10, 0, 6);
  }
}

void x87_from_fxsave(X87State& x, const uint8_t* img, bool rex_w) {
  auto get = [&](unsigned off, auto& v) { std::memcpy(&v, img + off, sizeof v); };
  get(fx::FCW, x.fcw);
  get(fx::FSW, x.fsw);
  get(fx::FTW, x.ftw);
  get(fx::FOP, x.fop);
  x.fop &= x87::FOP_MASK;
  if (rex_w) {
    get(fx::FIP, x.fip);
    get(fx::FDP, x.fdp);
    x.fcs = x.fds = 0;
  } else {
    uint32_t ip, dp;
    get(fx::FIP, ip);
    get(fx::FDP, dp);
    x.fip = ip;
    x.fdp = dp;
    get(fx::FCS, x.fcs);
    get(fx::FDS, x.fds);
  }
  for (unsigned k = 0; k < x87::REG_COUNT; ++k) std::memcpy(x.st[k], img + fx::ST0 + fx::SLOT * k, 10);
}

// ---------------------------------------------------------------- select

bool select_x87(unsigned id, uint8_t opcode, uint8_t modrm, DecodedInsn& d, CpuMode mode, const CostModel& costs) {
  CostClass cost = CostClass::simple;
  Handler h = select_control_insn(id, d, mode, cost);
  if (!h && is_x87_opcode(opcode)) {
    // Everything else Capstone decodes with an x87 opcode runs on the host.
    const bool mem = modrm < 0xc0;
    const unsigned reg = (modrm >> 3) & 7;
    if (mem) {
      const MemOperand m = mem_operand(opcode, reg);
      if (d.nops != 1 || d.op[0].kind != OpKind::Mem || m.size == 0) return false;
      switch (m.size) {
        case 2: h = m.store ? host_mem<2, true>(d, mode) : host_mem<2, false>(d, mode); break;
        case 4: h = m.store ? host_mem<4, true>(d, mode) : host_mem<4, false>(d, mode); break;
        case 8: h = m.store ? host_mem<8, true>(d, mode) : host_mem<8, false>(d, mode); break;
        default: h = m.store ? host_mem<10, true>(d, mode) : host_mem<10, false>(d, mode); break;
      }
    } else {
      h = sets_rflags(id) ? &h_host<0, false, Form::R, true> : &h_host<0, false, Form::R, false>;
    }
    // The stub, and the guest's 11-bit opcode for FOP (vol. 1, 8.1.9).
    d.imm = (opcode - 0xd8u) * 256u + (mem ? ((modrm & 0x38) | 7) : modrm);
    d.imm2 = uint16_t((opcode & 7u) << 8 | modrm);
    cost = host_cost(id, mem);
  }
  if (!h) return false;
  set_handler(d, h, costs, cost);
  return true;
}

}  // namespace nestbed::sim
