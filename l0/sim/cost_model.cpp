#include "l0/sim/cost_model.h"

#include <algorithm>
#include <sstream>
#include <vector>

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
constexpr unsigned kCount = unsigned(CostClass::count);

// A cost table is a few hundred bytes; anything far larger is not one.
constexpr uint64_t MAX_FILE_BYTES = 1 << 20;
constexpr long long MAX_CYCLES = 0xffff;

std::string class_names() {
  std::string names;
  for (const Entry& e : kDefaults) names += std::string(names.empty() ? "" : ", ") + e.name;
  return names;
}

int class_index(const std::string& name) {
  for (unsigned i = 0; i < kCount; ++i)
    if (name == kDefaults[i].name) return int(i);
  return -1;
}

}  // namespace

CostModel::CostModel() {
  for (unsigned i = 0; i < kCount; ++i) cycles_[i] = kDefaults[i].cycles;
}

const char* CostModel::name(CostClass c) { return kDefaults[unsigned(c)].name; }
const char* CostModel::source(CostClass c) { return kDefaults[unsigned(c)].source; }

void CostModel::load_file(const std::string& path) {
  const std::vector<uint8_t> bytes = InputFile(path, "cost model").read_all(MAX_FILE_BYTES);
  load_text(std::string(bytes.begin(), bytes.end()), path);
}

void CostModel::load_text(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::vector<unsigned> named_on(kCount, 0);  // the line that named each class, 0 if none
  bool any = false;
  std::string line;
  for (unsigned lineno = 1; std::getline(in, line); ++lineno) {
    const std::string where = origin + ":" + std::to_string(lineno) + ": ";
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string key;
    if (!(fields >> key)) continue;
    const int index = class_index(key);
    if (index < 0) throw InputError(where + "unknown cost class '" + key + "'; the classes are: " + class_names());
    long long value;
    std::string extra;
    if (!(fields >> value) || value < 0 || value > MAX_CYCLES || (fields >> extra))
      throw InputError(where + "expected '<class> <cycles 0.." + std::to_string(MAX_CYCLES) + ">'");
    if (named_on[unsigned(index)])
      throw InputError(where + "cost class '" + key + "' is given twice (first on line " +
                       std::to_string(named_on[unsigned(index)]) + ")");
    named_on[unsigned(index)] = lineno;
    cycles_[unsigned(index)] = uint32_t(value);
    any = true;
  }
  if (!any)
    throw InputError(origin + ": names no cost class (an empty cost model; `nestbed cost-model` prints the defaults)");
}

std::string CostModel::to_text() const {
  std::string text =
      "# nestbed cost model: modeled cycles per instruction class, one \"<class> <cycles>\" per line ('#' starts a\n"
      "# comment). Cycles are 0.." + std::to_string(MAX_CYCLES) + ". A file given to `nestbed run --cost-model FILE` overrides only the\n"
      "# classes it names; the others keep their defaults. The defaults and their sources: l0/sim/cost_model.def.\n";
  for (unsigned i = 0; i < kCount; ++i) {
    std::string row = std::string(kDefaults[i].name) + " " + std::to_string(cycles_[i]);
    row.resize(std::max<size_t>(row.size() + 1, 24), ' ');
    text += row + "# " + kDefaults[i].source + "\n";
  }
  return text;
}

}  // namespace nestbed::sim
