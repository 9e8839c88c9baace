#include "l1-vmm/vmx/test_misconfig.h"

#include "arch/multiboot.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/paging.h"
#include "l1-vmm/mm/guest_memory.h"
#include "l1-vmm/vmx/ept.h"
#include "runtime/runtime.h"

extern "C" const arch::multiboot::Header rt_multiboot_header;  // the start of the image (runtime/boot.cpp)

namespace l1 {

void map_test_leak_page() {
  using namespace arch::vmx;
  const uint64_t own = reinterpret_cast<uint64_t>(&rt_multiboot_header) & ~(arch::pte::PAGE_SIZE - 1);
  ept01.map_range(guest_memory.size, own, arch::pte::PAGE_SIZE,
                  ept_entry::READ.mask | ept_entry::WRITE.mask | ept_entry::MEMORY_TYPE.make(ept_memory_type::WB));
  rt::printf("l1-vmm: TEST ONLY test_leak_page: guest-physical 0x%lx maps l1-vmm's own page 0x%lx\n",
             guest_memory.size, own);
}

}  // namespace l1
