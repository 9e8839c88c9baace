#include "l1-vmm/devices/mmio.h"

#include "arch/vmx/vmx.h"
#include "arch/x86/control_regs.h"
#include "arch/x86/io_apic.h"
#include "arch/x86/paging.h"
#include "arch/x86/segment.h"
#include "l1-vmm/devices/mmio_decode.h"
#include "l1-vmm/nested/guest_access.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/stats.h"
#include "l1-vmm/vmx/vcpu.h"

namespace l1 {
namespace {

using F = arch::vmx::VmcsField;
using devices::CodeSize;
using devices::DecodeResult;
using devices::DecodeStatus;
using devices::MmioInstruction;
namespace q = arch::vmx::qual_ept_violation;
constexpr uint64_t PAGE_4K = arch::pte::PAGE_SIZE;

// The code segment's default sizes: 64-bit code (CS.L in IA-32e mode),
// else CS.D; real mode (CR0.PE clear, unrestricted guest) is 16-bit.
CodeSize code_size() {
  if (guest_64bit_code()) return CodeSize::Bits64;
  if (!(vmcs_read(F::GUEST_CR0) & arch::cr0::PE)) return CodeSize::Bits16;
  return (vmcs_read(F::GUEST_CS_AR_BYTES) & arch::seg::ar::DB) ? CodeSize::Bits32 : CodeSize::Bits16;
}

// CS:RIP as a linear address: in 64-bit mode CS's base is 0 (SDM 3.4.4);
// otherwise the base plus EIP (IP), cut to 32 bits.
uint64_t code_linear_address(CodeSize code) {
  const uint64_t rip = vmcs_read(F::GUEST_RIP);
  if (code == CodeSize::Bits64) return rip;
  return uint32_t(vmcs_read(F::GUEST_CS_BASE) + rip);
}

// Fetches and decodes the instruction at `la`: the bytes up to the end of
// its page first, the next page only if the instruction goes on there (so
// an instruction at the end of a page whose successor is not mapped does
// not fault); `have` says how many were fetched. False: fetching faulted,
// a #PF was injected.
bool fetch_and_decode(Vcpu& v, uint64_t la, CodeSize code, uint8_t (&bytes)[devices::MAX_INSTRUCTION_LENGTH],
                      unsigned& have, DecodeResult& result) {
  const unsigned first = unsigned(PAGE_4K - (la & (PAGE_4K - 1)));
  have = first < devices::MAX_INSTRUCTION_LENGTH ? first : devices::MAX_INSTRUCTION_LENGTH;
  if (!nested::read_guest_linear(v, la, bytes, have)) return false;
  result = devices::decode_mmio_instruction(bytes, have, code);
  if (result.status != DecodeStatus::Truncated) return true;
  if (!nested::read_guest_linear(v, la + have, bytes + have, devices::MAX_INSTRUCTION_LENGTH - have)) return false;
  have = devices::MAX_INSTRUCTION_LENGTH;
  result = devices::decode_mmio_instruction(bytes, have, code);
  return true;
}

[[noreturn]] void cannot_emulate(uint64_t gpa, uint64_t la, const uint8_t* bytes, unsigned len, const char* why) {
  // "8b 04 25 10 00 c0 fe": what objdump would show.
  char hex[3 * devices::MAX_INSTRUCTION_LENGTH + 1];
  static const char DIGITS[] = "0123456789abcdef";
  unsigned n = 0;
  for (unsigned i = 0; i < len; i++) {
    if (i) hex[n++] = ' ';
    hex[n++] = DIGITS[bytes[i] >> 4];
    hex[n++] = DIGITS[bytes[i] & 15];
  }
  hex[n] = 0;
  fatal(L1_GUEST_FAILED, "guest stopped: MMIO access to guest-physical 0x%lx by an instruction l1-vmm cannot "
        "emulate (%s) at linear 0x%lx, bytes %s", gpa, why, la, hex);
}

// The platform's device, through l1-vmm's identity map (uncached there:
// runtime/boot.cpp). One MOV of the guest's width, so the device sees the
// same access as natively; inline assembly, so the compiler neither splits
// nor merges it.
uint64_t platform_read(uint64_t pa, unsigned size) {
  uint64_t v = 0;
  switch (size) {
    case 1: asm volatile("movb (%1), %b0" : "=q"(v) : "r"(pa) : "memory"); return uint8_t(v);
    case 2: asm volatile("movw (%1), %w0" : "=r"(v) : "r"(pa) : "memory"); return uint16_t(v);
    case 4: asm volatile("movl (%1), %k0" : "=r"(v) : "r"(pa) : "memory"); return uint32_t(v);
    default: asm volatile("movq (%1), %0" : "=r"(v) : "r"(pa) : "memory"); return v;
  }
}

void platform_write(uint64_t pa, unsigned size, uint64_t v) {
  switch (size) {
    case 1: asm volatile("movb %b0, (%1)" : : "q"(v), "r"(pa) : "memory"); break;
    case 2: asm volatile("movw %w0, (%1)" : : "r"(v), "r"(pa) : "memory"); break;
    case 4: asm volatile("movl %k0, (%1)" : : "r"(v), "r"(pa) : "memory"); break;
    default: asm volatile("movq %0, (%1)" : : "r"(v), "r"(pa) : "memory"); break;
  }
}

}  // namespace

bool mmio_forwarded(uint64_t gpa) {
  return gpa >= arch::io_apic::DEFAULT_BASE && gpa - arch::io_apic::DEFAULT_BASE < arch::io_apic::MMIO_SIZE;
}

void emulate_mmio(Vcpu& v, uint64_t gpa) {
  const CodeSize code = code_size();
  const uint64_t la = code_linear_address(code);
  uint8_t bytes[devices::MAX_INSTRUCTION_LENGTH] = {};
  unsigned have = 0;
  DecodeResult d{};
  if (!fetch_and_decode(v, la, code, bytes, have, d)) return;  // the guest takes the #PF, then retries
  if (d.status != DecodeStatus::Ok) cannot_emulate(gpa, la, bytes, have, d.why);
  const MmioInstruction& insn = d.insn;
  // The exit must describe this instruction's access (SDM 28.3.3.2): its
  // direction, and all of it inside the forwarded page.
  if (insn.write != q::WRITE.test(v.exit.qualification))
    cannot_emulate(gpa, la, bytes, insn.length, insn.write ? "a store, but the exit says read" : "a load, but the exit says write");
  if (!mmio_forwarded(gpa + insn.size - 1))
    cannot_emulate(gpa, la, bytes, insn.length, "an access that leaves the device's page");

  const unsigned r = devices::gpr_index(insn);
  if (insn.write) platform_write(gpa, insn.size, devices::store_value(insn, v.gpr(r)));
  else v.set_gpr(r, devices::load_result(insn, v.gpr(r), platform_read(gpa, insn.size)));
  stats_record_mmio(gpa);
  skip_instruction(v, insn.length);
}

}  // namespace l1
