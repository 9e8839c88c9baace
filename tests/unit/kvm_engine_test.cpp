// The kvm engine on /dev/kvm: small hand-made guests for each stop and
// device path, the workloads' traces, and the CLI's kvm subcommands. Every
// test that needs KVM skips, saying why, where /dev/kvm is missing or unusable.
#include <gtest/gtest.h>
#include <linux/kvm.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "arch/x86/cpuid.h"
#include "tests/support/memory_file.h"
#include "exit-tracer/exit_trace.h"
#include "l0/engine.h"
#include "l0/kvm/kvm_capabilities.h"
#include "l0/machine/machine.h"
#include "tests/support/multiboot_image_builder.h"
#include "tests/support/sanitizer_report.h"

#ifndef NESTBED_KVM_TEST_IMAGES
#error "tests/kvm.cmake defines NESTBED_KVM_TEST_IMAGES (the workload image directory)"
#endif
#ifndef NESTBED_KVM_TEST_CLI
#error "tests/kvm.cmake defines NESTBED_KVM_TEST_CLI (the nestbed binary)"
#endif

namespace nestbed {
namespace {

using trace::Access;
using trace::ExitTrace;
using trace::UserExit;

const kvm::KvmCapabilities& host() {
  static const kvm::KvmCapabilities caps = kvm::probe_kvm_capabilities();
  return caps;
}

#define SKIP_WITHOUT_KVM()                                                                                  \
  do {                                                                                                      \
    if (!host().usable) GTEST_SKIP() << "kvm engine test skipped: /dev/kvm is not usable here: " << host().problem; \
  } while (0)

// A directory of this test process's own, removed when it exits: test
// processes run in parallel (and other runs of the suite may too).
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "nestbed-kvm-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string temp_path(const std::string& name) {
  static const ScratchDir scratch;
  return scratch.path() + "/" + name;
}

std::string workload(const std::string& name) { return std::string(NESTBED_KVM_TEST_IMAGES) + "/" + name; }

// A console that captures what the guest prints.
using Console = nestbed::testing::MemoryFile;

struct KvmRun {
  RunResult result;
  std::string console;
  uint64_t uart_bytes = 0;
  uint64_t io_accesses = 0;
};

KvmRun run_on_kvm(const RunConfig& config) {
  Console console;
  std::unique_ptr<Machine> machine = create_machine(config, console.file());
  RunResult result = make_engine("kvm")->run(*machine, config);
  return {result, console.text(), machine->devices.com1.bytes_written(), machine->devices.bus.io_accesses};
}

RunConfig config_for(const std::string& image, const std::string& cmdline = "") {
  RunConfig config;
  config.engine = "kvm";
  config.image_path = image;
  config.cmdline = cmdline;
  return config;
}

// A Multiboot image of 32-bit code loaded at 1 MiB (a.out kludge), entered with paging off.
std::string guest_image(const std::string& name, const std::vector<uint8_t>& code) {
  std::string path = temp_path(name);
  testing::write_file(path, testing::build_aout_kludge(0x100000, code, 0, 0));
  return path;
}

// Runs 32-bit `code` whose last act is `out 0xf4, eax` and returns the exit code.
std::optional<uint32_t> debug_exit_code_of(const std::string& name, std::vector<uint8_t> code) {
  code.insert(code.end(), {0xe7, 0xf4});  // out 0xf4, eax
  KvmRun run = run_on_kvm(config_for(guest_image(name, code)));
  if (run.result.reason != StopReason::DebugExit) {
    ADD_FAILURE() << name << ": stopped with '" << run.result.message << "'";
    return std::nullopt;
  }
  return run.result.debug_exit_code;
}

// ---- the Multiboot entry state and the guest's view ----

TEST(KvmEngine, EntersInTheMultibootState) {
  SKIP_WITHOUT_KVM();
  EXPECT_EQ(debug_exit_code_of("eax", {}), 0x2badb002u) << "EAX = Multiboot magic";
  EXPECT_EQ(debug_exit_code_of("cr0", {0x0f, 0x20, 0xc0}), 0x11u) << "CR0 = PE|ET";  // mov eax, cr0
  EXPECT_EQ(debug_exit_code_of("eflags", {0xbc, 0x00, 0x00, 0x09, 0x00, 0x9c, 0x58}), 0x2u)  // mov esp; pushf; pop eax
      << "EFLAGS = 2: interrupts off";
  EXPECT_EQ(debug_exit_code_of("cs", {0x8c, 0xc8}).value_or(0) & 0xffff, 0x08u);  // mov eax, cs
}

TEST(KvmEngine, GuestCpuidOffersX2ApicWithApicIdZero) {
  SKIP_WITHOUT_KVM();
  const std::vector<uint8_t> leaf1 = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2};  // mov eax, 1; cpuid
  std::vector<uint8_t> ecx = leaf1, ebx = leaf1;
  ecx.insert(ecx.end(), {0x89, 0xc8});  // mov eax, ecx
  ebx.insert(ebx.end(), {0x89, 0xd8});  // mov eax, ebx
  std::optional<uint32_t> features = debug_exit_code_of("cpuid-ecx", ecx);
  ASSERT_TRUE(features);
  EXPECT_NE(*features & arch::cpuid::L1_ECX_X2APIC, 0u);
  EXPECT_EQ(*features & arch::cpuid::L1_ECX_TSC_DEADLINE, 0u);
  EXPECT_NE(*features & arch::cpuid::L1_ECX_HYPERVISOR, 0u);
  EXPECT_EQ(bool(*features & arch::cpuid::L1_ECX_VMX), host().vmx_offered);
  std::optional<uint32_t> ids = debug_exit_code_of("cpuid-ebx", ebx);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids >> 24, 0u);
}

