# The vmx-selftest guest checks the sim's VMX test by test (SDM chapters
# 23-30). It needs VMX, so it runs on the sim only (QEMU's TCG and this
# host's KVM offer none: the guest says so and exits with code 0x10).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
if(TARGET nestbed)
  add_test(NAME e2e.sim.vmx-selftest
    COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_vmx_selftest.py
      --nestbed $<TARGET_FILE:nestbed> ${NESTBED_IMAGE_DIR}/vmx-selftest)
  set_tests_properties(e2e.sim.vmx-selftest PROPERTIES TIMEOUT 120 LABELS "e2e;sim;vmx")
  add_test(NAME determinism.sim.vmx-selftest
    COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_determinism.py
      --nestbed $<TARGET_FILE:nestbed> ${NESTBED_IMAGE_DIR}/vmx-selftest)
  set_tests_properties(determinism.sim.vmx-selftest PROPERTIES TIMEOUT 120 LABELS "e2e;sim;determinism")
endif()
