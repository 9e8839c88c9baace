// Everything `nestbed pg` found, and its three renderings: JSON (stable
// across reruns: no wall-clock times), Markdown and LaTeX (the tables a
// course or a paper uses).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "l0/pg/classify.h"
#include "l0/pg/properties.h"

namespace nestbed::pg {

struct WorkloadResult {
  std::string name, args;
  Equivalence equivalence;  // against depth 0 (depth 0 itself: always equal)
  int status = 0;
  std::optional<Efficiency> efficiency;
};

struct DepthResult {
  unsigned depth = 0;
  std::vector<VtxVerdict> vtx;  // one per Report::rows entry (depth >= 1)
  std::string probe_failure;     // how pg-probe's catalogue run ended if it did not finish ("" if it did)
  Equivalence probe_equivalence;  // pg-probe's whole catalogue against depth 0
  std::vector<WorkloadResult> workloads;
  std::vector<EscapeTry> escapes;

  bool all_equivalent() const;
  unsigned reachable_count() const;
  bool all_controlled() const;  // every sensitive row exits or behaves as natively
};

struct Report {
  std::string vmm_cmdline;                  // what every l1-vmm level was given
  std::map<std::string, bool> configs;      // pg-probe's configurations, supported or not
  std::vector<Classification> rows;         // depth 0
  std::vector<DepthResult> depths;          // 0, 1, ..., D
};

nlohmann::ordered_json report_json(const Report& r);
std::string report_markdown(const Report& r);
std::string report_latex(const Report& r);

}  // namespace nestbed::pg
