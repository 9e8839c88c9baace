#include "l0/pg/report.h"

#include <cstdio>
#include <sstream>

namespace nestbed::pg {

bool DepthResult::all_equivalent() const {
  if (!probe_equivalence.equal) return false;
  for (const WorkloadResult& w : workloads)
    if (!w.equivalence.equal) return false;
  return true;
}

unsigned DepthResult::reachable_count() const {
  unsigned n = 0;
  for (const EscapeTry& t : escapes) n += t.reachable;
  return n;
}

bool DepthResult::all_controlled() const {
  if (!probe_failure.empty()) return false;  // nothing shows the instructions under control
  for (const VtxVerdict& v : vtx)
    if (!v.controlled()) return false;
  return true;
}

namespace {

nlohmann::ordered_json verdict_json(const Verdict& v) { return {{"value", v.yes}, {"why", v.why}}; }

nlohmann::ordered_json row_json(const Report& r, size_t i) {
  const Classification& c = r.rows[i];
  nlohmann::ordered_json j;
  j["id"] = c.id;
  j["mode"] = mode_name(c.mode);
  j["instruction"] = c.text;
  j["implemented"] = c.implemented;
  j["privileged"] = verdict_json(c.privileged);
  j["privileged_under"] = c.privileged_under;
  j["control_sensitive"] = verdict_json(c.control_sensitive);
  j["behavior_sensitive"] = verdict_json(c.behavior_sensitive);
  j["theorem1_violation"] = c.theorem1_violation();
  nlohmann::ordered_json vtx = nlohmann::ordered_json::array();
  for (const DepthResult& d : r.depths) {
    if (d.depth == 0 || i >= d.vtx.size()) continue;
    const VtxVerdict& v = d.vtx[i];
    vtx.push_back({{"depth", d.depth}, {"verdict", vtx_kind_name(v.kind)}, {"exits", v.exits}, {"why", v.why}});
  }
  j["vtx"] = vtx;
  return j;
}

nlohmann::ordered_json depth_json(const DepthResult& d) {
  nlohmann::ordered_json j;
  j["depth"] = d.depth;
  j["pg_probe_failure"] = d.probe_failure.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(d.probe_failure);
  nlohmann::ordered_json eq = nlohmann::ordered_json::array();
  eq.push_back({{"workload", "pg-probe"}, {"equal", d.probe_equivalence.equal}, {"why", d.probe_equivalence.why}});
  for (const WorkloadResult& w : d.workloads)
    eq.push_back({{"workload", w.name + (w.args.empty() ? "" : " " + w.args)},
                  {"equal", w.equivalence.equal},
                  {"why", w.equivalence.why}});
  j["equivalence"] = {{"holds", d.all_equivalent()}, {"runs", eq}};
  nlohmann::ordered_json tried = nlohmann::ordered_json::array();
  for (const EscapeTry& t : d.escapes)
    tried.push_back({{"tried", t.what}, {"answer", t.answer}, {"reachable", t.reachable}});
  j["resource_control"] = {{"holds", d.reachable_count() == 0 && d.all_controlled()},
                           {"reachable", d.reachable_count()},
                           {"sensitive_instructions_controlled", d.all_controlled()},
                           {"escape_probes", tried}};
  nlohmann::ordered_json eff = nlohmann::ordered_json::array();
  for (const WorkloadResult& w : d.workloads) {
    nlohmann::ordered_json e = {{"workload", w.name}};
    if (w.efficiency) {
      e["innermost_level"] = w.efficiency->innermost_level;
      e["innermost_instructions"] = w.efficiency->innermost_instructions;
      e["all_instructions"] = w.efficiency->all_instructions;
      e["share"] = w.efficiency->share();
    } else {
      e["share"] = nullptr;
      e["why"] = "no per-level accounting (\"levels\") in this build's --stats";
    }
    eff.push_back(e);
  }
  j["efficiency"] = eff;
  return j;
}

std::string yes_no(bool v) { return v ? "yes" : "no"; }

std::string privileged_cell(const Classification& c) {
  if (!c.implemented) return "#UD";
  return c.privileged.yes ? "yes" : "no";
}

std::string under_cell(const Classification& c) {
  std::string s;
  for (const auto& [config, why] : c.privileged_under) s += (s.empty() ? "" : ", ") + config;
  return s.empty() ? "-" : "privileged with " + s;
}

std::string vtx_cell(const VtxVerdict& v) {
  if (v.kind != VtxVerdict::Kind::Exits) return vtx_kind_name(v.kind);
  std::string s;
  for (const auto& [reason, count] : v.exits) s += (s.empty() ? "" : ", ") + reason;
  return "exits: " + s;
}

std::string percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", share * 100);
  return buf;
}

std::string efficiency_cell(const DepthResult& d) {
  std::string s;
  for (const WorkloadResult& w : d.workloads)
    s += (s.empty() ? "" : ", ") + w.name + " " + (w.efficiency ? percent(w.efficiency->share()) : "n/a");
  return s;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

Table classification_table(const Report& r) {
  Table t;
  t.header = {"instruction", "mode", "privileged", "control-sensitive", "behavior-sensitive", "Theorem 1 (bare x86)",
              "UMIP/TSD"};
  for (const DepthResult& d : r.depths)
    if (d.depth > 0) t.header.push_back("VT-x, depth " + std::to_string(d.depth));
  for (size_t i = 0; i < r.rows.size(); i++) {
    const Classification& c = r.rows[i];
    std::vector<std::string> row = {c.text, mode_cell(c.mode), privileged_cell(c),
                                    yes_no(c.control_sensitive.yes), yes_no(c.behavior_sensitive.yes),
                                    c.theorem1_violation() ? "VIOLATION" : "-", under_cell(c)};
    for (const DepthResult& d : r.depths)
      if (d.depth > 0) row.push_back(i < d.vtx.size() ? vtx_cell(d.vtx[i]) : "-");
    t.rows.push_back(row);
  }
  return t;
}

Table theorem2_table(const Report& r) {
  Table t;
  t.header = {"depth", "equivalence", "resource control", "efficiency (innermost instructions / all)"};
  for (const DepthResult& d : r.depths) {
    if (d.depth == 0) continue;
    const unsigned runs = unsigned(d.workloads.size()) + 1;
    unsigned equal = d.probe_equivalence.equal;
    for (const WorkloadResult& w : d.workloads) equal += w.equivalence.equal;
    std::string control = d.reachable_count() == 0 ? "nothing reachable" : std::to_string(d.reachable_count()) +
                                                                                 " reachable";
    control += " (" + std::to_string(d.escapes.size()) + " escape probes)";
    if (!d.probe_failure.empty())
      control += "; pg-probe did not finish: " + d.probe_failure;
    else
      control += d.all_controlled() ? "; every sensitive instruction exits or runs as natively"
                                    : "; a sensitive instruction differs without an exit";
    t.rows.push_back({std::to_string(d.depth),
                      std::to_string(equal) + "/" + std::to_string(runs) + " runs identical to depth 0", control,
                      efficiency_cell(d)});
  }
  return t;
}

std::string markdown_table(const Table& t) {
  std::ostringstream s;
  auto row = [&](const std::vector<std::string>& cells) {
    s << "|";
    for (const std::string& c : cells) s << " " << c << " |";
    s << "\n";
  };
  row(t.header);
  s << "|";
  for (size_t i = 0; i < t.header.size(); i++) s << "---|";
  s << "\n";
  for (const auto& r : t.rows) row(r);
  return s.str();
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%': out += "\\%"; break;
      case '$': out += "\\$"; break;
      case '_': out += "\\_"; break;
      case '&': out += "\\&"; break;
      case '#': out += "\\#"; break;
      case '{': out += "\\{"; break;
      case '}': out += "\\}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string latex_table(const Table& t, const std::string& caption) {
  std::ostringstream s;
  s << "\\begin{table}\n\\centering\n\\small\n\\begin{tabular}{" << std::string(t.header.size(), 'l') << "}\n\\hline\n";
  auto row = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); i++) s << (i ? " & " : "") << latex_escape(cells[i]);
    s << " \\\\\n";
  };
  row(t.header);
  s << "\\hline\n";
  for (const auto& r : t.rows) row(r);
  s << "\\hline\n\\end{tabular}\n\\caption{" << latex_escape(caption) << "}\n\\end{table}\n";
  return s.str();
}

