#include "l0/cli/sweep_results.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "l0/engine.h"

namespace nestbed::cli::sweep {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Stats fields that repeat an axis column, or name a file of this machine.
const char* const SKIPPED_STATS[] = {"engine", "memory_mib", "image"};

std::optional<Json> read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  try {
    return Json::parse(s.str());
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // cut short (the run was killed while writing it)
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string cell(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  return v.dump();
}

class CsvFile {
 public:
  explicit CsvFile(const fs::path& path) : path_(path), out_(path, std::ios::trunc) {
    if (!out_) throw InputError("cannot write '" + path.string() + "': " + std::strerror(errno));
  }
  void row(const std::vector<std::string>& fields) {
    for (size_t k = 0; k < fields.size(); ++k) out_ << (k ? "," : "") << csv_field(fields[k]);
    out_ << "\n";
  }
  void close() {
    out_.close();
    if (!out_) throw InputError("cannot write '" + path_.string() + "'");
  }

 private:
  fs::path path_;
  std::ofstream out_;
};

struct RunFiles {
  const Run* run;
  std::optional<Json> result, stats;
};

std::vector<std::string> axis_cells(const Run& r) {
  std::vector<std::string> cells = {r.id};
  const Json axes = r.axes();
  for (const auto& [key, value] : axes.items()) cells.push_back(cell(value));
  return cells;
}

std::vector<std::string> axis_header(const Run& r) {
  std::vector<std::string> h = {"run_id"};
  const Json axes = r.axes();
  for (const auto& [key, value] : axes.items()) h.push_back(key);
  return h;
}

// Every scalar stats field, in the order the first run that has it gives.
std::vector<std::string> stats_columns(const std::vector<RunFiles>& files) {
  std::vector<std::string> columns;
  for (const RunFiles& f : files) {
    if (!f.stats) continue;
    for (const auto& [key, value] : f.stats->items()) {
      if (value.is_structured()) continue;
      bool skip = false;
      for (const char* s : SKIPPED_STATS) skip = skip || key == s;
      for (const auto& c : columns) skip = skip || c == key;
      if (!skip) columns.push_back(key);
    }
  }
  return columns;
}

// The workload's own level (depth + 1): what it ran, the exits it took
// (the logical exits its VMM handled), and its share of all instructions
// (the efficiency property, DESIGN.md §7).
std::vector<std::string> workload_level_cells(const Run& r, const std::optional<Json>& stats) {
  if (!stats || !stats->value("levels", Json()).is_array()) return {"", "", "", "", ""};
  const Json& levels = stats->at("levels");
  if (levels.size() < r.depth + 1) return {"", "", "", "", ""};
  const Json& inner = levels[r.depth];
  const uint64_t total = stats->value("instructions", uint64_t(0));
  const uint64_t instructions = inner.value("instructions", uint64_t(0));
  char efficiency[32] = "";
  if (total) std::snprintf(efficiency, sizeof efficiency, "%.9f", double(instructions) / double(total));
  return {std::to_string(r.depth + 1), std::to_string(instructions), cell(inner.value("cycles", Json())),
          cell(inner.value("hw_exits", Json())), efficiency};
}

}  // namespace

ResultSummary write_results(const std::vector<const Run*>& runs, const std::string& out_dir) {
  ResultSummary summary;
  std::vector<RunFiles> files;
  for (const Run* r : runs) {
    const fs::path dir = fs::path(out_dir) / "runs" / r->id;
    files.push_back({r, read_json(dir / "result.json"), read_json(dir / "stats.json")});
  }
  if (files.empty()) return summary;
  const std::vector<std::string> stats = stats_columns(files);

  CsvFile results(fs::path(out_dir) / "results.csv"), levels(fs::path(out_dir) / "levels.csv"),
      exits(fs::path(out_dir) / "exits.csv");
  std::vector<std::string> header = axis_header(*files[0].run);
  const std::vector<std::string> axes_header = header;
  for (const char* c : {"ok", "status", "timed_out", "run_seconds"}) header.push_back(c);
  header.insert(header.end(), stats.begin(), stats.end());
  for (const char* c : {"workload_level", "workload_instructions", "workload_cycles", "workload_exits", "efficiency"})
    header.push_back(c);
  results.row(header);
  std::vector<std::string> h = axes_header;
  for (const char* c : {"level", "instructions", "cycles", "hw_exits"}) h.push_back(c);
  levels.row(h);
  h = axes_header;
  for (const char* c : {"level", "reason", "exits"}) h.push_back(c);
  exits.row(h);

  for (const RunFiles& f : files) {
    ++summary.runs;
    if (!f.result) {
      ++summary.missing;
      continue;
    }
    const bool ok = f.result->value("ok", false);
    ++(ok ? summary.ok : summary.failed);
    const std::vector<std::string> axes = axis_cells(*f.run);
    std::vector<std::string> row = axes;
    for (const char* c : {"ok", "status", "timed_out", "run_seconds"}) row.push_back(cell(f.result->value(c, Json())));
    for (const auto& c : stats) row.push_back(f.stats ? cell(f.stats->value(c, Json())) : "");
    for (auto& c : workload_level_cells(*f.run, f.stats)) row.push_back(c);
    results.row(row);
    if (!f.stats || !f.stats->value("levels", Json()).is_array()) continue;
    for (const Json& level : f.stats->at("levels")) {
      row = axes;
      for (const char* c : {"level", "instructions", "cycles", "hw_exits"}) row.push_back(cell(level.value(c, Json())));
      levels.row(row);
      const Json exits_of_level = level.value("exits", Json::object());
      for (const auto& [reason, count] : exits_of_level.items()) {
        row = axes;
        row.insert(row.end(), {cell(level.value("level", Json())), reason, cell(count)});
        exits.row(row);
      }
    }
  }
  results.close();
  levels.close();
  exits.close();
  return summary;
}

}  // namespace nestbed::cli::sweep
