// Events: external interrupts from the APIC, exception and interrupt
// delivery through the IDT in IA-32e and protected mode (SDM vol. 3,
// 6.12-6.14), the double-fault and triple-fault rules (SDM 6.15), HLT,
// interrupt shadows, IRET and far returns.
#include <cinttypes>
#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "arch/x86/control_regs.h"
#include "arch/x86/debug.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/rflags.h"
#include "arch/x86/segment.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/msr.h"
#include "l0/sim/cpu/cpu.h"
#include "l0/sim/vmx/vmx.h"

namespace nestbed::sim {

using namespace arch;

namespace {
// SDM table 6-5: does a fault `second` raised while delivering `first`
// become a double fault?
bool is_double_fault(uint8_t first, uint8_t second) {
  const bool first_contributory = exception_is_contributory(first);
  const bool second_contributory = exception_is_contributory(second);
  if (first_contributory && second_contributory) return true;
  if (first == uint8_t(Vector::PF) && (second_contributory || second == uint8_t(Vector::PF))) return true;
  return false;
}

// IRET and far RET to an outer privilege level (SDM vol. 2, IRET/RET
// "RETURN-TO-OUTER-PRIVILEGE-LEVEL"): ES, FS, GS and DS holding a data or
// non-conforming code segment more privileged than the new CPL are made
// null, so the outer level cannot keep using them.
void invalidate_inner_segments(CpuState& s) {
  for (unsigned i : {seg::ES, seg::FS, seg::GS, seg::DS}) {
    Segment& sg = s.seg[i];
    const unsigned dpl = (sg.ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
    const bool conforming_code = (sg.ar & seg::ar::TYPE_CODE) && (sg.ar & seg::ar::TYPE_CONFORMING);
    if (!conforming_code && dpl < s.cpl) {
      sg.selector = 0;
      sg.ar |= seg::ar::UNUSABLE;  // the base stays: FS/GS bases in 64-bit mode are not the selector's
    }
  }
}
}  // namespace

void Cpu::service_events() {
  dev_.apic.update();
  next_event_ = dev_.apic.next_event();
  if (non_root_ && vmx_events()) return;
  // An NMI comes before maskable interrupts, whatever IF says; blocking by
  // NMI and by MOV SS hold it (SDM 6.7.1, 6.8.3, table 6-2).
  if (NB_UNLIKELY(dev_.apic.nmi_pending()) && !nmi_blocked_ && !shadow_by_mov_ss()) {
    deliver_nmi();
    return;
  }
  if (shadow_) {
    // Interrupts are blocked for one instruction after STI / MOV SS.
    next_event_ = 0;
    return;
  }
  if ((s_.rflags & rflags::IF) && deliver_pending_interrupt()) {
    halted_ = false;
    return;
  }
  if (!halted_) return;
  const bool external_exits = non_root_ && (vmx_->controls().pin & arch::vmx::pin_ctl::EXTERNAL_INTERRUPT_EXITING);
  if (!(s_.rflags & rflags::IF) && !external_exits && !(non_root_ && vmx_->preemption_deadline() != ~0ull)) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "HLT with interrupts disabled and nothing pending (rip 0x%" PRIx64 ")", s_.rip());
    stop(CpuStop::Halted, msg);
    return;
  }
  uint64_t wake = dev_.apic.next_event();
  if (non_root_) wake = std::min(wake, vmx_->preemption_deadline());
  if (wake == ~0ull) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "HLT with no interrupt source armed (rip 0x%" PRIx64 ")", s_.rip());
    stop(CpuStop::Halted, msg);
    return;
  }
  // Asleep until the timer fires: modeled time jumps to the deadline.
  if (wake > cycles_) cycles_ = wake;
  next_event_ = 0;
}

