# The Python module (app/python): pytest through Debian's python3-pytest, one
# CTest test per file, importing the module from <build>/python.
if(TARGET superlens_python)
  set(SUPERLENS_PYTEST_ENV "PYTHONPATH=${CMAKE_BINARY_DIR}/python" "PYTHONDONTWRITEBYTECODE=1" "MPLBACKEND=Agg"
      "SUPERLENS_PYTHON_BUILD_DIR=${CMAKE_BINARY_DIR}/python")
  if(SUPERLENS_SANITIZE)
    # The interpreter is not instrumented: the sanitizer runtime must come
    # first. libstdc++ right after it: python3 does not link libstdc++, so
    # when the runtime starts it finds no __cxa_throw to intercept, and the
    # first C++ exception the module throws (every refused input) stops the
    # process ("AddressSanitizer: CHECK failed: ... real___cxa_throw").
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE SUPERLENS_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so OUTPUT_VARIABLE SUPERLENS_LIBSTDCXX OUTPUT_STRIP_TRAILING_WHITESPACE)
    file(REAL_PATH "${SUPERLENS_LIBSTDCXX}" SUPERLENS_LIBSTDCXX)  # the shared object, not the linker's symlink
    list(APPEND SUPERLENS_PYTEST_ENV "LD_PRELOAD=${SUPERLENS_LIBASAN}:${SUPERLENS_LIBSTDCXX}" "ASAN_OPTIONS=detect_leaks=0")
  endif()
  file(GLOB SUPERLENS_PYTHON_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/python/test_*.py)
  foreach(test_file ${SUPERLENS_PYTHON_TESTS})
    get_filename_component(test_name ${test_file} NAME_WE)
    superlens_add_script_test(NAME ${test_name}
      COMMAND ${SUPERLENS_PYTHON_EXECUTABLE} -m pytest -q -p no:cacheprovider ${test_file}
      LABELS python TIMEOUT 900)
    set_property(TEST ${test_name} APPEND PROPERTY ENVIRONMENT ${SUPERLENS_PYTEST_ENV})
  endforeach()
endif()
