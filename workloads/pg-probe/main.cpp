// pg-probe: the Popek–Goldberg probe guest (README.md beside this file).
//   pg-probe            every catalogued instruction, every mode (64-bit, compatibility, 32-bit
//                       protected), CPL and configuration
//   pg-probe escape K   the resource-control probes, writing to memory address K last
#include "runtime/libc.h"
#include "runtime/runtime.h"
#include "workloads/pg-probe/escape.h"
#include "workloads/pg-probe/probe.h"
#include "workloads/pg-probe/runner.h"
#include "workloads/pg-probe/world.h"

namespace {

bool has_word(const char* cmdline, const char* word) {
  const unsigned n = strlen(word);
  for (const char* p = cmdline; *p;) {
    while (*p == ' ') p++;
    const char* start = p;
    while (*p && *p != ' ') p++;
    if (unsigned(p - start) == n && !memcmp(start, word, n)) return true;
  }
  return false;
}

unsigned run_catalogue() {
  using namespace pg;
  for (unsigned i = 0; i < CATALOGUE_SIZE; i++) {
    const Entry& e = CATALOGUE[i];
    rt::printf("insn %s time=%u compat=%u %s\n", e.id, (e.flags & F_TIME) ? 1 : 0, e.bits32.start ? 1 : 0, e.text);
    if (e.bits32.start) rt::printf("insn32 %s %s\n", e.id, e.text32);
  }
  for (unsigned c = 0; c < unsigned(Config::COUNT); c++)
    rt::printf("config %s supported=%u\n", config_name(Config(c)), config_supported(Config(c)));
  unsigned runs = 0;
  const Mode modes[] = {Mode::BITS64, Mode::COMPAT, Mode::PROTECTED};
  const unsigned cpls[] = {0, 3};
  for (Mode mode : modes)
    for (unsigned cpl : cpls)
      for (unsigned c = 0; c < unsigned(Config::COUNT); c++) {
        if (!config_supported(Config(c))) continue;
        for (unsigned i = 0; i < CATALOGUE_SIZE; i++) {
          if (!variant(CATALOGUE[i], mode).start) continue;
          run_and_print(CATALOGUE[i], mode, cpl, Config(c));
          runs++;
        }
      }
  return runs;
}

}  // namespace

int kmain(const rt::BootInfo& boot) {
  pg::world_init();
  pg::runner_init();
  if (has_word(boot.cmdline, "escape")) {
    pg::run_escape_probes(boot, rt::cmdline_count(boot.cmdline, ~0ull));
    rt::printf("pg-probe: escape done\n");
    return rt::EXIT_OK;
  }
  rt::printf("pg-probe: catalogue v1\n");
  const unsigned runs = run_catalogue();
  rt::printf("pg-probe: %u runs\n", runs);
  return rt::EXIT_OK;
}
