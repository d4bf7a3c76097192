list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/thread_pool.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/hooks.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/edit_spec.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/experiment_file.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/weight_matrix.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/compute_dtype.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/laser.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/truncated_svd.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/rtn_quantization.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/kernels.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/gemm_amx.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/gemm_panels.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/gemv.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/activation_edits.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/forward_pass.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/moe.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/engine/engine.cpp)
