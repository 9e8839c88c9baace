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

# nestbed_cli_test(<name> <status> [ONE_LINE] [STDOUT_TO file] [STDERR regex...] [STDOUT regex...] ARGS args...)
# registers cli.<name>: `nestbed args...` must exit with <status>, and each
# regex must match a line of its stream. CMake lists: write ";" as ".", and
# "[" or "]" as "." too (an unbalanced bracket stops CMake splitting a list).
function(nestbed_cli_test name status)
  cmake_parse_arguments(T "ONE_LINE" "STDOUT_TO" "STDERR;STDOUT;ARGS" ${ARGN})
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
  if(T_STDOUT_TO)
    list(APPEND checks --stdout-to ${T_STDOUT_TO})
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
# Segments may lie below 1 MiB (issue 14 item 5), but not over the
# Multiboot information and memory map nor over the EBDA/VGA/BIOS area.
nestbed_cli_test(low_kernel 33 STDOUT "^ok$" ARGS run ${in}/low.elf)
nestbed_cli_test(segment_over_boot_information 66 ONE_LINE
  STDERR "^nestbed: .*over-info.elf: segment .0x8800, 0x9800. overlaps .0x9000, 0x90b8., the Multiboot information and memory map$"
  ARGS run ${in}/over-info.elf)
nestbed_cli_test(segment_over_bios_area 66 ONE_LINE
  STDERR "^nestbed: .*over-bios.elf: segment .0x9f800, 0xa0800. overlaps .0x9fc00, 0x100000., the EBDA, VGA and BIOS area \\(not RAM\\)$"
  ARGS run ${in}/over-bios.elf)
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
# One REP STOSD over the APIC page with ECX = 0xffffffff stops at the limit
# between two iterations (issue 14 item 7: it used to run for 75 s).
nestbed_cli_test(run_instruction_limit_inside_rep 118 ONE_LINE
  STDERR "^nestbed: instruction limit reached \\(100 instructions\\)$"
  ARGS run --max-instructions 100 ${in}/rep-stos-apic.elf)
set_tests_properties(cli.run_instruction_limit_inside_rep PROPERTIES TIMEOUT 20)
nestbed_cli_test(run_with_modules_before_image 33 STDOUT "^ok$"
  ARGS run --module "${in}/notes.txt a b" --module ${in}/big.bin ${in}/hello.elf)
# An empty file is a module of 0 bytes (the debug build once found a null
# pointer passed to memcpy here).
nestbed_cli_test(run_with_an_empty_module 33 STDOUT "^ok$" ARGS run --module ${in}/empty.bin ${in}/hello.elf)

# Numbers are checked as typed (issue 11): never wrapped, never "no limit"
# by accident, no stray spaces: a usage error naming the option.
nestbed_cli_test(memory_negative 64 STDERR "^--memory: '-5' is not a whole decimal number" ARGS run --memory -5 ${in}/hello.elf)
nestbed_cli_test(memory_with_a_space 64 STDERR "^--memory: ' 5' is not a whole decimal number" ARGS run --memory " 5" ${in}/hello.elf)
nestbed_cli_test(max_instructions_negative 64 STDERR "^--max-instructions: '-1' is not a whole decimal number"
  ARGS run --max-instructions -1 ${in}/hello.elf)
nestbed_cli_test(max_instructions_too_large 64 STDERR "^--max-instructions: '18446744073709551616' is too large"
  ARGS run --max-instructions 18446744073709551616 ${in}/hello.elf)
nestbed_cli_test(max_instructions_largest 33 STDOUT "^ok$" ARGS run --max-instructions 18446744073709551615 ${in}/hello.elf)
nestbed_cli_test(export_hz_zero 64 STDERR "^--hz: '0' is out of range" ARGS trace export --hz 0 --csv - ${in}/notes.txt)
nestbed_cli_test(export_hz_negative 64 STDERR "^--hz: '-1000' is not a whole decimal number"
  ARGS trace export --hz -1000 --csv - ${in}/notes.txt)

# A module path with spaces, in double quotes inside --module's value.
nestbed_cli_test(module_path_with_spaces 33 STDOUT "^ok$" ARGS run --module "\"${in}/my dir/spin.elf\" a b" ${in}/hello.elf)
nestbed_cli_test(module_path_quote_unclosed 66 ONE_LINE STDERR "the quoted path has no closing"
  ARGS run --module "\"${in}/my dir/spin.elf" ${in}/hello.elf)

