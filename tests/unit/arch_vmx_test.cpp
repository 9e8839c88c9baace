// arch/vmx tables against the SDM, and the generated JSON against the tables.
#include <gtest/gtest.h>
#include <stdint.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "arch/gen/arch_json.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"
#include "arch/x86/segment.h"

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define NESTBED_HAVE_NLOHMANN_JSON 1
#endif

namespace {

using namespace arch::vmx;

// ---- VMCS fields -------------------------------------------------------------

TEST(ArchVmxVmcsFields, EveryEncodingDecodesToItsDeclaredWidthAndType) {
  ASSERT_GT(kVmcsFieldCount, 150u);
  for (const VmcsFieldInfo& f : kVmcsFields) {
    SCOPED_TRACE(f.name);
    EXPECT_EQ(f.encoding & 1u, 0u) << "access type must be FULL";
    EXPECT_EQ(f.encoding & 0xffff9000u, 0u) << "reserved bits";
    EXPECT_EQ(unsigned((f.encoding >> 13) & 3), unsigned(f.width));  // SDM 24.11.2: bits 14:13
    EXPECT_EQ(unsigned((f.encoding >> 10) & 3), unsigned(f.type));   // bits 11:10
    EXPECT_EQ(vmcs_field_width(f.encoding), f.width);
    EXPECT_EQ(vmcs_field_type(f.encoding), f.type);
    EXPECT_EQ(vmcs_encode(f.width, f.type, vmcs_encoding_index(f.encoding)), f.encoding);
  }
}

TEST(ArchVmxVmcsFields, NoDuplicateEncodingsOrNames) {
  std::set<uint32_t> encodings;
  std::set<std::string> names;
  for (const VmcsFieldInfo& f : kVmcsFields) {
    EXPECT_TRUE(encodings.insert(f.encoding).second) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    // A HIGH name may not collide with a real field either.
    EXPECT_EQ(names.count(std::string(f.name) + "_HIGH"), 0u) << f.name;
  }
  EXPECT_EQ(encodings.size(), kVmcsFieldCount);
  for (unsigned i = 0; i < kVmcsFieldCount; i++) EXPECT_EQ(kVmcsFieldEncodings[i], kVmcsFields[i].encoding);
}

TEST(ArchVmxVmcsFields, KnownEncodingsMatchTheSdm) {
  struct {
    VmcsField field;
    uint32_t enc;
  } const known[] = {
      {VmcsField::VIRTUAL_PROCESSOR_ID, 0x0000},
      {VmcsField::POSTED_INTR_NV, 0x0002},
      {VmcsField::EPTP_INDEX, 0x0004},
      {VmcsField::GUEST_ES_SELECTOR, 0x0800},
      {VmcsField::GUEST_TR_SELECTOR, 0x080e},
      {VmcsField::GUEST_INTR_STATUS, 0x0810},
      {VmcsField::GUEST_PML_INDEX, 0x0812},
      {VmcsField::HOST_ES_SELECTOR, 0x0c00},
      {VmcsField::HOST_TR_SELECTOR, 0x0c0c},
      {VmcsField::IO_BITMAP_A, 0x2000},
      {VmcsField::IO_BITMAP_B, 0x2002},
      {VmcsField::MSR_BITMAP, 0x2004},
      {VmcsField::VM_EXIT_MSR_STORE_ADDR, 0x2006},
      {VmcsField::VM_EXIT_MSR_LOAD_ADDR, 0x2008},
      {VmcsField::VM_ENTRY_MSR_LOAD_ADDR, 0x200a},
      {VmcsField::EXECUTIVE_VMCS_POINTER, 0x200c},
      {VmcsField::PML_ADDRESS, 0x200e},
      {VmcsField::TSC_OFFSET, 0x2010},
      {VmcsField::VIRTUAL_APIC_PAGE_ADDR, 0x2012},
      {VmcsField::APIC_ACCESS_ADDR, 0x2014},
      {VmcsField::POSTED_INTR_DESC_ADDR, 0x2016},
      {VmcsField::VM_FUNCTION_CONTROL, 0x2018},
      {VmcsField::EPT_POINTER, 0x201a},
      {VmcsField::EOI_EXIT_BITMAP0, 0x201c},
      {VmcsField::EOI_EXIT_BITMAP3, 0x2022},
      {VmcsField::EPTP_LIST_ADDRESS, 0x2024},
      {VmcsField::VMREAD_BITMAP, 0x2026},
      {VmcsField::VMWRITE_BITMAP, 0x2028},
      {VmcsField::VE_INFORMATION_ADDRESS, 0x202a},
      {VmcsField::XSS_EXIT_BITMAP, 0x202c},
      {VmcsField::ENCLS_EXITING_BITMAP, 0x202e},
      {VmcsField::TSC_MULTIPLIER, 0x2032},
      {VmcsField::TERTIARY_VM_EXEC_CONTROL, 0x2034},
      {VmcsField::GUEST_PHYSICAL_ADDRESS, 0x2400},
      {VmcsField::VMCS_LINK_POINTER, 0x2800},
      {VmcsField::GUEST_IA32_DEBUGCTL, 0x2802},
      {VmcsField::GUEST_IA32_PAT, 0x2804},
      {VmcsField::GUEST_IA32_EFER, 0x2806},
      {VmcsField::GUEST_IA32_PERF_GLOBAL_CTRL, 0x2808},
      {VmcsField::GUEST_PDPTR0, 0x280a},
      {VmcsField::GUEST_PDPTR3, 0x2810},
      {VmcsField::GUEST_BNDCFGS, 0x2812},
      {VmcsField::HOST_IA32_PAT, 0x2c00},
      {VmcsField::HOST_IA32_EFER, 0x2c02},
      {VmcsField::HOST_IA32_PERF_GLOBAL_CTRL, 0x2c04},
      {VmcsField::PIN_BASED_VM_EXEC_CONTROL, 0x4000},
      {VmcsField::CPU_BASED_VM_EXEC_CONTROL, 0x4002},
      {VmcsField::EXCEPTION_BITMAP, 0x4004},
      {VmcsField::CR3_TARGET_COUNT, 0x400a},
      {VmcsField::VM_EXIT_CONTROLS, 0x400c},
      {VmcsField::VM_ENTRY_CONTROLS, 0x4012},
      {VmcsField::VM_ENTRY_INTR_INFO_FIELD, 0x4016},
      {VmcsField::TPR_THRESHOLD, 0x401c},
      {VmcsField::SECONDARY_VM_EXEC_CONTROL, 0x401e},
      {VmcsField::PLE_GAP, 0x4020},
      {VmcsField::PLE_WINDOW, 0x4022},
      {VmcsField::VM_INSTRUCTION_ERROR, 0x4400},
      {VmcsField::VM_EXIT_REASON, 0x4402},
      {VmcsField::VM_EXIT_INTR_INFO, 0x4404},
      {VmcsField::IDT_VECTORING_INFO_FIELD, 0x4408},
      {VmcsField::VM_EXIT_INSTRUCTION_LEN, 0x440c},
      {VmcsField::VMX_INSTRUCTION_INFO, 0x440e},
      {VmcsField::GUEST_ES_LIMIT, 0x4800},
      {VmcsField::GUEST_IDTR_LIMIT, 0x4812},
      {VmcsField::GUEST_ES_AR_BYTES, 0x4814},
      {VmcsField::GUEST_TR_AR_BYTES, 0x4822},
      {VmcsField::GUEST_INTERRUPTIBILITY_INFO, 0x4824},
      {VmcsField::GUEST_ACTIVITY_STATE, 0x4826},
      {VmcsField::GUEST_SMBASE, 0x4828},
      {VmcsField::GUEST_SYSENTER_CS, 0x482a},
      {VmcsField::VMX_PREEMPTION_TIMER_VALUE, 0x482e},
      {VmcsField::HOST_IA32_SYSENTER_CS, 0x4c00},
      {VmcsField::CR0_GUEST_HOST_MASK, 0x6000},
      {VmcsField::CR4_READ_SHADOW, 0x6006},
      {VmcsField::CR3_TARGET_VALUE3, 0x600e},
      {VmcsField::EXIT_QUALIFICATION, 0x6400},
      {VmcsField::IO_RCX, 0x6402},
      {VmcsField::IO_RIP, 0x6408},
      {VmcsField::GUEST_LINEAR_ADDRESS, 0x640a},
      {VmcsField::GUEST_CR0, 0x6800},
      {VmcsField::GUEST_CR3, 0x6802},
      {VmcsField::GUEST_ES_BASE, 0x6806},
      {VmcsField::GUEST_IDTR_BASE, 0x6818},
      {VmcsField::GUEST_DR7, 0x681a},
      {VmcsField::GUEST_RSP, 0x681c},
      {VmcsField::GUEST_RIP, 0x681e},
      {VmcsField::GUEST_RFLAGS, 0x6820},
      {VmcsField::GUEST_PENDING_DBG_EXCEPTIONS, 0x6822},
      {VmcsField::GUEST_SYSENTER_EIP, 0x6826},
      {VmcsField::HOST_CR0, 0x6c00},
      {VmcsField::HOST_FS_BASE, 0x6c06},
      {VmcsField::HOST_IDTR_BASE, 0x6c0e},
      {VmcsField::HOST_IA32_SYSENTER_EIP, 0x6c12},
      {VmcsField::HOST_RSP, 0x6c14},
      {VmcsField::HOST_RIP, 0x6c16},
  };
  for (const auto& k : known) EXPECT_EQ(uint32_t(k.field), k.enc) << vmcs_field_name(k.field);

  EXPECT_STREQ(vmcs_field_name(0x681e), "GUEST_RIP");
  EXPECT_STREQ(vmcs_field_name(VmcsField::VM_EXIT_REASON), "VM_EXIT_REASON");
  EXPECT_EQ(vmcs_field_type(VmcsField::VM_EXIT_REASON), VmcsType::EXIT_INFO);
  EXPECT_EQ(vmcs_field_width(VmcsField::GUEST_RIP), VmcsWidth::NATURAL);
  EXPECT_EQ(vmcs_field_width(VmcsField::EPT_POINTER), VmcsWidth::BITS64);
  EXPECT_EQ(vmcs_field_width(VmcsField::GUEST_CS_SELECTOR), VmcsWidth::BITS16);
  EXPECT_EQ(vmcs_field_width(VmcsField::GUEST_CS_LIMIT), VmcsWidth::BITS32);
  EXPECT_TRUE(vmcs_field_read_only(uint32_t(VmcsField::EXIT_QUALIFICATION)));
  EXPECT_FALSE(vmcs_field_read_only(uint32_t(VmcsField::GUEST_RIP)));
}

TEST(ArchVmxVmcsFields, HighHalvesOfSixtyFourBitFields) {
  // SDM 24.11.2: access type 1 reaches bits 63:32 of a 64-bit field, and is
  // not allowed for any other width.
  EXPECT_EQ(vmcs_field_high(VmcsField::TSC_OFFSET), 0x2011u);
  EXPECT_STREQ(vmcs_field_name(0x2011), "TSC_OFFSET_HIGH");
  EXPECT_STREQ(vmcs_field_name(0x2801), "VMCS_LINK_POINTER_HIGH");
  EXPECT_EQ(width_mask(uint64_t(0x2011)), 0xffffffffull);
  EXPECT_EQ(width_mask(uint64_t(0x2010)), ~0ull);
  EXPECT_EQ(vmcs_field_slot(0x2011), vmcs_field_slot(0x2010));
  EXPECT_EQ(vmcs_field_name(0x681f), nullptr);  // natural width: no HIGH
  EXPECT_EQ(vmcs_field_name(0x0001), nullptr);  // 16-bit: no HIGH
  EXPECT_EQ(vmcs_field_name(0x4403), nullptr);  // 32-bit: no HIGH
  EXPECT_FALSE(vmcs_field_known(0x681f));
  for (const VmcsFieldInfo& f : kVmcsFields)
    EXPECT_EQ(vmcs_field_known(f.encoding | 1u), f.width == VmcsWidth::BITS64) << f.name;
}

TEST(ArchVmxVmcsFields, WidthMasks) {
  EXPECT_EQ(width_mask(VmcsWidth::BITS16), 0xffffull);
  EXPECT_EQ(width_mask(VmcsWidth::BITS32), 0xffffffffull);
  EXPECT_EQ(width_mask(VmcsWidth::BITS64), ~0ull);
  EXPECT_EQ(width_mask(VmcsWidth::NATURAL), ~0ull);
  EXPECT_EQ(width_mask(VmcsField::GUEST_CS_SELECTOR), 0xffffull);
  EXPECT_EQ(width_mask(VmcsField::VM_EXIT_REASON), 0xffffffffull);
  EXPECT_EQ(width_mask(VmcsField::GUEST_RIP), ~0ull);
}

TEST(ArchVmxVmcsFields, SlotsAreDenseAndEveryOtherEncodingIsUnknown) {
  for (unsigned i = 0; i < kVmcsFieldCount; i++) EXPECT_EQ(vmcs_field_slot(kVmcsFields[i].encoding), int(i));
  // All 2^16 encodings: known exactly when the table (or its HIGH rule) has
  // a name, and the slot points back at that field.
  unsigned known = 0;
  for (uint32_t enc = 0; enc <= 0xffff; enc++) {
    const char* name = vmcs_field_name(enc);
    const int slot = vmcs_field_slot(enc);
    ASSERT_EQ(name != nullptr, slot >= 0) << std::hex << enc;
    if (slot < 0) continue;
    known++;
    EXPECT_EQ(kVmcsFields[slot].encoding, enc & ~1u);
  }
  unsigned sixty_four = 0;
  for (const VmcsFieldInfo& f : kVmcsFields) sixty_four += f.width == VmcsWidth::BITS64;
  EXPECT_EQ(known, kVmcsFieldCount + sixty_four);
  // Reserved bits make any encoding unsupported (VM-instruction error 12).
  EXPECT_EQ(vmcs_field_slot(0x1681e), -1);
  EXPECT_EQ(vmcs_field_slot(0x100000000ull | 0x681e), -1);
  EXPECT_EQ(vmcs_field_slot(0x681e | 0x1000), -1);
  EXPECT_EQ(vmcs_field_name(0x1681e), nullptr);
}

TEST(ArchVmxVmcsFields, MaxIndexAndShadowBitmap) {
  unsigned max = 0;
  for (const VmcsFieldInfo& f : kVmcsFields) max = std::max(max, (f.encoding >> 1) & 0x1ffu);
  EXPECT_EQ(kVmcsMaxIndex, max);
  EXPECT_EQ(vmx_vmcs_enum::MAX_INDEX.get(vmx_vmcs_enum::MAX_INDEX.make(kVmcsMaxIndex)), kVmcsMaxIndex);
  EXPECT_EQ(vmcs_shadow_bitmap_bit(0x681e), 0x681eu);
  EXPECT_TRUE(vmcs_shadow_bitmap_in_range(0x6c1c));
  EXPECT_FALSE(vmcs_shadow_bitmap_in_range(0x8000));
}

// ---- Exit reasons ------------------------------------------------------------

TEST(ArchVmxExitReasons, NumbersMatchAppendixC) {
  struct {
    ExitReason r;
    unsigned n;
  } const known[] = {
      {ExitReason::EXCEPTION_NMI, 0},      {ExitReason::EXTERNAL_INTERRUPT, 1},   {ExitReason::TRIPLE_FAULT, 2},
      {ExitReason::INIT_SIGNAL, 3},        {ExitReason::SIPI_SIGNAL, 4},          {ExitReason::IO_SMI, 5},
      {ExitReason::OTHER_SMI, 6},          {ExitReason::INTERRUPT_WINDOW, 7},     {ExitReason::NMI_WINDOW, 8},
      {ExitReason::TASK_SWITCH, 9},        {ExitReason::CPUID, 10},               {ExitReason::GETSEC, 11},
      {ExitReason::HLT, 12},               {ExitReason::INVD, 13},                {ExitReason::INVLPG, 14},
      {ExitReason::RDPMC, 15},             {ExitReason::RDTSC, 16},               {ExitReason::RSM, 17},
      {ExitReason::VMCALL, 18},            {ExitReason::VMCLEAR, 19},             {ExitReason::VMLAUNCH, 20},
      {ExitReason::VMPTRLD, 21},           {ExitReason::VMPTRST, 22},             {ExitReason::VMREAD, 23},
      {ExitReason::VMRESUME, 24},          {ExitReason::VMWRITE, 25},             {ExitReason::VMXOFF, 26},
      {ExitReason::VMXON, 27},             {ExitReason::CR_ACCESS, 28},           {ExitReason::DR_ACCESS, 29},
      {ExitReason::IO_INSTRUCTION, 30},    {ExitReason::MSR_READ, 31},            {ExitReason::MSR_WRITE, 32},
      {ExitReason::INVALID_GUEST_STATE, 33}, {ExitReason::MSR_LOAD_FAIL, 34},     {ExitReason::MWAIT, 36},
      {ExitReason::MONITOR_TRAP_FLAG, 37}, {ExitReason::MONITOR, 39},             {ExitReason::PAUSE, 40},
      {ExitReason::MCE_DURING_VMENTRY, 41}, {ExitReason::TPR_BELOW_THRESHOLD, 43}, {ExitReason::APIC_ACCESS, 44},
      {ExitReason::VIRTUALIZED_EOI, 45},   {ExitReason::GDTR_IDTR, 46},           {ExitReason::LDTR_TR, 47},
      {ExitReason::EPT_VIOLATION, 48},     {ExitReason::EPT_MISCONFIG, 49},       {ExitReason::INVEPT, 50},
      {ExitReason::RDTSCP, 51},            {ExitReason::PREEMPTION_TIMER, 52},    {ExitReason::INVVPID, 53},
      {ExitReason::WBINVD, 54},            {ExitReason::XSETBV, 55},              {ExitReason::APIC_WRITE, 56},
      {ExitReason::RDRAND, 57},            {ExitReason::INVPCID, 58},             {ExitReason::VMFUNC, 59},
      {ExitReason::ENCLS, 60},             {ExitReason::RDSEED, 61},              {ExitReason::PML_FULL, 62},
      {ExitReason::XSAVES, 63},            {ExitReason::XRSTORS, 64},             {ExitReason::UMWAIT, 67},
      {ExitReason::TPAUSE, 68},            {ExitReason::LOADIWKEY, 69},           {ExitReason::BUS_LOCK, 74},
      {ExitReason::INSTRUCTION_TIMEOUT, 75}, {ExitReason::TDCALL, 77},
  };
  for (const auto& k : known) EXPECT_EQ(unsigned(k.r), k.n) << exit_reason_name(uint32_t(k.r));
  for (unsigned unused : {35u, 38u, 42u, 71u}) EXPECT_EQ(exit_reason_name(unused), nullptr) << unused;

  EXPECT_STREQ(exit_reason_name(48), "EPT_VIOLATION");
  EXPECT_STREQ(exit_reason_description(48), "EPT violation");
  EXPECT_STREQ(exit_reason_qualification(48), "qual_ept_violation");
  EXPECT_STREQ(exit_reason_qualification(28), "qual_cr_access");
  EXPECT_STREQ(exit_reason_qualification(30), "qual_io");
  EXPECT_STREQ(exit_reason_qualification(10), "qual_none");
  EXPECT_EQ(kExitReasonMax, unsigned(kExitReasons[kExitReasonCount - 1]));
  std::set<std::string> names;
  for (uint16_t r : kExitReasons) EXPECT_TRUE(names.insert(exit_reason_name(r)).second);
}

TEST(ArchVmxExitReasons, ExitReasonFieldBits) {
  // SDM 24.9.1: bits 15:0 basic reason, 27 enclave mode, 28 pending MTF,
  // 29 from VMX root, 31 VM-entry failure.
  EXPECT_EQ(exit_reason_field::BASIC.mask, 0xffffull);
  EXPECT_EQ(exit_reason_field::ENCLAVE_MODE.mask, 1ull << 27);
  EXPECT_EQ(exit_reason_field::PENDING_MTF.mask, 1ull << 28);
  EXPECT_EQ(exit_reason_field::FROM_VMX_ROOT.mask, 1ull << 29);
  EXPECT_EQ(exit_reason_field::ENTRY_FAILURE.mask, 1ull << 31);
  const uint32_t failed = entry_failure_reason(ExitReason::INVALID_GUEST_STATE);
  EXPECT_EQ(failed, 0x80000021u);
  EXPECT_TRUE(exit_reason_is_entry_failure(failed));
  EXPECT_EQ(exit_reason_basic(failed), 33);
  EXPECT_STREQ(exit_reason_name(failed), "INVALID_GUEST_STATE");
}

// ---- VM-instruction errors ---------------------------------------------------

TEST(ArchVmxErrors, VmInstructionErrorsMatchTable30_1) {
  EXPECT_STREQ(vm_instruction_error_text(7), "VM entry with invalid control field(s)");
  EXPECT_STREQ(vm_instruction_error_text(VmInstructionError::ENTRY_INVALID_HOST_STATE_FIELD),
               "VM entry with invalid host-state field(s)");
  EXPECT_EQ(unsigned(VmInstructionError::UNSUPPORTED_VMCS_COMPONENT), 12u);
  EXPECT_EQ(unsigned(VmInstructionError::VMWRITE_READ_ONLY_COMPONENT), 13u);
  EXPECT_EQ(unsigned(VmInstructionError::VMXON_IN_VMX_ROOT), 15u);
  EXPECT_EQ(unsigned(VmInstructionError::ENTRY_EVENTS_BLOCKED_BY_MOV_SS), 26u);
  EXPECT_EQ(unsigned(VmInstructionError::INVALID_INVEPT_INVVPID_OPERAND), 28u);
  for (unsigned unused : {0u, 14u, 21u, 27u, 29u}) EXPECT_EQ(vm_instruction_error_text(unused), nullptr) << unused;
  for (unsigned n = 1; n <= 28; n++)
    EXPECT_EQ(vm_instruction_error_name(n) != nullptr, n != 14 && n != 21 && n != 27) << n;
  EXPECT_EQ(kVmInstructionErrorCount, 25u);
  EXPECT_STREQ(vmx_abort_name(4), "LOAD_HOST_MSR_FAIL");
}

// ---- Controls ----------------------------------------------------------------

uint64_t bits_of(std::initializer_list<unsigned> bits) {
  uint64_t m = 0;
  for (unsigned b : bits) m |= 1ull << b;
  return m;
}

TEST(ArchVmxControls, Default1ClassesMatchAppendixA) {
  EXPECT_EQ(pin_ctl::DEFAULT1, bits_of({1, 2, 4}));                                        // A.3.1
  EXPECT_EQ(proc_ctl::DEFAULT1, bits_of({1, 4, 5, 6, 8, 13, 14, 15, 16, 26}));             // A.3.2
  EXPECT_EQ(proc_ctl2::DEFAULT1, 0u);                                                      // A.3.3
  EXPECT_EQ(exit_ctl::DEFAULT1, bits_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 16, 17}));  // A.4
  EXPECT_EQ(entry_ctl::DEFAULT1, bits_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 12}));                // A.5
}

