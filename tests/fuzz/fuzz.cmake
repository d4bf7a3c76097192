# Fuzzing (issue 15). tests/fuzz/fuzz_<target>.cpp each define
# LLVMFuzzerTestOneInput over one parser. Every build replays each target's
# stored corpus and regressions through that entry point with the normal
# compiler (CTest fuzz_replay_<target>, label "fuzz"); configuring with clang
# and -DSUPERLENS_BUILD_FUZZ=ON also builds the libFuzzer executables
# <build>/fuzz/fuzz_<target> (tests/fuzz/run.sh, docs/RELIABILITY.md).
include(SuperLensFuzz)

set(SUPERLENS_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SUPERLENS_FUZZ_TARGETS gguf safetensors config edit_spec)
foreach(target ${SUPERLENS_FUZZ_TARGETS})
  add_executable(fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp ${SUPERLENS_FUZZ_DIR}/replay_main.cpp)
  target_link_libraries(fuzz_replay_${target} PRIVATE superlens_core superlens_warnings superlens_codegen superlens_sanitizers)
  set_target_properties(fuzz_replay_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
  add_test(NAME fuzz_replay_${target}
           COMMAND fuzz_replay_${target} ${SUPERLENS_FUZZ_DIR}/corpus/${target} ${SUPERLENS_FUZZ_DIR}/regressions/${target})
  set_tests_properties(fuzz_replay_${target} PROPERTIES LABELS "core;fuzz" TIMEOUT 300)
  if(SUPERLENS_BUILD_FUZZ)
    add_executable(fuzz_${target} ${SUPERLENS_FUZZ_DIR}/fuzz_${target}.cpp)
    target_link_libraries(fuzz_${target} PRIVATE superlens_core superlens_warnings superlens_codegen superlens_sanitizers)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
    set_target_properties(fuzz_${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  endif()
endforeach()
