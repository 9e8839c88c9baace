#include "l0/cli/sweep_spec.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include <toml++/toml.h>

#include "l0/engine.h"

namespace nestbed::cli::sweep {
namespace {

namespace fs = std::filesystem;

constexpr unsigned MAX_DEPTH = 16;
constexpr unsigned MAX_RUNS = 100000;  // a SPEC past this is more likely a mistake than a plan

// An error about the SPEC, naming the file and the line of `node`.
[[noreturn]] void fail(const Spec& spec, const toml::node* node, const std::string& what) {
  std::string where = spec.path;
  if (node && node->source().begin.line) where += ":" + std::to_string(node->source().begin.line);
  throw InputError(where + ": " + what);
}

// The values of an axis: an array, or one scalar for a one-value axis.
std::vector<const toml::node*> values_of(const toml::node& axis) {
  std::vector<const toml::node*> out;
  if (const toml::array* a = axis.as_array()) {
    for (const toml::node& v : *a) out.push_back(&v);
  } else {
    out.push_back(&axis);
  }
  return out;
}

std::string string_value(const Spec& spec, const toml::node& v, const char* what) {
  if (!v.is_string()) fail(spec, &v, std::string(what) + " must be a string");
  return v.as_string()->get();
}

int64_t integer_value(const Spec& spec, const toml::node& v, const char* what, int64_t lo, int64_t hi) {
  if (!v.is_integer()) fail(spec, &v, std::string(what) + " must be an integer");
  const int64_t n = v.as_integer()->get();
  if (n < lo || n > hi)
    fail(spec, &v, std::string(what) + " " + std::to_string(n) + " is out of range (" + std::to_string(lo) + ".." +
                       std::to_string(hi) + ")");
  return n;
}

// A file named relative to the SPEC's folder.
std::string relative_to_spec(const Spec& spec, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(spec.path).parent_path() / path).lexically_normal().string();
}

// The axes, each value already checked; index i of each vector is a value.
struct Axes {
  struct Workload {
    std::string text, image, args;
  };
  struct Options {
    std::string text;
    std::vector<std::string> levels;
    bool every_level = true;
  };
  struct CostModel {
    std::string text, path;
  };
  std::vector<Workload> workloads;
  std::vector<unsigned> depths{0};
  std::vector<std::string> engines{"sim"};
  std::vector<Options> l1_options{Options{}};
  std::vector<CostModel> cost_models{CostModel{}};
  std::vector<uint64_t> memories;  // empty: default_memory_mib(depth)
};

Axes::Workload workload_value(const Spec& spec, const toml::node& v) {
  std::string text = string_value(spec, v, "a workload");
  const size_t start = text.find_first_not_of(' ');
  if (start == std::string::npos) fail(spec, &v, "a workload must name an image (e.g. \"cpuid-loop 1000\")");
  const size_t end = text.find(' ', start);
  Axes::Workload w{text, text.substr(start, end - start), ""};
  if (end != std::string::npos) {
    const size_t args = text.find_first_not_of(' ', end);
    if (args != std::string::npos) w.args = text.substr(args);
  }
  if (w.image.find('/') != std::string::npos)
    fail(spec, &v, "a workload is an image name in the images folder, not a path: '" + w.image + "'");
  return w;
}

// A string applies to every level; an array gives level 1, level 2, ...
Axes::Options options_value(const Spec& spec, const toml::node& v) {
  Axes::Options o;
  if (const toml::array* levels = v.as_array()) {
    o.every_level = false;
    for (const toml::node& level : *levels) {
      o.levels.push_back(string_value(spec, level, "l1-vmm options of a level"));
      o.text += (o.text.empty() ? "" : " | ") + o.levels.back();
    }
    if (levels->empty()) fail(spec, &v, "l1_options: an array gives each level's options; it is empty");
    return o;
  }
  o.text = string_value(spec, v, "l1_options (a string for every level, or an array per level)");
  o.levels.push_back(o.text);
  return o;
}

Axes read_axes(const Spec& spec, const toml::table& table) {
  Axes axes;
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    const std::vector<const toml::node*> values = values_of(node);
    if (values.empty()) fail(spec, &node, "axis '" + k + "' has no values");
    if (k == "workload") {
      for (const toml::node* v : values) axes.workloads.push_back(workload_value(spec, *v));
    } else if (k == "depth") {
      axes.depths.clear();
      for (const toml::node* v : values) axes.depths.push_back(unsigned(integer_value(spec, *v, "depth", 0, MAX_DEPTH)));
    } else if (k == "engine") {
      axes.engines.clear();
      for (const toml::node* v : values) {
        std::string e = string_value(spec, *v, "engine");
        if (e != "sim" && e != "kvm") fail(spec, v, "engine must be \"sim\" or \"kvm\", not \"" + e + "\"");
        axes.engines.push_back(e);
      }
    } else if (k == "l1_options") {
      axes.l1_options.clear();
      // One array of strings is a list of values; an array of arrays lists per-level values.
      for (const toml::node* v : values) axes.l1_options.push_back(options_value(spec, *v));
    } else if (k == "cost_model") {
      axes.cost_models.clear();
      for (const toml::node* v : values) {
        Axes::CostModel c{string_value(spec, *v, "cost_model"), ""};
        c.path = relative_to_spec(spec, c.text);
        if (!c.path.empty() && !fs::is_regular_file(c.path)) fail(spec, v, "cost model file '" + c.path + "' not found");
        axes.cost_models.push_back(c);
      }
    } else if (k == "memory_mib") {
      for (const toml::node* v : values) axes.memories.push_back(uint64_t(integer_value(spec, *v, "memory_mib", 2, 3584)));
    } else {
      fail(spec, &node, "unknown axis '" + k + "' (axes: workload, depth, engine, l1_options, cost_model, memory_mib)");
    }
  }
  if (axes.workloads.empty()) fail(spec, &table, "[axes] needs a workload axis, e.g. workload = [\"cpuid-loop 1000\"]");
  return axes;
}

