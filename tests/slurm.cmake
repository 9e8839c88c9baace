# `nestbed sweep --slurm` on a real single-node Slurm (slurm-wlm + munge)
# started and stopped by tests/e2e/check_slurm.py in a temporary folder: a
# two-task job array, merged, compared with a local sweep. Skips (77), saying
# why, where Slurm is missing or cannot start.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME sweep.slurm
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_slurm.py
    --nestbed $<TARGET_FILE:nestbed> --images ${NESTBED_IMAGE_DIR} --timeout 200)
set_tests_properties(sweep.slurm PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "e2e;sim;sweep;slurm"
  RUN_SERIAL TRUE)
