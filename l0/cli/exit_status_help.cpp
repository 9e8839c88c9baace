#include "l0/cli/exit_status_help.h"

#include "l0/engine.h"

namespace nestbed::cli {
namespace {

// "  LABEL         MEANING", the meaning's further lines under its first.
std::string row(const std::string& label, const std::string& meaning) {
  constexpr size_t WIDTH = 14;
  std::string text = "  " + label + std::string(label.size() < WIDTH ? WIDTH - label.size() : 1, ' ');
  for (char c : meaning) text += c == '\n' ? "\n" + std::string(WIDTH + 2, ' ') : std::string(1, c);
  return text + "\n";
}

std::string row(int status, const std::string& meaning) { return row(std::to_string(status), meaning); }

}  // namespace

std::string exit_status_help() {
  namespace s = exit_status;
  return "Exit status:\n" +
         row("(c << 1) | 1",
             "nestbed run: the guest wrote c to isa-debug-exit (port 0xf4), as in QEMU;\n"
             "the workloads' \"ok\" (c = 0) is 1") +
         // l1-vmm/panic.h's codes; tests/unit/exit_status_doc_test.cpp checks them.
         row("193-203",
             "nestbed run of the image l1-vmm: l1-vmm's own, odd as a guest's (l1-vmm/README.md):\n"
             "193 l1-vmm panic (its own fault, a VM-entry failure, an EPT misconfiguration),\n"
             "195 bad l1-vmm option, 197 no usable VMX, 199 no guest module or not a loadable kernel,\n"
             "201 the guest did what l1-vmm cannot run, 203 out of memory") +
         row(0, "nestbed trace, engines, cost-model, sweep (even when runs failed: their statuses are\n"
                "in results.csv), report, pg, --help, --version: done") +
         row(s::USAGE, "bad command-line option") +
         row(s::BAD_INPUT,
             "bad input: unreadable or malformed image, module, cost model or trace file, or one that\n"
             "is not a regular file (a FIFO, /dev/zero), --memory out of range or too small, an output\n"
             "(--stats, --trace, trace export, the guest's output on stdout) that cannot be written") +
         row(s::INTERNAL_ERROR, "internal error in nestbed (a bug; please report it)") +
         row(s::UNSUPPORTED, "the engine cannot run this here (e.g. no VMX under kvm)") +
         row(s::SANITIZER,
             "debug builds (ASan + UBSan) only: a sanitizer found an error in nestbed and\n"
             "reported it on stderr (a bug; please report it)") +
         row(s::INSTRUCTION_LIMIT, "--max-instructions reached") +
         row(s::HALTED, "the guest halted with interrupts disabled and nothing pending") +
         row(s::TRIPLE_FAULT, "the guest triple-faulted (shutdown)") +
         row("128+N", "nestbed run ended by signal N, SIGINT (130) or SIGTERM (143), as a shell reports\n"
                      "it (GNU timeout: 124): the guest's output, --trace and --stats (stop_reason\n"
                      "\"signal\") are written first, then nestbed ends by that signal") +
         "A guest's status is always odd and nestbed's own always even, so the two never collide.\n";
}

std::string trace_exit_status_help() {
  namespace s = exit_status;
  return "Exit status:\n" + row(0, "done") + row(s::USAGE, "bad command-line option") +
         row(s::BAD_INPUT, "unreadable or malformed trace file, or an export file that cannot be written") +
         row(s::INTERNAL_ERROR, "internal error in nestbed (a bug; please report it)") +
         row(s::SANITIZER, "debug builds (ASan + UBSan) only: a sanitizer found an error in nestbed");
}

}  // namespace nestbed::cli
