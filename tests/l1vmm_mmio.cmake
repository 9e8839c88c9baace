# l1-vmm's MMIO instruction decoder (l1-vmm/devices/mmio_decode.cpp, pure
# and free of VMX) compiled for the host and linked into the unit tests
# (tests/unit/l1vmm_mmio_decode_test.cpp), as tests/unit/nested.cmake does
# for l1-vmm/nested/.
if(TARGET nestbed_unit_tests)
  add_library(l1vmm_mmio_decode_host STATIC ${PROJECT_SOURCE_DIR}/l1-vmm/devices/mmio_decode.cpp)
  target_link_libraries(l1vmm_mmio_decode_host PUBLIC nestbed_arch)
  nestbed_host_target(l1vmm_mmio_decode_host)
  target_link_libraries(nestbed_unit_tests PRIVATE l1vmm_mmio_decode_host)
endif()