TEST(ArchVmxControls, BitsMatchTheSdm) {
  EXPECT_EQ(pin_ctl::EXTERNAL_INTERRUPT_EXITING, 1u << 0);
  EXPECT_EQ(pin_ctl::NMI_EXITING, 1u << 3);
  EXPECT_EQ(pin_ctl::VIRTUAL_NMIS, 1u << 5);
  EXPECT_EQ(pin_ctl::PREEMPTION_TIMER, 1u << 6);
  EXPECT_EQ(pin_ctl::POSTED_INTERRUPTS, 1u << 7);
  EXPECT_EQ(proc_ctl::INTERRUPT_WINDOW_EXITING, 1u << 2);
  EXPECT_EQ(proc_ctl::HLT_EXITING, 1u << 7);
  EXPECT_EQ(proc_ctl::RDTSC_EXITING, 1u << 12);
  EXPECT_EQ(proc_ctl::CR3_LOAD_EXITING, 1u << 15);
  EXPECT_EQ(proc_ctl::USE_TPR_SHADOW, 1u << 21);
  EXPECT_EQ(proc_ctl::UNCONDITIONAL_IO_EXITING, 1u << 24);
  EXPECT_EQ(proc_ctl::USE_IO_BITMAPS, 1u << 25);
  EXPECT_EQ(proc_ctl::MONITOR_TRAP_FLAG, 1u << 27);
  EXPECT_EQ(proc_ctl::USE_MSR_BITMAPS, 1u << 28);
  EXPECT_EQ(proc_ctl::ACTIVATE_SECONDARY_CONTROLS, 1u << 31);
  EXPECT_EQ(proc_ctl2::ENABLE_EPT, 1u << 1);
  EXPECT_EQ(proc_ctl2::ENABLE_VPID, 1u << 5);
  EXPECT_EQ(proc_ctl2::UNRESTRICTED_GUEST, 1u << 7);
  EXPECT_EQ(proc_ctl2::VMCS_SHADOWING, 1u << 14);
  EXPECT_EQ(proc_ctl2::ENABLE_PML, 1u << 17);
  EXPECT_EQ(proc_ctl2::USE_TSC_SCALING, 1u << 25);
  EXPECT_EQ(exit_ctl::HOST_ADDRESS_SPACE_SIZE, 1u << 9);
  EXPECT_EQ(exit_ctl::ACK_INTERRUPT_ON_EXIT, 1u << 15);
  EXPECT_EQ(exit_ctl::LOAD_EFER, 1u << 21);
  EXPECT_EQ(exit_ctl::SAVE_PREEMPTION_TIMER, 1u << 22);
  EXPECT_EQ(entry_ctl::IA32E_MODE_GUEST, 1u << 9);
  EXPECT_EQ(entry_ctl::LOAD_PAT, 1u << 14);
  EXPECT_EQ(entry_ctl::LOAD_EFER, 1u << 15);
  EXPECT_EQ(vmfunc_ctl::EPTP_SWITCHING, 1ull << 0);
  EXPECT_EQ(pin_ctl::DEFINED, 0xe9u);
}

