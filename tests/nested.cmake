# End-to-end tests of l1-vmm's nested VMX (l1-vmm/nested/, the nested-VMX
# issue) on the sim engine:
#
#   e2e.sim.depth2.<case>            every case of workloads/expected.txt under
#                                    l1-vmm -> l1-vmm: the same result line and
#                                    status as natively
#   e2e.sim.depth2-all-exits.<case>  the same with every optional exit on at
#                                    both levels
#   e2e.sim.depth2-no-shadow.<case>  ... with VMCS shadowing off at both levels
#   e2e.sim.depth3.<case>,           every case at depths 3 and 4 (the same
#   e2e.sim.depth4.<case>            l1-vmm binary at every level)
#   e2e.sim.depth3-no-shadow.<case>  depth 3 with shadowing off everywhere
#   e2e.sim.depth5.{hello,cpuid-loop} depth 5, in --memory 3584
#   nested.selftest                  vmx-selftest natively and at depth 1, test
#                                    by test (SKIP only for what is not offered)
#   nested.selftest-depth2           ... and at depth 2, every test as natively
#   nested.exits                     cpuid-loop/pio-loop/mmio-loop N at depth 2, shadowing
#                                    off and on: N logical exits of level 3 (3N + 2 for mmio-loop)
#                                    handled by level 2, and the hardware exits
#                                    each causes (fewer with shadowing)
#   nested.exits-depth3              cpuid-loop N at depth 3: 8 hardware exits
#                                    per CPUID (level 3's VMREAD/VMWRITEs none)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(NESTED_CHECK ${CMAKE_CURRENT_LIST_DIR}/e2e/nested_check.py)
set(NESTED_TIMEOUT 240)
math(EXPR NESTED_TIMEOUT_DRIVER "${NESTED_TIMEOUT} - 20")

# nested_workload_tests(<suite> <depth> <l1-vmm options> <memory MiB> <case>...)
function(nested_workload_tests suite depth l1_cmdline memory)
  foreach(case ${ARGN})
    set(test e2e.sim.${suite}.${case})
    add_test(NAME ${test}
      COMMAND Python3::Interpreter ${L1VMM_WORKLOAD_DRIVER} --engine sim --depth ${depth}
        --l1-vmm ${NESTBED_IMAGE_DIR}/l1-vmm "--l1-cmdline=${l1_cmdline}" --memory ${memory}
        --table ${L1VMM_TABLE} --images ${NESTBED_IMAGE_DIR} --nestbed ${L1VMM_NESTBED}
        --timeout ${NESTED_TIMEOUT_DRIVER} ${case})
    set_tests_properties(${test} PROPERTIES TIMEOUT ${NESTED_TIMEOUT} SKIP_RETURN_CODE 77 LABELS "e2e;sim;nested")
  endforeach()
endfunction()

# L1VMM_CASES, L1VMM_ALL_EXITS, ... come from tests/l1vmm.cmake, included
# before this file (tests/CMakeLists.txt includes tests/*.cmake in order).
nested_workload_tests(depth2 2 "" 128 ${L1VMM_CASES})
nested_workload_tests(depth2-all-exits 2 "${L1VMM_ALL_EXITS}" 128 ${L1VMM_CASES})
nested_workload_tests(depth2-no-shadow 2 "shadow_vmcs=0" 128 ${L1VMM_CASES})
nested_workload_tests(depth3 3 "" 512 ${L1VMM_CASES})
nested_workload_tests(depth3-no-shadow 3 "shadow_vmcs=0" 512 ${L1VMM_CASES})
nested_workload_tests(depth4 4 "" 1024 ${L1VMM_CASES})
# Depth 5 (each level gives its guest half of its memory: l1-vmm/README.md).
# cpuid-loop there takes about 10 s in the release build and three minutes
# under ASan/UBSan: the sanitizer build runs hello alone at depth 5.
if(CMAKE_BUILD_TYPE STREQUAL "Debug" OR NESTBED_SANITIZE)
  nested_workload_tests(depth5 5 "" 3584 hello)
else()
  nested_workload_tests(depth5 5 "" 3584 hello cpuid-loop)
endif()

foreach(check selftest selftest-depth2 exits exits-depth3)
  add_test(NAME nested.${check}
    COMMAND Python3::Interpreter ${NESTED_CHECK} ${check} --nestbed ${L1VMM_NESTBED} --images ${NESTBED_IMAGE_DIR}
      --timeout ${NESTED_TIMEOUT_DRIVER})
  set_tests_properties(nested.${check} PROPERTIES TIMEOUT ${NESTED_TIMEOUT} LABELS "e2e;sim;nested")
endforeach()
