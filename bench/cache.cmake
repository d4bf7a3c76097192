# bench_capture: HDF5 capture write cost against the forward pass (issue 7).
add_executable(bench_capture ${CMAKE_CURRENT_SOURCE_DIR}/bench_capture.cpp)
target_link_libraries(bench_capture PRIVATE superlens_core superlens_warnings superlens_codegen)