void read_settings(Spec& spec, const toml::table& table) {
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    if (k == "name") {
      spec.name = string_value(spec, node, "name");
    } else if (k == "images") {
      spec.images = relative_to_spec(spec, string_value(spec, node, "images"));
    } else if (k == "repetitions") {
      spec.repetitions = unsigned(integer_value(spec, node, "repetitions", 1, 1000));
    } else if (k == "timeout_seconds") {
      if (!node.is_number()) fail(spec, &node, "timeout_seconds must be a number");
      spec.timeout_seconds = node.value<double>().value_or(0);
      if (!(spec.timeout_seconds > 0)) fail(spec, &node, "timeout_seconds must be positive");
    } else if (k == "trace") {
      if (!node.is_boolean()) fail(spec, &node, "trace must be true or false");
      spec.trace = node.as_boolean()->get();
    } else if (k == "max_instructions") {
      spec.max_instructions = uint64_t(integer_value(spec, node, "max_instructions", 0, INT64_MAX));
    } else {
      fail(spec, &node,
           "unknown setting '" + k + "' (settings: name, images, repetitions, timeout_seconds, trace, max_instructions)");
    }
  }
}

// An [[exclude]] table: a run is left out when it matches every key; an
// array value matches any of its values. A workload matches its full text
// or its image name.
using Exclusion = std::function<bool(const Run&)>;

Exclusion read_exclusion(const Spec& spec, const toml::table& table) {
  std::vector<Exclusion> parts;
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    std::vector<std::function<bool(const Run&)>> any;
    for (const toml::node* v : values_of(node)) {
      if (k == "workload") {
        const Axes::Workload w = workload_value(spec, *v);
        const bool image_only = w.args.empty();
        any.push_back([w, image_only](const Run& r) {
          return r.workload == w.image && (image_only || r.args == w.args);
        });
      } else if (k == "depth") {
        const unsigned d = unsigned(integer_value(spec, *v, "depth", 0, MAX_DEPTH));
        any.push_back([d](const Run& r) { return r.depth == d; });
      } else if (k == "engine" || k == "l1_options" || k == "cost_model") {
        const std::string s = k == "l1_options" ? options_value(spec, *v).text : string_value(spec, *v, k.c_str());
        any.push_back([k, s](const Run& r) {
          return (k == "engine" ? r.engine : k == "l1_options" ? r.l1_options_text : r.cost_model_text) == s;
        });
      } else if (k == "memory_mib") {
        const uint64_t m = uint64_t(integer_value(spec, *v, "memory_mib", 2, 3584));
        any.push_back([m](const Run& r) { return r.memory_mib == m; });
      } else {
        fail(spec, &node, "unknown axis '" + k + "' in [[exclude]]");
      }
    }
    parts.push_back([any](const Run& r) {
      for (const auto& f : any)
        if (f(r)) return true;
      return false;
    });
  }
  if (parts.empty()) fail(spec, &table, "an empty [[exclude]] would leave out every run");
  return [parts](const Run& r) {
    for (const auto& f : parts)
      if (!f(r)) return false;
    return true;
  };
}

