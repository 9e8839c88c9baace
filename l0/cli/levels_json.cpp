#include "l0/cli/levels_json.h"

#include <string>

#include "arch/vmx/exit_reasons.h"

namespace nestbed::cli {

nlohmann::ordered_json levels_json(const std::optional<std::vector<LevelStats>>& levels) {
  if (!levels) return nullptr;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const LevelStats& l : *levels) {
    nlohmann::ordered_json exits = nlohmann::ordered_json::object();
    for (const auto& [reason, count] : l.exits) {
      const char* name = arch::vmx::exit_reason_name(reason);
      exits[name ? std::string(name) : std::to_string(reason)] = count;
    }
    out.push_back({{"level", l.level},
                   {"instructions", l.instructions},
                   {"cycles", l.cycles},
                   {"hw_exits", l.hw_exits},
                   {"exits", std::move(exits)}});
  }
  return out;
}

}  // namespace nestbed::cli
