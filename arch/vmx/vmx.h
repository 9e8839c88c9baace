// Everything in arch/vmx: VMCS fields, exit reasons, control words,
// capability MSRs, EPT, exit-qualification and other layouts, VM-instruction
// errors. Header-only and freestanding (only <stdint.h>).
#pragma once
#include "arch/vmx/capability_msrs.h"
#include "arch/vmx/controls.h"
#include "arch/vmx/ept.h"
#include "arch/vmx/exit_qualification.h"
#include "arch/vmx/exit_reasons.h"
#include "arch/vmx/vm_instruction_errors.h"
#include "arch/vmx/vmcs_fields.h"
#include "arch/vmx/shadow_fields.h"
