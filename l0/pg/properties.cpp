#include "l0/pg/properties.h"

#include <sstream>

namespace nestbed::pg {

Equivalence compare_runs(const WorkloadRun& native, const WorkloadRun& nested) {
  if (native.status != nested.status)
    return {false, "status " + std::to_string(nested.status) + " (natively " + std::to_string(native.status) + ")"};
  std::istringstream a(native.output), b(nested.output);
  std::string la, lb;
  for (unsigned n = 1;; n++) {
    const bool more_a = bool(std::getline(a, la)), more_b = bool(std::getline(b, lb));
    if (!more_a && !more_b) return {true, "same output and status " + std::to_string(native.status)};
    if (more_a != more_b || la != lb)
      return {false, "line " + std::to_string(n) + ": '" + (more_b ? lb : "<end>") + "' (natively '" +
                         (more_a ? la : "<end>") + "')"};
  }
}

namespace {

// "escape KIND REST... reachable=N": what = KIND and the words before the
// first key=value, answer = the key=value words but reachable.
EscapeTry parse_try(const std::string& line) {
  std::istringstream in(line.substr(std::string("escape ").size()));
  EscapeTry t;
  for (std::string w; in >> w;) {
    if (w.rfind("reachable=", 0) == 0) {
      t.reachable = w == "reachable=1";
    } else if (w.find('=') == std::string::npos) {
      t.what += (t.what.empty() ? "" : " ") + w;
    } else {
      t.answer += (t.answer.empty() ? "" : " ") + w;
    }
  }
  return t;
}

}  // namespace

std::vector<EscapeTry> parse_escape_output(const std::string& output, int status, const std::string& stop_message) {
  std::vector<EscapeTry> tries;
  std::istringstream in(output);
  std::string pending_write;  // a mem-write "tried" without its result yet
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("escape ", 0) != 0 || line.rfind("escape ram ", 0) == 0) continue;
    if (line.rfind("escape mem-write ", 0) == 0 && line.size() > 6 && line.compare(line.size() - 6, 6, " tried") == 0) {
      pending_write = line.substr(std::string("escape ").size(), line.size() - 6 - std::string("escape ").size());
      continue;
    }
    if (line.rfind("escape mem-write ", 0) == 0) pending_write.clear();
    tries.push_back(parse_try(line));
  }
  if (!pending_write.empty())
    tries.push_back({pending_write, "stopped (status " + std::to_string(status) + "): " + stop_message, false});
  return tries;
}

std::optional<Efficiency> efficiency_from_stats(const nlohmann::ordered_json& stats) {
  if (!stats.is_object() || !stats.contains("levels") || !stats["levels"].is_array() || stats["levels"].empty())
    return std::nullopt;
  Efficiency e;
  for (const auto& level : stats["levels"]) {
    if (!level.is_object() || !level.contains("level") || !level.contains("instructions"))
      throw std::runtime_error("--stats \"levels\" entry without \"level\" and \"instructions\"");
    const unsigned number = level["level"].get<unsigned>();
    const uint64_t instructions = level["instructions"].get<uint64_t>();
    e.all_instructions += instructions;
    if (number >= e.innermost_level) {
      e.innermost_level = number;
      e.innermost_instructions = instructions;
    }
  }
  return e;
}

}  // namespace nestbed::pg