TEST(ArchVmxControls, WordsDescribeTheirVmcsFieldAndCapabilityMsr) {
  EXPECT_EQ(pin_ctl::VMCS_FIELD, VmcsField::PIN_BASED_VM_EXEC_CONTROL);
  EXPECT_EQ(proc_ctl::CAPABILITY_MSR, arch::msr::IA32_VMX_PROCBASED_CTLS);
  EXPECT_EQ(proc_ctl::TRUE_CAPABILITY_MSR, arch::msr::IA32_VMX_TRUE_PROCBASED_CTLS);
  EXPECT_EQ(proc_ctl2::CAPABILITY_MSR, arch::msr::IA32_VMX_PROCBASED_CTLS2);
  EXPECT_EQ(entry_ctl::TRUE_CAPABILITY_MSR, arch::msr::IA32_VMX_TRUE_ENTRY_CTLS);
  EXPECT_EQ(kControlWordCount, 8u);
  std::set<std::pair<unsigned, unsigned>> seen;
  for (const ControlInfo& c : kControls) {
    const ControlWordInfo& w = control_word_info(c.word);
    EXPECT_LT(c.bit, w.bits) << c.name;
    EXPECT_TRUE(seen.insert({unsigned(c.word), c.bit}).second) << c.name;
    EXPECT_STREQ(control_name(c.word, c.bit), c.name);
  }
  for (const ControlWordInfo& w : kControlWords) {
    EXPECT_EQ(width_bits(vmcs_field_width(w.vmcs_field)), w.bits) << w.name;
    EXPECT_EQ(w.default1 & (w.bits == 32 ? ~0xffffffffull : 0), 0u) << w.name;
  }
  EXPECT_EQ(control_name(ControlWord::pin_ctl, 1), nullptr);  // default1, unnamed
}

