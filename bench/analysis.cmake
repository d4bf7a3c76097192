# bench_scan: super-weight scan on a TinyLlama-1.1B-shape checkpoint (made by
# bench/make_checkpoint.py): time per scan iteration against the same pass
# recomputed from scratch in the same run.
add_executable(bench_scan ${CMAKE_CURRENT_SOURCE_DIR}/bench_scan.cpp)
target_link_libraries(bench_scan PRIVATE superlens_core superlens_warnings superlens_codegen)