// Events of VMX non-root operation at an instruction boundary, in the
// priority order of SDM 26.7.x/25.2: VMX-preemption timer, NMI window,
// interrupt window and virtual-interrupt delivery (29.2.2: the same
// priority), external interrupts (with "external-interrupt exiting": a VM
// exit, or posted-interrupt processing for the notification vector).
// Returns true if a VM exit happened.
bool Cpu::vmx_events() {
  namespace v = arch::vmx;
  const vmx::GuestControls& ctl = vmx_->controls();
  const uint64_t deadline = vmx_->preemption_deadline();
  if (deadline != ~0ull) {
    if (cycles() >= deadline) {
      deliver_vm_exit(vmx::VmExitRequest{uint32_t(v::ExitReason::PREEMPTION_TIMER)});
      return true;
    }
    next_event_ = std::min(next_event_, deadline);
  }
  // "NMI exiting": an NMI the guest could take is a VM exit instead (SDM
  // 25.2), below the preemption timer (26.6.4); the processor then blocks
  // NMIs until the VMM's IRET, as after an NMI's delivery.
  if ((ctl.pin & v::pin_ctl::NMI_EXITING) && dev_.apic.nmi_pending() && !nmi_blocked_ && !shadow_by_mov_ss()) {
    dev_.apic.take_nmi();
    ++counters_.interrupts;
    halted_ = false;
    vmx::VmExitRequest r{uint32_t(v::ExitReason::EXCEPTION_NMI)};
    r.intr_info = uint32_t(v::intr_info::VECTOR.make(uint64_t(Vector::NMI)) |
                           v::intr_info::TYPE.make(v::intr_info::TYPE_NMI) | v::intr_info::VALID.mask);
    deliver_vm_exit(r);
    nmi_blocked_ = true;
    return true;
  }
  if ((ctl.proc & v::proc_ctl::NMI_WINDOW_EXITING) && !vmx_->virtual_nmi_blocked()) {
    // The NMI window is open when there is no virtual-NMI blocking and no
    // blocking by MOV SS (SDM 25.2; blocking by STI, which a processor may
    // also honour, does not hold it back here). The exit wakes HLT.
    if (!shadow_by_mov_ss()) {
      halted_ = false;
      deliver_vm_exit(vmx::VmExitRequest{uint32_t(v::ExitReason::NMI_WINDOW)});
      return true;
    }
    next_event_ = 0;  // after the instruction in the shadow
  }
  // Interrupt-window exits and virtual-interrupt delivery (which never
  // meet: a guest with the control recognizes no virtual interrupt) come
  // before external interrupts (SDM 25.2, 29.2.2).
  if ((ctl.proc & v::proc_ctl::INTERRUPT_WINDOW_EXITING) && (s_.rflags & rflags::IF) && !shadow_) {
    halted_ = false;
    deliver_vm_exit(vmx::VmExitRequest{uint32_t(v::ExitReason::INTERRUPT_WINDOW)});
    return true;
  }
  // A recognized virtual interrupt is delivered when RFLAGS.IF = 1 with no
  // blocking by STI or MOV SS (an "interrupt-window exiting" guest never
  // recognizes one), as an external interrupt through the guest's IDT; it
  // wakes HLT (29.2.2). Then, at the boundary before the handler's first
  // instruction, an external interrupt still exits (below). True if the
  // delivery itself made a VM exit.
  const auto deliver_virtual_interrupt = [&] {
    if (!(s_.rflags & rflags::IF) || shadow_) {
      next_event_ = 0;  // blocked: look again after each block
      return false;
    }
    halted_ = false;
    const uint8_t vector = vmx_->deliver_virtual_interrupt();
    ++counters_.interrupts;
    deliver_event(vector, false, 0, false, true, 0);
    return !non_root_;
  };
  if (vmx_->virtual_interrupt_recognized() && deliver_virtual_interrupt()) return true;
  if ((ctl.pin & v::pin_ctl::EXTERNAL_INTERRUPT_EXITING) && NB_UNLIKELY(dev_.extint_pending())) {
    // The 8259A's INTR exits like the APIC's interrupts; "acknowledge
    // interrupt on exit" takes its vector from the PIC (SDM 27.2.2).
    vmx::VmExitRequest r{uint32_t(v::ExitReason::EXTERNAL_INTERRUPT)};
    if (ctl.exit & v::exit_ctl::ACK_INTERRUPT_ON_EXIT) {
      ++counters_.interrupts;
      r.intr_info = uint32_t(v::intr_info::VECTOR.make(uint64_t(dev_.pic.acknowledge())) |
                             v::intr_info::TYPE.make(v::intr_info::TYPE_EXTERNAL_INTERRUPT) | v::intr_info::VALID.mask);
    }
    halted_ = false;
    deliver_vm_exit(r);
    return true;
  }
  while ((ctl.pin & v::pin_ctl::EXTERNAL_INTERRUPT_EXITING) && dev_.apic.pending_vector() >= 0) {
    const int vector = dev_.apic.pending_vector();
    if ((ctl.pin & v::pin_ctl::POSTED_INTERRUPTS) && vector == ctl.notification_vector) {
      // Posted-interrupt processing instead of a VM exit (SDM 29.6): the
      // APIC acknowledged and the notification dismissed with an EOI, then
      // PIR into VIRR and evaluation, whose interrupt may go at once. In
      // HLT the processor stays halted unless one is delivered.
      dev_.apic.acknowledge(vector);
      dev_.apic.eoi();
      vmx_->process_posted_interrupts();
      if (vmx_->virtual_interrupt_recognized() && deliver_virtual_interrupt()) return true;
      continue;
    }
    // RFLAGS.IF and STI/MOV-SS blocking do not hold the exit back (SDM 25.2).
    vmx::VmExitRequest r{uint32_t(v::ExitReason::EXTERNAL_INTERRUPT)};
    if (ctl.exit & v::exit_ctl::ACK_INTERRUPT_ON_EXIT) {
      dev_.apic.acknowledge(vector);
      ++counters_.interrupts;
      r.intr_info = uint32_t(v::intr_info::VECTOR.make(uint64_t(vector)) |
                             v::intr_info::TYPE.make(v::intr_info::TYPE_EXTERNAL_INTERRUPT) | v::intr_info::VALID.mask);
    }
    halted_ = false;
    deliver_vm_exit(r);
    return true;
  }
  if (ctl.proc & v::proc_ctl::INTERRUPT_WINDOW_EXITING) next_event_ = 0;  // look again after each block
  return false;
}

// NMI delivery (SDM 6.7): vector 2 through the IDT, like a hardware
// interrupt but not subject to IF; NMIs stay blocked until the next IRET.
// It wakes HLT.
void Cpu::deliver_nmi() {
  dev_.apic.take_nmi();
  ++counters_.interrupts;
  halted_ = false;
  deliver_event(uint8_t(Vector::NMI), false, 0, false, false, 0);
}