TEST(ArchVmxControls, MsrAndIoBitmaps) {
  EXPECT_EQ(msr_bitmap::byte_offset(0x10, false), 2);
  EXPECT_EQ(msr_bitmap::byte_offset(0x10, true), 2048 + 2);
  EXPECT_EQ(msr_bitmap::byte_offset(0xc0000080, false), 1024 + 0x10);
  EXPECT_EQ(msr_bitmap::byte_offset(0xc0001fff, true), 3072 + 1023);
  EXPECT_EQ(msr_bitmap::byte_offset(0x2000, false), -1);
  EXPECT_EQ(msr_bitmap::byte_offset(0x40000000, true), -1);
  EXPECT_EQ(msr_bitmap::bit_in_byte(0xc0000081), 1u);
  EXPECT_FALSE(io_bitmap::in_bitmap_b(0x7fff));
  EXPECT_TRUE(io_bitmap::in_bitmap_b(0x8000));
  EXPECT_EQ(io_bitmap::bit_index(0x80f4), 0xf4u);
}

// ---- Capability MSRs ---------------------------------------------------------

TEST(ArchVmxCapabilityMsrs, BasicAndMisc) {
  const uint64_t basic = (1ull << 55) | (1ull << 54) | (6ull << 50) | (4096ull << 32) | 0x12;
  EXPECT_EQ(vmx_basic::REVISION_ID.get(basic), 0x12u);
  EXPECT_EQ(vmx_basic::VMCS_SIZE.get(basic), 4096u);
  EXPECT_EQ(vmx_basic::MEMORY_TYPE.get(basic), vmx_basic::MEMORY_TYPE_WB);
  EXPECT_TRUE(vmx_basic::INS_OUTS_INFO.test(basic));
  EXPECT_TRUE(vmx_basic::TRUE_CTLS.test(basic));
  EXPECT_FALSE(vmx_basic::PHYS_ADDR_32BIT.test(basic));
  EXPECT_EQ(vmx_basic::TRUE_CTLS.mask, 1ull << 55);

  const uint64_t misc = 5 | (1u << 5) | (1u << 6) | (4u << 16) | (1u << 29);
  EXPECT_EQ(vmx_misc::PREEMPTION_TIMER_RATE.get(misc), 5u);
  EXPECT_EQ(vmx_misc::CR3_TARGETS.get(misc), 4u);
  EXPECT_TRUE(vmx_misc::VMWRITE_ANY_FIELD.test(misc));
  EXPECT_EQ(vmx_misc_max_msr_list(misc), 512u);
  EXPECT_EQ(vmx_misc_max_msr_list(misc | (2ull << 25)), 1536u);
  EXPECT_TRUE(vmx_misc_activity_supported(misc, activity_state::ACTIVE));
  EXPECT_TRUE(vmx_misc_activity_supported(misc, activity_state::HLT));
  EXPECT_FALSE(vmx_misc_activity_supported(misc, activity_state::SHUTDOWN));
  EXPECT_FALSE(vmx_misc_activity_supported(misc, activity_state::WAIT_FOR_SIPI));
}

