# Tests of exit-tracer (exit-tracer/, the trace file format and the
# `nestbed trace` commands). Its unit tests (tests/unit/exit_tracer_*.cpp)
# are part of nestbed_unit_tests and parse the Perfetto JSON with
# nlohmann-json; the cli.trace_* cases below run the CLI on a sim run's
# trace (nestbed_cli_test is tests/cli.cmake's).
find_package(nlohmann_json REQUIRED)
set(NESTBED_TRACE_FIXTURE_DIR ${CMAKE_CURRENT_LIST_DIR}/trace_fixtures)
if(TARGET nestbed_unit_tests)
  target_link_libraries(nestbed_unit_tests PRIVATE nlohmann_json::nlohmann_json)
  # Trace files of older format versions, which the reader must keep reading.
  target_compile_definitions(nestbed_unit_tests PRIVATE NESTBED_TRACE_FIXTURE_DIR="${NESTBED_TRACE_FIXTURE_DIR}")
endif()

set(NESTBED_TRACE_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/trace-files)
file(MAKE_DIRECTORY ${NESTBED_TRACE_TEST_DIR})
set(trace_file ${NESTBED_TRACE_TEST_DIR}/hello.trace)

# A sim run with --trace, then the three readers on its file.
nestbed_cli_test(trace_sim_run 33 STDOUT "^ok$" ARGS run --trace ${trace_file} ${NESTBED_CLI_INPUTS}/hello.elf)
set_tests_properties(cli.trace_sim_run PROPERTIES FIXTURES_SETUP nestbed_sim_trace)
nestbed_cli_test(trace_summary_of_a_sim_run 0
  STDOUT "nestbed trace 1.3$" STDOUT "^  engine: sim$" STDOUT "records: 0 hardware exits"
  ARGS trace summary ${trace_file})
nestbed_cli_test(trace_dump_of_a_sim_run 0
  STDOUT "^header      nestbed trace 1.3" STDOUT "^note        engine: sim$" STDOUT "^end "
  ARGS trace dump ${trace_file})
nestbed_cli_test(trace_export_of_a_sim_run 0
  STDOUT "^seq,level,exit_reason,reason," STDOUT "\"traceEvents\":"
  ARGS trace export --csv - --perfetto - ${trace_file})
set_tests_properties(cli.trace_summary_of_a_sim_run cli.trace_dump_of_a_sim_run cli.trace_export_of_a_sim_run
  PROPERTIES FIXTURES_REQUIRED "nestbed_cli_inputs;nestbed_sim_trace")

# Bad input: status 66 and one line; a missing output choice: usage, 64.
nestbed_cli_test(trace_summary_of_a_missing_file 66 ONE_LINE
  STDERR "^nestbed: cannot open trace file '/nonexistent/x.trace': No such file or directory$"
  ARGS trace summary /nonexistent/x.trace)
nestbed_cli_test(trace_dump_of_an_image 66 ONE_LINE
  STDERR "^nestbed: .*hello.elf: not a nestbed trace file \\(no NBTRACE header\\)$"
  ARGS trace dump ${NESTBED_CLI_INPUTS}/hello.elf)
nestbed_cli_test(trace_export_needs_an_output 64 STDERR "--csv FILE, --logical-csv FILE or --perfetto FILE"
  ARGS trace export ${trace_file})
nestbed_cli_test(trace_export_to_an_unwritable_file 66 ONE_LINE
  STDERR "^nestbed: cannot write CSV file '/nonexistent/x.csv': No such file or directory$"
  ARGS trace export --csv /nonexistent/x.csv ${trace_file})
set_tests_properties(cli.trace_export_to_an_unwritable_file PROPERTIES FIXTURES_REQUIRED "nestbed_cli_inputs;nestbed_sim_trace")
nestbed_cli_test(trace_run_to_an_unwritable_file 66 ONE_LINE
  STDERR "^nestbed: cannot write trace file '/nonexistent/x.trace': No such file or directory$"
  ARGS run --trace /nonexistent/x.trace ${NESTBED_CLI_INPUTS}/hello.elf)

# Determinism (DESIGN.md §4): two sim runs of the same image and options
# write the same trace, byte for byte.
# Both runs must end as the workload does (status 1): two runs that stopped
# at the same sanitizer report would write the same (cut short) trace.
add_test(NAME trace.sim_trace_is_deterministic
  COMMAND sh -c "for t in a b; do \"$0\" run --cmdline 5 --trace \"$1/$t.trace\" \"$2\" >/dev/null; s=$?; [ $s = 1 ] || { echo \"run $t: status $s, expected 1\"; exit 1; }; done; cmp \"$1/a.trace\" \"$1/b.trace\""
    $<TARGET_FILE:nestbed> ${NESTBED_TRACE_TEST_DIR} ${NESTBED_IMAGE_DIR}/timer)
set_tests_properties(trace.sim_trace_is_deterministic PROPERTIES TIMEOUT 120 LABELS "e2e;sim;determinism")

# Format 1.3 readers keep reading 1.1 and 1.2 files: a depth-1 cpuid-loop trace
# written by the 1.1 writer and one written by the 1.2 writer
# (tests/trace_fixtures/).
nestbed_cli_test(trace_summary_of_a_1_1_file 0 STDOUT "nestbed trace 1.1$"
  STDOUT "records: 20 hardware exits, 21 VM entries, 61 annotations" STDOUT "^  CPUID +20 +18263 +913.1"
  ARGS trace summary ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.1.trace)
nestbed_cli_test(trace_dump_of_a_1_1_file 0 STDOUT "^header      nestbed trace 1.1"
  STDOUT "^hw-exit     #19  L2  cycles [0-9]+  cost [0-9]+  CPUID  rip 0x[0-9a-f]+  cpuid .0f a2.$"
  ARGS trace dump ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.1.trace)
nestbed_cli_test(trace_summary_of_a_1_2_file 0 STDOUT "nestbed trace 1.2$"
  STDOUT "records: 20 hardware exits, 21 VM entries, 61 annotations" STDOUT "^  CPUID +20 +19324 +966.2"
  ARGS trace summary ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.2.trace)
nestbed_cli_test(trace_dump_of_a_1_2_file 0 STDOUT "^header      nestbed trace 1.2"
  STDOUT "^hw-exit     #19  L2  cycles [0-9]+  cost [0-9]+  CPUID  rip 0x[0-9a-f]+  cpuid .0f a2.$"
  ARGS trace dump ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.2.trace)

# The logical exits of a depth-1 trace as CSV, beside the hardware exits.
nestbed_cli_test(trace_export_logical_csv 0
  STDOUT "^index,handler_level,guest_level,exit_reason,reason,qualification,description,start_exit,start_cycles,end_cycles,cost_cycles,hw_exits,hw_exit_cycles,vmm_cycles$"
  STDOUT "^19,1,2,10,CPUID,0x0,,[0-9]+,[0-9]+,[0-9]+,[0-9]+,1,[0-9]+,[0-9]+$"
  ARGS trace export --logical-csv - ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.1.trace)
# The summary breaks the sim's I/O exits down per port, as kvm's, and says what its words mean.
nestbed_cli_test(trace_summary_explains_levels_and_costs 0 STDOUT "^level 1 is the program l0 boots"
  STDOUT "^cost of a hardware exit: modeled cycles from the VM exit to the next VM entry"
  ARGS trace summary ${NESTBED_TRACE_FIXTURE_DIR}/depth1-cpuid-loop-20.v1.1.trace)
