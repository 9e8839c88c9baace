#include "l0/engine.h"

#include "l0/kvm/kvm_engine.h"
#include "l0/sim/sim_engine.h"

namespace nestbed {

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name == "sim") return make_sim_engine();
  if (name == "kvm") return make_kvm_engine();
  throw InputError("unknown engine '" + name + "' (engines: sim, kvm)");
}

}  // namespace nestbed
