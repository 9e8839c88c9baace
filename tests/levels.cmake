# The per-level accounting of `nestbed run --stats` ("levels", the sim
# engine's l0/sim/level_accounting.h): shape, sums equal to the totals,
# agreement with the trace, and the workload's level running what it runs
# natively, at depths 0, 1 and 2 (tests/e2e/check_levels.py).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME levels.stats_per_level
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_levels.py
    --nestbed $<TARGET_FILE:nestbed> --images ${NESTBED_IMAGE_DIR} --timeout 200)
set_tests_properties(levels.stats_per_level PROPERTIES TIMEOUT 240 LABELS "e2e;sim;levels")