// ---- devices behind the exits ----

TEST(KvmEngine, UnassignedPortsReadAllOnes) {
  SKIP_WITHOUT_KVM();
  EXPECT_EQ(debug_exit_code_of("port", {0x31, 0xc0, 0xe4, 0x99}), 0xffu);  // xor eax, eax; in al, 0x99
}

TEST(KvmEngine, MmioOutsideRamAndDevicesReadsAllOnes) {
  SKIP_WITHOUT_KVM();
  EXPECT_EQ(debug_exit_code_of("hole", {0xa1, 0x00, 0x00, 0x00, 0xc0}), 0xffffffffu);  // mov eax, [0xc0000000]
}

TEST(KvmEngine, ApicMmioReachesTheSharedLocalApic) {
  SKIP_WITHOUT_KVM();
  EXPECT_EQ(debug_exit_code_of("apic-version", {0xa1, 0x30, 0x00, 0xe0, 0xfe}), 0x00050014u);  // mov eax, [0xfee00030]
}

TEST(KvmEngine, ApicBaseMsrReachesTheSharedLocalApic) {
  SKIP_WITHOUT_KVM();
  // mov ecx, 0x1b; rdmsr: enabled (bit 11), BSP (bit 8), base 0xfee00000.
  EXPECT_EQ(debug_exit_code_of("apic-base", {0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32}), 0xfee00900u);
}

// KVM refuses x2APIC MSRs without its in-kernel APIC and hands them to user
// space, where the shared LocalApic answers them.
TEST(KvmEngine, X2ApicMsrsReachTheSharedLocalApic) {
  SKIP_WITHOUT_KVM();
  // mov ecx, 0x1b; rdmsr; or eax, EXTD (bit 10); wrmsr; mov ecx, 0x803; rdmsr (x2APIC version)
  EXPECT_EQ(debug_exit_code_of("x2apic", {0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x0d, 0x00, 0x04, 0x00, 0x00, 0x0f,
                                          0x30, 0xb9, 0x03, 0x08, 0x00, 0x00, 0x0f, 0x32}),
            0x00050014u);
}

TEST(KvmEngine, X2ApicMsrsFaultWhileInXApicMode) {
  SKIP_WITHOUT_KVM();
  // mov ecx, 0x803; rdmsr with x2APIC off: #GP, and with no IDT a triple fault.
  KvmRun run = run_on_kvm(config_for(guest_image("x2apic-off", {0xb9, 0x03, 0x08, 0x00, 0x00, 0x0f, 0x32, 0xe7, 0xf4})));
  EXPECT_EQ(run.result.reason, StopReason::TripleFault) << run.result.message;
}

// ---- how runs stop ----

TEST(KvmEngine, HltWithInterruptsOffStopsHalted) {
  SKIP_WITHOUT_KVM();
  KvmRun run = run_on_kvm(config_for(guest_image("cli-hlt", {0xfa, 0xf4})));  // cli; hlt
  EXPECT_EQ(run.result.reason, StopReason::Halted);
  EXPECT_EQ(run.result.process_status(), exit_status::HALTED);
  EXPECT_NE(run.result.message.find("HLT with interrupts disabled and nothing pending (rip 0x"), std::string::npos)
      << run.result.message;
}

