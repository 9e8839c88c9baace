# A sanitizer report can never pass for success (tests/sanitizer/):
#
#   sanitizer.status.<mode>      (sanitizer builds) a real ASan, UBSan or leak report
#                                ends the process with exit_status::SANITIZER, with no
#                                ASAN_OPTIONS/UBSAN_OPTIONS set, and the report patterns
#                                recognise it
#   sanitizer.options_in_every_executable  (sanitizer builds) every host executable
#                                carries l0/sanitizer_options.cpp
#   sanitizer.every_test_fails_on_a_report  every registered test, GoogleTest cases
#                                included, has the FAIL_REGULAR_EXPRESSION, and CTest
#                                really fails a test that exits 0 after a report
#   sanitizer.driver.<driver>    each driver that runs nestbed (expect.sh and the Python
#                                ones in tests/e2e) fails when nestbed's stderr has a
#                                report although its status and output are right, and
#                                passes without the report
#
# Without sanitizers the report comes from a canned line (the trigger cannot
# make one), so the drivers' and CTest's checks are tested in both presets.
find_package(Python3 REQUIRED COMPONENTS Interpreter)

add_executable(nestbed_sanitizer_trigger ${CMAKE_CURRENT_LIST_DIR}/sanitizer/trigger.cpp)
target_link_libraries(nestbed_sanitizer_trigger PRIVATE nestbed_arch)
target_include_directories(nestbed_sanitizer_trigger PRIVATE ${PROJECT_SOURCE_DIR})
nestbed_host_target(nestbed_sanitizer_trigger)

set(NESTBED_SANITIZER_CHECK ${CMAKE_CURRENT_LIST_DIR}/sanitizer/check_sanitizer_checks.py)
function(nestbed_sanitizer_check name)
  add_test(NAME sanitizer.${name}
    COMMAND Python3::Interpreter ${NESTBED_SANITIZER_CHECK}
      --trigger $<TARGET_FILE:nestbed_sanitizer_trigger> --nestbed $<TARGET_FILE:nestbed>
      --images ${NESTBED_IMAGE_DIR} --build-dir ${CMAKE_BINARY_DIR} --bin-dir ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}
      --cli-inputs ${NESTBED_CLI_INPUTS} --ctest ${CMAKE_CTEST_COMMAND} ${ARGN})
  set_tests_properties(sanitizer.${name} PROPERTIES TIMEOUT 300 LABELS sanitizer)
endfunction()

if(NESTBED_SANITIZE)
  foreach(mode ubsan null-memcpy asan leak)
    nestbed_sanitizer_check(status.${mode} status ${mode})
  endforeach()
  nestbed_sanitizer_check(options_in_every_executable executables)
endif()
nestbed_sanitizer_check(every_test_fails_on_a_report ctest)
foreach(driver expect.sh run_workload.py check_determinism.py check_vmx_selftest.py l1vmm_check.py)
  nestbed_sanitizer_check(driver.${driver} driver ${driver})
endforeach()
set_tests_properties(sanitizer.driver.expect.sh PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs)
