// QEMU's fw_cfg as the guest of l1-vmm sees it: l0's front end
// (common/devices/fw_cfg.h) with the items l0 offers, the guest's RAM size
// (set at boot) and one CPU.
#pragma once
#include <stdint.h>

#include "common/devices/fw_cfg.h"

namespace l1 {

using FwCfg = nestbed::common::devices::FwCfg;
extern FwCfg fw_cfg;

}  // namespace l1