TEST(KvmEngine, HltWithNoInterruptSourceStopsHalted) {
  SKIP_WITHOUT_KVM();
  KvmRun run = run_on_kvm(config_for(guest_image("sti-hlt", {0xfb, 0xf4})));  // sti; hlt
  EXPECT_EQ(run.result.reason, StopReason::Halted);
  EXPECT_NE(run.result.message.find("no interrupt source armed"), std::string::npos) << run.result.message;
}

TEST(KvmEngine, TripleFaultStops) {
  SKIP_WITHOUT_KVM();
  // mov esp, 0x90000; push 0; push 0; lidt [esp] (limit 0); ud2: #UD -> #GP -> #DF -> shutdown.
  KvmRun run = run_on_kvm(config_for(guest_image(
      "triple-fault", {0xbc, 0x00, 0x00, 0x09, 0x00, 0x6a, 0x00, 0x6a, 0x00, 0x0f, 0x01, 0x1c, 0x24, 0x0f, 0x0b})));
  EXPECT_EQ(run.result.reason, StopReason::TripleFault);
  EXPECT_EQ(run.result.process_status(), exit_status::TRIPLE_FAULT);
  EXPECT_NE(run.result.message.find("KVM_EXIT_SHUTDOWN"), std::string::npos) << run.result.message;
}

// ---- options the engine cannot honour ----

TEST(KvmEngine, RefusesMaxInstructions) {
  RunConfig config = config_for(workload("hello"));
  config.max_instructions = 1000;
  Console console;
  auto machine = create_machine(config, console.file());
  try {
    make_engine("kvm")->run(*machine, config);
    FAIL() << "--max-instructions accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-instructions is not supported by the kvm engine"), std::string::npos);
  }
}

TEST(KvmEngine, RefusesACostModel) {
  RunConfig config = config_for(workload("hello"));
  config.cost_model_path = "costs.def";
  Console console;
  auto machine = create_machine(config, console.file());
  EXPECT_THROW(make_engine("kvm")->run(*machine, config), InputError);
}

TEST(KvmEngine, RefusesAnUnwritableTraceFileBeforeRunning) {
  RunConfig config = config_for(workload("hello"));
  config.trace_path = "/nonexistent/dir/x.trace";
  Console console;
  auto machine = create_machine(config, console.file());
  EXPECT_THROW(make_engine("kvm")->run(*machine, config), InputError);
  EXPECT_EQ(console.text(), "") << "the guest must not have run";
}

// Depth >= 1 needs VMX in the guest (DESIGN.md §5).
TEST(KvmEngine, DepthOneOrMoreIsUnsupportedWithoutVmx) {
  SKIP_WITHOUT_KVM();
  if (host().vmx_offered) GTEST_SKIP() << "this host's KVM offers VMX, so depth >= 1 is allowed here";
  RunConfig with_module = config_for(workload("hello"));
  with_module.modules.push_back({workload("cpuid-loop"), "10"});
  const std::string l1_vmm = temp_path("l1-vmm");
  testing::write_file(l1_vmm, testing::build_aout_kludge(0x100000, testing::print_and_exit_code("x", 0), 0, 0));
  for (const RunConfig& config : {with_module, config_for(l1_vmm)}) {
    KvmRun run = run_on_kvm(config);
    EXPECT_EQ(run.result.reason, StopReason::Unsupported);
    EXPECT_EQ(run.result.process_status(), exit_status::UNSUPPORTED);
    EXPECT_NE(run.result.message.find("does not offer VMX to its guests"), std::string::npos) << run.result.message;
    EXPECT_EQ(run.console, "") << "refused before running";
  }
}

// ---- the workloads and their traces ----