# Inputs that are not regular files are refused at once (a FIFO would
# block open() forever, /dev/zero never ends); outputs that cannot take
# the bytes are reported, with status 66.
nestbed_cli_test(fifo_image 66 ONE_LINE STDERR "^nestbed: image '.*fifo' is a FIFO, not a regular file$" ARGS run ${in}/fifo)
nestbed_cli_test(fifo_module 66 ONE_LINE STDERR "^nestbed: module '.*fifo' is a FIFO, not a regular file$"
  ARGS run --module ${in}/fifo ${in}/hello.elf)
nestbed_cli_test(fifo_cost_model 66 ONE_LINE STDERR "^nestbed: cost model '.*fifo' is a FIFO, not a regular file$"
  ARGS run --cost-model ${in}/fifo ${in}/hello.elf)
nestbed_cli_test(fifo_trace_to_read 66 ONE_LINE STDERR "^nestbed: trace file '.*fifo' is a FIFO, not a regular file$"
  ARGS trace summary ${in}/fifo)
# The writers use fifo-out: the tests above open `fifo` for reading for a
# moment, and a writer opening it then would find a reader.
nestbed_cli_test(fifo_trace_to_write 66 ONE_LINE
  STDERR "^nestbed: cannot write trace file '.*fifo-out': a FIFO with no process reading it$"
  ARGS run --trace ${in}/fifo-out ${in}/hello.elf)
nestbed_cli_test(fifo_stats 66 ONE_LINE STDERR "^nestbed: cannot write stats file '.*fifo-out': a FIFO with no process reading it$"
  ARGS run --stats ${in}/fifo-out ${in}/hello.elf)
nestbed_cli_test(dev_zero_cost_model 66 ONE_LINE
  STDERR "^nestbed: cost model '/dev/zero' is a character device, not a regular file$"
  ARGS run --cost-model /dev/zero ${in}/hello.elf)
nestbed_cli_test(dev_zero_trace 66 ONE_LINE STDERR "^nestbed: trace file '/dev/zero' is a character device, not a regular file$"
  ARGS trace summary /dev/zero)
nestbed_cli_test(stats_to_dev_full 66 ONE_LINE STDERR "^nestbed: cannot write stats file '/dev/full': No space left on device$"
  ARGS run --stats /dev/full ${in}/hello.elf)
nestbed_cli_test(trace_to_dev_full 66 ONE_LINE STDERR "^nestbed: cannot write trace file '/dev/full': .*No space left on device$"
  ARGS run --trace /dev/full ${in}/hello.elf)
nestbed_cli_test(guest_output_to_dev_full 66 ONE_LINE STDOUT_TO /dev/full
  STDERR "^nestbed: cannot write the guest's output to stdout: No space left on device$"
  ARGS run ${in}/hello.elf)
nestbed_cli_test(export_to_dev_full 66 ONE_LINE STDERR "^nestbed: cannot write CSV file '/dev/full': No space left on device$"
  ARGS trace export --csv /dev/full ${CMAKE_CURRENT_BINARY_DIR}/trace-files/hello.trace)
set_tests_properties(cli.export_to_dev_full PROPERTIES FIXTURES_REQUIRED "nestbed_cli_inputs;nestbed_sim_trace")

# A run that fails before it starts leaves no (empty) stats file behind.
set(no_stats ${NESTBED_CLI_INPUTS}/no-stats.json)
add_test(NAME cli.no_stats_file_after_a_failed_start
  COMMAND sh -c "rm -f \"$1\"; \"$0\" run --stats \"$1\" /nonexistent/kernel.elf 2>/dev/null; s=$?; [ $s = 66 ] || { echo \"status $s, expected 66\"; exit 1; }; [ ! -e \"$1\" ] || { echo \"$1 was left behind\"; exit 1; }"
    $<TARGET_FILE:nestbed> ${no_stats})
set_tests_properties(cli.no_stats_file_after_a_failed_start PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS cli)

# Cost tables: the printed default is accepted as it is; bad tables are named.
nestbed_cli_test(cost_model_prints_the_defaults 0 STDOUT "^cpuid 100 +# Turtles" STDOUT "^# .*overrides only the"
  ARGS cost-model)
set(printed_cost ${NESTBED_CLI_INPUTS}/printed.cost)
add_test(NAME cli.cost_model_round_trip
  COMMAND sh -c "\"$0\" cost-model >\"$1\" && sed -i 's/^cpuid 100 /cpuid 250 /' \"$1\" && \"$0\" cost-model \"$1\" | grep -q '^cpuid 250 ' && \"$0\" run --cost-model \"$1\" \"$2\""
    $<TARGET_FILE:nestbed> ${printed_cost} ${NESTBED_CLI_INPUTS}/hello.elf)
set_tests_properties(cli.cost_model_round_trip PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS cli
  PASS_REGULAR_EXPRESSION "^ok\n$")