bool Cpu::deliver_pending_interrupt() {
  // The 8259A's INTR (ExtINT): acknowledged from the PIC, not the APIC's
  // IRR, and not subject to the APIC's priorities (SDM 11.5.1). It is
  // taken before the APIC's fixed interrupts here.
  if (NB_UNLIKELY(dev_.extint_pending())) {
    ++counters_.interrupts;
    deliver_event(dev_.pic.acknowledge(), false, 0, false, true, 0);
    return true;
  }
  const int vector = dev_.apic.pending_vector();
  if (vector < 0) return false;
  dev_.apic.acknowledge(vector);
  ++counters_.interrupts;
  deliver_event(uint8_t(vector), false, 0, false, true, 0);
  next_event_ = dev_.apic.next_event();
  return true;
}

// The interruption information of an event (SDM 24.9.2/24.9.3 format).
static uint32_t event_info(uint8_t vector, bool has_error, bool is_software, bool is_external,
                           bool privileged_software = false) {
  namespace v = arch::vmx;
  uint64_t type = v::intr_info::TYPE_HARDWARE_EXCEPTION;
  if (is_external) type = v::intr_info::TYPE_EXTERNAL_INTERRUPT;
  else if (privileged_software) type = v::intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION;  // ICEBP
  // Vector 2 delivered as an event is an NMI (type 2, SDM 24.8.3): no
  // exception uses it (INT 2 is a software interrupt).
  else if (vector == 2 && !is_software) type = v::intr_info::TYPE_NMI;
  else if (is_software) type = (vector == 3 || vector == 4) ? v::intr_info::TYPE_SOFTWARE_EXCEPTION
                                                            : v::intr_info::TYPE_SOFTWARE_INTERRUPT;
  return uint32_t(v::intr_info::VECTOR.make(vector) | v::intr_info::TYPE.make(type) |
                  v::intr_info::ERROR_CODE_VALID.make(has_error) | v::intr_info::VALID.mask);
}

