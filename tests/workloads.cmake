# End-to-end tests of the workload images: e2e.<engine>.<case> for every case
# in workloads/expected.txt (the one table of expected result lines), run by
# tests/e2e/run_workload.py. The qemu tests check the images and the table
# against an independent implementation; the sim tests check the sim against
# the same lines. A missing qemu-system-x86_64 or nestbed CLI is a failure
# with a message saying so, not a skip.
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(NESTBED_E2E_DRIVER ${CMAKE_CURRENT_LIST_DIR}/e2e/run_workload.py)
set(NESTBED_E2E_TABLE ${PROJECT_SOURCE_DIR}/workloads/expected.txt)
set(NESTBED_E2E_TIMEOUT 120)  # seconds per test
# The driver gives up 20 s earlier, so a hung run is reported with its output.
math(EXPR NESTBED_E2E_TIMEOUT_DRIVER "${NESTBED_E2E_TIMEOUT} - 20")

# The driver parses the table, so the case list comes from it: one parser.
execute_process(
  COMMAND ${Python3_EXECUTABLE} ${NESTBED_E2E_DRIVER} --table ${NESTBED_E2E_TABLE} --list
  OUTPUT_VARIABLE NESTBED_E2E_CASES
  OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" NESTBED_E2E_CASES "${NESTBED_E2E_CASES}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NESTBED_E2E_TABLE} ${NESTBED_E2E_DRIVER})

# nestbed_e2e_tests(<engine> [driver options...]): registers e2e.<engine>.<case>
# for every case. A kvm suite is nestbed_e2e_tests(kvm --nestbed ...): the
# driver exits 77 (skip) where /dev/kvm is missing.
function(nestbed_e2e_tests engine)
  foreach(case ${NESTBED_E2E_CASES})
    set(test e2e.${engine}.${case})
    add_test(NAME ${test}
      COMMAND Python3::Interpreter ${NESTBED_E2E_DRIVER} --engine ${engine}
        --table ${NESTBED_E2E_TABLE} --images ${NESTBED_IMAGE_DIR}
        --timeout ${NESTBED_E2E_TIMEOUT_DRIVER} ${ARGN} ${case})
    set_tests_properties(${test} PROPERTIES
      TIMEOUT ${NESTBED_E2E_TIMEOUT}
      SKIP_RETURN_CODE 77
      LABELS "e2e;${engine}")
  endforeach()
endfunction()

nestbed_e2e_tests(qemu)
# The CLI may not exist yet while l0 is being written; point at where it
# will be so the tests fail saying it is missing rather than break configuring.
if(TARGET nestbed)
  nestbed_e2e_tests(sim --nestbed $<TARGET_FILE:nestbed>)
  nestbed_e2e_tests(kvm --nestbed $<TARGET_FILE:nestbed>)
else()
  nestbed_e2e_tests(sim --nestbed ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/nestbed)
  nestbed_e2e_tests(kvm --nestbed ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/nestbed)
endif()

# fpu-sse runs SSE code, which a KVM without hardware virtualization may not
# run for its guests: under kvm_pvm (PVM) every SSE instruction, even a PXOR
# of two registers, ends the run in an emulation failure
# (KVM_EXIT_INTERNAL_ERROR), reported by nestbed as below. There the case is
# skipped, output shown, rather than failed; on a hardware KVM it runs.
set_tests_properties(e2e.kvm.fpu-sse PROPERTIES
  SKIP_REGULAR_EXPRESSION "nestbed: kvm: KVM cannot emulate the guest's instruction")

# single-step counts single-step traps, one per instruction run with TF set.
# Under kvm_pvm the trap after an OUT that KVM completes in user space is
# lost (hardware KVM raises it: kvm_skip_emulated_instruction, after
# complete_fast_pio_out), one per loop: 503 traps instead of 603 with the
# case's 100 loops (measured here, 2026-12). Exactly that outcome is
# skipped, output shown; any other wrong count fails.
set_tests_properties(e2e.kvm.single-step PROPERTIES
  SKIP_REGULAR_EXPRESSION "single-step: 100 loops, 503 traps")

# nmi sends itself an NMI from inside its NMI handler: it must arrive right
# after the handler's IRET unblocks NMIs. Under kvm_pvm the latched NMI
# (queued with KVM_NMI while the guest blocks NMIs) waits for the guest's
# next exit instead — here the next round's ICR write — so the last one is
# still queued when the workload ends: 199 NMIs, 99 after IRET (measured
# here, 2026-12). Exactly that outcome is skipped; any other fails.
set_tests_properties(e2e.kvm.nmi PROPERTIES
  SKIP_REGULAR_EXPRESSION "nmi: 100 rounds, 199 NMIs, 0 nested, 99 after IRET")