std::string evidence_markdown(const Report& r) {
  std::ostringstream s;
  for (size_t i = 0; i < r.rows.size(); i++) {
    const Classification& c = r.rows[i];
    s << "- `" << c.text << "` (" << mode_name(c.mode) << " mode): privileged: "
      << c.privileged.why << "; control-sensitive: " << c.control_sensitive.why
      << "; behavior-sensitive: " << c.behavior_sensitive.why;
    for (const auto& [config, why] : c.privileged_under) s << "; " << why;
    for (const DepthResult& d : r.depths)
      if (d.depth > 0 && i < d.vtx.size()) s << "; depth " << d.depth << ": " << d.vtx[i].why;
    s << "\n";
  }
  return s.str();
}

std::string differences_markdown(const Report& r) {
  std::ostringstream s;
  const std::vector<ModeDifference> differences = mode_differences(r.rows);
  if (differences.empty()) s << "Every instruction has the same class in every mode it ran in.\n";
  for (const ModeDifference& d : differences) {
    s << "- " << d.id << ":";
    for (size_t i = 0; i < d.by_mode.size(); i++)
      s << (i ? ";" : "") << " " << mode_name(d.by_mode[i].first) << ": " << d.by_mode[i].second;
    s << "\n";
  }
  return s.str();
}

