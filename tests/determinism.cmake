# Determinism: two runs of the same image give identical instruction and
# cycle counts (and output). The timer workload exercises interrupts and
# HLT fast-forwarding, memtouch the page-walk paths.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
if(TARGET nestbed)
  foreach(spec "timer|5" "memtouch|256" "sieve|200000")
    string(REPLACE "|" ";" parts "${spec}")
    list(GET parts 0 image)
    list(GET parts 1 args)
    add_test(NAME determinism.sim.${image}
      COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_determinism.py
        --nestbed $<TARGET_FILE:nestbed> ${NESTBED_IMAGE_DIR}/${image} ${args})
    set_tests_properties(determinism.sim.${image} PROPERTIES TIMEOUT 120 LABELS "e2e;sim;determinism")
  endforeach()
endif()
