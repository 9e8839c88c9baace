# Every shell example of every README runs as written (issue 11), in a
# scratch directory where `build` is this build: so the docs cannot rot.
# Skipped blocks are marked in the README with their reason
# (tests/readme_examples/run_readme_examples.py); the test needs the images
# and the nestbed binary, which `all` builds.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME readme.examples
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/readme_examples/run_readme_examples.py
    --repo ${PROJECT_SOURCE_DIR} --build ${PROJECT_BINARY_DIR})
set_tests_properties(readme.examples PROPERTIES LABELS "readme;e2e;sim" TIMEOUT 1800)
# Alone in the release build (11 s); beside the others under ASan/UBSan,
# where it takes about three minutes and running it alone made it the
# longest stretch of the CI run.
if(NOT NESTBED_SANITIZE)
  set_tests_properties(readme.examples PROPERTIES RUN_SERIAL TRUE)
endif()

# The README's list of --stats keys is the output's, in order.
add_test(NAME readme.stats_keys_in_order
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/cli/stats_keys_match_readme.py ${PROJECT_SOURCE_DIR}/README.md
    $<TARGET_FILE:nestbed> ${NESTBED_CLI_INPUTS}/hello.elf --module ${NESTBED_CLI_INPUTS}/notes.txt)
set_tests_properties(readme.stats_keys_in_order PROPERTIES FIXTURES_REQUIRED nestbed_cli_inputs LABELS "readme;cli")
