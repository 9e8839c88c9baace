#include "l0/pg/classify.h"

#include <sstream>

namespace nestbed::pg {
namespace {

constexpr unsigned UD = 6;
const char* const BASE = "base";
// Configurations that turn an unprivileged instruction into a privileged one
// (SDM vol. 3, 2.5: CR4.UMIP for SGDT/SIDT/SLDT/SMSW/STR, CR4.TSD for RDTSC).
const char* const PRIVILEGE_CONFIGS[] = {"cr4.umip", "cr4.tsd"};

std::string describe(const Observation& o) {
  std::ostringstream s;
  s << "CPL " << o.cpl << (o.config == BASE ? "" : ", " + o.config);
  return s.str();
}

std::string fault_text(const Observation& o) {
  if (!o.fault) return "no fault";
  std::ostringstream s;
  s << vector_name(*o.fault);
  if (!o.fault_at_insn) s << " (in the probe's set-up, not the instruction)";
  return s.str();
}

std::string diff_text(const std::vector<StateChange>& diff) {
  std::ostringstream s;
  for (size_t i = 0; i < diff.size(); i++)
    s << (i ? ", " : "") << diff[i].field << " " << diff[i].before << "->" << diff[i].after;
  return s.str();
}

// Privileged in `config`: faults at CPL 3, not at CPL 0.
Verdict privileged_in(const ProbeRun& run, const std::string& id, const std::string& mode, const std::string& config) {
  const Observation* k = run.find(id, mode, 0, config);
  const Observation* u = run.find(id, mode, 3, config);
  if (!k || !u) return {false, "not run in " + config};
  const std::string where = config == BASE ? "" : " with " + config;
  if (u->fault && u->fault_at_insn && !k->fault)
    return {true, fault_text(*u) + " at CPL 3, none at CPL 0" + where};
  return {false, fault_text(*u) + " at CPL 3, " + fault_text(*k) + " at CPL 0" + where};
}

// A completed run (any CPL, any configuration) whose snapshot changed.
Verdict control_sensitive(const ProbeRun& run, const std::string& id, const std::string& mode) {
  for (unsigned cpl : {0u, 3u})
    for (const auto& [config, supported] : run.configs) {
      const Observation* o = run.find(id, mode, cpl, config);
      if (o && !o->fault && !o->diff.empty()) return {true, describe(*o) + ": " + diff_text(o->diff)};
    }
  return {false, "no run that completed changed the privileged state"};
}

// Two completed runs that differ in one resource and give different results.
Verdict behavior_sensitive(const ProbeRun& run, const CatalogueEntry& e, const std::string& mode) {
  if (e.time_dependent) return {false, "its result is the time: not compared"};
  auto differ = [](const Observation* a, const Observation* b) {
    return a && b && !a->fault && !b->fault && a->outputs != "-" && a->outputs != b->outputs;
  };
  const Observation* k = run.find(e.id, mode, 0, BASE);
  const Observation* u = run.find(e.id, mode, 3, BASE);
  if (differ(k, u)) return {true, "CPL 0 vs CPL 3: " + k->outputs + " vs " + u->outputs};
  for (unsigned cpl : {0u, 3u})
    for (const auto& [config, supported] : run.configs) {
      if (config == BASE) continue;
      const Observation* base = run.find(e.id, mode, cpl, BASE);
      const Observation* other = run.find(e.id, mode, cpl, config);
      if (differ(base, other))
        return {true, "CPL " + std::to_string(cpl) + ", base vs " + config + ": " + base->outputs + " vs " +
                          other->outputs};
    }
  return {false, "same result in every configuration where it completed"};
}

Classification classify_one(const ProbeRun& run, const CatalogueEntry& e, const std::string& mode) {
  Classification c;
  c.id = e.id;
  c.text = mode == MODE_64 ? e.text : e.text32;
  c.mode = mode;
  const Observation* k = run.find(e.id, mode, 0, BASE);
  if (!k || (k->fault && *k->fault == UD)) {
    c.implemented = false;
    const std::string why =
        k ? "#UD at CPL 0: not an instruction in " + mode_name(mode) + " mode, or not implemented by the platform"
          : "not run";
    c.privileged = c.control_sensitive = c.behavior_sensitive = {false, why};
    return c;
  }
  c.privileged = privileged_in(run, e.id, mode, BASE);
  for (const char* config : PRIVILEGE_CONFIGS) {
    if (c.privileged.yes || !run.configs.count(config) || !run.configs.at(config)) continue;
    Verdict v = privileged_in(run, e.id, mode, config);
    if (v.yes) c.privileged_under[config] = v.why;
  }
  c.control_sensitive = control_sensitive(run, e.id, mode);
  c.behavior_sensitive = behavior_sensitive(run, e, mode);
  return c;
}

// The first run at depth d whose fault, result or state change differs from
// the same run natively ("" when none does).
std::string first_difference(const ProbeRun& native, const ProbeRun& nested, const CatalogueEntry& e,
                             const std::string& mode, unsigned& compared) {
  compared = 0;
  for (const Observation& n : nested.observations) {
    if (n.id != e.id || n.mode != mode) continue;
    const Observation* o = native.find(n.id, n.mode, n.cpl, n.config);
    if (!o) continue;
    compared++;
    if (o->fault != n.fault) return describe(n) + ": " + fault_text(n) + " (natively " + fault_text(*o) + ")";
    if (!e.time_dependent && o->outputs != n.outputs)
      return describe(n) + ": result " + n.outputs + " (natively " + o->outputs + ")";
    if (o->diff != n.diff)
      return describe(n) + ": state change " + diff_text(n.diff) + " (natively " + diff_text(o->diff) + ")";
  }
  return "";
}

}  // namespace

std::vector<Classification> classify(const ProbeRun& native) {
  std::vector<Classification> rows;
  for (const char* mode : MODES)
    for (const CatalogueEntry& e : native.entries)
      if (std::string(mode) == MODE_64 || e.has_compat) rows.push_back(classify_one(native, e, mode));
  return rows;
}

std::string class_summary(const Classification& c) {
  if (!c.implemented) return "#UD at CPL 0";
  std::string s = c.privileged.yes ? "privileged" : "unprivileged";
  if (c.control_sensitive.yes) s += ", control-sensitive";
  if (c.behavior_sensitive.yes) s += ", behavior-sensitive";
  if (!c.sensitive()) s += ", not sensitive";
  if (c.theorem1_violation()) s += ": Theorem 1 violation";
  for (const auto& [config, why] : c.privileged_under) s += "; privileged with " + config;
  return s;
}

std::vector<ModeDifference> mode_differences(const std::vector<Classification>& rows) {
  std::vector<ModeDifference> out;
  for (const Classification& first : rows) {
    if (first.mode != MODE_64) continue;
    ModeDifference d{first.id, {}};
    bool differs = false;
    for (const Classification& c : rows) {
      if (c.id != first.id) continue;
      d.by_mode.emplace_back(c.mode, class_summary(c));
      differs |= d.by_mode.back().second != d.by_mode.front().second;
    }
    if (differs) out.push_back(d);
  }
  return out;
}

const char* vtx_kind_name(VtxVerdict::Kind kind) {
  switch (kind) {
    case VtxVerdict::Kind::NotSensitive: return "not sensitive";
    case VtxVerdict::Kind::Exits: return "exits";
    case VtxVerdict::Kind::NoExitSameAsNative: return "no exit, as natively";
    case VtxVerdict::Kind::NoExitDiffers: return "no exit, differs from native";
    case VtxVerdict::Kind::NotImplemented: return "#UD natively";
  }
  return "?";
}

VtxVerdict classify_vtx(const Classification& c, const ProbeRun& native, const ProbeRun& nested,
                        const ExitsByRip& exits) {
  VtxVerdict v;
  const CatalogueEntry* e = native.entry(c.id);
  const Observation* probe = nested.find(c.id, c.mode, 0, BASE);
  if (!c.implemented || !e || !probe) {
    v.kind = VtxVerdict::Kind::NotImplemented;
    v.why = c.implemented ? "not run at this depth" : c.privileged.why;
    return v;
  }
  auto found = exits.find(probe->insn_rip);
  if (found != exits.end()) v.exits = found->second;
  unsigned compared = 0;
  const std::string difference = first_difference(native, nested, *e, c.mode, compared);
  v.difference = difference;
  if (!v.exits.empty()) {
    v.kind = VtxVerdict::Kind::Exits;
    std::ostringstream s;
    for (const auto& [reason, count] : v.exits) s << (s.tellp() ? ", " : "") << reason << " x" << count;
    v.why = "hardware exits at its RIP: " + s.str();
    if (!difference.empty()) v.why += "; differs from native: " + difference;
    return v;
  }
  if (!c.sensitive()) {
    v.kind = VtxVerdict::Kind::NotSensitive;
    v.why = "no exit; not sensitive";
    return v;
  }
  if (difference.empty()) {
    v.kind = VtxVerdict::Kind::NoExitSameAsNative;
    v.why = "no exit at its RIP; all " + std::to_string(compared) +
            " runs gave the native fault, result and state change (guest-owned state in the VMCS, a read shadow or a "
            "passed-through device)";
  } else {
    v.kind = VtxVerdict::Kind::NoExitDiffers;
    v.why = "no exit at its RIP and " + difference;
  }
  return v;
}

}  // namespace nestbed::pg
