#include "l0/sim/cost_model.h"

#include <fstream>
#include <sstream>

#include "l0/engine.h"

namespace nestbed::sim {

namespace {
struct Entry {
  const char* name;
  uint32_t cycles;
  const char* source;
};
constexpr Entry kDefaults[] = {
#define X(name, cycles, source) {#name, cycles, source},
#include "l0/sim/cost_model.def"
#undef X
};
}  // namespace

CostModel::CostModel() {
  for (unsigned i = 0; i < unsigned(CostClass::count); ++i) cycles_[i] = kDefaults[i].cycles;
}

const char* CostModel::name(CostClass c) { return kDefaults[unsigned(c)].name; }
const char* CostModel::source(CostClass c) { return kDefaults[unsigned(c)].source; }

void CostModel::load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read cost model '" + path + "'");
  std::string line;
  for (unsigned lineno = 1; std::getline(in, line); ++lineno) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string key;
    if (!(fields >> key)) continue;
    long long value;
    std::string extra;
    if (!(fields >> value) || value < 0 || value > 0xffff || (fields >> extra))
      throw InputError(path + ":" + std::to_string(lineno) + ": expected '<class> <cycles 0..65535>'");
    bool found = false;
    for (unsigned i = 0; i < unsigned(CostClass::count); ++i)
      if (key == kDefaults[i].name) cycles_[i] = uint32_t(value), found = true;
    if (!found) throw InputError(path + ":" + std::to_string(lineno) + ": unknown cost class '" + key + "'");
  }
}

}  // namespace nestbed::sim