TEST(KvmEngine, PioLoopTraceHasExactlyNExitsOnPort0x80) {
  SKIP_WITHOUT_KVM();
  constexpr unsigned N = 37;
  RunConfig config = config_for(workload("pio-loop"), std::to_string(N));
  config.trace_path = temp_path("pio-loop.trace");
  KvmRun run = run_on_kvm(config);
  ASSERT_EQ(run.result.reason, StopReason::DebugExit) << run.result.message;
  EXPECT_EQ(run.result.debug_exit_code, 0u);
  EXPECT_NE(run.console.find("pio-loop: 37 out done\n"), std::string::npos) << run.console;

  // N exits on the POST port, one on isa-debug-exit, and the rest are the
  // runtime's console (COM1) and PIC-masking accesses.
  const ExitTrace trace = trace::read_trace_file(config.trace_path);
  unsigned post_code = 0, debug_exit = 0, com1_writes = 0;
  for (const UserExit& e : trace.user_exits) {
    ASSERT_EQ(e.reason, uint32_t(KVM_EXIT_IO)) << "pio-loop touches nothing but ports";
    if (e.address == 0x80) {
      EXPECT_EQ(e.access, uint8_t(Access::Write));
      EXPECT_EQ(e.size, 1);
      EXPECT_EQ(e.data, post_code % 256) << "the loop writes its counter";
      ++post_code;
    } else if (e.address == 0xf4) {
      ++debug_exit;
    } else if (e.address >= 0x3f8 && e.address < 0x400) {
      com1_writes += e.address == 0x3f8 && e.access == uint8_t(Access::Write);
    } else {
      EXPECT_TRUE(e.address == 0x21 || e.address == 0xa1) << "unexpected port " << e.address;
    }
  }
  EXPECT_EQ(post_code, N);
  EXPECT_EQ(debug_exit, 1u);
  EXPECT_GE(com1_writes, run.uart_bytes) << "each byte printed is an exit to COM1's THR (and DLL shares the port)";
  EXPECT_EQ(trace.user_exits.size(), run.io_accesses) << "no string I/O: one exit per port access";

  const UserExit& last = trace.user_exits.back();
  EXPECT_EQ(last.address, 0xf4u) << "the run ends with the isa-debug-exit write";
  EXPECT_EQ(last.data, 0u);
  EXPECT_EQ(last.tsc_resume, 0u) << "never resumed";
  for (size_t i = 0; i + 1 < trace.user_exits.size(); ++i) {
    EXPECT_EQ(trace.user_exits[i].seq, i);
    EXPECT_GE(trace.user_exits[i].tsc_resume, trace.user_exits[i].tsc_exit);
    EXPECT_GE(trace.user_exits[i + 1].tsc_exit, trace.user_exits[i].tsc_resume);
  }
  EXPECT_EQ(trace.name(trace::NameSpace::KvmExitReason, KVM_EXIT_IO), "KVM_EXIT_IO");
  ASSERT_NE(trace.note("engine"), nullptr);
  EXPECT_EQ(*trace.note("engine"), "kvm");
  EXPECT_NE(trace.note("tracefs"), nullptr) << "the trace says what tracefs gave it, or why not";
  EXPECT_GT(trace.tsc_hz, 0u);
}

TEST(KvmEngine, StatsCountTscCyclesAndNoInstructions) {
  SKIP_WITHOUT_KVM();
  KvmRun run = run_on_kvm(config_for(workload("hello")));
  EXPECT_EQ(run.result.stats.instructions, 0u);
  EXPECT_GT(run.result.stats.cycles, 0u);
  EXPECT_GT(run.result.stats.wall_seconds, 0.0);
  EXPECT_EQ(run.result.stats.io_exits, run.io_accesses);
}

TEST(KvmEngine, TimerInterruptsAreInjectedFromTheSharedApic) {
  SKIP_WITHOUT_KVM();
  RunConfig config = config_for(workload("timer"), "4");
  config.trace_path = temp_path("timer.trace");
  KvmRun run = run_on_kvm(config);
  ASSERT_EQ(run.result.reason, StopReason::DebugExit) << run.result.message;
  EXPECT_NE(run.console.find("timer: 4 interrupts\n"), std::string::npos) << run.console;
  EXPECT_EQ(run.result.stats.interrupts, 4u);
  const ExitTrace trace = trace::read_trace_file(config.trace_path);
  unsigned apic_writes = 0, halts = 0;
  for (const UserExit& e : trace.user_exits) {
    if (e.reason == KVM_EXIT_MMIO && (e.address & ~0xfffull) == 0xfee00000) apic_writes += e.access == uint8_t(Access::Write);
    if (e.reason == KVM_EXIT_HLT) ++halts;
  }
  EXPECT_GE(apic_writes, 4u) << "SVR, divide, LVT timer, initial count at least";
  EXPECT_GE(halts, 1u);
}

// ---- the CLI's kvm subcommands ----

struct CliResult {
  int status;
  std::string out, err;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::string command = shell_quote(NESTBED_KVM_TEST_CLI);
  for (const std::string& a : args) {
    command += ' ';
    command += shell_quote(a);
  }
  const std::string err_path = temp_path("cli.stderr");
  command += " 2>";
  command += shell_quote(err_path);
  CliResult r{};
  std::FILE* p = popen(command.c_str(), "r");
  if (!p) return {-1, "", "popen failed"};
  std::array<char, 4096> buffer;
  for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), p)) > 0;) r.out.append(buffer.data(), n);
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.err = read_file(err_path);
  // Whatever the caller expects of the status and output, a report fails it.
  EXPECT_EQ(testing::sanitizer_report_lines(r.err), "") << "sanitizer report from nestbed " << command;
  return r;
}

