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
superlens_add_core_test(NAME test_non_finite SOURCES core/test_non_finite.cpp LABELS engine model)

superlens_add_core_test(NAME test_thread_pool SOURCES core/test_thread_pool.cpp LABELS engine)
superlens_add_core_test(NAME test_row_claims SOURCES core/test_row_claims.cpp LABELS engine)
# The GEMM path of prompt-sized Linear layers (core/system/gemm_path.h): the
# automatic choice, AMX forced for every weight type, our kernel forced in
# AVX-512 and in AVX2, and OpenBLAS only.
superlens_add_core_test(NAME test_gemm_paths SOURCES core/test_gemm_paths.cpp LABELS engine blas golden)
foreach(path amx avx512 avx2 blas)
  add_test(NAME test_gemm_path_${path} COMMAND test_gemm_paths)
  set_tests_properties(test_gemm_path_${path} PROPERTIES LABELS "core;engine;blas;golden" TIMEOUT 300
                       ENVIRONMENT "SUPERLENS_GEMM=${path}")
endforeach()
# The single-token GEMV (core/src/engine/gemv.h) on each ISA: the kernel tests
# and the engine's one-token golden test against the float64 references
# (the automatic choice runs in the tests above; avx512 skips itself on a CPU
# without AVX-512).
foreach(isa avx2 avx512)
  add_test(NAME test_gemv_path_${isa} COMMAND test_gemm_paths --gtest_filter=GemvPath.*)
  set_tests_properties(test_gemv_path_${isa} PROPERTIES LABELS "core;engine;golden" TIMEOUT 300 ENVIRONMENT "SUPERLENS_GEMV=${isa}")
endforeach()
# One token's streamed bf16 rows with and without their software prefetch
# (SUPERLENS_GEMV_ROW_PREFETCH; auto leaves it off on AMD, on elsewhere):
# the same kernel tests on the AVX-512 GEMV, which skip themselves on a CPU
# without AVX-512.
foreach(pf on off)
  add_test(NAME test_gemv_path_avx512_row_prefetch_${pf} COMMAND test_gemm_paths --gtest_filter=GemvPath.*)
  set_tests_properties(test_gemv_path_avx512_row_prefetch_${pf} PROPERTIES LABELS "core;engine;golden" TIMEOUT 300
                       ENVIRONMENT "SUPERLENS_GEMV=avx512;SUPERLENS_GEMV_ROW_PREFETCH=${pf}")
endforeach()
# The GEMV's token limit set by hand (SUPERLENS_GEMV_TOKENS, to measure
# where it should stop on a new machine): every limit follows it, and the
# kernels take the longer prompts.
add_test(NAME test_gemm_path_gemv_tokens COMMAND test_gemm_paths)
set_tests_properties(test_gemm_path_gemv_tokens PROPERTIES LABELS "core;engine;golden" TIMEOUT 300 ENVIRONMENT "SUPERLENS_GEMV_TOKENS=3")
add_test(NAME test_engine_golden_gemv_avx2 COMMAND test_engine_golden --gtest_filter=*SingleTokenGemv*)
set_tests_properties(test_engine_golden_gemv_avx2 PROPERTIES LABELS "core;engine;golden" TIMEOUT 300 ENVIRONMENT "SUPERLENS_GEMV=avx2")
# The golden engine and family tests once more with AMX, and with our
# kernel in AVX-512 and in AVX2, forced for every weight type from 2 tokens
# up: AMX and AVX-512 where the machine that configures the build has
# AMX-BF16, or AVX-512 F/DQ/BW/VL (SUPERLENS_GEMM=amx or avx512 is refused on
# a CPU without it); AVX2 everywhere (the build's baseline).
if(EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo SUPERLENS_CPUINFO LIMIT 8192)
  set(SUPERLENS_FORCED_GEMM avx2)
  if(SUPERLENS_CPUINFO MATCHES "amx_bf16")
    list(APPEND SUPERLENS_FORCED_GEMM amx)
  endif()
  if(SUPERLENS_CPUINFO MATCHES " avx512f " AND SUPERLENS_CPUINFO MATCHES " avx512dq " AND SUPERLENS_CPUINFO MATCHES " avx512bw "
     AND SUPERLENS_CPUINFO MATCHES " avx512vl ")
    list(APPEND SUPERLENS_FORCED_GEMM avx512)
  endif()
  foreach(path ${SUPERLENS_FORCED_GEMM})
    foreach(golden test_engine_golden test_family_golden)
      add_test(NAME ${golden}_${path} COMMAND ${golden})
      set_tests_properties(${golden}_${path} PROPERTIES LABELS "core;engine;golden" TIMEOUT 300 ENVIRONMENT "SUPERLENS_GEMM=${path}")
    endforeach()
  endforeach()
endif()
superlens_add_core_test(NAME test_encoder_golden SOURCES core/test_encoder_golden.cpp LABELS engine golden families encoders)
superlens_add_core_test(NAME test_vision_golden SOURCES core/test_vision_golden.cpp LABELS engine golden families vision)
superlens_add_core_test(NAME test_compute_dtype SOURCES core/test_compute_dtype.cpp LABELS engine)
superlens_add_core_test(NAME test_edit_texts SOURCES core/test_edit_texts.cpp LABELS engine)
superlens_add_core_test(NAME test_experiment_file SOURCES core/test_experiment_file.cpp LABELS engine)
# bench/page_state.h: how much of a model's mapped files bench_forward reads
# through 2 MiB pages (from /proc/self/smaps).
superlens_add_core_test(NAME test_page_state SOURCES core/test_page_state.cpp LABELS bench)
target_include_directories(test_page_state PRIVATE ${PROJECT_SOURCE_DIR}/bench)
