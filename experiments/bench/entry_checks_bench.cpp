// The VM-entry checks (common/vmx/entry_checks.h, SDM 26.2-26.3) on a VMCS
// that passes them all, so every check runs: the sim pays this on every
// VMLAUNCH/VMRESUME. Run:
//   build/bin/nestbed_bench --benchmark_filter=CheckVmEntry
#include <benchmark/benchmark.h>

#include "common/vmx/entry_checks.h"
#include "tests/support/sim_vmx_setup.h"

namespace {

using namespace nestbed;

void BM_CheckVmEntry(benchmark::State& state) {
  testing::SimMachine m;
  testing::enable_vmx(m);
  sim::vmx::Vmcs& v = testing::prepare_vmcs(m);
  // A VMCS link pointer, so the one memory read (its revision) is measured too.
  constexpr uint64_t kLinked = testing::vmx_layout::VMCS_REGION + 0x1000;
  m.poke<uint32_t>(kLinked, sim::vmx::kVmcsRevision);
  v.write(arch::vmx::VmcsField::VMCS_LINK_POINTER, kLinked);
  const auto read_phys = [](void* cpu, uint64_t pa, unsigned size) {
    return static_cast<sim::Cpu*>(cpu)->phys_read(pa, size);
  };
  const common::vmx::EntryCheckContext ctx{sim::vmx::sim_vmx_capabilities(), read_phys, &m.cpu,
                                           testing::vmx_layout::VMXON_REGION, testing::vmx_layout::VMCS_REGION};
  const common::vmx::VmcsView view{v.fields()};
  if (!common::vmx::check_vm_entry(view, ctx).ok()) {
    state.SkipWithError("the VMCS does not pass the entry checks");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(common::vmx::check_vm_entry(view, ctx));
}
BENCHMARK(BM_CheckVmEntry);

}  // namespace
