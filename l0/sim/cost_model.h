// The modeled cycle cost of every instruction class (DESIGN.md §4). One
// table, cost_model.def, gives the defaults and their sources; a user may
// replace any entry with `--cost-model FILE` (lines "name cycles").
#pragma once
#include <cstdint>
#include <string>

namespace nestbed::sim {

enum class CostClass : uint8_t {
#define X(name, cycles, source) name,
#include "l0/sim/cost_model.def"
#undef X
  count
};

class CostModel {
 public:
  CostModel();  // the defaults
  // Reads "name cycles" lines ('#' starts a comment). Throws InputError
  // naming the file and line on an unknown class or a malformed number.
  void load_file(const std::string& path);
  uint32_t operator[](CostClass c) const { return cycles_[unsigned(c)]; }
  void set(CostClass c, uint32_t cycles) { cycles_[unsigned(c)] = cycles; }
  static const char* name(CostClass c);
  static const char* source(CostClass c);

 private:
  uint32_t cycles_[unsigned(CostClass::count)];
};

}  // namespace nestbed::sim