TEST(ArchVmxCapabilityMsrs, AllowedSettings) {
  const uint64_t cap = ctls_make(pin_ctl::DEFAULT1, pin_ctl::DEFAULT1 | pin_ctl::NMI_EXITING | pin_ctl::VIRTUAL_NMIS);
  EXPECT_EQ(ctls_allowed0(cap), 0x16u);
  EXPECT_EQ(ctls_allowed1(cap), 0x16u | 0x8u | 0x20u);
  EXPECT_TRUE(ctls_valid(cap, 0x16 | 0x8));
  EXPECT_FALSE(ctls_valid(cap, 0x8));                   // default1 bits clear
  EXPECT_FALSE(ctls_valid(cap, 0x16 | 0x1));            // not allowed to be 1
  EXPECT_EQ(ctls_adjust(cap, 0x1 | 0x8), 0x16u | 0x8u);
  EXPECT_TRUE(cr_fixed_valid(0x80000021, 0x80000021, 0xffffffff));
  EXPECT_FALSE(cr_fixed_valid(0x80000020, 0x80000021, 0xffffffff));
  EXPECT_FALSE(cr_fixed_valid(0x1'8000'0021ull, 0x80000021, 0xffffffff));
  EXPECT_EQ(cr_fixed_adjust(0x1'0000'0000ull, 0x21, 0xffffffff), 0x21u);
  EXPECT_TRUE(ctls64_valid(0x3, 0x1));
  EXPECT_FALSE(ctls64_valid(0x3, 0x4));
}

