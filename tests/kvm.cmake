# Tests of the kvm engine (l0/kvm). Its unit tests (tests/unit/kvm_*.cpp) are
# part of nestbed_unit_tests; the ones that need /dev/kvm skip themselves
# (GTEST_SKIP, shown as skipped by CTest, with the reason) where it is
# missing or unusable. Some of them run the workload images and the nestbed
# CLI, so the test binary is told where those are and is built after them.
# The e2e.kvm.<case> runs of every workload are registered in workloads.cmake.
if(TARGET nestbed_unit_tests)
  target_compile_definitions(nestbed_unit_tests PRIVATE
    NESTBED_KVM_TEST_IMAGES="${NESTBED_IMAGE_DIR}"
    NESTBED_KVM_TEST_CLI="$<TARGET_FILE:nestbed>")
  add_dependencies(nestbed_unit_tests nestbed workloads)
endif()
