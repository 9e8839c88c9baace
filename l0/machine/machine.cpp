#include "l0/machine/machine.h"

#include <string>

#include "l0/loader/multiboot_loader.h"

namespace nestbed {

Machine::Machine(uint64_t memory_bytes, std::FILE* console)
    : memory(memory_bytes), devices(PlatformConfig{memory_bytes, 1, console}) {}

std::unique_ptr<Machine> create_machine(const RunConfig& config, std::FILE* console) {
  if (config.memory_mib < MIN_MEMORY_MIB || config.memory_mib > MAX_MEMORY_MIB)
    throw InputError("--memory " + std::to_string(config.memory_mib) + " is out of range: RAM must be " +
                     std::to_string(MIN_MEMORY_MIB) + ".." + std::to_string(MAX_MEMORY_MIB) + " MiB");
  if (config.image_path.empty()) throw InputError("no image given");
  auto machine = std::make_unique<Machine>(config.memory_mib << 20, console);
  machine->boot = load_multiboot(machine->memory, config.image_path, config.cmdline, config.modules);
  return machine;
}

}  // namespace nestbed