void Cpu::deliver_event(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external,
                        unsigned insn_len) {
  namespace v = arch::vmx;
  cycles_ += costs_[CostClass::interrupt_delivery];
  bool check_bitmap = !injecting_;
  // An event injected by VM entry leaves CR2 alone: the VMM loaded the
  // guest's CR2 itself (SDM 26.6.1; CR2 is not part of the guest state).
  const bool injected = injecting_;
  injecting_ = false;
  // ICEBP: a #DB that is delivered like a software interrupt (it pushes the
  // next RIP and reports its length) without the gate's DPL check.
  bool privileged = std::exchange(privileged_software_, false);
  bool injected_now = injected;
  // Where a last-branch record of this event comes from: the instruction
  // that raised a software interrupt or exception, else the RIP the event
  // interrupts (the faulting instruction's for a fault).
  const uint64_t lbr_from =
      NB_UNLIKELY(s_.debugctl & arch::msr::DEBUGCTL_LBR) ? ((is_software || privileged) ? fault_rip() : s_.rip()) : 0;
  for (;;) {
    // In non-root operation exceptions (and INT3/INTO, ICEBP) may exit
    // instead of being delivered (SDM 25.2); INT n and external interrupts
    // never do.
    // Real-address mode pushes no error code (SDM 20.1.4), and an exit
    // reports none (SDM 27.2.2: only one "that would have delivered" it).
    if (real_mode()) has_error = false;
    const bool is_int_n = is_software && vector != 3 && vector != 4;
    const bool soft_like = is_software || privileged;
    // An NMI never consults the exception bitmap ("NMI exiting" decides, in
    // vmx_events; an injected one is delivered).
    const bool is_nmi = vector == uint8_t(Vector::NMI) && !soft_like && !is_external;
    // A #DB's DR6 bits: DR6 takes them on delivery; an exit reports them
    // in its qualification and leaves DR6 alone (SDM 27.1, 27.2.1).
    const bool db_payload = vector == uint8_t(Vector::DB) && !soft_like && !is_external && db_payload_valid_;
    // RF in the RFLAGS image: 1 for fault-class exceptions but #DB, and for
    // an event between two iterations of a REP string instruction (SDM
    // 18.3.1.1); a VM exit instead of the event saves the same RF (27.3.3).
    // An event injected by VM entry pushes RF as the guest state loaded it
    // (the VMM sets it for a fault it reflects, SDM 26.6.1.3).
    push_rf_ = !injected_now && ((!soft_like && !is_external && arch::exception_pushes_rf(vector)) || string_interrupted_);
    injected_now = false;
    if (non_root_ && check_bitmap && !is_external && !is_int_n && !is_nmi &&
        vmx_->exception_exits(vector, has_error, error)) {
      vmx::VmExitRequest r{uint32_t(v::ExitReason::EXCEPTION_NMI)};
      r.intr_info = event_info(vector, has_error, is_software, false, privileged);
      r.intr_error = has_error ? error : 0;
      if (vector == uint8_t(Vector::PF)) r.qualification = pf_linear_;  // CR2 is not loaded (SDM 27.1)
      if (db_payload) r.qualification = db_payload_;
      db_payload_valid_ = false;
      if (soft_like) {
        r.insn_len = insn_len;
        s_.rip() = fault_rip();
      }
      if (push_rf_) s_.rflags |= rflags::RF;
      deliver_vm_exit(r);
      return;
    }
    check_bitmap = true;
    try {
      if (vector == uint8_t(Vector::PF) && !is_software && !injected) s_.cr2 = pf_linear_;
      if (db_payload) {
        // B0-B3 report this #DB's breakpoints only; BD, BS and BT stay set
        // until software clears them (SDM 18.2.3). GD is cleared so the
        // handler may use the debug registers.
        s_.dr[6] = (s_.dr[6] & ~debug::DR6_B0_B3) | db_payload_;
        s_.dr[7] &= ~debug::DR7_GD;
      }
      if (s_.efer & efer::LMA)
        deliver_event_long(vector, has_error, error, is_software, is_external);
      else if (real_mode())
        deliver_event_real(vector);
      else
        deliver_event_legacy(vector, has_error, error, is_software, is_external);
      db_payload_valid_ = false;
      string_interrupted_ = false;
      // A delivered NMI blocks NMIs; in a guest with "virtual NMIs" an
      // injected one blocks virtual NMIs instead (vmx.cpp, SDM 26.6.1.2).
      if (is_nmi && !(non_root_ && (vmx_->controls().pin & v::pin_ctl::VIRTUAL_NMIS))) nmi_blocked_ = true;
      if (NB_UNLIKELY(s_.debugctl & arch::msr::DEBUGCTL_LBR))
        lbr_event(lbr_from, vector == uint8_t(Vector::DB) && !is_software && !is_external);
      // SDM 17.4.3: "The processor clears the BTF flag when it generates a
      // debug exception"; a debugger sets it again to go on stepping by branches.
      if (NB_UNLIKELY(s_.debugctl & arch::msr::DEBUGCTL_BTF) && vector == uint8_t(Vector::DB) && !is_software &&
          !is_external) {
        s_.debugctl &= ~arch::msr::DEBUGCTL_BTF;
        debugctl_changed();
      }
      halted_ = false;
      end_block();
      return;
    } catch (const vmx::VmExitRequest& exit) {
      // An exit (EPT violation, ...) while delivering: report the event in
      // the IDT-vectoring information (SDM 27.2.4).
      idt_vectoring_info_ = event_info(vector, has_error, is_software, is_external, privileged);
      idt_vectoring_error_ = has_error ? error : 0;
      db_payload_valid_ = false;
      // RF is saved as the event would have pushed it (SDM 27.3.3).
      if (push_rf_) s_.rflags |= rflags::RF;
      vmx::VmExitRequest r = exit;
      if (soft_like) {
        s_.rip() = fault_rip();
        r.insn_len = insn_len;
      }
      deliver_vm_exit(r);
      return;
    } catch (const GuestFault& f) {
      // A fault while delivering `vector`. A software interrupt's faults
      // report the INT instruction itself (they are faults, not traps).
      if (soft_like) s_.rip() = fault_rip();
      db_payload_valid_ = false;
      if (vector == uint8_t(Vector::DF)) {
        if (non_root_) {  // a triple fault in non-root operation exits (SDM 25.2)
          deliver_vm_exit(vmx::VmExitRequest{uint32_t(v::ExitReason::TRIPLE_FAULT)});
          return;
        }
        char msg[160];
        std::snprintf(msg, sizeof msg, "triple fault: %s (error 0x%x) while delivering #DF at rip 0x%" PRIx64,
                      exception_name(f.vector), f.error_code, s_.rip());
        stop(CpuStop::TripleFault, msg);
        return;
      }
      ++counters_.exceptions;
      if (!is_software && !is_external && is_double_fault(vector, f.vector)) {
        vector = uint8_t(Vector::DF), has_error = true, error = 0;
      } else {
        vector = f.vector, has_error = f.has_error_code, error = f.error_code;
      }
      is_software = false;
      is_external = false;
      privileged = false;
    }
  }
}

// VM-entry event injection (SDM 26.6): delivered as if it had just occurred,
// without consulting the exception bitmap for the injected event itself.
void Cpu::inject(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external,
                 uint64_t report_rip, unsigned insn_len) {
  settle_fast_path();  // VM entry, from VMLAUNCH/VMRESUME's handler
  fault_rip_ = report_rip;
  injecting_ = true;
  if (is_external) ++counters_.interrupts;
  else ++counters_.exceptions;
  deliver_event(vector, has_error, error, is_software, is_external, insn_len);
}

uint32_t Cpu::take_idt_vectoring_info() {
  const uint32_t v = idt_vectoring_info_;
  idt_vectoring_info_ = 0;
  return v;
}

