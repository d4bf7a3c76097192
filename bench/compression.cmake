# bench_laser: LASER rank reduction of a 4096 x 11008 matrix to rho = 0.01
# against a full SVD in the same run; bench_quant: RTN of every linear weight
# of a model (TinyLlama shape via bench/make_checkpoint.py) against a
# streaming-read baseline and the first quantizer. See docs/COMPRESSION.md.
add_executable(bench_laser ${CMAKE_CURRENT_SOURCE_DIR}/bench_laser.cpp)
target_link_libraries(bench_laser PRIVATE superlens_core superlens_warnings superlens_codegen)
add_executable(bench_quant ${CMAKE_CURRENT_SOURCE_DIR}/bench_quant.cpp)
target_link_libraries(bench_quant PRIVATE superlens_core superlens_warnings superlens_codegen)
