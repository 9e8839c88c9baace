// The sim engine: the software x86-64 machine (DESIGN.md §4).
#pragma once
#include <memory>

#include "l0/engine.h"

namespace nestbed {
std::unique_ptr<Engine> make_sim_engine();
}
