#include "l0/engine.h"

#if __has_include("l0/sim/sim_engine.h")
#include "l0/sim/sim_engine.h"
#define NESTBED_HAVE_SIM 1
#endif
#if __has_include("l0/kvm/kvm_engine.h")
#include "l0/kvm/kvm_engine.h"
#define NESTBED_HAVE_KVM 1
#endif

namespace nestbed {

std::unique_ptr<Engine> make_engine(const std::string& name) {
#ifdef NESTBED_HAVE_SIM
  if (name == "sim") return make_sim_engine();
#endif
#ifdef NESTBED_HAVE_KVM
  if (name == "kvm") return make_kvm_engine();
#endif
  throw InputError("unknown engine '" + name + "' (engines: sim, kvm)");
}

}  // namespace nestbed
