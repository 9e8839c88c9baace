// The "levels" array of the --stats report (l0/level_stats.h):
//   [{"level": 1, "instructions": N, "cycles": N, "hw_exits": N,
//     "exits": {"CPUID": n, ...}}, ...]
// one object per level from 1 to the deepest that ran, exit reasons by
// their arch/ names in reason-number order; null where the engine does not
// measure levels (kvm). Scripts depend on this shape (analysis/, nestbed pg).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "l0/level_stats.h"

namespace nestbed::cli {

nlohmann::ordered_json levels_json(const std::optional<std::vector<LevelStats>>& levels);

}  // namespace nestbed::cli