TEST(KvmCli, EnginesReportsKvmAndItsDepths) {
  CliResult r = run_cli({"engines"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("sim: usable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kvm: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("depths:"), std::string::npos) << r.out;
  // The sim's controls by name, decoded from the capability MSRs.
  EXPECT_NE(r.out.find("    proc_ctl   INTERRUPT_WINDOW_EXITING "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" USE_TPR_SHADOW "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" VIRTUALIZE_APIC_ACCESSES "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" VIRTUAL_INTERRUPT_DELIVERY "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" POSTED_INTERRUPTS"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ENABLE_VM_FUNCTIONS"), std::string::npos) << "not implemented, so not offered\n" << r.out;
  CliResult json = run_cli({"engines", "--json"});
  EXPECT_EQ(json.status, 0);
  EXPECT_NE(json.out.find("\"vmx_controls_allowed1\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(host().vmx_offered ? "\"vmx_offered\": true" : "\"vmx_offered\": false"), std::string::npos)
      << json.out;
}

TEST(KvmCli, TraceSummaryCountsThePioLoopsExits) {
  SKIP_WITHOUT_KVM();
  const std::string trace = temp_path("cli-pio.trace");
  CliResult run = run_cli({"run", "--engine", "kvm", "--trace", trace, "--cmdline", "25", workload("pio-loop")});
  ASSERT_EQ(run.status, 1) << run.err;
  CliResult summary = run_cli({"trace", "summary", trace});
  EXPECT_EQ(summary.status, 0) << summary.err;
  EXPECT_EQ(summary.err, "") << "a clean run's summary says nothing on stderr";
  EXPECT_NE(summary.out.find("\n  port 0x80 out                            25 "), std::string::npos) << summary.out;
  EXPECT_NE(summary.out.find("\n  KVM_EXIT_IO "), std::string::npos) << summary.out;
}

// What KVM cannot see is null in --stats, never a 0 that looks measured.
TEST(KvmCli, StatsGiveNullForWhatKvmDoesNotMeasure) {
  SKIP_WITHOUT_KVM();
  CliResult r = run_cli({"run", "--engine", "kvm", "--stats", "-", workload("hello")});
  ASSERT_EQ(r.status, 1) << r.err;
  for (const char* key : {"\"instructions\": null", "\"mips\": null", "\"exceptions\": null", "\"vm_exits\": null",
                          "\"vm_entries\": null", "\"cost_model\": null"})
    EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
  EXPECT_NE(r.out.find("\"io_accesses\": 60"), std::string::npos) << r.out;
}

TEST(KvmCli, TraceSummaryRejectsWhatIsNotATrace) {
  const std::string junk = temp_path("junk.trace");
  testing::write_file(junk, std::vector<uint8_t>(64, 'j'));
  CliResult r = run_cli({"trace", "summary", junk});
  EXPECT_EQ(r.status, exit_status::BAD_INPUT);
  EXPECT_NE(r.err.find("not a nestbed trace file"), std::string::npos) << r.err;
  CliResult missing = run_cli({"trace", "summary", "/nonexistent/x.trace"});
  EXPECT_EQ(missing.status, exit_status::BAD_INPUT);
  EXPECT_NE(missing.err.find("cannot open trace file '/nonexistent/x.trace'"), std::string::npos) << missing.err;
  EXPECT_EQ(run_cli({"trace"}).status, exit_status::USAGE) << "summary is required";
}

TEST(KvmCli, RunRefusesMaxInstructionsOnKvm) {
  CliResult r = run_cli({"run", "--engine", "kvm", "--max-instructions", "10", workload("hello")});
  EXPECT_EQ(r.status, exit_status::BAD_INPUT);
  EXPECT_NE(r.err.find("--max-instructions is not supported by the kvm engine"), std::string::npos) << r.err;
}

TEST(KvmCli, RunRefusesDepthOneWithoutVmx) {
  SKIP_WITHOUT_KVM();
  if (host().vmx_offered) GTEST_SKIP() << "this host's KVM offers VMX, so depth >= 1 is allowed here";
  CliResult r = run_cli({"run", "--engine", "kvm", "--module", workload("cpuid-loop"), workload("hello")});
  EXPECT_EQ(r.status, exit_status::UNSUPPORTED);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("does not offer VMX to its guests"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nestbed
