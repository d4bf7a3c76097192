# Fuzzing (issue 15). tests/fuzz/fuzz_<target>.cpp each define
# LLVMFuzzerTestOneInput over one parser. Every build replays each target's
# stored corpus and regressions through that entry point with the normal
# compiler (CTest fuzz_replay_<target>, label "fuzz"); configuring with clang
# and -DSUPERLENS_BUILD_FUZZ=ON also builds the libFuzzer executables
# <build>/fuzz/fuzz_<target> (tests/fuzz/run.sh, docs/RELIABILITY.md).
include(SuperLensFuzz)

set(SUPERLENS_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SUPERLENS_FUZZ_TARGETS gguf gguf_tokenizer safetensors config edit_spec npy image imatrix tokenizer_json tokenizer_model cache)

if(SUPERLENS_BUILD_FUZZ)
  # The libFuzzer executables link the parsers' own sources (core's model/
  # area and the edit-spec parser with the hook names it checks), not all of
  # core: a fuzz build then compiles in minutes. Only fuzz_cache links all of
  # core (the cache reader returns engine results).
  get_target_property(SUPERLENS_FUZZ_CORE_SOURCES superlens_core SOURCES)
  set(SUPERLENS_FUZZ_PARSER_SOURCES "")
  foreach(src ${SUPERLENS_FUZZ_CORE_SOURCES})
    if(src MATCHES "/src/model/[^/]+\\.cpp$" OR src MATCHES "/src/engine/(edit_spec|hooks)\\.cpp$")
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
endif()
foreach(target ${SUPERLENS_FUZZ_TARGETS})
  add_executable(fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp ${SUPERLENS_FUZZ_DIR}/replay_main.cpp)
  target_link_libraries(fuzz_replay_${target} PRIVATE superlens_core superlens_warnings superlens_codegen superlens_sanitizers)
  # Targets of core-internal parsers (the GGUF tokenizer) include core/src.
  target_include_directories(fuzz_replay_${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
  set_target_properties(fuzz_replay_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
  add_test(NAME fuzz_replay_${target}
           COMMAND fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/corpus/${target} ${SUPERLENS_FUZZ_DIR}/regressions/${target})
  set_tests_properties(fuzz_replay_${target} PROPERTIES LABELS "core;fuzz" TIMEOUT 300)
  if(SUPERLENS_BUILD_FUZZ)
    add_executable(fuzz_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp)
    set(fuzz_lib superlens_fuzz_parsers)
    if(target MATCHES "tokenizer")
      set(fuzz_lib superlens_fuzz_tokenizers)
    elseif(target STREQUAL "cache")
      # The cache reader hands runs to the engine's types: it links all of core.
      set(fuzz_lib superlens_core)
    endif()
    target_link_libraries(fuzz_${target} PRIVATE ${fuzz_lib} superlens_warnings superlens_codegen superlens_sanitizers)
    target_include_directories(fuzz_${target} PRIVATE ${PROJECT_SOURCE_DIR}/core/src)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(fuzz_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endforeach()
