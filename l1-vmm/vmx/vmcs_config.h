// What the processor's VMX offers (the capability MSRs, SDM appendix A) and
// the controls l1-vmm runs its guest with, chosen from them as a real VMM
// does (KVM's setup_vmcs_config): each control word is l1-vmm's required
// and wanted bits adjusted by the allowed-0/allowed-1 settings, and a
// required bit the processor cannot set ends the run naming the control.
#pragma once
#include <stdint.h>

#include "l1-vmm/options.h"
#include "runtime/vmx.h"

namespace l1 {

struct VmcsConfig {
  // The capability MSRs (only those that exist; the true controls where
  // they exist, SDM A.2).
  rt::vmx::Capabilities caps;
  // The controls chosen.
  uint32_t pin, proc, proc2, exit, entry;

  uint32_t revision() const;
  uint32_t vmcs_size() const;
  bool can_set_proc(uint32_t proc_bit) const;  // may this primary control be 1?
  bool ept_2mb_pages() const;
  bool vpid() const;
  bool ept_write_back() const;
  bool store_efer_lma() const;  // VM exits keep "IA-32e mode guest" = EFER.LMA (IA32_VMX_MISC bit 5)
};

// Reads the MSRs and chooses the controls for `opt`; ends the run
// (L1_NO_VMX) if the processor lacks what l1-vmm needs or an option asks
// for a control it lacks.
VmcsConfig setup_vmcs_config(const Options& opt);

// The processor's and the chosen configuration, for `verbose`.
void print_vmcs_config(const VmcsConfig& c);

}  // namespace l1
