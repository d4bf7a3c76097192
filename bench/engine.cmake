add_executable(bench_forward bench_forward.cpp)
target_link_libraries(bench_forward PRIVATE superlens_core nlohmann_json::nlohmann_json
                      superlens_warnings superlens_codegen)
add_executable(bench_open bench_open.cpp)
target_link_libraries(bench_open PRIVATE superlens_core superlens_warnings superlens_codegen)
# bench_machine: the machine's own baselines (GEMM rate of every OpenBLAS core
# type it can run, memory read bandwidth), for the engine benchmarks' ratios.
add_executable(bench_machine bench_machine.cpp)
target_link_libraries(bench_machine PRIVATE superlens_core nlohmann_json::nlohmann_json
                      superlens_warnings superlens_codegen)