TEST(ArchVmxCapabilityMsrs, EptVpidCap) {
  EXPECT_EQ(vmx_ept_vpid_cap::EXECUTE_ONLY.mask, 1ull << 0);
  EXPECT_EQ(vmx_ept_vpid_cap::PAGE_WALK_4.mask, 1ull << 6);
  EXPECT_EQ(vmx_ept_vpid_cap::MEMTYPE_WB.mask, 1ull << 14);
  EXPECT_EQ(vmx_ept_vpid_cap::PDE_2MB.mask, 1ull << 16);
  EXPECT_EQ(vmx_ept_vpid_cap::PDPTE_1GB.mask, 1ull << 17);
  EXPECT_EQ(vmx_ept_vpid_cap::INVEPT.mask, 1ull << 20);
  EXPECT_EQ(vmx_ept_vpid_cap::ACCESSED_DIRTY.mask, 1ull << 21);
  EXPECT_EQ(vmx_ept_vpid_cap::INVEPT_SINGLE_CONTEXT.mask, 1ull << 25);
  EXPECT_EQ(vmx_ept_vpid_cap::INVEPT_ALL_CONTEXT.mask, 1ull << 26);
  EXPECT_EQ(vmx_ept_vpid_cap::INVVPID.mask, 1ull << 32);
  EXPECT_EQ(vmx_ept_vpid_cap::INVVPID_INDIVIDUAL_ADDRESS.mask, 1ull << 40);
  EXPECT_EQ(vmx_ept_vpid_cap::INVVPID_SINGLE_CONTEXT_RETAINING_GLOBALS.mask, 1ull << 43);
}

// ---- EPT ---------------------------------------------------------------------

TEST(ArchVmxEpt, EntryAndPointerBits) {
  EXPECT_EQ(ept_entry::READ.mask, 0x1ull);
  EXPECT_EQ(ept_entry::WRITE.mask, 0x2ull);
  EXPECT_EQ(ept_entry::EXECUTE.mask, 0x4ull);
  EXPECT_EQ(ept_entry::MEMORY_TYPE.mask, 0x38ull);
  EXPECT_EQ(ept_entry::IGNORE_PAT.mask, 0x40ull);
  EXPECT_EQ(ept_entry::LARGE_PAGE.mask, 0x80ull);
  EXPECT_EQ(ept_entry::ACCESSED.mask, 0x100ull);
  EXPECT_EQ(ept_entry::DIRTY.mask, 0x200ull);
  EXPECT_EQ(ept_entry::USER_EXECUTE.mask, 0x400ull);
  EXPECT_EQ(ept_entry::ADDRESS_MASK, 0x000ffffffffff000ull);
  EXPECT_EQ(ept_entry::SUPPRESS_VE.mask, 1ull << 63);
  EXPECT_EQ(ept_entry::MEMORY_TYPE.make(ept_memory_type::WB), 0x30ull);

  // WB, 4-level walk, A/D enabled: the EPTP KVM and most VMMs write.
  const uint64_t eptp_value = 0x12345000 | eptp::MEMORY_TYPE.make(ept_memory_type::WB) |
                              eptp::PAGE_WALK_LENGTH.make(eptp::WALK_4_LEVELS) | eptp::ENABLE_AD.mask;
  EXPECT_EQ(eptp_value, 0x1234505eull);
  EXPECT_EQ(eptp_levels(eptp_value), 4u);
  EXPECT_EQ(eptp_root(eptp_value), 0x12345000ull);

  EXPECT_EQ(invept_type::SINGLE_CONTEXT, 1u);
  EXPECT_EQ(invept_type::ALL_CONTEXT, 2u);
  EXPECT_EQ(invvpid_type::INDIVIDUAL_ADDRESS, 0u);
  EXPECT_EQ(invvpid_type::SINGLE_CONTEXT_RETAINING_GLOBALS, 3u);
}

