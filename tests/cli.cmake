# Tests of the `nestbed` command line: bad input of every kind gets a clear
# error on stderr and the documented status (README "Exit status"), never a
# crash; --help works; a run reports its stop and --stats.
set(NESTBED_CLI_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/cli)
set(NESTBED_CLI_INPUTS ${CMAKE_CURRENT_BINARY_DIR}/cli-inputs)

add_executable(nestbed_cli_test_images ${NESTBED_CLI_TEST_DIR}/make_test_images.cpp)
target_link_libraries(nestbed_cli_test_images PRIVATE nestbed_arch)
nestbed_host_target(nestbed_cli_test_images)
add_test(NAME cli.make_inputs COMMAND nestbed_cli_test_images ${NESTBED_CLI_INPUTS})
set_tests_properties(cli.make_inputs PROPERTIES FIXTURES_SETUP nestbed_cli_inputs LABELS cli)

# nestbed_cli_test(<name> <status> [ONE_LINE] [STDERR regex...] [STDOUT regex...] ARGS args...)
# registers cli.<name>: `nestbed args...` must exit with <status>, and each
# regex must match a line of its stream. CMake lists: write ";" as ".", and
# "[" or "]" as "." too (an unbalanced bracket stops CMake splitting a list).
function(nestbed_cli_test name status)
  cmake_parse_arguments(T "ONE_LINE" "" "STDERR;STDOUT;ARGS" ${ARGN})
  set(checks --status ${status})
  foreach(p ${T_STDERR})
    list(APPEND checks --stderr ${p})
  endforeach()
  foreach(p ${T_STDOUT})
    list(APPEND checks --stdout ${p})
  endforeach()
  if(T_ONE_LINE)
    list(APPEND checks --one-line)
  endif()
  add_test(NAME cli.${name}
    COMMAND bash ${NESTBED_CLI_TEST_DIR}/expect.sh ${checks} -- $<TARGET_FILE:nestbed> ${T_ARGS})
  set_tests_properties(cli.${name} PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS cli TIMEOUT 60)
endfunction()

set(in ${NESTBED_CLI_INPUTS})

# Bad input: status 66 and one line "nestbed: <what is wrong>".
nestbed_cli_test(missing_image 66 ONE_LINE
  STDERR "^nestbed: cannot open image '/nonexistent/kernel.elf': No such file or directory$"
  ARGS run /nonexistent/kernel.elf)
nestbed_cli_test(directory_image 66 ONE_LINE STDERR "^nestbed: image '.*' is a directory$" ARGS run ${in})
nestbed_cli_test(program_is_not_multiboot 66 ONE_LINE
  STDERR "^nestbed: /bin/true: no Multiboot header .* in the first 8 KiB" ARGS run /bin/true)
nestbed_cli_test(text_is_not_multiboot 66 ONE_LINE
  STDERR "^nestbed: .*notes.txt: no Multiboot header" ARGS run ${in}/notes.txt)
nestbed_cli_test(foreign_elf 66 ONE_LINE
  STDERR "^nestbed: .*arm64.elf: an ELF for AArch64 \\(e_machine 183\\), not an x86 image$"
  ARGS run ${in}/arm64.elf)
nestbed_cli_test(memory_too_small_for_image 66 ONE_LINE
  STDERR "^nestbed: .*high.elf: segment .0x800000, 0x801000. lies outside the 4 MiB of RAM. it needs 9 MiB of RAM \\(use --memory\\)$"
  ARGS run --memory 4 ${in}/high.elf)
nestbed_cli_test(module_does_not_fit 66 ONE_LINE
  STDERR "^nestbed: module '.*big.bin' \\(3145728 bytes\\) does not fit in 2 MiB of RAM"
  ARGS run --memory 2 --module ${in}/big.bin ${in}/hello.elf)
nestbed_cli_test(missing_module 66 ONE_LINE
  STDERR "^nestbed: cannot open module '/nonexistent/module': No such file or directory$"
  ARGS run --module "/nonexistent/module some args" ${in}/hello.elf)
nestbed_cli_test(memory_out_of_range 66 ONE_LINE
  STDERR "^nestbed: --memory 1 is out of range: RAM must be 2..3584 MiB$" ARGS run --memory 1 ${in}/hello.elf)
nestbed_cli_test(unwritable_stats_file 66 ONE_LINE
  STDERR "^nestbed: cannot write stats file '/nonexistent/stats.json'" ARGS run --stats /nonexistent/stats.json ${in}/hello.elf)

# Bad options: status 64 and CLI11's message.
nestbed_cli_test(unknown_option 64 STDERR "--no-such-option" ARGS run --no-such-option ${in}/hello.elf)
nestbed_cli_test(memory_not_a_number 64 STDERR "--memory" ARGS run --memory lots ${in}/hello.elf)
nestbed_cli_test(unknown_engine 64 STDERR "--engine" STDERR "vmware" ARGS run --engine vmware ${in}/hello.elf)
nestbed_cli_test(no_image 64 STDERR "IMAGE is required" ARGS run)
nestbed_cli_test(no_subcommand 64 STDERR "subcommand" ARGS)
nestbed_cli_test(unknown_subcommand 64 STDERR "frobnicate" ARGS frobnicate)

# Help.
nestbed_cli_test(help 0 STDOUT "^Usage: nestbed" STDOUT "^  run " ARGS --help)
nestbed_cli_test(run_help 0 STDOUT "--max-instructions" STDOUT "^Exit status:" ARGS run --help)
# Every status a user can see is listed (tests/unit/exit_status_doc_test.cpp
# checks the text against l0/engine.h, l1-vmm/panic.h and the README).
nestbed_cli_test(help_lists_exit_statuses 0 STDOUT "^Exit status:" STDOUT "^  \\(c << 1\\) \\| 1 "
  STDOUT "^  193-203 " STDOUT "^  86 +debug builds" STDOUT "^  118 +--max-instructions reached$" ARGS --help)
nestbed_cli_test(trace_help_lists_exit_statuses 0 STDOUT "^Exit status:" STDOUT "^  66 +unreadable or malformed trace file"
  ARGS trace --help)

# Runs (need the sim engine): the guest's output, then --stats JSON on stdout.
nestbed_cli_test(run_debug_exit_with_stats 33
  STDOUT "^ok$" STDOUT "\"stop_reason\": \"debug_exit\"" STDOUT "\"debug_exit_code\": 16"
  STDOUT "\"exit_status\": 33" STDOUT "\"instructions\": [1-9]" STDOUT "\"io_accesses\": 4"
  ARGS run --stats - ${in}/hello.elf)
nestbed_cli_test(run_instruction_limit 118 ONE_LINE STDERR "^nestbed: instruction limit reached \\(2 instructions\\)$"
  ARGS run --max-instructions 2 ${in}/hello.elf)
nestbed_cli_test(run_with_modules_before_image 33 STDOUT "^ok$"
  ARGS run --module "${in}/notes.txt a b" --module ${in}/big.bin ${in}/hello.elf)
# An empty file is a module of 0 bytes (the debug build once found a null
# pointer passed to memcpy here).
nestbed_cli_test(run_with_an_empty_module 33 STDOUT "^ok$" ARGS run --module ${in}/empty.bin ${in}/hello.elf)
