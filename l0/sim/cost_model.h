// The modeled cycle cost of every instruction class (docs/ARCHITECTURE.md).
// One table, cost_model.def, gives the defaults and their sources; a user
// may override any entries with `--cost-model FILE` (lines "name cycles";
// `nestbed cost-model` prints the defaults in that format).
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
  // Reads "name cycles" lines ('#' starts a comment); the classes named
  // override their current values, the others stay. Throws InputError
  // naming the file and line on an unknown class (listing the valid ones),
  // a class given twice, a malformed number, or a file naming no class;
  // or when the path is not a regular file.
  void load_file(const std::string& path);
  // The same for text already in memory; `origin` names it in errors.
  void load_text(const std::string& text, const std::string& origin);
  // This table in the format load_text reads, each default's source as a comment.
  std::string to_text() const;
  uint32_t operator[](CostClass c) const { return cycles_[unsigned(c)]; }
  void set(CostClass c, uint32_t cycles) { cycles_[unsigned(c)] = cycles; }
  static const char* name(CostClass c);
  static const char* source(CostClass c);

 private:
  uint32_t cycles_[unsigned(CostClass::count)];
};

}  // namespace nestbed::sim
