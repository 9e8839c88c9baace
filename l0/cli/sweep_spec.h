// A sweep SPEC (experiments/README.md "The SPEC format"): a TOML file that
// names axes — workload with its arguments, depth, engine, l1-vmm options,
// cost-model file, guest memory — whose cross product, less the [[exclude]]d
// combinations and times the repetitions, is the list of runs of
// `nestbed sweep`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nestbed::cli::sweep {

// One run of a sweep: one point of the cross product, one repetition.
struct Run {
  std::string id;              // "0007-cpuid-loop-d2": its folder under DIR/runs/
  unsigned index = 0;          // position in the sweep (0-based)
  std::string workload;        // the image name under the images folder
  std::string args;            // the workload's cmdline arguments
  unsigned depth = 0;          // l1-vmm levels under the workload
  std::string engine;          // sim or kvm
  std::vector<std::string> l1_options;  // per l1-vmm level: [0] for level 1, ...
  bool same_options_every_level = true;  // then l1_options has one entry, for every level
  std::string l1_options_text;          // as the SPEC wrote it (a CSV column)
  std::string cost_model;      // absolute path, or "" for the defaults
  std::string cost_model_text; // as the SPEC wrote it
  uint64_t memory_mib = 0;
  unsigned repetition = 1;     // 1..repetitions

  // The axis values, for params.json and the CSV columns (in CSV order).
  nlohmann::ordered_json axes() const;
  // l1-vmm options of level k (1-based); "" past what the SPEC gave.
  std::string options_of_level(unsigned level) const;
};

struct Spec {
  std::string path;            // the SPEC file
  std::string name;            // [sweep] name (default: the file's stem)
  std::string images;          // folder of the workload and l1-vmm images ("" = beside nestbed)
  unsigned repetitions = 1;
  double timeout_seconds = 600;  // per run; a run past it is killed and recorded as failed
  bool trace = false;          // record each run's trace (DIR/runs/<id>/trace)
  uint64_t max_instructions = 0;
  std::vector<Run> runs;
};

// Reads and expands a SPEC. Throws InputError naming the file and line of
// what is wrong.
Spec read_spec(const std::string& path);

// The guest memory a depth needs when the SPEC does not say (each l1-vmm
// level gives its guest half of its memory: l1-vmm/README.md).
uint64_t default_memory_mib(unsigned depth);

}  // namespace nestbed::cli::sweep