std::string escapes_markdown(const Report& r) {
  std::ostringstream s;
  for (const DepthResult& d : r.depths) {
    s << "- depth " << d.depth << ":";
    for (const EscapeTry& t : d.escapes)
      s << " " << t.what << " -> " << t.answer << (t.reachable ? " **REACHABLE**" : "") << ";";
    s << "\n";
  }
  return s.str();
}

}  // namespace

nlohmann::ordered_json report_json(const Report& r) {
  nlohmann::ordered_json j;
  // 2: rows for 32-bit protected mode ("mode": "32-bit protected"),
  // "mode_differences", and "#UD natively" for a row that is #UD at CPL 0.
  j["format"] = "nestbed-pg 2";
  j["vmm_cmdline"] = r.vmm_cmdline;
  j["configurations"] = r.configs;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.rows.size(); i++) rows.push_back(row_json(r, i));
  j["instructions"] = rows;
  nlohmann::ordered_json violations = nlohmann::ordered_json::array();
  for (const Classification& c : r.rows)
    if (c.theorem1_violation()) violations.push_back(c.id + (c.mode == MODE_64 ? "" : " (" + mode_cell(c.mode) + ")"));
  j["theorem1_violations_bare_x86"] = violations;
  nlohmann::ordered_json differences = nlohmann::ordered_json::array();
  for (const ModeDifference& d : mode_differences(r.rows)) {
    nlohmann::ordered_json by_mode;
    for (const auto& [mode, summary] : d.by_mode) by_mode[mode_name(mode)] = summary;
    differences.push_back({{"id", d.id}, {"classes", by_mode}});
  }
  j["mode_differences"] = differences;
  nlohmann::ordered_json depths = nlohmann::ordered_json::array();
  for (const DepthResult& d : r.depths) depths.push_back(depth_json(d));
  j["depths"] = depths;
  return j;
}

std::string report_markdown(const Report& r) {
  std::ostringstream s;
  s << "## Classification (depth 0: bare x86; VT-x: under l1-vmm at depth d)\n\n" << markdown_table(classification_table(r));
  s << "\n## Where the modes differ\n\n" << differences_markdown(r);
  if (r.depths.size() > 1)
    s << "\n## Theorem 2: the same l1-vmm at every level\n\n" << markdown_table(theorem2_table(r));
  s << "\n## How each row was decided\n\n" << evidence_markdown(r);
  if (!r.depths.empty()) s << "\n## Escape probes\n\n" << escapes_markdown(r);
  return s.str();
}

std::string report_latex(const Report& r) {
  std::string tex = latex_table(classification_table(r), "Popek-Goldberg classification by experiment (nestbed pg)");
  if (r.depths.size() > 1) {
    tex += '\n';
    tex += latex_table(theorem2_table(r), "Theorem 2: equivalence, resource control and efficiency per depth");
  }
  return tex;
}

}  // namespace nestbed::pg
