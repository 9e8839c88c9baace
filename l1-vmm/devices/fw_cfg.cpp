#include "l1-vmm/devices/fw_cfg.h"

namespace l1 {

constexpr uint16_t NB_CPUS = 1;  // l1-vmm runs one vCPU
FwCfg fw_cfg(0, NB_CPUS);        // RAM_SIZE is set once the guest's memory is

}  // namespace l1
