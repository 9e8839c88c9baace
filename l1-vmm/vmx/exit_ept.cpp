// EPT violations and misconfigurations. EPT01 maps all of the guest's RAM
// and the APIC page up front, so a violation is either the guest's access
// to a device l1-vmm emulates by exit (the I/O APIC page,
// devices/mmio.h), or the guest touching guest-physical memory it does not
// have. A read there gets the platform's answer, all-ones (a read-only page
// of them is mapped); a write would have to be dropped, which l1-vmm does
// not do for memory that is no device, so it stops the guest and says
// where. A misconfiguration is l1-vmm's own bug.
#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"
#include "l1-vmm/devices/mmio.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/mm/phys_alloc.h"
#include "l1-vmm/vmx/ept.h"
#include "l1-vmm/panic.h"
#include "l1-vmm/vmx/exit_handlers.h"

namespace l1 {
namespace {

using namespace arch::vmx;
using F = VmcsField;
namespace q = qual_ept_violation;

const char* access_name(uint64_t qual) {
  if (q::FETCH.test(qual)) return "instruction fetch from";
  if (q::WRITE.test(qual)) return "write to";
  return "read of";
}

}  // namespace

void handle_ept_violation(Vcpu& v) {
  const uint64_t qual = v.exit.qualification;
  const uint64_t gpa = vmcs_read(F::GUEST_PHYSICAL_ADDRESS);
  const bool device = mmio_forwarded(gpa);
  // A load or store of an emulated device register by the instruction at
  // RIP: not an instruction fetch, and not an access of the processor's own
  // while delivering an event (IDT-vectoring information valid, SDM 27.2.4),
  // which no instruction at RIP made.
  if (device && !q::FETCH.test(qual) && !intr_info::VALID.test(v.exit.idt_vectoring))
    return emulate_mmio(v, gpa);
  // A read or fetch outside RAM and the devices: all-ones, as natively (a
  // write would have to be dropped, which needs the instruction emulated:
  // it stops the guest).
  const bool write = q::WRITE.test(qual);
  if (!device && !write && !guest_memory.contains(gpa & ~(arch::pte::PAGE_SIZE - 1), arch::pte::PAGE_SIZE) &&
      (gpa >> arch::pte::MAXPHYADDR) == 0) {
    ept01.map_range(gpa & ~(arch::pte::PAGE_SIZE - 1), no_ram_page(), arch::pte::PAGE_SIZE,
                    ept_entry::READ.mask | ept_entry::EXECUTE.mask | ept_entry::MEMORY_TYPE.make(ept_memory_type::UC));
    return;
  }
  const uint64_t rip = vmcs_read(F::GUEST_RIP);
  const bool linear = q::GLA_VALID.test(qual);
  const uint64_t la = linear ? vmcs_read(F::GUEST_LINEAR_ADDRESS) : 0;
  const char* where = device ? "the I/O APIC's page, where l1-vmm emulates an instruction's loads and stores only"
                       : guest_memory.contains(gpa, 1) ? "which EPT01 does not allow there"
                                                       : "outside its RAM and the devices l1-vmm maps";
  fatal(L1_GUEST_FAILED, "guest stopped: %s guest-physical 0x%lx (%s; the guest has %lu MiB of RAM): EPT violation, "
        "qualification 0x%lx, guest rip 0x%lx%s0x%lx", access_name(qual), gpa, where, guest_memory.size >> 20, qual, rip,
        linear ? ", linear address " : ", no linear address ", la);
}

void handle_ept_misconfig(Vcpu& v) {
  (void)v;
  fatal(L1_PANIC, "EPT misconfiguration at guest-physical 0x%lx (guest rip 0x%lx): EPT01 is malformed, an l1-vmm bug",
        vmcs_read(F::GUEST_PHYSICAL_ADDRESS), vmcs_read(F::GUEST_RIP));
}

}  // namespace l1
