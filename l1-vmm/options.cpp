#include "l1-vmm/options.h"

#include "l1-vmm/panic.h"
#include "runtime/libc.h"
#include "runtime/runtime.h"

namespace l1 {
namespace {

constexpr uint64_t MAX_GUEST_MEM_MIB = 3584;  // guest RAM ends below the APIC page, as l0's does

enum class Kind { Flag, Number };

struct OptionSpec {
  const char* name;
  Kind kind;
  uint64_t min, max;
  void (*set)(Options&, uint64_t);
  const char* help;
};

constexpr OptionSpec SPECS[] = {
    {"stats", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.stats = v; },
     "print exit counts and cycles per reason when the run ends"},
    {"verbose", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.verbose = v; },
     "print a boot banner (level, guest memory, VMX controls)"},
    {"guest_mem", Kind::Number, 2, MAX_GUEST_MEM_MIB, [](Options& o, uint64_t v) { o.guest_mem_mib = v; },
     "the guest's RAM in MiB (default: 64, or what is free)"},
    {"exit_hlt", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.exit_hlt = v; },
     "HLT exits (default 0: the guest halts without exiting)"},
    {"exit_pio", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.exit_pio = v; },
     "every I/O instruction exits, passthrough ports too"},
    {"exit_intr", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.exit_intr = v; },
     "external interrupts exit and l1-vmm injects them"},
    {"vpid", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.vpid = v; },
     "VPID for the guest (default 1 where the processor has it)"},
    {"preempt", Kind::Number, 0, UINT32_MAX, [](Options& o, uint64_t v) { o.preempt = uint32_t(v); },
     "VMX-preemption timer value armed at each entry (0: off)"},
    {"exit_exc", Kind::Number, 0, UINT32_MAX, [](Options& o, uint64_t v) { o.exit_exc = uint32_t(v); },
     "exception bitmap: vectors that exit and are reflected"},
    {"nested", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.nested = v; },
     "offer VMX to the guest, emulated (default 1; 0: VMX hidden)"},
    {"shadow_vmcs", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.shadow_vmcs = v; },
     "VMCS shadowing: use the platform's for the guest hypervisor, and offer it (default 1)"},
    {"test_leak_page", Kind::Flag, 0, 1, [](Options& o, uint64_t v) { o.test_leak_page = v; },
     "TEST ONLY: map a page of l1-vmm's own memory into the guest (vmx/test_misconfig.h)"},
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool same(const char* a, size_t a_len, const char* b) { return strlen(b) == a_len && memcmp(a, b, a_len) == 0; }

[[noreturn]] void usage(const char* word, size_t len, const char* problem) {
  rt::printf("l1-vmm: option '");
  for (size_t i = 0; i < len; i++) rt::console_putc(word[i]);
  rt::printf("': %s. Options (README.md):\n", problem);
  for (const OptionSpec& s : SPECS)
    rt::printf("l1-vmm:   %s%s  %s\n", s.name, s.kind == Kind::Flag ? "[=0|1]" : "=N", s.help);
  fatal(L1_USAGE, "bad cmdline");
}

void parse_word(Options& o, const char* word, const char* end) {
  const char* eq = word;
  while (eq < end && *eq != '=') eq++;
  for (const OptionSpec& s : SPECS) {
    if (!same(word, size_t(eq - word), s.name)) continue;
    uint64_t v = 1;
    if (eq == end) {
      if (s.kind != Kind::Flag) usage(word, size_t(end - word), "needs a value");
    } else if (rt::parse_number(eq + 1, end, v) != rt::Parse::Number) {
      usage(word, size_t(end - word), "the value is not a number");
    }
    if (s.kind == Kind::Flag && v > 1) usage(word, size_t(end - word), "a flag is 0 or 1");
    if (v < s.min) usage(word, size_t(end - word), "the value is too small");
    if (v > s.max) usage(word, size_t(end - word), "the value is too large");
    s.set(o, v);
    return;
  }
  usage(word, size_t(end - word), "unknown");
}

}  // namespace

Options parse_options(const char* cmdline) {
  Options o;
  const char* p = cmdline;
  bool first = true;  // the image name
  while (*p) {
    while (is_space(*p)) p++;
    const char* word = p;
    while (*p && !is_space(*p)) p++;
    if (word == p) break;
    if (first) {
      first = false;
      continue;
    }
    parse_word(o, word, p);
  }
  return o;
}

}  // namespace l1