TEST(ArchVmxEpt, Predicates) {
  EXPECT_FALSE(ept_entry_present(0x400));
  EXPECT_TRUE(ept_entry_present(0x400, /*mode_based_execute=*/true));
  EXPECT_TRUE(ept_entry_present(0x4));
  EXPECT_TRUE(ept_rwx_misconfigured(0x2, true));   // write-only
  EXPECT_TRUE(ept_rwx_misconfigured(0x6, true));   // write+execute
  EXPECT_TRUE(ept_rwx_misconfigured(0x4, false));  // execute-only unsupported
  EXPECT_FALSE(ept_rwx_misconfigured(0x4, true));
  EXPECT_FALSE(ept_rwx_misconfigured(0x7, false));
  for (unsigned t = 0; t < 8; t++) EXPECT_EQ(ept_memory_type_valid(t), t != 2 && t != 3 && t != 7) << t;
  EXPECT_EQ(ept_index(0x0000'0040'2010'3000ull, 1), 0x103u);
  EXPECT_EQ(ept_index(0x0000'0040'2010'3000ull, 2), 0x100u);
  EXPECT_EQ(ept_index(0x0000'0040'2010'3000ull, 3), 0x100u);
  EXPECT_EQ(ept_index(0x0000'8000'0000'0000ull, 4), 0x100u);
}

// ---- Exit qualifications and other layouts -----------------------------------

TEST(ArchVmxQualifications, CrAccessMovDrIo) {
  // mov %rbx, %cr3 -> CR 3, MOV to CR, GPR 3 (SDM table 27-3).
  const uint64_t cr = 0x303;
  EXPECT_EQ(qual_cr_access::CR.get(cr), 3u);
  EXPECT_EQ(qual_cr_access::ACCESS_TYPE.get(cr), qual_cr_access::MOV_TO_CR);
  EXPECT_EQ(qual_cr_access::GPR.get(cr), 3u);
  // lmsw with source 0x0011 from memory.
  const uint64_t lmsw = (0x11ull << 16) | (1u << 6) | (3u << 4);
  EXPECT_EQ(qual_cr_access::ACCESS_TYPE.get(lmsw), qual_cr_access::LMSW);
  EXPECT_EQ(qual_cr_access::LMSW_OPERAND.get(lmsw), qual_cr_access::LMSW_MEMORY);
  EXPECT_EQ(qual_cr_access::LMSW_SOURCE.get(lmsw), 0x11u);
  // mov %dr7, %rax: DR 7, from DR, GPR 0 (table 27-4).
  EXPECT_EQ(qual_mov_dr::DR.get(0x17), 7u);
  EXPECT_EQ(qual_mov_dr::DIRECTION.get(0x17), qual_mov_dr::MOV_FROM_DR);
  // in $0x60, %al: 1 byte, IN, immediate (table 27-5).
  const uint64_t io = (0x60ull << 16) | (1u << 6) | (1u << 3);
  EXPECT_EQ(qual_io::SIZE.get(io), qual_io::SIZE_1);
  EXPECT_EQ(qual_io::DIRECTION.get(io), qual_io::IN);
  EXPECT_EQ(qual_io::OPERAND_ENCODING.get(io), qual_io::PORT_IMMEDIATE);
  EXPECT_EQ(qual_io::PORT.get(io), 0x60u);
  // rep outsw to dx=0x3f8.
  const uint64_t outs = (0x3f8ull << 16) | (1u << 5) | (1u << 4) | qual_io::SIZE_2;
  EXPECT_TRUE(qual_io::STRING.test(outs));
  EXPECT_TRUE(qual_io::REP.test(outs));
  EXPECT_EQ(qual_io::SIZE.get(outs), 1u);
  EXPECT_EQ(qual_io::SIZE_4, 3u);
}

TEST(ArchVmxQualifications, EptViolation) {
  EXPECT_EQ(qual_ept_violation::READ.mask, 1ull << 0);
  EXPECT_EQ(qual_ept_violation::WRITE.mask, 1ull << 1);
  EXPECT_EQ(qual_ept_violation::FETCH.mask, 1ull << 2);
  EXPECT_EQ(qual_ept_violation::READABLE.mask, 1ull << 3);
  EXPECT_EQ(qual_ept_violation::EXECUTABLE.mask, 1ull << 5);
  EXPECT_EQ(qual_ept_violation::GLA_VALID.mask, 1ull << 7);
  EXPECT_EQ(qual_ept_violation::GLA_TRANSLATED.mask, 1ull << 8);
  EXPECT_EQ(qual_ept_violation::NMI_UNBLOCKING.mask, 1ull << 12);
  EXPECT_EQ(qual_ept_violation_permissions(ept_entry::READ.mask | ept_entry::EXECUTE.mask),
            qual_ept_violation::READABLE.mask | qual_ept_violation::EXECUTABLE.mask);
  EXPECT_EQ(qual_task_switch::SOURCE.get(3ull << 30), qual_task_switch::SOURCE_IDT_GATE);
}

TEST(ArchVmxQualifications, InterruptionInformation) {
  // #PF with error code, valid (SDM 24.9.2).
  EXPECT_EQ(make_intr_info(14, intr_info::TYPE_HARDWARE_EXCEPTION, true), 0x80000b0eu);
  EXPECT_EQ(make_intr_info(2, intr_info::TYPE_NMI, false), 0x80000202u);
  EXPECT_EQ(intr_info::TYPE_EXTERNAL_INTERRUPT, 0u);
  EXPECT_EQ(intr_info::TYPE_SOFTWARE_INTERRUPT, 4u);
  EXPECT_EQ(intr_info::TYPE_PRIVILEGED_SOFTWARE_EXCEPTION, 5u);
  EXPECT_EQ(intr_info::TYPE_SOFTWARE_EXCEPTION, 6u);
  EXPECT_EQ(intr_info::TYPE_OTHER_EVENT, 7u);
  EXPECT_EQ(intr_info::NMI_UNBLOCKING.mask, 1ull << 12);
  EXPECT_EQ(intr_info::VALID.mask, 1ull << 31);
  EXPECT_EQ(interruptibility::BLOCKING_BY_STI.mask, 1u);
  EXPECT_EQ(interruptibility::BLOCKING_BY_MOV_SS.mask, 2u);
  EXPECT_EQ(interruptibility::BLOCKING_BY_NMI.mask, 8u);
  EXPECT_EQ(activity_state::WAIT_FOR_SIPI, 3u);
  EXPECT_EQ(pending_dbg::BS.mask, 1ull << 14);
  EXPECT_EQ(pending_dbg::ENABLED_BREAKPOINT.mask, 1ull << 12);
}

TEST(ArchVmxQualifications, InstructionInformation) {
  // vmread %rax -> %rbx (register form): REG1 = RBX (3), REG2 = RAX (0),
  // MEM_REG = 1 (SDM table 27-14).
  const uint64_t vmread = (0u << 28) | (1u << 10) | (2u << 7) | (3u << 3);
  EXPECT_EQ(insn_info_vmread_vmwrite::MEM_REG.get(vmread), insn_info_vmread_vmwrite::REGISTER);
  EXPECT_EQ(insn_info_vmread_vmwrite::REG1.get(vmread), 3u);
  EXPECT_EQ(insn_info_vmread_vmwrite::REG2.get(vmread), 0u);
  EXPECT_EQ(insn_info_vmread_vmwrite::ADDRESS_SIZE.get(vmread), insn_info_vmread_vmwrite::ADDR64);
  // lidt (%rdi): identity LIDT, base RDI, no index (table 27-10).
  const uint64_t lidt = (3u << 28) | (1u << 22) | (7u << 23) | (3u << 15) | (2u << 7);
  EXPECT_EQ(insn_info_dtable::IDENTITY.get(lidt), insn_info_dtable::LIDT);
  EXPECT_EQ(insn_info_dtable::BASE_REG.get(lidt), 7u);
  EXPECT_TRUE(insn_info_dtable::INDEX_INVALID.test(lidt));
  EXPECT_FALSE(insn_info_dtable::BASE_INVALID.test(lidt));
  EXPECT_EQ(insn_info_dtable::SEGMENT.get(lidt), unsigned(arch::seg::DS));
  EXPECT_EQ(insn_info_ldt_tr::IDENTITY.get(3ull << 28), insn_info_ldt_tr::LTR);
  EXPECT_EQ(insn_info_scale(2), 4u);
  EXPECT_EQ(insn_info_inv::REG2.mask, 0xf0000000ull);
}

TEST(ArchVmxLayouts, FieldsOfALayoutDoNotOverlapAndValuesNameRealFields) {
  using namespace nestbed::arch_json::detail;
  std::set<std::string> layouts;
  for (const LayoutRow& l : kLayouts) EXPECT_TRUE(layouts.insert(l.name).second) << l.name;
  for (const LayoutRow& l : kLayouts) {
    uint64_t used = 0;
    std::set<std::string> fields;
    for (const FieldRow& f : kFields) {
      if (std::strcmp(f.layout, l.name) != 0) continue;
      const uint64_t m = BitField(f.lsb, f.bits).mask;
      EXPECT_EQ(used & m, 0u) << l.name << "::" << f.name << " overlaps";
      used |= m;
      fields.insert(f.name);
    }
    for (const ValueRow& v : kValues) {
      if (std::strcmp(v.layout, l.name) != 0) continue;
      EXPECT_EQ(fields.count(v.field), 1u) << l.name << "::" << v.name << " names field " << v.field;
    }
  }
  for (const FieldRow& f : kFields) EXPECT_EQ(layouts.count(f.layout), 1u) << f.layout;
  // Every exit reason's qualification layout exists.
  for (uint16_t r : kExitReasons) EXPECT_EQ(layouts.count(exit_reason_qualification(r)), 1u) << r;
}

// ---- Generated JSON ----------------------------------------------------------

#ifdef NESTBED_HAVE_NLOHMANN_JSON

void check_json_matches_tables(const nlohmann::json& j) {
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.at("schema_version").get<int>(), nestbed::arch_json::kSchemaVersion);

  const auto& fields = j.at("vmcs_fields");
  ASSERT_EQ(fields.size(), kVmcsFieldCount);
  for (unsigned i = 0; i < kVmcsFieldCount; i++) {
    const VmcsFieldInfo& f = kVmcsFields[i];
    const auto& o = fields[i];
    EXPECT_EQ(o.at("name").get<std::string>(), f.name);
    EXPECT_EQ(o.at("encoding").get<uint32_t>(), f.encoding);
    EXPECT_EQ(o.at("width").get<std::string>(), vmcs_width_name(f.width));
    EXPECT_EQ(o.at("type").get<std::string>(), vmcs_type_name(f.type));
    if (f.width == VmcsWidth::BITS64)
      EXPECT_EQ(o.at("high_encoding").get<uint32_t>(), f.encoding | 1u);
    else
      EXPECT_TRUE(o.at("high_encoding").is_null());
  }
  EXPECT_EQ(j.at("vmcs_max_index").get<unsigned>(), kVmcsMaxIndex);

  const auto& reasons = j.at("exit_reasons");
  ASSERT_EQ(reasons.size(), kExitReasonCount);
  for (unsigned i = 0; i < kExitReasonCount; i++) {
    EXPECT_EQ(reasons[i].at("number").get<unsigned>(), kExitReasons[i]);
    EXPECT_EQ(reasons[i].at("name").get<std::string>(), exit_reason_name(kExitReasons[i]));
    EXPECT_EQ(reasons[i].at("qualification").get<std::string>(), exit_reason_qualification(kExitReasons[i]));
  }

  const auto& words = j.at("control_words");
  ASSERT_EQ(words.size(), kControlWordCount);
  unsigned controls = 0;
  for (unsigned i = 0; i < kControlWordCount; i++) {
    const ControlWordInfo& w = kControlWords[i];
    EXPECT_EQ(words[i].at("name").get<std::string>(), w.name);
    EXPECT_EQ(words[i].at("vmcs_field").get<std::string>(), vmcs_field_name(w.vmcs_field));
    EXPECT_EQ(words[i].at("default1").get<uint64_t>(), w.default1);
    EXPECT_EQ(words[i].at("defined").get<uint64_t>(), control_word_defined(w.word));
    for (const auto& c : words[i].at("controls")) {
      EXPECT_STREQ(control_name(w.word, c.at("bit").get<unsigned>()), c.at("name").get<std::string>().c_str());
      controls++;
    }
  }
  EXPECT_EQ(controls, kControlCount);
  EXPECT_EQ(words[0].at("capability_msr").get<std::string>(), "IA32_VMX_PINBASED_CTLS");

  const auto& errors = j.at("vm_instruction_errors");
  ASSERT_EQ(errors.size(), kVmInstructionErrorCount);
  for (const auto& e : errors)
    EXPECT_STREQ(vm_instruction_error_text(e.at("number").get<uint32_t>()), e.at("text").get<std::string>().c_str());
  bool found7 = false;
  for (const auto& e : errors)
    if (e.at("number") == 7) found7 = e.at("text") == "VM entry with invalid control field(s)";
  EXPECT_TRUE(found7);

  const auto& layouts = j.at("layouts");
  EXPECT_EQ(layouts.size(), std::size(nestbed::arch_json::detail::kLayouts));
  size_t nfields = 0, nvalues = 0;
  for (const auto& l : layouts) {
    nfields += l.at("fields").size();
    nvalues += l.at("values").size();
    if (l.at("name") == "qual_ept_violation") {
      EXPECT_EQ(l.at("group"), "exit_qualification");
      EXPECT_EQ(l.at("fields")[7].at("name"), "GLA_VALID");
      EXPECT_EQ(l.at("fields")[7].at("mask").get<uint64_t>(), 0x80u);
    }
  }
  EXPECT_EQ(nfields, std::size(nestbed::arch_json::detail::kFields));
  EXPECT_EQ(nvalues, std::size(nestbed::arch_json::detail::kValues));

  const auto& exceptions = j.at("exceptions");
  ASSERT_FALSE(exceptions.empty());
  for (const auto& e : exceptions) {
    const auto v = e.at("vector").get<uint8_t>();
    EXPECT_EQ(e.at("has_error_code").get<bool>(), arch::exception_has_error_code(v));
    EXPECT_STREQ(arch::exception_name(v), e.at("mnemonic").get<std::string>().c_str());
  }
  const auto& msrs = j.at("msrs");
  ASSERT_FALSE(msrs.empty());
  for (const auto& m : msrs) EXPECT_STREQ(arch::msr::name(m.at("index").get<uint32_t>()), m.at("name").get<std::string>().c_str());
}

TEST(ArchVmxJson, GeneratedDocumentParsesAndMatchesTheTables) {
  const std::string text = nestbed::arch_json::generate();
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(text));
  check_json_matches_tables(j);
  EXPECT_EQ(nestbed::arch_json::generate(), text) << "generation must be deterministic";
}

TEST(ArchVmxJson, BuildTreeFileIsCurrent) {
#ifndef NESTBED_ARCH_JSON_PATH
  GTEST_SKIP() << "NESTBED_ARCH_JSON_PATH not set by the build (arch/CMakeLists.txt)";
#else
  std::ifstream in(NESTBED_ARCH_JSON_PATH, std::ios::binary);
  ASSERT_TRUE(in) << NESTBED_ARCH_JSON_PATH << " missing: build target nestbed_arch_json";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), nestbed::arch_json::generate()) << NESTBED_ARCH_JSON_PATH << " is stale";
  check_json_matches_tables(nlohmann::json::parse(ss.str()));
#endif
}

#else
TEST(ArchVmxJson, GeneratedDocumentParsesAndMatchesTheTables) {
  GTEST_SKIP() << "nlohmann/json.hpp not available";
}
#endif

}  // namespace
