// EPT01: the guest-physical -> host-physical map of l1-vmm's guest (SDM
// 28.2), a 4-level structure built once at boot from pages of l1-vmm's
// allocator: the guest's RAM with 2 MiB pages where both addresses are
// 2 MiB aligned (4 KiB pages elsewhere), and the local APIC's page passed
// through (README.md, "Devices"). Everything else is unmapped: a guest
// access there is an EPT violation (emulated for the I/O APIC's page,
// devices/mmio.h).
#pragma once
#include <stdint.h>

namespace l1 {

struct VmcsConfig;

class Ept {
 public:
  void init(const VmcsConfig& config);
  // Maps [gpa, gpa + size) to [hpa, ...) with `leaf_bits` (permissions and
  // memory type), using 2 MiB pages where alignment and the processor allow.
  void map_range(uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t leaf_bits);
  uint64_t eptp() const { return eptp_; }
  // The leaf entry for `gpa` and its level (1: 4 KiB, 2: 2 MiB), or nullptr.
  uint64_t* leaf(uint64_t gpa, unsigned& level) const;

 private:
  void map_page(uint64_t gpa, uint64_t hpa, unsigned level, uint64_t leaf_bits);
  uint64_t root_ = 0;
  uint64_t eptp_ = 0;
  bool large_pages_ = false;
};

extern Ept ept01;

// A page of all-ones (allocated at the first call): mapped read/execute
// wherever a guest reads guest-physical memory that is neither RAM nor a
// device, in EPT01 and in EPT02 alike, since on the platform such reads
// return all-ones too (l0's unassigned memory).
uint64_t no_ram_page();

// EPT01 for guest_memory and the APIC page.
void build_ept01(const VmcsConfig& config);

}  // namespace l1