std::string id_safe(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out;
}

void expand(Spec& spec, const Axes& axes, const std::vector<Exclusion>& exclusions, const toml::node* where) {
  std::set<std::string> seen;
  for (const auto& w : axes.workloads)
    for (unsigned depth : axes.depths)
      for (const auto& engine : axes.engines)
        for (const auto& options : axes.l1_options)
          for (const auto& cost : axes.cost_models)
            for (uint64_t memory : axes.memories.empty() ? std::vector<uint64_t>{default_memory_mib(depth)} : axes.memories)
              for (unsigned rep = 1; rep <= spec.repetitions; ++rep) {
                Run r;
                r.workload = w.image;
                r.args = w.args;
                r.depth = depth;
                r.engine = engine;
                // Options of l1-vmm mean nothing without l1-vmm: depth 0 runs
                // once, with none (the baseline of every series).
                if (depth > 0) {
                  r.l1_options = options.levels;
                  r.same_options_every_level = options.every_level;
                  r.l1_options_text = options.text;
                }
                r.cost_model = cost.path;
                r.cost_model_text = cost.text;
                r.memory_mib = memory;
                r.repetition = rep;
                bool excluded = false;
                for (const auto& x : exclusions) excluded = excluded || x(r);
                if (excluded) continue;
                const std::string key = r.axes().dump();
                if (!seen.insert(key).second) continue;  // the same run listed twice
                if (spec.runs.size() >= MAX_RUNS) fail(spec, where, "more than " + std::to_string(MAX_RUNS) + " runs");
                r.index = unsigned(spec.runs.size());
                char number[16];
                std::snprintf(number, sizeof number, "%04u", r.index);
                r.id = std::string(number) + "-" + id_safe(r.workload) + "-d" + std::to_string(depth);
                spec.runs.push_back(std::move(r));
              }
  if (spec.runs.empty()) fail(spec, where, "the axes and exclusions leave no run");
}

}  // namespace

uint64_t default_memory_mib(unsigned depth) {
  if (depth <= 2) return 128;
  if (depth == 3) return 512;
  if (depth == 4) return 1024;
  return 3584;
}

nlohmann::ordered_json Run::axes() const {
  return {{"workload", workload},     {"args", args},
          {"depth", depth},           {"engine", engine},
          {"l1_options", l1_options_text}, {"cost_model", cost_model_text},
          {"memory_mib", memory_mib}, {"repetition", repetition}};
}

std::string Run::options_of_level(unsigned level) const {
  if (same_options_every_level) return l1_options.empty() ? "" : l1_options[0];
  return level >= 1 && level <= l1_options.size() ? l1_options[level - 1] : "";
}

Spec read_spec(const std::string& path) {
  Spec spec;
  spec.path = path;
  spec.name = fs::path(path).stem().string();
  if (!fs::is_regular_file(path)) throw InputError("cannot read sweep SPEC '" + path + "': no such file");
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw InputError(path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  const toml::table* axes_table = nullptr;
  std::vector<Exclusion> exclusions;
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "sweep" && node.is_table()) {
      read_settings(spec, *node.as_table());
    } else if (k == "axes" && node.is_table()) {
      axes_table = node.as_table();
    } else if (k == "exclude" && node.is_array_of_tables()) {
      for (const toml::node& x : *node.as_array()) exclusions.push_back(read_exclusion(spec, *x.as_table()));
    } else {
      fail(spec, &node, "unknown entry '" + k + "' (a SPEC has [sweep], [axes] and [[exclude]] tables)");
    }
  }
  if (!axes_table) throw InputError(path + ": no [axes] table (experiments/README.md describes the SPEC format)");
  expand(spec, read_axes(spec, *axes_table), exclusions, axes_table);
  return spec;
}

}  // namespace nestbed::cli::sweep