// SDM 6.14: 64-bit IDT gates, RSP from the TSS on a privilege change or
// from an IST slot, a 16-byte aligned frame of SS, RSP, RFLAGS, CS, RIP.
void Cpu::deliver_event_long(uint8_t vector, bool has_error, uint32_t error, bool is_software, bool is_external) {
  const uint32_t ext = is_external ? selector_error::EXT : 0;
  const uint32_t idt_error = uint32_t(vector) * 8 + selector_error::IDT + ext;
  if (uint32_t(vector) * 16 + 15 > s_.idtr.limit) raise_gp(idt_error);
  const uint64_t lo = read_system(s_.idtr.base + vector * 16ull, 8);
  const uint64_t hi = read_system(s_.idtr.base + vector * 16ull + 8, 8);
  const uint32_t type = (lo >> 40) & 0xf;
  if (type != seg::sys_type::INTERRUPT_GATE && type != seg::sys_type::TRAP_GATE) raise_gp(idt_error);
  const unsigned gate_dpl = (lo >> 45) & 3;
  if (is_software && gate_dpl < s_.cpl) raise_gp(idt_error);
  if (!((lo >> 47) & 1)) raise_fault(uint8_t(Vector::NP), idt_error);
  const uint16_t selector = uint16_t(lo >> 16);
  const uint64_t offset = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull) | (hi << 32);
  const unsigned ist = (lo >> 32) & 7;

  if ((selector & 0xfffc) == 0) raise_gp(ext);
  const uint64_t cs_desc = read_descriptor(selector, (selector & 0xfffc) | ext);
  const uint32_t cs_ar = seg::descriptor_access_rights(cs_desc);
  if (!(cs_ar & seg::ar::S) || !(cs_ar & seg::ar::TYPE_CODE) || !(cs_ar & seg::ar::L) || (cs_ar & seg::ar::DB))
    raise_gp((selector & 0xfffc) | ext);
  const unsigned dpl = (cs_ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
  if (dpl > s_.cpl) raise_gp((selector & 0xfffc) | ext);
  if (!(cs_ar & seg::ar::P)) raise_fault(uint8_t(Vector::NP), (selector & 0xfffc) | ext);
  const unsigned new_cpl = (cs_ar & seg::ar::TYPE_CONFORMING) ? s_.cpl : dpl;

  uint64_t rsp = s_.r[RSP];
  uint16_t ss_sel = s_.seg[seg::SS].selector;
  if (ist) {
    rsp = read_system(s_.tr.base + 0x24 + 8 * (ist - 1), 8);
  } else if (new_cpl < s_.cpl) {
    rsp = read_system(s_.tr.base + 4 + 8 * new_cpl, 8);
  }
  if (new_cpl < s_.cpl) ss_sel = uint16_t(new_cpl);  // a null SS with RPL = new CPL
  rsp &= ~0xfull;
  const uint64_t frame[6] = {error, s_.rip(), s_.seg[seg::CS].selector, s_.rflags | (push_rf_ ? rflags::RF : 0),
                             s_.r[RSP], s_.seg[seg::SS].selector};
  const uint8_t saved_cpl = s_.cpl;
  // Write the frame as the new privilege level would (supervisor for CPL < 3).
  const int first = has_error ? 0 : 1;
  uint64_t sp = rsp;
  for (int k = 5; k >= first; --k) {
    sp -= 8;
    write_system(sp, 8, frame[k], new_cpl < 3);
  }
  // Commit.
  set_cpl(uint8_t(new_cpl));
  s_.r[RSP] = sp;
  if (new_cpl < saved_cpl) {
    s_.seg[seg::SS] = Segment{ss_sel, 0, 0, seg::ar::UNUSABLE | (uint32_t(new_cpl) << seg::ar::DPL_SHIFT)};
  }
  s_.seg[seg::CS] = Segment{uint16_t((selector & 0xfffc) | new_cpl), 0, seg::descriptor_limit(cs_desc), cs_ar};
  s_.rflags &= ~(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
  if (type == seg::sys_type::INTERRUPT_GATE) s_.rflags &= ~rflags::IF;
  s_.rip() = offset;
  recompute_mode();
}

// SDM 6.12.1: 32-bit interrupt and trap gates in protected mode.
void Cpu::deliver_event_legacy(uint8_t vector, bool has_error, uint32_t error, bool is_software,
                               bool is_external) {
  const uint32_t ext = is_external ? selector_error::EXT : 0;
  const uint32_t idt_error = uint32_t(vector) * 8 + selector_error::IDT + ext;
  if (uint32_t(vector) * 8 + 7 > s_.idtr.limit) raise_gp(idt_error);
  const uint64_t gate = read_system(s_.idtr.base + vector * 8ull, 8);
  const uint32_t type = (gate >> 40) & 0x1f;  // S bit included: must be 0
  const bool is32 = type == 0xe || type == 0xf;
  if (!is32 && type != 0x6 && type != 0x7) raise_gp(idt_error);  // task gates are not modeled
  const bool interrupt_gate = (type & 1) == 0;
  const unsigned gate_dpl = (gate >> 45) & 3;
  if (is_software && gate_dpl < s_.cpl) raise_gp(idt_error);
  if (!((gate >> 47) & 1)) raise_fault(uint8_t(Vector::NP), idt_error);
  const uint16_t selector = uint16_t(gate >> 16);
  uint64_t offset = (gate & 0xffff) | ((gate >> 32) & 0xffff0000ull);
  if (!is32) offset &= 0xffff;

  if ((selector & 0xfffc) == 0) raise_gp(ext);
  const uint64_t cs_desc = read_descriptor(selector, (selector & 0xfffc) | ext);
  const uint32_t cs_ar = seg::descriptor_access_rights(cs_desc);
  if (!(cs_ar & seg::ar::S) || !(cs_ar & seg::ar::TYPE_CODE)) raise_gp((selector & 0xfffc) | ext);
  const unsigned dpl = (cs_ar & seg::ar::DPL_MASK) >> seg::ar::DPL_SHIFT;
  if (dpl > s_.cpl) raise_gp((selector & 0xfffc) | ext);
  if (!(cs_ar & seg::ar::P)) raise_fault(uint8_t(Vector::NP), (selector & 0xfffc) | ext);
  const unsigned new_cpl = (cs_ar & seg::ar::TYPE_CONFORMING) ? s_.cpl : dpl;
  const unsigned word = is32 ? 4 : 2;
  // From virtual-8086 mode only to a non-conforming DPL-0 handler, which
  // also gets GS, FS, DS, ES on its stack; they are then loaded with null
  // selectors (SDM 6.12.1, 20.3.1.1 and figure 20-5 / 6-5).
  const bool from_v86 = v8086();
  if (from_v86 && new_cpl != 0) raise_gp((selector & 0xfffc) | ext);

  // Build the frame, switching stacks through the TSS on a privilege change.
  Segment new_ss = s_.seg[seg::SS];
  uint64_t esp = s_.r[RSP];
  std::vector<uint32_t> frame;
  if (new_cpl < s_.cpl) {
    const uint64_t ss0 = read_system(s_.tr.base + 8 + 8 * new_cpl, 2);
    esp = read_system(s_.tr.base + 4 + 8 * new_cpl, 4);
    const uint64_t ss_desc = read_descriptor(uint16_t(ss0), uint32_t(ss0 & 0xfffc) | ext);
    new_ss = Segment{uint16_t(ss0), seg::descriptor_base(ss_desc), seg::descriptor_limit(ss_desc),
                     seg::descriptor_access_rights(ss_desc)};
    if (from_v86)
      for (unsigned i : {seg::GS, seg::FS, seg::DS, seg::ES}) frame.push_back(s_.seg[i].selector);
    frame.push_back(s_.seg[seg::SS].selector);
    frame.push_back(uint32_t(s_.r[RSP]));
  }
  frame.push_back(uint32_t(s_.rflags | (push_rf_ ? rflags::RF : 0)));
  frame.push_back(s_.seg[seg::CS].selector);
  frame.push_back(uint32_t(s_.rip()));
  if (has_error) frame.push_back(error);
  const bool big_stack = new_ss.ar & seg::ar::DB;
  uint64_t sp = esp;
  for (uint32_t v : frame) {
    sp = big_stack ? uint32_t(sp - word) : ((sp & ~0xffffull) | uint16_t(sp - word));
    write_system(uint32_t(new_ss.base + (big_stack ? uint32_t(sp) : uint16_t(sp))), word, v, new_cpl < 3);
  }
  set_cpl(uint8_t(new_cpl));
  s_.seg[seg::SS] = new_ss;
  s_.r[RSP] = sp;
  s_.seg[seg::CS] = Segment{uint16_t((selector & 0xfffc) | new_cpl), seg::descriptor_base(cs_desc),
                            seg::descriptor_limit(cs_desc), cs_ar};
  if (from_v86)
    for (unsigned i : {seg::GS, seg::FS, seg::DS, seg::ES}) s_.seg[i] = Segment{0, 0, 0, seg::ar::UNUSABLE};
  s_.rflags &= ~(rflags::TF | rflags::NT | rflags::RF | rflags::VM);
  if (interrupt_gate) s_.rflags &= ~rflags::IF;
  s_.rip() = offset;
  recompute_mode();
}

// SDM 20.1.4 and vol. 2 INT n "REAL-ADDRESS-MODE": the interrupt vector
// table at IDTR.base holds a 4-byte far pointer (offset, segment) per
// vector; an entry past IDTR.limit is #GP (and a #GP that cannot be
// delivered either becomes #DF, then shutdown: deliver_event's rules). The
// frame is FLAGS, CS, IP, 16 bits each, checked against the SS limit (#SS)
// before anything is written; IF, TF, AC and RF are cleared.
void Cpu::deliver_event_real(uint8_t vector) {
  if (uint32_t(vector) * 4 + 3 > s_.idtr.limit) raise_gp(0);
  const uint32_t entry = uint32_t(read_system(s_.idtr.base + vector * 4ull, 4));
  const uint16_t frame[3] = {uint16_t(s_.rflags), s_.seg[seg::CS].selector, uint16_t(s_.rip())};
  const uint64_t mask = stack_pointer_mask();
  uint64_t sp = s_.r[RSP];
  uint64_t la[3];
  for (unsigned k = 0; k < 3; ++k) {
    sp = (sp - 2) & mask;
    la[k] = segment_linear(seg::SS, sp, 2, Access::Write);
  }
  for (unsigned k = 0; k < 3; ++k) write_system(la[k], 2, frame[k], true);
  s_.r[RSP] = (s_.r[RSP] & ~mask) | sp;
  load_segment_real(seg::CS, uint16_t(entry >> 16));
  s_.rflags &= ~(rflags::IF | rflags::TF | rflags::AC | rflags::RF);
  s_.rip() = entry & 0xffff;
  recompute_mode();
}

void Cpu::software_interrupt(uint8_t vector, unsigned insn_len) {
  ++counters_.exceptions;
  deliver_event(vector, false, 0, true, false, insn_len);
}

void Cpu::halt() {
  if (s_.cpl != 0) raise_gp(0);
  halted_ = true;
  next_event_ = 0;
  end_block();
}

void Cpu::interrupt_shadow(bool by_mov_ss) {
  shadow_ = true;
  shadow_mov_ss_ = by_mov_ss;
  end_block();
}

// The words of a return frame (IRET, far RET), popped at the stack-address
// size without touching RSP until the return commits.
struct Cpu::ReturnFrame {
  ReturnFrame(Cpu& cpu, unsigned size) : cpu(cpu), sp(cpu.reg(RSP)), mask(cpu.stack_pointer_mask()), size(size) {}
  uint64_t pop() {
    const uint64_t v = cpu.read_stack(sp, size);
    skip(size);
    return v;
  }
  void skip(uint64_t bytes) { sp = (sp & ~mask) | ((sp + bytes) & mask); }
  Cpu& cpu;
  uint64_t sp, mask;
  unsigned size;
};

// Loads CS for a return to `new_cpl`, then SS when `load_ss`: both are
// checked before anything else commits, and a fault on SS undoes the CS
// load, so it is raised at the return instruction, at the old CPL, on the
// old stack (SDM IRET/RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
void Cpu::load_return_segments(uint16_t cs, unsigned new_cpl, bool load_ss, uint16_t ss, bool null_ss_allowed) {
  const uint8_t old_cpl = s_.cpl;
  const Segment old_cs = s_.seg[seg::CS];
  load_cs_checked(cs, new_cpl);
  if (!load_ss) return;
  try {
    if (null_ss_allowed && (ss & 0xfffc) == 0)
      s_.seg[seg::SS] = Segment{ss, 0, 0, seg::ar::UNUSABLE | (uint32_t(new_cpl) << seg::ar::DPL_SHIFT)};
    else
      load_segment(seg::SS, ss);
  } catch (const GuestFault&) {
    s_.seg[seg::CS] = old_cs;
    set_cpl(old_cpl);
    recompute_mode();
    throw;
  }
}

// IRET (SDM vol. 2, IRET): in IA-32e mode it pops RIP, CS, RFLAGS, RSP and
// SS; in protected mode EIP, CS, EFLAGS, and ESP/SS on a return to an outer
// level. Task returns (NT = 1) and returns to virtual-8086 mode are not
// modeled and raise #GP.
void Cpu::iret(unsigned opsize) {
  const bool ia32e = s_.efer & efer::LMA;
  // IRET unblocks NMIs — virtual NMIs in a guest that has them — except in
  // a guest with "NMI exiting" (SDM 6.7.1, 25.3).
  if (non_root_) vmx_->guest_iret();
  if (!(non_root_ && (vmx_->controls().pin & arch::vmx::pin_ctl::NMI_EXITING))) nmi_blocked_ = false;
  if (real_mode() || v8086()) return iret_real(opsize);
  if (s_.rflags & rflags::NT) raise_gp(0);
  ReturnFrame frame(*this, opsize);
  const uint64_t new_rip = frame.pop();
  const uint16_t new_cs = uint16_t(frame.pop());
  const uint64_t new_flags = frame.pop();
  const unsigned new_cpl = new_cs & 3;
  if (new_cpl < s_.cpl) raise_gp(new_cs & 0xfffc);
  if ((new_flags & rflags::VM) && !ia32e && s_.cpl == 0 && opsize == 4)
    return iret_to_v8086(frame, new_rip, new_cs, new_flags);
  const bool pop_stack = (ia32e && mode_ == CpuMode::Bits64) || new_cpl > s_.cpl;
  uint64_t new_rsp = 0;
  uint16_t new_ss = 0;
  if (pop_stack) {
    new_rsp = frame.pop();
    new_ss = uint16_t(frame.pop());
  }
  const uint8_t old_cpl = s_.cpl;
  // In IA-32e mode a return below CPL 3 may load a null SS (SDM IRET).
  load_return_segments(new_cs, new_cpl, pop_stack, new_ss, ia32e && new_cpl < 3);
  s_.r[RSP] = pop_stack ? (opsize == 8 ? new_rsp : uint32_t(new_rsp)) : frame.sp;
  // RFLAGS: IOPL changes only at CPL 0, IF only when CPL <= IOPL.
  uint64_t writable = rflags::STATUS | rflags::TF | rflags::DF | rflags::NT | rflags::RF | rflags::AC | rflags::ID;
  if (old_cpl == 0) writable |= rflags::IOPL;
  if (old_cpl <= ((s_.rflags & rflags::IOPL) >> rflags::IOPL_SHIFT)) writable |= rflags::IF;
  if (opsize == 2) writable &= 0xffff;
  s_.rflags = (s_.rflags & ~writable) | (new_flags & writable) | rflags::FIXED1;
  rflags_loaded();  // RF as popped, for the next instruction (SDM 18.3.1.1)
  update_alignment_check();  // AC as popped
  if (new_cpl > old_cpl) invalidate_inner_segments(s_);
  s_.rip() = mode_ == CpuMode::Bits64 ? new_rip : uint32_t(new_rip);
  check_events_soon();  // IF may have been set
  end_block();
}

void Cpu::far_return(unsigned opsize, uint16_t pop_bytes) {
  ReturnFrame frame(*this, opsize);
  const uint64_t new_rip = frame.pop();
  const uint16_t new_cs = uint16_t(frame.pop());
  if (real_mode() || v8086()) {  // SDM vol. 2 RET: real-address and virtual-8086 mode, no privilege checks
    frame.skip(pop_bytes);
    return_real_mode(new_rip, new_cs, frame.sp, opsize);
    return;
  }
  const unsigned new_cpl = new_cs & 3;
  if (new_cpl < s_.cpl) raise_gp(new_cs & 0xfffc);
  frame.skip(pop_bytes);
  uint64_t new_rsp = frame.sp;
  uint16_t new_ss = 0;
  const bool outer = new_cpl > s_.cpl;
  if (outer) {
    new_rsp = frame.pop();
    new_ss = uint16_t(frame.pop());
  }
  load_return_segments(new_cs, new_cpl, outer, new_ss, false);
  if (outer) {
    new_rsp += pop_bytes;
    invalidate_inner_segments(s_);
  }
  s_.r[RSP] = new_rsp;
  s_.rip() = mode_ == CpuMode::Bits64 ? new_rip : uint32_t(new_rip);
  end_block();
}

// IRET in real-address mode (SDM vol. 2 IRET "REAL-ADDRESS-MODE"): pops
// IP, CS and FLAGS at the operand size, with no privilege checks. NT is
// not examined. A 32-bit IRET loads EFLAGS but for VM, VIF and VIP
// (tempEFLAGS AND 257FD5H OR EFLAGS AND 1A0000H) and needs EIP[31:16] = 0;
// a 16-bit one loads FLAGS[15:0]. In virtual-8086 mode the same at IOPL 3,
// IOPL unchanged; below IOPL 3 #GP(0) (no CR4.VME).
void Cpu::iret_real(unsigned opsize) {
  const bool v86 = v8086();
  if (v86 && (s_.rflags & rflags::IOPL) != rflags::IOPL) raise_gp(0);
  ReturnFrame frame(*this, opsize);
  const uint64_t new_ip = frame.pop();
  const uint16_t new_cs = uint16_t(frame.pop());
  const uint64_t new_flags = frame.pop();
  if (opsize == 4 && (new_ip >> 16)) raise_gp(0);
  return_real_mode(new_ip, new_cs, frame.sp, opsize);
  uint64_t loaded = rflags::STATUS | rflags::TF | rflags::IF | rflags::DF | rflags::IOPL | rflags::NT;
  if (opsize == 4) loaded |= rflags::RF | rflags::AC | rflags::ID;
  if (v86) loaded &= ~rflags::IOPL;
  s_.rflags = (s_.rflags & ~loaded) | (new_flags & loaded) | rflags::FIXED1;
  rflags_loaded();
  update_alignment_check();
  check_events_soon();  // IF may have been set
}

// Commits a far return or IRET in real-address mode: the new IP must lie
// within the CS limit, which the real-mode CS load keeps (#GP(0) before
// anything changes); CS takes the selector and base only.
void Cpu::return_real_mode(uint64_t new_ip, uint16_t new_cs, uint64_t new_sp, unsigned opsize) {
  const uint64_t ip = opsize == 2 ? uint16_t(new_ip) : uint32_t(new_ip);
  if (ip > s_.seg[seg::CS].limit) raise_gp(0);
  load_segment_real(seg::CS, new_cs);
  s_.r[RSP] = new_sp;
  s_.rip() = ip;
  recompute_mode();
  end_block();
}

// IRET from CPL 0 in protected mode to virtual-8086 mode (SDM vol. 2 IRET
// "RETURN-TO-VIRTUAL-8086-MODE", 20.2.5): after EIP, CS and EFLAGS it pops
// ESP, SS, ES, DS, FS and GS (32 bits each); EFLAGS is loaded whole, every
// segment becomes a virtual-8086 one (selector << 4, 64 KiB, DPL 3) and
// CPL is 3. EIP must lie within the new CS limit (FFFFH).
void Cpu::iret_to_v8086(ReturnFrame& frame, uint64_t new_ip, uint16_t new_cs, uint64_t new_flags) {
  const uint64_t new_esp = frame.pop();
  uint16_t sel[5];  // SS, ES, DS, FS, GS
  for (uint16_t& s : sel) s = uint16_t(frame.pop());
  if (new_ip > 0xffff) raise_gp(0);
  s_.rflags = (new_flags & (rflags::WRITABLE | rflags::VM | rflags::VIF | rflags::VIP)) | rflags::FIXED1;
  load_segment_real(seg::CS, new_cs);
  const unsigned order[5] = {seg::SS, seg::ES, seg::DS, seg::FS, seg::GS};
  for (unsigned k = 0; k < 5; ++k) load_segment_real(order[k], sel[k]);
  s_.r[RSP] = uint32_t(new_esp);
  s_.rip() = new_ip;
  set_cpl(3);
  rflags_loaded();
  update_alignment_check();
  recompute_mode();
  check_events_soon();
  end_block();
}

}  // namespace nestbed::sim
