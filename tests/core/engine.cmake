superlens_add_core_test(NAME test_engine_golden SOURCES core/test_engine_golden.cpp LABELS engine golden)
superlens_add_core_test(NAME test_engine_hooks SOURCES core/test_engine_hooks.cpp LABELS engine golden)
superlens_add_core_test(NAME test_engine_edits SOURCES core/test_engine_edits.cpp LABELS engine)
superlens_add_core_test(NAME test_engine_generation SOURCES core/test_engine_generation.cpp LABELS engine golden)

# The BLAS kernels are chosen at run time (core/system/blas.h): the automatic
# choice, and every OpenBLAS core type this CPU can run (the others skip).
superlens_add_core_test(NAME test_blas_paths SOURCES core/test_blas_paths.cpp LABELS engine blas golden)
foreach(core PRESCOTT HASWELL SKYLAKEX COOPERLAKE)
  string(TOLOWER ${core} core_lower)
  add_test(NAME test_blas_path_${core_lower} COMMAND test_blas_paths --gtest_filter=BlasPath.*)
  set_tests_properties(test_blas_path_${core_lower} PROPERTIES LABELS "core;engine;blas;golden" TIMEOUT 300
                       ENVIRONMENT "SUPERLENS_BLAS_CORE=${core}")
endforeach()
superlens_add_core_test(NAME test_family_golden SOURCES core/test_family_golden.cpp LABELS engine golden families)
superlens_add_core_test(NAME test_transposed_weight SOURCES core/test_transposed_weight.cpp LABELS engine)
superlens_add_core_test(NAME test_encoder_golden SOURCES core/test_encoder_golden.cpp LABELS engine golden families encoders)
superlens_add_core_test(NAME test_vision_golden SOURCES core/test_vision_golden.cpp LABELS engine golden families vision)
