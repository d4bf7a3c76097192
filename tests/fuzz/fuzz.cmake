# Fuzzing (issue 15). tests/fuzz/fuzz_<target>.cpp each define
# LLVMFuzzerTestOneInput over one parser. Every build replays each target's
# stored corpus and regressions through that entry point with the normal
# compiler (CTest fuzz_replay_<target>, label "fuzz"); configuring with clang
# and -DSUPERLENS_BUILD_FUZZ=ON also builds the libFuzzer executables
# <build>/fuzz/fuzz_<target> (tests/fuzz/run.sh, docs/RELIABILITY.md).
include(SuperLensFuzz)

set(SUPERLENS_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SUPERLENS_FUZZ_TARGETS gguf gguf_tokenizer safetensors shard_index config edit_spec experiment npy image preprocessor_config imatrix tokenizer_json
    tokenizer_model prompt cache superweight_study)

if(SUPERLENS_BUILD_FUZZ)
  # The libFuzzer executables link the parsers' own sources (core's model/
  # area and the edit-spec parser with the hook names it checks), not all of
  # core: a fuzz build then compiles in minutes.
  get_target_property(SUPERLENS_FUZZ_CORE_SOURCES superlens_core SOURCES)
  set(SUPERLENS_FUZZ_PARSER_SOURCES "")
  foreach(src ${SUPERLENS_FUZZ_CORE_SOURCES})
    if(src MATCHES "/src/model/[^/]+\\.cpp$" OR src MATCHES "/src/engine/(edit_spec|experiment_file|hooks)\\.cpp$")
      list(APPEND SUPERLENS_FUZZ_PARSER_SOURCES ${src})
    endif()
  endforeach()
  add_library(superlens_fuzz_parsers STATIC ${SUPERLENS_FUZZ_PARSER_SOURCES})
  target_include_directories(superlens_fuzz_parsers PUBLIC ${PROJECT_SOURCE_DIR}/core/include PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  target_link_libraries(superlens_fuzz_parsers
    PUBLIC Eigen3::Eigen Threads::Threads PkgConfig::STB
    PRIVATE nlohmann_json::nlohmann_json superlens_warnings superlens_codegen superlens_sanitizers)
  target_compile_definitions(superlens_fuzz_parsers PUBLIC EIGEN_MPL2_ONLY)
  # The tokenizer targets also need the tokenizers and their libraries.
  set(SUPERLENS_FUZZ_TOKENIZER_SOURCES "")
  foreach(src ${SUPERLENS_FUZZ_CORE_SOURCES})
    if(src MATCHES "/src/tokenizer/[^/]+\\.cpp$")
      list(APPEND SUPERLENS_FUZZ_TOKENIZER_SOURCES ${src})
    endif()
  endforeach()
  find_package(ICU 60 REQUIRED COMPONENTS uc)
  add_library(superlens_fuzz_tokenizers STATIC ${SUPERLENS_FUZZ_TOKENIZER_SOURCES})
  target_include_directories(superlens_fuzz_tokenizers PUBLIC ${PROJECT_SOURCE_DIR}/core/include PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  target_link_libraries(superlens_fuzz_tokenizers
    PUBLIC superlens_fuzz_parsers PkgConfig::PCRE2 PkgConfig::SENTENCEPIECE ICU::uc
    PRIVATE nlohmann_json::nlohmann_json superlens_warnings superlens_codegen superlens_sanitizers)
  # The HDF5 cache reader (core's cache/ area without the writer, which needs
  # the engine; the output-file rule it checks paths with; the names of the
  # compute dtypes a run's precision records) over the parsers and tokenizers.
  set(SUPERLENS_FUZZ_CACHE_SOURCES "")
  foreach(src ${SUPERLENS_FUZZ_CORE_SOURCES})
    if(src MATCHES "/src/cache/(h5_util|file_ops|cache_layout|activation_cache)\\.cpp$" OR src MATCHES "/src/system/output_file\\.cpp$"
       OR src MATCHES "/src/engine/compute_dtype\\.cpp$")
      list(APPEND SUPERLENS_FUZZ_CACHE_SOURCES ${src})
    endif()
  endforeach()
  add_library(superlens_fuzz_cache STATIC ${SUPERLENS_FUZZ_CACHE_SOURCES})
  target_include_directories(superlens_fuzz_cache PUBLIC ${PROJECT_SOURCE_DIR}/core/include PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  target_link_libraries(superlens_fuzz_cache
    PUBLIC superlens_fuzz_tokenizers hdf5::hdf5 ${CMAKE_DL_LIBS}
    PRIVATE nlohmann_json::nlohmann_json superlens_warnings superlens_codegen superlens_sanitizers)
endif()
# The replay driver is compiled once for all targets (an object library).
add_library(superlens_fuzz_replay_main OBJECT ${SUPERLENS_FUZZ_DIR}/replay_main.cpp)
target_link_libraries(superlens_fuzz_replay_main PRIVATE superlens_warnings superlens_codegen superlens_sanitizers)
foreach(target ${SUPERLENS_FUZZ_TARGETS})
  add_executable(fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp $<TARGET_OBJECTS:superlens_fuzz_replay_main>)
  target_link_libraries(fuzz_replay_${target} PRIVATE superlens_core superlens_warnings superlens_codegen superlens_sanitizers)
  # Targets of core-internal parsers (the GGUF tokenizer) include core/src.
  target_include_directories(fuzz_replay_${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  set_target_properties(fuzz_replay_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
  # fuzz_prompt encodes with the tokenizers of tests/data.
  target_compile_definitions(fuzz_replay_${target} PRIVATE SUPERLENS_FUZZ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME fuzz_replay_${target}
           COMMAND fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/corpus/${target} ${SUPERLENS_FUZZ_DIR}/regressions/${target})
  set_tests_properties(fuzz_replay_${target} PROPERTIES LABELS "core;fuzz" TIMEOUT 300)
  if(SUPERLENS_BUILD_FUZZ)
    add_executable(fuzz_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp)
    set(fuzz_lib superlens_fuzz_parsers)
    if(target MATCHES "tokenizer" OR target STREQUAL "prompt")
      set(fuzz_lib superlens_fuzz_tokenizers)
    elseif(target STREQUAL "cache")
      set(fuzz_lib superlens_fuzz_cache)
    elseif(target STREQUAL "superweight_study")
      # The study document's writer is the study's own (superweight_study.cpp): all of core.
      set(fuzz_lib superlens_core)
    endif()
    target_link_libraries(fuzz_${target} PRIVATE ${fuzz_lib} superlens_warnings superlens_codegen superlens_sanitizers)
    target_include_directories(fuzz_${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
    target_compile_definitions(fuzz_${target} PRIVATE SUPERLENS_FUZZ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(fuzz_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endforeach()
