// The Popek–Goldberg classification of each catalogued instruction, decided
// from pg-probe's observations (Popek & Goldberg, CACM 17(7), 1974):
//   privileged          traps at CPL 3 and not at CPL 0 (base configuration);
//   control-sensitive   changes the privileged state (a snapshot differs
//                       before and after a run that did not fault);
//   behavior-sensitive  its result differs between two configurations that
//                       differ in one resource (CPL, GDTR, CR0.TS, ...);
//   Theorem 1 violation sensitive and not privileged (on bare x86, depth 0).
// Under VT-x (depth >= 1) each sensitive instruction either exits to the
// VMM (the hardware exits at its RIP, with their reasons) or runs without
// an exit and gives the depth-0 results and state changes in every run
// (its state lives in the VMCS guest-state area, a read shadow or a device
// the VMM passed through).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "l0/pg/probe_output.h"

namespace nestbed::pg {

struct Verdict {
  bool yes = false;
  std::string why;  // what was run and what differed (or why not)
};

struct Classification {
  std::string id, text, mode;  // mode: MODE_64, MODE_COMPAT or MODE_PROTECTED (probe_output.h)
  // false: #UD at CPL 0 in the base configuration (not an instruction in
  // this mode, like SWAPGS outside 64-bit mode, or one the platform lacks)
  bool implemented = true;
  Verdict privileged, control_sensitive, behavior_sensitive;
  // Configurations under which it is privileged though it is not in the
  // base one (CR4.UMIP, CR4.TSD), each with its evidence.
  std::map<std::string, std::string> privileged_under;
  bool sensitive() const { return control_sensitive.yes || behavior_sensitive.yes; }
  bool theorem1_violation() const { return implemented && sensitive() && !privileged.yes; }
};

// Depth 0: one row per catalogue entry and mode.
std::vector<Classification> classify(const ProbeRun& native);

// The class of a row in a few words ("privileged, control-sensitive",
// "sensitive, unprivileged: Theorem 1 violation", "#UD at CPL 0", ...).
std::string class_summary(const Classification& c);

// An instruction whose class is not the same in every mode it ran in.
struct ModeDifference {
  std::string id;
  std::vector<std::pair<std::string, std::string>> by_mode;  // mode -> class_summary
};
std::vector<ModeDifference> mode_differences(const std::vector<Classification>& rows);

// Hardware exits of the probe's level at an instruction address, by reason
// name, counted over the whole run.
using ExitsByRip = std::map<uint64_t, std::map<std::string, uint64_t>>;

struct VtxVerdict {
  enum class Kind { NotSensitive, Exits, NoExitSameAsNative, NoExitDiffers, NotImplemented };
  Kind kind = Kind::NotSensitive;
  std::map<std::string, uint64_t> exits;  // reason -> count
  std::string why;
  std::string difference;  // the first run that differs from native ("" when none)
  // A sensitive instruction is under the VMM's control when it exits or
  // when, without exiting, it behaves exactly as on bare hardware.
  bool controlled() const { return kind != Kind::NoExitDiffers; }
};
const char* vtx_kind_name(VtxVerdict::Kind kind);

// Depth d: the verdict for the row `c` from the run at that depth, its exits
// and the native run.
VtxVerdict classify_vtx(const Classification& c, const ProbeRun& native, const ProbeRun& nested,
                        const ExitsByRip& exits);

}  // namespace nestbed::pg
