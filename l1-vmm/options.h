// l1-vmm's cmdline options (README.md, "Options"). The cmdline is the
// Multiboot one: its first word is l1-vmm's image name, then words
// `name` (a flag: name=1) or `name=value` (decimal or 0x hex).
#pragma once
#include <stdint.h>

namespace l1 {

struct Options {
  bool stats = false;         // print per-reason exit counts and cycles when the run ends
  bool verbose = false;       // a boot banner: level, guest memory, controls in use
  uint64_t guest_mem_mib = 0; // the guest's RAM; 0: the default (README.md, "Memory")
  bool exit_hlt = false;      // HLT exiting (the guest halts in activity state HLT)
  bool exit_pio = false;      // every I/O instruction exits, passthrough ports too
  bool exit_intr = false;     // external-interrupt exiting; l1-vmm injects each interrupt
  bool vpid = true;           // tag the guest's TLB entries with VPID 1 (if the processor can)
  uint32_t preempt = 0;       // VMX-preemption timer value armed at every entry; 0: off
  uint32_t exit_exc = 0;      // exception bitmap: these exceptions exit and are reflected
  bool nested = true;         // offer VMX to the guest (nested/); 0: VMX hidden, as on a CPU without it
  bool shadow_vmcs = true;    // VMCS shadowing: used for the guest hypervisor if the platform has it, and offered
  bool test_leak_page = false; // TEST ONLY, a deliberate hole: vmx/test_misconfig.h
};

// Parses the cmdline (whose first word, the image name, is skipped). A
// malformed or unknown option ends the run with L1_USAGE and the list of
// options.
Options parse_options(const char* cmdline);

}  // namespace l1
