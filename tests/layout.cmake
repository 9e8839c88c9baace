# The import graph of DESIGN.md §2 (label `layout`): which top-level folder
# may include and link which (tests/layout/check_layout.py has the table),
# and the checker's own self-test, so a rule that stops finding anything
# fails too.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(NESTBED_LAYOUT_CHECK ${CMAKE_CURRENT_LIST_DIR}/layout/check_layout.py)
add_test(NAME layout.import_graph COMMAND Python3::Interpreter ${NESTBED_LAYOUT_CHECK} ${PROJECT_SOURCE_DIR})
add_test(NAME layout.checker_self_test COMMAND Python3::Interpreter ${NESTBED_LAYOUT_CHECK} --self-test)
set_tests_properties(layout.import_graph layout.checker_self_test PROPERTIES LABELS layout)