nestbed_cli_test(cost_model_directory 66 ONE_LINE STDERR "^nestbed: cost model '.*' is a directory$"
  ARGS run --cost-model ${in} ${in}/hello.elf)
nestbed_cli_test(cost_model_repeated_class 66 ONE_LINE
  STDERR "^nestbed: .*dup.cost:3: cost class 'cpuid' is given twice \\(first on line 1\\)$"
  ARGS run --cost-model ${in}/dup.cost ${in}/hello.elf)
nestbed_cli_test(cost_model_empty 66 ONE_LINE STDERR "^nestbed: .*empty.cost: names no cost class"
  ARGS run --cost-model ${in}/empty.cost ${in}/hello.elf)
nestbed_cli_test(cost_model_unknown_class 66 ONE_LINE
  STDERR "^nestbed: .*unknown.cost:1: unknown cost class 'vmexit'. the classes are: simple, .*vm_exit, vm_entry"
  ARGS run --cost-model ${in}/unknown.cost ${in}/hello.elf)

# Provenance: --version, and what ran in --stats; kvm-only nulls are in tests/kvm.cmake.
nestbed_cli_test(version 0 STDOUT "^nestbed [0-9]+\\.[0-9]+\\.[0-9]+ \\((git [0-9a-f]+(-dirty)?|unknown commit)\\)$" ARGS --version)
nestbed_cli_test(stats_provenance 33 STDOUT "\"nestbed_version\": \"[0-9]" STDOUT "\"image_sha256\": \"[0-9a-f]{64}\""
  STDOUT "\"cmdline\": \".*hello.elf x=1\"" STDOUT "\"cmdline\": \".*notes.txt a b\"" STDOUT "\"sha256\": \"[0-9a-f]{64}\""
  STDOUT "\"cost_model\": \\{" STDOUT "\"signal\": null"
  ARGS run --stats - --cmdline x=1 --module "${in}/notes.txt a b" ${in}/hello.elf)

# Killed from outside: output, --stats and --trace are kept (killed_run.sh).
foreach(signal TERM INT)
  add_test(NAME cli.killed_by_sig${signal}
    COMMAND bash ${NESTBED_CLI_TEST_DIR}/killed_run.sh ${signal} $<TARGET_FILE:nestbed>
      ${CMAKE_CURRENT_BINARY_DIR}/killed-${signal} "^ok$" -- ${in}/spin.elf)
  set_tests_properties(cli.killed_by_sig${signal} PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS cli TIMEOUT 120)
endforeach()
# At depth 1, so the trace holds hardware exits, entries and annotations.
add_test(NAME cli.killed_by_sigterm_at_depth1
  COMMAND bash ${NESTBED_CLI_TEST_DIR}/killed_run.sh TERM $<TARGET_FILE:nestbed>
    ${CMAKE_CURRENT_BINARY_DIR}/killed-depth1 "" -- --module "${NESTBED_IMAGE_DIR}/cpuid-loop 1000000000" ${NESTBED_IMAGE_DIR}/l1-vmm)
# A tenth of a second of CPU (the run then stops at the end of its first
# slice, some 77,000 exits in): all three readers
# (dump and export too) must get through it in the sanitizer build.
set_tests_properties(cli.killed_by_sigterm_at_depth1 PROPERTIES LABELS "cli;sim" TIMEOUT 600
  ENVIRONMENT KILLED_RUN_CPU_TENTHS=1)
# SIGTERM twice, 0.1 s apart, as `timeout` delivers it (to the command and
# to its process group): a clean stop, not the default action half-way
# through writing the trace (readme.examples' `timeout 2` run saw that).
add_test(NAME cli.killed_by_sigterm_twice
  COMMAND bash ${NESTBED_CLI_TEST_DIR}/killed_run.sh TERM $<TARGET_FILE:nestbed>
    ${CMAKE_CURRENT_BINARY_DIR}/killed-twice "^ok$" -- ${in}/spin.elf)
set_tests_properties(cli.killed_by_sigterm_twice PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS cli
  TIMEOUT 120 ENVIRONMENT KILLED_RUN_TWICE=1)
# Under kvm, where /dev/kvm is usable (else skipped).
add_test(NAME cli.killed_by_sigterm_on_kvm
  COMMAND bash ${NESTBED_CLI_TEST_DIR}/killed_run.sh TERM $<TARGET_FILE:nestbed>
    ${CMAKE_CURRENT_BINARY_DIR}/killed-kvm "^ok$" -- --engine kvm ${in}/spin.elf)
set_tests_properties(cli.killed_by_sigterm_on_kvm PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS "cli;kvm"
  TIMEOUT 120 ENVIRONMENT KILLED_RUN_NEEDS_KVM=1 SKIP_RETURN_CODE 77)
