# End-to-end tests of l1-vmm (DESIGN.md §6) on the sim engine:
#
#   e2e.sim.depth1.<case>            every case of workloads/expected.txt under
#                                    l1-vmm: the same result line and status as
#                                    natively (tests/e2e/run_workload.py --depth 1)
#   e2e.sim.depth1-all-exits.<case>  the same with every optional exit on
#                                    (HLT, all I/O, external interrupts, every
#                                    exception, the preemption timer, no VPID)
#   l1vmm.<check>[.<mode>]           tests/e2e/l1vmm_check.py: a probe guest's
#                                    whole output natively and at depth 1,
#                                    what the guest sees of l1-vmm, exit counts
#                                    from the trace and from l1-vmm's table,
#                                    guests and inputs that break the rules,
#                                    depth 2 without nested VMX, l1-vmm booted
#                                    by QEMU (which has no VMX under TCG)
#
# (kvm runs no depth 1 here: it needs a host whose KVM offers VMX to its
# guests; run_workload.py --engine kvm --depth 1 skips where it does not.)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(L1VMM_WORKLOAD_DRIVER ${CMAKE_CURRENT_LIST_DIR}/e2e/run_workload.py)
set(L1VMM_CHECK ${CMAKE_CURRENT_LIST_DIR}/e2e/l1vmm_check.py)
set(L1VMM_TABLE ${PROJECT_SOURCE_DIR}/workloads/expected.txt)
set(L1VMM_TIMEOUT 120)
math(EXPR L1VMM_TIMEOUT_DRIVER "${L1VMM_TIMEOUT} - 20")
if(TARGET nestbed)
  set(L1VMM_NESTBED $<TARGET_FILE:nestbed>)
else()
  set(L1VMM_NESTBED ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/nestbed)
endif()
# vmx-selftest's summary line counts the tests it skips for VMX features
# nested VMX does not offer, so its depth-1 run is compared test by test in
# tests/nested.cmake (nested.selftest) instead of by the result line.
set(L1VMM_DEPTH1_NEEDS_NESTED vmx-selftest)
set(L1VMM_ALL_EXITS "exit_hlt=1 exit_pio=1 exit_intr=1 exit_exc=0xffffffff preempt=5000 vpid=0")

execute_process(
  COMMAND ${Python3_EXECUTABLE} ${L1VMM_WORKLOAD_DRIVER} --table ${L1VMM_TABLE} --list
  OUTPUT_VARIABLE L1VMM_CASES
  OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" L1VMM_CASES "${L1VMM_CASES}")
list(REMOVE_ITEM L1VMM_CASES ${L1VMM_DEPTH1_NEEDS_NESTED})

function(l1vmm_workload_tests suite l1_cmdline)
  foreach(case ${L1VMM_CASES})
    set(test e2e.sim.${suite}.${case})
    add_test(NAME ${test}
      COMMAND Python3::Interpreter ${L1VMM_WORKLOAD_DRIVER} --engine sim --depth 1
        --l1-vmm ${NESTBED_IMAGE_DIR}/l1-vmm "--l1-cmdline=${l1_cmdline}"
        --table ${L1VMM_TABLE} --images ${NESTBED_IMAGE_DIR} --nestbed ${L1VMM_NESTBED}
        --timeout ${L1VMM_TIMEOUT_DRIVER} ${case})
    set_tests_properties(${test} PROPERTIES TIMEOUT ${L1VMM_TIMEOUT} SKIP_RETURN_CODE 77 LABELS "e2e;sim;l1vmm")
  endforeach()
endfunction()

l1vmm_workload_tests(depth1 "")
l1vmm_workload_tests(depth1-all-exits "${L1VMM_ALL_EXITS}")

function(l1vmm_check name)
  add_test(NAME l1vmm.${name}
    COMMAND Python3::Interpreter ${L1VMM_CHECK} ${ARGN} --nestbed ${L1VMM_NESTBED} --images ${NESTBED_IMAGE_DIR}
      --timeout ${L1VMM_TIMEOUT_DRIVER})
  set_tests_properties(l1vmm.${name} PROPERTIES TIMEOUT ${L1VMM_TIMEOUT} LABELS "e2e;sim;l1vmm")
endfunction()

l1vmm_check(equivalence.native equivalence native)
l1vmm_check(equivalence.native-all-exits equivalence native "--l1-cmdline=${L1VMM_ALL_EXITS}")
# Every MOV form l1-vmm's MMIO decoder takes, on the I/O APIC.
l1vmm_check(equivalence.mmio equivalence mmio)
# The guest as a plain ELF64 (with debug info), which QEMU would refuse but
# Multiboot loaders that follow the program headers take.
l1vmm_check(equivalence.elf64-guest equivalence native --elf64 ${CMAKE_BINARY_DIR}/l1-vmm/l1vmm-probe.elf64)
l1vmm_check(hypervisor hypervisor)
foreach(mode triple-fault outside mmio-unsupported halt)
  l1vmm_check(misbehave.${mode} misbehave ${mode})
endforeach()
foreach(mode no-module not-multiboot arm-elf over-bios truncated-elf bad-option too-much-memory)
  l1vmm_check(bad-input.${mode} bad-input ${mode})
endforeach()
foreach(workload cpuid-loop pio-loop mmio-loop)
  l1vmm_check(exits.${workload} exits ${workload})
endforeach()
l1vmm_check(depth2 depth2)
# QEMU's Multiboot loader boots l1-vmm too (skips without QEMU).
l1vmm_check(qemu qemu)
set_tests_properties(l1vmm.qemu PROPERTIES SKIP_RETURN_CODE 77 LABELS "e2e;qemu;l1vmm")
