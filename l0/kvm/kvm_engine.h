// The kvm engine: the same images, devices and exit statuses as the sim, on
// Linux KVM (/dev/kvm), with the exits that reach user space recorded
// (DESIGN.md §5). l0/engine_factory.cpp finds it through this header.
#pragma once
#include <memory>

#include "l0/engine.h"

namespace nestbed {
std::unique_ptr<Engine> make_kvm_engine();
}
