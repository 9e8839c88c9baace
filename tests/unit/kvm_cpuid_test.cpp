// The kvm engine's CPUID changes, its depth rule and its capability report,
// on synthetic inputs (no /dev/kvm needed).
#include <gtest/gtest.h>

#include "arch/x86/cpuid.h"
#include "l0/kvm/guest_cpuid.h"
#include "l0/kvm/kvm_capabilities.h"

namespace nestbed::kvm {
namespace {

using namespace arch::cpuid;

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx, uint32_t index = 0,
                      uint32_t flags = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  e.flags = flags;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// Shaped like what this project's development host's KVM supports.
CpuidEntries host_supported(bool vmx) {
  return {
      leaf(0, 0x20, 0x756e6547, 0x6c65746e, 0x49656e69),
      leaf(1, 0x000c06f2, 0x01020800, L1_ECX_X2APIC | L1_ECX_TSC_DEADLINE | L1_ECX_HYPERVISOR | L1_ECX_CX16 | (vmx ? L1_ECX_VMX : 0),
           0x0f8bfbff),
      leaf(0xb, 0, 0, 0, 1, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX),
      leaf(0xb, 0, 0, 1, 1, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX),
      leaf(0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      leaf(0x40000001, 0x01007efb, 0, 0, 0),
      leaf(0x80000001, 0, 0, 0x101, 0x20100800),
  };
}

TEST(KvmGuestCpuid, OffersX2ApicClearsTscDeadlineKeepsTheRest) {
  CpuidEntries supported = host_supported(false);
  find_cpuid(supported, 1)->ecx &= ~L1_ECX_X2APIC;  // the shared LocalApic has it whatever KVM says
  CpuidEntries cpuid = guest_cpuid(supported);
  const kvm_cpuid_entry2* l1 = find_cpuid(cpuid, 1);
  ASSERT_NE(l1, nullptr);
  EXPECT_NE(l1->ecx & L1_ECX_X2APIC, 0u);
  EXPECT_EQ(l1->ecx & L1_ECX_TSC_DEADLINE, 0u);
  EXPECT_EQ(l1->ecx & (L1_ECX_HYPERVISOR | L1_ECX_CX16), L1_ECX_HYPERVISOR | L1_ECX_CX16);
  EXPECT_EQ(l1->edx, 0x0f8bfbffu);
  EXPECT_EQ(l1->eax, 0x000c06f2u);
  ASSERT_NE(find_cpuid(cpuid, 0x80000001), nullptr);
  EXPECT_EQ(find_cpuid(cpuid, 0x80000001)->edx, 0x20100800u);
}

TEST(KvmGuestCpuid, OneProcessorWithApicIdZero) {
  CpuidEntries cpuid = guest_cpuid(host_supported(false));
  const kvm_cpuid_entry2* l1 = find_cpuid(cpuid, 1);
  EXPECT_EQ(l1->ebx >> 24, 0u) << "initial APIC ID";
  EXPECT_EQ((l1->ebx >> 16) & 0xff, 1u) << "logical processors";
  EXPECT_EQ(l1->ebx & 0xffff, 0x0800u) << "CLFLUSH size and brand index untouched";
  EXPECT_EQ(find_cpuid(cpuid, 0xb, 0)->edx, 0u);
  EXPECT_EQ(find_cpuid(cpuid, 0xb, 1)->edx, 0u);
  EXPECT_EQ(find_cpuid(cpuid, 0xb, 1)->ecx, 1u) << "subleaf found by index";
}

TEST(KvmGuestCpuid, RemovesKvmParavirtualLeaves) {
  CpuidEntries cpuid = guest_cpuid(host_supported(false));
  EXPECT_EQ(find_cpuid(cpuid, 0x40000000), nullptr);
  EXPECT_EQ(find_cpuid(cpuid, 0x40000001), nullptr);
  EXPECT_EQ(cpuid.size(), host_supported(false).size() - 2);
}

TEST(KvmGuestCpuid, VmxIsPassedOnWhenTheHostOffersIt) {
  EXPECT_FALSE(offers_vmx(host_supported(false)));
  EXPECT_TRUE(offers_vmx(host_supported(true)));
  EXPECT_TRUE(find_cpuid(guest_cpuid(host_supported(true)), 1)->ecx & L1_ECX_VMX);
  EXPECT_FALSE(offers_vmx({}));
}

TEST(KvmDepth, L1VmmOrAnyModuleMeansDepthOneOrMore) {
  RunConfig config;
  config.image_path = "build/images/cpuid-loop";
  EXPECT_FALSE(run_needs_vmx(config));
  config.image_path = "build/images/l1-vmm";
  EXPECT_TRUE(run_needs_vmx(config));
  config.image_path = "l1-vmm";
  EXPECT_TRUE(run_needs_vmx(config));
  config.image_path = "build/images/l1-vmm-notes.txt";
  EXPECT_FALSE(run_needs_vmx(config));
  config.modules.push_back({"build/images/cpuid-loop", ""});
  EXPECT_TRUE(run_needs_vmx(config));
}

KvmCapabilities usable_host(const std::string& module, bool vmx, const std::string& nested) {
  KvmCapabilities caps;
  caps.device_present = caps.usable = true;
  caps.api_version = 12;
  caps.module = module;
  caps.vmx_offered = vmx;
  caps.nested_parameter = nested;
  return caps;
}

TEST(KvmCapabilityReport, SaysDepthZeroOnlyAndWhyWithoutVmx) {
  KvmCapabilities caps = usable_host("kvm_intel", false, "N");
  EXPECT_FALSE(caps.runs_depth_1_and_up());
  EXPECT_EQ(caps.why_no_nesting(),
            "this host's KVM does not offer VMX to its guests (KVM_GET_SUPPORTED_CPUID leaf 1 ECX bit 5 clear; "
            "/sys/module/kvm_intel/parameters/nested: N)");
  std::string report = format_kvm_report(caps);
  EXPECT_NE(report.find("usable, KVM API version 12"), std::string::npos) << report;
  EXPECT_NE(report.find("0 only"), std::string::npos) << report;
  EXPECT_NE(report.find("exit status 72"), std::string::npos) << report;
}

TEST(KvmCapabilityReport, SaysDepthOneAndUpWithVmx) {
  KvmCapabilities caps = usable_host("kvm_intel", true, "Y");
  EXPECT_TRUE(caps.runs_depth_1_and_up());
  EXPECT_EQ(caps.why_no_nesting(), "");
  EXPECT_NE(format_kvm_report(caps).find("0 and up"), std::string::npos);
}

TEST(KvmCapabilityReport, SaysWhyKvmIsUnusable) {
  KvmCapabilities caps;
  caps.problem = "/dev/kvm does not exist";
  EXPECT_FALSE(caps.runs_depth_1_and_up());
  EXPECT_EQ(caps.why_no_nesting(), "the kvm engine cannot run here: /dev/kvm does not exist");
  std::string report = format_kvm_report(caps);
  EXPECT_NE(report.find("not usable: /dev/kvm does not exist"), std::string::npos) << report;
  EXPECT_NE(report.find("none (use --engine sim)"), std::string::npos) << report;
}

TEST(KvmCapabilityReport, NamesAModuleWithoutNestedVmx) {
  KvmCapabilities caps = usable_host("kvm_pvm", false, "");
  EXPECT_EQ(caps.why_no_nesting(),
            "this host's KVM does not offer VMX to its guests (KVM_GET_SUPPORTED_CPUID leaf 1 ECX bit 5 clear; "
            "/sys/module/kvm_intel/parameters/nested: absent; KVM module kvm_pvm)");
}

}  // namespace
}  // namespace nestbed::kvm
