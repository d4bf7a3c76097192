# bench_tokenizer: Llama-3 tokenizer.json load time and 1 MB encode throughput
# against Hugging Face tokenizers (npm binding, when installed) and
# libsentencepiece, measured in the same run.
add_executable(bench_tokenizer ${CMAKE_CURRENT_SOURCE_DIR}/bench_tokenizer.cpp)
target_link_libraries(bench_tokenizer PRIVATE superlens_core nlohmann_json::nlohmann_json
                      superlens_warnings superlens_codegen)
target_compile_definitions(bench_tokenizer PRIVATE SUPERLENS_TEST_DATA="${SUPERLENS_TEST_DATA}")
