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
    # Translated code against the interpreter: the same counts and cycles.
    add_test(NAME determinism.translate-off.${image}
      COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_determinism.py
        --nestbed $<TARGET_FILE:nestbed> --second=--translate --second=off ${NESTBED_IMAGE_DIR}/${image} ${args})
    set_tests_properties(determinism.translate-off.${image} PROPERTIES TIMEOUT 120 LABELS "e2e;sim;determinism")
  endforeach()
  # ... and at depth 2, where l1-vmm's own code runs translated at levels 1 and 2.
  add_test(NAME determinism.translate-off.depth2-cpuid-loop
    COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/e2e/check_determinism.py
      --nestbed $<TARGET_FILE:nestbed> --both=--memory --both=512
      --both=--module --both=${NESTBED_IMAGE_DIR}/l1-vmm
      "--both=--module" "--both=${NESTBED_IMAGE_DIR}/cpuid-loop 300"
      --second=--translate --second=off ${NESTBED_IMAGE_DIR}/l1-vmm)
  set_tests_properties(determinism.translate-off.depth2-cpuid-loop PROPERTIES TIMEOUT 120 LABELS "e2e;sim;determinism")
endif()
