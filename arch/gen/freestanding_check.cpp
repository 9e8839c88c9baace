// Compiled with the guests' freestanding flags (see arch/CMakeLists.txt):
// a build error here means an arch/ header needs more than <stdint.h>.
#include "arch/trace_annotations.h"
#include "arch/vmx/vmx.h"
#include "arch/x86/exceptions.h"
#include "arch/x86/msr.h"

namespace {
[[maybe_unused]] const char* field_name(uint32_t enc) { return arch::vmx::vmcs_field_name(enc); }
[[maybe_unused]] int field_slot(uint32_t enc) { return arch::vmx::vmcs_field_slot(enc); }
[[maybe_unused]] const char* reason_name(uint32_t r) { return arch::vmx::exit_reason_name(r); }
[[maybe_unused]] void annotate(uint64_t level) { nestbed_annotate(arch::trace::AnnotationKind::MARK, level, 0, 0, 0); }
}  // namespace
