// The --stats report of `nestbed run`, one JSON object.
#pragma once
#include <nlohmann/json.hpp>

#include "l0/engine.h"
#include "l0/machine/machine.h"

namespace nestbed::cli {

// "debug_exit", "halted", ...: stable names for scripts.
const char* stop_reason_name(StopReason reason);

nlohmann::ordered_json stats_json(const Engine& engine, const RunConfig& config, const RunResult& result,
                          const Machine& machine);

}  // namespace nestbed::cli
