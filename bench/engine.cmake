add_executable(bench_forward bench_forward.cpp)
target_link_libraries(bench_forward PRIVATE superlens_core nlohmann_json::nlohmann_json
                      superlens_warnings superlens_codegen)
add_executable(bench_open bench_open.cpp)
target_link_libraries(bench_open PRIVATE superlens_core superlens_warnings superlens_codegen)
