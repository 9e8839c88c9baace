# The Popek-Goldberg checker (`nestbed pg`, l0/pg/, workloads/pg-probe/):
#
#   nestbed_pg_tests (PgClassify.*, ...)  the classification, equivalence,
#                                         escape-probe and efficiency logic on
#                                         fixtures (tests/pg/*_test.cpp)
#   pg.classification.depth<D>            tests/pg/pg_check.py: the known
#                                         classification with its reasons in
#                                         64-bit, compatibility and 32-bit
#                                         protected mode, VT-x
#                                         verdicts, escape probes that reach
#                                         nothing, equivalence, the JSON the
#                                         same across two runs
#   pg.misconfig                          l1-vmm's test-only hole is detected
#   pg.qemu                               pg-probe on QEMU TCG, classified,
#                                         every row's class the sim's too
#                                         (skips without QEMU)
if(TARGET nestbed_pg)
  file(GLOB NESTBED_PG_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/pg/*_test.cpp)
  add_executable(nestbed_pg_tests ${NESTBED_PG_TESTS})
  target_link_libraries(nestbed_pg_tests PRIVATE nestbed_pg GTest::gtest_main)
  nestbed_host_target(nestbed_pg_tests)
  gtest_discover_tests(nestbed_pg_tests DISCOVERY_TIMEOUT 60
    PROPERTIES FAIL_REGULAR_EXPRESSION "${NESTBED_SANITIZER_REPORT_REGEX}" LABELS pg)
endif()

find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(PG_CHECK ${CMAKE_CURRENT_LIST_DIR}/pg/pg_check.py)
if(TARGET nestbed)
  set(PG_NESTBED $<TARGET_FILE:nestbed>)
else()
  set(PG_NESTBED ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/nestbed)
endif()
# Depth 2 runs once (a few minutes in the debug preset): determinism is
# checked at depth 1.
function(pg_check name timeout)
  math(EXPR driver_timeout "${timeout} - 40")
  add_test(NAME pg.${name}
    COMMAND Python3::Interpreter ${PG_CHECK} ${ARGN} --nestbed ${PG_NESTBED} --images ${NESTBED_IMAGE_DIR}
      --timeout ${driver_timeout})
  set_tests_properties(pg.${name} PROPERTIES TIMEOUT ${timeout} SKIP_RETURN_CODE 77 LABELS "e2e;sim;pg")
endfunction()
pg_check(classification.depth1 300 classification --depth 1)
# Under ASan/UBSan the README's `nestbed pg --depth 2` example
# (readme.examples) runs the same depth-2 classification through the same
# l0 code; its expected verdicts are checked here, in the release build.
if(NOT NESTBED_SANITIZE)
  pg_check(classification.depth2 900 classification --depth 2 --no-rerun)
endif()
pg_check(misconfig 300 misconfig)
pg_check(qemu 300 qemu)
set_tests_properties(pg.qemu PROPERTIES LABELS "e2e;qemu;pg")
