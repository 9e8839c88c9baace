# analysis/ under pytest (analysis/tests/test_report.py): figures and tables
# from a fixture sweep, checked from the data. Needs a Python with Debian's
# python3-pandas, python3-matplotlib and python3-pytest (scripts/install-deps.sh);
# a python3 earlier on PATH without them (pyenv, a venv) is passed over for
# /usr/bin/python3. Where none has them the test skips, saying so.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(NESTBED_ANALYSIS_PYTHON "")
foreach(candidate ${Python3_EXECUTABLE} /usr/bin/python3)
  execute_process(COMMAND ${candidate} -c "import pandas, matplotlib, pytest"
    RESULT_VARIABLE missing OUTPUT_QUIET ERROR_QUIET)
  if(missing EQUAL 0)
    set(NESTBED_ANALYSIS_PYTHON ${candidate})
    break()
  endif()
endforeach()
get_property(NESTBED_ARCH_JSON GLOBAL PROPERTY NESTBED_ARCH_JSON)
if(NESTBED_ANALYSIS_PYTHON)
  add_test(NAME analysis.pytest
    COMMAND ${NESTBED_ANALYSIS_PYTHON} -m pytest -q -p no:cacheprovider ${PROJECT_SOURCE_DIR}/analysis/tests)
else()
  add_test(NAME analysis.pytest
    COMMAND sh -c "echo 'SKIP: no python3 with pandas, matplotlib and pytest (Debian: python3-pandas python3-matplotlib python3-pytest; scripts/install-deps.sh)'; exit 77")
endif()
set_tests_properties(analysis.pytest PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "analysis"
  ENVIRONMENT "NESTBED_ARCH_JSON=${NESTBED_ARCH_JSON};PYTHONDONTWRITEBYTECODE=1;MPLBACKEND=Agg")
