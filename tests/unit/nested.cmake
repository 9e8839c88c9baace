# l1-vmm's nested-VMX logic compiled for the host (it is pure and free of
# VMX instructions: l1-vmm/nested/README.md), linked into the unit tests
# (tests/unit/nested_*_test.cpp). The EPT walk and host-state loading it
# relies on come from common/ (nestbed_common).
set(L1VMM_NESTED_DIR ${PROJECT_SOURCE_DIR}/l1-vmm/nested)
add_library(l1vmm_nested_host STATIC
  ${L1VMM_NESTED_DIR}/vmcs12.cpp ${L1VMM_NESTED_DIR}/capabilities.cpp ${L1VMM_NESTED_DIR}/reflect.cpp
  ${L1VMM_NESTED_DIR}/merge.cpp ${L1VMM_NESTED_DIR}/ept02_rules.cpp)
target_link_libraries(l1vmm_nested_host PUBLIC nestbed_arch nestbed_common)
nestbed_host_target(l1vmm_nested_host)
target_link_libraries(nestbed_unit_tests PRIVATE l1vmm_nested_host)
