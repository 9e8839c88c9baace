# `nestbed sweep` end to end on a tiny sweep (tests/e2e/check_sweep.py): the
# CSV files' rows and columns, a failing run recorded, --resume, two sweeps
# giving the same CSV files, malformed SPECs named by line.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME sweep.tiny
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_sweep.py
    --nestbed $<TARGET_FILE:nestbed> --images ${NESTBED_IMAGE_DIR} --timeout 200)
set_tests_properties(sweep.tiny PROPERTIES TIMEOUT 300 LABELS "e2e;sim;sweep")
